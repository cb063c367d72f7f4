//! The errors the registry answers over HTTP, with Confluent's `error_code`s and
//! messages, so Confluent clients recognise them.

/// A failed registry request as a Confluent client expects to see it: the HTTP
/// status is the first three digits of [`ApiError::error_code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    #[error("Version {0} not found.")]
    VersionNotFound(u32),
    #[error("Schema not found")]
    SchemaNotFound,
    #[error("Schema {0} not found")]
    SchemaIdNotFound(u32),
    #[error("Subject '{0}' was soft deleted.Set permanent=true to delete permanently")]
    SubjectSoftDeleted(String),
    #[error("Subject '{0}' was not deleted first before being permanently deleted")]
    SubjectNotSoftDeleted(String),
    #[error("Subject '{0}' Version {1} was soft deleted.Set permanent=true to delete permanently")]
    VersionSoftDeleted(String, u32),
    #[error("Subject '{0}' Version {1} was not deleted first before being permanently deleted")]
    VersionNotSoftDeleted(String, u32),
    #[error("Subject '{0}' does not have subject-level compatibility configured")]
    SubjectConfigNotFound(String),
    /// The reasons come from the Avro schema-resolution check, one per failed
    /// earlier version.
    #[error(
        "Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]",
        reasons.join(", ")
    )]
    Incompatible {
        subject: String,
        reasons: Vec<String>,
    },
    #[error("Invalid schema: {0}")]
    InvalidSchema(String),
    #[error(
        "The specified version '{0}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""
    )]
    InvalidVersion(String),
    #[error(
        "Invalid compatibility level '{0}'. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive"
    )]
    InvalidCompatibility(String),
    #[error("{0}")]
    MalformedBody(String),
    #[error("{0}")]
    UnprocessableBody(String),
    #[error("HTTP 415 Unsupported Media Type: {0}")]
    UnsupportedMediaType(String),
    #[error("HTTP 404 Not Found")]
    NoSuchEndpoint,
    /// Writing the change to the `_schemas` topic failed; nothing was applied.
    #[error("Error while writing to the schema registry's Kafka topic: {0}")]
    Storage(String),
}

impl ApiError {
    /// Confluent's `error_code` for this error.
    pub fn error_code(&self) -> u32 {
        match self {
            ApiError::SubjectNotFound(_) => 40401,
            ApiError::VersionNotFound(_) => 40402,
            ApiError::SchemaNotFound | ApiError::SchemaIdNotFound(_) => 40403,
            ApiError::SubjectSoftDeleted(_) => 40404,
            ApiError::SubjectNotSoftDeleted(_) => 40405,
            ApiError::VersionSoftDeleted(..) => 40406,
            ApiError::VersionNotSoftDeleted(..) => 40407,
            ApiError::SubjectConfigNotFound(_) => 40408,
            // Confluent's historical code, which its clients match on; the
            // newest releases answer 40901 with the same HTTP status.
            ApiError::Incompatible { .. } => 409,
            ApiError::InvalidSchema(_) => 42201,
            ApiError::InvalidVersion(_) => 42202,
            ApiError::InvalidCompatibility(_) => 42203,
            ApiError::MalformedBody(_) => 400,
            ApiError::UnprocessableBody(_) => 422,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::NoSuchEndpoint => 404,
            ApiError::Storage(_) => 50001,
        }
    }

    /// The HTTP status: the error code's first three digits.
    pub fn http_status(&self) -> u16 {
        let code = self.error_code();
        let status = if code >= 10_000 { code / 100 } else { code };
        u16::try_from(status).unwrap_or(500)
    }
}
