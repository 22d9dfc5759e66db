# The two commands: `make dev` runs the whole platform on local defaults, `make test` runs every
# test against real services it starts itself. Both install what is missing into the project.
.PHONY: dev test bench chaos lint fmt sqlx-prepare clean-data images

dev:
	@bash scripts/dev.sh

test:
	@bash scripts/test.sh

# Benchmarks, printed as figures beside their baselines (docs/PERFORMANCE.md): invoices per
# second end to end against the Temporal server's ceiling, PDF time against Chromium, search
# over 1 000 000 invoices against the bare SQL, memory.
bench:
	@bash scripts/bench.sh

# Fault injection: 1 000 invoices through two APIs and two workers while workers, APIs and
# Temporal die (make test: 100).
chaos:
	@bash scripts/chaos.sh

# Build the two images from the Dockerfile with buildah (no Docker or registry needed) and run
# them against the local Postgres and a Temporal dev server (scripts/build-images.sh; as root,
# slow the first time).
images:
	@bash scripts/build-images.sh

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
