//! `gtfs-rt`: a transform plugin decoding GTFS-realtime feeds. Each input value
//! is one serialized `transit_realtime.FeedMessage`; each valid entity becomes
//! one JSON record `{"header":{…},"entity":{…}}`, where both parts are exactly
//! what Python's `json_format.MessageToDict` gives for `FeedMessage.header` and
//! the `FeedEntity` (see [`json`]). Keys come from [`feed`]. Its state is the
//! last header timestamp per feed URL, to drop feeds that have not advanced.

pub mod config;
pub mod feed;
pub mod json;
pub mod proto;

use std::collections::BTreeMap;

use config::{Config, FieldNames};
use proto::transit_realtime::FeedMessage;
use weir_sdk::{Outcome, RecordRef, Rejection, Transform};

/// Entity records made from one input, and the skipped entities.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// `(key, JSON value)` per valid entity, in feed order.
    pub records: Vec<(String, Vec<u8>)>,
    /// Why each skipped entity was left out.
    pub skipped: Vec<String>,
    /// `FeedHeader.timestamp`, when the feed has one.
    pub header_timestamp: Option<u64>,
}

/// The rule broken by a value that is not a GTFS-realtime FeedMessage.
pub const MALFORMED_PROTOBUF: &str = "malformed_protobuf";

/// The host's header naming the URL a polled body came from.
const URL_HEADER: &str = "weir.http.url";

/// The plugin: the configured field names, and the last header timestamp
/// seen per feed.
pub struct GtfsRt {
    names: FieldNames,
    skip_stale: bool,
    last: BTreeMap<String, u64>,
}

impl GtfsRt {
    /// Decodes one input value; the error is why the input goes to the DLQ.
    pub fn decode(&self, value: Option<&[u8]>) -> Result<Decoded, Rejection> {
        let feed = feed::decode(value)?;
        let mut decoded = Decoded {
            header_timestamp: header_timestamp(&feed),
            ..Decoded::default()
        };
        let skipped = self.each_record(&feed, &mut Vec::new(), |key, value| {
            decoded.records.push((key.to_owned(), value.to_vec()));
        });
        decoded.skipped = skipped;
        Ok(decoded)
    }

    /// Writes each valid entity's record value into `buffer` (reused) and
    /// hands it to `emit` with its key; returns why the others were skipped.
    /// The feed is decoded once; the header's JSON is written once.
    fn each_record(
        &self,
        feed: &FeedMessage,
        buffer: &mut Vec<u8>,
        mut emit: impl FnMut(&str, &[u8]),
    ) -> Vec<String> {
        let sorted = feed::sort(feed);
        if !sorted.keyed.is_empty() {
            let header = feed.header.as_ref().map(|h| json::to_vec(h, self.names));
            let header = header.as_deref().unwrap_or(b"{}");
            for k in &sorted.keyed {
                buffer.clear();
                json::record(buffer, header, &feed.entity[k.index], self.names);
                emit(k.key, buffer);
            }
        }
        sorted.skipped
    }
}

fn header_timestamp(feed: &FeedMessage) -> Option<u64> {
    feed.header.as_ref().and_then(|h| h.timestamp)
}

impl Transform for GtfsRt {
    fn init(config: &str) -> Result<Self, String> {
        let config = Config::parse(config)?;
        Ok(GtfsRt {
            names: config.field_names,
            skip_stale: config.skip_stale,
            last: BTreeMap::new(),
        })
    }

    /// One record per valid entity with the input's headers and timestamp; a
    /// value that is not a FeedMessage fails. Invalid entities cannot fail on
    /// their own (a failure names the input), so they are skipped with a warning.
    fn process(&mut self, input: &[RecordRef<'_>], out: &mut Outcome) -> Result<(), String> {
        let mut buffer = Vec::new();
        for (i, r) in input.iter().enumerate() {
            let feed = match feed::decode(r.value) {
                Ok(feed) => feed,
                Err(rejection) => {
                    out.reject(i, rejection);
                    continue;
                }
            };
            if !self.advanced(r, header_timestamp(&feed)) {
                continue;
            }
            let mut emitted = 0;
            let skipped = self.each_record(&feed, &mut buffer, |key, value| {
                out.emit(
                    i,
                    Some(key.as_bytes()),
                    Some(value),
                    &r.headers,
                    r.timestamp_ms,
                );
                emitted += 1;
            });
            if !skipped.is_empty() {
                warn_skipped(i, &skipped, emitted);
            }
        }
        Ok(())
    }

    fn snapshot(&self) -> Vec<u8> {
        weir_sdk::snapshot_json(&self.last)
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        self.last = weir_sdk::restore_json("gtfs-rt", state)?.unwrap_or_default();
        Ok(())
    }
}

impl GtfsRt {
    /// Whether a decoded feed is newer than the last one from the same URL (or
    /// key); remembers it when it is. Feeds without a timestamp always pass.
    fn advanced(&mut self, r: &RecordRef<'_>, timestamp: Option<u64>) -> bool {
        let (true, Some(ts)) = (self.skip_stale, timestamp) else {
            return true;
        };
        let source = r
            .header(URL_HEADER)
            .or(r.key)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        if let Some(&last) = self.last.get(&source)
            && ts <= last
        {
            weir_sdk::log(
                weir_sdk::Level::Info,
                &format!(
                    "feed {source}: header timestamp {ts} has not advanced past {last}; skipped"
                ),
            );
            return false;
        }
        self.last.insert(source, ts);
        true
    }
}

/// One warning per input, naming at most five skipped entities.
fn warn_skipped(index: usize, skipped: &[String], emitted: usize) {
    let shown: Vec<&str> = skipped.iter().take(5).map(String::as_str).collect();
    let more = skipped.len().saturating_sub(shown.len());
    let tail = if more > 0 {
        format!("; and {more} more")
    } else {
        String::new()
    };
    weir_sdk::log(
        weir_sdk::Level::Warn,
        &format!(
            "input={index} skipped={} emitted={emitted} Skipped invalid GTFS-realtime entities: {}{tail}",
            skipped.len(),
            shown.join("; ")
        ),
    );
}

weir_sdk::export_transform!(GtfsRt);
