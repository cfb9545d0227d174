#!/usr/bin/env bash
# Builds Larder: the browser bundle (WASM + JS glue + CSS + public files)
# into target/site, and the server binary.
#   scripts/build.sh            debug server (what the tests use)
#   scripts/build.sh --release  optimised server (what `make run` uses)
#   scripts/build.sh --site     the browser bundle only (the tests: `cargo test`
#                               builds the debug server with the features its
#                               tests add, so building it here first would
#                               compile half the dependencies twice)
source "$(dirname "$0")/lib.sh"

profile=debug
[ "${1:-}" = "--release" ] && profile=release
[ "${1:-}" = "--site" ] && profile=none

"$ROOT/scripts/setup-build.sh"

say "building the browser bundle (the app, and the barcode scanner it loads on demand)"
# --emit-relocs lets tools/wasm-split follow what each page's code uses. It
# is given to the app's final link only (`cargo rustc`), so the crates it
# shares with the scanner are built once, and the scanner carries no
# relocations it would never shed.
cargo rustc -p frontend --target wasm32-unknown-unknown --profile wasm-release -- -Clink-args=--emit-relocs
cargo build -p scanner --target wasm32-unknown-unknown --profile wasm-release
cargo build -q -p wasm-split --release
site="$ROOT/target/site"
pkg="$site/pkg"
mkdir -p "$pkg"
wasm_dir="$ROOT/target/wasm32-unknown-unknown/wasm-release"
opt() {
  "$ROOT/node_modules/.bin/wasm-opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int "$1" -o "$1"
}
fresh() { [ -f "$2" ] && [ ! "$1" -nt "$2" ]; }

# The app: split at its lazy routes into a main module (the shell, the
# router, what pages share) and one part per page, then wasm-bindgen's glue
# for the main module and wasm-opt's squeeze for every part. The same steps
# as `cargo leptos build --split`.
if ! fresh "$wasm_dir/frontend.wasm" "$pkg/larder_bg.wasm"; then
  split="$(mktemp -d)"
  "$ROOT/target/release/wasm-split" "$wasm_dir/frontend.wasm" "$split" larder
  wasm-bindgen --target web --no-typescript --keep-lld-exports --no-demangle \
    --out-dir "$split" --out-name larder "$split/larder_split.wasm"
  rm "$split/larder_split.wasm"
  # One wasm-opt per part, as many at a time as there are cores.
  printf '%s\0' "$split"/*.wasm | xargs -0 -P "$(nproc)" -I{} \
    "$ROOT/node_modules/.bin/wasm-opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int {} -o {}
  # The parts of an earlier build must not linger beside the new ones.
  find "$pkg" -maxdepth 1 \( -name '__wasm_split*' -o -name '*.wasm' \) ! -name 'scanner_bg.wasm' -delete
  mv "$split"/* "$pkg/"
  rmdir "$split"
fi

# The barcode scanner: its own bundle, loaded by a Web Worker only when the
# scanner opens.
if ! fresh "$wasm_dir/scanner.wasm" "$pkg/scanner_bg.wasm"; then
  wasm-bindgen --target web --no-typescript --out-dir "$pkg" --out-name scanner "$wasm_dir/scanner.wasm"
  opt "$pkg/scanner_bg.wasm"
fi
cp "$ROOT/style/main.css" "$site/pkg/larder.css"
cp -r "$ROOT/public/." "$site/"

[ "$profile" = none ] && exit 0
say "building the server ($profile)"
if [ "$profile" = release ]; then cargo build -p server --release; else cargo build -p server; fi
