#!/usr/bin/env bash
# Sets up what the tests need and runs them all: unit tests, integration
# tests against SQLite and a real PostgreSQL server started here, and the
# browser tests (Playwright driving Debian's Chromium) at a phone and a
# desktop viewport.
source "$(dirname "$0")/lib.sh"
source "$ROOT/scripts/postgres.sh"

"$ROOT/scripts/setup-test.sh"
"$ROOT/scripts/build.sh"

trap stop_test_postgres EXIT
start_test_postgres

# Each integration test starts its own server and database; two cores run
# four at a time comfortably (most of a test's time is waiting on I/O).
say "unit and integration tests (SQLite and PostgreSQL)"
cargo test -p app -p server --features app/ssr -- --test-threads "${LARDER_TEST_THREADS:-4}"

say "browser tests (Chromium, phone and desktop)"
rm -rf "$ROOT/end2end/screenshots"
(cd "$ROOT" && CI=1 node_modules/.bin/playwright test -c end2end/playwright.config.ts)

say "all tests passed; screenshots in end2end/screenshots/"
