# The two commands: `make run` and `make test`. Everything else is detail.
.PHONY: run test build fmt

run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh

build:
	@bash scripts/build.sh

fmt:
	cargo fmt --all
