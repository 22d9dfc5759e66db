#!/usr/bin/env bash
# Checks terraform/ without Terraform or its providers (neither can be downloaded here, so
# `terraform validate` cannot run): every .tf and .tfvars.example file must parse
# (python-hcl2), checkov's terraform checks must all pass (a skip only inline, as
# `#checkov:skip=CKV_...:reason` beside the resource), and the task definitions must set every
# environment variable the binaries read in production (scripts/check_terraform_wiring.py).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_terraform_venv
PY="$TERRAFORM_VENV/bin/python"

say "parsing terraform/ with python-hcl2 $PYTHON_HCL2_VERSION"
PYTHONPATH="$TERRAFORM_HCL2_LIB" "$PY" - <<'PY' || die "terraform/ does not parse (above)."
import pathlib, sys
import hcl2

files = sorted(p for p in pathlib.Path("terraform").rglob("*")
               if p.is_file() and (p.suffix == ".tf" or p.name.endswith(".tfvars.example")))
if not files:
    sys.exit("no Terraform files under terraform/")
failed = 0
for path in files:
    try:
        with path.open() as f:
            hcl2.load(f)
    except Exception as error:  # the parser raises several lark and hcl2 exception types
        failed += 1
        print(f"{path}: {error}", file=sys.stderr)
print(f"{len(files)} files parsed, {failed} failed", file=sys.stderr)
sys.exit(1 if failed else 0)
PY

say "checkov $CHECKOV_VERSION over terraform/"
# --compact: failures without the code blocks; --quiet: failed checks only. Skips are inline
# only (the checkov:skip comments), never here. No network: no Prisma Cloud key, no version
# check, no download of external checks.
BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false \
  "$TERRAFORM_VENV/bin/checkov" --directory terraform --framework terraform \
  --quiet --compact --skip-download 2>&1 \
  || die "checkov found failed checks (above): fix them, or skip one inline with #checkov:skip=CKV_...:<why> beside the resource."

say "checking the task definitions' environment against the Rust sources"
PYTHONPATH="$TERRAFORM_HCL2_LIB" "$PY" scripts/check_terraform_wiring.py \
  || die "the task definitions and the binaries' environment variables disagree (above)."
