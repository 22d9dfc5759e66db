#!/usr/bin/env bash
# `make sqlx-prepare`: regenerates .sqlx/ (the offline query cache the build reads) with
# `cargo sqlx prepare` against a scratch database migrated from migrations/, so compile-time
# checked queries build without a database. `make test` checks it is current.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
sqlx_prepare
say ".sqlx/ holds $(ls .sqlx | wc -l) queries"
