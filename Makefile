# The commands a person types. `make run` and `make test` are all a newcomer needs.
CARGO ?= cargo
BIN    = $(CARGO) run --quiet --bin newsroom --

.PHONY: run build test test-postgres lint fmt schema openapi bench graphiql-assets

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

graphiql-assets: ## Re-vendor GraphiQL, React and ReactDOM (npm, pinned versions) into crates/gateway/assets/graphiql
	sh crates/gateway/assets/graphiql/vendor.sh

bench: ## Read-path, view and search latency over 100,000 articles on SQLite, and on PostgreSQL when TEST_POSTGRES_URL is set
	$(CARGO) bench -p newsroom-tests --bench read_path --bench views --bench search
