#!/usr/bin/env bash
# Community benchmark: home timelines at 10,000 people, 200 pantries and
# 1,000,000 posts on PostgreSQL (durable settings) behind the release
# server: home timeline p50/p99 with 16 concurrent readers while a post is
# written every 100 ms, and the delay from a post to the last of its
# followers' timeline rows (server/benches/community.rs seeds and drives).
# Writes the figures into docs/BENCHMARKS.md between the community markers.
#
#   bench/community.sh                                              # full run
#   LARDER_BENCH_POSTS=100000 LARDER_BENCH_SECONDS=10 bench/community.sh   # quick look
source "$(dirname "$0")/../scripts/lib.sh"
source "$ROOT/scripts/postgres.sh"

"$ROOT/scripts/setup-test.sh"
say "building the server and the driver (release)"
(cd "$ROOT" && cargo build --release -p server --bin larder)
(cd "$ROOT" && cargo bench -p server --bench community --no-run 2>&1 | tail -1)

work="$(mktemp -d /tmp/larder-community.XXXXXX)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  stop_test_postgres
  rm -rf "$work"
}
trap cleanup EXIT
PG_DURABLE=1 start_test_postgres
db="larder_community_$RANDOM"
psql -q "$LARDER_TEST_POSTGRES_URL" -c "create database $db" >/dev/null
db_url="${LARDER_TEST_POSTGRES_URL%/*}/$db"
port="$(free_port)"
ADMIN_EMAIL=bench@larder.test
ADMIN_PASSWORD="bench passphrase 1"
DATABASE_URL="$db_url" LARDER_LISTEN="127.0.0.1:$port" LARDER_DATA_DIR="$work" \
  LARDER_METRICS_LISTEN=off LARDER_ITEM_MODEL=off LARDER_LOG=warn \
  LARDER_ADMIN_EMAIL="$ADMIN_EMAIL" LARDER_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  LARDER_RATE_LIMIT_PER_ADDRESS=0 LARDER_RATE_LIMIT_PER_KEY=0 \
  "$ROOT/target/release/larder" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$work/server.log" >&2; die "the server did not become ready"; }

out="$(mktemp)"
{
  echo "| people | pantries | posts | timeline rows | readers | home reads | reads/s | home p50 ms | home p99 ms | failed reads | posts timed | post → all followers p50 ms | p99 ms |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  (cd "$ROOT" && LARDER_BENCH_URL="http://127.0.0.1:$port" LARDER_BENCH_DB="$db_url" \
    LARDER_BENCH_ADMIN="$ADMIN_EMAIL:$ADMIN_PASSWORD" cargo bench -q -p server --bench community)
} | tee "$out"

doc="$ROOT/docs/BENCHMARKS.md"
section="$(mktemp)"
{
  echo "<!-- community:start -->"
  echo "## Community timelines (issue 26)"
  echo
  echo "Produced by \`bench/community.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GB RAM; the release server and PostgreSQL (durable settings) on the same machine."
  echo "Seeded: 10,000 people with a session each, 200 pantries, 1,000,000 posts; each person follows their pantry, one of ten campus pantries (more followers than \`LARDER_TIMELINE_FANOUT_LIMIT\`, 1,000, so their posts are read on read), another pantry and five people. The home timeline rows seeded are the newest 50 written-out posts per followed pantry or person (what the first pages read; a full fan-out of the history would be ~50 million rows). 16 readers read the first page (20 posts) of random people's home timelines over HTTP while one writer publishes a post every 100 ms; a post's delay runs from the request to the last of its followers' rows (posts on the ten campus pantries, read on read, are not timed)."
  echo
  cat "$out"
  echo "<!-- community:end -->"
} >"$section"
python3 - "$doc" "$section" <<'PY'
import sys, re
doc, section = sys.argv[1], open(sys.argv[2]).read().rstrip() + "\n"
text = open(doc).read()
pattern = re.compile(r"<!-- community:start -->.*?<!-- community:end -->\n?", re.S)
text = pattern.sub(lambda m: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
open(doc, "w").write(text)
PY
rm -f "$out" "$section"
say "figures written to docs/BENCHMARKS.md"
