//! The generator's snapshot: `{"version":1,"seed":S,"seq":N,"next_id":I,"rows":[…]}`,
//! rows sorted by id. Tests outside the plugin read `rows` to compare the table a
//! consumer rebuilt with the generator's own, so the format is a contract.

use cdc_model::Row;
use serde::{Deserialize, Serialize};

use crate::generator::{Generator, Settings};
use crate::table::Table;

/// Snapshot format version.
pub const VERSION: u32 = 1;

#[derive(Serialize)]
struct Written<'a> {
    version: u32,
    seed: u64,
    seq: u64,
    next_id: u64,
    rows: &'a [Row],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Read {
    version: u32,
    seed: u64,
    seq: u64,
    next_id: u64,
    rows: Vec<Row>,
}

/// The snapshot bytes of `g` (compact JSON).
pub fn encode(g: &Generator) -> Vec<u8> {
    weir_sdk::snapshot_json(&Written {
        version: VERSION,
        seed: g.seed,
        seq: g.seq,
        next_id: g.table.next_id(),
        rows: g.table.rows(),
    })
}

/// The generator a snapshot describes, continuing with `settings`; the snapshot's
/// seed wins over the configured one, so the stream goes on as it was. `None`
/// for an empty snapshot: a fresh start.
pub fn decode(bytes: &[u8], settings: Settings) -> Result<Option<Generator>, String> {
    let Some(read) = weir_sdk::restore_json::<Read>("cdc-gen", bytes)? else {
        return Ok(None);
    };
    weir_sdk::check_snapshot_version("cdc-gen", read.version, VERSION)?;
    let bad = |e: String| weir_sdk::inconsistent_snapshot("cdc-gen", e);
    if read.next_id.saturating_sub(1) > read.seq {
        return Err(bad(format!(
            "next_id {} needs at least {} changes, but seq is {}",
            read.next_id,
            read.next_id - 1,
            read.seq
        )));
    }
    let table = Table::from_parts(read.rows, read.next_id).map_err(bad)?;
    Ok(Some(Generator {
        seed: read.seed,
        seq: read.seq,
        table,
        settings,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mix;

    const SETTINGS: Settings = Settings {
        initial_rows: 3,
        mix: Mix {
            create: 30,
            update: 60,
            delete: 10,
        },
        max_rows: 100,
    };

    #[test]
    fn a_restored_generator_makes_the_same_changes() {
        let mut straight = Generator::new(42, SETTINGS);
        let mut restarted = Generator::new(42, SETTINGS);
        for round in 0..20 {
            for _ in 0..37 {
                straight.next(round);
                restarted.next(round);
            }
            restarted = decode(&encode(&restarted), SETTINGS)
                .expect("restore")
                .expect("not empty");
            assert_eq!(restarted, straight);
        }
        assert_eq!(straight.seq(), 740);
    }

    #[test]
    fn the_format_is_the_documented_one() {
        let mut g = Generator::new(7, SETTINGS);
        g.next(1_000);
        g.next(1_000);
        let text = String::from_utf8(encode(&g)).expect("utf-8");
        assert!(
            text.starts_with(
                r#"{"version":1,"seed":7,"seq":2,"next_id":3,"rows":[{"id":1,"name":""#
            ),
            "{text}"
        );
        let fresh = String::from_utf8(encode(&Generator::new(7, SETTINGS))).expect("utf-8");
        assert_eq!(
            fresh,
            r#"{"version":1,"seed":7,"seq":0,"next_id":1,"rows":[]}"#
        );
    }

    #[test]
    fn garbage_is_refused_readably() {
        let err = |b: &[u8]| decode(b, SETTINGS).expect_err("invalid");
        assert!(err(b"\x00\x01").starts_with("cdc-gen snapshot: not a cdc-gen snapshot: "));
        assert!(err(br#"{"version":1}"#).contains("missing field `seed`"));
        assert!(
            err(br#"{"version":2,"seed":1,"seq":0,"next_id":1,"rows":[]}"#)
                .contains("format version 2 (this plugin reads 1)")
        );
        assert!(
            err(br#"{"version":1,"seed":1,"seq":2,"next_id":5,"rows":[]}"#)
                .contains("next_id 5 needs at least 4 changes, but seq is 2")
        );
        let row = r#"{"id":9,"name":"A B","balance":"1.00","created_at":0,"updated_at":0}"#;
        let text = format!(r#"{{"version":1,"seed":1,"seq":9,"next_id":9,"rows":[{row}]}}"#);
        assert!(err(text.as_bytes()).contains("row id 9 is not below next_id 9"));
        assert!(err(text.replace("1.00", "1").as_bytes()).contains("not a decimal string"));
    }
}
