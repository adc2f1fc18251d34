"""Apple Wallet: pass certificates, `.pkpass` bundles and the APNs client that tells devices a
pass changed. The pass web service's routes live with the wallet feature (`amends.wallet`),
which owns the passes' rows."""
