"""Wallet passes for coupons: the organisation's wallet settings, Apple passes and their web
service, Google Wallet save links, and the job that updates passes when a coupon changes.

`outbox` is imported by the coupon and redemption services (it depends on nothing above
them); the rest composes coupons, the brand and the wallet integrations."""
