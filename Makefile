# The commands a person types. `make run` and `make test` are all a newcomer needs.
CARGO ?= cargo
BIN    = $(CARGO) run --quiet --bin newsroom --

.PHONY: run build test test-postgres lint fmt schema openapi bench bench-load

TARGET       = $(or $(CARGO_TARGET_DIR),target)
BENCH_TOOLS ?= $(TARGET)/tools
OHA_VERSION  = 1.16.0
# `make bench-load BENCH_PROFILE=dev BENCH_ARTICLES=2000` tries the benchmark out quickly.
BENCH_PROFILE ?= release
BENCH_BIN    = $(TARGET)/$(if $(filter dev,$(BENCH_PROFILE)),debug,$(BENCH_PROFILE))

run: ## Start the API on SQLite (./data/newsroom.db) with the demo content
	$(BIN) serve --demo

build:
	$(CARGO) build --workspace

test: ## Every test on SQLite; on PostgreSQL too when TEST_POSTGRES_URL is set
	$(CARGO) test --workspace --lib --bins --tests --no-fail-fast

test-postgres: ## Every test on both backends against the local PostgreSQL, with Redis
	TEST_POSTGRES_URL=$${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres} \
	TEST_REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379} $(MAKE) test

lint: ## Formatting and clippy, as CI runs them
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

schema: ## Rewrite schema.graphql from the code
	$(BIN) schema > schema.graphql

openapi: ## Rewrite openapi.json (the REST API's OpenAPI 3.1 document) from the code
	$(BIN) openapi > openapi.json

bench: ## Read-path, view and search latency over 100,000 articles on SQLite, and on PostgreSQL when TEST_POSTGRES_URL is set
	$(CARGO) bench -p newsroom-tests --bench read_path --bench views --bench search

bench-load: ## Load benchmark over HTTP: 100,000 articles in PostgreSQL (newsroom_bench), oha and pgbench; writes bench/results/
	@test -x $(BENCH_TOOLS)/bin/oha || $(CARGO) install oha --locked --version $(OHA_VERSION) --root $(BENCH_TOOLS)
	$(CARGO) build --profile $(BENCH_PROFILE) -p newsroom-gateway -p newsroom-tests --bin newsroom --bin bench_load
	BENCH_SERVER=$(BENCH_BIN)/newsroom BENCH_OHA=$(BENCH_TOOLS)/bin/oha \
	BENCH_PGBENCH=$${BENCH_PGBENCH:-$$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench | tail -n 1)} \
	$(BENCH_BIN)/bench_load
