"""Google Wallet: the service-account key and the signed "Add to Google Wallet" link."""
