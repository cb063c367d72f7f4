//! Any bytes as a GTFS-realtime feed, and feeds with one byte changed: the
//! decoder answers every record (JSON records or a failure with a reason) and
//! never panics.

use gtfs_rt::GtfsRt;
use proptest::prelude::*;
use weir_sdk::{FlatBatch, Outcome, Transform};

fn answers(feed: &[u8]) -> Result<(), TestCaseError> {
    let mut t = GtfsRt::init("{}").expect("init");
    let mut batch = FlatBatch::default();
    batch.push(None, Some(feed), &[], 0);
    let records = batch.records().expect("layout");
    let mut out = Outcome::default();
    t.process(&records, &mut out)
        .expect("a batch is never refused whole");
    prop_assert!(!out.origins.is_empty() || out.failures.len() == 1);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3_000))]

    #[test]
    fn any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        answers(&bytes)?;
    }

    #[test]
    fn a_real_feed_with_one_byte_changed(at in any::<usize>(), byte in any::<u8>()) {
        let mut feed = gtfs_rt::feed::sample(20);
        let n = feed.len();
        feed[at % n] = byte;
        answers(&feed)?;
    }
}
