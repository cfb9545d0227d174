#!/usr/bin/env bash
# Photo optimizer benchmark: Larder's in-browser optimizer against the npm
# package browser-image-compression (2.0.x), in one headless Chromium run on
# the same 12 MP photos (bench/optimizer.mjs says how). Starts a Larder on a
# spare port for the page and its WASM, and writes the figures into
# docs/BENCHMARKS.md between the optimizer markers.
#
#   bench/optimizer.sh                         # 3 rounds per photo
#   LARDER_BENCH_ROUNDS=5 bench/optimizer.sh
source "$(dirname "$0")/../scripts/lib.sh"

"$ROOT/scripts/setup-test.sh"
npm_install
"$ROOT/scripts/build.sh"

port="${LARDER_BENCH_PORT:-3191}"
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

say "running the optimizer benchmark in Chromium"
node bench/optimizer.mjs "http://127.0.0.1:$port" "$ROOT/models/samples" | tee "$out"

doc="$ROOT/docs/BENCHMARKS.md"
section="$(mktemp)"
{
  echo "<!-- optimizer:start -->"
  echo "## Photo optimizer in the browser (issue 5)"
  echo
  echo "Produced by \`bench/optimizer.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(/usr/bin/chromium --version 2>/dev/null | head -n1)."
  echo
  cat "$out"
  echo "<!-- optimizer:end -->"
} >"$section"
python3 - "$doc" "$section" <<'PY'
import sys, re
doc, section = sys.argv[1], open(sys.argv[2]).read().rstrip() + "\n"
text = open(doc).read()
pattern = re.compile(r"<!-- optimizer:start -->.*?<!-- optimizer:end -->\n?", re.S)
text = pattern.sub(lambda m: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
open(doc, "w").write(text)
PY
rm -f "$section"
say "figures written to docs/BENCHMARKS.md"
