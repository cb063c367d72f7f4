//! The record stream the plugin emits: generated events, some replaced by a
//! defective event or by a copy of a recent valid one, each such record labelled.

use std::collections::VecDeque;

use purchases_model::codes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::events::Generator;
use crate::faults;

/// Header naming the rule codes a validator must report for an injected record.
pub const INJECTED_HEADER: &str = "weir.injected";

/// How many recent valid events a duplicate is copied from.
const RECENT: usize = 32;

/// Independent of the event stream, so the same seed gives the same events at the
/// same positions whatever the ratios are.
const FAULT_SEED: u64 = 0xFA17_5EED_D15C_0DE5;

/// One record of the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Emitted {
    /// The customer id of the event, even when the value lacks or garbles it.
    pub key: String,
    pub value: Vec<u8>,
    /// The rule code the record breaks (the `weir.injected` header); none when valid.
    pub injected: Option<&'static str>,
    pub timestamp_ms: i64,
}

/// The generator plus defect and duplicate injection, all from seeded random
/// streams: the same seed and ratios give the same records.
pub struct Stream {
    events: Generator,
    faults: SmallRng,
    seed: u64,
    invalid_ratio: f64,
    duplicate_ratio: f64,
    /// Key and value of recent valid events, newest last.
    recent: VecDeque<(String, Vec<u8>)>,
}

impl Stream {
    /// `invalid_ratio` and `duplicate_ratio` are probabilities whose sum is at most 1
    /// (checked by the config).
    pub fn new(seed: u64, customers: u32, invalid_ratio: f64, duplicate_ratio: f64) -> Self {
        Stream {
            events: Generator::new(seed, customers),
            faults: SmallRng::seed_from_u64(seed ^ FAULT_SEED),
            seed,
            invalid_ratio,
            duplicate_ratio,
            recent: VecDeque::with_capacity(RECENT),
        }
    }

    /// Records made so far; the whole snapshot.
    pub fn seq(&self) -> u64 {
        self.events.seq
    }

    /// Continues after `seq` records. Duplicates resume once new valid events exist.
    pub fn resume(&mut self, seq: u64) {
        self.events.resume(seq);
        self.faults = SmallRng::seed_from_u64(
            self.seed ^ FAULT_SEED ^ seq.wrapping_mul(0xC2B2_AE3D_27D4_EB4F),
        );
        self.recent.clear();
    }

    /// The next record, stamped with `now_ms` as event time.
    pub fn next(&mut self, now_ms: i64) -> Result<Emitted, serde_json::Error> {
        let p = self.events.next(now_ms);
        let roll: f64 = self.faults.random();
        if roll < self.invalid_ratio {
            let defect = faults::inject(&p, now_ms, &mut self.faults)?;
            return Ok(Emitted {
                key: p.customer_id,
                value: defect.value,
                injected: Some(defect.code),
                timestamp_ms: now_ms,
            });
        }
        if roll < self.invalid_ratio + self.duplicate_ratio && !self.recent.is_empty() {
            let pick = self.faults.random_range(0..self.recent.len());
            if let Some((key, value)) = self.recent.get(pick) {
                return Ok(Emitted {
                    key: key.clone(),
                    value: value.clone(),
                    injected: Some(codes::DUPLICATE_EVENT_ID),
                    timestamp_ms: now_ms,
                });
            }
        }
        let mut value = Vec::with_capacity(480);
        p.write_json(&mut value);
        // The oldest entry's buffers are reused once the window is full.
        let (mut key, mut copy) = if self.recent.len() == RECENT {
            self.recent.pop_front().unwrap_or_default()
        } else {
            Default::default()
        };
        key.clear();
        key.push_str(&p.customer_id);
        copy.clear();
        copy.extend_from_slice(&value);
        self.recent.push_back((key, copy));
        Ok(Emitted {
            key: p.customer_id,
            value,
            injected: None,
            timestamp_ms: now_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stream: &mut Stream, n: usize) -> Vec<Emitted> {
        (0..n)
            .map(|i| stream.next(1_795_460_082_123 + i as i64 * 10))
            .collect::<Result<_, _>>()
            .expect("serializable")
    }

    #[test]
    fn same_seed_same_stream_with_injections() {
        let a = run(&mut Stream::new(9, 200, 0.2, 0.1), 3_000);
        let b = run(&mut Stream::new(9, 200, 0.2, 0.1), 3_000);
        assert_eq!(a, b);
        assert!(a.iter().any(|e| e.injected.is_some()));
        let c = run(&mut Stream::new(10, 200, 0.2, 0.1), 3_000);
        assert_ne!(a, c);
    }

    #[test]
    fn ratios_are_roughly_respected() {
        let records = run(&mut Stream::new(4, 1_000, 0.1, 0.05), 10_000);
        let dup = records
            .iter()
            .filter(|e| e.injected == Some(codes::DUPLICATE_EVENT_ID))
            .count();
        let invalid = records
            .iter()
            .filter(|e| e.injected.is_some_and(|c| c != codes::DUPLICATE_EVENT_ID))
            .count();
        assert!((850..=1_150).contains(&invalid), "{invalid} invalid");
        assert!((400..=600).contains(&dup), "{dup} duplicates");
    }

    #[test]
    fn every_injected_record_has_exactly_one_known_label() {
        let records = run(&mut Stream::new(2, 100, 0.5, 0.2), 5_000);
        let mut seen = std::collections::BTreeSet::new();
        for e in records.iter().filter_map(|e| e.injected) {
            assert!(!e.contains(','), "{e}");
            assert!(codes::ALL.contains(&e), "{e}");
            seen.insert(e);
        }
        assert_eq!(seen.len(), codes::ALL.len(), "every kind occurs: {seen:?}");
    }

    #[test]
    fn duplicates_copy_a_recent_valid_record_exactly() {
        let records = run(&mut Stream::new(3, 100, 0.0, 0.3), 2_000);
        for (i, e) in records.iter().enumerate() {
            if e.injected == Some(codes::DUPLICATE_EVENT_ID) {
                let original = records[..i]
                    .iter()
                    .rev()
                    .take(200)
                    .find(|o| o.injected.is_none() && o.value == e.value)
                    .expect("copied from an earlier valid record");
                assert_eq!(original.key, e.key);
            }
        }
    }

    #[test]
    fn no_ratios_no_labels_and_the_same_events() {
        let plain = run(&mut Stream::new(6, 100, 0.0, 0.0), 1_000);
        assert!(plain.iter().all(|e| e.injected.is_none()));
        let mixed = run(&mut Stream::new(6, 100, 0.3, 0.0), 1_000);
        let same = plain
            .iter()
            .zip(&mixed)
            .filter(|(a, b)| b.injected.is_none() && a == b)
            .count();
        let valid = mixed.iter().filter(|e| e.injected.is_none()).count();
        assert_eq!(same, valid, "valid records are the plain stream's");
    }

    #[test]
    fn a_resumed_stream_duplicates_only_after_new_valid_events() {
        let mut s = Stream::new(8, 100, 0.0, 1.0);
        let first = run(&mut s, 3);
        assert_eq!(first[0].injected, None);
        assert!(first[1..].iter().all(|e| e.injected.is_some()));
        s.resume(s.seq());
        assert_eq!(run(&mut s, 1)[0].injected, None);
    }
}
