//! The sink's own record of what it applied: per connector and source
//! partition, the next offset to apply, written in the same transaction as
//! the rows. The pipeline replays from its checkpoint, which may lag the
//! table; records below the stored offset were applied already and are
//! skipped, so a replay never applies a record twice.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio_postgres::{Client, Transaction};

use super::target::TableName;
use crate::postgres::{PgError, PgUrl, error_text};
use crate::record::{Batch, OriginRef};

/// Source partition → next offset.
pub type Positions = BTreeMap<(Arc<str>, i32), i64>;

/// The offsets table, by name.
#[derive(Debug, Clone)]
pub struct OffsetsTable {
    pub name: TableName,
}

impl OffsetsTable {
    /// Creates the table when it is missing.
    pub async fn create(&self, client: &Client, url: &PgUrl) -> Result<(), PgError> {
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {} (connector text, topic text, kafka_partition int, next_offset bigint, PRIMARY KEY (connector, topic, kafka_partition))",
            self.name.sql()
        );
        client.batch_execute(&sql).await.map_err(|e| {
            url.error(
                format!("create the offsets table {}", self.name),
                error_text(&e),
            )
        })
    }

    /// Everything `connector` stored.
    pub async fn load(
        &self,
        client: &Client,
        url: &PgUrl,
        connector: &str,
    ) -> Result<Positions, PgError> {
        let sql = format!(
            "SELECT topic, kafka_partition, next_offset FROM {} WHERE connector = $1",
            self.name.sql()
        );
        let rows = client
            .query(&sql, &[&connector])
            .await
            .map_err(|e| url.error(format!("read the offsets in {}", self.name), error_text(&e)))?;
        positions(&rows)
            .map_err(|e| url.error(format!("read the offsets in {}", self.name), error_text(&e)))
    }

    /// Inside the batch's transaction: the stored offsets of `partitions`,
    /// their rows locked until the commit, so two hosts handing a partition
    /// over never both apply the same records. Missing rows are made first
    /// (at offset 0) so that there is a row to lock.
    pub async fn lock(
        &self,
        tx: &Transaction<'_>,
        connector: &str,
        partitions: &Positions,
    ) -> Result<Positions, tokio_postgres::Error> {
        let (topics, parts, _) = columns(partitions);
        let table = self.name.sql();
        tx.execute(
            &format!(
                "INSERT INTO {table} (connector, topic, kafka_partition, next_offset) SELECT $1, u.t, u.p, 0 FROM unnest($2::text[], $3::int4[]) AS u(t, p) ON CONFLICT DO NOTHING"
            ),
            &[&connector, &topics, &parts],
        )
        .await?;
        let rows = tx
            .query(
                &format!(
                    "SELECT o.topic, o.kafka_partition, o.next_offset FROM {table} AS o JOIN unnest($2::text[], $3::int4[]) AS u(t, p) ON o.topic = u.t AND o.kafka_partition = u.p WHERE o.connector = $1 ORDER BY o.topic, o.kafka_partition FOR UPDATE OF o"
                ),
                &[&connector, &topics, &parts],
            )
            .await?;
        positions(&rows)
    }

    /// Inside the batch's transaction: `reached` as the new next offsets
    /// (never moving one back).
    pub async fn advance(
        &self,
        tx: &Transaction<'_>,
        connector: &str,
        reached: &Positions,
    ) -> Result<(), tokio_postgres::Error> {
        let (topics, parts, next) = columns(reached);
        let table = self.name.sql();
        tx.execute(
            &format!(
                "INSERT INTO {table} AS o (connector, topic, kafka_partition, next_offset) SELECT $1, u.t, u.p, u.n FROM unnest($2::text[], $3::int4[], $4::int8[]) AS u(t, p, n) ON CONFLICT (connector, topic, kafka_partition) DO UPDATE SET next_offset = GREATEST(o.next_offset, EXCLUDED.next_offset)"
            ),
            &[&connector, &topics, &parts, &next],
        )
        .await?;
        Ok(())
    }
}

fn columns(p: &Positions) -> (Vec<&str>, Vec<i32>, Vec<i64>) {
    let topics = p.keys().map(|(t, _)| t.as_ref()).collect();
    let parts = p.keys().map(|(_, p)| *p).collect();
    let next = p.values().copied().collect();
    (topics, parts, next)
}

/// The next offset of every source partition in `batch`: its largest
/// offset + 1.
pub fn reached(batch: &Batch) -> Positions {
    let mut out = Positions::new();
    for o in batch.iter().filter_map(|r| r.origin()) {
        let next = out.entry((Arc::clone(o.topic), o.partition)).or_insert(0);
        *next = (*next).max(o.offset + 1);
    }
    out
}

/// Whether a record from `origin` was applied already by the offsets in
/// `stored`. A record without an origin is always applied.
pub fn applied(stored: &Positions, origin: Option<OriginRef<'_>>) -> bool {
    origin.is_some_and(|o| {
        stored
            .get(&(Arc::clone(o.topic), o.partition))
            .is_some_and(|next| o.offset < *next)
    })
}

/// Raises `into` to `reached` where it is behind.
pub fn merge(into: &mut Positions, reached: &Positions) {
    for (k, n) in reached {
        let next = into.entry(k.clone()).or_insert(*n);
        *next = (*next).max(*n);
    }
}

/// Whether `reached` moves any partition past `stored`.
pub fn advances(stored: &Positions, reached: &Positions) -> bool {
    reached
        .iter()
        .any(|(k, n)| stored.get(k).is_none_or(|s| n > s))
}

/// Rows of (topic, partition, next offset) as positions: an error, not a
/// panic, when an existing offsets table has columns of other types.
fn positions(rows: &[tokio_postgres::Row]) -> Result<Positions, tokio_postgres::Error> {
    rows.iter()
        .map(|r| {
            let topic: String = r.try_get(0)?;
            Ok((
                (Arc::from(topic), r.try_get::<_, i32>(1)?),
                r.try_get::<_, i64>(2)?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Origin, Record};

    fn record(topic: &str, partition: i32, offset: i64) -> Record {
        Record {
            origin: Some(Origin {
                topic: Arc::from(topic),
                partition,
                offset,
            }),
            ..Record::empty()
        }
    }

    #[test]
    fn a_batch_reaches_one_past_its_largest_offset_per_partition() {
        let batch = Batch::from_records(&[
            record("t", 0, 5),
            record("t", 1, 9),
            record("t", 0, 7),
            Record::empty(),
        ]);
        let r = reached(&batch);
        assert_eq!(r.get(&(Arc::from("t"), 0)), Some(&8));
        assert_eq!(r.get(&(Arc::from("t"), 1)), Some(&10));
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn records_below_the_stored_offset_were_applied() {
        let stored: Positions = [((Arc::from("t"), 0), 8)].into_iter().collect();
        let batch = Batch::from_records(&[
            record("t", 0, 7),
            record("t", 0, 8),
            record("t", 1, 0),
            Record::empty(),
        ]);
        let seen: Vec<bool> = batch.iter().map(|r| applied(&stored, r.origin())).collect();
        assert_eq!(seen, vec![true, false, false, false]);
        let mut into = stored.clone();
        assert!(!advances(&stored, &stored));
        let more: Positions = [((Arc::from("t"), 0), 6), ((Arc::from("t"), 1), 1)]
            .into_iter()
            .collect();
        assert!(advances(&stored, &more));
        merge(&mut into, &more);
        assert_eq!(into.get(&(Arc::from("t"), 0)), Some(&8));
        assert_eq!(into.get(&(Arc::from("t"), 1)), Some(&1));
    }
}
