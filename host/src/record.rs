//! The host's record and batch type, and their conversion to the flat layout
//! that crosses into plugins.

use std::sync::Arc;

use weir_sdk::flat::{FlatBatch, LayoutError};

/// Where a record was read from; kept through plugin stages so offsets can be
/// committed and DLQ entries can name their origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
}

/// One record: optional key, optional value (none = tombstone), headers, event time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub timestamp_ms: i64,
    pub origin: Option<Origin>,
}

impl Record {
    /// A record with nothing in it; allocates nothing.
    pub fn empty() -> Self {
        Record {
            key: None,
            value: None,
            headers: Vec::new(),
            timestamp_ms: 0,
            origin: None,
        }
    }
}

/// The one batch type of the host.
pub type Batch = Vec<Record>;

/// Packs records into the flat layout.
pub fn to_flat(records: &[Record]) -> FlatBatch {
    let bytes = records
        .iter()
        .map(|r| {
            r.key.as_ref().map_or(0, Vec::len)
                + r.value.as_ref().map_or(0, Vec::len)
                + r.headers
                    .iter()
                    .map(|(k, v)| k.len() + v.len())
                    .sum::<usize>()
        })
        .sum();
    let mut flat = FlatBatch::with_capacity(records.len(), bytes);
    let mut headers: Vec<(&str, &[u8])> = Vec::new();
    for r in records {
        headers.clear();
        headers.extend(r.headers.iter().map(|(k, v)| (k.as_str(), v.as_slice())));
        flat.push(
            r.key.as_deref(),
            r.value.as_deref(),
            &headers,
            r.timestamp_ms,
        );
    }
    flat
}

/// Unpacks a flat batch that came from a plugin; `origin(i)` gives record `i`'s origin.
pub fn from_flat(
    flat: &FlatBatch,
    origin: impl Fn(usize) -> Option<Origin>,
) -> Result<Batch, LayoutError> {
    Ok(flat
        .records()?
        .into_iter()
        .enumerate()
        .map(|(i, r)| Record {
            key: r.key.map(<[u8]>::to_vec),
            value: r.value.map(<[u8]>::to_vec),
            headers: r
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_vec()))
                .collect(),
            timestamp_ms: r.timestamp_ms,
            origin: origin(i),
        })
        .collect())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_the_flat_layout() {
        let origin = Origin {
            topic: "t".into(),
            partition: 2,
            offset: 9,
        };
        let batch = vec![
            Record {
                key: Some(b"k".to_vec()),
                value: None,
                headers: vec![("h".into(), b"v".to_vec())],
                timestamp_ms: 5,
                origin: Some(origin.clone()),
            },
            Record {
                key: None,
                value: Some(b"{}".to_vec()),
                headers: vec![],
                timestamp_ms: 6,
                origin: Some(origin.clone()),
            },
        ];
        let back = from_flat(&to_flat(&batch), |_| Some(origin.clone())).unwrap();
        assert_eq!(back, batch);
    }
}
