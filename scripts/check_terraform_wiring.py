#!/usr/bin/env python3
"""Checks that the ECS task definitions in terraform/modules/compute set every environment
variable the binaries read in production, and nothing they do not read.

Run by scripts/check-terraform.sh with python-hcl2 on PYTHONPATH. Nothing here is a list of the
binaries' variables: they are found in the Rust sources of each binary's crate and of every
workspace crate it depends on (path or workspace dependencies, followed through Cargo.toml):

- clap arguments, `#[arg(..., env = "NAME")]`, the binaries' configuration;
- `std::env::var("NAME")` / `var_os`, with the name written out, held in a `const`, or taken
  from a `for name in ["A", "B"]` loop (the production checks of development switches);
- the Temporal SDK's environment configuration (`load_client_config_profile`), whose `TEMPORAL_*`
  names the calling module documents in backticks (`TEMPORAL_API_KEY`, `..._PATH`/`_DATA`);
- `EnvFilter::try_from_default_env` / `from_default_env`: RUST_LOG.

The task definitions' variables are read from the compute module with python-hcl2: the
`locals` that each task definition's container_definitions refers to (for a resource with
`for_each = local.<map>`, one task definition per key: its container_definitions and that key's
entry, each.value), followed through the locals that those refer to, contribute the keys of
their map literals.
"""

from __future__ import annotations

import pathlib
import re
import sys
import tomllib

import hcl2

ROOT = pathlib.Path(__file__).resolve().parent.parent
COMPUTE = ROOT / "terraform/modules/compute/main.tf"
# Task definition => the crate directory of the binary it runs (the migration task runs
# `invoice-api migrate`, whose command line parses the API's whole configuration).
BINARIES = {"api": "api", "migrate": "api", "worker": "worker"}

# Read by the binaries, deliberately not set in production. Each must still be read by the
# sources (a stale entry fails) and must not appear in a task definition.
DEVELOPMENT_ONLY = {
    # The local object store (STORAGE_BACKEND=local); production uses S3.
    "STORAGE_DIR": "local object store only",
    # Endpoints that replace AWS or Stripe with a local server in tests (moto, a fake Stripe).
    "S3_ENDPOINT_URL": "S3-compatible endpoint for tests; unset means AWS",
    "SES_ENDPOINT_URL": "SES-compatible endpoint for tests; unset means AWS",
    "SQS_ENDPOINT_URL": "SQS-compatible endpoint for tests; unset means AWS",
    "STRIPE_API_BASE": "fake Stripe for tests; unset means Stripe",
    # EMAIL_BACKEND=smtp (the local mail catcher); production sends through SES.
    "SMTP_URL": "SMTP backend only; production uses SES",
    "SMTP_USERNAME": "SMTP backend only",
    "SMTP_PASSWORD": "SMTP backend only",
    # The built-in test checkout's signing secret; PAYMENT_PROVIDER=test is refused in production.
    "LOCAL_WEBHOOK_SECRET": "test checkout only",
    # Development tools (dev-tools builds); the binaries refuse to start in production when set.
    "DEMO_DATA": "demo data switch, refused in production",
    "FAULT_CRASH_EVERY": "fault injection (make chaos), refused in production",
    "FAULT_CRASH_AT": "fault injection (make chaos)",
    # Set by the container runtime (the worker's presence record names its host).
    "HOSTNAME": "set by the runtime",
}

# The Temporal credential: one of these sets must be wired whole (Temporal Cloud).
TEMPORAL_CREDENTIALS = [
    {"TEMPORAL_API_KEY"},
    {"TEMPORAL_TLS_CLIENT_CERT_DATA", "TEMPORAL_TLS_CLIENT_KEY_DATA"},
]

NAME = r"[A-Z][A-Z0-9_]*[A-Z0-9]"


def crate_dirs(crate: str) -> list[pathlib.Path]:
    """The crate and every workspace crate it depends on (normal dependencies only)."""
    workspace = tomllib.loads((ROOT / "Cargo.toml").read_text())
    workspace_paths = {
        name: spec["path"]
        for name, spec in workspace.get("workspace", {}).get("dependencies", {}).items()
        if isinstance(spec, dict) and "path" in spec
    }
    seen: list[pathlib.Path] = []
    todo = [ROOT / crate]
    while todo:
        directory = todo.pop().resolve()
        if directory in seen:
            continue
        seen.append(directory)
        manifest = tomllib.loads((directory / "Cargo.toml").read_text())
        for name, spec in manifest.get("dependencies", {}).items():
            if isinstance(spec, dict) and "path" in spec:
                todo.append(directory / spec["path"])
            elif isinstance(spec, dict) and spec.get("workspace") and name in workspace_paths:
                todo.append(ROOT / workspace_paths[name])
    return seen


def strip_tests(source: str) -> str:
    """Drops `#[cfg(test)] mod name { ... }` blocks (unit tests set variables; the binaries do
    not read them) by counting braces, and folds doc comments into one line each paragraph so
    that a backticked name broken over two lines is still seen."""
    while match := re.search(r"^\s*#\[cfg\(test\)\]\s*\n\s*mod\s+\w+\s*\{", source, re.M):
        depth, end = 0, match.end() - 1
        for end in range(match.end() - 1, len(source)):
            depth += {"{": 1, "}": -1}.get(source[end], 0)
            if depth == 0:
                break
        source = source[: match.start()] + source[end + 1 :]
    return re.sub(r"\n\s*//[!/] ?", " ", source)


def variables_read(directories: list[pathlib.Path]) -> dict[str, set[str]]:
    """Variable name => the source files that read it."""
    found: dict[str, set[str]] = {}

    def add(name: str, path: pathlib.Path) -> None:
        found.setdefault(name, set()).add(str(path.relative_to(ROOT)))

    for directory in directories:
        for path in sorted((directory / "src").rglob("*.rs")):
            source = strip_tests(path.read_text())
            for name in re.findall(rf'\benv\s*=\s*"({NAME})"', source):
                add(name, path)
            consts = dict(re.findall(rf'const\s+(\w+)\s*:\s*&str\s*=\s*"({NAME})"', source))
            loops = {
                var: re.findall(rf'"({NAME})"', items)
                for var, items in re.findall(r"for\s+(\w+)\s+in\s+\[([^\]]*)\]", source)
            }
            for argument in re.findall(r"env::var(?:_os)?\(\s*([^)]*?)\s*\)", source):
                if literal := re.fullmatch(rf'"({NAME})"', argument):
                    add(literal.group(1), path)
                elif argument in consts:
                    add(consts[argument], path)
                elif argument in loops:
                    for name in loops[argument]:
                        add(name, path)
                else:
                    sys.exit(f"{path.relative_to(ROOT)}: cannot tell which variable env::var({argument}) reads; teach {__file__} or name it")
            if "load_client_config_profile" in source:
                for first, data in re.findall(r"`(TEMPORAL_[A-Z0-9_]*[A-Z0-9])`(?:\s*/\s*`(_[A-Z0-9]+)`)?", source):
                    add(first, path)
                    if data:
                        add(first.rsplit("_", 1)[0] + data, path)
            if re.search(r"EnvFilter::(try_)?from_default_env", source):
                add("RUST_LOG", path)
    return found


def task_definition_variables() -> dict[str, set[str]]:
    """Task definition (api, worker, ...) => the variable names its container gets."""
    with COMPUTE.open() as f:
        parsed = hcl2.load(f)
    local_values: dict[str, object] = {}
    for block in parsed.get("locals", []):
        local_values.update(block)
    definitions = {}
    # python-hcl2 keeps block labels' quotes ("\"api\"").
    for block in parsed.get("resource", []):
        for kind, resources in block.items():
            if kind.strip('"') != "aws_ecs_task_definition":
                continue
            for name, body in resources.items():
                container = str(body["container_definitions"])
                if "for_each" not in body:
                    definitions[name.strip('"')] = container
                    continue
                # One task definition per key of a local map (`for_each = local.tasks`): its
                # container definition is the common one and that key's entry (each.value).
                match = re.fullmatch(r"\$\{local\.(\w+)\}", str(body["for_each"]))
                tasks = local_values.get(match.group(1)) if match else None
                if not isinstance(tasks, dict):
                    sys.exit(f"{COMPUTE.relative_to(ROOT)}: aws_ecs_task_definition {name}: for_each is not a local map: {body['for_each']}")
                for key, entry in tasks.items():
                    definitions[key.strip('"')] = container + str(entry)

    def names_from(text: str, visited: set[str]) -> set[str]:
        names: set[str] = set()
        for ref in re.findall(r"\blocal\.(\w+)", text):
            if ref in visited or ref not in local_values:
                continue
            visited.add(ref)
            value = local_values[ref]
            if isinstance(value, dict):
                names |= {key.strip('"') for key in value if re.fullmatch(NAME, key.strip('"'))}
                names |= names_from(str(value), visited)
            else:
                names |= names_from(str(value), visited)
        return names

    missing = [b for b in BINARIES if b not in definitions]
    if missing:
        sys.exit(f"{COMPUTE.relative_to(ROOT)}: no aws_ecs_task_definition {missing}")
    return {binary: names_from(definitions[binary], set()) for binary in BINARIES}


def main() -> int:
    wired = task_definition_variables()
    errors: list[str] = []
    for binary, crate in BINARIES.items():
        read = variables_read(crate_dirs(crate))
        temporal_sdk = {n for n, files in read.items() if n.startswith("TEMPORAL_")}
        needed = sorted(n for n in read if n not in DEVELOPMENT_ONLY and not n.startswith("TEMPORAL_"))
        # The SDK's TEMPORAL_* variables are options; the ones with flags (address, namespace,
        # task queue) are clap arguments and required like the rest.
        needed += sorted(
            n for n in temporal_sdk
            if any(re.search(rf'env\s*=\s*"{n}"', pathlib.Path(ROOT / f).read_text()) for f in read[n])
        )
        print(f"{binary}: reads {len(read)} variables; {len(needed)} must be in its task definition:", file=sys.stderr)
        print("  " + " ".join(sorted(needed)), file=sys.stderr)
        for name in needed:
            if name not in wired[binary]:
                errors.append(f"{binary}: {name} is read by {', '.join(sorted(read[name]))} but not set in the task definition")
        if not any(credential <= wired[binary] for credential in TEMPORAL_CREDENTIALS):
            errors.append(f"{binary}: no Temporal credential (TEMPORAL_API_KEY, or TEMPORAL_TLS_CLIENT_CERT_DATA and _KEY_DATA)")
        for name in sorted(wired[binary]):
            if name in DEVELOPMENT_ONLY:
                errors.append(f"{binary}: {name} is development-only ({DEVELOPMENT_ONLY[name]}) but set in the task definition")
            elif name not in read:
                errors.append(f"{binary}: {name} is set in the task definition but read by no source of the binary (a typo, or a removed setting?)")
    every_read = set()
    for crate in BINARIES.values():
        every_read |= set(variables_read(crate_dirs(crate)))
    for name in sorted(set(DEVELOPMENT_ONLY) - every_read):
        errors.append(f"{name} is allowlisted as development-only but no longer read: remove it from {pathlib.Path(__file__).name}")
    for error in errors:
        print(f"  {error}", file=sys.stderr)
    if errors:
        return 1
    print("the task definitions set every variable the binaries read in production", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
