//! `--data-file`: the in-memory store kept in a JSON file, so a restart keeps the chats.
//!
//! The file is loaded once at start; a background task saves it shortly after every change and
//! once more at shutdown. Every save writes a temporary file next to it and renames it over the
//! old one, so a crash mid-save leaves the previous file intact. The file holds token hashes and
//! sealed Giosg credentials, so it is made readable by its owner only.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::api::Api;
use shared::store::announcing::Announcing;
use shared::store::memory::{MemoryStore, Snapshot};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// What the file says it is, so another JSON file is never mistaken for a store.
const FORMAT: &str = "giosg-chat-bridge/local-store";
const VERSION: u32 = 1;

/// How often the saver looks for changes: a write is on disk within this long.
pub const SAVE_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Serialize, Deserialize)]
struct DataFile {
    format: String,
    version: u32,
    saved_at: DateTime<Utc>,
    store: Snapshot,
}

#[derive(Debug, thiserror::Error)]
pub enum DataFileError {
    #[error("cannot read the data file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the data file {path} is not a local-runner store ({reason}); move it away or pick another --data-file"
    )]
    NotAStore { path: PathBuf, reason: String },
    #[error("cannot write the data file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The store saved in `path`, or `None` when there is no file yet.
pub fn load(path: &Path) -> Result<Option<Snapshot>, DataFileError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(DataFileError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let not_a_store = |reason: String| DataFileError::NotAStore {
        path: path.to_owned(),
        reason,
    };
    let file: DataFile = serde_json::from_str(&text).map_err(|e| not_a_store(e.to_string()))?;
    if file.format != FORMAT {
        return Err(not_a_store(format!("its format is {:?}", file.format)));
    }
    if file.version != VERSION {
        return Err(not_a_store(format!(
            "it is version {}, this runner reads version {VERSION}",
            file.version
        )));
    }
    Ok(Some(file.store))
}

/// Writes `snapshot` to `path` atomically: a temporary file in the same folder, flushed to
/// disk, then renamed over `path`.
pub fn save(path: &Path, snapshot: Snapshot) -> Result<(), DataFileError> {
    let write_error = |source| DataFileError::Write {
        path: path.to_owned(),
        source,
    };
    let file = DataFile {
        format: FORMAT.to_owned(),
        version: VERSION,
        saved_at: Utc::now(),
        store: snapshot,
    };
    let json = serde_json::to_vec_pretty(&file).expect("a snapshot serializes");
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(folder).map_err(write_error)?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let written = (|| {
        let mut out = owner_only_file(&temporary)?;
        out.write_all(&json)?;
        out.sync_all()?;
        fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written.map_err(write_error)
}

fn owner_only_file(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}

/// The background task that saves the store after changes.
pub struct Saver {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), DataFileError>>,
}

impl Saver {
    /// Starts saving `app`'s store to `path` whenever it changed since now, checking every
    /// [`SAVE_INTERVAL`].
    pub fn start<G: Send + Sync + 'static>(
        app: Arc<Api<Announcing<MemoryStore>, G>>,
        path: PathBuf,
    ) -> Self {
        let (stop, mut stopped) = oneshot::channel::<()>();
        // What the file holds now: taken here, not in the task, so no change slips in between.
        let mut saved_revision = app.service.store().inner().revision();
        let task = tokio::spawn(async move {
            let mut interval = tokio::time::interval(SAVE_INTERVAL);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let stopping = tokio::select! {
                    _ = interval.tick() => false,
                    _ = &mut stopped => true,
                };
                let revision = app.service.store().inner().revision();
                if revision != saved_revision {
                    let snapshot = app.service.store().inner().snapshot();
                    let target = path.clone();
                    let saved = tokio::task::spawn_blocking(move || save(&target, snapshot))
                        .await
                        .expect("the save task does not panic");
                    match saved {
                        Ok(()) => saved_revision = revision,
                        Err(error) if stopping => return Err(error),
                        // Keep serving; the next tick tries again.
                        Err(error) => tracing::warn!(%error, "saving the store failed"),
                    }
                }
                if stopping {
                    return Ok(());
                }
            }
        });
        Self { stop, task }
    }

    /// Saves what is not saved yet and stops.
    pub async fn finish(self) -> Result<(), DataFileError> {
        let _ = self.stop.send(());
        self.task.await.expect("the saver does not panic")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temporary_path(name: &str) -> PathBuf {
        std::env::temp_dir()
            .join(format!(
                "local-runner-{}-{}",
                std::process::id(),
                rand::random::<u64>()
            ))
            .join(name)
    }

    #[test]
    fn a_missing_file_is_an_empty_start() {
        assert!(load(&temporary_path("none.json")).unwrap().is_none());
    }

    #[test]
    fn a_saved_store_loads_back_and_leaves_no_temporary_file() {
        let path = temporary_path("store.json");
        save(&path, Snapshot::default()).unwrap();
        save(&path, Snapshot::default()).unwrap();
        assert_eq!(load(&path).unwrap(), Some(Snapshot::default()));
        let entries: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries, [std::ffi::OsString::from("store.json")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn another_json_file_is_refused_with_its_path() {
        let path = temporary_path("other.json");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, r#"{"hello": "world"}"#).unwrap();
        let error = load(&path).unwrap_err().to_string();
        assert!(error.contains("other.json"), "{error}");
        fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
