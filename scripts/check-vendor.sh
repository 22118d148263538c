#!/usr/bin/env bash
# vendor/rocket must be the published rocket 0.5.2 with vendor/rocket.patch applied,
# nothing else: fetches the crate from crates.io (checked against the checksum the
# crates.io index publishes), applies the patch and compares the trees. Left out of the
# vendored copy, as cargo needs none of them to build it: the crate's own tests/,
# Cargo.lock, Cargo.toml.orig and .cargo_vcs_info.json. Added: vendor/rocket/DRYDOCK.md.
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.5.2
sha256=c17431360eb641a861453b57107ee1b425a799f49ec1b0fe9b8a45fe437447ce
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

crate="$work/rocket-$version.crate"
cached=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/rocket-$version.crate 2>/dev/null | head -1 || true)
if [ -n "$cached" ]; then
    cp "$cached" "$crate"
else
    curl -sSfL --retry 3 -o "$crate" "https://static.crates.io/crates/rocket/rocket-$version.crate"
fi
echo "$sha256  $crate" | sha256sum --check --quiet

tar xzf "$crate" -C "$work"
tree="$work/rocket-$version"
rm -rf "$tree/tests" "$tree/Cargo.lock" "$tree/Cargo.toml.orig" "$tree/.cargo_vcs_info.json"
patch --quiet --directory "$tree" --strip 1 < vendor/rocket.patch
cp vendor/rocket/DRYDOCK.md "$tree/"
if ! diff -r "$tree" vendor/rocket; then
    echo "vendor/rocket is not rocket $version plus vendor/rocket.patch (see vendor/rocket/DRYDOCK.md)" >&2
    exit 1
fi
echo "vendor/rocket is rocket $version plus vendor/rocket.patch"
