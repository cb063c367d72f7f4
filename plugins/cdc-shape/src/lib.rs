//! `cdc-shape`: a transform plugin turning the raw changes of `cdc-gen` (or any
//! producer of the same shape) into Debezium-style envelopes keyed by
//! `{"id":…}`, followed by a tombstone after every delete (see [`envelope`]).
//! Stateless: it keeps nothing between batches.

pub mod compact;
pub mod config;
pub mod envelope;

use cdc_model::Op;
use config::Config;
use weir_sdk::{Outcome, RecordRef, Transform};

/// The plugin: the configured database name and tombstone switch.
pub struct CdcShape {
    config: Config,
}

impl Transform for CdcShape {
    fn init(config: &str) -> Result<Self, String> {
        Ok(CdcShape {
            config: Config::parse(config)?,
        })
    }

    /// One envelope per valid change (two records for a delete with tombstones
    /// on), same timestamp and headers; a failure naming every problem otherwise.
    fn process(&mut self, input: &[RecordRef<'_>], out: &mut Outcome) -> Result<(), String> {
        for (i, r) in input.iter().enumerate() {
            match envelope::shape(r.value, &self.config.db) {
                Ok(s) => {
                    let key = Some(s.key.as_bytes());
                    out.emit(i, key, Some(&s.value), &r.headers, r.timestamp_ms);
                    if s.op == Op::Delete && self.config.tombstones {
                        out.emit(i, key, None, &r.headers, r.timestamp_ms);
                    }
                }
                Err(rejection) => out.reject(i, rejection),
            }
        }
        Ok(())
    }
}

weir_sdk::export_transform!(CdcShape);

#[cfg(test)]
mod tests {
    use weir_sdk::FlatBatch;

    use super::*;

    const ROW: &str =
        r#"{"id":3,"name":"Grace Hopper","balance":"75.00","created_at":1,"updated_at":2}"#;

    fn run(config: &str, values: &[Option<String>]) -> Outcome {
        let mut batch = FlatBatch::default();
        for v in values {
            batch.push(
                Some(b"3"),
                v.as_deref().map(str::as_bytes),
                &[("trace", b"t1")],
                42,
            );
        }
        let mut shape = CdcShape::init(config).expect("init");
        let mut out = Outcome::default();
        shape
            .process(&batch.records().expect("layout"), &mut out)
            .expect("process");
        out
    }

    fn change(seq: u64, op: &str) -> Option<String> {
        let old = if op == "INSERT" {
            String::new()
        } else {
            format!(r#","old":{ROW}"#)
        };
        Some(format!(
            r#"{{"seq":{seq},"op":"{op}","table":"users","ts_ms":2,"row":{ROW}{old}}}"#
        ))
    }

    #[test]
    fn a_delete_is_followed_by_its_tombstone() {
        let out = run(
            "{}",
            &[
                change(1, "INSERT"),
                change(2, "DELETE"),
                None,
                change(3, "UPDATE"),
            ],
        );
        assert_eq!(out.origins, [0, 1, 1, 3]);
        assert_eq!(out.failures.len(), 1);
        assert_eq!(out.failures[0].index, 2);
        assert_eq!(
            out.failures[0].text(),
            "malformed_json: record has no value (a tombstone)"
        );
        let records = out.output.records().expect("layout");
        for r in &records {
            assert_eq!(r.key, Some(&br#"{"id":3}"#[..]));
            assert_eq!(r.timestamp_ms, 42);
            assert_eq!(*r.headers, [("trace", &b"t1"[..])]);
        }
        assert!(records[1].value.is_some() && records[2].value.is_none());
    }

    #[test]
    fn tombstones_can_be_switched_off() {
        let out = run(r#"{"tombstones":false}"#, &[change(1, "DELETE")]);
        assert_eq!(out.origins, [0]);
        assert!(out.output.records().expect("layout")[0].value.is_some());
    }

    /// Not a check but a measurement, in release:
    /// `cargo test --release -p cdc-shape -- --ignored --nocapture`
    /// prints what one change costs in `envelope::shape` and in `process`.
    #[test]
    #[ignore]
    fn per_record_cost() {
        let update = r#"{"seq":2,"op":"UPDATE","table":"users","ts_ms":1795460082123,"row":{"id":1,"name":"Claude McCarthy","balance":"1924.96","created_at":1795460082123,"updated_at":1795460082123},"old":{"id":1,"name":"Claude McCarthy","balance":"1623.64","created_at":1795460082123,"updated_at":1795460082123}}"#;
        let shape = weir_sdk::testing::ns_per_call(1, || {
            std::hint::black_box(envelope::shape(
                Some(std::hint::black_box(update.as_bytes())),
                "appdb",
            ))
            .expect("valid");
        });
        let mut batch = FlatBatch::default();
        for i in 0..1000u64 {
            let v = change(i, ["INSERT", "UPDATE", "DELETE"][i as usize % 3]);
            batch.push(Some(b"3"), v.as_deref().map(str::as_bytes), &[], 42);
        }
        let records = batch.records().expect("layout");
        let mut shaper = CdcShape::init("{}").expect("init");
        let process = weir_sdk::testing::ns_per_call(records.len(), || {
            let mut out = Outcome::default();
            shaper.process(&records, &mut out).expect("process");
            assert!(out.failures.is_empty());
        });
        println!("cdc-shape: envelope::shape {shape:.0} ns, process {process:.0} ns per change");
    }
}
