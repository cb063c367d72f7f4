use weir_sdk::FlatBatch;

use super::*;

const AT: i64 = 1_795_460_082_123;

fn event(id: &str) -> String {
    format!(
        r#"{{"event_id":"{id}","timestamp":"2026-11-23T18:54:42.123Z","customer_id":"CUST-000001","product_category":"Books","quantity":1,"unit_price":9.99,"total_amount":9.99,"currency":"USD"}}"#
    )
}

fn run(v: &mut PurchasesValidate, batch: &FlatBatch) -> Outcome {
    let records = batch.records().expect("layout");
    let mut out = Outcome::default();
    v.process(&records, &mut out).expect("process");
    out
}

fn batch(ids: &[&str], at: i64) -> FlatBatch {
    let mut b = FlatBatch::default();
    for id in ids {
        b.push(
            Some(b"CUST-000001"),
            Some(event(id).as_bytes()),
            &[("h", b"1")],
            at,
        );
    }
    b
}

#[test]
fn valid_records_pass_unchanged() {
    let mut v = PurchasesValidate::init("{}").expect("init");
    let input = batch(&["a", "b"], AT);
    let out = run(&mut v, &input);
    assert!(out.output.is_empty(), "nothing is copied back");
    assert_eq!(out.passed, [0, 1]);
    assert!(out.failures.is_empty());
}

#[test]
fn failures_name_their_input() {
    let mut v = PurchasesValidate::init("{}").expect("init");
    let mut input = batch(&["a"], AT);
    input.push(Some(b"k"), Some(b"{oops"), &[], AT);
    input.push(Some(b"k"), None, &[], AT);
    let out = run(&mut v, &input);
    assert_eq!(out.passed, [0]);
    assert_eq!(out.failures.len(), 2);
    assert_eq!(out.failures[0].index, 1);
    assert_eq!(out.failures[0].codes, ["malformed_json"]);
    assert!(
        out.failures[0]
            .text()
            .starts_with("malformed_json: value is not valid JSON")
    );
    assert_eq!(
        (out.failures[1].index, out.failures[1].text()),
        (
            2,
            "malformed_json: record has no value (a tombstone)".into()
        )
    );
}

#[test]
fn the_first_occurrence_passes_later_ones_fail() {
    let mut v = PurchasesValidate::init("{}").expect("init");
    let out = run(&mut v, &batch(&["a", "a", "b"], AT));
    assert_eq!(out.passed, [0, 2]);
    let failures: Vec<_> = out.failures.iter().map(|f| (f.index, f.text())).collect();
    assert_eq!(
        failures,
        [(
            1,
            "duplicate_event_id: event_id a was already seen".to_string()
        )]
    );
    let later = run(&mut v, &batch(&["a"], AT + 3_600_000));
    assert_eq!(later.failures.len(), 1, "still within the hour");
    let much_later = run(&mut v, &batch(&["a"], AT + 3_600_001 + 604_800_000 / 2));
    assert!(
        much_later
            .failures
            .iter()
            .all(|f| !f.codes.iter().any(|c| c == "duplicate_event_id")),
        "{:?}",
        much_later.failures
    );
}

#[test]
fn only_valid_events_are_remembered() {
    let mut v = PurchasesValidate::init("{}").expect("init");
    let mut input = FlatBatch::default();
    let broken = event("x").replace("\"USD\"", "\"BTC\"");
    input.push(None, Some(broken.as_bytes()), &[], AT);
    input.push(None, Some(event("x").as_bytes()), &[], AT);
    input.push(None, Some(broken.as_bytes()), &[], AT);
    let out = run(&mut v, &input);
    assert_eq!(out.passed, [1]);
    assert_eq!(out.failures[0].codes, ["currency_allowed"]);
    assert_eq!(
        out.failures[1].codes,
        ["currency_allowed", "duplicate_event_id"]
    );
}

#[test]
fn the_memory_cap_evicts_the_oldest_ids() {
    let mut v = PurchasesValidate::init(r#"{"dedup_max_ids":2}"#).expect("init");
    run(&mut v, &batch(&["a", "b", "c"], AT));
    let out = run(&mut v, &batch(&["a", "c"], AT));
    assert_eq!(out.passed, [0], "a was evicted, c is remembered");
}

#[test]
fn snapshot_and_restore_continue_the_memory() {
    let ids: Vec<String> = (0..100).map(|i| format!("id-{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut uninterrupted = PurchasesValidate::init("{}").expect("init");
    run(&mut uninterrupted, &batch(&ids[..60], AT));
    let expected = run(&mut uninterrupted, &batch(&ids[40..], AT));

    let mut first = PurchasesValidate::init("{}").expect("init");
    run(&mut first, &batch(&ids[..60], AT));
    let state = first.snapshot();
    let mut second = PurchasesValidate::init("{}").expect("init");
    second.restore(&state).expect("restore");
    assert_eq!(second.snapshot(), state);
    assert_eq!(run(&mut second, &batch(&ids[40..], AT)), expected);
    assert_eq!(expected.failures.len(), 20);

    let err = second.restore(b"garbage!").expect_err("garbage");
    assert!(err.starts_with("purchases-validate snapshot:"), "{err}");
}

#[test]
fn init_refuses_bad_config() {
    let err = PurchasesValidate::init(r#"{"tolerance_cent":1}"#)
        .err()
        .expect("refused");
    assert!(err.contains("unknown field `tolerance_cent`"), "{err}");
}
