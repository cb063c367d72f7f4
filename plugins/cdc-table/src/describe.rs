//! The one-line `change` text of a `CHANGES` row, written for an operator reading
//! the console: `created Ada Lovelace, balance 1,200.00`,
//! `balance 1,200.00 → 1,150.25`, `deleted (balance 75.00)`.

use cdc_model::money::fmt_cents_grouped;
use cdc_model::{Op, Row};

fn money(cents: i64) -> String {
    fmt_cents_grouped(i128::from(cents))
}

/// A new row: `created …` for a create, `snapshot …` for a snapshot read.
pub fn created(op: Op, row: &Row) -> String {
    let verb = if op == Op::Read {
        "snapshot"
    } else {
        "created"
    };
    format!("{verb} {}, balance {}", row.name, money(row.balance_cents))
}

/// What an update changed of the name and the balance.
pub fn updated(before: &Row, after: &Row) -> String {
    let mut parts = Vec::with_capacity(2);
    if before.name != after.name {
        parts.push(format!("name {} → {}", before.name, after.name));
    }
    if before.balance_cents != after.balance_cents {
        parts.push(format!(
            "balance {} → {}",
            money(before.balance_cents),
            money(after.balance_cents)
        ));
    }
    if parts.is_empty() {
        return "no change to name or balance".into();
    }
    parts.join("; ")
}

/// A removed row, with the balance it had.
pub fn deleted(before: &Row) -> String {
    format!("deleted (balance {})", money(before.balance_cents))
}

/// `Ada Lovelace, balance 1,200.00`: a row as a failure reason names it.
pub fn brief(row: &Row) -> String {
    format!("{}, balance {}", row.name, money(row.balance_cents))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, cents: i64) -> Row {
        Row {
            id: 1,
            name: name.into(),
            balance_cents: cents,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn changes_read_naturally() {
        let ada = row("Ada Lovelace", 120_000);
        assert_eq!(
            created(Op::Create, &ada),
            "created Ada Lovelace, balance 1,200.00"
        );
        assert_eq!(
            created(Op::Read, &row("Ada Lovelace", 1_000)),
            "snapshot Ada Lovelace, balance 10.00"
        );
        assert_eq!(
            updated(&ada, &row("Ada Lovelace", 115_025)),
            "balance 1,200.00 → 1,150.25"
        );
        assert_eq!(
            updated(&ada, &row("Ada King", 119_900)),
            "name Ada Lovelace → Ada King; balance 1,200.00 → 1,199.00"
        );
        assert_eq!(
            updated(&ada, &row("Ada King", 120_000)),
            "name Ada Lovelace → Ada King"
        );
        assert_eq!(updated(&ada, &ada), "no change to name or balance");
        assert_eq!(
            deleted(&row("Grace Hopper", 7_500)),
            "deleted (balance 75.00)"
        );
        assert_eq!(brief(&ada), "Ada Lovelace, balance 1,200.00");
    }
}
