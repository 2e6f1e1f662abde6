#!/usr/bin/env bash
# fetch-uplot.sh: re-fetches the vendored uPlot from npm at the pinned version and checks it
# against the pinned integrity (the registry's sha512 of the tarball) and the sha256 of each
# vendored file. The build never fetches: the files below are committed; run this only to
# verify them or, with a new version and new sums, to upgrade.
#
#   bash gateway/dashboard/assets/vendor/fetch-uplot.sh          # verify against npm
#   bash gateway/dashboard/assets/vendor/fetch-uplot.sh --write   # replace the vendored files
set -euo pipefail
version=1.6.32
integrity='sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=='
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
tarball=$(npm pack --silent "uplot@$version")
got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$got" != "$integrity" ]; then
  echo "fetch-uplot: integrity mismatch for uplot@$version: $got" >&2
  exit 1
fi
tar xzf "$tarball"
if [ "${1:-}" = --write ]; then
  cp package/dist/uPlot.iife.min.js package/dist/uPlot.min.css package/LICENSE "$here/"
  (cd "$here" && sha256sum uPlot.iife.min.js uPlot.min.css LICENSE > SHA256SUMS)
  echo "fetch-uplot: wrote uplot@$version into $here"
else
  cp "$here/SHA256SUMS" .
  (cd package/dist && cp ../LICENSE . && sha256sum -c "$work/SHA256SUMS")
  echo "fetch-uplot: vendored files match uplot@$version from npm"
fi
