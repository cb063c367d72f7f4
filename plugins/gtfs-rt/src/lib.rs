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

use config::Config;
use json::Mapper;
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

/// A rejection that is the plugin's fault, not the record's: it breaks no rule,
/// so it carries no code.
pub(crate) fn unexplained(reason: String) -> Rejection {
    Rejection {
        codes: Vec::new(),
        reason,
    }
}

/// The host's header naming the URL a polled body came from.
const URL_HEADER: &str = "weir.http.url";

/// The plugin: a JSON mapper for the configured field names, and the last
/// header timestamp seen per feed.
pub struct GtfsRt {
    mapper: Mapper,
    skip_stale: bool,
    last: BTreeMap<String, u64>,
}

impl GtfsRt {
    /// Decodes one input value; the error is why the input goes to the DLQ.
    pub fn decode(&self, value: Option<&[u8]>) -> Result<Decoded, Rejection> {
        let typed = feed::decode(value)?;
        let sorted = feed::sort(&typed);
        let mut decoded = Decoded {
            records: Vec::with_capacity(sorted.keyed.len()),
            skipped: sorted.skipped,
            header_timestamp: typed.header.timestamp,
        };
        if sorted.keyed.is_empty() {
            return Ok(decoded);
        }
        let json = self.mapper.decode(value.unwrap_or_default())?;
        for k in sorted.keyed {
            let record = self.mapper.record(&json, k.index).map_err(unexplained)?;
            decoded.records.push((k.key, record));
        }
        Ok(decoded)
    }
}

impl Transform for GtfsRt {
    fn init(config: &str) -> Result<Self, String> {
        let config = Config::parse(config)?;
        Ok(GtfsRt {
            mapper: Mapper::new(config.field_names)?,
            skip_stale: config.skip_stale,
            last: BTreeMap::new(),
        })
    }

    /// One record per valid entity with the input's headers and timestamp; a
    /// value that is not a FeedMessage fails. Invalid entities cannot fail on
    /// their own (a failure names the input), so they are skipped with a warning.
    fn process(&mut self, input: &[RecordRef<'_>], out: &mut Outcome) -> Result<(), String> {
        for (i, r) in input.iter().enumerate() {
            match self.decode(r.value) {
                Ok(d) => {
                    if !self.advanced(r, d.header_timestamp) {
                        continue;
                    }
                    for (key, value) in &d.records {
                        out.emit(
                            i,
                            Some(key.as_bytes()),
                            Some(value),
                            &r.headers,
                            r.timestamp_ms,
                        );
                    }
                    if !d.skipped.is_empty() {
                        warn_skipped(i, &d);
                    }
                }
                Err(rejection) => out.reject(i, rejection),
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
fn warn_skipped(index: usize, d: &Decoded) {
    let shown: Vec<&str> = d.skipped.iter().take(5).map(String::as_str).collect();
    let more = d.skipped.len().saturating_sub(shown.len());
    let tail = if more > 0 {
        format!("; and {more} more")
    } else {
        String::new()
    };
    weir_sdk::log(
        weir_sdk::Level::Warn,
        &format!(
            "input={index} skipped={} emitted={} Skipped invalid GTFS-realtime entities: {}{tail}",
            d.skipped.len(),
            d.records.len(),
            shown.join("; ")
        ),
    );
}

weir_sdk::export_transform!(GtfsRt);
