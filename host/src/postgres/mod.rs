//! PostgreSQL clients shared by the CDC source and the upsert sink: the
//! connection URL, SQL connections (tokio-postgres, TLS through rustls),
//! what the catalog says about a table, and the one mapping of PostgreSQL's
//! text values to JSON.

pub mod catalog;
pub mod types;

use std::sync::Arc;

pub use catalog::{Column, Table};

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error(
        "`{url}` is not a PostgreSQL URL: {reason}; write postgres://USER:PASSWORD@HOST:PORT/DATABASE (add ?sslmode=require for TLS)"
    )]
    Url { url: String, reason: String },
    #[error("postgres {host}:{port}/{db}: {action}: {reason}")]
    Server {
        host: String,
        port: u16,
        db: String,
        action: String,
        reason: String,
    },
}

impl PgError {
    /// The server could not be reached or dropped the connection: worth
    /// retrying, nothing else is wrong.
    pub fn is_connection(&self) -> bool {
        const SIGNS: [&str; 9] = [
            "connection",
            "timed out",
            "eof",
            "closed",
            "reset",
            "broken pipe",
            "refused",
            "shutting down",
            "terminating",
        ];
        match self {
            PgError::Server { reason, .. } => {
                let reason = reason.to_ascii_lowercase();
                SIGNS.iter().any(|s| reason.contains(s))
            }
            PgError::Url { .. } => false,
        }
    }
}

/// TLS as libpq's `sslmode` asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    /// `require`, `verify-ca`, `verify-full`: TLS with the server's
    /// certificate verified against the web PKI roots or `sslrootcert`.
    Verify,
}

/// Where a PostgreSQL database is, from a `postgres://` URL. `Debug` hides
/// the password.
#[derive(Clone)]
pub struct PgUrl {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub db: String,
    pub ssl: SslMode,
    pub root_cert: Option<String>,
}

impl std::fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "postgres://{}@{}:{}/{}",
            self.user, self.host, self.port, self.db
        )
    }
}

impl PgUrl {
    pub fn parse(text: &str) -> Result<PgUrl, PgError> {
        let bad = |reason: &str| PgError::Url {
            url: redact(text),
            reason: reason.to_string(),
        };
        let url = url::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(bad("the scheme must be postgres://"));
        }
        let host = url.host_str().ok_or_else(|| bad("no host"))?.to_string();
        let decode = |s: &str| {
            percent_decode(s).ok_or_else(|| bad("a user or password is not valid percent-encoding"))
        };
        let user = decode(url.username())?;
        if user.is_empty() {
            return Err(bad("no user"));
        }
        let password = decode(url.password().unwrap_or_default())?;
        let db = url.path().trim_start_matches('/').to_string();
        let mut ssl = SslMode::Disable;
        let mut root_cert = None;
        for (k, v) in url.query_pairs() {
            match (k.as_ref(), v.as_ref()) {
                ("sslmode", "disable" | "prefer" | "allow") => ssl = SslMode::Disable,
                ("sslmode", "require" | "verify-ca" | "verify-full") => ssl = SslMode::Verify,
                ("sslrootcert", path) => root_cert = Some(path.to_string()),
                (k, _) => return Err(bad(&format!("unknown parameter `{k}`"))),
            }
        }
        Ok(PgUrl {
            host,
            port: url.port().unwrap_or(5432),
            db: if db.is_empty() { user.clone() } else { db },
            user,
            password,
            ssl,
            root_cert,
        })
    }

    /// An error of this server.
    pub fn error(&self, action: impl Into<String>, reason: impl std::fmt::Display) -> PgError {
        PgError::Server {
            host: self.host.clone(),
            port: self.port,
            db: self.db.clone(),
            action: action.into(),
            reason: reason.to_string(),
        }
    }

    /// The rustls configuration for `sslmode=require`/`verify-*`.
    pub fn tls(&self) -> Result<Option<rustls::ClientConfig>, PgError> {
        if self.ssl == SslMode::Disable {
            return Ok(None);
        }
        let mut roots = rustls::RootCertStore::empty();
        match &self.root_cert {
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| self.error(format!("read sslrootcert {path}"), e))?;
                for cert in rustls_pki_types_certs(&pem) {
                    roots
                        .add(cert)
                        .map_err(|e| self.error(format!("use sslrootcert {path}"), e))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| self.error("set up TLS", e))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Some(config))
    }

    /// A SQL connection; its I/O runs on a task of its own.
    pub async fn connect(&self) -> Result<tokio_postgres::Client, PgError> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .user(&self.user)
            .password(&self.password)
            .dbname(&self.db)
            .application_name("weir")
            .options("-c TimeZone=UTC -c DateStyle=ISO")
            .connect_timeout(std::time::Duration::from_secs(10));
        let connect_err = |e: tokio_postgres::Error| {
            self.error(
                "connect",
                format!(
                    "{}; check that the server runs, that the URL's host, port, user and password are right, and that pg_hba.conf lets this host in",
                    error_text(&e)
                ),
            )
        };
        match self.tls()? {
            None => {
                let (client, conn) = config
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(connect_err)?;
                tokio::spawn(conn);
                Ok(client)
            }
            Some(tls) => {
                config.ssl_mode(tokio_postgres::config::SslMode::Require);
                let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
                let (client, conn) = config.connect(tls).await.map_err(connect_err)?;
                tokio::spawn(conn);
                Ok(client)
            }
        }
    }
}

/// A tokio-postgres error with the server's message, detail and hint.
pub fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = db.message().to_string();
            if let Some(d) = db.detail() {
                text.push_str(&format!(" ({d})"));
            }
            if let Some(h) = db.hint() {
                text.push_str(&format!("; {h}"));
            }
            text
        }
        None => {
            let source = std::error::Error::source(e)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            format!("{e}{source}")
        }
    }
}

/// A URL with its password replaced, for messages.
pub fn redact(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => text.to_string(),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// The certificates of a PEM file.
fn rustls_pki_types_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .collect()
}

/// A quoted SQL identifier: `"users"`, `"we""ird"`.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `schema.table` (default schema `public`) split in two.
pub fn split_table(name: &str) -> (String, String) {
    match name.split_once('.') {
        Some((s, t)) => (s.to_string(), t.to_string()),
        None => ("public".to_string(), name.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_never_show_the_password() {
        let u =
            PgUrl::parse("postgres://app:s%40cret@db.example:6543/shop?sslmode=require").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.user.as_str()),
            ("db.example", 6543, "app")
        );
        assert_eq!((u.password.as_str(), u.db.as_str()), ("s@cret", "shop"));
        assert_eq!(u.ssl, SslMode::Verify);
        assert!(!format!("{u:?}").contains("cret"));
        let e = PgUrl::parse("mysql://a:b@h/d").unwrap_err().to_string();
        assert!(e.contains("postgres://") && !e.contains(":b@"), "{e}");
        let e = PgUrl::parse("postgres://a:b@h/d?timeout=3")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown parameter `timeout`"), "{e}");
    }
}
