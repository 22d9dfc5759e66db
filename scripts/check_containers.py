#!/usr/bin/env python3
"""Checks the Dockerfile and compose.yaml against what the rest of the repository expects of
them, without building or pulling any image (no registry is reachable where `make test` runs).

Run by scripts/check-containers.sh with PyYAML on the path. The Dockerfile:

- the final targets `api` and `worker` exist, and neither descends from a build stage (no
  compilers or npm in what ships);
- each runs as the unprivileged user the ECS task definitions name (`user` in
  terraform/modules/compute/main.tf's container_hardening), numerically;
- each has a HEALTHCHECK, STOPSIGNAL SIGTERM and an exec-form ENTRYPOINT that is its binary (a
  shell-form one would be `sh -c`, which does not pass SIGTERM on);
- the API's web app lands where WEB_DIST and the compute module's `web_dist` default say;
- the API's health check, run here with bash against a throwaway HTTP server, passes when
  /health answers 200 and fails when nothing listens.

compose.yaml: the api, worker and migrate services set every variable that
scripts/check_terraform_wiring.py finds the binaries read in production (its extraction
functions, imported, not copied); secrets have no defaults; APP_ENV and the payment provider
are what the file's header promises; the API waits for the migrations and the search
attributes, and the search-attribute job reads temporal/search-attributes.txt.
"""

from __future__ import annotations

import http.server
import json
import pathlib
import re
import shlex
import subprocess
import sys
import threading
import types

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
try:
    import hcl2  # noqa: F401  (only the wiring check's task-definition parser needs it)
except ImportError:
    # check_terraform_wiring imports python-hcl2 at the top for its Terraform half; the source
    # scanning reused here never calls it, so a stand-in keeps this venv free of the parser.
    sys.modules["hcl2"] = types.ModuleType("hcl2")
import check_terraform_wiring as wiring  # noqa: E402

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
COMPUTE_MAIN = ROOT / "terraform/modules/compute/main.tf"
COMPUTE_VARIABLES = ROOT / "terraform/modules/compute/variables.tf"
FINAL = {"api": "invoice-api", "worker": "invoice-worker"}

errors: list[str] = []


def fail(message: str) -> None:
    errors.append(message)


# --- The Dockerfile ---------------------------------------------------------------------------


def dockerfile_stages() -> dict[str, dict]:
    """Stage name => {"base": FROM image or stage, "instructions": [(KEYWORD, arguments)]}."""
    text = DOCKERFILE.read_text()
    # Join continuation lines; drop comments and parser directives.
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or not stripped:
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    stages: dict[str, dict] = {}
    current = None
    for line in lines:
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", arguments.strip(), re.I)
            if not match:
                fail(f"Dockerfile: cannot read FROM {arguments}")
                continue
            name = match.group(2) or f"stage{len(stages)}"
            current = stages[name] = {"base": match.group(1), "instructions": []}
        elif current is not None:
            current["instructions"].append((keyword, arguments.strip()))
    return stages


def chain(stages: dict[str, dict], name: str) -> list[str]:
    """The stage and the stages it builds on, nearest first."""
    names = [name]
    while stages[names[-1]]["base"] in stages:
        names.append(stages[names[-1]]["base"])
    return names


def effective(stages: dict[str, dict], name: str, keyword: str) -> str | None:
    """The last `keyword` instruction in effect in stage `name` (inherited from its bases)."""
    for stage in chain(stages, name):
        found = [args for kw, args in stages[stage]["instructions"] if kw == keyword]
        if found:
            return found[-1]
    return None


def check_dockerfile() -> dict[str, dict]:
    stages = dockerfile_stages()
    compute = COMPUTE_MAIN.read_text()
    user = re.search(r'\buser\s*=\s*"(\d+:\d+)"', compute)
    if not user:
        fail(f"{COMPUTE_MAIN.relative_to(ROOT)}: no `user = \"uid:gid\"` in container_hardening")
    web_dist = re.search(r'variable\s+"web_dist"\s*\{[^}]*default\s*=\s*"([^"]+)"', COMPUTE_VARIABLES.read_text())
    build_stages = {name for name, stage in stages.items() if re.match(r"(rust|node)[:@]", stage["base"])}
    for target, binary in FINAL.items():
        if target not in stages:
            fail(f"Dockerfile: no final stage `{target}`")
            continue
        lineage = chain(stages, target)
        if set(lineage) & build_stages:
            fail(f"Dockerfile: {target} builds on a build stage ({' <- '.join(lineage)}); ship only the runtime")
        installs = [
            args for stage in lineage for kw, args in stages[stage]["instructions"]
            if kw == "RUN" and "apt-get install" in args
        ]
        for args in installs:
            packages = [w for w in args.split("apt-get install", 1)[1].split("&&")[0].split() if not w.startswith("-")]
            if packages != ["ca-certificates"]:
                fail(f"Dockerfile: {target} installs {packages}; the runtime needs ca-certificates only")
        stage_user = effective(stages, target, "USER")
        if stage_user is None or stage_user.split(":")[0] in {"0", "root"}:
            fail(f"Dockerfile: {target} runs as root (USER {stage_user})")
        elif user and stage_user != user.group(1):
            fail(f"Dockerfile: {target} runs as USER {stage_user}, the task definitions as {user.group(1)}")
        health = effective(stages, target, "HEALTHCHECK")
        if not health or health.upper().startswith("NONE"):
            fail(f"Dockerfile: {target} has no HEALTHCHECK")
        if (effective(stages, target, "STOPSIGNAL") or "").upper() != "SIGTERM":
            fail(f"Dockerfile: {target} does not declare STOPSIGNAL SIGTERM")
        entrypoint = effective(stages, target, "ENTRYPOINT")
        try:
            argv = json.loads(entrypoint or "")
        except json.JSONDecodeError:
            argv = None
        if not isinstance(argv, list):
            fail(f"Dockerfile: {target}'s ENTRYPOINT is not exec form (a JSON array): {entrypoint}")
        elif not argv or pathlib.PurePosixPath(argv[0]).name != binary:
            fail(f"Dockerfile: {target}'s ENTRYPOINT should be its binary {binary}, not {argv}")
    if "api" in stages:
        env = " ".join(args for stage in chain(stages, "api") for kw, args in stages[stage]["instructions"] if kw == "ENV")
        want = web_dist.group(1) if web_dist else "/app/web"
        if f"WEB_DIST={want}" not in env:
            fail(f"Dockerfile: the api stage does not set WEB_DIST={want} (the compute module's web_dist)")
        copies = [args for kw, args in stages["api"]["instructions"] if kw == "COPY" and "--from=" in args]
        if not any(args.split()[-1].rstrip("/") == want and "dist" in args for args in copies):
            fail(f"Dockerfile: the api stage does not copy the built web app to {want}")
    return stages


def check_api_healthcheck(stages: dict[str, dict]) -> None:
    """Runs the API's HEALTHCHECK command with bash, as the container would, against a server
    answering /health 200, then against a port nobody listens on."""
    health = effective(stages, "api", "HEALTHCHECK") or ""
    match = re.search(r"\bCMD\s+(\[.*\])\s*$", health)
    if not match:
        fail("Dockerfile: the api HEALTHCHECK is not an exec-form CMD")
        return
    argv = json.loads(match.group(1))

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            # The status line is all the check reads; it hangs up after it.
            self.send_response(200 if self.path == "/health" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        up = subprocess.run(argv, env={"API_ADDR": f"0.0.0.0:{port}", "PATH": "/usr/bin:/bin"},
                            capture_output=True, timeout=10)
        if up.returncode != 0:
            fail(f"Dockerfile: the api HEALTHCHECK fails against a healthy /health: {up.stderr.decode().strip()}")
    finally:
        server.shutdown()
        server.server_close()
    down = subprocess.run(argv, env={"API_ADDR": f"0.0.0.0:{port}", "PATH": "/usr/bin:/bin"},
                          capture_output=True, timeout=10)
    if down.returncode == 0:
        fail("Dockerfile: the api HEALTHCHECK passes with nothing listening")


# --- compose.yaml -------------------------------------------------------------------------------


def needed_variables(crate: str) -> set[str]:
    """What check_terraform_wiring requires of a task definition, from the same extraction:
    every variable the crate's sources read, less the development-only ones and the Temporal
    SDK's optional TEMPORAL_* (those with a clap flag, such as TEMPORAL_ADDRESS, stay)."""
    read = wiring.variables_read(wiring.crate_dirs(crate))
    needed = {n for n in read if n not in wiring.DEVELOPMENT_ONLY and not n.startswith("TEMPORAL_")}
    needed |= {
        n for n in read if n.startswith("TEMPORAL_")
        and any(re.search(rf'env\s*=\s*"{n}"', (ROOT / f).read_text()) for f in read[n])
    }
    return needed


def check_compose() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose.get("services", {})
    raw = COMPOSE.read_text()
    absent = [name for name in ["postgres", "temporal", "temporal-ui", "temporal-search-attributes",
                                "migrate", "api", "worker", "mailpit"] if name not in services]
    if absent:
        fail(f"compose.yaml: no service {' '.join(absent)}")
        return
    for service, crate in wiring.BINARIES.items():
        environment = services[service].get("environment", {})
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        missing = sorted(needed_variables(crate) - set(environment))
        if missing:
            fail(f"compose.yaml: {service} does not set {' '.join(missing)} (read by the binary; see scripts/check_terraform_wiring.py)")
        # The header's promise: development (production refuses Mailpit's plain SMTP and this
        # Postgres without TLS), and never the test checkout by default.
        if environment.get("APP_ENV") != "development":
            fail(f"compose.yaml: {service} has APP_ENV={environment.get('APP_ENV')}; the stack is development (see its header)")
        if re.search(r"\btest\b", str(environment.get("PAYMENT_PROVIDER", ""))):
            fail(f"compose.yaml: {service} defaults PAYMENT_PROVIDER to the test checkout")
    # Secrets come from .env, with no default that could ship.
    for secret in ["JWT_SECRET", "POSTGRES_PASSWORD"]:
        for use in re.findall(rf"\$\{{{secret}([^}}]*)\}}", raw):
            if not use.startswith(":?"):
                fail(f"compose.yaml: ${{{secret}{use}}} has a default; require it from .env with :?")
    if "dev-only-" in raw:
        fail("compose.yaml: contains a `dev-only-` secret, which make dev generates and production refuses")
    if services["migrate"].get("command") != ["migrate"]:
        fail("compose.yaml: the migrate service does not run `invoice-api migrate`")
    for service in ["api", "worker"]:
        depends = services[service].get("depends_on", {})
        for job in ["migrate", "temporal-search-attributes"]:
            if not isinstance(depends, dict) or depends.get(job, {}).get("condition") != "service_completed_successfully":
                fail(f"compose.yaml: {service} does not wait for {job} to complete successfully")
    volumes = " ".join(services["temporal-search-attributes"].get("volumes", []))
    if "temporal/search-attributes.txt" not in volumes:
        fail("compose.yaml: the search-attribute job does not read temporal/search-attributes.txt")
    worker_env = services["worker"]["environment"]
    if "mailpit" not in str(worker_env.get("SMTP_URL", "")) or worker_env.get("EMAIL_BACKEND") != "smtp":
        fail("compose.yaml: the worker does not send its email to Mailpit by default")


def main() -> int:
    stages = check_dockerfile()
    if "api" in stages:
        check_api_healthcheck(stages)
    check_compose()
    for error in errors:
        print(f"  {error}", file=sys.stderr)
    if errors:
        return 1
    print("the Dockerfile's api and worker targets and compose.yaml are as the deployment expects", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
