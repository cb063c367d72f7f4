//! Checkpoints: every plugin's snapshot stored together with the source
//! positions it covers, in one file replaced atomically, so a restart restores
//! state and position as a pair and never counts a record twice.

mod file;

use std::path::PathBuf;

pub use file::CheckpointStore;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("checkpoint {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "checkpoint {path} is damaged ({reason}); move it away to start this connector from scratch"
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "the checkpoint in {place} is damaged ({reason}); delete that key (or the topic) to start this connector from scratch"
    )]
    CorruptTopic { place: String, reason: String },
}

/// One stage's saved state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageState {
    /// `source`, `transform[0]`, `aggregate`: where the stage sits in the connector.
    pub stage: String,
    /// The plugin's name, so a checkpoint is never restored into another plugin.
    pub plugin: String,
    /// Shared with the plugin instance, which keeps it to restore a fresh
    /// instance after a trap: a snapshot of megabytes is not copied for that.
    pub snapshot: std::sync::Arc<Vec<u8>>,
}

/// What a connector needs to continue after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Checkpoint {
    /// Increases with every checkpoint of this connector.
    pub sequence: u64,
    pub written_ms: i64,
    /// The source cluster's id: positions mean nothing on another cluster.
    pub source_cluster: Option<String>,
    /// Where a source without Kafka offsets (a generator, a poller) sent its
    /// output, as `<cluster id>/<topic>`: its state (a generator's table, the
    /// records it already made) means nothing to another cluster or topic.
    pub output: Option<String>,
    /// Where the source was: everything before it is in the snapshots.
    pub position: Option<SourcePosition>,
    pub stages: Vec<StageState>,
}

/// A source's position in a checkpoint: bytes only its kind reads (Kafka
/// offsets, a generator's lineage, a database's log position), so a new kind
/// of source needs no new checkpoint format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePosition {
    /// The source kind that wrote it (`kafka`, `generator`, …).
    pub kind: String,
    pub bytes: Vec<u8>,
}

impl Checkpoint {
    /// The snapshot saved for `stage`, refusing one written by another plugin.
    pub fn stage(&self, stage: &str, plugin: &str) -> Result<Option<&[u8]>, String> {
        match self.stages.iter().find(|s| s.stage == stage) {
            None => Ok(None),
            Some(s) if s.plugin == plugin => Ok(Some(&s.snapshot)),
            Some(s) => Err(format!(
                "the checkpoint holds state of plugin `{}` for {stage}, but the connector now runs `{plugin}`",
                s.plugin
            )),
        }
    }
}
