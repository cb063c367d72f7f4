use serde_json::{Value, json};

use weir_sdk::Failure;

use super::*;
use crate::report::{CHANGES, LAST_CHANGED, SECTION_HEADER, USERS};

/// 2026-11-23T18:54:42.123Z
const AT: i64 = 1_795_460_082_123;

fn row(id: u64, name: &str, balance: &str, updated_at: i64) -> Value {
    json!({"id": id, "name": name, "balance": balance, "created_at": AT, "updated_at": updated_at})
}

fn envelope(seq: u64, op: &str, before: Value, after: Value) -> Option<String> {
    Some(
        json!({"before": before, "after": after, "op": op, "ts_ms": AT,
            "source": {"connector": "weir", "db": "appdb", "table": "users", "seq": seq,
                "snapshot": op == "r"}})
        .to_string(),
    )
}

/// One output row: section, key, value.
type Line = (String, Option<String>, Value);

fn lines(batch: &FlatBatch, timestamp_ms: i64) -> Vec<Line> {
    batch
        .records()
        .expect("layout")
        .iter()
        .map(|r| {
            assert_eq!(r.timestamp_ms, timestamp_ms);
            let section = String::from_utf8_lossy(r.header(SECTION_HEADER).expect("section"));
            let key = r.key.map(|k| String::from_utf8_lossy(k).into_owned());
            let value = serde_json::from_slice(r.value.expect("value")).expect("json");
            (section.into_owned(), key, value)
        })
        .collect()
}

fn update(t: &mut CdcTable, values: &[Option<String>]) -> (Vec<Line>, Vec<Failure>) {
    let mut batch = FlatBatch::default();
    for v in values {
        batch.push(Some(b"{}"), v.as_deref().map(str::as_bytes), &[], AT);
    }
    let mut out = Outcome::default();
    t.update(&batch.records().expect("layout"), &mut out)
        .expect("update");
    (lines(&out.output, AT), out.failures)
}

fn tick(t: &mut CdcTable, now_ms: i64) -> Vec<Line> {
    let mut out = FlatBatch::default();
    t.tick(now_ms, now_ms, &mut out).expect("tick");
    lines(&out, now_ms)
}

fn table(config: &str) -> CdcTable {
    CdcTable::init(config).expect("init")
}

fn ada() -> Value {
    row(1, "Ada Lovelace", "1200.00", AT)
}

#[test]
fn changes_are_shown_as_they_apply() {
    let mut t = table("{}");
    let (shown, failures) = update(
        &mut t,
        &[
            envelope(1, "r", Value::Null, ada()),
            envelope(2, "c", Value::Null, row(2, "Grace Hopper", "75.00", AT)),
            envelope(3, "u", ada(), row(1, "Ada King", "1150.25", AT + 5)),
            envelope(4, "d", row(2, "Grace Hopper", "75.00", AT), Value::Null),
            None,
        ],
    );
    assert!(failures.is_empty(), "{failures:?}");
    let expected = [
        (1, "r", 1, "snapshot Ada Lovelace, balance 1,200.00"),
        (2, "c", 2, "created Grace Hopper, balance 75.00"),
        (
            3,
            "u",
            1,
            "name Ada Lovelace → Ada King; balance 1,200.00 → 1,150.25",
        ),
        (4, "d", 2, "deleted (balance 75.00)"),
    ];
    assert_eq!(shown.len(), expected.len(), "the tombstone shows nothing");
    for ((section, key, value), (seq, op, id, change)) in shown.iter().zip(expected) {
        assert_eq!(section, CHANGES);
        assert_eq!(key.as_deref(), Some(id.to_string().as_str()));
        assert_eq!(
            *value,
            json!({"seq": seq, "op": op, "id": id, "change": change})
        );
    }
}

#[test]
fn a_tick_reports_the_table_and_the_last_changed_rows() {
    let mut t = table(r#"{"last_rows":2}"#);
    update(
        &mut t,
        &[
            envelope(1, "c", Value::Null, ada()),
            envelope(2, "c", Value::Null, row(2, "Grace Hopper", "11000.50", AT)),
            envelope(3, "c", Value::Null, row(3, "Alan Turing", "0.01", AT)),
            envelope(4, "d", row(2, "Grace Hopper", "11000.50", AT), Value::Null),
        ],
    );
    let report = tick(&mut t, AT + 60_000);
    let sections: Vec<&str> = report.iter().map(|l| l.0.as_str()).collect();
    assert_eq!(sections, [USERS, LAST_CHANGED, LAST_CHANGED]);
    assert_eq!(report[0].1, None);
    assert_eq!(
        report[0].2,
        json!({"rows": 2, "total_balance": "1,200.01", "changes": 4, "creates": 3,
            "updates": 0, "deletes": 1, "snapshots": 0})
    );
    assert_eq!(report[1].1.as_deref(), Some("2"));
    assert_eq!(
        report[1].2,
        json!({"id": 2, "name": "Grace Hopper", "balance": "11,000.50",
            "updated_at": "2026-11-23T18:54:42.123Z", "last_op": "d"})
    );
    assert_eq!(report[2].2["id"], 3);

    assert!(
        tick(&mut t, AT + 120_000).is_empty(),
        "nothing new, nothing shown"
    );
    update(
        &mut t,
        &[envelope(
            5,
            "u",
            ada(),
            row(1, "Ada Lovelace", "1000.00", AT + 1),
        )],
    );
    let report = tick(&mut t, AT + 180_000);
    assert_eq!(report[0].2["changes"], 1);
    assert_eq!(report[0].2["updates"], 1);
    assert_eq!(report[0].2["total_balance"], "1,000.01");
    assert_eq!(report[1].2["id"], 1);
    assert_eq!(report[1].2["last_op"], "u");
}

#[test]
fn report_columns_keep_their_order() {
    let mut t = table("{}");
    update(&mut t, &[envelope(1, "c", Value::Null, ada())]);
    let mut out = FlatBatch::default();
    t.tick(AT, AT, &mut out).expect("tick");
    let records = out.records().expect("layout");
    let text = |i: usize| String::from_utf8_lossy(records[i].value.expect("value")).into_owned();
    assert_eq!(
        text(0),
        r#"{"rows":1,"total_balance":"1,200.00","changes":1,"creates":1,"updates":0,"deletes":0,"snapshots":0}"#
    );
    assert_eq!(
        text(1),
        r#"{"id":1,"name":"Ada Lovelace","balance":"1,200.00","updated_at":"2026-11-23T18:54:42.123Z","last_op":"c"}"#
    );
}

#[test]
fn orphans_and_duplicates_are_failed() {
    let mut t = table("{}");
    let (shown, failures) = update(
        &mut t,
        &[
            envelope(1, "u", ada(), ada()),
            envelope(2, "c", Value::Null, ada()),
            envelope(3, "c", Value::Null, row(1, "Ada King", "5.00", AT)),
            envelope(4, "d", row(9, "X Y", "1.00", AT), Value::Null),
            Some("{\"op\":\"z\"}".into()),
        ],
    );
    assert_eq!(shown.len(), 1);
    let texts: Vec<(u32, String)> = failures.iter().map(|f| (f.index, f.text())).collect();
    let reasons: Vec<(u32, &str)> = texts.iter().map(|(i, t)| (*i, t.as_str())).collect();
    assert_eq!(
        reasons,
        [
            (
                0,
                "orphan_change: update of id 1, which the table does not hold; not applied"
            ),
            (
                2,
                "duplicate_create: create of id 1, which the table already holds (Ada Lovelace, \
                 balance 1,200.00); applied as an upsert"
            ),
            (
                3,
                "orphan_change: delete of id 9, which the table does not hold; not applied"
            ),
            (
                4,
                "missing_field,unknown_op: required field source is missing; op \"z\" is not \
                 one of c, u, d, r"
            ),
        ]
    );
    let rows: Vec<&Row> = t.rows().collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].name, "Ada King");
    let report = tick(&mut t, AT);
    assert_eq!(
        report[0].2["creates"], 2,
        "the upsert counts, the orphans do not"
    );
    assert_eq!(report[0].2["changes"], 2);
}

#[test]
fn the_state_survives_a_restart() {
    let mut t = table(r#"{"last_rows":3}"#);
    update(
        &mut t,
        &[
            envelope(1, "c", Value::Null, ada()),
            envelope(2, "c", Value::Null, row(2, "Grace Hopper", "75.00", AT)),
        ],
    );
    let mut again = table(r#"{"last_rows":3}"#);
    again.restore(&t.snapshot()).expect("restore");
    assert_eq!(again.snapshot(), t.snapshot());
    assert_eq!(tick(&mut again, AT), tick(&mut t, AT));
    again.restore(&[]).expect("fresh");
    assert_eq!(again.rows().count(), 0);
    let err = again.restore(b"{}").expect_err("garbage");
    assert!(
        err.starts_with("cdc-table snapshot: not a cdc-table snapshot"),
        "{err}"
    );
}

/// Not a check but a measurement, in release:
/// `cargo test --release -p cdc-table -- --ignored --nocapture`
/// prints what one envelope costs in `change::parse` and in `update`.
#[test]
#[ignore]
fn per_record_cost() {
    let u = envelope(
        2,
        "u",
        row(1, "Claude McCarthy", "1623.64", AT),
        row(1, "Claude McCarthy", "1924.96", AT),
    )
    .expect("envelope");
    let parse = weir_sdk::testing::ns_per_call(1, || {
        std::hint::black_box(change::parse(Some(std::hint::black_box(u.as_bytes()))))
            .expect("valid");
    });
    // Create, update and delete each id, so every round applies cleanly.
    let mut batch = FlatBatch::default();
    for id in 0..300 {
        let r = |balance: &str| row(id, "Claude McCarthy", balance, AT);
        for v in [
            envelope(3 * id, "c", Value::Null, r("1623.64")),
            envelope(3 * id + 1, "u", r("1623.64"), r("1924.96")),
            envelope(3 * id + 2, "d", r("1924.96"), Value::Null),
        ] {
            batch.push(Some(b"{}"), v.as_deref().map(str::as_bytes), &[], AT);
        }
    }
    let records = batch.records().expect("layout");
    let mut t = table("{}");
    let update = weir_sdk::testing::ns_per_call(records.len(), || {
        let mut out = Outcome::default();
        t.update(&records, &mut out).expect("update");
        assert!(out.failures.is_empty());
    });
    println!("cdc-table: change::parse {parse:.0} ns, update {update:.0} ns per envelope");
}
