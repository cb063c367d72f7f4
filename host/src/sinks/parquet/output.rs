//! Where a Parquet sink's files go: a local folder, or a bucket of an object
//! store (`s3://`, `gs://`, `az://`) through the `object_store` crate.
//!
//! Either way a reader never sees a file that is not whole: a local file is
//! written under a hidden temporary name, synced and renamed; an object is
//! one PUT (a multipart upload for a large file, completed only when every
//! part is in), which the store makes visible only once it completes.

use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use super::ParquetError;
use super::StorageOptions;

/// Files from this size go up as multipart uploads (S3 takes at most 5 GiB
/// in one PUT; parts of 16 MiB keep the memory of an upload bounded).
const MULTIPART_FROM: usize = 64 << 20;
const PART_SIZE: usize = 16 << 20;

/// The URL schemes that name an object store; anything else is a local path.
const STORE_SCHEMES: [&str; 6] = ["s3://", "s3a://", "gs://", "az://", "abfs://", "abfss://"];

/// A dataset's root: a folder on this machine or a prefix in a bucket.
#[derive(Clone)]
pub enum Output {
    Folder(PathBuf),
    Bucket {
        store: Arc<dyn ObjectStore>,
        prefix: ObjectPath,
        /// The URL as the connector wrote it, for messages (no credentials).
        url: String,
    },
}

impl std::fmt::Debug for Output {
    /// The root as the connector names it: never a credential.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// A file of the dataset, as a restart finds it.
pub struct Found {
    /// Where it is, for [`Output::remove`].
    pub location: String,
    /// Its name without the folders.
    pub name: String,
}

impl Output {
    /// The output `path` names. Credentials, region and endpoint of a bucket
    /// come from the standard environment (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`,
    /// `AWS_ALLOW_HTTP`; `GOOGLE_*`; `AZURE_*`), read here and never logged.
    ///
    /// `options` (the connector's `[sink.parquet.storage]`) go over the
    /// environment's.
    pub fn open(path: &str, options: &StorageOptions) -> Result<Output, ParquetError> {
        if let Some(local) = path.strip_prefix("file://") {
            return Ok(Output::Folder(PathBuf::from(local)));
        }
        if !STORE_SCHEMES.iter().any(|s| path.starts_with(s)) {
            return Ok(Output::Folder(PathBuf::from(path)));
        }
        let bad = |reason: String| ParquetError::Url {
            url: path.to_string(),
            reason,
        };
        let url = url::Url::parse(path).map_err(|e| bad(e.to_string()))?;
        let mut settings: std::collections::BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| {
                ["AWS_", "GOOGLE_", "AZURE_"]
                    .iter()
                    .any(|p| k.starts_with(p))
            })
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        settings.extend(
            options
                .0
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone())),
        );
        let (store, prefix) =
            object_store::parse_url_opts(&url, settings).map_err(|e| bad(e.to_string()))?;
        Ok(Output::Bucket {
            store: Arc::from(store),
            prefix,
            url: path.trim_end_matches('/').to_string(),
        })
    }

    /// The root as the connector names it.
    pub fn describe(&self) -> String {
        match self {
            Output::Folder(root) => root.display().to_string(),
            Output::Bucket { url, .. } => url.clone(),
        }
    }

    /// Puts `bytes` at `folder/name` whole, or not at all. Returns where.
    pub fn put(&self, folder: &str, name: &str, bytes: Vec<u8>) -> Result<String, ParquetError> {
        match self {
            Output::Folder(root) => put_file(&root.join(folder), name, &bytes),
            Output::Bucket { store, prefix, url } => {
                let shown = [url.as_str(), folder, name]
                    .iter()
                    .filter(|p| !p.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join("/");
                let err = |source: object_store::Error| ParquetError::Store {
                    action: "cannot write",
                    url: shown.clone(),
                    reason: store_reason(&source),
                };
                let at = object_path(prefix, folder, name).map_err(err)?;
                if bytes.len() < MULTIPART_FROM {
                    wait(store.put(&at, PutPayload::from(bytes))).map_err(err)?;
                } else {
                    wait(put_multipart(store.as_ref(), &at, bytes)).map_err(err)?;
                }
                Ok(shown)
            }
        }
    }

    /// Makes the folders of the files put so far durable (a local folder's
    /// entries; a bucket's objects are durable once put).
    pub fn sync(&self, folders: &[String]) -> Result<(), ParquetError> {
        let Output::Folder(root) = self else {
            return Ok(());
        };
        let mut dirs: Vec<PathBuf> = Vec::new();
        for folder in folders {
            let mut d = root.join(folder);
            while d.starts_with(root) && !dirs.contains(&d) {
                dirs.push(d.clone());
                match d.parent() {
                    Some(p) => d = p.to_path_buf(),
                    None => break,
                }
            }
        }
        dirs.iter().try_for_each(|d| sync_dir(d))
    }

    /// Every file of the dataset (none when the root does not exist yet).
    pub fn files(&self) -> Result<Vec<Found>, ParquetError> {
        match self {
            Output::Folder(root) if !root.exists() => Ok(Vec::new()),
            Output::Folder(root) => Ok(files_under(root)?
                .into_iter()
                .filter_map(|p| {
                    let name = p.file_name()?.to_str()?.to_string();
                    Some(Found {
                        location: p.to_str()?.to_string(),
                        name,
                    })
                })
                .collect()),
            Output::Bucket { store, prefix, url } => {
                let listed: Vec<_> = match wait(store.list(Some(prefix)).try_collect()) {
                    Ok(listed) => listed,
                    // A bucket that does not exist (yet) holds no files to
                    // recover; writing waits for it (the pipeline pauses).
                    Err(e) if is_missing_bucket(&e) => Vec::new(),
                    Err(e) => {
                        return Err(ParquetError::Store {
                            action: "cannot list",
                            url: url.clone(),
                            reason: store_reason(&e),
                        });
                    }
                };
                Ok(listed
                    .into_iter()
                    .filter_map(|m| {
                        Some(Found {
                            name: m.location.filename()?.to_string(),
                            location: m.location.to_string(),
                        })
                    })
                    .collect())
            }
        }
    }

    /// Removes a file [`Output::files`] found.
    pub fn remove(&self, location: &str) -> Result<(), ParquetError> {
        match self {
            Output::Folder(_) => fs::remove_file(location).map_err(|source| ParquetError::Io {
                action: "cannot remove",
                path: PathBuf::from(location),
                source,
            }),
            Output::Bucket { store, url, .. } => {
                let at = ObjectPath::from(location);
                wait(store.delete(&at)).map_err(|source| ParquetError::Store {
                    action: "cannot remove",
                    url: format!("{url} ({location})"),
                    reason: store_reason(&source),
                })
            }
        }
    }

    /// For `weir plan`: that the bucket answers and takes a write (a probe
    /// object is put under the prefix and removed again).
    pub fn probe_bucket(&self) -> Option<Result<(), ParquetError>> {
        let Output::Bucket { store, prefix, url } = self else {
            return None;
        };
        let err = |action| {
            let url = url.clone();
            move |source: object_store::Error| ParquetError::Store {
                action,
                url,
                reason: store_reason(&source),
            }
        };
        let probe = || {
            let at = object_path(prefix, "", ".weir-plan-probe")
                .map_err(err("cannot name a probe in"))?;
            wait(store.put(&at, PutPayload::from_static(b"weir plan")))
                .map_err(err("cannot write to"))?;
            wait(store.delete(&at)).map_err(err("cannot remove a probe from"))
        };
        Some(probe())
    }
}

/// `prefix/folder/name`. Folder names are escaped already (`%XX`, see the
/// sink's `escape`) and are kept as they are, so a bucket's keys match the
/// folders of a local dataset.
fn object_path(prefix: &ObjectPath, folder: &str, name: &str) -> object_store::Result<ObjectPath> {
    let mut raw = prefix.to_string();
    for part in folder.split('/').chain([name]).filter(|p| !p.is_empty()) {
        if !raw.is_empty() {
            raw.push('/');
        }
        raw.push_str(part);
    }
    Ok(ObjectPath::parse(raw)?)
}

async fn put_multipart(
    store: &dyn ObjectStore,
    at: &ObjectPath,
    bytes: Vec<u8>,
) -> object_store::Result<()> {
    let upload = store.put_multipart(at).await?;
    let mut write = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
    for part in bytes.chunks(PART_SIZE) {
        write.wait_for_capacity(4).await?;
        write.write(part);
    }
    // `finish` completes the upload, or aborts it on error: an object that is
    // not whole is never visible.
    write.finish().await.map(|_| ())
}

/// A local file: written under a hidden temporary name (`.NAME.tmp`, which
/// pyarrow, Spark and DuckDB skip), synced, renamed.
fn put_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<String, ParquetError> {
    use std::io::Write;
    let io = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| ParquetError::Io {
            action,
            path,
            source,
        }
    };
    fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(name);
    let mut file = fs::File::create(&tmp).map_err(io("cannot create", &tmp))?;
    file.write_all(bytes).map_err(io("cannot write", &tmp))?;
    file.sync_all().map_err(io("cannot sync", &tmp))?;
    fs::rename(&tmp, &path).map_err(io("cannot rename into", &path))?;
    Ok(path.display().to_string())
}

/// Every file below `root` (folders first visited, in no particular order).
pub(super) fn files_under(root: &Path) -> Result<Vec<PathBuf>, ParquetError> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let entries = fs::read_dir(&dir).map_err(|source| ParquetError::Io {
            action: "cannot list",
            path: dir.clone(),
            source,
        })?;
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    Ok(out)
}

fn sync_dir(dir: &Path) -> Result<(), ParquetError> {
    fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|source| ParquetError::Io {
            action: "cannot sync",
            path: dir.to_path_buf(),
            source,
        })
}

/// Runs an object-store call to completion from the sink's synchronous
/// methods: on the pipeline's runtime (leaving the async worker first), or
/// on a runtime of its own for a caller outside one.
fn wait<T, F: Future<Output = object_store::Result<T>>>(f: F) -> object_store::Result<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => tokio::task::block_in_place(|| handle.block_on(f)),
        Err(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| object_store::Error::Generic {
                store: "runtime",
                source: Box::new(e),
            })?
            .block_on(f),
    }
}

/// An object store's error in one line: the HTTP status and the S3-style
/// `<Code>`/`<Message>` of its body when there is one, instead of the XML.
pub(super) fn store_reason(e: &object_store::Error) -> String {
    let text = e.to_string();
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{name}>"))?;
        Some(text[start..start + end].to_string())
    };
    let status = text
        .split("status code: ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .map(str::trim);
    match (status, tag("Code"), tag("Message")) {
        (Some(status), Some(code), Some(message)) => format!("{status}: {code}: {message}"),
        _ => text.lines().next().unwrap_or_default().to_string(),
    }
}

fn is_missing_bucket(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
        || ["NoSuchBucket", "ContainerNotFound"]
            .iter()
            .any(|code| e.to_string().contains(code))
}
