//! The report a tick emits: rows of titled sections, each row a flat JSON object
//! whose field order is the column order.

use purchases_model::money::{fmt_cents_grouped, group_thousands};
use purchases_model::time::{Zone, iso8601};
use serde::Serialize;
use weir_sdk::FlatBatch;

use crate::share::fmt_share;
use crate::state::State;

/// Header whose value titles the section a row belongs to; the console sink prints
/// consecutive rows of one section as one table.
pub const SECTION_HEADER: &str = "weir.section";

pub const SUMMARY: &str = "DAILY AGGREGATION SUMMARY";
pub const DETAILS: &str = "BATCH DETAILS";
pub const BREAKDOWN: &str = "CATEGORY BREAKDOWN";
pub const RUNNING: &str = "RUNNING TOTAL";

#[derive(Serialize)]
struct SummaryRow<'a> {
    timestamp: &'a str,
    date: &'a str,
    daily_total: String,
    running_total: String,
    transaction_count: u64,
}

#[derive(Serialize)]
struct DetailRow {
    event_id: String,
    customer_id: String,
    category: String,
    amount: String,
    event_time: String,
}

#[derive(Serialize)]
struct CategoryRow<'a> {
    date: &'a str,
    category: &'a str,
    transactions: u64,
    total: String,
    share: String,
}

#[derive(Serialize)]
struct RunningRow {
    running_total: String,
    transactions: u64,
    days: usize,
}

/// Writes rows of one section, all stamped with the report time.
struct Writer<'a> {
    out: &'a mut FlatBatch,
    now_ms: i64,
    buf: Vec<u8>,
}

impl Writer<'_> {
    fn row(
        &mut self,
        section: &str,
        key: Option<&str>,
        row: &impl Serialize,
    ) -> Result<(), String> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, row).map_err(|e| format!("report row: {e}"))?;
        self.out.push(
            key.map(str::as_bytes),
            Some(&self.buf),
            &[(SECTION_HEADER, section.as_bytes())],
            self.now_ms,
        );
        Ok(())
    }
}

/// Appends the report of what arrived since the last one to `out`; nothing when
/// nothing arrived.
pub fn write(state: &State, zone: Zone, now_ms: i64, out: &mut FlatBatch) -> Result<(), String> {
    let pending = &state.pending;
    if pending.total.count == 0 {
        return Ok(());
    }
    let mut w = Writer {
        out,
        now_ms,
        buf: Vec::with_capacity(256),
    };
    let now = iso8601(now_ms);
    let running_total = fmt_cents_grouped(state.running.cents);
    let touched = || {
        pending
            .dates
            .iter()
            .filter_map(|date| state.days.get(date).map(|day| (date, day)))
    };
    for (date, day) in touched() {
        w.row(
            SUMMARY,
            Some(date),
            &SummaryRow {
                timestamp: &now,
                date,
                daily_total: fmt_cents_grouped(day.total.cents),
                running_total: running_total.clone(),
                transaction_count: day.total.count,
            },
        )?;
    }
    for d in &pending.details {
        w.row(
            DETAILS,
            Some(&zone.date(d.event_ms)),
            &DetailRow {
                event_id: d.event_id.clone(),
                customer_id: d.customer_id.clone(),
                category: d.category.clone(),
                amount: fmt_cents_grouped(d.cents.into()),
                event_time: zone.format(d.event_ms),
            },
        )?;
    }
    let unlisted = pending
        .total
        .count
        .saturating_sub(pending.details.len() as u64);
    if unlisted > 0 {
        w.row(
            DETAILS,
            None,
            &DetailRow {
                event_id: format!("… and {} more", group_thousands(unlisted.into())),
                customer_id: String::new(),
                category: String::new(),
                amount: String::new(),
                event_time: String::new(),
            },
        )?;
    }
    for (date, day) in touched() {
        let mut categories: Vec<_> = day.categories.iter().collect();
        categories.sort_by(|a, b| b.1.cents.cmp(&a.1.cents).then_with(|| a.0.cmp(b.0)));
        for (category, tally) in categories {
            w.row(
                BREAKDOWN,
                Some(date),
                &CategoryRow {
                    date,
                    category,
                    transactions: tally.count,
                    total: fmt_cents_grouped(tally.cents),
                    share: fmt_share(tally.cents, day.total.cents),
                },
            )?;
        }
    }
    w.row(
        RUNNING,
        None,
        &RunningRow {
            running_total,
            transactions: state.running.count,
            days: state.days.len(),
        },
    )
}
