//! The conformance runner against real components: a flipped expected byte is
//! caught and explained, and `weir record` captures a topic into a case that the
//! runner reads back unchanged.

use std::path::Path;
use std::time::Duration;

use weir::conformance::{Case, Verdict, check_case, record_topic};

use crate::common::*;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

#[test]
fn a_flipped_expected_byte_fails_naming_the_record_and_field() {
    let component = plugin("test-misbehave");
    let dir = tempfile::tempdir().expect("tempdir");
    let case_dir = dir.path().join("pass-fail-drop");
    copy_dir(
        &repo_root().join("plugins/test-misbehave/fixtures/pass-fail-drop"),
        &case_dir,
    );
    let rt = runtime();
    let case = Case::load("test-misbehave", &case_dir).expect("case loads");
    assert_eq!(
        check_case(&rt, &component, &case, false).expect("runs"),
        Verdict::Passed
    );

    let expected = case_dir.join("expected/output.jsonl");
    let text = std::fs::read_to_string(&expected).expect("expected");
    std::fs::write(&expected, text.replacen("\"n\":1", "\"n\":2", 1)).expect("flip");
    let Verdict::Failed(why) = check_case(&rt, &component, &case, false).expect("runs") else {
        panic!("a changed expectation must fail");
    };
    assert_eq!(why, "output.jsonl line 1: value.n: expected 2, got 1");

    // --bless puts it right again.
    assert_eq!(
        check_case(&rt, &component, &case, true).expect("runs"),
        Verdict::Blessed
    );
    assert_eq!(std::fs::read_to_string(&expected).expect("expected"), text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_captures_a_topic_into_a_case() {
    let broker = broker().await;
    let (_dir, loaded) = connector(
        r#"
[source.generator]
plugin = "purchases-gen"
rate_per_sec = 0
[source.generator.config]
seed = 3
invalid_ratio = 0.3
[sink.kafka]
topic = "recorded"
partitions = 1
"#,
    );
    run_connector(&loaded, &broker.bootstrap(), 40, None).await;
    let out = tempfile::tempdir().expect("tempdir");
    let case_dir = out.path().join("from-topic");
    let n = record_topic(
        &broker.bootstrap(),
        "recorded",
        25,
        Duration::from_secs(5),
        &case_dir,
    )
    .await
    .expect("records");
    assert_eq!(n, 25);

    let original = consume(&broker.bootstrap(), "recorded", 25, Duration::from_secs(5)).await;
    let case = Case::load("any", &case_dir).expect("the recorded case loads");
    assert_eq!(case.input.len(), 25);
    for (seen, rec) in original.iter().zip(&case.input) {
        assert_eq!(seen.key, rec.key);
        assert_eq!(seen.value, rec.value, "values come back byte for byte");
        let headers: Vec<(String, String)> = rec
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect();
        assert_eq!(seen.headers, headers);
    }
}
