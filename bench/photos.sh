#!/usr/bin/env bash
# Photo analysis benchmark: a set of 1600 × 1200 photos with barcodes and
# printed dates, made by the benchmark itself, through the analysis
# worker's stages (decoding, barcodes with rxing, dates with Tesseract,
# item matching with EfficientNet-Lite0):
# time per stage and photos per second for one worker, and what was found
# against what was planted. Writes the figures into docs/BENCHMARKS.md
# between the photos markers.
#
#   bench/photos.sh                          # 24 photos
#   LARDER_BENCH_PHOTOS=6 bench/photos.sh    # quick look
source "$(dirname "$0")/../scripts/lib.sh"

"$ROOT/scripts/setup-test.sh"

say "building and running the photo analysis benchmark (release)"
out="$(mktemp)"
LARDER_BENCH_RUN=1 cargo bench -p server --bench photos | tee "$out"

doc="$ROOT/docs/BENCHMARKS.md"
section="$(mktemp)"
{
  echo "<!-- photos:start -->"
  echo "## Photos (issue 5)"
  echo
  echo "Produced by \`bench/photos.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(tesseract --version 2>&1 | head -n1)."
  echo
  cat "$out"
  echo "<!-- photos:end -->"
} >"$section"
python3 - "$doc" "$section" <<'PY'
import sys, re
doc, section = sys.argv[1], open(sys.argv[2]).read().rstrip() + "\n"
text = open(doc).read()
pattern = re.compile(r"<!-- photos:start -->.*?<!-- photos:end -->\n?", re.S)
text = pattern.sub(lambda m: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
open(doc, "w").write(text)
PY
rm -f "$out" "$section"
say "figures written to docs/BENCHMARKS.md"
