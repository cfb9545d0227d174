#!/usr/bin/env bash
# Inventory benchmarks: the write path (movements over HTTP against raw
# single-row insert transactions) and the read path (overview and low stock
# at 10,000 products, 20 pantries, 1,000,000 movements), on SQLite and on a
# PostgreSQL server started here with its default (durable) settings.
# Writes the figures into docs/BENCHMARKS.md between the inventory markers.
#
#   bench/inventory.sh              # full run, both databases
#   LARDER_BENCH_SECONDS=5 LARDER_BENCH_MOVEMENTS=100000 bench/inventory.sh   # quick look
source "$(dirname "$0")/../scripts/lib.sh"
source "$ROOT/scripts/postgres.sh"

"$ROOT/scripts/setup-test.sh"
trap stop_test_postgres EXIT
PG_DURABLE=1 start_test_postgres
export LARDER_BENCH_POSTGRES_URL="$LARDER_TEST_POSTGRES_URL"

say "building and running the inventory benchmark (release)"
out="$(mktemp)"
LARDER_BENCH_RUN=1 LARDER_LOG=warn cargo bench -p server --bench inventory | tee "$out"

doc="$ROOT/docs/BENCHMARKS.md"
[ -f "$doc" ] || printf '# Benchmarks\n\nFigures come from the scripts under `bench/`; each section says the command that produced it.\n' >"$doc"
section="$(mktemp)"
{
  echo "<!-- inventory:start -->"
  echo "## Inventory (issue 3)"
  echo
  echo "Produced by \`bench/inventory.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GB RAM."
  echo "SQLite in WAL mode with \`synchronous = normal\` (Larder's setting); PostgreSQL $("$(pg_bin)/postgres" --version | awk '{print $3}') with its default durability (fsync on, synchronous commit on)."
  echo "Server and load clients share the machine. Settings: ${LARDER_BENCH_CLIENTS:-16} clients, ${LARDER_BENCH_ROUNDS:-5} rounds of ${LARDER_BENCH_SECONDS:-8} s per write measurement, ${LARDER_BENCH_SAMPLES:-200} samples per query."
  echo
  cat "$out"
  echo "<!-- inventory:end -->"
} >"$section"
python3 - "$doc" "$section" <<'PY'
import sys, re
doc, section = sys.argv[1], open(sys.argv[2]).read().rstrip() + "\n"
text = open(doc).read()
pattern = re.compile(r"<!-- inventory:start -->.*?<!-- inventory:end -->\n?", re.S)
text = pattern.sub(lambda m: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
open(doc, "w").write(text)
PY
rm -f "$out" "$section"
say "figures written to docs/BENCHMARKS.md"
