//! The generator's own copy of the `users` table. New ids only grow, so appending
//! keeps the rows sorted by id: a uniform pick is one index, a lookup a binary
//! search, and the snapshot lists the rows in id order as they are.

use cdc_model::Row;

/// Rows sorted by id, and the next id to hand out (ids are never reused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    rows: Vec<Row>,
    next_id: u64,
}

impl Default for Table {
    fn default() -> Self {
        Table {
            rows: Vec::new(),
            next_id: 1,
        }
    }
}

impl Table {
    /// A table from snapshot parts, checked: ids ascending, unique and below
    /// `next_id`, balances not negative.
    pub fn from_parts(rows: Vec<Row>, next_id: u64) -> Result<Table, String> {
        if next_id == 0 {
            return Err("next_id must be at least 1".into());
        }
        let mut previous = 0;
        for row in &rows {
            if row.id <= previous {
                return Err(format!(
                    "row ids must be ascending, unique and above 0; id {} follows {previous}",
                    row.id
                ));
            }
            if row.id >= next_id {
                return Err(format!("row id {} is not below next_id {next_id}", row.id));
            }
            if row.balance_cents < 0 {
                return Err(format!("row {} has a negative balance", row.id));
            }
            previous = row.id;
        }
        Ok(Table { rows, next_id })
    }

    /// The rows in id order, as the snapshot lists them.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// How many rows the table holds, checked against `max_rows`.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// An empty table allows only an insert.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The id the next insert gets; part of the snapshot so ids are never reused.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Takes the next id for a new row.
    pub fn allocate_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Appends a row whose id came from [`Table::allocate_id`].
    pub fn insert(&mut self, row: Row) {
        debug_assert!(self.rows.last().is_none_or(|last| last.id < row.id));
        self.rows.push(row);
    }

    /// The row at `index` (in id order), for a uniform pick.
    pub fn at(&self, index: usize) -> Option<&Row> {
        self.rows.get(index)
    }

    /// Replaces the row at `index`, returning the old one.
    pub fn replace(&mut self, index: usize, row: Row) -> Option<Row> {
        self.rows
            .get_mut(index)
            .map(|slot| std::mem::replace(slot, row))
    }

    /// Removes the row at `index`.
    pub fn remove(&mut self, index: usize) -> Option<Row> {
        (index < self.rows.len()).then(|| self.rows.remove(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u64) -> Row {
        Row {
            id,
            name: "Ada Lovelace".into(),
            balance_cents: 100,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn snapshot_parts_are_checked() {
        assert!(Table::from_parts(vec![row(1), row(3)], 4).is_ok());
        let err = |rows, next| Table::from_parts(rows, next).expect_err("invalid");
        assert!(err(vec![row(3), row(1)], 4).contains("id 1 follows 3"));
        assert!(err(vec![row(1), row(1)], 4).contains("id 1 follows 1"));
        assert!(err(vec![row(0)], 4).contains("id 0 follows 0"));
        assert!(err(vec![row(4)], 4).contains("not below next_id 4"));
        assert!(err(vec![], 0).contains("at least 1"));
        let mut negative = row(1);
        negative.balance_cents = -1;
        assert!(err(vec![negative], 2).contains("negative balance"));
    }

    #[test]
    fn ids_grow_and_rows_stay_sorted() {
        let mut t = Table::default();
        for _ in 0..3 {
            let id = t.allocate_id();
            t.insert(row(id));
        }
        assert_eq!(t.remove(1).map(|r| r.id), Some(2));
        let id = t.allocate_id();
        t.insert(row(id));
        let ids: Vec<u64> = t.rows().iter().map(|r| r.id).collect();
        assert_eq!(ids, [1, 3, 4]);
        assert_eq!(t.next_id(), 5);
        assert_eq!(t.remove(3), None);
    }
}
