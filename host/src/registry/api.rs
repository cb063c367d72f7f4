//! The Confluent Schema Registry REST API (the endpoints Confluent's clients
//! use) over the [`Store`], with every change written to the [`Log`] first.
//!
//! Simplifications, compared with Confluent's registry: Avro only, no schema
//! references, no modes (READONLY, IMPORT), contexts, metadata or rule sets;
//! `offset`/`limit`/`deletedOnly` are ignored (whole lists are answered), and
//! `normalize` is implied (schemas always compare in normalised form).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::compat::Level;
use super::error::ApiError;
use super::log::Log;
use super::store::{Candidate, Change, Registration, Store, VersionSpec};

/// The media type Confluent answers with.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// Request media types accepted, as Confluent does (no type at all is accepted too).
const ACCEPTED: [&str; 4] = [
    CONTENT_TYPE,
    "application/vnd.schemaregistry+json",
    "application/json",
    "application/octet-stream",
];

/// The registry behind the routes: the store for reads, the log for writes.
/// Writers hold the log's mutex from planning to applying, so two requests
/// never hand out the same id or version.
pub struct Registry {
    store: RwLock<Store>,
    log: tokio::sync::Mutex<Log>,
}

impl Registry {
    pub fn new(store: Store, log: Log) -> Registry {
        Registry {
            store: RwLock::new(store),
            log: tokio::sync::Mutex::new(log),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes each change and applies it once the broker has acknowledged it.
    async fn commit(&self, log: &Log, changes: Vec<Change>) -> Result<(), ApiError> {
        for change in changes {
            log.append(&change).await?;
            self.write().apply(change).map_err(ApiError::Storage)?;
        }
        Ok(())
    }
}

type Shared = State<Arc<Registry>>;
type Params = Query<HashMap<String, String>>;
type Answer = Result<Response, ApiError>;

/// All routes, with Confluent's error body for unknown paths.
pub fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/subjects", get(subjects))
        .route("/subjects/{subject}", post(lookup).delete(delete_subject))
        .route("/subjects/{subject}/versions", get(versions).post(register))
        .route(
            "/subjects/{subject}/versions/{version}",
            get(version).delete(delete_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(version_schema),
        )
        .route(
            "/subjects/{subject}/versions/{version}/referencedby",
            get(referenced_by),
        )
        .route("/schemas/types", get(schema_types))
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/schemas/ids/{id}/schema", get(raw_schema_by_id))
        .route("/schemas/ids/{id}/versions", get(id_versions))
        .route("/schemas/ids/{id}/subjects", get(id_subjects))
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(check_all),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(check_version),
        )
        .route("/config", get(global_config).put(set_global_config))
        .route(
            "/config/{subject}",
            get(subject_config)
                .put(set_subject_config)
                .delete(delete_subject_config),
        )
        .fallback(|| async { ApiError::NoSuchEndpoint.into_response() })
        .with_state(registry)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = %self, "Schema registry request failed.");
        }
        reply(
            status,
            json!({"error_code": self.error_code(), "message": self.to_string()}).to_string(),
        )
    }
}

fn reply(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    r
}

fn ok(body: Value) -> Answer {
    Ok(reply(StatusCode::OK, body.to_string()))
}

/// `?name=true` (any case); Python clients send `False`/`True`.
fn flag(q: &HashMap<String, String>, name: &str) -> bool {
    q.get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// A JSON request body, after checking its media type.
fn body<T: DeserializeOwned>(headers: &HeaderMap, bytes: &[u8]) -> Result<T, ApiError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let mime = ct
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if !ACCEPTED.contains(&mime.as_str()) {
            return Err(ApiError::UnsupportedMediaType(mime));
        }
    }
    serde_json::from_slice(bytes).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            ApiError::MalformedBody(format!("the request body is not JSON: {e}"))
        } else {
            ApiError::UnprocessableBody(format!("unexpected request body: {e}"))
        }
    })
}

/// The body of register, lookup and compatibility requests. Other fields
/// Confluent accepts (`metadata`, `ruleSet`, `id`, `version`) are ignored.
#[derive(Deserialize)]
struct SchemaRequest {
    schema: String,
    #[serde(rename = "schemaType")]
    schema_type: Option<String>,
    #[serde(default)]
    references: Option<Vec<Value>>,
}

impl SchemaRequest {
    fn candidate(&self) -> Result<Candidate, ApiError> {
        Candidate::parse(
            &self.schema,
            self.schema_type.as_deref(),
            self.references.as_ref().is_some_and(|r| !r.is_empty()),
        )
    }
}

fn schema_request(headers: &HeaderMap, bytes: &[u8]) -> Result<Candidate, ApiError> {
    body::<SchemaRequest>(headers, bytes)?.candidate()
}

#[derive(Deserialize)]
struct ConfigRequest {
    compatibility: String,
}

fn schema_id(id: &str) -> Result<u32, ApiError> {
    id.parse().map_err(|_| ApiError::SchemaNotFound)
}

// ---- handlers ----

async fn root() -> Answer {
    ok(json!({}))
}

/// `subjectPrefix` is the documented name; Confluent's Python client sends `subject`.
async fn subjects(State(r): Shared, Query(q): Params) -> Answer {
    let prefix = q
        .get("subjectPrefix")
        .or_else(|| q.get("subject"))
        .map_or("", String::as_str);
    ok(json!(r.read().subjects(flag(&q, "deleted"), prefix)))
}

async fn versions(State(r): Shared, Path(subject): Path<String>, Query(q): Params) -> Answer {
    ok(json!(r.read().versions(&subject, flag(&q, "deleted"))?))
}

async fn version(
    State(r): Shared,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Params,
) -> Answer {
    let spec = VersionSpec::parse(&version)?;
    let v = r.read().version(&subject, spec, flag(&q, "deleted"))?;
    // Confluent omits `schemaType` for AVRO.
    ok(json!({"subject": v.subject, "version": v.version, "id": v.id, "schema": v.schema}))
}

async fn version_schema(
    State(r): Shared,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Params,
) -> Answer {
    let spec = VersionSpec::parse(&version)?;
    let v = r.read().version(&subject, spec, flag(&q, "deleted"))?;
    Ok(reply(StatusCode::OK, v.schema))
}

async fn register(
    State(r): Shared,
    Path(subject): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Answer {
    let candidate = schema_request(&headers, &bytes)?;
    let log = r.log.lock().await;
    let plan = r.read().plan_register(&subject, &candidate)?;
    match plan {
        Registration::Existing { id, .. } => ok(json!({ "id": id })),
        Registration::New {
            id,
            version,
            change,
        } => {
            r.commit(&log, vec![change]).await?;
            tracing::info!(%subject, id, version, "Schema registered.");
            ok(json!({ "id": id }))
        }
    }
}

async fn lookup(
    State(r): Shared,
    Path(subject): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
    bytes: Bytes,
) -> Answer {
    let candidate = schema_request(&headers, &bytes)?;
    let v = r.read().lookup(&subject, &candidate, flag(&q, "deleted"))?;
    ok(json!({"subject": v.subject, "version": v.version, "id": v.id, "schema": v.schema}))
}

async fn delete_subject(State(r): Shared, Path(subject): Path<String>, Query(q): Params) -> Answer {
    let log = r.log.lock().await;
    let (deleted, changes) = r
        .read()
        .plan_delete_subject(&subject, flag(&q, "permanent"))?;
    r.commit(&log, changes).await?;
    ok(json!(deleted))
}

async fn delete_version(
    State(r): Shared,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Params,
) -> Answer {
    let spec = VersionSpec::parse(&version)?;
    let log = r.log.lock().await;
    let (n, change) = r
        .read()
        .plan_delete_version(&subject, spec, flag(&q, "permanent"))?;
    r.commit(&log, vec![change]).await?;
    ok(json!(n))
}

async fn schema_types() -> Answer {
    ok(json!(["AVRO"]))
}

async fn schema_by_id(State(r): Shared, Path(id): Path<String>) -> Answer {
    let id = schema_id(&id)?;
    ok(json!({ "schema": r.read().schema(id)? }))
}

async fn raw_schema_by_id(State(r): Shared, Path(id): Path<String>) -> Answer {
    let id = schema_id(&id)?;
    let text = r.read().schema(id)?.to_string();
    Ok(reply(StatusCode::OK, text))
}

async fn id_versions(State(r): Shared, Path(id): Path<String>, Query(q): Params) -> Answer {
    let id = schema_id(&id)?;
    let list: Vec<Value> = r
        .read()
        .id_versions(id, flag(&q, "deleted"))?
        .into_iter()
        .map(|(subject, version)| json!({"subject": subject, "version": version}))
        .collect();
    ok(json!(list))
}

async fn id_subjects(State(r): Shared, Path(id): Path<String>, Query(q): Params) -> Answer {
    let id = schema_id(&id)?;
    let mut subjects: Vec<String> = r
        .read()
        .id_versions(id, flag(&q, "deleted"))?
        .into_iter()
        .map(|(subject, _)| subject)
        .collect();
    subjects.dedup();
    ok(json!(subjects))
}

/// No schema references are stored, so no version is referenced by another.
async fn referenced_by(
    State(r): Shared,
    Path((subject, version)): Path<(String, String)>,
) -> Answer {
    let spec = VersionSpec::parse(&version)?;
    r.read().version(&subject, spec, false)?;
    ok(json!([]))
}

fn compatibility(reasons: Vec<String>, q: &HashMap<String, String>) -> Answer {
    let mut answer = json!({ "is_compatible": reasons.is_empty() });
    if flag(q, "verbose") {
        answer["messages"] = json!(reasons);
    }
    ok(answer)
}

async fn check_version(
    State(r): Shared,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Params,
    headers: HeaderMap,
    bytes: Bytes,
) -> Answer {
    let spec = VersionSpec::parse(&version)?;
    let candidate = schema_request(&headers, &bytes)?;
    let reasons = r.read().check(&subject, Some(spec), &candidate)?;
    compatibility(reasons, &q)
}

/// Against every live version the subject's level covers; a subject without
/// versions accepts anything.
async fn check_all(
    State(r): Shared,
    Path(subject): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
    bytes: Bytes,
) -> Answer {
    let candidate = schema_request(&headers, &bytes)?;
    let reasons = r.read().check(&subject, None, &candidate)?;
    compatibility(reasons, &q)
}

async fn global_config(State(r): Shared) -> Answer {
    ok(json!({ "compatibilityLevel": r.read().global_level().as_str() }))
}

/// `?defaultToGlobal=true` answers the global level for a subject without its
/// own; without it such a subject is 40408, as in Confluent.
async fn subject_config(State(r): Shared, Path(subject): Path<String>, Query(q): Params) -> Answer {
    let store = r.read();
    let level = match store.subject_level(&subject) {
        Some(l) => l,
        None if flag(&q, "defaultToGlobal") => store.global_level(),
        None => return Err(ApiError::SubjectConfigNotFound(subject)),
    };
    ok(json!({ "compatibilityLevel": level.as_str() }))
}

async fn set_config(
    r: &Registry,
    subject: Option<String>,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Answer {
    let req: ConfigRequest = body(headers, bytes)?;
    let level = Level::parse(&req.compatibility)
        .ok_or_else(|| ApiError::InvalidCompatibility(req.compatibility.clone()))?;
    let log = r.log.lock().await;
    r.commit(
        &log,
        vec![Change::Config {
            subject,
            level: Some(level),
        }],
    )
    .await?;
    ok(json!({ "compatibility": level.as_str() }))
}

async fn set_global_config(State(r): Shared, headers: HeaderMap, bytes: Bytes) -> Answer {
    set_config(&r, None, &headers, &bytes).await
}

async fn set_subject_config(
    State(r): Shared,
    Path(subject): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Answer {
    set_config(&r, Some(subject), &headers, &bytes).await
}

/// Removes the subject's own level (it falls back to the global one) and
/// answers the level it had.
async fn delete_subject_config(State(r): Shared, Path(subject): Path<String>) -> Answer {
    let log = r.log.lock().await;
    let old = r
        .read()
        .subject_level(&subject)
        .ok_or_else(|| ApiError::SubjectConfigNotFound(subject.clone()))?;
    r.commit(
        &log,
        vec![Change::Config {
            subject: Some(subject),
            level: None,
        }],
    )
    .await?;
    ok(json!({ "compatibilityLevel": old.as_str() }))
}
