//! A small client for a Confluent-compatible schema registry (the embedded one
//! or Confluent's): what a serializer needs, registering a schema, checking it
//! first, and fetching a schema by the id found in a record.

use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use url::Url;

use super::api::CONTENT_TYPE;

/// Why a registry call failed; registry answers keep Confluent's `error_code`.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("schema registry URL `{url}` is not usable: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot reach the schema registry at {url}: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error(
        "the schema registry at {url} refused the request (HTTP {status}, error {error_code}): {message}"
    )]
    Registry {
        url: String,
        status: u16,
        error_code: u32,
        message: String,
    },
    #[error(
        "the schema for subject `{subject}` is not compatible with the versions registered under it: {}",
        reasons.join("; ")
    )]
    Incompatible {
        subject: String,
        reasons: Vec<String>,
    },
    #[error("unexpected answer from the schema registry at {url}: {reason}")]
    BadResponse { url: String, reason: String },
}

impl ClientError {
    /// Confluent's `error_code` when the registry answered with one.
    pub fn error_code(&self) -> Option<u32> {
        match self {
            ClientError::Registry { error_code, .. } => Some(*error_code),
            _ => None,
        }
    }
}

/// A registry at one base URL. Credentials in the URL (`https://key:secret@…`)
/// are sent as HTTP basic auth and never shown in errors.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    base: Url,
    auth: Option<(String, Option<String>)>,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct IdAnswer {
    id: u32,
}

#[derive(Deserialize)]
struct VersionAnswer {
    version: u32,
}

#[derive(Deserialize)]
struct SchemaAnswer {
    schema: String,
}

#[derive(Deserialize)]
struct CompatibilityAnswer {
    is_compatible: bool,
    #[serde(default)]
    messages: Vec<String>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error_code: u32,
    message: String,
}

impl RegistryClient {
    pub fn new(base_url: &str) -> Result<RegistryClient, ClientError> {
        let bad = |reason: String| ClientError::BadUrl {
            url: base_url.split('@').next_back().unwrap_or_default().into(),
            reason,
        };
        let mut base = Url::parse(base_url).map_err(|e| bad(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(bad("expected an http:// or https:// URL".into()));
        }
        let auth = (!base.username().is_empty()).then(|| {
            (
                base.username().to_string(),
                base.password().map(str::to_string),
            )
        });
        // Both only fail for URLs that cannot carry credentials, refused above.
        let _ = base.set_username("");
        let _ = base.set_password(None);
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| bad(format!("cannot build an HTTP client: {e}")))?;
        Ok(RegistryClient { base, auth, http })
    }

    /// The base URL, without credentials.
    pub fn url(&self) -> &str {
        self.base.as_str()
    }

    /// Registers `schema` (Avro JSON) under `subject` and returns its global id;
    /// a schema the subject already has returns the existing id. An incompatible
    /// schema is [`ClientError::Registry`] with error code 409.
    pub async fn register(&self, subject: &str, schema: &str) -> Result<u32, ClientError> {
        let url = self.endpoint(&["subjects", subject, "versions"])?;
        let answer: IdAnswer = self.send(self.post(url, schema)).await?;
        Ok(answer.id)
    }

    /// Checks `schema` against the latest version of `subject` under the
    /// subject's compatibility level; a subject without versions accepts it.
    pub async fn check_compatible(&self, subject: &str, schema: &str) -> Result<(), ClientError> {
        let mut url =
            self.endpoint(&["compatibility", "subjects", subject, "versions", "latest"])?;
        url.set_query(Some("verbose=true"));
        match self
            .send::<CompatibilityAnswer>(self.post(url, schema))
            .await
        {
            Ok(a) if a.is_compatible => Ok(()),
            Ok(a) => Err(ClientError::Incompatible {
                subject: subject.into(),
                reasons: a.messages,
            }),
            Err(e) if e.error_code() == Some(40401) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The newest version number registered under `subject`; `None` when the
    /// subject has no versions.
    pub async fn latest_version(&self, subject: &str) -> Result<Option<u32>, ClientError> {
        let url = self.endpoint(&["subjects", subject, "versions", "latest"])?;
        match self.send::<VersionAnswer>(self.http.get(url)).await {
            Ok(a) => Ok(Some(a.version)),
            Err(e) if matches!(e.error_code(), Some(40401 | 40402)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The schema (Avro JSON) with global id `id`, as found in a record's header.
    pub async fn schema_by_id(&self, id: u32) -> Result<String, ClientError> {
        let url = self.endpoint(&["schemas", "ids", &id.to_string()])?;
        let answer: SchemaAnswer = self.send(self.http.get(url)).await?;
        Ok(answer.schema)
    }

    fn endpoint(&self, segments: &[&str]) -> Result<Url, ClientError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ClientError::BadUrl {
                url: self.base.to_string(),
                reason: "cannot append a path".into(),
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    fn post(&self, url: Url, schema: &str) -> reqwest::RequestBuilder {
        self.http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(json!({ "schema": schema }).to_string())
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let mut request = request.header(
            reqwest::header::ACCEPT,
            format!("{CONTENT_TYPE}, application/json"),
        );
        if let Some((user, password)) = &self.auth {
            request = request.basic_auth(user, password.as_ref());
        }
        let unreachable = |source: reqwest::Error| ClientError::Unreachable {
            url: self.base.to_string(),
            source: source.without_url(),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(unreachable)?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| ClientError::BadResponse {
                url: self.base.to_string(),
                reason: format!("HTTP {status} with an unexpected body ({e})"),
            });
        }
        let (error_code, message) = match serde_json::from_slice::<ErrorAnswer>(&bytes) {
            Ok(e) => (e.error_code, e.message),
            Err(_) => (
                u32::from(status.as_u16()),
                String::from_utf8_lossy(&bytes).chars().take(300).collect(),
            ),
        };
        Err(ClientError::Registry {
            url: self.base.to_string(),
            status: status.as_u16(),
            error_code,
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_leave_the_url_and_paths_are_escaped() {
        let c = RegistryClient::new("https://key:secret@registry.example/base/").expect("valid");
        assert_eq!(c.url(), "https://registry.example/base/");
        assert_eq!(c.auth, Some(("key".into(), Some("secret".into()))));
        let url = c
            .endpoint(&["subjects", "a/b value", "versions"])
            .expect("endpoint");
        assert_eq!(
            url.as_str(),
            "https://registry.example/base/subjects/a%2Fb%20value/versions"
        );
    }

    #[test]
    fn unusable_urls_are_refused_without_showing_secrets() {
        let err = RegistryClient::new("ftp://key:secret@host/").expect_err("not http");
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(RegistryClient::new("localhost:8081").is_err());
    }
}
