//! What the table shows on the console: a `CHANGES` row per applied change as it
//! arrives, and on each tick with news the `USERS TABLE` summary and the
//! `LAST CHANGED ROWS`. Rows are flat JSON objects whose field order is the
//! column order; the `weir.section` header titles the table each belongs to.

use cdc_model::Op;
use cdc_model::money::fmt_cents_grouped;
use purchases_model::time::iso8601;
use serde::Serialize;
use weir_sdk::{FlatBatch, Outcome};

use crate::state::State;

/// Header whose value titles the section a row belongs to; the console sink prints
/// consecutive rows of one section as one table.
pub const SECTION_HEADER: &str = "weir.section";

/// Section of the rows `update` emits, one per applied change.
pub const CHANGES: &str = "CHANGES";
/// Section of the one summary row of a tick.
pub const USERS: &str = "USERS TABLE";
/// Section of the most recently changed rows of a tick.
pub const LAST_CHANGED: &str = "LAST CHANGED ROWS";

#[derive(Serialize)]
struct ChangeRow<'a> {
    seq: u64,
    op: Op,
    id: u64,
    change: &'a str,
}

#[derive(Serialize)]
struct UsersRow {
    rows: usize,
    total_balance: String,
    changes: u64,
    creates: u64,
    updates: u64,
    deletes: u64,
    snapshots: u64,
}

#[derive(Serialize)]
struct LastRow<'a> {
    id: u64,
    name: &'a str,
    balance: String,
    updated_at: String,
    last_op: Op,
}

/// The `CHANGES` row of one applied change, from input `origin`.
pub struct Shown<'a> {
    /// The input the change came from.
    pub origin: usize,
    /// `source.seq` of the change.
    pub seq: u64,
    /// The change's operation.
    pub op: Op,
    /// The row's id, also the key.
    pub id: u64,
    /// The readable text from [`crate::describe`].
    pub change: &'a str,
    /// The input's timestamp.
    pub timestamp_ms: i64,
}

/// Emits `shown` as a `CHANGES` row keyed by the id.
pub fn change(out: &mut Outcome, shown: &Shown<'_>) -> Result<(), String> {
    let value = serde_json::to_vec(&ChangeRow {
        seq: shown.seq,
        op: shown.op,
        id: shown.id,
        change: shown.change,
    })
    .map_err(|e| format!("cdc-table: change row: {e}"))?;
    out.emit(
        shown.origin,
        Some(shown.id.to_string().as_bytes()),
        Some(&value),
        &[(SECTION_HEADER, CHANGES.as_bytes())],
        shown.timestamp_ms,
    );
    Ok(())
}

/// Appends the tick report to `out`, stamped `now_ms`; nothing when no change was
/// applied since the last one.
pub fn write(
    state: &State,
    last_rows: usize,
    now_ms: i64,
    out: &mut FlatBatch,
) -> Result<(), String> {
    let counts = state.pending;
    if counts.total() == 0 {
        return Ok(());
    }
    let users = UsersRow {
        rows: state.rows.len(),
        total_balance: fmt_cents_grouped(state.total_cents()),
        changes: counts.total(),
        creates: counts.creates,
        updates: counts.updates,
        deletes: counts.deletes,
        snapshots: counts.snapshots,
    };
    push(out, USERS, None, &users, now_ms)?;
    for r in state.recent.iter().take(last_rows) {
        let last = LastRow {
            id: r.row.id,
            name: &r.row.name,
            balance: fmt_cents_grouped(i128::from(r.row.balance_cents)),
            updated_at: iso8601(r.row.updated_at),
            last_op: r.op,
        };
        push(out, LAST_CHANGED, Some(r.row.id), &last, now_ms)?;
    }
    Ok(())
}

/// One report row of `section`, keyed by a row id when it describes one.
fn push(
    out: &mut FlatBatch,
    section: &str,
    id: Option<u64>,
    row: &impl Serialize,
    now_ms: i64,
) -> Result<(), String> {
    let value = serde_json::to_vec(row).map_err(|e| format!("cdc-table: report row: {e}"))?;
    let key = id.map(|id| id.to_string());
    out.push(
        key.as_deref().map(str::as_bytes),
        Some(&value),
        &[(SECTION_HEADER, section.as_bytes())],
        now_ms,
    );
    Ok(())
}
