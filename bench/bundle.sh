#!/usr/bin/env bash
# Browser bundle benchmark: what a first visit downloads. Builds the site,
# measures the main WASM (issue 5's goal: ≤ 350 KB gzipped), each feature's
# part with the chunks it needs (from the split manifest), and the barcode
# scanner's own bundle; then opens pages in headless Chromium and counts
# what they fetch before they are interactive (bench/bundle.mjs). Writes the
# figures into docs/BENCHMARKS.md between the bundle markers.
#
#   bench/bundle.sh
source "$(dirname "$0")/../scripts/lib.sh"

"$ROOT/scripts/setup-test.sh"
"$ROOT/scripts/build.sh"

port="${LARDER_BENCH_PORT:-3192}"
data="$(mktemp -d)"
out="$(mktemp)"
LARDER_LISTEN="127.0.0.1:$port" LARDER_METRICS_LISTEN=off LARDER_DATA_DIR="$data" LARDER_SITE_ROOT="$ROOT/target/site" \
  LARDER_ITEM_MODEL=off DATABASE_URL= "$ROOT/target/debug/larder" >"$data/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data" "$out"' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.2
done
curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$data/server.log"; die "Larder did not start"; }

say "measuring the bundle"
python3 - "$ROOT/target/site/pkg" >"$out" <<'PY'
import gzip, json, os, sys
pkg = sys.argv[1]
def size(name):
    data = open(os.path.join(pkg, name), "rb").read()
    return len(data), len(gzip.compress(data, 9))
def kb(n):
    return f"{n / 1000:,.1f} KB"
main = [size(f) for f in ("larder_bg.wasm", "larder.js", "__wasm_split.______________________.js")]
print("| file | bytes | gzipped |")
print("|---|---:|---:|")
for name, (raw, gz) in zip(("main WASM `larder_bg.wasm`", "its JS glue `larder.js`", "the parts' loader `__wasm_split.*.js`"), main):
    print(f"| {name} | {raw:,} | {gz:,} |")
scanner = size("scanner_bg.wasm")
print(f"| barcode scanner `scanner_bg.wasm` (only when the scanner opens without `BarcodeDetector`) | {scanner[0]:,} | {scanner[1]:,} |")
print()
manifest = json.load(open(os.path.join(pkg, "__wasm_split_manifest.json")))
total_main = sum(gz for _, gz in main)
print("Each feature's pages are one part; code two parts share is a chunk of its own.")
print("A first visit to a page downloads the main files and its part's files:")
print()
print("| part | files | gzipped | first visit, gzipped |")
print("|---|---:|---:|---:|")
for part in sorted(manifest):
    files = manifest[part]
    gz = sum(size(f + ".wasm")[1] for f in files)
    print(f"| `{part}` | {len(files)} | {kb(gz)} | {kb(total_main + gz)} |")
every = {f for files in manifest.values() for f in files}
gz_all = sum(size(f + ".wasm")[1] for f in every)
print(f"| all parts | {len(every)} | {kb(gz_all)} | {kb(total_main + gz_all)} |")
PY
echo >>"$out"
node "$ROOT/bench/bundle.mjs" "http://127.0.0.1:$port" | tee -a "$out"

doc="$ROOT/docs/BENCHMARKS.md"
section="$(mktemp)"
{
  echo "<!-- bundle:start -->"
  echo "### Browser bundle (issue 5's goal: main WASM ≤ 350 KB gzipped)"
  echo
  echo "Produced by \`bench/bundle.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), $(/usr/bin/chromium --version 2>/dev/null | head -n1); \`gzip -9\` of what \`scripts/build.sh\` leaves in \`target/site/pkg\` (wasm-opt -Oz)."
  echo
  cat "$out"
  echo "<!-- bundle:end -->"
} >"$section"
python3 - "$doc" "$section" <<'PY'
import sys, re
doc, section = sys.argv[1], open(sys.argv[2]).read().rstrip() + "\n"
text = open(doc).read()
pattern = re.compile(r"<!-- bundle:start -->.*?<!-- bundle:end -->\n?", re.S)
text = pattern.sub(lambda m: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
open(doc, "w").write(text)
PY
rm -f "$section"
say "figures written to docs/BENCHMARKS.md"
