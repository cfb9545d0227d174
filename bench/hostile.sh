#!/usr/bin/env bash
# What a hostile client can make the server hold (issue 21): peak memory
# of the release server under the attacks a hostile client tried, each
# now refused or bounded. Prints a Markdown table for docs/BENCHMARKS.md.
#
#   bench/hostile.sh
source "$(dirname "$0")/../scripts/lib.sh"

say "building the server (release)"
(cd "$ROOT" && cargo build --release -p server --bin larder)
say "attacking it"
python3 "$ROOT/bench/hostile.py"
