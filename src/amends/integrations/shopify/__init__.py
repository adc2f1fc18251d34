"""Shopify: the Admin GraphQL client (`client`) and the order webhooks (`webhooks`)."""
