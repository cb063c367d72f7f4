use serde_json::Value;

use super::*;
use crate::report::{BREAKDOWN, DETAILS, RUNNING, SECTION_HEADER, SUMMARY};

/// 2026-11-23T18:54:42.123Z
const AT: i64 = 1_795_460_082_123;
const HOUR: i64 = 3_600_000;

fn event(id: usize, category: &str, amount: &str, ts: &str) -> String {
    format!(
        r#"{{"event_id":"E{id}","timestamp":"{ts}","customer_id":"CUST-{id:06}","product_category":"{category}","quantity":1,"unit_price":{amount},"total_amount":{amount},"currency":"USD"}}"#
    )
}

fn update(agg: &mut PurchasesDaily, values: &[String]) -> Outcome {
    let mut batch = FlatBatch::default();
    for v in values {
        batch.push(Some(b"k"), Some(v.as_bytes()), &[], AT);
    }
    let records = batch.records().expect("layout");
    let mut out = Outcome::default();
    agg.update(&records, &mut out).expect("update");
    out
}

/// One emitted report row.
#[derive(Debug, PartialEq)]
struct Row {
    section: String,
    key: Option<String>,
    value: Value,
    /// The value as emitted, to see the column order.
    raw: String,
}

fn tick(agg: &mut PurchasesDaily, now_ms: i64) -> Vec<Row> {
    let mut out = FlatBatch::default();
    agg.tick(now_ms, now_ms, &mut out).expect("tick");
    out.records()
        .expect("layout")
        .iter()
        .map(|r| {
            assert_eq!(r.timestamp_ms, now_ms);
            let section = String::from_utf8(r.header(SECTION_HEADER).expect("section").to_vec())
                .expect("utf-8");
            let key = r.key.map(|k| String::from_utf8_lossy(k).into_owned());
            let raw = String::from_utf8_lossy(r.value.expect("value")).into_owned();
            let value = serde_json::from_str(&raw).expect("json");
            Row {
                section,
                key,
                value,
                raw,
            }
        })
        .collect()
}

fn rows<'a>(report: &'a [Row], section: &str) -> Vec<&'a Value> {
    report
        .iter()
        .filter(|r| r.section == section)
        .map(|r| &r.value)
        .collect()
}

fn agg(config: &str) -> PurchasesDaily {
    PurchasesDaily::init(config).expect("init")
}

#[test]
fn totals_are_exact_cents() {
    let mut a = agg("{}");
    let ts = "2026-11-23T18:54:42.123Z";
    update(
        &mut a,
        &(0..3)
            .map(|i| event(i, "Books", "0.1", ts))
            .collect::<Vec<_>>(),
    );
    let report = tick(&mut a, AT);
    assert_eq!(rows(&report, SUMMARY)[0]["daily_total"], "0.30");

    // In floats these add up to 18457.500000000004.
    let cents = [454_122, 413_200, 77_243, 434_376, 65_546, 401_263];
    let float_sum = cents.iter().fold(0.0, |s, c| s + f64::from(*c) / 100.0);
    assert_eq!(float_sum.to_string(), "18457.500000000004");
    let mut a = agg("{}");
    let values: Vec<_> = cents
        .iter()
        .enumerate()
        .map(|(i, c)| event(i, "Electronics", &(f64::from(*c) / 100.0).to_string(), ts))
        .collect();
    update(&mut a, &values);
    let report = tick(&mut a, AT);
    assert_eq!(rows(&report, SUMMARY)[0]["daily_total"], "18,457.50");
    assert_eq!(rows(&report, RUNNING)[0]["running_total"], "18,457.50");
}

#[test]
fn dates_follow_the_configured_zone_across_midnight() {
    let late = "2026-11-23T20:00:00Z";
    let early = "2026-11-24T03:00:00Z";
    let values = [event(1, "Books", "1", late), event(2, "Books", "2", early)];
    let dates = |config: &str| {
        let mut a = agg(config);
        update(&mut a, &values);
        let report = tick(&mut a, AT);
        rows(&report, SUMMARY)
            .iter()
            .map(|r| (r["date"].to_string(), r["daily_total"].to_string()))
            .collect::<Vec<_>>()
    };
    let pair = |d: &str, t: &str| (format!("\"{d}\""), format!("\"{t}\""));
    assert_eq!(
        dates("{}"),
        [pair("2026-11-23", "1.00"), pair("2026-11-24", "2.00")]
    );
    assert_eq!(
        dates(r#"{"timezone":"+05:30"}"#),
        [pair("2026-11-24", "3.00")],
        "01:30 and 08:30 on the 24th"
    );
    assert_eq!(
        dates(r#"{"timezone":"-08:00"}"#),
        [pair("2026-11-23", "3.00")],
        "12:00 and 19:00 on the 23rd"
    );
}

#[test]
fn a_report_has_its_sections_in_order() {
    let mut a = agg(r#"{"details_rows":2,"timezone":"+05:30"}"#);
    let d1 = "2026-11-23T10:00:00Z";
    let d2 = "2026-11-24T10:00:00Z";
    update(
        &mut a,
        &[
            event(1, "Books", "10.00", d1),
            event(2, "Electronics", "1000.50", d1),
            event(3, "Books", "5.25", d1),
            event(4, "Beauty", "20", d2),
            event(5, "Books", "2.5", d2),
        ],
    );
    let report = tick(&mut a, AT);
    let sections: Vec<&str> = report.iter().map(|r| r.section.as_str()).collect();
    assert_eq!(
        sections,
        [
            SUMMARY, SUMMARY, DETAILS, DETAILS, DETAILS, BREAKDOWN, BREAKDOWN, BREAKDOWN,
            BREAKDOWN, RUNNING
        ]
    );
    let keys: Vec<Option<&str>> = report.iter().map(|r| r.key.as_deref()).collect();
    assert_eq!(keys[0], Some("2026-11-23"));
    assert_eq!(keys[2], Some("2026-11-23"));
    assert_eq!(keys[4], None);
    assert_eq!(keys[9], None);
    let json = |i: usize| report[i].raw.as_str();
    assert_eq!(
        rows(&report, SUMMARY)[0],
        &serde_json::json!({"timestamp": "2026-11-23T18:54:42.123Z", "date": "2026-11-23",
            "daily_total": "1,015.75", "running_total": "1,038.25", "transaction_count": 3})
    );
    assert_eq!(
        report[2].value,
        serde_json::json!({"event_id": "E1", "customer_id": "CUST-000001", "category": "Books",
            "amount": "10.00", "event_time": "2026-11-23T15:30:00.000+05:30"})
    );
    assert_eq!(report[4].value["event_id"], "… and 3 more");
    let breakdown: Vec<(String, String, String)> = rows(&report, BREAKDOWN)
        .iter()
        .map(|r| {
            (
                r["date"].as_str().unwrap_or_default().to_string(),
                r["category"].as_str().unwrap_or_default().to_string(),
                r["share"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let b = |d: &str, c: &str, s: &str| (d.to_string(), c.to_string(), s.to_string());
    assert_eq!(
        breakdown,
        [
            b("2026-11-23", "Electronics", "98.5%"),
            b("2026-11-23", "Books", "1.5%"),
            b("2026-11-24", "Beauty", "88.9%"),
            b("2026-11-24", "Books", "11.1%"),
        ]
    );
    assert_eq!(rows(&report, BREAKDOWN)[1]["transactions"], 2);
    assert_eq!(rows(&report, BREAKDOWN)[1]["total"], "15.25");
    assert_eq!(
        json(9),
        r#"{"running_total":"1,038.25","transactions":5,"days":2}"#,
        "columns keep their order"
    );
    assert!(json(0).starts_with(r#"{"timestamp":"#));
}

#[test]
fn a_report_covers_only_dates_touched_since_the_last_one() {
    let mut a = agg("{}");
    update(&mut a, &[event(1, "Books", "1", "2026-11-22T10:00:00Z")]);
    tick(&mut a, AT);
    update(&mut a, &[event(2, "Books", "2", "2026-11-23T10:00:00Z")]);
    let report = tick(&mut a, AT + HOUR);
    let summary = rows(&report, SUMMARY);
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0]["date"], "2026-11-23");
    assert_eq!(summary[0]["running_total"], "3.00");
    assert_eq!(rows(&report, RUNNING)[0]["days"], 2);
    assert!(rows(&report, DETAILS).iter().all(|r| r["event_id"] == "E2"));
}

#[test]
fn an_empty_tick_emits_nothing() {
    let mut a = agg("{}");
    assert!(tick(&mut a, AT).is_empty());
    update(&mut a, &[event(1, "Books", "1", "2026-11-23T10:00:00Z")]);
    assert!(!tick(&mut a, AT).is_empty());
    assert!(
        tick(&mut a, AT + 1).is_empty(),
        "nothing new since the last report"
    );
}

#[test]
fn broken_events_fail_with_rule_codes_and_are_not_counted() {
    let mut a = agg("{}");
    let ok = event(1, "Books", "1", "2026-11-23T10:00:00Z");
    let out = update(
        &mut a,
        &[
            "{not json".into(),
            "[1]".into(),
            ok.replace("\"total_amount\":1,", ""),
            ok.replace("2026-11-23T10:00:00Z", "yesterday"),
            ok.replace("\"total_amount\":1", "\"total_amount\":\"1\""),
            ok.clone(),
        ],
    );
    let joined: Vec<(u32, String)> = out
        .failures
        .iter()
        .map(|f| (f.index, f.codes.join(",")))
        .collect();
    let codes: Vec<(u32, &str)> = joined.iter().map(|(i, c)| (*i, c.as_str())).collect();
    assert_eq!(
        codes,
        [
            (0, "malformed_json"),
            (1, "malformed_json"),
            (2, "missing_field"),
            (3, "wrong_type"),
            (4, "wrong_type")
        ]
    );
    assert_eq!(
        out.failures[2].text(),
        "missing_field: required field total_amount is missing"
    );
    assert!(out.output.is_empty(), "update emits nothing");
    let report = tick(&mut a, AT);
    assert_eq!(rows(&report, RUNNING)[0]["transactions"], 1);
}

#[test]
fn restore_continues_where_the_snapshot_left_off() {
    let values: Vec<String> = (0..40)
        .map(|i| {
            let ts = Zone(0).format(AT + i as i64 * 2 * HOUR);
            let category = ["Books", "Beauty", "Sports"][i % 3];
            event(i, category, &format!("{}.{:02}", i * 3, i % 100), &ts)
        })
        .collect();
    let mut whole = agg(r#"{"timezone":"-08:00"}"#);
    update(&mut whole, &values[..15]);
    tick(&mut whole, AT);
    update(&mut whole, &values[15..25]);
    update(&mut whole, &values[25..]);
    let expected = tick(&mut whole, AT + HOUR);

    let mut first = agg(r#"{"timezone":"-08:00"}"#);
    update(&mut first, &values[..15]);
    tick(&mut first, AT);
    update(&mut first, &values[15..25]);
    let state = first.snapshot();
    let mut second = agg(r#"{"timezone":"-08:00"}"#);
    second.restore(&state).expect("restore");
    assert_eq!(second.snapshot(), state, "deterministic bytes");
    update(&mut second, &values[25..]);
    assert_eq!(tick(&mut second, AT + HOUR), expected);
    assert_eq!(second.snapshot(), whole.snapshot());
}

#[test]
fn restore_refuses_garbage_readably() {
    let mut a = agg("{}");
    update(&mut a, &[event(1, "Books", "1", "2026-11-23T10:00:00Z")]);
    let good = String::from_utf8(a.snapshot()).expect("json");
    let err = |s: &str| agg("{}").restore(s.as_bytes()).expect_err("garbage");
    assert!(
        err("\u{0}\u{1}").starts_with("purchases-daily snapshot: not a purchases-daily snapshot")
    );
    assert!(err(r#"{"days":{}}"#).contains("missing field"));
    assert!(err(&good.replace("\"version\":1", "\"version\":9")).contains("format version 9"));
    assert!(
        err(&good.replace("\"running\":{\"cents\":100", "\"running\":{\"cents\":101"))
            .contains("do not add up to the running total")
    );
    let mut fresh = agg("{}");
    fresh.restore(b"").expect("empty starts afresh");
    assert!(tick(&mut fresh, AT).is_empty());
}

/// Not a check but a measurement, in release:
/// `cargo test --release -p purchases-daily -- --ignored --nocapture`
/// prints what one event costs in [`event::parse`] and in `update`.
#[test]
#[ignore]
fn per_record_cost() {
    let value = r#"{"event_id":"27b0a990-ecb0-40da-8f1d-fc0b1959c869","timestamp":"2026-11-23T18:54:42.123Z","customer_id":"CUST-000004","customer_segment":"regular","product_id":"P01002","product_name":"Jacket","product_category":"Clothing","quantity":2,"unit_price":89.99,"total_amount":179.98,"currency":"USD","payment_method":"debit_card","order_source":"mobile_app","location":{"country":"US","city":"New York"},"discount_percentage":0,"is_new_customer":false,"device_type":"tablet"}"#;
    let parse = weir_sdk::testing::ns_per_call(1, || {
        std::hint::black_box(event::parse(Some(std::hint::black_box(value.as_bytes()))))
            .expect("valid");
    });
    let mut batch = FlatBatch::default();
    for _ in 0..1000 {
        batch.push(Some(b"k"), Some(value.as_bytes()), &[], AT);
    }
    let records = batch.records().expect("layout");
    let mut a = agg("{}");
    let update = weir_sdk::testing::ns_per_call(records.len(), || {
        let mut out = Outcome::default();
        a.update(&records, &mut out).expect("update");
    });
    println!("purchases-daily: event::parse {parse:.0} ns, update {update:.0} ns per event");
}
