# The two commands a newcomer types: `make run` and `make test`.
.PHONY: run test lint ci sdk-types test-sdks fuzz-api

run: ## Build and start the server on the embedded default (SQLite in ./twig-data).
	cargo run --bin twig -- serve

test: ## The whole test suite (what CI runs, scripts/test.sh): starts the real servers the scale-out tests use (scripts/services.sh), builds once, then runs cargo's tests beside the SDK suites, real third-party clients (openai, mcp) and schemathesis, all against target/debug/twig.
	bash scripts/test.sh

fuzz-api: ## schemathesis against the OpenAPI document alone (also the last step of `make test`).
	bash scripts/schemathesis.sh

test-sdks: ## The Python and TypeScript SDK suites, against the target/debug/twig cargo test built.
	bash scripts/test-sdks.sh

sdk-types: ## Regenerates the SDKs' types from the built server's /api/v1/openapi.json.
	bash scripts/gen-sdk-types.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
