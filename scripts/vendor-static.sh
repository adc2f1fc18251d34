#!/usr/bin/env bash
# Vendor the console's front-end libraries from the npm registry into the static files.
# Re-run after changing a version; the result is committed so the server needs no Node.js.
set -euo pipefail
HTMX_VERSION=2.0.11
here="$(cd "$(dirname "$0")/.." && pwd)"
dest="$here/src/amends/web/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$dest"
(cd "$work" && npm pack --silent "htmx.org@$HTMX_VERSION" >/dev/null && tar -xzf htmx.org-*.tgz)
cp "$work/package/dist/htmx.min.js" "$dest/htmx.min.js"
cp "$work/package/LICENSE" "$dest/htmx.LICENSE"
echo "htmx $HTMX_VERSION -> $dest/htmx.min.js"
