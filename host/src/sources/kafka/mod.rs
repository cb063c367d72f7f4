//! `[source.kafka]`: a topic read in a consumer group. The pipeline marks records
//! handled once their outputs and DLQ entries are durable, and commits the handled
//! positions right after each checkpoint that covers them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use rdkafka::consumer::{CommitMode, Consumer, ConsumerGroupMetadata};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::{Offset, TopicPartitionList};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::kafka::KafkaIoError;
use crate::kafka::client::GroupConsumer;
use crate::kafka::context::{is_missing_topic, is_transport};
use crate::record::{Batch, BatchSize, NextOffsets, OriginRef, now_ms};
use crate::sources::{Fill, Source, SourceError};
use crate::state::SourcePosition;
use crate::telemetry::{ConsumerLag, Emit};
use fetch::{FetchQueue, Fetched};

mod config;
mod fetch;

pub use config::KafkaSourceConfig;

/// The least room a batch starts with.
const MIN_BATCH_ROOM: BatchSize = BatchSize {
    records: 64,
    bytes: 64 * 512,
    header_words: 0,
};

pub struct KafkaSource {
    /// The assigned partitions' records, a batch at a time. Declared before
    /// `consumer`: it must be dropped first. `None` only if librdkafka could
    /// not make a queue; records then come through the consumer's own queue.
    fetch: Option<FetchQueue>,
    consumer: GroupConsumer,
    topic: Arc<str>,
    batching: Batching,
    /// Offsets handled, per partition (next offset to read).
    pending: BTreeMap<i32, i64>,
    /// Offsets the pipeline took on, per partition, handled or not yet (their
    /// outputs may still await the broker): a record below is a repeat. Only
    /// what the pipeline took counts: a record it dropped (its partition had
    /// moved away) must be read again if the partition comes back.
    handed: BTreeMap<i32, i64>,
    /// Positions of a restored checkpoint: a partition counts as handled up
    /// to them even while the group's commit lags behind (see `caught_up`).
    floor: HashMap<i32, i64>,
    /// The topic's partitions, from metadata (empty until first asked).
    partitions: Vec<i32>,
    /// When consumer lag was last reported.
    lag_reported: Option<std::time::Instant>,
    /// Offsets go into the connector's Kafka transactions, not to the group.
    transactional: bool,
    /// Where the topic is looked for, for the messages about a missing one.
    bootstrap: String,
    /// Since when the topic has been found missing, and when that was last said.
    missing: Option<Missing>,
    /// The last batch's size (at least [`MIN_BATCH_ROOM`]): the next one gets
    /// room for as much at once. Under steady load batches are alike, so they
    /// rarely regrow; sizing like the largest batch ever instead gave every
    /// small batch of a quiet moment megabytes of room, which the batches in
    /// flight and the replay journal then held (a host running all five
    /// pipelines peaked at 606 MB instead of 152 MB).
    last_size: BatchSize,
    /// How the last batch filled (for the pipeline's phase times).
    last_fill: Option<Fill>,
    /// What was last sent to the group per partition, so a checkpoint that
    /// moved nothing sends nothing.
    committed: BTreeMap<i32, i64>,
}

/// When a batch closes. A batch takes what the consumer has ready and closes
/// as soon as nothing more is (after `linger`, when set), so a record never
/// waits for others that have not arrived; under load the consumer's queue
/// is full and batches reach `max` by themselves.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    /// Most records in a batch.
    pub max: usize,
    /// The longest a batch stays open, and the longest an empty one waits
    /// for a first record before the pipeline looks around (checkpoints,
    /// triggers) and asks again.
    pub timeout: Duration,
    /// How long a batch with records waits for more once none is ready.
    pub linger: Duration,
}

/// A subscribed topic that does not exist yet.
struct Missing {
    since: std::time::Instant,
    said: std::time::Instant,
    probed: std::time::Instant,
}

/// How often the broker is asked whether a missing topic exists now.
const MISSING_PROBE: Duration = Duration::from_secs(1);

/// How often "waiting for topic" is said while it is missing.
const MISSING_REPEAT: Duration = Duration::from_secs(30);

/// How long a bounded run (`--exit-at-end`) waits for a missing topic before
/// it ends with an error.
const MISSING_LIMIT: Duration = Duration::from_secs(30);

/// The longest the broker calls of one check between two polls may wait in
/// all (end-of-input, watermark and lag checks, a look for a missing topic).
/// They block the poll loop, and librdkafka puts a consumer that has not
/// polled for `max.poll.interval.ms` out of its group. During an outage or
/// while the group forms every call waits its whole timeout: a check of three
/// partitions at 1 s per call blocked for 6 s, again at every idle batch, and
/// a consumer that is put out of its group while it rejoins can stall for
/// minutes. A check that runs out of time answers "not known yet" and is
/// asked again at the next idle batch.
const BETWEEN_POLLS: Duration = Duration::from_secs(1);

/// What is left of one [`BETWEEN_POLLS`], shared by the broker calls of one check.
struct Budget(std::time::Instant);

impl Budget {
    fn new() -> Self {
        Budget(std::time::Instant::now() + BETWEEN_POLLS)
    }

    /// The time left for the next call; `None` once it is spent.
    fn left(&self) -> Option<Duration> {
        self.0
            .checked_duration_since(std::time::Instant::now())
            .filter(|d| !d.is_zero())
    }
}

impl KafkaSource {
    pub fn new(
        consumer: GroupConsumer,
        bootstrap: &str,
        topic: &str,
        batching: Batching,
    ) -> Result<Self, KafkaIoError> {
        consumer
            .subscribe(&[topic])
            .map_err(|source| KafkaIoError::Subscribe {
                topic: topic.to_string(),
                source,
            })?;
        let fetch = FetchQueue::new(&consumer, topic);
        Ok(KafkaSource {
            fetch,
            consumer,
            topic: topic.into(),
            batching,
            pending: BTreeMap::new(),
            handed: BTreeMap::new(),
            floor: HashMap::new(),
            partitions: Vec::new(),
            lag_reported: None,
            transactional: false,
            bootstrap: bootstrap.to_string(),
            missing: None,
            last_size: MIN_BATCH_ROOM,
            last_fill: None,
            committed: BTreeMap::new(),
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Continues after a checkpoint: records below `positions` are skipped.
    pub fn resume_at(&mut self, positions: &BTreeMap<i32, i64>) {
        self.floor = positions.iter().map(|(&p, &o)| (p, o)).collect();
        for (&p, &o) in positions {
            self.pending.insert(p, o);
        }
    }

    /// Continues one partition after its own checkpoint (a partitioned
    /// aggregator's lane): records below `next` are skipped.
    pub fn resume_partition(&mut self, partition: i32, next: i64) {
        self.floor.insert(partition, next);
        let p = self.pending.entry(partition).or_insert(next);
        *p = (*p).max(next);
    }

    /// Forgets a partition the group moved to another host: nothing of it is
    /// committed from here any more, and if it comes back it is resumed afresh.
    pub fn forget(&mut self, partition: i32) {
        self.pending.remove(&partition);
        self.handed.remove(&partition);
        self.floor.remove(&partition);
    }

    /// Offsets are committed inside the connector's transactions (see
    /// [`KafkaSource::transaction_offsets`]), never by the consumer itself.
    pub fn set_transactional(&mut self) {
        self.transactional = true;
    }

    /// The handled positions and the group's identity, as a transaction
    /// commits them; `None` while nothing is handled.
    pub fn transaction_offsets(
        &self,
    ) -> Result<Option<(TopicPartitionList, ConsumerGroupMetadata)>, KafkaIoError> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let group = self
            .consumer
            .group_metadata()
            .ok_or_else(|| KafkaIoError::Commit {
                topic: self.topic.to_string(),
                source: rdkafka::error::KafkaError::Global(rdkafka::types::RDKafkaErrorCode::State),
            })?;
        Ok(Some((self.offsets_tpl(&self.pending)?, group)))
    }

    /// Next offset to read per partition, for everything handled so far.
    pub fn positions(&self) -> &BTreeMap<i32, i64> {
        &self.pending
    }

    /// The cluster's id, so a checkpoint is not applied to another cluster.
    pub fn cluster_id(&self) -> Option<String> {
        tokio::task::block_in_place(|| {
            self.consumer
                .client()
                .fetch_cluster_id(Duration::from_secs(10))
        })
    }

    /// Whether every partition of the topic has been handled up to its end
    /// (not only the assigned ones: after a restart the group may not have
    /// handed this consumer all of them yet). A topic that has not appeared
    /// within [`MISSING_LIMIT`] has no end to reach: an error.
    pub fn at_end(&mut self) -> Result<bool, KafkaIoError> {
        tokio::task::block_in_place(|| {
            let budget = Budget::new();
            let parts = self.partitions_within(&budget);
            if let Some(m) = &self.missing
                && m.since.elapsed() >= MISSING_LIMIT
            {
                return Err(KafkaIoError::TopicMissing {
                    topic: self.topic.to_string(),
                    bootstrap: self.bootstrap.clone(),
                    waited_s: m.since.elapsed().as_secs(),
                });
            }
            Ok(!parts.is_empty() && parts.iter().all(|&p| self.caught_up(p, &budget)))
        })
    }

    /// Notes that the topic does not exist (yet), saying so in one line at
    /// most every [`MISSING_REPEAT`]; the consumer picks the topic up once it
    /// is created.
    fn topic_missing(&mut self) {
        let now = std::time::Instant::now();
        let first = self.missing.is_none();
        let m = self.missing.get_or_insert(Missing {
            since: now,
            said: now,
            probed: now,
        });
        m.probed = now;
        if first || m.said.elapsed() >= MISSING_REPEAT {
            m.said = now;
            tracing::warn!(
                topic = %self.topic,
                bootstrap = %self.bootstrap,
                "Waiting for topic `{}` to exist on {}; reading starts once it is created.",
                self.topic,
                self.bootstrap
            );
        }
    }

    /// The topic exists: a later absence is news again.
    fn topic_found(&mut self) {
        if let Some(m) = self.missing.take() {
            tracing::info!(
                topic = %self.topic,
                waited_s = m.since.elapsed().as_secs(),
                "Topic `{}` exists now.",
                self.topic
            );
        }
    }

    /// The topic's partitions that still have records to hand on: the ones
    /// that hold an event-time watermark back (a caught-up one does not). All of
    /// the topic's partitions count, assigned or not: right after a restart the
    /// group may hand this consumer some partitions seconds before the others,
    /// and the first ones must not run the watermark ahead of the rest.
    pub fn live_partitions(&mut self) -> Vec<i32> {
        tokio::task::block_in_place(|| {
            let budget = Budget::new();
            self.partitions_within(&budget)
                .into_iter()
                .filter(|&p| !self.caught_up(p, &budget))
                .collect()
        })
    }

    /// The topic's partitions from metadata (fetched once), else the assigned ones.
    pub fn topic_partitions(&mut self) -> Vec<i32> {
        self.partitions_within(&Budget::new())
    }

    fn partitions_within(&mut self, budget: &Budget) -> Vec<i32> {
        if self.partitions.is_empty() {
            self.look_for_topic(budget);
        }
        if self.partitions.is_empty() {
            self.assigned()
        } else {
            self.partitions.clone()
        }
    }

    /// Asks the broker for the topic's partitions (waiting at most
    /// [`BETWEEN_POLLS`]), and notes whether the topic exists. A topic that
    /// appears after the consumer subscribed is subscribed to again, so the
    /// group assigns it now, not at librdkafka's next metadata refresh (5 min).
    fn look_for_topic(&mut self, budget: &Budget) {
        let Some(wait) = budget.left() else { return };
        let metadata = self.consumer.fetch_metadata(Some(&self.topic), wait);
        let Ok(metadata) = metadata else {
            // The broker did not answer: no news about the topic.
            return;
        };
        let parts: Vec<i32> = metadata
            .topics()
            .iter()
            .find(|t| t.name() == &*self.topic && t.error().is_none())
            .map(|t| t.partitions().iter().map(|p| p.id()).collect())
            .unwrap_or_default();
        if parts.is_empty() {
            self.topic_missing();
            return;
        }
        self.partitions = parts;
        if self.missing.is_some() {
            if let Err(e) = self.consumer.subscribe(&[&self.topic]) {
                tracing::warn!(topic = %self.topic, error = %e, "Cannot subscribe again to the topic that appeared; librdkafka's next metadata refresh finds it.");
            }
            self.topic_found();
        }
    }

    /// The partitions the group gave this consumer. The group moves them only
    /// inside [`KafkaSource::next_batch`] (librdkafka runs rebalances in the poll).
    pub fn assigned(&self) -> Vec<i32> {
        self.consumer
            .assignment()
            .map(|a| a.elements().iter().map(|e| e.partition()).collect())
            .unwrap_or_default()
    }

    /// Everything below the partition's high watermark has been handled. The
    /// group's commit is asked only when this host's own positions fall
    /// short. `false` when the broker does not answer within `budget`.
    fn caught_up(&self, p: i32, budget: &Budget) -> bool {
        let Some(wait) = budget.left() else {
            return false;
        };
        let Ok((_, high)) = self.consumer.fetch_watermarks(&self.topic, p, wait) else {
            return false;
        };
        let known = [self.pending.get(&p), self.floor.get(&p)]
            .into_iter()
            .flatten()
            .copied()
            .max()
            .unwrap_or(0);
        known >= high
            || budget
                .left()
                .and_then(|wait| committed(&self.consumer, &self.topic, p, wait))
                .is_some_and(|c| c >= high)
    }

    /// Waits for a first record, then takes the records that are ready, until
    /// `max` or nothing more is (see [`Batching`]).
    pub async fn next_batch(
        &mut self,
        max: usize,
        stop: &CancellationToken,
    ) -> Result<Batch, KafkaIoError> {
        let max = max.min(self.batching.max);
        if self
            .missing
            .as_ref()
            .is_some_and(|m| m.probed.elapsed() >= MISSING_PROBE)
        {
            tokio::task::block_in_place(|| self.look_for_topic(&Budget::new()));
        }
        let mut batch = Batch::with_size(self.last_size);
        let (first, error) = self.fill(&mut batch, max, stop).await;
        if let Some(source) = error {
            if is_missing_topic(&source) {
                self.topic_missing();
            } else {
                tracing::warn!(topic = %self.topic, error = %source, "Consumer error; retrying.");
            }
            if batch.is_empty() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        self.last_fill = first.map(|(arrived, waited_ms)| Fill {
            waited: Duration::from_millis(waited_ms.max(0) as u64),
            filling: arrived.elapsed(),
        });
        if !batch.is_empty() {
            let size = batch.size();
            self.last_size = BatchSize {
                records: size.records.max(MIN_BATCH_ROOM.records),
                bytes: size.bytes.max(MIN_BATCH_ROOM.bytes),
                header_words: size.header_words,
            };
        }
        if !batch.is_empty() && self.missing.is_some() {
            self.topic_found();
        }
        Ok(batch)
    }

    /// Takes messages into `batch` until it closes: when the first arrived
    /// (and how long after its timestamp), and the consumer error that closed
    /// it, if one did. Each round serves the consumer's own queue first (the
    /// group's events, and records of partitions not forwarded yet: see
    /// [`fetch`]), then takes what the fetch queue holds. A batch with records
    /// closes once neither has any ready (after `linger`, when set); an empty
    /// one waits for the first until the batch timeout.
    async fn fill(
        &mut self,
        batch: &mut Batch,
        max: usize,
        stop: &CancellationToken,
    ) -> (Option<(Instant, i64)>, Option<KafkaError>) {
        let KafkaSource {
            fetch,
            consumer,
            topic,
            batching,
            handed,
            pending,
            ..
        } = self;
        // One message stream serves the whole batch (a stream per message
        // registered and dropped a waker under a lock each time).
        let mut stream = consumer.stream();
        let mut taker = Taker {
            topic,
            before: [handed, pending],
            floors: Floors::default(),
            first: None,
            error: None,
        };
        let deadline = Instant::now() + batching.timeout;
        while batch.len() < max && taker.error.is_none() {
            if let Some(f) = fetch.as_mut() {
                f.follow(consumer, false);
            }
            let before = batch.len();
            while batch.len() < max && taker.error.is_none() {
                match stream.next().now_or_never() {
                    Some(Some(r)) => taker.polled(batch, r),
                    _ => break,
                }
            }
            if let Some(f) = fetch.as_mut() {
                f.take(max - batch.len(), |m| match m.error() {
                    Some(e) => taker.failed(e),
                    None => taker.take(batch, m),
                });
            }
            if batch.len() > before || taker.error.is_some() {
                continue;
            }
            let until = match (batch.is_empty(), batching.linger.is_zero()) {
                (true, _) => deadline,
                (false, true) => break,
                (false, false) => deadline.min(Instant::now() + batching.linger),
            };
            let arrived = async {
                match fetch.as_ref() {
                    Some(f) => f.arrived().await,
                    None => std::future::pending().await,
                }
            };
            let woke = tokio::select! {
                _ = stop.cancelled() => Woke::Closed,
                _ = tokio::time::sleep_until(until) => Woke::Closed,
                _ = arrived => Woke::Fetched,
                r = stream.next() => Woke::Polled(r),
            };
            match woke {
                Woke::Closed => {
                    if batch.is_empty()
                        && let Some(f) = fetch.as_mut()
                    {
                        // Idle: in case librdkafka dropped a partition's
                        // forwarding without a rebalance, forward again.
                        f.follow(consumer, true);
                    }
                    break;
                }
                Woke::Fetched => {}
                Woke::Polled(Some(r)) => taker.polled(batch, r),
                // A message stream never ends.
                Woke::Polled(None) => break,
            }
        }
        (taker.first, taker.error)
    }

    /// Next offset to read per partition for everything the pipeline took
    /// on, handled or still in flight (over the restored positions): what a
    /// checkpoint taken now covers once the batches in flight have landed.
    pub fn taken_positions(&self) -> BTreeMap<i32, i64> {
        let mut out = self.pending.clone();
        for (&p, &next) in &self.handed {
            let at = out.entry(p).or_insert(next);
            *at = (*at).max(next);
        }
        out
    }

    /// Commits `positions` (a durable checkpoint's) to the group, and reports the lag.
    ///
    /// Only the partitions this consumer holds now, and only those that
    /// moved since the last commit. While the group re-forms (after a broker
    /// outage, say) the consumer holds none: a commit sent then is refused
    /// with "unknown member", and librdkafka answers that refusal by starting
    /// its join over, so a commit at every checkpoint kept the consumer out
    /// of its group for good. The checkpoint file keeps the positions; they
    /// reach the group once it hands the partitions back.
    pub fn commit_offsets(&mut self, positions: &BTreeMap<i32, i64>) -> Result<(), KafkaIoError> {
        // A call to librdkafka's main thread: leave the async worker for it.
        let held = tokio::task::block_in_place(|| self.assigned());
        if !self.transactional {
            if self.consumer.context().take_failed_commit() {
                self.committed.clear();
            }
            self.committed.retain(|p, _| held.contains(p));
            let moved: BTreeMap<i32, i64> = positions
                .iter()
                .filter(|&(p, next)| held.contains(p) && self.committed.get(p) != Some(next))
                .map(|(&p, &next)| (p, next))
                .collect();
            self.flush(&moved, CommitMode::Async)?;
            self.committed.extend(moved);
        }
        self.report_lag(&held);
        Ok(())
    }

    /// `weir_consumer_lag{topic,partition}`: records in the partition not yet
    /// handled, for the `held` partitions, at most once a second.
    fn report_lag(&mut self, held: &[i32]) {
        if self
            .lag_reported
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        self.lag_reported = Some(std::time::Instant::now());
        tokio::task::block_in_place(|| {
            let budget = Budget::new();
            for &p in held {
                let Some(wait) = budget.left() else { break };
                let Ok((low, high)) = self.consumer.fetch_watermarks(&self.topic, p, wait) else {
                    continue;
                };
                let done = self.pending.get(&p).copied().unwrap_or(low);
                ConsumerLag {
                    topic: &self.topic,
                    partition: p,
                    records: high - done,
                }
                .emit();
            }
        });
    }

    fn offsets_tpl(
        &self,
        positions: &BTreeMap<i32, i64>,
    ) -> Result<TopicPartitionList, KafkaIoError> {
        let mut tpl = TopicPartitionList::new();
        for (&p, &next) in positions {
            tpl.add_partition_offset(&self.topic, p, Offset::Offset(next))
                .map_err(|source| KafkaIoError::Commit {
                    topic: self.topic.to_string(),
                    source,
                })?;
        }
        Ok(tpl)
    }

    fn flush(&self, positions: &BTreeMap<i32, i64>, mode: CommitMode) -> Result<(), KafkaIoError> {
        if positions.is_empty() || self.transactional {
            return Ok(());
        }
        tracing::debug!(topic = %self.topic, ?positions, "Committing.");
        self.consumer
            .commit(&self.offsets_tpl(positions)?, mode)
            .map_err(|source| KafkaIoError::Commit {
                topic: self.topic.to_string(),
                source,
            })?;
        Ok(())
    }

    /// A synchronous final commit, then leaves the group so its partitions move
    /// to the other members at once instead of after the session timeout.
    /// Both calls block on the broker, which may be the embedded one on this same
    /// runtime, so they leave the async worker first.
    ///
    /// A commit the group refuses because it rebalanced meanwhile (the
    /// partitions may belong to another member now) is not an error: whoever
    /// holds them reads on from the last accepted commit (at-least-once).
    pub fn close(&mut self) -> Result<(), KafkaIoError> {
        tokio::task::block_in_place(|| {
            match self.flush(&self.pending, CommitMode::Sync) {
                Err(KafkaIoError::Commit { source, .. }) if group_moved_on(&source) => {
                    tracing::warn!(topic = %self.topic, error = %source, "The group rebalanced before the final commit; the records handled since the last commit will be read again.");
                }
                other => other?,
            }
            self.consumer.unsubscribe();
            Ok(())
        })
    }
}

/// A Kafka source's position: the next offset per partition, under the
/// topic's name (`{"purchases":{"0":120,"1":95}}`), as checkpoints held
/// them before positions were opaque.
type Position = BTreeMap<String, BTreeMap<i32, i64>>;

/// `topic`'s next offsets per partition as a checkpoint position.
pub fn position_of(topic: &str, offsets: BTreeMap<i32, i64>) -> SourcePosition {
    let position = Position::from([(topic.to_string(), offsets)]);
    SourcePosition {
        kind: "kafka".into(),
        // A map of strings to maps of integers always serializes.
        bytes: serde_json::to_vec(&position).unwrap_or_default(),
    }
}

/// `topic`'s next offsets in a checkpoint position: none when the position
/// is another kind's or another topic's.
pub fn offsets_in(
    position: &SourcePosition,
    topic: &str,
) -> Result<Option<BTreeMap<i32, i64>>, SourceError> {
    if position.kind != "kafka" {
        return Ok(None);
    }
    let mut all: Position =
        serde_json::from_slice(&position.bytes).map_err(|e| SourceError::Position {
            kind: "kafka",
            reason: e.to_string(),
        })?;
    Ok(all.remove(topic))
}

impl Source for KafkaSource {
    fn kind(&self) -> &'static str {
        "kafka"
    }

    fn next_batch<'a>(
        &'a mut self,
        max: usize,
        stop: &'a CancellationToken,
    ) -> futures::future::BoxFuture<'a, Result<Option<Batch>, SourceError>> {
        Box::pin(async move { Ok(Some(KafkaSource::next_batch(self, max, stop).await?)) })
    }

    fn last_fill(&self) -> Option<Fill> {
        self.last_fill
    }

    fn mark_in_flight(&mut self, origins: &NextOffsets) {
        advance(&mut self.handed, origins);
    }

    fn mark_handled(&mut self, origins: &NextOffsets) {
        advance(&mut self.pending, origins);
    }

    fn can_replay(&self) -> bool {
        true
    }

    fn position(&self) -> Option<SourcePosition> {
        Some(position_of(&self.topic, self.taken_positions()))
    }

    fn recover<'a>(
        &'a mut self,
        position: &'a SourcePosition,
        _cx: &'a crate::sources::RecoverContext<'a>,
    ) -> futures::future::BoxFuture<'a, Result<(), SourceError>> {
        Box::pin(async move {
            if let Some(p) = offsets_in(position, &self.topic)? {
                self.resume_at(&p);
            }
            Ok(())
        })
    }

    fn commit(&mut self, position: &SourcePosition) -> Result<(), SourceError> {
        match offsets_in(position, &self.topic)? {
            Some(p) => self.commit_offsets(&p).map_err(Into::into),
            None => Ok(()),
        }
    }

    fn cluster_id(&self) -> Option<String> {
        KafkaSource::cluster_id(self)
    }

    fn at_end(&mut self) -> Result<bool, SourceError> {
        KafkaSource::at_end(self).map_err(Into::into)
    }

    fn live_partitions(&mut self) -> Option<Vec<(String, i32)>> {
        let live = KafkaSource::live_partitions(self);
        Some(
            live.into_iter()
                .map(|p| (self.topic.to_string(), p))
                .collect(),
        )
    }

    fn as_kafka(&mut self) -> Option<&mut KafkaSource> {
        Some(self)
    }

    fn close(&mut self) -> Result<(), SourceError> {
        KafkaSource::close(self).map_err(Into::into)
    }
}

/// What ended a wait for the next message of a batch.
enum Woke<'a> {
    /// The batch is complete: its time is up, or the run stops.
    Closed,
    /// Records may have reached the fetch queue.
    Fetched,
    /// The consumer's own queue had a message or an error.
    Polled(Option<Result<BorrowedMessage<'a>, KafkaError>>),
}

/// Puts the messages of one batch into it, skipping repeats, and keeps the
/// first arrival and the error that ends the batch.
struct Taker<'s> {
    topic: &'s Arc<str>,
    /// Offsets handed on and handled before this batch (see [`Floors`]).
    before: [&'s BTreeMap<i32, i64>; 2],
    floors: Floors,
    first: Option<(Instant, i64)>,
    error: Option<KafkaError>,
}

impl Taker<'_> {
    fn take(&mut self, batch: &mut Batch, m: &Fetched<'_>) {
        // Already handled, or already in this batch: after the group
        // assigns a partition again, its fetch restarts from the group's
        // committed offset, which lags what this host handled.
        let next = self.floors.of(m.partition(), self.before);
        if m.offset() < *next {
            tracing::debug!(topic = %self.topic, partition = m.partition(), offset = m.offset(), next = *next, "Skipped a record fetched again.");
            return;
        }
        *next = m.offset() + 1;
        let origin = OriginRef {
            topic: self.topic,
            partition: m.partition(),
            offset: m.offset(),
        };
        let timestamp_ms = m.timestamp_ms().unwrap_or_else(now_ms);
        self.first
            .get_or_insert_with(|| (Instant::now(), now_ms() - timestamp_ms));
        // A name that is not UTF-8 (a producer outside Kafka's rules) is
        // kept, with the bad bytes replaced.
        let headers = m
            .headers()
            .map(|(name, value)| (String::from_utf8_lossy(name), value));
        batch.push(m.key(), m.payload(), headers, timestamp_ms, Some(origin));
    }

    /// What the consumer's own queue gave: a record or an error.
    fn polled(&mut self, batch: &mut Batch, r: Result<BorrowedMessage<'_>, KafkaError>) {
        match r {
            Ok(m) => self.take(batch, &Fetched::of(&m)),
            Err(e) => self.failed(e),
        }
    }

    /// A consumer error: a lost connection is read past (librdkafka
    /// reconnects by itself and the client context has logged it; an outage
    /// queues dozens of these ahead of the records, and pausing on each one
    /// kept a consumer behind its own backlog for minutes after the broker
    /// came back); any other closes the batch.
    fn failed(&mut self, e: KafkaError) {
        if is_transport(&e) {
            tracing::debug!(topic = %self.topic, error = %e, "Consumer error; retrying.");
        } else {
            self.error.get_or_insert(e);
        }
    }
}

/// Per partition met in one batch, the offset its next record must reach to
/// be taken: past what was handed on or handled before, then past what the
/// batch took. A few partitions per batch: a list, not a map (a hash per
/// message was a measurable part of the consume).
#[derive(Default)]
struct Floors(Vec<(i32, i64)>);

impl Floors {
    fn of(&mut self, partition: i32, before: [&BTreeMap<i32, i64>; 2]) -> &mut i64 {
        let at = match self.0.iter().position(|(p, _)| *p == partition) {
            Some(at) => at,
            None => {
                let floor = before
                    .iter()
                    .filter_map(|m| m.get(&partition))
                    .copied()
                    .max()
                    .unwrap_or(i64::MIN);
                self.0.push((partition, floor));
                self.0.len() - 1
            }
        };
        &mut self.0[at].1
    }
}

/// Whether a commit was refused because the group moved on without this
/// member's generation (a rebalance, or the member timed out).
fn group_moved_on(e: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as Code;
    matches!(
        e.rdkafka_error_code(),
        Some(
            Code::IllegalGeneration
                | Code::UnknownMemberId
                | Code::RebalanceInProgress
                | Code::FencedInstanceId
        )
    )
}

/// Moves each partition's next offset in `next` past the records of `origins`.
fn advance(next: &mut BTreeMap<i32, i64>, handled: &NextOffsets) {
    for &(partition, offset) in handled {
        let n = next.entry(partition).or_insert(0);
        *n = (*n).max(offset);
    }
}

/// The group's committed offset for a partition, if the broker says within `wait`.
fn committed(consumer: &GroupConsumer, topic: &str, partition: i32, wait: Duration) -> Option<i64> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, partition);
    let got = tokio::task::block_in_place(|| consumer.committed_offsets(tpl, wait));
    match got {
        Ok(tpl) => tpl
            .find_partition(topic, partition)
            .and_then(|p| match p.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            }),
        Err(e) => {
            // Usual while the group forms or the broker is away; asked again later.
            tracing::debug!(topic = %topic, partition, error = %e, "Cannot read the committed offset.");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::error::KafkaError;
    use rdkafka::types::RDKafkaErrorCode as Code;

    #[test]
    fn a_commit_refused_after_a_rebalance_is_told_apart() {
        for code in [
            Code::IllegalGeneration,
            Code::UnknownMemberId,
            Code::RebalanceInProgress,
        ] {
            assert!(
                group_moved_on(&KafkaError::ConsumerCommit(code)),
                "{code:?}"
            );
        }
        assert!(!group_moved_on(&KafkaError::ConsumerCommit(
            Code::BrokerTransportFailure
        )));
        assert!(!group_moved_on(&KafkaError::ConsumerCommit(
            Code::GroupAuthorizationFailed
        )));
    }
}
