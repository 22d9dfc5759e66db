//! Object storage against real backends: S3 on the moto server that scripts/test.sh starts
//! (`MOTO_ENDPOINT`), and the local backend in a temporary directory. Every test uses its own
//! bucket or directory, so they run in parallel against one moto.

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use invoice_storage::{
    Download, ObjectKey, ObjectStore, S3Config, S3Store, StorageConfig, StorageError,
};
use uuid::Uuid;

const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n";

/// A variable scripts/test.sh exports; missing means the services were not started, which must
/// fail loudly rather than skip.
fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set. The S3 tests need the moto server that `make test` \
             (scripts/test.sh) starts. By hand: run `.venv/bin/moto_server -H 127.0.0.1 -p PORT` \
             and export MOTO_ENDPOINT=http://127.0.0.1:PORT AWS_ACCESS_KEY_ID=test \
             AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1"
        )
    })
}

/// An S3 store on a fresh bucket in moto.
async fn s3_store() -> Result<(ObjectStore, S3Store)> {
    // Checked here so a missing variable names itself instead of surfacing as a credentials error.
    required_env("AWS_ACCESS_KEY_ID");
    required_env("AWS_SECRET_ACCESS_KEY");
    let config = S3Config {
        bucket: format!("test-{}", Uuid::new_v4()),
        region: required_env("AWS_REGION"),
        endpoint_url: Some(required_env("MOTO_ENDPOINT")),
    };
    let store = ObjectStore::from_config(&StorageConfig::S3(config.clone())).await?;
    let ObjectStore::S3(s3) = &store else { bail!("expected the S3 backend") };
    let mut create = s3.client().create_bucket().bucket(s3.bucket());
    if config.region != "us-east-1" {
        let location = aws_sdk_s3::types::BucketLocationConstraint::from(config.region.as_str());
        create = create.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(location)
                .build(),
        );
    }
    create.send().await.context("creating the test bucket in moto")?;
    let s3 = s3.clone();
    Ok((store, s3))
}

async fn object_count(s3: &S3Store) -> Result<usize> {
    let listed = s3.client().list_objects_v2().bucket(s3.bucket()).send().await?;
    Ok(listed.contents().len())
}

#[tokio::test]
async fn s3_put_is_content_addressed_and_idempotent() -> Result<()> {
    let (store, s3) = s3_store().await?;
    let key = store.put_content_addressed(PDF, "application/pdf", "invoices/org-1").await?;
    let name = key.as_str().strip_prefix("invoices/org-1/").context("key keeps its prefix")?;
    ensure!(name.len() == 64 + ".pdf".len() && name.ends_with(".pdf"), "unexpected key {key}");

    ensure!(store.exists(&key).await?);
    ensure!(store.get(&key).await? == PDF);
    let head = s3.client().head_object().bucket(s3.bucket()).key(key.as_str()).send().await?;
    ensure!(head.content_type() == Some("application/pdf"), "{:?}", head.content_type());

    let again = store.put_content_addressed(PDF, "application/pdf", "invoices/org-1").await?;
    ensure!(again == key);
    ensure!(object_count(&s3).await? == 1, "a second put must not add an object");

    let other = store.put_content_addressed(b"other bytes", "application/pdf", "invoices/org-1");
    ensure!(other.await? != key);
    ensure!(object_count(&s3).await? == 2);
    Ok(())
}

#[tokio::test]
async fn s3_missing_objects_are_reported_as_such() -> Result<()> {
    let (store, _) = s3_store().await?;
    let key = ObjectKey::parse("invoices/none.pdf")?;
    ensure!(!store.exists(&key).await?);
    match store.get(&key).await {
        Err(StorageError::NotFound(missing)) => ensure!(missing == key),
        other => bail!("expected NotFound, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn s3_presigned_url_serves_the_bytes_without_credentials() -> Result<()> {
    let (store, _) = s3_store().await?;
    let key = store.put_content_addressed(PDF, "application/pdf", "invoices/org-2").await?;
    let Download::Presigned(presigned) = store.download(&key, Duration::from_secs(300)).await?
    else {
        bail!("the S3 backend hands out presigned URLs");
    };
    ensure!(presigned.url.starts_with(&required_env("MOTO_ENDPOINT")), "{}", presigned.url);
    ensure!(presigned.url.contains("X-Amz-Signature="), "{}", presigned.url);

    let response = reqwest::get(&presigned.url).await?.error_for_status()?;
    ensure!(response.bytes().await?.as_ref() == PDF);
    Ok(())
}

#[tokio::test]
async fn s3_presigning_refuses_a_ttl_over_seven_days() -> Result<()> {
    let (store, _) = s3_store().await?;
    let key = ObjectKey::parse("invoices/x.pdf")?;
    let eight_days = Duration::from_secs(8 * 24 * 3600);
    let result = store.download(&key, eight_days).await;
    ensure!(matches!(result, Err(StorageError::Presign { .. })), "{result:?}");
    Ok(())
}

#[tokio::test]
async fn local_put_get_exists_and_idempotent() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("objects");
    let store = ObjectStore::from_config(&StorageConfig::Local { dir: root.clone() }).await?;
    let key = store.put_content_addressed(PDF, "application/pdf", "invoices/org-1").await?;
    ensure!(store.exists(&key).await?);
    ensure!(store.get(&key).await? == PDF);

    let Download::File(path) = store.download(&key, Duration::from_secs(60)).await? else {
        bail!("the local backend hands out file paths");
    };
    ensure!(path.starts_with(&root) && std::fs::read(&path)? == PDF);

    ensure!(store.put_content_addressed(PDF, "application/pdf", "invoices/org-1").await? == key);
    let files: Vec<_> = std::fs::read_dir(path.parent().context("has a parent")?)?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    ensure!(files.len() == 1, "one object and no leftover temporary files: {files:?}");

    let missing = ObjectKey::parse("invoices/org-1/missing.pdf")?;
    ensure!(!store.exists(&missing).await?);
    ensure!(matches!(store.get(&missing).await, Err(StorageError::NotFound(_))));
    Ok(())
}

#[tokio::test]
async fn local_concurrent_puts_of_the_same_bytes_agree() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = ObjectStore::from_config(&StorageConfig::Local { dir: dir.path().into() }).await?;
    let puts = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store.put_content_addressed(PDF, "application/pdf", "invoices/race").await
        })
    });
    let mut keys = Vec::new();
    for put in puts {
        keys.push(put.await??);
    }
    keys.dedup();
    ensure!(keys.len() == 1, "{keys:?}");
    ensure!(store.get(&keys[0]).await? == PDF);
    let entries = std::fs::read_dir(dir.path().join("invoices/race"))?.count();
    ensure!(entries == 1, "expected one file, found {entries}");
    Ok(())
}

#[tokio::test]
async fn local_store_refuses_keys_that_escape_its_directory() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("objects");
    let store = ObjectStore::from_config(&StorageConfig::Local { dir: root.clone() }).await?;

    for prefix in ["../outside", "/tmp/absolute", "a/../../outside", "a\\..\\b", ".", ""] {
        let result = store.put_content_addressed(PDF, "application/pdf", prefix).await;
        ensure!(
            matches!(result, Err(StorageError::InvalidKey { .. })),
            "prefix {prefix:?} gave {result:?}"
        );
    }
    for key in ["../objects-sibling/x.pdf", "/etc/passwd", "a/./b", "a//b", "..", "~/x"] {
        ensure!(ObjectKey::parse(key).is_err(), "{key:?} should be refused");
    }
    // Keys also arrive inside workflow payloads; deserialising validates them the same way.
    ensure!(serde_json::from_str::<ObjectKey>("\"../../etc/passwd\"").is_err());

    let outside: Vec<_> = std::fs::read_dir(dir.path())?.collect::<Result<_, _>>()?;
    ensure!(outside.len() == 1, "nothing may be written beside the store: {outside:?}");
    Ok(())
}

#[tokio::test]
async fn s3_backend_refuses_a_missing_bucket_up_front() -> Result<()> {
    let config = S3Config { bucket: String::new(), region: "us-east-1".into(), endpoint_url: None };
    let result = ObjectStore::from_config(&StorageConfig::S3(config)).await;
    ensure!(matches!(result, Err(StorageError::Config(_))), "{result:?}");
    Ok(())
}
