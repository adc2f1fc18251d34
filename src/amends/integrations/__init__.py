"""Integrations with outside platforms, one folder each: their payload shapes, signatures and
clients, with the platform's documentation cited where a shape comes from."""
