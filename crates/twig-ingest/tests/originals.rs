//! The originals store on both backends: a local directory, and a real S3-compatible server
//! (moto, started by `scripts/services.sh`; `TWIG_TEST_S3_ENDPOINT`, by default
//! http://127.0.0.1:5000).

use twig_ingest::originals::{scratch_bucket, Originals, StorageConfig};

async fn exercise(o: &Originals) {
    o.ping().await.unwrap();
    o.put(&["org_a", "ds_1", "aa"], b"first".to_vec())
        .await
        .unwrap();
    o.put(&["org_a", "ds_1", "bb"], b"second".to_vec())
        .await
        .unwrap();
    o.put(&["org_a", "ds_2", "cc"], b"other".to_vec())
        .await
        .unwrap();
    assert_eq!(o.get(&["org_a", "ds_1", "aa"]).await.unwrap(), b"first");
    // Replaced whole.
    o.put(&["org_a", "ds_1", "aa"], b"again".to_vec())
        .await
        .unwrap();
    assert_eq!(o.get(&["org_a", "ds_1", "aa"]).await.unwrap(), b"again");
    let mut names: Vec<String> = o
        .list(&["org_a", "ds_1"])
        .await
        .unwrap()
        .into_iter()
        .map(|(n, t)| {
            assert!(t <= chrono::Utc::now() + chrono::Duration::seconds(5));
            n
        })
        .collect();
    names.sort();
    assert_eq!(names, ["aa", "bb"], "only that data source's objects");
    o.delete(&["org_a", "ds_1", "bb"]).await.unwrap();
    o.delete(&["org_a", "ds_1", "bb"]).await.unwrap(); // absent is fine
    assert!(o.get(&["org_a", "ds_1", "bb"]).await.is_err());
    o.delete_all(&["org_a", "ds_1"]).await.unwrap();
    assert!(o.list(&["org_a", "ds_1"]).await.unwrap().is_empty());
    assert_eq!(o.get(&["org_a", "ds_2", "cc"]).await.unwrap(), b"other");
}

#[tokio::test]
async fn a_local_directory_keeps_the_data_dir_layout() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    let o = Originals::open(&StorageConfig::Local, &files).unwrap();
    exercise(&o).await;
    assert_eq!(
        std::fs::read(files.join("org_a/ds_2/cc")).unwrap(),
        b"other"
    );
}

#[tokio::test]
async fn an_s3_bucket_on_a_real_s3_compatible_server() {
    let (endpoint, bucket) = scratch_bucket().await;
    let config = StorageConfig::S3 {
        bucket: bucket.clone(),
        region: "us-east-1".into(),
        endpoint: Some(endpoint.clone()),
        prefix: "twig/originals".into(),
    };
    let o = Originals::open(&config, std::path::Path::new("/nonexistent")).unwrap();
    exercise(&o).await;
    // The prefix is where they went.
    let listing = reqwest::get(format!(
        "{endpoint}/{bucket}?prefix=twig/originals/org_a/ds_2/"
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(
        listing.contains("twig/originals/org_a/ds_2/cc"),
        "{listing}"
    );
    // A bucket that does not exist fails its readiness check.
    let missing = Originals::open(
        &StorageConfig::S3 {
            bucket: "no-such-bucket-here".into(),
            region: "us-east-1".into(),
            endpoint: Some(endpoint.clone()),
            prefix: String::new(),
        },
        std::path::Path::new("/nonexistent"),
    )
    .unwrap();
    assert!(missing.ping().await.is_err());
}
