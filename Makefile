# The two commands a newcomer types: `make run` and `make test`.
.PHONY: run test lint ci

run: ## Build and start the server on the embedded default (SQLite in ./twig-data).
	cargo run --bin twig -- serve

test: ## The whole test suite (what CI runs).
	cargo test --workspace --no-fail-fast
	bash scripts/schemathesis.sh  # the server against its OpenAPI document (reuses target/debug/twig)

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
