//! The flat batch layout shared by host and guests (see `wit/types.wit`).
//!
//! One codec serves both sides so their views of a batch can never drift apart:
//! the host and the guest bindings move their `batch` fields in and out of
//! [`FlatBatch`] without copying.

use std::borrow::Cow;
use std::fmt;

/// Length marking an absent key or value (a tombstone).
pub const ABSENT: u32 = u32::MAX;

/// Records as one byte buffer plus offset lists, the shape that crosses the
/// WebAssembly boundary in one block copy per field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlatBatch {
    pub data: Vec<u8>,
    pub keys: Vec<u32>,
    pub values: Vec<u32>,
    pub header_counts: Vec<u32>,
    pub headers: Vec<u32>,
    pub timestamps: Vec<i64>,
}

/// Writes `bytes` (absent: `None`) at the end of `data` and its start and
/// length into `out`: how every key, value and header enters the layout.
pub fn span(data: &mut Vec<u8>, bytes: Option<&[u8]>, out: &mut Vec<u32>) {
    match bytes {
        Some(b) => {
            out.push(data.len() as u32);
            out.push(b.len() as u32);
            data.extend_from_slice(b);
        }
        None => {
            out.push(0);
            out.push(ABSENT);
        }
    }
}

/// A borrowed view of one record of a [`FlatBatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    /// Borrowed from the batch's [`HeaderTable`] on a plugin's path, so a
    /// record with headers costs no allocation; owned from [`FlatBatch::records`].
    pub headers: Cow<'a, [(&'a str, &'a [u8])]>,
    pub timestamp_ms: i64,
}

/// Every header of a batch as `(name, value)`, in record order, read and
/// checked once: the records of [`HeaderTable::records`] are slices of it.
#[derive(Debug)]
pub struct HeaderTable<'a> {
    batch: &'a FlatBatch,
    pairs: Vec<(&'a str, &'a [u8])>,
}

impl HeaderTable<'_> {
    /// Every record of the batch, its headers borrowed from this table: the
    /// path of a plugin call, with one allocation per batch however many
    /// records carry headers.
    pub fn records(&self) -> Result<Vec<RecordRef<'_>>, LayoutError> {
        self.batch.build(&self.pairs, Cow::Borrowed)
    }
}

impl<'a> RecordRef<'a> {
    /// The first header with this name.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }
}

/// A batch whose offsets do not fit its buffer: a bug on the side that built it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutError(pub String);

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed batch layout: {}", self.0)
    }
}

impl std::error::Error for LayoutError {}

impl FlatBatch {
    pub fn with_capacity(records: usize, bytes: usize) -> Self {
        FlatBatch {
            data: Vec::with_capacity(bytes),
            keys: Vec::with_capacity(records * 2),
            values: Vec::with_capacity(records * 2),
            header_counts: Vec::with_capacity(records),
            headers: Vec::new(),
            timestamps: Vec::with_capacity(records),
        }
    }

    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }

    /// Appends one record.
    pub fn push(
        &mut self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, &[u8])],
        timestamp_ms: i64,
    ) {
        span(&mut self.data, key, &mut self.keys);
        span(&mut self.data, value, &mut self.values);
        self.header_counts.push(headers.len() as u32);
        for (name, value) in headers {
            span(&mut self.data, Some(name.as_bytes()), &mut self.headers);
            span(&mut self.data, Some(value), &mut self.headers);
        }
        self.timestamps.push(timestamp_ms);
    }

    /// Checks that every offset fits the buffer and header names are UTF-8,
    /// without building anything.
    pub fn validate(&self) -> Result<(), LayoutError> {
        self.check_lengths()?;
        for i in 0..self.len() {
            self.slice(self.keys[2 * i], self.keys[2 * i + 1])?;
            self.slice(self.values[2 * i], self.values[2 * i + 1])?;
        }
        self.header_pairs().try_for_each(|h| h.map(|_| ()))
    }

    fn check_lengths(&self) -> Result<(), LayoutError> {
        let n = self.timestamps.len();
        if self.keys.len() != 2 * n || self.values.len() != 2 * n || self.header_counts.len() != n {
            return Err(LayoutError(format!(
                "{n} timestamps but {} key, {} value and {} header-count entries",
                self.keys.len(),
                self.values.len(),
                self.header_counts.len()
            )));
        }
        let total_headers: u64 = self.header_counts.iter().map(|&c| u64::from(c)).sum();
        if self.headers.len() as u64 != total_headers * 4 {
            return Err(LayoutError(format!(
                "{total_headers} headers need {} header offsets, got {}",
                total_headers * 4,
                self.headers.len()
            )));
        }
        Ok(())
    }

    /// Every header of the batch, after checking that the offsets fit the
    /// buffer and every name is UTF-8.
    pub fn header_table(&self) -> Result<HeaderTable<'_>, LayoutError> {
        self.check_lengths()?;
        let pairs = self.header_pairs().collect::<Result<_, _>>()?;
        Ok(HeaderTable { batch: self, pairs })
    }

    /// Each header as `(name, value)`, or why its offsets or name are wrong.
    fn header_pairs(&self) -> impl Iterator<Item = Result<(&str, &[u8]), LayoutError>> {
        self.headers.chunks_exact(4).enumerate().map(|(i, q)| {
            let name = self.slice(q[0], q[1])?.unwrap_or_default();
            let name = std::str::from_utf8(name).map_err(|_| {
                LayoutError(format!(
                    "record {}: header name is not UTF-8",
                    self.record_of_header(i)
                ))
            })?;
            Ok((name, self.slice(q[2], q[3])?.unwrap_or_default()))
        })
    }

    /// The record the `i`th header of the batch belongs to.
    fn record_of_header(&self, i: usize) -> usize {
        let mut seen = 0usize;
        self.header_counts
            .iter()
            .position(|&c| {
                seen += c as usize;
                seen > i
            })
            .unwrap_or(self.header_counts.len())
    }

    /// Every record, after checking that all offsets fit the buffer; each
    /// record owns the list of its headers (for tests and tools that keep
    /// records apart from their batch's table).
    pub fn records(&self) -> Result<Vec<RecordRef<'_>>, LayoutError> {
        let table = self.header_table()?;
        self.build(&table.pairs, |h| Cow::Owned(h.to_vec()))
    }

    /// The records, the headers of each (its slice of `table`, this batch's
    /// headers, whose lengths [`FlatBatch::header_table`] checked) made into
    /// the record's list by `headers`.
    fn build<'a, 't>(
        &'a self,
        table: &'t [(&'a str, &'a [u8])],
        headers: impl Fn(&'t [(&'a str, &'a [u8])]) -> Cow<'a, [(&'a str, &'a [u8])]>,
    ) -> Result<Vec<RecordRef<'a>>, LayoutError> {
        let n = self.timestamps.len();
        let mut out = Vec::with_capacity(n);
        let mut h = 0usize;
        for i in 0..n {
            let count = self.header_counts[i] as usize;
            out.push(RecordRef {
                key: self.slice(self.keys[2 * i], self.keys[2 * i + 1])?,
                value: self.slice(self.values[2 * i], self.values[2 * i + 1])?,
                headers: headers(&table[h..h + count]),
                timestamp_ms: self.timestamps[i],
            });
            h += count;
        }
        Ok(out)
    }

    fn slice(&self, start: u32, len: u32) -> Result<Option<&[u8]>, LayoutError> {
        if len == ABSENT {
            return Ok(None);
        }
        let start = start as usize;
        let end = start.saturating_add(len as usize);
        self.data.get(start..end).map(Some).ok_or_else(|| {
            LayoutError(format!(
                "span {start}..{end} outside the {}-byte buffer",
                self.data.len()
            ))
        })
    }
}

/// What a transform or aggregator made of an input batch: new outputs (each
/// naming the input it came from), inputs passed on unchanged, and rejected
/// inputs with their codes and reasons. Inputs with none of these are dropped
/// on purpose.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub output: FlatBatch,
    pub origins: Vec<u32>,
    /// Inputs passed on unchanged, ascending: the host forwards their bytes.
    pub passed: Vec<u32>,
    pub failures: Vec<Failure>,
}

/// Where an output record of an [`Outcome`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// The input at the origin index, passed on unchanged.
    Passed,
    /// Record `j` of the outcome's new records.
    New(usize),
}

/// An input record a plugin rejected. The codes travel apart from the words so
/// the host counts DLQ records per rule without reading the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Index of the record in the input batch.
    pub index: u32,
    /// Rule codes (`missing_field`, …); none counts as `rejected`.
    pub codes: Vec<String>,
    pub reason: String,
}

impl Failure {
    /// `code[,code…]: reason`, the text a DLQ entry carries (just the reason
    /// when there are no codes).
    pub fn text(&self) -> String {
        crate::codes::reason_text(&self.codes, &self.reason)
    }
}

impl Outcome {
    /// Emits a new output record derived from input `origin`.
    pub fn emit(
        &mut self,
        origin: usize,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, &[u8])],
        timestamp_ms: i64,
    ) {
        self.output.push(key, value, headers, timestamp_ms);
        self.origins.push(origin as u32);
    }

    /// Passes input `index` on unchanged without copying it: the host forwards
    /// the record it sent. Call it in input order.
    pub fn pass(&mut self, index: usize) {
        self.passed.push(index as u32);
    }

    /// Rejects input `index` for breaking rule `code`; the host sends it to the
    /// DLQ with `reason`.
    pub fn fail(&mut self, index: usize, code: &str, reason: impl Into<String>) {
        self.failures.push(Failure {
            index: index as u32,
            codes: vec![code.to_string()],
            reason: reason.into(),
        });
    }

    /// Checks the outcome against an input of `inputs` records: every index
    /// names an input, the new records decode, and passed inputs and new
    /// records can be merged in input order. The host checks this before it
    /// trusts an outcome.
    pub fn check(&self, inputs: usize) -> Result<(), LayoutError> {
        let in_range = |i: &u32| (*i as usize) < inputs;
        if self.origins.len() != self.output.len() {
            return Err(LayoutError(format!(
                "{} output records but {} origins",
                self.output.len(),
                self.origins.len()
            )));
        }
        if !self.origins.iter().all(in_range)
            || !self.passed.iter().all(in_range)
            || !self.failures.iter().all(|f| in_range(&f.index))
        {
            return Err(LayoutError(format!(
                "the outcome names input records that do not exist (the batch has {inputs})"
            )));
        }
        if !self.passed.is_sorted_by(|a, b| a < b) {
            return Err(LayoutError(
                "passed inputs are not in ascending order".into(),
            ));
        }
        if !self.passed.is_empty() && !self.origins.is_sorted() {
            return Err(LayoutError(
                "records emitted beside passed inputs are not in input order".into(),
            ));
        }
        self.output.validate()
    }

    /// The outputs in the order the next stage gets them, as `(origin, source)`
    /// pairs: passed inputs and new records merged by input index, a passed
    /// input first. Call it on a [checked](Outcome::check) outcome.
    pub fn order(&self) -> impl Iterator<Item = (u32, Output)> + '_ {
        let mut emitted = self.origins.iter().copied().enumerate().peekable();
        let mut passed = self.passed.iter().copied().peekable();
        std::iter::from_fn(move || match (passed.peek(), emitted.peek()) {
            (Some(&p), Some(&(_, o))) if o < p => emitted.next().map(|(j, o)| (o, Output::New(j))),
            (Some(&p), _) => {
                passed.next();
                Some((p, Output::Passed))
            }
            (None, _) => emitted.next().map(|(j, o)| (o, Output::New(j))),
        })
    }

    /// Rejects input `index` with a [`Rejection`](crate::codes::Rejection).
    pub fn reject(&mut self, index: usize, rejection: crate::codes::Rejection) {
        self.failures.push(Failure {
            index: index as u32,
            codes: rejection.codes.iter().map(|c| c.to_string()).collect(),
            reason: rejection.reason,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_every_part() {
        let mut b = FlatBatch::default();
        b.push(
            Some(b"k1"),
            Some(b"{\"a\":1}"),
            &[("h", b"v"), ("x", b"")],
            7,
        );
        b.push(None, None, &[], -1);
        b.push(Some(b""), Some(b"v"), &[], 9);
        let r = b.records().expect("valid");
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].key, Some(&b"k1"[..]));
        assert_eq!(r[0].headers, vec![("h", &b"v"[..]), ("x", &b""[..])]);
        assert_eq!(r[0].header("x"), Some(&b""[..]));
        assert_eq!(r[1].key, None);
        assert_eq!(r[1].value, None);
        assert_eq!(r[1].timestamp_ms, -1);
        assert_eq!(r[2].key, Some(&b""[..]));
        // The plugin's path: the same records, headers borrowed from one table.
        let table = b.header_table().expect("valid");
        let borrowed = table.records().expect("valid");
        assert_eq!(borrowed, r);
        assert!(matches!(borrowed[0].headers, Cow::Borrowed(_)));
        assert!(borrowed[1].headers.is_empty());
    }

    #[test]
    fn a_header_name_that_is_not_utf8_is_refused_by_every_reader() {
        let mut b = FlatBatch::default();
        b.push(None, Some(b"1"), &[("ok", b"v")], 0);
        b.push(None, Some(b"2"), &[], 0);
        b.push(None, Some(b"3"), &[("y", b"v"), ("x", b"v")], 0);
        let x = b.headers[8] as usize;
        b.data[x] = 0xff;
        for err in [
            b.validate().unwrap_err(),
            b.records().unwrap_err(),
            b.header_table().unwrap_err(),
        ] {
            assert_eq!(err.0, "record 2: header name is not UTF-8");
        }
    }

    #[test]
    fn out_of_range_offsets_are_an_error_not_a_panic() {
        let mut b = FlatBatch::default();
        b.push(Some(b"k"), Some(b"v"), &[], 0);
        b.values[0] = 1000;
        assert!(b.records().unwrap_err().0.contains("outside"));
        let mut b = FlatBatch::default();
        b.push(Some(b"k"), Some(b"v"), &[("a", b"b")], 0);
        b.headers.pop();
        assert!(b.records().is_err());
        b.timestamps.push(1);
        assert!(b.records().is_err());
    }

    #[test]
    fn passed_inputs_merge_before_new_records_of_the_same_index() {
        let mut o = Outcome::default();
        o.pass(0);
        o.emit(1, Some(b"a"), None, &[], 0);
        o.pass(2);
        o.emit(2, Some(b"b"), None, &[], 0);
        o.emit(4, Some(b"c"), None, &[], 0);
        o.pass(5);
        o.check(6).expect("well formed");
        let order: Vec<_> = o.order().collect();
        assert_eq!(
            order,
            vec![
                (0, Output::Passed),
                (1, Output::New(0)),
                (2, Output::Passed),
                (2, Output::New(1)),
                (4, Output::New(2)),
                (5, Output::Passed),
            ]
        );
    }

    #[test]
    fn outcomes_that_do_not_fit_their_input_are_refused() {
        let refuse = |o: Outcome| o.check(2).unwrap_err().0;
        let mut o = Outcome::default();
        o.pass(2);
        assert!(refuse(o).contains("do not exist"));
        let mut o = Outcome::default();
        o.pass(1);
        o.pass(0);
        assert!(refuse(o).contains("ascending"));
        let mut o = Outcome::default();
        o.pass(0);
        o.emit(1, None, None, &[], 0);
        o.emit(0, None, None, &[], 0);
        assert!(refuse(o).contains("input order"));
        let mut o = Outcome::default();
        o.emit(0, None, None, &[], 0);
        o.origins.push(1);
        assert!(refuse(o).contains("origins"));
        let mut o = Outcome::default();
        o.fail(5, "x", "y");
        assert!(refuse(o).contains("do not exist"));
        let mut o = Outcome::default();
        o.emit(1, None, None, &[], 0);
        o.emit(0, None, None, &[], 0);
        assert_eq!(o.check(2), Ok(()), "without passed inputs, any order");
    }
}
