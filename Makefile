# The commands a person types. `make run` and `make test` are all a newcomer needs.
CARGO ?= cargo
BIN    = $(CARGO) run --quiet --bin newsroom --

.PHONY: run build test test-postgres fuzz lint fmt schema openapi bench

run: ## Start the API on SQLite (./data/newsroom.db) with the demo content
	$(BIN) serve --demo

build:
	$(CARGO) build --workspace

test: ## Every test on SQLite; on PostgreSQL too when TEST_POSTGRES_URL is set
	$(CARGO) test --workspace --lib --bins --tests --no-fail-fast

test-postgres: ## Every test on both backends against the local PostgreSQL, with Redis
	TEST_POSTGRES_URL=$${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres} \
	TEST_REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379} $(MAKE) test

# Cases per property for `make fuzz`; `make test` runs proptest's default (256).
FUZZ_CASES ?= 20000

fuzz: ## The property tests (cursors, IDs, parameters, GraphQL requests, the sanitizer) with FUZZ_CASES cases each
	PROPTEST_CASES=$(FUZZ_CASES) $(CARGO) test --workspace --lib --tests --no-fail-fast fuzz_

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
