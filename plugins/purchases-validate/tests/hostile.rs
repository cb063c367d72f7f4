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
        for i in out.origins.iter().chain(out.failures.iter().map(|(i, _)| i)) {
            answered[*i as usize] += 1;
        }
        prop_assert!(answered.iter().all(|n| *n == 1), "{answered:?}");
        for (_, reason) in &out.failures {
            prop_assert!(reason.contains(':'), "a reason starts with codes: {reason}");
        }
    }
}
