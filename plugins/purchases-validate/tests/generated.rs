//! The validator against `purchases-gen` with injected defects: every labelled
//! record is rejected with exactly its label's codes, every other record passes.

use purchases_gen::stream::{INJECTED_HEADER, Stream};
use purchases_validate::PurchasesValidate;
use weir_sdk::{FlatBatch, Outcome, Transform};

#[test]
fn reported_codes_equal_the_injected_labels() {
    let mut stream = Stream::new(2026, 1_000, 0.1, 0.05);
    let mut validator = PurchasesValidate::init("{}").expect("init");
    let start = 1_795_460_082_123;
    let (mut labelled, mut passed, mut duplicates) = (0, 0, 0);
    let mut kinds = std::collections::BTreeSet::new();
    for b in 0..40 {
        let mut input = FlatBatch::default();
        for i in 0..500 {
            let now = start + (b * 500 + i) * 37;
            let e = stream.next(now).expect("serializable");
            let headers: Vec<(&str, &[u8])> = e
                .injected
                .iter()
                .map(|code| (INJECTED_HEADER, code.as_bytes()))
                .collect();
            input.push(
                Some(e.key.as_bytes()),
                Some(&e.value),
                &headers,
                e.timestamp_ms,
            );
        }
        let records = input.records().expect("layout");
        let mut out = Outcome::default();
        validator.process(&records, &mut out).expect("process");
        let failures: std::collections::HashMap<u32, String> = out
            .failures
            .iter()
            .map(|f| (f.index, f.codes.join(",")))
            .collect();
        for (i, r) in records.iter().enumerate() {
            let label = r
                .header(INJECTED_HEADER)
                .map(|l| std::str::from_utf8(l).expect("utf-8"));
            let codes = failures.get(&(i as u32)).map(String::as_str);
            assert_eq!(
                codes,
                label,
                "record {i} of batch {b}: {:?}",
                failures.get(&(i as u32))
            );
            kinds.extend(label.map(str::to_string));
            match label {
                Some("duplicate_event_id") => duplicates += 1,
                Some(_) => labelled += 1,
                None => passed += 1,
            }
        }
        assert_eq!(out.passed.len() + out.failures.len(), records.len());
    }
    assert_eq!(labelled + passed + duplicates, 20_000);
    assert_eq!(kinds.len(), 10, "every rule is exercised: {kinds:?}");
    assert!(
        labelled > 1_500 && duplicates > 700,
        "{labelled} defects, {duplicates} duplicates"
    );
}

/// The fast path (typed decode) and the describing path (JSON tree) agree on
/// every generated event, valid or broken: the fast path takes exactly the
/// events that break no stateless rule, with the same event id.
#[test]
fn the_fast_path_takes_exactly_the_valid_events() {
    use purchases_validate::config::Config;
    use purchases_validate::rules::{check, valid_event_id};
    let config = Config::parse("{}").expect("config");
    let mut stream = Stream::new(7, 1_000, 0.2, 0.05);
    let start = 1_795_460_082_123;
    let mut fast = 0;
    for n in 0..20_000 {
        let now = start + n * 37;
        let e = stream.next(now).expect("serializable");
        let slow = check(Some(&e.value), e.timestamp_ms, &config);
        let quick = valid_event_id(Some(&e.value), e.timestamp_ms, &config);
        if slow.violations.is_empty() {
            assert_eq!(quick.as_deref(), slow.event_id.as_deref(), "event {n}");
            fast += 1;
        } else {
            assert_eq!(quick, None, "event {n} breaks {:?}", slow.violations);
        }
    }
    assert!(fast > 15_000, "most events are valid: {fast}");
}
