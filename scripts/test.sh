#!/usr/bin/env bash
# Sets up what the tests need and runs them all: unit tests, integration
# tests against SQLite and a real PostgreSQL server started here, and the
# browser tests (Playwright driving Debian's Chromium) at a phone and a
# desktop viewport.
source "$(dirname "$0")/lib.sh"
source "$ROOT/scripts/postgres.sh"

"$ROOT/scripts/setup-test.sh"
"$ROOT/scripts/build.sh" --site

say "checking that no server-only crate reaches the WASM bundle"
leaked="$(cargo tree -p frontend --target wasm32-unknown-unknown -e normal --prefix none \
  | grep -E '^(sqlx|tokio|mio|argon2|axum|hyper|leptos_axum|vision|image|rxing|forecast|augurs-ets)[ -]' | sort -u || true)"
[ -z "$leaked" ] || die "server-only crates in the WASM dependency tree: $leaked"

trap stop_test_postgres EXIT
start_test_postgres

# Each integration test starts its own server and database in its own tokio
# runtime. They run one at a time: with several runtimes alive in one
# process, Leptos' SSR sometimes lost a wake-up and a page render hung (never
# seen with one server per process, which is how Larder runs; the suite also
# checks that concurrent page loads on one server all complete).
say "unit and integration tests (SQLite and PostgreSQL)"
results="$(mktemp)"
cargo test -p vision -p scanner -p forecast -p app -p server --features app/ssr -- --test-threads 1 2>&1 | tee "$results"

say "the container image's steps, on the debug build (scripts/image.sh)"
LARDER_IMAGE_PROFILE=debug "$ROOT/scripts/image.sh"

say "browser tests (Chromium, phone and desktop)"
rm -rf "$ROOT/end2end/screenshots"
(cd "$ROOT" && CI=1 node_modules/.bin/playwright test -c end2end/playwright.config.ts) 2>&1 | tee -a "$results"

say "all tests passed; screenshots in end2end/screenshots/"
# One closing line for the whole run: Rust tests plus browser tests.
awk '/^test result:/ { p += $4; f += $6 } /^ +[0-9]+ passed \(/ { p += $1 }
     END { printf "all: %d passed, %d failed\n", p, f }' "$results"
rm -f "$results"
