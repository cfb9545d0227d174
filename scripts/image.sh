#!/usr/bin/env bash
# The container image's steps, without Docker.
#   scripts/image.sh --stage DIR   lays out what the image holds under DIR
#                                  (the Dockerfile's build stage runs this)
#   scripts/image.sh               builds, stages into target/image, and
#                                  starts the staged server the way the
#                                  image would, checks that it is ready and
#                                  serves a page, that the binary needs no
#                                  library the runtime image lacks, and
#                                  that SIGTERM stops it cleanly.
#   LARDER_IMAGE_PROFILE=debug scripts/image.sh
#                                  the same checks on the debug build that
#                                  `make test` already made (what the test
#                                  command runs: a cold release build would
#                                  double its time; the steps are the same)
source "$(dirname "$0")/lib.sh"

profile="${LARDER_IMAGE_PROFILE:-release}"
case "$profile" in release|debug) ;; *) die "LARDER_IMAGE_PROFILE: release or debug, not $profile" ;; esac

stage() {
  local out="$1"
  [ -x "$ROOT/target/$profile/larder" ] || die "no $profile build: run scripts/build.sh --release"
  [ -s "$ROOT/models/efficientnet-lite0.safetensors" ] || die "no item model: run make run once, or fetch_models"
  rm -rf "$out/opt/larder"
  mkdir -p "$out/opt/larder/bin" "$out/opt/larder/models"
  cp "$ROOT/target/$profile/larder" "$out/opt/larder/bin/"
  cp -r "$ROOT/target/site" "$out/opt/larder/site"
  cp "$ROOT/models/efficientnet-lite0.safetensors" "$out/opt/larder/models/"
}

if [ "${1:-}" = --stage ]; then
  stage "$2"
  exit 0
fi

[ "$profile" = release ] && "$ROOT/scripts/build.sh" --release
fetch_models
out="$ROOT/target/image"
stage "$out"
say "staged the image's files under $out"

# The runtime image is Debian slim plus Tesseract, CA roots and tzdata: the
# binary may link nothing else.
libs="$(ldd "$out/opt/larder/bin/larder" | awk '{print $1}' | sed 's/\.so.*//' | sort -u)"
for lib in $libs; do
  case "$lib" in
    linux-vdso|/lib64/ld-linux-x86-64|/lib/ld-linux-aarch64|libc|libm|libgcc_s|libpthread|libdl|librt) ;;
    *) die "the server links $lib, which the runtime image does not install" ;;
  esac
done
say "the server links only the C library and libgcc"

# Start it as the image would (its ENV, a fresh data directory), on a free
# loopback port instead of 0.0.0.0:3000.
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
data="$(mktemp -d)"
log="$data/server.log"
LARDER_LISTEN="127.0.0.1:$port" LARDER_METRICS_LISTEN=off LARDER_DATA_DIR="$data" \
  LARDER_SITE_ROOT="$out/opt/larder/site" \
  LARDER_ITEM_MODEL="$out/opt/larder/models/efficientnet-lite0.safetensors" \
  LARDER_LOG_FORMAT=json \
  timeout 120 "$out/opt/larder/bin/larder" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
ready="$(curl -fsS "http://127.0.0.1:$port/readyz")" || { cat "$log" >&2; die "the staged server never became ready"; }
echo "$ready" | grep -q '"status":"ready"' || die "not ready: $ready"
page="$(curl -fsS "http://127.0.0.1:$port/setup")" || die "the setup page did not load"
echo "$page" | grep -q '/pkg/larder' || die "the page does not load the browser bundle"
curl -fsS -o /dev/null "http://127.0.0.1:$port/pkg/larder.css" || die "the stylesheet is not served from the staged site"
kill -TERM "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && die "the server did not stop within 10 s of SIGTERM"
wait "$pid"; rc=$?
[ "$rc" = 0 ] || { cat "$log" >&2; die "the server exited with $rc on SIGTERM"; }
say "the staged image starts, is ready, serves the app, and stops cleanly on SIGTERM"
