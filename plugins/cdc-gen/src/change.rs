//! The raw change record `cdc-gen` emits, the input contract of `cdc-shape`.

use cdc_model::{RawOp, Row};
use serde::Serialize;

/// The one table the generator models.
pub const TABLE: &str = "users";

/// `{"seq":7,"op":"UPDATE","table":"users","ts_ms":…,"row":{…},"old":{…}}`: `row`
/// is the row after the change (for a delete, the row as it was), `old` the row
/// before it, present only for updates and deletes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// 1-based, one more for every change emitted.
    pub seq: u64,
    pub op: RawOp,
    /// Always [`TABLE`].
    pub table: &'static str,
    /// The generator's clock when it made the change; also the record timestamp.
    pub ts_ms: i64,
    /// The row after the change; for a delete, the row as it was.
    pub row: Row,
    /// The row before an update or a delete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Row>,
}

impl Change {
    /// The record key: the row's id as decimal text.
    pub fn key(&self) -> String {
        self.row.id.to_string()
    }
}
