# Starts a throwaway PostgreSQL cluster for the tests, on loopback, in a
# directory of its own; stops and removes it when the calling script exits.
# Sourced by test.sh; exports LARDER_TEST_POSTGRES_URL.

# A loopback port nothing listens on.
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  die "no free port found"
}

start_test_postgres() {
  local bin port dir
  bin="$(pg_bin)" || die "PostgreSQL is not installed (scripts/setup-test.sh installs it)"
  dir="$(mktemp -d /tmp/larder-pg.XXXXXX)"
  port="$(free_port)"
  # PostgreSQL refuses to run as root; use its own system user then.
  local run=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "no 'postgres' system user to run PostgreSQL as"
    chown postgres "$dir"
    run=(runuser -u postgres --)
  fi
  # Tests trade durability for speed; benchmarks (PG_DURABLE=1) keep the
  # server's defaults, as a real deployment would.
  local durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  [ "${PG_DURABLE:-0}" = 1 ] && durability=""
  say "starting PostgreSQL ($("$bin/postgres" --version | awk '{print $3}')) on 127.0.0.1:$port"
  "${run[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir $durability -c max_connections=400" \
    start >/dev/null || { cat "$dir/server.log" >&2; die "PostgreSQL did not start"; }
  PG_TEST_DIR="$dir"
  PG_TEST_RUN=("${run[@]}")
  PG_TEST_BIN="$bin"
  export LARDER_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

stop_test_postgres() {
  [ -n "${PG_TEST_DIR:-}" ] || return 0
  "${PG_TEST_RUN[@]}" "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_TEST_DIR"
  PG_TEST_DIR=""
}
