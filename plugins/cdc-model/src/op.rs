//! Operation names on both sides of `cdc-shape`: the raw change's `INSERT`,
//! `UPDATE`, `DELETE`, `SNAPSHOT` and the envelope's Debezium codes `c`, `u`,
//! `d`, `r`. One table, so the mapping between them cannot drift.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The `op` of a raw change as `cdc-gen` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RawOp {
    Insert,
    Update,
    Delete,
    /// A row read by the initial snapshot, before any other change.
    Snapshot,
}

impl RawOp {
    /// Every raw operation, for lookups by name.
    pub const ALL: [RawOp; 4] = [RawOp::Insert, RawOp::Update, RawOp::Delete, RawOp::Snapshot];

    /// The name as raw changes spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            RawOp::Insert => "INSERT",
            RawOp::Update => "UPDATE",
            RawOp::Delete => "DELETE",
            RawOp::Snapshot => "SNAPSHOT",
        }
    }

    /// The operation named `name` (exact, upper case).
    pub fn parse(name: &str) -> Option<RawOp> {
        RawOp::ALL.into_iter().find(|op| op.as_str() == name)
    }

    /// Whether a raw change of this kind carries `old` (the row before it).
    pub fn has_old(self) -> bool {
        matches!(self, RawOp::Update | RawOp::Delete)
    }

    /// The envelope operation this raw operation becomes.
    pub fn envelope(self) -> Op {
        match self {
            RawOp::Insert => Op::Create,
            RawOp::Update => Op::Update,
            RawOp::Delete => Op::Delete,
            RawOp::Snapshot => Op::Read,
        }
    }
}

/// The `op` of a Debezium-style envelope, serialized as its one-letter code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = "c")]
    Create,
    #[serde(rename = "u")]
    Update,
    #[serde(rename = "d")]
    Delete,
    /// A snapshot read.
    #[serde(rename = "r")]
    Read,
}

impl Op {
    /// Every envelope operation, for lookups by code.
    pub const ALL: [Op; 4] = [Op::Create, Op::Update, Op::Delete, Op::Read];

    /// The one-letter code envelopes carry.
    pub fn code(self) -> &'static str {
        match self {
            Op::Create => "c",
            Op::Update => "u",
            Op::Delete => "d",
            Op::Read => "r",
        }
    }

    /// The operation whose code is `code`.
    pub fn parse(code: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.code() == code)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_map_one_to_one() {
        for op in RawOp::ALL {
            assert_eq!(RawOp::parse(op.as_str()), Some(op));
            let json = serde_json::to_string(&op).ok();
            assert_eq!(json, Some(format!("\"{}\"", op.as_str())));
        }
        for op in Op::ALL {
            assert_eq!(Op::parse(op.code()), Some(op));
            assert_eq!(serde_json::to_string(&op).ok(), Some(format!("\"{op}\"")));
        }
        let mapped: std::collections::HashSet<Op> =
            RawOp::ALL.iter().map(|r| r.envelope()).collect();
        assert_eq!(mapped.len(), 4);
        assert_eq!(RawOp::parse("insert"), None);
        assert_eq!(Op::parse("C"), None);
        assert!(RawOp::Update.has_old() && RawOp::Delete.has_old());
        assert!(!RawOp::Insert.has_old() && !RawOp::Snapshot.has_old());
    }
}
