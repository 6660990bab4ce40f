# The two commands a newcomer types: `make run` and `make test`.
.PHONY: run test lint ci

run: ## Build and start the server on the embedded default (SQLite in ./twig-data).
	cargo run --bin twig -- serve

test: ## The whole test suite (what CI runs): cargo's, then real third-party clients against target/debug/twig.
	cargo test --workspace --no-fail-fast
	python3 tests/clients/run.py

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
