"""Shops: the organisation's Shopify and WooCommerce connections, its gestures pushed into
them as single-use codes, the order webhooks that record their use, and the reconciliation
that repairs drift."""
