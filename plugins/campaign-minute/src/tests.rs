use super::*;

/// 2026-11-23T10:00:00Z
const T10: i64 = 1_795_428_000_000;
const MIN: i64 = 60_000;
const TABLE: &str = r#""lookups":{"campaigns":[
    {"campaign_id":"1","network_id":"10","name":"Winter sale"},
    {"campaign_id":"2","network_id":"20","name":"Spring preview"}]}"#;

fn agg(fields: &str) -> CampaignMinute {
    let sep = if fields.is_empty() { "" } else { "," };
    CampaignMinute::init(&format!("{{{fields}{sep}{TABLE}}}")).expect("init")
}

fn view(campaign_id: i64, start: i64, duration: i64) -> String {
    format!(
        r#"{{"view_id":"v-{campaign_id}-{start}","start_timestamp":{start},"end_timestamp":{},"banner_id":{},"campaign_id":{campaign_id}}}"#,
        start + duration,
        campaign_id * 1000 + 1
    )
}

/// The failures of one update: input index and the DLQ reason text.
fn update(a: &mut CampaignMinute, values: &[String]) -> Vec<(u32, String)> {
    let mut batch = FlatBatch::default();
    for v in values {
        batch.push(Some(b"k"), Some(v.as_bytes()), &[], 0);
    }
    let records = batch.records().expect("layout");
    let mut out = Outcome::default();
    a.update(&records, &mut out).expect("update");
    assert!(out.output.is_empty(), "update emits nothing");
    out.failures.iter().map(|f| (f.index, f.text())).collect()
}

/// (key, value text, record timestamp) of each emitted row.
fn tick(a: &mut CampaignMinute, watermark_ms: i64) -> Vec<(String, String, i64)> {
    let mut out = FlatBatch::default();
    a.tick(watermark_ms, 0, &mut out).expect("tick");
    out.records()
        .expect("layout")
        .iter()
        .map(|r| {
            let key = String::from_utf8_lossy(r.key.expect("key")).into_owned();
            let value = String::from_utf8_lossy(r.value.expect("value")).into_owned();
            (key, value, r.timestamp_ms)
        })
        .collect()
}

#[test]
fn one_minute_two_campaigns_with_exact_averages() {
    let mut a = agg("");
    let fails = update(
        &mut a,
        &[
            view(1, T10 + 1_000, 1_000),
            view(2, T10 + 2_000, 500),
            view(1, T10 + 59_999, 2_000),
            view(2, T10 + 30_000, 1_500),
            view(1, T10, 4_000),
        ],
    );
    assert_eq!(fails, vec![]);
    assert_eq!(tick(&mut a, T10 + MIN - 1), vec![], "not closed yet");
    let rows = tick(&mut a, T10 + MIN);
    assert_eq!(
        rows,
        vec![
            (
                "1@2026-11-23T10:00".to_string(),
                r#"{"campaign_id":1,"network_id":10,"campaign_name":"Winter sale","minute_timestamp":"2026-11-23T10:00","window_start":1795428000000,"window_end":1795428060000,"view_count":3,"avg_duration_s":2.3333333333333335,"total_duration_ms":7000}"#.to_string(),
                T10
            ),
            (
                "2@2026-11-23T10:00".to_string(),
                r#"{"campaign_id":2,"network_id":20,"campaign_name":"Spring preview","minute_timestamp":"2026-11-23T10:00","window_start":1795428000000,"window_end":1795428060000,"view_count":2,"avg_duration_s":1.0,"total_duration_ms":2000}"#.to_string(),
                T10
            ),
        ]
    );
    assert_eq!(tick(&mut a, i64::MAX), vec![], "emitted once");
}

#[test]
fn a_view_for_a_closed_window_is_late_never_a_second_row() {
    let mut a = agg("");
    update(&mut a, &[view(1, T10 + 5_000, 1_000)]);
    assert_eq!(tick(&mut a, T10 + 150_000).len(), 1);
    let fails = update(
        &mut a,
        &[
            view(1, T10 + 12_345, 1_000),
            view(1, T10 + 90_000, 1_000),
            view(2, T10 + 150_000, 1_000),
        ],
    );
    assert_eq!(
        fails,
        vec![
            (
                0,
                "late: view at 2026-11-23T10:00:12.345Z belongs to window 10:00–10:01, \
                 closed at watermark 2026-11-23T10:02:30Z"
                    .to_string()
            ),
            (
                1,
                "late: view at 2026-11-23T10:01:30.000Z belongs to window 10:01–10:02, \
                 closed at watermark 2026-11-23T10:02:30Z"
                    .to_string()
            ),
        ]
    );
    // A lower watermark does not reopen anything.
    assert_eq!(tick(&mut a, T10), vec![]);
    assert_eq!(update(&mut a, &[view(1, T10 + 1, 1)]).len(), 1);
    let rows = tick(&mut a, i64::MAX);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "2@2026-11-23T10:02");
    // After the input ended every window is closed: anything more is late.
    assert!(
        update(&mut a, &[view(1, T10 + 10 * MIN, 1)])[0]
            .1
            .starts_with("late: ")
    );
}

#[test]
fn unknown_campaign_policies() {
    let input = [view(1, T10, 1_000), view(90_003, T10 + 1, 2_000)];
    let mut dlq = agg("");
    assert_eq!(
        update(&mut dlq, &input),
        vec![(
            1,
            "unknown_campaign: campaign 90003 is not in the campaigns table".to_string()
        )]
    );
    assert_eq!(tick(&mut dlq, i64::MAX).len(), 1);

    let mut drop = agg(r#""unknown_campaign":"drop""#);
    assert_eq!(update(&mut drop, &input), vec![]);
    let rows = tick(&mut drop, i64::MAX);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "1@2026-11-23T10:00");

    let mut null = agg(r#""unknown_campaign":"null""#);
    assert_eq!(update(&mut null, &input), vec![]);
    let rows = tick(&mut null, i64::MAX);
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[1].1,
        r#"{"campaign_id":90003,"network_id":null,"campaign_name":null,"minute_timestamp":"2026-11-23T10:00","window_start":1795428000000,"window_end":1795428060000,"view_count":1,"avg_duration_s":2.0,"total_duration_ms":2000}"#
    );
}

#[test]
fn late_is_checked_before_the_campaign() {
    let mut a = agg(r#""unknown_campaign":"drop""#);
    tick(&mut a, T10 + MIN);
    let fails = update(&mut a, &[view(90_003, T10, 1)]);
    assert!(fails[0].1.starts_with("late: "), "{fails:?}");
}

#[test]
fn malformed_views_fail_with_codes() {
    let mut a = agg("");
    let fails = update(
        &mut a,
        &[
            "not json".into(),
            "[1,2]".into(),
            r#"{"view_id":"a","start_timestamp":1}"#.into(),
            r#"{"view_id":"a","start_timestamp":"x","end_timestamp":1,"banner_id":1,"campaign_id":1}"#.into(),
            view(1, T10 + 5_000, -1_500),
            format!(
                r#"{{"view_id":"a","start_timestamp":{},"end_timestamp":{},"banner_id":1,"campaign_id":1}}"#,
                i64::MIN,
                i64::MAX
            ),
            format!(
                r#"{{"view_id":"a","start_timestamp":{},"end_timestamp":{},"banner_id":1,"campaign_id":1}}"#,
                i64::MAX - 5,
                i64::MAX
            ),
            view(1, T10, 0),
        ],
    );
    let reasons: Vec<&str> = fails.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(
        fails.iter().map(|f| f.0).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4, 5, 6]
    );
    assert!(reasons[0].starts_with("malformed_json: value is not valid JSON"));
    assert_eq!(reasons[1], "malformed_json: value is not a JSON object");
    assert_eq!(
        reasons[2],
        "missing_field: required fields end_timestamp, banner_id, campaign_id are missing"
    );
    assert_eq!(
        reasons[3],
        "wrong_type: start_timestamp is not a 64-bit integer: \"x\""
    );
    assert_eq!(
        reasons[4],
        "negative_duration: view ends at 2026-11-23T10:00:03.500Z, 1500 ms before it starts \
         at 2026-11-23T10:00:05.000Z"
    );
    assert!(reasons[5].starts_with("wrong_type: end_timestamp 9223372036854775807 minus"));
    assert!(
        reasons[6].contains("too far from 1970 for a window"),
        "{}",
        reasons[6]
    );
    let mut out = FlatBatch::default();
    out.push(None, None, &[], 0);
    let mut o = Outcome::default();
    a.update(&out.records().expect("layout"), &mut o)
        .expect("update");
    assert_eq!(
        o.failures[0].text(),
        "malformed_json: record has no value (a tombstone)"
    );
    // The zero-length view counted.
    let rows = tick(&mut a, i64::MAX);
    assert!(
        rows[0].1.contains(r#""view_count":1,"avg_duration_s":0.0"#),
        "{rows:?}"
    );
}

#[test]
fn windows_before_1970_and_of_other_sizes() {
    let mut a = agg(r#""window_ms":30000"#);
    update(
        &mut a,
        &[
            view(1, -1, 1_000),
            view(1, T10 + 45_000, 3_000),
            view(1, T10 + 29_999, 10),
        ],
    );
    let rows = tick(&mut a, i64::MAX);
    let keys: Vec<(&str, i64)> = rows.iter().map(|r| (r.0.as_str(), r.2)).collect();
    assert_eq!(
        keys,
        [
            ("1@1969-12-31T23:59", -30_000),
            ("1@2026-11-23T10:00", T10),
            ("1@2026-11-23T10:00", T10 + 30_000),
        ]
    );
    assert!(
        rows[0]
            .1
            .contains(r#""window_start":-30000,"window_end":0,"#)
    );
}

#[test]
fn state_survives_a_restart_through_the_snapshot() {
    let mut a = agg("");
    update(&mut a, &[view(1, T10, 1_000), view(2, T10 + MIN, 2_000)]);
    assert_eq!(tick(&mut a, T10 + MIN).len(), 1);
    update(&mut a, &[view(2, T10 + MIN + 1, 4_000)]);
    let snap = a.snapshot();

    let mut b = agg("");
    b.restore(&snap).expect("restore");
    assert_eq!(b.snapshot(), snap);
    assert!(
        update(&mut b, &[view(1, T10 + 1, 1)])[0]
            .1
            .starts_with("late: "),
        "watermark kept"
    );
    let rows = tick(&mut b, i64::MAX);
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0]
            .1
            .contains(r#""view_count":2,"avg_duration_s":3.0,"total_duration_ms":6000"#)
    );

    let mut c = agg(r#""window_ms":30000"#);
    let err = c.restore(&snap).expect_err("other window size");
    assert!(err.contains("the config says window_ms = 30000"), "{err}");
    let mut d = agg("");
    assert_eq!(d.restore(b""), Ok(()));
    assert_eq!(tick(&mut d, i64::MAX), vec![]);
}

/// Not a check but a measurement, in release:
/// `cargo test --release -p campaign-minute -- --ignored --nocapture`
/// prints what one view costs in `update`.
#[test]
#[ignore]
fn per_record_cost() {
    let mut batch = FlatBatch::default();
    for i in 0..1000 {
        let v = view(1 + i % 2, T10 + i * 50, 1_500);
        batch.push(Some(b"k"), Some(v.as_bytes()), &[], 0);
    }
    let records = batch.records().expect("layout");
    let mut a = agg("");
    let ns = weir_sdk::testing::ns_per_call(records.len(), || {
        let mut out = Outcome::default();
        a.update(&records, &mut out).expect("update");
        assert!(out.failures.is_empty());
    });
    println!("campaign-minute: update {ns:.0} ns per view");
}
