#!/usr/bin/env bash
# Installs what building Larder needs and is missing: the wasm32 target, the
# wasm-bindgen CLI of exactly the version Cargo.lock pins, and the npm
# packages (wasm-opt comes from npm's binaryen; Debian's is too old and
# silently produces WASM that fails to hydrate).
source "$(dirname "$0")/lib.sh"

command -v cargo >/dev/null || die "cargo not found: install Rust with rustup first"
command -v npm >/dev/null || die "npm not found: install Node.js first"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 18 ] || die "Node.js $node_major is too old: Larder's tools need Node.js 18 or newer"

# Crates with C parts (SQLite, ring) need a C compiler and linker.
command -v cc >/dev/null || apt_install build-essential pkg-config

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

want="$(wasm_bindgen_version)"
[ -n "$want" ] || die "could not read the wasm-bindgen version from Cargo.lock"
have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
if [ "$have" != "$want" ]; then
  say "installing wasm-bindgen-cli $want (found: ${have:-none}); takes about 10 minutes once"
  if ! cargo install wasm-bindgen-cli --version "$want" --locked 2>/tmp/larder-wbg.log; then
    # Its published lock file pins a webpki-roots release the registry no
    # longer serves. Build from the downloaded source with that one pin moved.
    src="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/wasm-bindgen-cli-"$want" 2>/dev/null | head -n1)"
    [ -n "$src" ] || { cat /tmp/larder-wbg.log >&2; die "wasm-bindgen-cli $want source not found"; }
    work="$(mktemp -d)"
    cp -r "$src"/. "$work"
    (cd "$work" && { cargo update -q -p webpki-roots --precise 1.0.10 || true; } \
      && cargo install --path . --locked --force)
    rm -rf "$work"
  fi
fi

npm_install
say "build tools ready"
