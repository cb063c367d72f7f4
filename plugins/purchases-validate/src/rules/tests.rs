use serde_json::{Value, json};

use super::*;

/// 2026-11-23T18:54:42.123Z
const AT: i64 = 1_795_460_082_123;

fn valid() -> Value {
    json!({
        "event_id": "0b6a3c3e-5f7d-4c55-9d43-1c1f0c4b8a10",
        "timestamp": "2026-11-23T18:54:42.123Z",
        "customer_id": "CUST-000042",
        "customer_segment": "premium",
        "product_category": "Books",
        "quantity": 2,
        "unit_price": 7.0,
        "total_amount": 12.6,
        "currency": "EUR",
        "discount_percentage": 10,
        "is_new_customer": false,
        "location": {"country": "FR", "city": "Paris"},
    })
}

fn with(changes: Value) -> Value {
    let mut v = valid();
    if let (Value::Object(event), Value::Object(changes)) = (&mut v, changes) {
        for (k, x) in changes {
            event.insert(k, x);
        }
    }
    v
}

fn without(field: &str) -> Value {
    let mut v = valid();
    if let Value::Object(event) = &mut v {
        event.remove(field);
    }
    v
}

fn verdict(v: &Value) -> Violations {
    let bytes = serde_json::to_vec(v).expect("serializable");
    check(Some(&bytes), AT, &Config::default()).violations
}

fn codes(v: &Value) -> Vec<&'static str> {
    verdict(v).codes()
}

#[test]
fn a_valid_event_passes() {
    assert_eq!(codes(&valid()), Vec::<&str>::new());
    assert_eq!(codes(&without("discount_percentage")), [TOTAL_MISMATCH]);
    assert_eq!(
        codes(&with(
            json!({"discount_percentage": null, "total_amount": 14})
        )),
        Vec::<&str>::new(),
        "a null optional field counts as absent"
    );
    assert_eq!(codes(&without("is_new_customer")), Vec::<&str>::new());
}

#[test]
fn malformed_json() {
    let config = Config::default();
    for bytes in [
        &b"{\"event_id\": \"x\""[..],
        b"not json",
        b"[1,2]",
        b"\"text\"",
        b"",
    ] {
        let v = check(Some(bytes), AT, &config).violations;
        assert_eq!(
            v.codes(),
            [MALFORMED_JSON],
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
    let tombstone = check(None, AT, &config).violations;
    assert_eq!(
        tombstone.reason(),
        "malformed_json: record has no value (a tombstone)"
    );
    let array = check(Some(b"[1]"), AT, &config).violations;
    assert_eq!(
        array.reason(),
        "malformed_json: value is an array, not a JSON object"
    );
}

#[test]
fn missing_field_lists_every_missing_field_and_skips_their_rules() {
    for field in REQUIRED {
        assert_eq!(codes(&without(field)), [MISSING_FIELD], "{field}");
        assert_eq!(
            codes(&with(json!({ *field: null }))),
            [MISSING_FIELD],
            "{field}"
        );
    }
    let mut v = without("quantity");
    if let Value::Object(event) = &mut v {
        event.remove("currency");
    }
    assert_eq!(
        verdict(&v).reason(),
        "missing_field: required fields quantity, currency are missing"
    );
    assert_eq!(
        verdict(&without("unit_price")).reason(),
        "missing_field: required field unit_price is missing"
    );
}

#[test]
fn wrong_type_for_each_checked_field() {
    for change in [
        json!({"event_id": 42}),
        json!({"customer_id": ["CUST-1"]}),
        json!({"product_category": {"name": "Books"}}),
        json!({"currency": 978}),
        json!({"timestamp": 1_795_460_082_123u64}),
        json!({"timestamp": "yesterday"}),
        json!({"timestamp": "2026-11-23T18:54:42"}),
        json!({"quantity": "2"}),
        json!({"quantity": 2.5}),
        json!({"quantity": 18_446_744_073_709_551_615u64}),
        json!({"unit_price": "7.00"}),
        json!({"unit_price": 1e300}),
        json!({"total_amount": true}),
        json!({"discount_percentage": "10"}),
        json!({"is_new_customer": "yes"}),
    ] {
        assert_eq!(codes(&with(change.clone())), [WRONG_TYPE], "{change}");
    }
    assert_eq!(
        verdict(&with(json!({"quantity": "3", "is_new_customer": "yes"}))).reason(),
        "wrong_type: quantity is a string (\"3\"), expected an integer; \
         is_new_customer is a string (\"yes\"), expected a boolean"
    );
    assert!(
        verdict(&with(json!({"timestamp": "23/11/2026"})))
            .reason()
            .starts_with("wrong_type: timestamp \"23/11/2026\" is not an ISO-8601 date-time")
    );
}

#[test]
fn quantity_positive() {
    assert_eq!(
        verdict(&with(json!({"quantity": 0, "total_amount": 0}))).reason(),
        "quantity_positive: quantity is 0, must be at least 1"
    );
    assert_eq!(
        codes(&with(json!({"quantity": -2, "total_amount": -12.6}))),
        [QUANTITY_POSITIVE]
    );
    assert_eq!(
        codes(&with(json!({"quantity": 1, "total_amount": 6.3}))),
        Vec::<&str>::new()
    );
}

#[test]
fn unit_price_positive() {
    assert_eq!(
        verdict(&with(json!({"unit_price": 0, "total_amount": 0}))).reason(),
        "unit_price_positive: unit_price is 0.00, must be above 0"
    );
    assert_eq!(
        codes(&with(json!({"unit_price": -7, "total_amount": -12.6}))),
        [UNIT_PRICE_POSITIVE]
    );
    assert_eq!(
        codes(&with(json!({"unit_price": 0.01, "total_amount": 0.02}))),
        Vec::<&str>::new()
    );
}

#[test]
fn discount_range() {
    assert_eq!(
        verdict(&with(
            json!({"discount_percentage": 120, "total_amount": -2.8})
        ))
        .reason(),
        "discount_range: discount_percentage is 120, must be at least 0 and below 100"
    );
    assert_eq!(
        codes(&with(
            json!({"discount_percentage": 100, "total_amount": 0})
        )),
        [DISCOUNT_RANGE]
    );
    assert_eq!(
        codes(&with(
            json!({"discount_percentage": -5, "total_amount": 14.7})
        )),
        [DISCOUNT_RANGE]
    );
    assert_eq!(
        codes(&with(json!({"discount_percentage": 0, "total_amount": 14}))),
        Vec::<&str>::new()
    );
    assert_eq!(
        codes(&with(
            json!({"discount_percentage": 99.5, "total_amount": 0.07})
        )),
        Vec::<&str>::new()
    );
}

#[test]
fn total_mismatch_in_exact_cents_with_tolerance() {
    assert_eq!(
        verdict(&with(json!({"total_amount": 12.0}))).reason(),
        "total_mismatch: total_amount 12.00 does not equal 2 × 7.00 × (1 − 10%) = 12.60"
    );
    assert_eq!(
        codes(&with(json!({"total_amount": 12.61}))),
        Vec::<&str>::new()
    );
    assert_eq!(
        codes(&with(json!({"total_amount": 12.59}))),
        Vec::<&str>::new()
    );
    assert_eq!(
        codes(&with(json!({"total_amount": 12.62}))),
        [TOTAL_MISMATCH]
    );
    // 3 × 0.10 is 0.30 exactly, although 3.0 * 0.1 in floats is 0.30000000000000004.
    assert_eq!(
        codes(&with(
            json!({"quantity": 3, "unit_price": 0.1, "discount_percentage": 0, "total_amount": 0.3})
        )),
        Vec::<&str>::new()
    );
    // 1 × 0.99 × 87.5% = 0.86625: 0.87 and 0.86 are both within a cent.
    let frac = |total: f64| {
        codes(&with(
            json!({"quantity": 1, "unit_price": 0.99, "discount_percentage": 12.5, "total_amount": total}),
        ))
    };
    assert!(frac(0.87).is_empty() && frac(0.86).is_empty());
    assert_eq!(frac(0.85), [TOTAL_MISMATCH]);
    let strict = Config {
        tolerance_cents: 0,
        ..Config::default()
    };
    let bytes = serde_json::to_vec(&with(json!({"total_amount": 12.61}))).expect("json");
    assert_eq!(
        check(Some(&bytes), AT, &strict).violations.codes(),
        [TOTAL_MISMATCH]
    );
    assert_eq!(
        verdict(&with(json!({"discount_percentage": 0, "total_amount": 1}))).reason(),
        "total_mismatch: total_amount 1.00 does not equal 2 × 7.00 = 14.00"
    );
}

#[test]
fn currency_allowed() {
    assert_eq!(
        verdict(&with(json!({"currency": "BTC"}))).reason(),
        "currency_allowed: currency \"BTC\" is not one of USD, EUR, GBP, CAD, JPY"
    );
    assert_eq!(codes(&with(json!({"currency": "eur"}))), [CURRENCY_ALLOWED]);
    for ok in ["USD", "EUR", "GBP", "CAD", "JPY"] {
        assert_eq!(codes(&with(json!({"currency": ok}))), Vec::<&str>::new());
    }
}

#[test]
fn timestamp_range_against_the_record_time() {
    let at = |ts: &str| codes(&with(json!({ "timestamp": ts })));
    assert_eq!(
        at("2026-11-23T18:59:42.123Z"),
        Vec::<&str>::new(),
        "5 minutes ahead"
    );
    assert_eq!(at("2026-11-23T18:59:42.124Z"), [TIMESTAMP_RANGE]);
    assert_eq!(
        at("2026-11-16T18:54:42.123Z"),
        Vec::<&str>::new(),
        "7 days behind"
    );
    assert_eq!(at("2026-11-16T18:54:42.122Z"), [TIMESTAMP_RANGE]);
    assert_eq!(at("2026-11-24T00:24:42.123+05:30"), Vec::<&str>::new());
    assert_eq!(
        verdict(&with(json!({"timestamp": "2026-12-23T18:54:42.123Z"}))).reason(),
        "timestamp_range: timestamp 2026-12-23T18:54:42.123Z is 30d 0h ahead of the \
         record time (at most 5m 0s allowed)"
    );
    assert_eq!(
        verdict(&with(json!({"timestamp": "2026-10-24T16:54:42.123Z"}))).reason(),
        "timestamp_range: timestamp 2026-10-24T16:54:42.123Z is 30d 2h behind the \
         record time (at most 7d 0h allowed)"
    );
    let bytes =
        serde_json::to_vec(&with(json!({"timestamp": "2000-01-01T00:00:00Z"}))).expect("json");
    assert!(
        check(Some(&bytes), -1, &Config::default())
            .violations
            .is_empty(),
        "a record without a timestamp gives nothing to compare with"
    );
}

#[test]
fn every_broken_rule_is_reported_sorted() {
    let v = with(json!({
        "quantity": -2,
        "unit_price": 7.0,
        "total_amount": 12.0,
        "currency": "BTC",
        "timestamp": "2027-01-01T00:00:00Z",
    }));
    assert_eq!(
        verdict(&v).reason(),
        "currency_allowed,quantity_positive,timestamp_range,total_mismatch: \
         currency \"BTC\" is not one of USD, EUR, GBP, CAD, JPY; \
         quantity is -2, must be at least 1; \
         timestamp 2027-01-01T00:00:00Z is 38d 5h ahead of the record time (at most 5m 0s allowed); \
         total_amount 12.00 does not equal -2 × 7.00 × (1 − 10%) = -12.60"
    );
    let mut v = with(json!({"quantity": "2", "currency": "XXX"}));
    if let Value::Object(event) = &mut v {
        event.remove("total_amount");
    }
    assert_eq!(
        codes(&v),
        [CURRENCY_ALLOWED, MISSING_FIELD, WRONG_TYPE],
        "rules needing quantity or total_amount are skipped"
    );
}

#[test]
fn long_input_is_cut_in_messages() {
    let long = "X".repeat(500);
    let reason = verdict(&with(json!({ "currency": long }))).reason();
    assert!(reason.len() < 120, "{reason}");
    assert!(reason.contains("XXX…"));
}

#[test]
fn the_fast_path_reads_objects_only() {
    let config = Config::parse("{}").expect("config");
    let object = br#"{"event_id":"e-1","timestamp":"2026-11-23T18:54:42.123Z","customer_id":"C","product_category":"Books","quantity":1,"unit_price":9.99,"total_amount":9.99,"currency":"USD"}"#;
    let at = 1_795_460_082_123;
    assert_eq!(
        valid_event_id(Some(object), at, &config).as_deref(),
        Some("e-1")
    );
    // The same fields in field order: serde would read them into the struct.
    let array = br#"["e-1","2026-11-23T18:54:42.123Z","C","Books",1,9.99,9.99,"USD",0,false]"#;
    assert_eq!(valid_event_id(Some(array), at, &config), None);
    assert!(!check(Some(array), at, &config).violations.is_empty());
}

#[test]
fn the_fast_path_refuses_what_the_value_path_refuses_and_borrows_the_id() {
    let config = Config::parse("{}").expect("config");
    let at = 1_795_460_082_123;
    let base = r#""event_id":"e-1","timestamp":"2026-11-23T18:54:42.123Z","customer_id":"C","product_category":"Books","quantity":1,"unit_price":9.99,"total_amount":9.99,"currency":"USD""#;
    let valid = format!("{{{base}}}");
    let id = valid_event_id(Some(valid.as_bytes()), at, &config);
    assert!(matches!(id, Some(Cow::Borrowed("e-1"))), "{id:?}");
    for extra in [
        r#""location":1e400"#,
        r#""note":"\ud800""#,
        r#""is_new_customer":"yes""#,
        r#""quantity":1.0"#,
    ] {
        let doc = format!("{{{base},{extra}}}");
        assert_eq!(
            valid_event_id(Some(doc.as_bytes()), at, &config),
            None,
            "{extra}"
        );
        assert!(
            !check(Some(doc.as_bytes()), at, &config)
                .violations
                .is_empty(),
            "{extra}"
        );
    }
    let escaped = valid.replace("e-1", "e\\u002d1");
    let id = valid_event_id(Some(escaped.as_bytes()), at, &config);
    assert_eq!(
        id.as_deref(),
        Some("e-1"),
        "an escaped id is read, as a copy"
    );
}

/// Wherever the scanner reads a value, the typed decode reads the same
/// fields, and a field the scanner calls mistyped fails the decode: over
/// the fixtures' events and every one-byte change of them to JSON's pieces.
#[test]
fn the_scan_agrees_with_the_typed_decode() {
    let mut docs = vec![serde_json::to_string(&valid()).expect("json")];
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
    docs.extend(
        weir_sdk::testing::fixture_values(fixtures)
            .into_iter()
            .filter_map(|v| String::from_utf8(v).ok()),
    );
    docs.sort();
    docs.dedup();
    // Every tenth is enough: the fixtures' events share their shape.
    let docs: Vec<_> = docs.into_iter().step_by(10).collect();
    let pieces = [
        "",
        " ",
        "1",
        "-",
        ".",
        "e",
        "0",
        "1.5",
        "1e3",
        "\"",
        "\\",
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "null",
        "true",
        "\"x\"",
        "{\"a\":1}",
        "é",
    ];
    let (mut read, mut mistyped) = (0, 0);
    for doc in &docs {
        for at in (0..doc.len()).filter(|&i| doc.is_char_boundary(i)) {
            let end = (at + 1..=doc.len())
                .find(|&i| doc.is_char_boundary(i))
                .unwrap_or(at);
            for piece in pieces {
                let changed = format!("{}{piece}{}", &doc[..at], &doc[end..]);
                let bytes = changed.as_bytes();
                match scanned(bytes) {
                    Scanned::Read(t) => {
                        read += 1;
                        assert_eq!(typed(bytes), Some(t), "{changed}");
                    }
                    Scanned::Mistyped => {
                        mistyped += 1;
                        assert_eq!(typed(bytes), None, "{changed}");
                    }
                    Scanned::Unread => {}
                }
            }
        }
    }
    assert!(
        read > 10_000 && mistyped > 20,
        "read {read}, mistyped {mistyped}"
    );
}
