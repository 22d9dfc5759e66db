//! The dependency direction of shared/STYLE.md: the workflows crate (and the domain crate it
//! uses) stay deterministic, so they may not pull in a runtime, a database driver, an HTTP
//! client or an AWS SDK of their own.

use std::process::Command;

/// The lines of `cargo tree` for a workspace crate, with `args`.
fn cargo_tree(package: &str, args: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--offline", "--prefix", "none", "-p", package])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect()
}

/// The crates of `cargo tree`'s normal dependencies with `args`, the crate itself left out.
fn dependencies(package: &str, args: &[&str]) -> Vec<String> {
    let args = [&["-e", "normal"][..], args].concat();
    cargo_tree(package, &args)
        .iter()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// Direct normal dependencies of a workspace crate.
fn direct_dependencies(package: &str) -> Vec<String> {
    dependencies(package, &["--depth", "1"])
}

/// Every crate in the normal dependency graph of a workspace crate.
fn all_dependencies(package: &str) -> Vec<String> {
    dependencies(package, &["--no-dedupe"])
}

const FORBIDDEN_DIRECT: &[&str] = &[
    "tokio",
    "sqlx",
    "reqwest",
    "hyper",
    "axum",
    "tonic",
    "lettre",
    "temporalio-client",
    "temporalio-sdk",
];
const FORBIDDEN_ANYWHERE: &[&str] = &[
    "sqlx",
    "reqwest",
    "axum",
    "lettre",
    "aws-config",
    "aws-sdk-s3",
    "aws-sdk-sesv2",
    "async-stripe",
];

#[test]
fn workflows_and_domain_stay_free_of_io() {
    for package in ["invoice-workflows", "invoice-domain"] {
        let direct = direct_dependencies(package);
        assert!(
            !direct.is_empty() || package == "invoice-domain",
            "{package}: cargo tree listed nothing"
        );
        for dep in &direct {
            assert!(
                !FORBIDDEN_DIRECT.contains(&dep.as_str()),
                "{package} depends directly on {dep}"
            );
        }
        for dep in all_dependencies(package) {
            assert!(
                !FORBIDDEN_ANYWHERE.contains(&dep.as_str()) && !dep.starts_with("aws-"),
                "{package} pulls in {dep}"
            );
        }
    }
    // The domain crate is pure: no async runtime even indirectly.
    assert!(!all_dependencies("invoice-domain").iter().any(|d| d == "tokio"));
}

#[test]
fn api_never_depends_on_activities_or_worker() {
    for dep in all_dependencies("invoice-api") {
        assert!(
            !["invoice-activities", "invoice-worker", "temporalio-sdk"].contains(&dep.as_str()),
            "invoice-api depends on {dep}"
        );
    }
}

/// The features a production build of a binary compiles a workspace crate with, from
/// `cargo tree -e features` (normal dependencies only: what `cargo build -p <binary>` builds).
fn production_features(binary: &str, of: &str) -> Vec<String> {
    let tree = cargo_tree(binary, &["-e", "features,normal"]);
    // The format this reads: a change to it must fail here, not pass with nothing read.
    assert!(
        tree.iter().any(|l| l.starts_with("invoice-domain feature \"default\"")),
        "cargo tree -e features lists no features any more"
    );
    let prefix = format!("{of} feature \"");
    tree.iter()
        .filter_map(|l| l.strip_prefix(&prefix)?.split('"').next().map(str::to_owned))
        .collect()
}

/// The development tools (demo data, fault injection, `PingWorkflow`) stay out of the
/// binaries' production builds: their worker registers the invoice workflow alone.
#[test]
fn production_builds_carry_no_development_tools() {
    for binary in ["invoice-api", "invoice-worker"] {
        for crate_name in [binary, "invoice-workflows", "invoice-activities"] {
            let features = production_features(binary, crate_name);
            assert!(
                !features.iter().any(|f| f == "dev-tools"),
                "a production build of {binary} compiles {crate_name} with dev-tools"
            );
        }
    }
}

/// Tokens are HS256 alone: no other signature algorithm is compiled in (jsonwebtoken's own
/// backends bring RSA, whose crate carries an unfixed advisory).
#[test]
fn the_api_compiles_no_other_signature_algorithm() {
    for dep in all_dependencies("invoice-api") {
        assert!(
            !["rsa", "p256", "p384", "ed25519-dalek", "aws-lc-rs"].contains(&dep.as_str()),
            "invoice-api pulls in {dep}"
        );
    }
}

/// The web app's API types are generated from `frontend/openapi.json`; it must be the document
/// the API serves, or the app is type-checked against a contract that no longer exists.
#[test]
fn the_web_apps_copy_of_the_openapi_document_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../frontend/openapi.json");
    let committed = std::fs::read_to_string(path).expect("frontend/openapi.json");
    let current = invoice_api::openapi::document().to_pretty_json().unwrap();
    assert!(
        committed.trim_end() == current.trim_end(),
        "frontend/openapi.json is stale: run `target/debug/invoice-api openapi > frontend/openapi.json` \
         and `npm run gen:api` in frontend/"
    );
}

/// `make dev`, `make test` and `make bench` share one build of the dependency tree only if
/// every build they run resolves features alike: a build of some targets (`--bins`) leaves the
/// tests' dev-dependencies out, gives tower, bitflags, rustix... other features and compiles
/// most of the tree again. So every `cargo build` of the scripts builds all the workspace's
/// targets.
#[test]
fn the_scripts_build_every_target_so_they_share_one_build() {
    let scripts = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts");
    let mut builds = 0;
    for entry in std::fs::read_dir(scripts).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "sh") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
            if line.contains("cargo build") {
                builds += 1;
                assert!(
                    line.contains("--workspace") && line.contains("--all-targets"),
                    "{}: `{}` builds other targets than make test does",
                    path.display(),
                    line.trim()
                );
            }
        }
    }
    assert!(builds >= 4, "found {builds} cargo builds in scripts/; the scripts have changed shape");
}

/// Migrations applied before this rule existed: already run on databases, so they cannot change
/// (sqlx checks each applied file's checksum). They ran on empty or small tables.
const MIGRATIONS_BEFORE_THE_INDEX_RULE: &[&str] = &[
    "20261126000001_create_accounts.sql",
    "20261126000002_create_customers.sql",
    "20261126000003_create_invoices.sql",
    "20261126000004_add_hosted_page_and_stripe_events.sql",
    "20261126000005_add_live_updates.sql",
    "20261127000006_add_search_indexes.sql",
    "20261130000007_announce_deleted_invoices.sql",
];

#[test]
fn migrations_build_indexes_on_existing_tables_without_blocking_writes() {
    // An index on a table that already holds rows is built CONCURRENTLY, which Postgres only
    // does outside a transaction: the file starts with sqlx's `-- no-transaction`. Indexes on a
    // table the same file creates are built while it is empty, the ordinary way.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if MIGRATIONS_BEFORE_THE_INDEX_RULE.contains(&name.as_str()) {
            continue;
        }
        let sql = std::fs::read_to_string(&path).unwrap();
        let upper = sql.to_uppercase();
        let created: Vec<String> = upper
            .split("CREATE TABLE")
            .skip(1)
            .chain(upper.split("CREATE UNLOGGED TABLE").skip(1))
            .filter_map(|rest| {
                rest.split_whitespace().next().map(|t| t.trim_matches('(').to_owned())
            })
            .collect();
        for statement in upper.split(';') {
            let Some(at) = statement.find("INDEX") else { continue };
            if !statement[..at].contains("CREATE") {
                continue;
            }
            let table = statement
                .split(" ON ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .unwrap_or_default()
                .trim_matches('(')
                .to_owned();
            if created.contains(&table) {
                continue;
            }
            assert!(
                statement.contains("CONCURRENTLY") && sql.starts_with("-- no-transaction"),
                "{name}: an index on the existing table {table} must be built CONCURRENTLY in a \
                 `-- no-transaction` migration: {statement}"
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "no migration was checked");
}
