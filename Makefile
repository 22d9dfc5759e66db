# The two commands: `make dev` runs the whole platform on local defaults, `make test` runs every
# test against real services it starts itself. Both install what is missing into the project.
.PHONY: dev test bench lint fmt sqlx-prepare clean-data

dev:
	@bash scripts/dev.sh

test:
	@bash scripts/test.sh

# Benchmarks (PDF render time, invoices per second end to end), printed as figures.
bench:
	@bash scripts/bench.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

fmt:
	cargo fmt --all

# Regenerate the committed .sqlx/ query cache after changing a query or a migration.
sqlx-prepare:
	@bash scripts/sqlx-prepare.sh

# Forget the local stack's state (Temporal history, logs, the dev JWT secret).
clean-data:
	rm -rf .data
