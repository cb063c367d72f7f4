//! Any JSON (and any bytes) as purchase events: every record gets exactly one
//! answer, passed or failed with a reason, and nothing panics.

use proptest::prelude::*;
use purchases_validate::PurchasesValidate;
use weir_sdk::{FlatBatch, Outcome, Transform};

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "[A-Za-z0-9_:.\\-]{0,24}".prop_map(serde_json::Value::from),
    ];
    let field = prop_oneof![
        Just("event_id"),
        Just("timestamp"),
        Just("customer_id"),
        Just("quantity"),
        Just("unit_price"),
        Just("total_amount"),
        Just("currency"),
        Just("discount_percentage"),
        Just("location"),
        Just("product_category"),
    ]
    .prop_map(str::to_string);
    leaf.prop_recursive(2, 30, 10, move |inner| {
        proptest::collection::btree_map(field.clone(), inner, 0..10)
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect()))
    })
}

/// A valid purchase event, as `purchases-gen` writes one.
fn valid_event() -> serde_json::Map<String, serde_json::Value> {
    let text = r#"{"event_id":"e-1","timestamp":"2026-11-23T18:54:42.123Z","customer_id":"CUST-000001","product_category":"Books","quantity":3,"unit_price":9.99,"total_amount":26.97,"currency":"USD","discount_percentage":10.0,"is_new_customer":false}"#;
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => unreachable!("a literal object"),
    }
}

/// One field of an event replaced by any JSON leaf (including another type
/// and `null`), or removed.
fn edit() -> impl Strategy<Value = (String, Option<serde_json::Value>)> {
    let name = prop_oneof![
        Just("event_id"),
        Just("timestamp"),
        Just("quantity"),
        Just("unit_price"),
        Just("total_amount"),
        Just("currency"),
        Just("discount_percentage"),
        Just("is_new_customer"),
    ]
    .prop_map(str::to_string);
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        (-5i64..5).prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        (-200.0f64..200.0).prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("2026-11-23T18:54:42Z")),
        "[A-Za-z0-9_:.\\-]{0,24}".prop_map(serde_json::Value::from),
    ];
    (name, proptest::option::weighted(0.9, leaf))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3_000))]

    #[test]
    fn every_record_gets_one_answer(
        values in proptest::collection::vec(json_value(), 1..20),
        raw in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut v = PurchasesValidate::init("{}").expect("init");
        let mut batch = FlatBatch::default();
        for value in &values {
            let bytes = serde_json::to_vec(value).expect("json");
            batch.push(None, Some(&bytes), &[], 1_795_460_000_000);
        }
        batch.push(None, Some(&raw), &[], 0);
        batch.push(None, None, &[], 0);
        let records = batch.records().expect("layout");
        let mut out = Outcome::default();
        v.process(&records, &mut out).expect("a batch is never refused whole");
        let mut answered = vec![0u32; records.len()];
        for i in out.passed.iter().chain(out.failures.iter().map(|f| &f.index)) {
            answered[*i as usize] += 1;
        }
        prop_assert!(answered.iter().all(|n| *n == 1), "{answered:?}");
        for f in &out.failures {
            prop_assert!(!f.codes.is_empty(), "a failure names its codes: {}", f.reason);
        }
    }

    /// Whatever the bytes, the fast path never passes what the describing
    /// path would reject.
    #[test]
    fn the_fast_path_never_passes_a_broken_event(
        values in proptest::collection::vec(json_value(), 1..20),
        edits in proptest::collection::vec(edit(), 0..4),
    ) {
        let config = purchases_validate::config::Config::parse("{}").expect("config");
        let mut edited = valid_event();
        for (name, value) in edits {
            match value {
                Some(v) => edited.insert(name, v),
                None => edited.remove(&name),
            };
        }
        let edited = serde_json::Value::Object(edited);
        for value in values.iter().chain([&edited]) {
            let bytes = serde_json::to_vec(value).expect("json");
            if let Some(id) = purchases_validate::rules::valid_event_id(Some(&bytes), 1_795_460_000_000, &config) {
                let slow = purchases_validate::rules::check(Some(&bytes), 1_795_460_000_000, &config);
                prop_assert!(slow.violations.is_empty(), "{value}: {:?}", slow.violations);
                prop_assert_eq!(slow.event_id.as_deref(), Some(&*id));
            }
        }
    }
}
