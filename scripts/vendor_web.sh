#!/bin/sh
# Refresh the web UI's third-party browser files from the npm registry (`make vendor`).
# Versions and the tarballs' integrity are pinned below; npm checks the tarball against it, and the sha384 of
# each copied file goes into MANIFEST for the pages' Subresource Integrity attributes. No Node build: the files
# are copied as published.
set -eu
HTMX_VERSION=2.0.11
HTMX_INTEGRITY="sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA=="
UPLOT_VERSION=1.6.32
UPLOT_INTEGRITY="sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=="

DEST="$(cd "$(dirname "$0")/.." && pwd)/src/logcenter/web/static/vendor"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

fetch() {  # name version expected-integrity
    npm pack "$1@$2" --silent --json > "$1.json"
    got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["integrity"])' "$1.json")
    if [ -n "$3" ] && [ "$got" != "$3" ]; then
        echo "integrity mismatch for $1@$2: $got" >&2; exit 1
    fi
    mkdir -p "$1" && tar -xzf "$1-$2.tgz" -C "$1"
    echo "$1@$2 $got" >> sources.txt
}

fetch htmx.org "$HTMX_VERSION" "$HTMX_INTEGRITY"
fetch uplot "$UPLOT_VERSION" "$UPLOT_INTEGRITY"

mkdir -p "$DEST"
cp htmx.org/package/dist/htmx.min.js "$DEST/htmx.min.js"
cp htmx.org/package/LICENSE "$DEST/htmx.LICENSE"
cp uplot/package/dist/uPlot.iife.min.js "$DEST/uPlot.iife.min.js"
cp uplot/package/dist/uPlot.min.css "$DEST/uPlot.min.css"
cp uplot/package/LICENSE "$DEST/uPlot.LICENSE"
{
    echo "# Vendored by scripts/vendor_web.sh from the npm registry; do not edit by hand."
    echo "# package@version npm-tarball-integrity"
    cat sources.txt
    echo "# file sha384 (Subresource Integrity)"
    for f in htmx.min.js uPlot.iife.min.js uPlot.min.css; do
        echo "$f sha384-$(openssl dgst -sha384 -binary "$DEST/$f" | openssl base64 -A)"
    done
} > "$DEST/MANIFEST"
cat "$DEST/MANIFEST"
