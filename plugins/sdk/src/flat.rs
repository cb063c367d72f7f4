//! The flat batch layout shared by host and guests (see `wit/types.wit`).
//!
//! One codec serves both sides so their views of a batch can never drift apart:
//! the host and the guest bindings move their `batch` fields in and out of
//! [`FlatBatch`] without copying.

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

/// A borrowed view of one record of a [`FlatBatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: Vec<(&'a str, &'a [u8])>,
    pub timestamp_ms: i64,
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
        let span = |data: &mut Vec<u8>, bytes: Option<&[u8]>, out: &mut Vec<u32>| match bytes {
            Some(b) => {
                out.push(data.len() as u32);
                out.push(b.len() as u32);
                data.extend_from_slice(b);
            }
            None => {
                out.push(0);
                out.push(ABSENT);
            }
        };
        span(&mut self.data, key, &mut self.keys);
        span(&mut self.data, value, &mut self.values);
        self.header_counts.push(headers.len() as u32);
        for (name, value) in headers {
            span(&mut self.data, Some(name.as_bytes()), &mut self.headers);
            span(&mut self.data, Some(value), &mut self.headers);
        }
        self.timestamps.push(timestamp_ms);
    }

    /// Every record, after checking that all offsets fit the buffer.
    pub fn records(&self) -> Result<Vec<RecordRef<'_>>, LayoutError> {
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
        let mut out = Vec::with_capacity(n);
        let mut h = 0usize;
        for i in 0..n {
            let key = self.slice(self.keys[2 * i], self.keys[2 * i + 1])?;
            let value = self.slice(self.values[2 * i], self.values[2 * i + 1])?;
            let count = self.header_counts[i] as usize;
            let mut headers = Vec::with_capacity(count);
            for _ in 0..count {
                let q = &self.headers[h..h + 4];
                h += 4;
                let name = self.slice(q[0], q[1])?.unwrap_or_default();
                let name = std::str::from_utf8(name)
                    .map_err(|_| LayoutError(format!("record {i}: header name is not UTF-8")))?;
                let value = self.slice(q[2], q[3])?.unwrap_or_default();
                headers.push((name, value));
            }
            out.push(RecordRef {
                key,
                value,
                headers,
                timestamp_ms: self.timestamps[i],
            });
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

/// What a transform or aggregator made of an input batch: outputs (each naming the
/// input it came from) and rejected inputs with reasons. Inputs with neither are
/// dropped on purpose.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub output: FlatBatch,
    pub origins: Vec<u32>,
    pub failures: Vec<(u32, String)>,
}

impl Outcome {
    /// Emits an output record derived from input `origin`.
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

    /// Rejects input `index`; the host sends it to the DLQ with `reason`.
    pub fn fail(&mut self, index: usize, reason: impl Into<String>) {
        self.failures.push((index as u32, reason.into()));
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
}
