//! The Parquet sink against a real S3 API: a local moto server (`just setup`
//! installs `moto[server]` into `.venv`). Files are whole objects or absent,
//! a restart removes the objects its checkpoint does not cover, and a bucket
//! that does not exist is an I/O error the pipeline waits out, rows kept.

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use weir::record::{Batch, Record};
use weir::sinks::ParquetSink;
use weir::sinks::parquet::ParquetSinkConfig as ParquetConfig;

use crate::common::Moto;

fn config(moto: &Moto, url: &str) -> ParquetConfig {
    toml::from_str(&format!(
        r#"
path = "{url}"
partition_by = ["network_id"]
columns = [
    {{ name = "campaign_id", type = "int64", nullable = false }},
    {{ name = "network_id", type = "int64" }},
    {{ name = "views", type = "int64", nullable = false }},
]
[storage]
aws_endpoint_url = "{}"
aws_allow_http = "true"
aws_region = "us-east-1"
aws_access_key_id = "k"
aws_secret_access_key = "s"
"#,
        moto.endpoint()
    ))
    .expect("config")
}

fn rows(from: i64, n: i64) -> Batch {
    let records: Vec<Record> = (from..from + n)
        .map(|i| Record {
            key: None,
            value: Some(
                format!(
                    r#"{{"campaign_id":{i},"network_id":{},"views":{}}}"#,
                    i % 2,
                    i * 10
                )
                .into_bytes(),
            ),
            headers: vec![],
            timestamp_ms: 0,
            origin: None,
        })
        .collect();
    Batch::from_records(&records)
}

/// `campaign_id`s in one object, read back with the parquet crate.
fn campaign_ids(moto: &Moto, bucket: &str, key: &str) -> Vec<i64> {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("f.parquet");
    moto.boto(&format!(
        "s3.download_file('{bucket}', '{key}', '{}')",
        file.display()
    ));
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).expect("file"))
            .expect("parquet")
            .build()
            .expect("reader");
    let mut ids = Vec::new();
    for batch in reader {
        let batch = batch.expect("batch");
        let col = batch
            .column_by_name("campaign_id")
            .expect("column")
            .as_any()
            .downcast_ref::<arrow_array::Int64Array>()
            .expect("int64")
            .clone();
        ids.extend(col.iter().flatten());
    }
    ids
}

#[test]
fn objects_are_whole_and_a_restart_removes_what_its_checkpoint_does_not_cover() {
    let moto = Moto::start();
    moto.boto("s3.create_bucket(Bucket='lake')");
    let cfg = config(&moto, "s3://lake/views");

    let mut sink = ParquetSink::new(&cfg, "c").expect("sink");
    assert!(sink.write(&rows(0, 4)).is_empty());
    let first = sink.flush(1).expect("checkpoint 1");
    assert_eq!(first.len(), 2, "{first:?}");
    let run = sink.state();
    // Two more checkpoints' files, then the host dies before checkpoint 2
    // is saved: the restart finds checkpoint 1.
    assert!(sink.write(&rows(4, 4)).is_empty());
    sink.flush(2).expect("files of checkpoint 2");
    assert!(sink.write(&rows(8, 2)).is_empty());
    sink.flush(3).expect("files of checkpoint 3");
    assert_eq!(moto.keys("lake").len(), 6);

    let mut restarted = ParquetSink::new(&cfg, "c").expect("sink");
    let done = restarted.recover(Some(&run), 1).expect("recover");
    assert_eq!(done.uncommitted, 4, "{done:?}");
    let keys = moto.keys("lake");
    assert_eq!(keys.len(), 2, "{keys:?}");
    let run = String::from_utf8(run).expect("run id");
    for key in &keys {
        assert!(key.starts_with("views/network_id="), "{key}");
        assert!(key.contains(&format!("/c-{run}-0000000001-")), "{key}");
        assert!(!key.contains(".tmp"), "{key}");
    }
    let mut ids: Vec<i64> = keys
        .iter()
        .flat_map(|k| campaign_ids(&moto, "lake", k))
        .collect();
    ids.sort();
    assert_eq!(ids, vec![0, 1, 2, 3]);

    // The restored run writes on from the checkpoint, under its own names.
    assert!(restarted.write(&rows(4, 6)).is_empty());
    restarted.flush(2).expect("checkpoint 2 again");
    assert_eq!(moto.keys("lake").len(), 4);
}

#[test]
fn a_missing_bucket_is_an_io_error_and_the_rows_wait_for_it() {
    let moto = Moto::start();
    let cfg = config(&moto, "s3://later/views");
    let mut sink = ParquetSink::new(&cfg, "c").expect("sink");
    // Nothing to recover in a bucket that does not exist yet.
    let done = sink.recover(None, 0).expect("recover");
    assert_eq!(done.uncommitted + done.temporary, 0);
    assert!(sink.write(&rows(0, 3)).is_empty());
    let err = sink.flush(1).expect_err("no bucket");
    let text = err.to_string();
    assert!(err.is_io(), "{text}");
    assert!(text.contains("NoSuchBucket"), "{text}");
    assert!(text.contains("s3://later/views/network_id="), "{text}");
    assert!(
        !text.contains("aws_secret") && !text.contains("<Error>"),
        "{text}"
    );

    moto.boto("s3.create_bucket(Bucket='later')");
    sink.flush(1).expect("the bucket exists now");
    let keys = moto.keys("later");
    let mut ids: Vec<i64> = keys
        .iter()
        .flat_map(|k| campaign_ids(&moto, "later", k))
        .collect();
    ids.sort();
    assert_eq!(ids, vec![0, 1, 2], "{keys:?}");
}
