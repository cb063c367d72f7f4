//! The registry's state in memory: subjects → versions → global schema ids, and
//! the compatibility configuration. Every mutation is a [`Change`], the same
//! value the `_schemas` topic records, so a replay of the topic rebuilds the
//! store and a live write is applied only after the broker has it.
//!
//! Requests are planned against the store (`plan_*`: validate and compute the
//! changes) and the changes applied afterwards, with no I/O in here.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use apache_avro::Schema;

use super::compat::{self, Level};
use super::error::ApiError;

/// One record of the registry's history, as stored in the `_schemas` topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A version of a subject (new, or re-written to mark it soft-deleted).
    Schema {
        subject: String,
        version: u32,
        id: u32,
        schema: String,
        deleted: bool,
    },
    /// A version removed for good (a tombstone in the topic).
    HardDelete { subject: String, version: u32 },
    /// Every version of `subject` up to `version` soft-deleted.
    DeleteSubject { subject: String, version: u32 },
    /// The compatibility level of a subject, or the global one when `subject`
    /// is `None`; `level: None` removes it (a tombstone).
    Config {
        subject: Option<String>,
        level: Option<Level>,
    },
}

/// A schema from a request, parsed and normalised.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Compact JSON of the schema as submitted (keys in their order, docs and
    /// custom properties kept): what the registry stores and answers with.
    pub text: String,
    pub parsed: Schema,
    /// What makes two schemas "the same" for ids: apache-avro's full JSON form,
    /// which ignores whitespace and spelling (`"int"` vs `{"type":"int"}`) but,
    /// unlike the Parsing Canonical Form, keeps field defaults and aliases, as
    /// Confluent's comparison does: adding a default is a new schema.
    identity: String,
}

impl Candidate {
    /// Parses an Avro schema. Only Avro is supported (no `schemaType` other than
    /// `AVRO`) and references are not (the embedded registry's simplification).
    pub fn parse(
        text: &str,
        schema_type: Option<&str>,
        has_references: bool,
    ) -> Result<Candidate, ApiError> {
        if let Some(t) = schema_type.filter(|t| !t.eq_ignore_ascii_case("AVRO")) {
            return Err(ApiError::InvalidSchema(format!(
                "schema type {t} is not supported by weir's embedded registry, which stores AVRO \
                 schemas only; use a Confluent Schema Registry (--schema-registry-url) for {t}"
            )));
        }
        if has_references {
            return Err(ApiError::InvalidSchema(
                "schema references are not supported by weir's embedded registry; inline the \
                 referenced types"
                    .into(),
            ));
        }
        let json: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| ApiError::InvalidSchema(format!("the schema is not JSON: {e}")))?;
        let parsed = Schema::parse(&json).map_err(|e| ApiError::InvalidSchema(e.to_string()))?;
        let identity = serde_json::to_string(&parsed)
            .map_err(|e| ApiError::InvalidSchema(format!("cannot normalise the schema: {e}")))?;
        Ok(Candidate {
            text: json.to_string(),
            parsed,
            identity,
        })
    }
}

/// Which version a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSpec {
    Latest,
    Number(u32),
}

impl VersionSpec {
    /// `latest`, `-1` (Confluent's alias for it) or 1..=2^31-1.
    pub fn parse(s: &str) -> Result<VersionSpec, ApiError> {
        if s == "latest" || s == "-1" {
            return Ok(VersionSpec::Latest);
        }
        match s.parse::<i32>() {
            Ok(n) if n >= 1 => Ok(VersionSpec::Number(n.unsigned_abs())),
            _ => Err(ApiError::InvalidVersion(s.to_string())),
        }
    }
}

/// A subject's version as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionView {
    pub subject: String,
    pub version: u32,
    pub id: u32,
    pub schema: String,
}

/// What registering a schema under a subject comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// The subject already has this schema as a live version: no write.
    Existing { id: u32, version: u32 },
    /// A new version to write, then apply.
    New {
        id: u32,
        version: u32,
        change: Change,
    },
}

#[derive(Debug, Clone, Copy)]
struct Version {
    id: u32,
    deleted: bool,
}

#[derive(Debug)]
struct Stored {
    text: String,
    parsed: Schema,
    identity: String,
}

/// Subjects, versions, schemas by id and compatibility configuration.
#[derive(Debug)]
pub struct Store {
    subjects: BTreeMap<String, BTreeMap<u32, Version>>,
    schemas: BTreeMap<u32, Stored>,
    by_identity: HashMap<String, u32>,
    /// One more than the highest id ever seen (in this process or the topic),
    /// so a hard-deleted id is not handed out again while its records remain.
    next_id: u32,
    global: Option<Level>,
    subject_levels: BTreeMap<String, Level>,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            subjects: BTreeMap::new(),
            schemas: BTreeMap::new(),
            by_identity: HashMap::new(),
            next_id: 1,
            global: None,
            subject_levels: BTreeMap::new(),
        }
    }
}

impl Store {
    // ---- reads ----

    /// Subjects with a live version (or any version, with `deleted`), sorted.
    pub fn subjects(&self, deleted: bool, prefix: &str) -> Vec<String> {
        self.subjects
            .iter()
            .filter(|(s, vs)| s.starts_with(prefix) && vs.values().any(|v| deleted || !v.deleted))
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// The subject's version numbers, ascending.
    pub fn versions(&self, subject: &str, deleted: bool) -> Result<Vec<u32>, ApiError> {
        let list: Vec<u32> = self
            .subjects
            .get(subject)
            .into_iter()
            .flatten()
            .filter(|(_, v)| deleted || !v.deleted)
            .map(|(n, _)| *n)
            .collect();
        if list.is_empty() {
            return Err(ApiError::SubjectNotFound(subject.into()));
        }
        Ok(list)
    }

    /// One version; soft-deleted ones only with `deleted`.
    pub fn version(
        &self,
        subject: &str,
        spec: VersionSpec,
        deleted: bool,
    ) -> Result<VersionView, ApiError> {
        let (number, v) = self.find(subject, spec, deleted)?;
        self.view(subject, number, v)
    }

    /// The schema with a global id; soft-deleted versions keep their id readable.
    pub fn schema(&self, id: u32) -> Result<&str, ApiError> {
        self.schemas
            .get(&id)
            .map(|s| s.text.as_str())
            .ok_or(ApiError::SchemaIdNotFound(id))
    }

    /// Every `(subject, version)` that uses schema `id`.
    pub fn id_versions(&self, id: u32, deleted: bool) -> Result<Vec<(String, u32)>, ApiError> {
        if !self.schemas.contains_key(&id) {
            return Err(ApiError::SchemaIdNotFound(id));
        }
        Ok(self
            .subjects
            .iter()
            .flat_map(|(s, vs)| {
                vs.iter()
                    .filter(|(_, v)| v.id == id && (deleted || !v.deleted))
                    .map(|(n, _)| (s.clone(), *n))
            })
            .collect())
    }

    /// The version of `subject` holding this schema (`POST /subjects/{s}`).
    pub fn lookup(
        &self,
        subject: &str,
        candidate: &Candidate,
        deleted: bool,
    ) -> Result<VersionView, ApiError> {
        let versions = self.versions(subject, deleted)?;
        let id = self
            .by_identity
            .get(&candidate.identity)
            .ok_or(ApiError::SchemaNotFound)?;
        let vs = self.subjects.get(subject);
        versions
            .into_iter()
            .rev()
            .find_map(|n| {
                let v = *vs?.get(&n)?;
                (v.id == *id).then_some((n, v))
            })
            .ok_or(ApiError::SchemaNotFound)
            .and_then(|(n, v)| self.view(subject, n, v))
    }

    pub fn global_level(&self) -> Level {
        self.global.unwrap_or_default()
    }

    /// The subject's own level, if one is configured.
    pub fn subject_level(&self, subject: &str) -> Option<Level> {
        self.subject_levels.get(subject).copied()
    }

    /// The level that applies to `subject`: its own, else the global one.
    pub fn effective_level(&self, subject: &str) -> Level {
        self.subject_level(subject)
            .unwrap_or_else(|| self.global_level())
    }

    /// Compatibility of `candidate` with one version of `subject` (`Some`), or
    /// with the live versions the subject's level covers (`None`); the reasons
    /// it is not, empty when it is.
    pub fn check(
        &self,
        subject: &str,
        against: Option<VersionSpec>,
        candidate: &Candidate,
    ) -> Result<Vec<String>, ApiError> {
        let level = self.effective_level(subject);
        match against {
            Some(spec) => {
                let (n, v) = self.find(subject, spec, false)?;
                let old = &self.stored(v.id)?.parsed;
                Ok(compat::check(level, &candidate.parsed, &[(n, old)]))
            }
            None => Ok(self.check_live(subject, level, candidate)),
        }
    }

    // ---- plans: validate a request and compute its changes ----

    /// Registering `candidate` under `subject`: the existing live version with
    /// the same schema, or a new version (reusing the schema's global id if any
    /// subject has it) after the compatibility check.
    pub fn plan_register(
        &self,
        subject: &str,
        candidate: &Candidate,
    ) -> Result<Registration, ApiError> {
        let known_id = self.by_identity.get(&candidate.identity).copied();
        let versions = self.subjects.get(subject);
        if let (Some(id), Some(vs)) = (known_id, versions)
            && let Some((n, _)) = vs.iter().rev().find(|(_, v)| !v.deleted && v.id == id)
        {
            return Ok(Registration::Existing { id, version: *n });
        }
        let reasons = self.check_live(subject, self.effective_level(subject), candidate);
        if !reasons.is_empty() {
            return Err(ApiError::Incompatible {
                subject: subject.into(),
                reasons,
            });
        }
        // Soft-deleted versions keep their numbers: the next one follows them.
        let version = versions
            .and_then(|vs| vs.keys().next_back())
            .map_or(1, |n| n + 1);
        let id = known_id.unwrap_or(self.next_id);
        Ok(Registration::New {
            id,
            version,
            change: Change::Schema {
                subject: subject.into(),
                version,
                id,
                schema: candidate.text.clone(),
                deleted: false,
            },
        })
    }

    /// Deleting a subject: soft (all live versions) or, once soft-deleted,
    /// permanent. Returns the versions deleted and the changes to write.
    pub fn plan_delete_subject(
        &self,
        subject: &str,
        permanent: bool,
    ) -> Result<(Vec<u32>, Vec<Change>), ApiError> {
        let vs = self
            .subjects
            .get(subject)
            .filter(|vs| !vs.is_empty())
            .ok_or_else(|| ApiError::SubjectNotFound(subject.into()))?;
        let live: Vec<u32> = vs
            .iter()
            .filter(|(_, v)| !v.deleted)
            .map(|(n, _)| *n)
            .collect();
        let mut changes = Vec::new();
        let deleted = if permanent {
            if !live.is_empty() {
                return Err(ApiError::SubjectNotSoftDeleted(subject.into()));
            }
            let all: Vec<u32> = vs.keys().copied().collect();
            changes.extend(all.iter().map(|n| Change::HardDelete {
                subject: subject.into(),
                version: *n,
            }));
            all
        } else {
            let Some(latest) = live.last() else {
                return Err(ApiError::SubjectSoftDeleted(subject.into()));
            };
            changes.push(Change::DeleteSubject {
                subject: subject.into(),
                version: *latest,
            });
            live
        };
        // Confluent drops the subject's compatibility level with the subject.
        if self.subject_levels.contains_key(subject) {
            changes.push(Change::Config {
                subject: Some(subject.into()),
                level: None,
            });
        }
        Ok((deleted, changes))
    }

    /// Deleting one version: soft, or permanent once soft-deleted. `latest` is
    /// the newest live version (soft) or the newest of all (permanent).
    pub fn plan_delete_version(
        &self,
        subject: &str,
        spec: VersionSpec,
        permanent: bool,
    ) -> Result<(u32, Change), ApiError> {
        // A numbered version is found even when soft-deleted, to say so.
        let (n, v) = self.find(subject, spec, permanent || spec != VersionSpec::Latest)?;
        if !permanent && v.deleted {
            return Err(ApiError::VersionSoftDeleted(subject.into(), n));
        }
        if permanent {
            if !v.deleted {
                return Err(ApiError::VersionNotSoftDeleted(subject.into(), n));
            }
            return Ok((
                n,
                Change::HardDelete {
                    subject: subject.into(),
                    version: n,
                },
            ));
        }
        Ok((
            n,
            Change::Schema {
                subject: subject.into(),
                version: n,
                id: v.id,
                schema: self.stored(v.id)?.text.clone(),
                deleted: true,
            },
        ))
    }

    // ---- apply ----

    /// Applies a change written to (or read back from) the `_schemas` topic.
    /// A schema that does not parse (a damaged record) is refused.
    pub fn apply(&mut self, change: Change) -> Result<(), String> {
        match change {
            Change::Schema {
                subject,
                version,
                id,
                schema,
                deleted,
            } => {
                if !self.schemas.contains_key(&id) {
                    let c = Candidate::parse(&schema, None, false).map_err(|e| {
                        format!("schema id {id} of subject '{subject}' version {version}: {e}")
                    })?;
                    self.by_identity.entry(c.identity.clone()).or_insert(id);
                    self.schemas.insert(
                        id,
                        Stored {
                            text: c.text,
                            parsed: c.parsed,
                            identity: c.identity,
                        },
                    );
                }
                self.next_id = self.next_id.max(id.saturating_add(1));
                self.subjects
                    .entry(subject)
                    .or_default()
                    .insert(version, Version { id, deleted });
            }
            Change::HardDelete { subject, version } => {
                let mut gone = None;
                if let Some(vs) = self.subjects.get_mut(&subject) {
                    gone = vs.remove(&version).map(|v| v.id);
                    if vs.is_empty() {
                        self.subjects.remove(&subject);
                    }
                }
                if let Some(id) = gone {
                    self.forget_if_unused(id);
                }
            }
            Change::DeleteSubject { subject, version } => {
                if let Some(vs) = self.subjects.get_mut(&subject) {
                    for (_, v) in vs.range_mut(..=version) {
                        v.deleted = true;
                    }
                }
            }
            Change::Config {
                subject: None,
                level,
            } => self.global = level,
            Change::Config {
                subject: Some(s),
                level: Some(l),
            } => {
                self.subject_levels.insert(s, l);
            }
            Change::Config {
                subject: Some(s),
                level: None,
            } => {
                self.subject_levels.remove(&s);
            }
        }
        Ok(())
    }

    // ---- helpers ----

    fn find(
        &self,
        subject: &str,
        spec: VersionSpec,
        deleted: bool,
    ) -> Result<(u32, Version), ApiError> {
        let vs = self
            .subjects
            .get(subject)
            .filter(|vs| vs.values().any(|v| deleted || !v.deleted))
            .ok_or_else(|| ApiError::SubjectNotFound(subject.into()))?;
        let found = match spec {
            VersionSpec::Latest => vs.iter().rev().find(|(_, v)| deleted || !v.deleted),
            VersionSpec::Number(n) => vs.get_key_value(&n).filter(|(_, v)| deleted || !v.deleted),
        };
        match (found, spec) {
            (Some((n, v)), _) => Ok((*n, *v)),
            (None, VersionSpec::Number(n)) => Err(ApiError::VersionNotFound(n)),
            (None, VersionSpec::Latest) => Err(ApiError::SubjectNotFound(subject.into())),
        }
    }

    fn stored(&self, id: u32) -> Result<&Stored, ApiError> {
        self.schemas.get(&id).ok_or(ApiError::SchemaIdNotFound(id))
    }

    fn view(&self, subject: &str, version: u32, v: Version) -> Result<VersionView, ApiError> {
        Ok(VersionView {
            subject: subject.into(),
            version,
            id: v.id,
            schema: self.stored(v.id)?.text.clone(),
        })
    }

    /// Checks against the subject's live versions, newest first.
    fn check_live(&self, subject: &str, level: Level, candidate: &Candidate) -> Vec<String> {
        if level == Level::None {
            return Vec::new();
        }
        let earlier: Vec<(u32, &Schema)> = self
            .subjects
            .get(subject)
            .into_iter()
            .flatten()
            .rev()
            .filter(|(_, v)| !v.deleted)
            .filter_map(|(n, v)| Some((*n, &self.schemas.get(&v.id)?.parsed)))
            .collect();
        compat::check(level, &candidate.parsed, &earlier)
    }

    /// Drops schema `id` once no version of any subject refers to it.
    fn forget_if_unused(&mut self, id: u32) {
        let used: BTreeSet<u32> = self
            .subjects
            .values()
            .flatten()
            .map(|(_, v)| v.id)
            .collect();
        if !used.contains(&id)
            && let Some(s) = self.schemas.remove(&id)
        {
            self.by_identity.remove(&s.identity);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(extra: &str) -> Candidate {
        Candidate::parse(
            &format!(r#"{{"type":"record","name":"User","fields":[{{"name":"id","type":"long"}}{extra}]}}"#),
            None,
            false,
        )
        .expect("test schema parses")
    }

    /// Plans and applies a registration, as the service does after the write.
    fn register(store: &mut Store, subject: &str, c: &Candidate) -> Result<(u32, u32), ApiError> {
        match store.plan_register(subject, c)? {
            Registration::Existing { id, version } => Ok((id, version)),
            Registration::New {
                id,
                version,
                change,
            } => {
                store.apply(change).expect("applies");
                Ok((id, version))
            }
        }
    }

    fn apply_all(store: &mut Store, changes: Vec<Change>) {
        for c in changes {
            store.apply(c).expect("applies");
        }
    }

    #[test]
    fn ids_start_at_one_and_the_same_schema_keeps_its_id() {
        let mut s = Store::default();
        let v1 = user("");
        assert_eq!(register(&mut s, "a", &v1), Ok((1, 1)));
        // Same schema, other whitespace and spelling: same id and version.
        let spaced = Candidate::parse(
            r#"{ "type": "record", "name": "User",
                 "fields": [ { "name": "id", "type": {"type": "long"} } ] }"#,
            None,
            false,
        )
        .expect("parses");
        assert_eq!(register(&mut s, "a", &spaced), Ok((1, 1)));
        // Same schema under another subject: same global id, its own version 1.
        assert_eq!(register(&mut s, "b", &v1), Ok((1, 1)));
        let v2 = user(r#",{"name":"email","type":"string","default":""}"#);
        assert_eq!(register(&mut s, "a", &v2), Ok((2, 2)));
        assert_eq!(s.versions("a", false), Ok(vec![1, 2]));
        assert_eq!(s.subjects(false, ""), vec!["a", "b"]);
    }

    #[test]
    fn a_default_makes_a_different_schema() {
        let mut s = Store::default();
        let plain = user(r#",{"name":"email","type":"string"}"#);
        let with_default = user(r#",{"name":"email","type":"string","default":""}"#);
        assert_eq!(register(&mut s, "a", &plain), Ok((1, 1)));
        assert_eq!(register(&mut s, "a", &with_default), Ok((2, 2)));
        assert!(s.schema(2).expect("stored").contains("default"));
    }

    #[test]
    fn an_incompatible_schema_is_refused_with_the_reason() {
        let mut s = Store::default();
        register(&mut s, "a", &user("")).expect("v1");
        let err = register(&mut s, "a", &user(r#",{"name":"email","type":"string"}"#))
            .expect_err("no default: not BACKWARD");
        assert_eq!(err.error_code(), 409);
        assert!(err.to_string().contains("email"), "{err}");
        // Under NONE the same schema is accepted.
        s.apply(Change::Config {
            subject: Some("a".into()),
            level: Some(Level::None),
        })
        .expect("applies");
        assert_eq!(
            register(&mut s, "a", &user(r#",{"name":"email","type":"string"}"#)),
            Ok((2, 2))
        );
        assert_eq!(s.effective_level("a"), Level::None);
        assert_eq!(s.effective_level("b"), Level::Backward);
    }

    #[test]
    fn invalid_and_non_avro_schemas_are_42201() {
        for (text, ty, refs) in [
            (r#"{"type":"record","name":"X"}"#, None, false),
            ("not json", None, false),
            (r#""string""#, Some("PROTOBUF"), false),
            (r#""string""#, Some("AVRO"), true),
        ] {
            let err = Candidate::parse(text, ty, refs).expect_err(text);
            assert_eq!(err.error_code(), 42201, "{text}: {err}");
        }
        assert!(Candidate::parse(r#""string""#, Some("AVRO"), false).is_ok());
    }

    #[test]
    fn soft_deleted_versions_hide_but_keep_their_ids() {
        let mut s = Store::default();
        register(&mut s, "a", &user("")).expect("v1");
        let v2 = user(r#",{"name":"email","type":"string","default":""}"#);
        register(&mut s, "a", &v2).expect("v2");
        let (n, change) = s
            .plan_delete_version("a", VersionSpec::Latest, false)
            .expect("soft delete");
        assert_eq!(n, 2);
        s.apply(change).expect("applies");
        assert_eq!(s.versions("a", false), Ok(vec![1]));
        assert_eq!(s.versions("a", true), Ok(vec![1, 2]));
        assert!(
            s.schema(2).is_ok(),
            "ids of soft-deleted versions still resolve"
        );
        assert_eq!(
            s.version("a", VersionSpec::Number(2), false),
            Err(ApiError::VersionNotFound(2))
        );
        assert_eq!(
            s.version("a", VersionSpec::Number(2), true).map(|v| v.id),
            Ok(2)
        );
        // Soft-deleting it again: 40406; registering it again: a new version.
        let again = s.plan_delete_version("a", VersionSpec::Number(2), false);
        assert_eq!(again.map_err(|e| e.error_code()).map(|_| ()), Err(40406));
        assert_eq!(register(&mut s, "a", &v2), Ok((2, 3)));
    }

    #[test]
    fn hard_delete_needs_a_soft_delete_first() {
        let mut s = Store::default();
        register(&mut s, "a", &user("")).expect("v1");
        let err = s
            .plan_delete_subject("a", true)
            .expect_err("not soft-deleted");
        assert_eq!(err.error_code(), 40405);
        let err = s
            .plan_delete_version("a", VersionSpec::Number(1), true)
            .expect_err("not soft-deleted");
        assert_eq!(err.error_code(), 40407);

        let (deleted, changes) = s.plan_delete_subject("a", false).expect("soft");
        assert_eq!(deleted, vec![1]);
        apply_all(&mut s, changes);
        assert!(s.subjects(false, "").is_empty());
        assert_eq!(s.subjects(true, ""), vec!["a"]);
        assert_eq!(
            s.versions("a", false),
            Err(ApiError::SubjectNotFound("a".into()))
        );
        let err = s.plan_delete_subject("a", false).expect_err("twice");
        assert_eq!(err.error_code(), 40404);
        assert!(s.schema(1).is_ok());

        let (deleted, changes) = s.plan_delete_subject("a", true).expect("hard");
        assert_eq!(deleted, vec![1]);
        apply_all(&mut s, changes);
        assert!(s.subjects(true, "").is_empty());
        assert_eq!(s.schema(1), Err(ApiError::SchemaIdNotFound(1)));
        // The id is not handed out again; versions start over.
        assert_eq!(register(&mut s, "a", &user("")), Ok((2, 1)));
    }

    #[test]
    fn a_schema_shared_by_two_subjects_survives_one_hard_delete() {
        let mut s = Store::default();
        register(&mut s, "a", &user("")).expect("a");
        register(&mut s, "b", &user("")).expect("b");
        let (_, soft) = s.plan_delete_subject("a", false).expect("soft");
        apply_all(&mut s, soft);
        let (_, hard) = s.plan_delete_subject("a", true).expect("hard");
        apply_all(&mut s, hard);
        assert!(s.schema(1).is_ok());
        assert_eq!(s.id_versions(1, false), Ok(vec![("b".to_string(), 1)]));
    }

    #[test]
    fn lookup_finds_the_version_under_the_subject_only() {
        let mut s = Store::default();
        register(&mut s, "a", &user("")).expect("a");
        let other = user(r#",{"name":"email","type":"string","default":""}"#);
        register(&mut s, "b", &user("")).expect("b v1");
        register(&mut s, "b", &other).expect("b v2");
        assert_eq!(s.lookup("a", &user(""), false).map(|v| v.version), Ok(1));
        assert_eq!(s.lookup("a", &other, false), Err(ApiError::SchemaNotFound));
        assert_eq!(
            s.lookup("c", &other, false),
            Err(ApiError::SubjectNotFound("c".into()))
        );
    }

    #[test]
    fn versions_parse_like_confluent() {
        assert_eq!(VersionSpec::parse("latest"), Ok(VersionSpec::Latest));
        assert_eq!(VersionSpec::parse("-1"), Ok(VersionSpec::Latest));
        assert_eq!(VersionSpec::parse("3"), Ok(VersionSpec::Number(3)));
        for bad in ["0", "-2", "x", "2147483648"] {
            assert_eq!(
                VersionSpec::parse(bad).map_err(|e| e.error_code()),
                Err(42202),
                "{bad}"
            );
        }
    }
}
