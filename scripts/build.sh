#!/usr/bin/env bash
# Builds Larder: the browser bundle (WASM + JS glue + CSS + public files)
# into target/site, and the server binary.
#   scripts/build.sh            debug server (what the tests use)
#   scripts/build.sh --release  optimised server (what `make run` uses)
source "$(dirname "$0")/lib.sh"

profile=debug
[ "${1:-}" = "--release" ] && profile=release

"$ROOT/scripts/setup-build.sh"

say "building the browser bundle (the app, and the barcode scanner it loads on demand)"
cargo build -p frontend -p scanner --target wasm32-unknown-unknown --profile wasm-release
site="$ROOT/target/site"
mkdir -p "$site/pkg"
# <crate> <output name>: wasm-bindgen's glue and wasm-opt's squeeze, when
# the WASM changed.
bundle() {
  local wasm="$ROOT/target/wasm32-unknown-unknown/wasm-release/$1.wasm"
  if [ ! -f "$site/pkg/$2_bg.wasm" ] || [ "$wasm" -nt "$site/pkg/$2_bg.wasm" ]; then
    wasm-bindgen --target web --no-typescript --out-dir "$site/pkg" --out-name "$2" "$wasm"
    "$ROOT/node_modules/.bin/wasm-opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
      "$site/pkg/$2_bg.wasm" -o "$site/pkg/$2_bg.wasm"
  fi
}
bundle frontend larder
bundle scanner scanner
cp "$ROOT/style/main.css" "$site/pkg/larder.css"
cp -r "$ROOT/public/." "$site/"

say "building the server ($profile)"
if [ "$profile" = release ]; then cargo build -p server --release; else cargo build -p server; fi
