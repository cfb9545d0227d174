#!/usr/bin/env bash
# Usage benchmark: CSV import of 1,000,000 history rows over the REST API,
# on SQLite and on a PostgreSQL server started here with its default
# (durable) settings: rows per second and the server's peak RSS.
# Writes the figures into docs/BENCHMARKS.md between the usage markers.
#
#   bench/usage.sh                                   # full run
#   LARDER_BENCH_IMPORT_ROWS=100000 bench/usage.sh   # quick look
source "$(dirname "$0")/../scripts/lib.sh"
source "$ROOT/scripts/postgres.sh"

"$ROOT/scripts/setup-test.sh"
trap stop_test_postgres EXIT
PG_DURABLE=1 start_test_postgres
export PATH="$(pg_bin):$PATH"

say "building the server (release)"
(cd "$ROOT" && cargo build --release -p server --bin larder)

out="$(mktemp)"
{
  echo "| database | rows | file | time | rows/s | server RSS before | server peak RSS |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  python3 "$ROOT/bench/usage_import.py" sqlite
  python3 "$ROOT/bench/usage_import.py" postgres "$LARDER_TEST_POSTGRES_URL"
} | tee "$out"

doc="$ROOT/docs/BENCHMARKS.md"
section="$(mktemp)"
{
  echo "<!-- usage:start -->"
  echo "## Usage history import (issue 4)"
  echo
  echo "Produced by \`bench/usage.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GB RAM."
  echo "The release server runs as its own process; the CSV (date, product by name, quantity, unit price, revenue, pantry; 200 products) is posted to \`POST /api/v1/usage/import\`, and the time runs from the first byte sent to the answer (upload, spooling, parsing, checking, inserting). Peak RSS is the server's \`VmHWM\`. Goal: at least 100,000 rows/s, peak RSS under 200 MB."
  echo
  cat "$out"
  echo "<!-- usage:end -->"
} >"$section"
python3 - "$doc" "$section" <<'PY'
import sys, re
doc, section = sys.argv[1], open(sys.argv[2]).read().rstrip() + "\n"
text = open(doc).read()
pattern = re.compile(r"<!-- usage:start -->.*?<!-- usage:end -->\n?", re.S)
text = pattern.sub(lambda m: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
open(doc, "w").write(text)
PY
rm -f "$out" "$section"
say "figures written to docs/BENCHMARKS.md"
