//! The memory of seen event ids behind `duplicate_event_id`, and its snapshot.

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

/// First bytes of a snapshot; the digit is the format version.
const MAGIC: &[u8; 8] = b"wdedup1\n";

/// Event ids of valid events with the record time they were seen at, forgotten
/// oldest first once past the retention or the size cap.
#[derive(Debug)]
pub struct Seen {
    /// Id → record time of its latest valid occurrence.
    times: HashMap<Rc<str>, i64>,
    /// Ids in the order remembered, with the time they were remembered at. An id
    /// remembered again leaves a stale entry here, skipped when it comes up.
    order: VecDeque<(i64, Rc<str>)>,
    /// Latest record time remembered.
    clock: i64,
    retention_ms: i64,
    max_ids: usize,
}

impl Seen {
    pub fn new(retention_ms: u64, max_ids: u32) -> Self {
        Seen {
            times: HashMap::new(),
            order: VecDeque::new(),
            clock: i64::MIN,
            retention_ms: i64::try_from(retention_ms).unwrap_or(i64::MAX),
            max_ids: max_ids as usize,
        }
    }

    pub fn len(&self) -> usize {
        self.times.len()
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Whether `id` was remembered at most the retention away from `at_ms`.
    pub fn contains(&self, id: &str, at_ms: i64) -> bool {
        self.times
            .get(id)
            .is_some_and(|&t| (i128::from(at_ms) - i128::from(t)).abs() <= self.retention_ms.into())
    }

    /// Remembers `id` as seen at `at_ms`, then forgets what is too old or too much.
    pub fn remember(&mut self, id: &str, at_ms: i64) {
        if self.max_ids == 0 {
            return;
        }
        let key = match self.times.get_key_value(id) {
            Some((k, _)) => Rc::clone(k),
            None => Rc::from(id),
        };
        self.times.insert(Rc::clone(&key), at_ms);
        self.order.push_back((at_ms, key));
        self.clock = self.clock.max(at_ms);
        self.forget();
    }

    fn forget(&mut self) {
        let horizon = self.clock.saturating_sub(self.retention_ms);
        while let Some((t, id)) = self.order.front() {
            let live = self.times.get(id) == Some(t);
            if live && *t >= horizon && self.times.len() <= self.max_ids {
                break;
            }
            if live {
                self.times.remove(id);
            }
            self.order.pop_front();
        }
    }

    /// `wdedup1\n`, the id count, then per id in the order remembered: record time
    /// (i64), id length (u32), id bytes; integers little-endian.
    pub fn snapshot(&self) -> Vec<u8> {
        let live: Vec<_> = self
            .order
            .iter()
            .filter(|(t, id)| self.times.get(id) == Some(t))
            .collect();
        let bytes: usize = live.iter().map(|(_, id)| 12 + id.len()).sum();
        let mut out = Vec::with_capacity(MAGIC.len() + 4 + bytes);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(live.len() as u32).to_le_bytes());
        for (t, id) in live {
            out.extend_from_slice(&t.to_le_bytes());
            out.extend_from_slice(&(id.len() as u32).to_le_bytes());
            out.extend_from_slice(id.as_bytes());
        }
        out
    }

    /// Replaces the memory with a [`Seen::snapshot`]; an empty state is an empty
    /// memory. The current retention and cap apply to what is restored.
    pub fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        let mut fresh = Seen {
            times: HashMap::new(),
            order: VecDeque::new(),
            clock: i64::MIN,
            retention_ms: self.retention_ms,
            max_ids: self.max_ids,
        };
        if !state.is_empty() {
            let entries = decode(state).map_err(|e| format!("purchases-validate snapshot: {e}"))?;
            for (t, id) in entries {
                if fresh.times.contains_key(id) {
                    return Err(format!(
                        "purchases-validate snapshot: event id {id:?} appears twice"
                    ));
                }
                let key: Rc<str> = Rc::from(id);
                fresh.times.insert(Rc::clone(&key), t);
                fresh.order.push_back((t, key));
                fresh.clock = fresh.clock.max(t);
            }
            fresh.forget();
        }
        *self = fresh;
        Ok(())
    }
}

fn decode(state: &[u8]) -> Result<Vec<(i64, &str)>, String> {
    let mut r = Reader { buf: state, at: 0 };
    if r.take(MAGIC.len())? != MAGIC {
        return Err("not a duplicate-filter snapshot (bad header)".into());
    }
    let count = u32::from_le_bytes(r.array()?);
    let mut entries = Vec::with_capacity((count as usize).min(state.len() / 12));
    for i in 0..count {
        let t = i64::from_le_bytes(r.array()?);
        let len = u32::from_le_bytes(r.array()?);
        let id = std::str::from_utf8(r.take(len as usize)?)
            .map_err(|_| format!("event id #{i} is not UTF-8"))?;
        entries.push((t, id));
    }
    if r.at != state.len() {
        return Err(format!(
            "{} bytes left after {count} event ids",
            state.len() - r.at
        ));
    }
    Ok(entries)
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| {
            format!(
                "truncated: needs {n} bytes at offset {} of {}",
                self.at,
                self.buf.len()
            )
        })?;
        let slice = &self.buf[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let bytes = self.take(N)?;
        let mut out = [0; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_within_retention_by_record_time() {
        let mut s = Seen::new(1_000, 10);
        s.remember("a", 5_000);
        assert!(s.contains("a", 5_000));
        assert!(s.contains("a", 6_000));
        assert!(s.contains("a", 4_000));
        assert!(!s.contains("a", 6_001));
        assert!(!s.contains("b", 5_000));
    }

    #[test]
    fn forgets_what_falls_out_of_retention() {
        let mut s = Seen::new(1_000, 10);
        s.remember("a", 0);
        s.remember("b", 900);
        s.remember("c", 1_500);
        assert_eq!(s.len(), 2, "a is older than 1500 - 1000");
        assert!(!s.contains("a", 0), "forgotten, not just expired");
    }

    #[test]
    fn the_cap_evicts_the_oldest_first() {
        let mut s = Seen::new(u64::MAX, 3);
        for (i, id) in ["a", "b", "c", "d"].iter().enumerate() {
            s.remember(id, i as i64);
        }
        assert_eq!(s.len(), 3);
        assert!(!s.contains("a", 3));
        assert!(s.contains("b", 3) && s.contains("d", 3));
    }

    #[test]
    fn an_id_remembered_again_is_kept_by_its_latest_time() {
        let mut s = Seen::new(100, 10);
        s.remember("a", 0);
        s.remember("a", 500);
        s.remember("b", 550);
        assert!(s.contains("a", 550));
        assert_eq!(s.len(), 2);
        assert_eq!(decode(&s.snapshot()).expect("valid").len(), 2);
    }

    #[test]
    fn zero_cap_remembers_nothing() {
        let mut s = Seen::new(1_000, 0);
        s.remember("a", 0);
        assert!(!s.contains("a", 0));
    }

    #[test]
    fn snapshot_round_trip_is_exact_and_deterministic() {
        let mut s = Seen::new(10_000, 100);
        for i in 0..50 {
            s.remember(&format!("id-{i}-é"), 1_000 + i);
        }
        let bytes = s.snapshot();
        let mut t = Seen::new(10_000, 100);
        t.restore(&bytes).expect("restores");
        assert_eq!(t.snapshot(), bytes);
        assert!(t.contains("id-7-é", 1_007));
        assert_eq!(t.len(), 50);
        let mut small = Seen::new(10_000, 10);
        small.restore(&bytes).expect("restores");
        assert_eq!(small.len(), 10, "the cap applies to a restored memory");
        assert!(small.contains("id-49-é", 1_049) && !small.contains("id-39-é", 1_049));
    }

    #[test]
    fn restore_refuses_garbage_readably() {
        let mut s = Seen::new(1_000, 10);
        s.remember("a", 1);
        s.remember("b", 2);
        let good = s.snapshot();
        let err = |bytes: &[u8]| Seen::new(1_000, 10).restore(bytes).expect_err("garbage");
        assert!(err(b"{\"ids\":[]}").contains("bad header"));
        assert!(err(&good[..good.len() - 1]).contains("truncated"));
        let mut extra = good.clone();
        extra.push(0);
        assert!(err(&extra).contains("1 bytes left"));
        let mut twice = good.clone();
        let last = twice.len() - 1;
        twice[last] = b'a';
        assert!(err(&twice).contains("appears twice"));
        let mut bad_utf8 = good;
        bad_utf8[last] = 0xff;
        assert!(err(&bad_utf8).contains("not UTF-8"));
        let mut t = Seen::new(1_000, 10);
        t.restore(&[]).expect("empty is an empty memory");
        assert!(t.is_empty());
    }
}
