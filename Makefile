# The commands a person types. `make run` and `make test` are all a newcomer needs.
CARGO ?= cargo
BIN    = $(CARGO) run --quiet --bin newsroom --

# The portal example: a static frontend on the API (examples/portal).
PORTAL           = examples/portal
NEWSROOM_API_URL ?= http://127.0.0.1:8080
PORTAL_PORT      ?= 4173
# playwright-core drives Debian's Chromium; nothing may download a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = 1

.PHONY: run build test test-postgres fuzz lint fmt schema openapi bench portal test-portal graphiql-assets bench-load

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

graphiql-assets: ## Re-vendor GraphiQL, React and ReactDOM (npm, pinned versions) into crates/gateway/assets/graphiql
	sh crates/gateway/assets/graphiql/vendor.sh

bench: ## Read-path, view and search latency over 100,000 articles on SQLite, and on PostgreSQL when TEST_POSTGRES_URL is set
	$(CARGO) bench -p newsroom-tests --bench read_path --bench views --bench search

portal: $(PORTAL)/node_modules/.package-lock.json ## Build the portal for NEWSROOM_API_URL and serve it on 127.0.0.1:$(PORTAL_PORT) (run the API with `make run`)
	cd $(PORTAL) && NEWSROOM_API_URL=$(NEWSROOM_API_URL) npm run build
	cd $(PORTAL) && npm run preview -- --port $(PORTAL_PORT)

test-portal: $(PORTAL)/node_modules/.package-lock.json ## The portal's browser test: real server, built portal, headless Chromium
	cd $(PORTAL) && npm test

# The portal's packages, exactly as locked; installed again only when the lock file changes.
$(PORTAL)/node_modules/.package-lock.json: $(PORTAL)/package-lock.json
	cd $(PORTAL) && npm ci --no-audit --no-fund

bench-load: ## Load benchmark over HTTP: 100,000 articles in PostgreSQL (newsroom_bench), oha and pgbench; writes bench/results/
	@test -x $(BENCH_TOOLS)/bin/oha || $(CARGO) install oha --locked --version $(OHA_VERSION) --root $(BENCH_TOOLS)
	$(CARGO) build --profile $(BENCH_PROFILE) -p newsroom-gateway -p newsroom-tests --bin newsroom --bin bench_load
	BENCH_SERVER=$(BENCH_BIN)/newsroom BENCH_OHA=$(BENCH_TOOLS)/bin/oha \
	BENCH_PGBENCH=$${BENCH_PGBENCH:-$$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench | tail -n 1)} \
	$(BENCH_BIN)/bench_load
