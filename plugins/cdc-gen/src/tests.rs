use serde_json::Value;

use super::*;

fn plugin(config: &str) -> CdcGen {
    CdcGen::init(config).expect("init")
}

/// (key, value, timestamp) of every record of one `next_batch`.
fn batch(p: &mut CdcGen, max: u32) -> Vec<(String, Value, i64)> {
    let mut out = FlatBatch::default();
    p.next_batch(max, &mut out).expect("next_batch");
    out.records()
        .expect("layout")
        .iter()
        .map(|r| {
            let key = String::from_utf8(r.key.expect("key").to_vec()).expect("utf-8");
            let value = serde_json::from_slice(r.value.expect("value")).expect("json");
            assert!(r.headers.is_empty());
            (key, value, r.timestamp_ms)
        })
        .collect()
}

/// A record without the clock-dependent fields, to compare runs.
fn timeless(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("ts_ms");
        for part in ["row", "old"] {
            if let Some(r) = o.get_mut(part).and_then(Value::as_object_mut) {
                r.remove("created_at");
                r.remove("updated_at");
            }
        }
    }
    v
}

#[test]
fn records_have_the_raw_change_shape() {
    let mut p = plugin(r#"{"seed":1,"initial_rows":2}"#);
    let records = batch(&mut p, 200);
    assert_eq!(records.len(), 200);
    for (i, (key, v, ts)) in records.iter().enumerate() {
        assert_eq!(v["seq"], i as u64 + 1);
        assert_eq!(v["table"], "users");
        assert_eq!(v["ts_ms"], *ts);
        assert_eq!(*key, v["row"]["id"].to_string());
        let op = v["op"].as_str().expect("op");
        assert_eq!(
            v.get("old").is_some(),
            op == "UPDATE" || op == "DELETE",
            "{v}"
        );
        assert_eq!(op == "SNAPSHOT", i < 2, "{v}");
        let keys: std::collections::BTreeSet<&str> = v["row"]
            .as_object()
            .expect("row")
            .keys()
            .map(String::as_str)
            .collect();
        let expected = ["balance", "created_at", "id", "name", "updated_at"];
        assert!(keys.iter().eq(expected.iter()), "{keys:?}");
        let balance = v["row"]["balance"].as_str().expect("balance string");
        assert!(
            cdc_model::money::parse_cents(balance).is_some_and(|c| c >= 0),
            "{balance}"
        );
    }
    let ops: std::collections::BTreeSet<&str> =
        records.iter().filter_map(|r| r.1["op"].as_str()).collect();
    assert_eq!(ops.len(), 4, "{ops:?}");
}

#[test]
fn a_restart_continues_the_sequence_and_the_table() {
    let config = r#"{"seed":42,"initial_rows":3,"max_rows":20}"#;
    let mut straight = plugin(config);
    let expected: Vec<Value> = batch(&mut straight, 60)
        .iter()
        .map(|r| timeless(&r.1))
        .collect();

    let mut first = plugin(config);
    let mut got: Vec<Value> = batch(&mut first, 25)
        .iter()
        .map(|r| timeless(&r.1))
        .collect();
    let mut second = plugin(r#"{"seed":1,"initial_rows":3,"max_rows":20}"#);
    second.restore(&first.snapshot()).expect("restore");
    got.extend(batch(&mut second, 35).iter().map(|r| timeless(&r.1)));
    assert_eq!(got, expected);
    let table = |p: &CdcGen| {
        let g = p.generator();
        let rows: Vec<(u64, String, i64)> = g
            .table()
            .rows()
            .iter()
            .map(|r| (r.id, r.name.clone(), r.balance_cents))
            .collect();
        (g.seq(), g.table().next_id(), rows)
    };
    assert_eq!(table(&second), table(&straight));
}

#[test]
fn an_empty_restore_starts_afresh_and_garbage_is_refused() {
    let mut p = plugin(r#"{"seed":5}"#);
    let first: Vec<Value> = batch(&mut p, 5).iter().map(|r| timeless(&r.1)).collect();
    p.restore(&[]).expect("fresh");
    assert_eq!(p.generator().seq(), 0);
    let again: Vec<Value> = batch(&mut p, 5).iter().map(|r| timeless(&r.1)).collect();
    assert_eq!(first, again);
    let err = p.restore(b"not json").expect_err("garbage");
    assert!(
        err.starts_with("cdc-gen snapshot: not a cdc-gen snapshot"),
        "{err}"
    );
    assert_eq!(p.generator().seq(), 5, "a refused restore changes nothing");
}

#[test]
fn without_a_seed_the_stream_is_random_and_the_snapshot_keeps_it() {
    let mut a = plugin("{}");
    let mut b = plugin("{}");
    assert_ne!(a.generator().seed(), b.generator().seed());
    batch(&mut a, 10);
    b.restore(&a.snapshot()).expect("restore");
    let next_a: Vec<Value> = batch(&mut a, 10).iter().map(|r| timeless(&r.1)).collect();
    let next_b: Vec<Value> = batch(&mut b, 10).iter().map(|r| timeless(&r.1)).collect();
    assert_eq!(next_a, next_b);
}

#[test]
fn a_stalled_generator_returns_short_batches() {
    let mut p = plugin(r#"{"seed":1,"mix":{"create":1,"update":0,"delete":0},"max_rows":3}"#);
    assert_eq!(batch(&mut p, 10).len(), 3);
    assert!(batch(&mut p, 10).is_empty());
    assert!(batch(&mut p, 0).is_empty());
}
