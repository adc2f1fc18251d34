"""WooCommerce: the REST API v3 client (`client`) and the order webhooks (`webhooks`)."""
