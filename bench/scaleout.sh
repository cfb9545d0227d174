#!/usr/bin/env bash
# Scale-out under load and failure: one, two and three Larder replicas (the
# release binary) on PostgreSQL + RabbitMQ + Redis behind HAProxy, all on
# loopback, under a mixed read/write load (server/benches/scaleout.rs);
# then three replicas through a run of faults: SIGKILL one replica and
# restart it, stop RabbitMQ for 30 s, stop Redis for 30 s, restart
# PostgreSQL. After each run the driver checks that every acknowledged
# write is stored, the consumers' effects equal the event log, no replica
# answers stale stock and every live stream hears the last change.
# Writes the figures into docs/BENCHMARKS.md between the scaleout markers.
#
#   bench/scaleout.sh                              # full run (about 10 min)
#   LARDER_BENCH_SECONDS=10 LARDER_BENCH_FAULT_SCALE=0.3 bench/scaleout.sh   # quick look
source "$(dirname "$0")/../scripts/lib.sh"
source "$ROOT/scripts/postgres.sh"

"$ROOT/scripts/setup-test.sh"
apt_install haproxy
"$ROOT/scripts/build.sh" --release
say "building the load driver (release)"
cargo bench -p server --bench scaleout --no-run 2>&1 | tail -1

seconds="${LARDER_BENCH_SECONDS:-30}"
scale="${LARDER_BENCH_FAULT_SCALE:-1}"
work="$(mktemp -d /tmp/larder-scaleout.XXXXXX)"
# RabbitMQ runs as its own user when root, and must reach its directory.
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  stop_rabbit
  [ -n "${redis_pid:-}" ] && kill -KILL "$redis_pid" 2>/dev/null
  stop_test_postgres
  rm -rf "$work"
}
trap cleanup EXIT

PG_DURABLE=1 start_test_postgres
admin_url="$LARDER_TEST_POSTGRES_URL"

# RabbitMQ: a node of its own in $work, as Debian's rabbitmq user when root.
rabbit_port="$(free_port)"
rabbit_dist="$(free_port)"
start_rabbit() {
  local dir="$work/rabbit" run=()
  mkdir -p "$dir"
  echo '[].' >"$dir/enabled_plugins"
  if [ "$(id -u)" = 0 ]; then chown -R rabbitmq "$dir"; run=(runuser -u rabbitmq --); fi
  (cd "$dir" && HOME="$dir" RABBITMQ_NODENAME="bench-$rabbit_port@localhost" \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$rabbit_port" \
    RABBITMQ_DIST_PORT="$rabbit_dist" RABBITMQ_MNESIA_BASE="$dir/mnesia" \
    RABBITMQ_LOG_BASE="$dir/log" RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
    ERL_EPMD_ADDRESS=127.0.0.1 setsid "${run[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server >"$dir/out.log" 2>&1 &
    echo $! >"$dir/pid")
  for _ in $(seq 1 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$rabbit_port") 2>/dev/null && return 0
    sleep 0.1
  done
  die "RabbitMQ did not start"
}
stop_rabbit() {
  local pid
  pid="$(cat "$work/rabbit/pid" 2>/dev/null)" || return 0
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$rabbit_port") 2>/dev/null || { kill -0 "$pid" 2>/dev/null || break; }
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$work/rabbit/pid"
}
redis_port="$(free_port)"
start_redis() {
  redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no >"$work/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null && return 0
    sleep 0.05
  done
  die "Redis did not start"
}
say "starting RabbitMQ and Redis on loopback"
start_rabbit
start_redis

ADMIN_EMAIL=bench@larder.test
ADMIN_PASSWORD="bench passphrase 1"
replica_ports=()
replica_pids=()
# start_replica INDEX: one release server on its own port and data dir.
start_replica() {
  local i="$1" port="${replica_ports[$1]}"
  mkdir -p "$work/replica-$i"
  DATABASE_URL="$db_url" LARDER_LISTEN="127.0.0.1:$port" LARDER_DATA_DIR="$work/replica-$i" \
    LARDER_SITE_ROOT="$ROOT/target/site" LARDER_METRICS_LISTEN=off LARDER_ITEM_MODEL=off \
    LARDER_RABBITMQ_URL="amqp://guest:guest@127.0.0.1:$rabbit_port/%2f" \
    LARDER_RABBITMQ_EXCHANGE="$run_name" \
    LARDER_REDIS_URL="redis://127.0.0.1:$redis_port/0" LARDER_REDIS_PREFIX="$run_name:" \
    LARDER_ADMIN_EMAIL="$ADMIN_EMAIL" LARDER_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    LARDER_TRUSTED_PROXIES=127.0.0.1/32 LARDER_RATE_LIMIT_PER_ADDRESS=0 \
    LARDER_PUBLIC_URL="http://127.0.0.1:$lb_port" LARDER_LOG=warn \
    "$ROOT/target/release/larder" >>"$work/replica-$i.log" 2>&1 &
  replica_pids[$i]=$!
  pids+=("$!")
  for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$work/replica-$i.log" >&2
  die "replica $i did not become ready"
}

# run N LABEL [FAULTS]: a fresh database, N replicas, HAProxy, the load.
run() {
  local n="$1" label="$2" faults="${3:-}"
  run_name="bench-$n-$RANDOM"
  local db="larder_${run_name//-/_}"
  psql -q "$admin_url" -c "create database $db" >/dev/null
  db_url="${admin_url%/*}/$db"
  lb_port="$(free_port)"
  replica_ports=()
  local servers=""
  for i in $(seq 1 "$n"); do
    replica_ports[$i]="$(free_port)"
    servers+="    server r$i 127.0.0.1:${replica_ports[$i]} check inter 500 fall 2 rise 2"$'\n'
  done
  # The first replica creates the admin and migrates; the others follow.
  for i in $(seq 1 "$n"); do start_replica "$i"; done
  cat >"$work/haproxy.cfg" <<CFG
global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    option redispatch
    retries 2
    retry-on conn-failure empty-response response-timeout
frontend larder
    bind 127.0.0.1:$lb_port
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET /readyz
$servers
CFG
  haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
  local haproxy_pid=$!
  pids+=("$haproxy_pid")
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$lb_port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  local urls=""
  for i in $(seq 1 "$n"); do urls+="http://127.0.0.1:${replica_ports[$i]},"; done
  say "$label: $n replica(s) behind HAProxy, ${run_seconds}s of load"
  : >"$work/faults"
  LARDER_BENCH_LB="http://127.0.0.1:$lb_port" LARDER_BENCH_REPLICAS="${urls%,}" \
    LARDER_BENCH_DB="$db_url" LARDER_BENCH_SECONDS="$run_seconds" \
    LARDER_BENCH_LABEL="$label" LARDER_BENCH_FAULTS="$work/faults" \
    LARDER_BENCH_ADMIN="$ADMIN_EMAIL:$ADMIN_PASSWORD" \
    cargo bench -q -p server --bench scaleout >"$work/out-$n" 2>"$work/err-$n" &
  local driver=$!
  [ -n "$faults" ] && "$faults"
  local rc=0
  wait "$driver" || rc=$?
  cat "$work/out-$n" >>"$results"
  [ "$rc" = 0 ] || { cat "$work/err-$n" >&2; failed+=("$label"); }
  for i in $(seq 1 "$n"); do kill -TERM "${replica_pids[$i]}" 2>/dev/null || true; done
  kill -TERM "$haproxy_pid" 2>/dev/null || true
  for i in $(seq 1 "$n"); do wait "${replica_pids[$i]}" 2>/dev/null || true; done
  wait "$haproxy_pid" 2>/dev/null || true
}

at() { # at SECONDS: sleep until that many seconds after the load began
  local target
  target="$(python3 -c "print($load_start + $1 * $scale)")"
  python3 -c "import time; time.sleep(max(0, $target - time.time()))"
}
mark() { echo "$1 $2 $3" >>"$work/faults"; }
ms() { date +%s%3N; }
faults() {
  load_start="$(python3 -c 'import time; print(time.time())')"
  local s
  at 15; s="$(ms)"; kill -KILL "${replica_pids[3]}"; say "fault: replica 3 killed"
  at 30; start_replica 3; mark replica_3_SIGKILLed_and_restarted "$s" "$(ms)"; say "replica 3 back"
  at 45; s="$(ms)"; stop_rabbit; say "fault: RabbitMQ stopped"
  at 75; start_rabbit; mark RabbitMQ_stopped "$s" "$(ms)"; say "RabbitMQ back"
  at 90; s="$(ms)"; kill -KILL "$redis_pid"; say "fault: Redis stopped"
  at 120; start_redis; mark Redis_stopped "$s" "$(ms)"; say "Redis back"
  at 130; s="$(ms)"
  "${PG_TEST_RUN[@]}" "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" -m fast -w restart >/dev/null
  mark PostgreSQL_restarted "$s" "$(ms)"; say "PostgreSQL restarted"
}

results="$(mktemp)"
failed=()
{
  echo "| run | requests/s | reads/s | writes/s | p50 ms | p99 ms | failed requests | writes acknowledged / present | events applied twice | stale replicas | deaf live streams | consumers caught up |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
} >"$results"
run_seconds="$seconds"
for n in 1 2 3; do run "$n" "$n replica(s)"; done
echo >>"$results"
run_seconds="$(python3 -c "print(int(150 * $scale))")"
run 3 "3 replicas, faults" faults

doc="$ROOT/docs/BENCHMARKS.md"
section="$(mktemp)"
{
  echo "<!-- scaleout:start -->"
  echo "## Scale-out under load and failure (issue 25)"
  echo
  echo "Produced by \`bench/scaleout.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GB RAM."
  echo "Release binaries on loopback: PostgreSQL $("$(pg_bin)/postgres" --version | awk '{print $3}') (durable settings), RabbitMQ $(dpkg-query -W -f='${Version}' rabbitmq-server), Redis $(redis-server --version | awk '{print $3}' | cut -d= -f2), HAProxy $(haproxy -v | awk 'NR==1 {print $3}') (round robin, health checks on /readyz every 0.5 s), ${LARDER_BENCH_CLIENTS:-16} clients, ${LARDER_BENCH_WRITES:-20}% writes (receipts) and the rest stock overviews, ${seconds} s per replica count and ${run_seconds} s for the fault run. Everything, load driver included, shares the machine's cores."
  echo
  cat "$results"
  echo "<!-- scaleout:end -->"
} >"$section"
python3 - "$doc" "$section" <<'PY'
import sys, re
doc, section = sys.argv[1], open(sys.argv[2]).read().rstrip() + "\n"
text = open(doc).read()
pattern = re.compile(r"<!-- scaleout:start -->.*?<!-- scaleout:end -->\n?", re.S)
text = pattern.sub(lambda m: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
open(doc, "w").write(text)
PY
cat "$results"
rm -f "$results" "$section"
[ ${#failed[@]} -eq 0 ] || die "checks failed in: ${failed[*]} (figures written anyway)"
say "figures written to docs/BENCHMARKS.md"
