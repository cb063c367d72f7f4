//! The checkpoint file: magic, a JSON header, the snapshots as raw bytes, and a
//! SHA-256 of all of it. Written to a temporary name, synced, then renamed over
//! the previous one, so a crash leaves either the old or the new checkpoint.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Checkpoint, SourcePosition, StageState, StateError};

const MAGIC: &[u8; 8] = b"WEIRCKP1";
const DIGEST_LEN: usize = 32;

#[derive(Serialize, Deserialize)]
struct Header {
    sequence: u64,
    written_ms: i64,
    source_cluster: Option<String>,
    #[serde(default)]
    output: Option<String>,
    /// The source position's kind and length; its bytes follow the snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    position: Option<PositionHeader>,
    stages: Vec<StageHeader>,
    /// Files written before positions were opaque held a Kafka source's
    /// offsets here ...
    #[serde(default, skip_serializing)]
    positions: BTreeMap<String, BTreeMap<i32, i64>>,
    /// ... and a generator's lineage and count here.
    #[serde(default, skip_serializing)]
    lineage: Option<String>,
    #[serde(default, skip_serializing)]
    generated: u64,
}

#[derive(Serialize, Deserialize)]
struct PositionHeader {
    kind: String,
    len: u64,
}

#[derive(Serialize, Deserialize)]
struct StageHeader {
    stage: String,
    plugin: String,
    len: u64,
}

/// The checkpoint file of one connector.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    path: PathBuf,
}

impl CheckpointStore {
    /// `<dir>/<connector>.ckpt`.
    pub fn new(dir: &Path, connector: &str) -> Self {
        CheckpointStore {
            path: dir.join(format!("{connector}.ckpt")),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last checkpoint, or `None` when there is none yet.
    pub fn load(&self) -> Result<Option<Checkpoint>, StateError> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Io {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        decode(&bytes)
            .map(Some)
            .map_err(|reason| StateError::Corrupt {
                path: self.path.clone(),
                reason,
            })
    }

    /// Replaces the checkpoint atomically and durably.
    pub fn save(&self, checkpoint: &Checkpoint) -> Result<(), StateError> {
        let io = |source| StateError::Io {
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(io)?;
        let tmp = self.path.with_extension("ckpt.tmp");
        let mut f = BufWriter::new(File::create(&tmp).map_err(io)?);
        write(checkpoint, &mut f).map_err(io)?;
        let f = f.into_inner().map_err(|e| io(e.into_error()))?;
        f.sync_all().map_err(io)?;
        drop(f);
        fs::rename(&tmp, &self.path).map_err(io)?;
        // The rename itself is durable once the directory is synced.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Checkpoint {
    /// The checkpoint's bytes, as a file or a state-topic value holds them.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    /// Reads [`Checkpoint::to_bytes`] back, checking its digest.
    pub fn from_bytes(bytes: &[u8]) -> Result<Checkpoint, String> {
        decode(bytes)
    }
}

fn encode(c: &Checkpoint) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        MAGIC.len()
            + 4
            + 1024
            + c.stages.iter().map(|s| s.snapshot.len()).sum::<usize>()
            + c.position.as_ref().map_or(0, |p| p.bytes.len())
            + DIGEST_LEN,
    );
    // Writing into a `Vec` cannot fail.
    let _ = write(c, &mut out);
    out
}

/// Writes the checkpoint's bytes to `w` piece by piece, digesting them on the
/// way: a file is written without first copying every snapshot (megabytes of
/// a plugin's state) into one buffer.
fn write(c: &Checkpoint, w: &mut impl Write) -> std::io::Result<()> {
    let header = Header {
        sequence: c.sequence,
        written_ms: c.written_ms,
        source_cluster: c.source_cluster.clone(),
        output: c.output.clone(),
        position: c.position.as_ref().map(|p| PositionHeader {
            kind: p.kind.clone(),
            len: p.bytes.len() as u64,
        }),
        positions: BTreeMap::new(),
        lineage: None,
        generated: 0,
        stages: c
            .stages
            .iter()
            .map(|s| StageHeader {
                stage: s.stage.clone(),
                plugin: s.plugin.clone(),
                len: s.snapshot.len() as u64,
            })
            .collect(),
    };
    // A header of strings and integers always serializes.
    let json = serde_json::to_vec(&header).unwrap_or_default();
    let position = c.position.as_ref().map_or(&[][..], |p| &p.bytes[..]);
    let mut digest = Sha256::new();
    let json_len = (json.len() as u32).to_le_bytes();
    let pieces = [&MAGIC[..], &json_len, &json]
        .into_iter()
        .chain(c.stages.iter().map(|s| &s.snapshot[..]))
        .chain([position]);
    for piece in pieces {
        digest.update(piece);
        w.write_all(piece)?;
    }
    w.write_all(&digest.finalize())
}

fn decode(bytes: &[u8]) -> Result<Checkpoint, String> {
    let body_len = bytes
        .len()
        .checked_sub(DIGEST_LEN)
        .filter(|&n| n >= MAGIC.len() + 4)
        .ok_or_else(|| format!("only {} bytes", bytes.len()))?;
    let (body, digest) = bytes.split_at(body_len);
    if &body[..MAGIC.len()] != MAGIC {
        return Err("not a weir checkpoint (wrong magic bytes)".into());
    }
    if Sha256::digest(body).as_slice() != digest {
        return Err("checksum mismatch".into());
    }
    let mut len = [0u8; 4];
    len.copy_from_slice(&body[MAGIC.len()..MAGIC.len() + 4]);
    let json_start = MAGIC.len() + 4;
    let json_end = json_start + u32::from_le_bytes(len) as usize;
    let json = body
        .get(json_start..json_end)
        .ok_or("header longer than the file")?;
    let header: Header =
        serde_json::from_slice(json).map_err(|e| format!("unreadable header: {e}"))?;
    let mut at = json_end;
    let mut stages = Vec::with_capacity(header.stages.len());
    for s in header.stages {
        let end = at.saturating_add(s.len as usize);
        let snapshot = body
            .get(at..end)
            .ok_or_else(|| format!("snapshot of {} is cut short", s.stage))?
            .to_vec();
        at = end;
        stages.push(StageState {
            stage: s.stage,
            plugin: s.plugin,
            snapshot: snapshot.into(),
        });
    }
    let position = match header.position {
        Some(p) => {
            let end = at.saturating_add(p.len as usize);
            let bytes = body
                .get(at..end)
                .ok_or("the source position is cut short")?
                .to_vec();
            at = end;
            Some(SourcePosition {
                kind: p.kind,
                bytes,
            })
        }
        None => legacy_position(&header.positions, header.lineage, header.generated),
    };
    if at != body.len() {
        return Err(format!("{} unexpected trailing bytes", body.len() - at));
    }
    Ok(Checkpoint {
        sequence: header.sequence,
        written_ms: header.written_ms,
        source_cluster: header.source_cluster,
        output: header.output,
        position,
        stages,
    })
}

/// The position a file written before positions were opaque holds, in the
/// form its source kind reads today: Kafka offsets per topic and partition
/// (`{"t":{"0":5}}`), or a generator's `{"lineage":…,"generated":…}`.
fn legacy_position(
    positions: &BTreeMap<String, BTreeMap<i32, i64>>,
    lineage: Option<String>,
    generated: u64,
) -> Option<SourcePosition> {
    let (kind, json) = match lineage {
        Some(lineage) => (
            "generator",
            serde_json::json!({ "lineage": lineage, "generated": generated }),
        ),
        None if !positions.is_empty() => ("kafka", serde_json::json!(positions)),
        None => return None,
    };
    Some(SourcePosition {
        kind: kind.into(),
        bytes: json.to_string().into_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            sequence: 3,
            written_ms: 1_700_000_000_000,
            source_cluster: Some("c1".into()),
            output: Some("c1/purchases".into()),
            position: Some(SourcePosition {
                kind: "kafka".into(),
                bytes: br#"{"purchases":{"0":17,"2":5}}"#.to_vec(),
            }),
            stages: vec![
                StageState {
                    stage: "transform[0]".into(),
                    plugin: "purchases-validate".into(),
                    snapshot: vec![1, 2, 3].into(),
                },
                StageState {
                    stage: "aggregate".into(),
                    plugin: "purchases-daily".into(),
                    snapshot: Vec::new().into(),
                },
            ],
        }
    }

    #[test]
    fn save_then_load_gives_the_same_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), "c");
        assert_eq!(store.load().unwrap(), None);
        store.save(&sample()).unwrap();
        assert_eq!(store.load().unwrap(), Some(sample()));
        let mut next = sample();
        next.sequence = 4;
        store.save(&next).unwrap();
        assert_eq!(store.load().unwrap().unwrap().sequence, 4);
    }

    /// A file written before `output` (and `lineage`) existed still loads.
    #[test]
    fn an_older_header_still_loads() {
        let json = br#"{"sequence":7,"written_ms":1,"source_cluster":"c1","positions":{"t":{"0":5}},"stages":[]}"#;
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&(json.len() as u32).to_le_bytes());
        bytes.extend_from_slice(json);
        let digest = Sha256::digest(&bytes);
        bytes.extend_from_slice(&digest);
        let c = decode(&bytes).unwrap();
        assert_eq!(c.sequence, 7);
        assert_eq!(c.output, None);
        let p = c.position.unwrap();
        assert_eq!(
            (p.kind.as_str(), &p.bytes[..]),
            ("kafka", &br#"{"t":{"0":5}}"#[..])
        );
    }

    /// Files written by weir before positions were opaque, kept in
    /// `tests/data`: their Kafka offsets and generator lineage come back as
    /// the positions those sources read today.
    #[test]
    fn checkpoint_files_of_earlier_versions_still_load() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        let store = |name: &str| CheckpointStore {
            path: data.join(name),
        };
        let kafka = store("checkpoint-kafka-offsets.ckpt")
            .load()
            .unwrap()
            .unwrap();
        assert_eq!(kafka.sequence, 12);
        let p = kafka.position.clone().unwrap();
        assert_eq!(p.kind, "kafka");
        let offsets: BTreeMap<String, BTreeMap<i32, i64>> =
            serde_json::from_slice(&p.bytes).unwrap();
        assert_eq!(
            offsets["purchases"],
            BTreeMap::from([(0, 120), (1, 95), (2, 130)])
        );
        assert_eq!(
            kafka.stage("aggregate", "purchases-daily").unwrap(),
            Some(&b"{\"days\":{}}"[..])
        );
        let generator = store("checkpoint-generator-lineage.ckpt")
            .load()
            .unwrap()
            .unwrap();
        let p = generator.position.clone().unwrap();
        assert_eq!(p.kind, "generator");
        let v: serde_json::Value = serde_json::from_slice(&p.bytes).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"lineage": "3f2a9c", "generated": 2000})
        );
        assert_eq!(generator.output.as_deref(), Some("weir-embedded/purchases"));
        assert_eq!(
            generator.stage("source", "purchases-gen").unwrap(),
            Some(&b"gen-state"[..])
        );
    }

    #[test]
    fn a_checkpoint_without_a_position_round_trips() {
        let mut c = sample();
        c.position = None;
        assert_eq!(decode(&encode(&c)).unwrap(), c);
    }

    #[test]
    fn any_flipped_byte_is_detected() {
        let bytes = encode(&sample());
        for i in [0, 9, 20, bytes.len() / 2, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(decode(&bad).is_err(), "flip at {i} not detected");
        }
        assert!(decode(&bytes[..10]).is_err());
    }

    #[test]
    fn state_of_another_plugin_is_refused() {
        let c = sample();
        assert_eq!(
            c.stage("transform[0]", "purchases-validate").unwrap(),
            Some(&[1u8, 2, 3][..])
        );
        assert_eq!(c.stage("source", "x").unwrap(), None);
        let e = c.stage("aggregate", "other").unwrap_err();
        assert!(e.contains("purchases-daily"), "{e}");
    }
}
