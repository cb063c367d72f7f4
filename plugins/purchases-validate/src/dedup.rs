//! The memory of seen event ids behind `duplicate_event_id`, and its snapshot.

use std::collections::VecDeque;
use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

/// First bytes of a snapshot; the digit is the format version. Version 2 may
/// hold an id more than once (the later entry wins); version 1 never did.
const MAGIC: &[u8; 8] = b"wdedup2\n";
const MAGIC_V1: &[u8; 8] = b"wdedup1\n";
/// Bytes of an entry besides its id: record time (i64) and id length (u32).
const ENTRY_HEAD: usize = 12;
/// The log is compacted once this many bytes at its front are forgotten (and
/// they are at least a quarter of it), so forgetting costs O(1) per byte and
/// the log stays within 4/3 of what it holds.
const COMPACT_AT: usize = 1 << 16;

/// Event ids of valid events with the record time they were seen at, forgotten
/// oldest first once past the retention or the size cap.
///
/// The memory is one byte log in the snapshot's own encoding plus a hash table
/// of positions into it, so a snapshot is one copy of the log (a pass that
/// looked up and re-encoded every id paused the pipeline for tens of
/// milliseconds at every checkpoint with 200,000 ids), and an id costs its
/// entry in the log and 24 bytes beside it (no allocation per id).
#[derive(Debug)]
pub struct Seen {
    /// Each remembered id's latest entry, as a position in the log counted
    /// from the memory's beginning (`base` + index into `log`), with the id's
    /// hash: the table grows and rehashes without hashing ids again, and a
    /// lookup compares ids only when their hashes match.
    latest: HashTable<Slot>,
    hasher: RandomState,
    /// `log[start..]` holds one entry per remembering, oldest first: record time
    /// (i64), id length (u32), id bytes, little-endian. An id remembered again
    /// leaves its older entry, skipped when it comes up and overridden by the
    /// later one on restore.
    log: Vec<u8>,
    /// The hash of each entry's id in `log[start..]`, oldest first: forgetting
    /// the oldest entry finds it in the table without hashing its id again.
    hashes: VecDeque<u64>,
    start: usize,
    /// Position of `log[0]` since the memory began (compaction drops a prefix).
    base: u64,
    /// Latest record time remembered.
    clock: i64,
    retention_ms: i64,
    max_ids: usize,
}

impl Seen {
    pub fn new(retention_ms: u64, max_ids: u32) -> Self {
        Seen {
            latest: HashTable::new(),
            hasher: RandomState::new(),
            log: Vec::new(),
            hashes: VecDeque::new(),
            start: 0,
            base: 0,
            clock: i64::MIN,
            retention_ms: i64::try_from(retention_ms).unwrap_or(i64::MAX),
            max_ids: max_ids as usize,
        }
    }

    pub fn len(&self) -> usize {
        self.latest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }

    fn hash(&self, id: &str) -> u64 {
        self.hasher.hash_one(id.as_bytes())
    }

    /// The record time `id` was last remembered at.
    fn time_of(&self, id: &str) -> Option<i64> {
        self.time_of_hashed(id, self.hash(id))
    }

    fn time_of_hashed(&self, id: &str, hash: u64) -> Option<i64> {
        let at = self.latest.find(hash, |s| {
            s.hash == hash && id_at(&self.log, self.base, s.position) == id.as_bytes()
        })?;
        entry_at(&self.log[(at.position - self.base) as usize..]).map(|(t, _)| t)
    }

    fn within_retention(&self, t: i64, at_ms: i64) -> bool {
        (i128::from(at_ms) - i128::from(t)).abs() <= self.retention_ms.into()
    }

    /// Whether `id` was remembered at most the retention away from `at_ms`.
    pub fn contains(&self, id: &str, at_ms: i64) -> bool {
        self.time_of(id)
            .is_some_and(|t| self.within_retention(t, at_ms))
    }

    /// Remembers `id` as seen at `at_ms`, then forgets what is too old or too much.
    pub fn remember(&mut self, id: &str, at_ms: i64) {
        let hash = self.hash(id);
        self.remember_hashed(id, hash, at_ms);
    }

    /// [`Seen::contains`], and [`Seen::remember`] when it is not: `true` for
    /// an id seen the first time (within the retention). One hash of the id
    /// for both, which the per-record path needs.
    pub fn first_sight(&mut self, id: &str, at_ms: i64) -> bool {
        let hash = self.hash(id);
        if self
            .time_of_hashed(id, hash)
            .is_some_and(|t| self.within_retention(t, at_ms))
        {
            return false;
        }
        self.remember_hashed(id, hash, at_ms);
        true
    }

    fn remember_hashed(&mut self, id: &str, hash: u64, at_ms: i64) {
        if self.max_ids == 0 {
            return;
        }
        let position = self.base + self.log.len() as u64;
        self.log.extend_from_slice(&at_ms.to_le_bytes());
        self.log.extend_from_slice(&(id.len() as u32).to_le_bytes());
        self.log.extend_from_slice(id.as_bytes());
        self.hashes.push_back(hash);
        let Seen {
            latest, log, base, ..
        } = self;
        let same = |s: &Slot| s.hash == hash && id_at(log, *base, s.position) == id.as_bytes();
        match latest.find_mut(hash, same) {
            Some(s) => s.position = position,
            None => {
                latest.insert_unique(hash, Slot { position, hash }, |s| s.hash);
            }
        }
        self.clock = self.clock.max(at_ms);
        self.forget();
    }

    fn forget(&mut self) {
        let horizon = self.clock.saturating_sub(self.retention_ms);
        let Seen {
            latest,
            log,
            hashes,
            base,
            start,
            ..
        } = self;
        // The oldest entry; it is live when the table points at it.
        while let (Some((t, id)), Some(&hash)) = (entry_at(&log[*start..]), hashes.front()) {
            let here = *base + *start as u64;
            let held = latest.len();
            let found = latest.find_entry(hash, |s| s.position == here);
            if found.is_ok() && t >= horizon && held <= self.max_ids {
                break;
            }
            if let Ok(live) = found {
                live.remove();
            }
            *start += ENTRY_HEAD + id.len();
            hashes.pop_front();
        }
        if *start >= COMPACT_AT && *start * 4 >= log.len() {
            log.drain(..*start);
            *base += *start as u64;
            *start = 0;
            if log.capacity() > 2 * log.len() {
                log.shrink_to(log.len() + log.len() / 2);
            }
        }
    }

    /// `wdedup2\n`, the entry count, then per entry in the order remembered:
    /// record time (i64), id length (u32), id bytes; integers little-endian.
    /// One copy of the log.
    pub fn snapshot(&self) -> Vec<u8> {
        let entries = &self.log[self.start..];
        let mut out = Vec::with_capacity(MAGIC.len() + 4 + entries.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.hashes.len() as u32).to_le_bytes());
        out.extend_from_slice(entries);
        out
    }

    /// Replaces the memory with a [`Seen::snapshot`] (version 2, or version 1
    /// of earlier releases); an empty state is an empty memory. The current
    /// retention and cap apply to what is restored.
    pub fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        let mut fresh = Seen::new(0, 0);
        fresh.retention_ms = self.retention_ms;
        fresh.max_ids = self.max_ids;
        if !state.is_empty() {
            let entries = decode(state).map_err(|e| format!("purchases-validate snapshot: {e}"))?;
            fresh.log.reserve(state.len());
            for (t, id) in entries {
                fresh.remember(id, t);
            }
        }
        *self = fresh;
        Ok(())
    }
}

/// Where an id's latest entry is, and its hash.
#[derive(Debug, Clone, Copy)]
struct Slot {
    position: u64,
    hash: u64,
}

/// The id bytes of the entry at `position` (counted from the memory's
/// beginning); empty if the position is not an entry (never for the table's
/// positions).
fn id_at(log: &[u8], base: u64, position: u64) -> &[u8] {
    log.get((position - base) as usize..)
        .and_then(entry_at)
        .map_or(&[], |(_, id)| id)
}

/// The entry at the start of `bytes`, if it is whole. Its id is UTF-8: the
/// log holds only ids remembered as `&str` (a restored snapshot is checked
/// when decoded), so it is compared and hashed as bytes, unchecked.
fn entry_at(bytes: &[u8]) -> Option<(i64, &[u8])> {
    let t = i64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let len = u32::from_le_bytes(bytes.get(8..ENTRY_HEAD)?.try_into().ok()?) as usize;
    Some((t, bytes.get(ENTRY_HEAD..ENTRY_HEAD + len)?))
}

fn decode(state: &[u8]) -> Result<Vec<(i64, &str)>, String> {
    let mut r = Reader { buf: state, at: 0 };
    let magic = r.take(MAGIC.len())?;
    let repeats_allowed = match magic {
        m if m == MAGIC => true,
        m if m == MAGIC_V1 => false,
        _ => return Err("not a duplicate-filter snapshot (bad header)".into()),
    };
    let count = u32::from_le_bytes(r.array()?);
    let mut entries = Vec::with_capacity((count as usize).min(state.len() / ENTRY_HEAD));
    let mut ids = std::collections::HashSet::new();
    for i in 0..count {
        let t = i64::from_le_bytes(r.array()?);
        let len = u32::from_le_bytes(r.array()?);
        let id = std::str::from_utf8(r.take(len as usize)?)
            .map_err(|_| format!("event id #{i} is not UTF-8"))?;
        if !repeats_allowed && !ids.insert(id) {
            return Err(format!("event id {id:?} appears twice"));
        }
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
        // An older entry behind a live one stays in the log until it comes up;
        // restore lets the later entry win.
        let mut s = Seen::new(100, 10);
        for (id, t) in [("b", 0), ("a", 5), ("c", 8), ("a", 10)] {
            s.remember(id, t);
        }
        assert_eq!(decode(&s.snapshot()).expect("valid").len(), 4);
        let mut t = Seen::new(100, 10);
        t.restore(&s.snapshot()).expect("restores");
        assert_eq!(t.len(), 3);
        assert_eq!(t.time_of("a"), Some(10));
        assert_eq!(t.snapshot(), s.snapshot());
    }

    #[test]
    fn the_log_compacts_and_restores_to_the_same_memory() {
        let mut s = Seen::new(3_000, 1_000);
        let mut x: u64 = 7;
        for t in 0..100_000i64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s.remember(&format!("event-{}", (x >> 33) % 5_000), t / 10);
            assert!(s.len() <= 1_000);
        }
        assert!(s.log.len() < 4 * COMPACT_AT, "compacted: {}", s.log.len());
        let bytes = s.snapshot();
        let mut t = Seen::new(3_000, 1_000);
        t.restore(&bytes).expect("restores");
        assert_eq!(t.len(), s.len());
        for i in 0..5_000 {
            let id = format!("event-{i}");
            assert_eq!(t.time_of(&id), s.time_of(&id), "{id}");
        }
        assert_eq!(t.snapshot(), bytes);
    }

    /// `first_sight` is `contains` then `remember`, with one hash: over the
    /// same ids, times, evictions and compactions both memories agree.
    #[test]
    fn first_sight_is_contains_then_remember() {
        let (mut one, mut two) = (Seen::new(2_000, 500), Seen::new(2_000, 500));
        let mut x: u64 = 11;
        for t in 0..50_000i64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let id = format!("event-{}", (x >> 33) % 3_000);
            let at = t / 4 - i64::from(((x >> 20) as u8).is_multiple_of(3)) * 3_000;
            let expected = !two.contains(&id, at);
            if expected {
                two.remember(&id, at);
            }
            assert_eq!(one.first_sight(&id, at), expected, "{id} at {t}");
        }
        assert_eq!(one.snapshot(), two.snapshot());
        assert_eq!(one.hashes.len(), two.hashes.len());
    }

    #[test]
    fn zero_cap_remembers_nothing() {
        let mut s = Seen::new(1_000, 0);
        s.remember("a", 0);
        assert!(!s.contains("a", 0));
        assert!(s.first_sight("a", 0) && s.first_sight("a", 0));
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
        // Version 1 never held an id twice: one that does is damaged.
        let mut v1 = good.clone();
        v1[..8].copy_from_slice(MAGIC_V1);
        let mut twice = v1.clone();
        let last = twice.len() - 1;
        twice[last] = b'a';
        assert!(err(&twice).contains("appears twice"));
        let mut restored = Seen::new(1_000, 10);
        restored.restore(&v1).expect("version 1 restores");
        assert!(restored.contains("a", 1) && restored.contains("b", 2));
        let mut bad_utf8 = good;
        bad_utf8[last] = 0xff;
        assert!(err(&bad_utf8).contains("not UTF-8"));
        let mut t = Seen::new(1_000, 10);
        t.restore(&[]).expect("empty is an empty memory");
        assert!(t.is_empty());
    }
}
