//! The call store: what a router needs to carry its calls on after it was killed or restarted.
//! A plugin is a pure function of (event, call record, state bytes), so a call's image — its
//! legs and bridges by handle, its timers, its dial progress, the plugin's state bytes and
//! the version it holds — is all another process needs to drive it on.
//!
//! Rows go through one writer thread ([`Store`]) that commits them in groups: a call's latest
//! image replaces one still waiting, and one transaction carries every call's change since the
//! last commit, so writing costs the event path a queue push, and a caller that needs its row
//! durable (before a dial goes out) waits for at most one commit.
//!
//! The backend is SQLite, compiled in ([`sqlite`]); the schema (host/migrations, run by
//! refinery) is portable SQL so that a shared PostgreSQL can hold the same tables.

pub mod postgres;
pub mod sqlite;
pub mod throwaway;
mod writer;

/// The schema's migrations (host/migrations), for both backends.
mod embedded {
    refinery::embed_migrations!("migrations");
}

pub use writer::{Store, Ticket};

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The `[store]` section of the router's config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// The embedded store's file (default: `<state directory>/<instance>.calls.db`, the state
    /// directory being `$STATE_DIRECTORY` (systemd's `StateDirectory=`), else
    /// `$XDG_STATE_HOME/callwasm`, else `~/.local/state/callwasm`).
    pub path: Option<PathBuf>,
    /// A PostgreSQL database instead of the embedded file (`postgresql://user:password@host/db`
    /// or libpq's `host=… user=… dbname=…`): the store several routers share. `sync` does not
    /// apply; PostgreSQL's own `synchronous_commit` does.
    pub url: Option<String>,
    /// `false`: calls live in this process's memory only, and a restart applies the failure
    /// policy to their callers.
    #[serde(default = "durable_by_default")]
    pub durable: bool,
    /// `normal` (the default): a commit counts once the operating system has it (a killed
    /// router loses nothing committed) and the log reaches the disk within 20 ms (a power
    /// loss loses at most that). `full`: each commit is on the disk before it counts, so a
    /// power loss loses no more than a kill does; every dial then waits for the disk.
    #[serde(default)]
    pub sync: SyncMode,
}

fn durable_by_default() -> bool {
    true
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: None,
            url: None,
            durable: true,
            sync: SyncMode::default(),
        }
    }
}

impl StoreConfig {
    /// A store in `dir` (tests, demos and benches keep theirs apart this way).
    pub fn in_dir(dir: &Path) -> StoreConfig {
        StoreConfig {
            path: Some(dir.join("calls.db")),
            ..StoreConfig::default()
        }
    }

    /// Calls in memory only.
    pub fn in_memory() -> StoreConfig {
        StoreConfig {
            durable: false,
            ..StoreConfig::default()
        }
    }

    /// Opens the store router `instance` uses: the backend, and its name for messages (the
    /// file, or the URL without its password).
    pub fn open(&self, instance: &str) -> Result<(Box<dyn Backend>, String), StoreError> {
        match (&self.url, &self.path) {
            (Some(_), Some(_)) => Err(StoreError::Failed {
                path: "[store]".into(),
                detail: "set either path (the embedded store) or url (PostgreSQL), not both".into(),
            }),
            (Some(url), None) => Ok((
                Box::new(postgres::Postgres::open(url, instance)?),
                postgres::without_password(url),
            )),
            (None, _) => {
                let path = self.file(instance)?;
                let backend = sqlite::Sqlite::open(&path, self.sync)?;
                Ok((Box::new(backend), path.display().to_string()))
            }
        }
    }

    /// Opens the PostgreSQL store router `instance` shares with others (its lease holds its
    /// name's lock, not this connection).
    pub fn open_shared(&self, instance: &str) -> Result<(Box<dyn Backend>, String), StoreError> {
        match &self.url {
            Some(url) => Ok((
                Box::new(postgres::Postgres::open_shared(url, instance)?),
                postgres::without_password(url),
            )),
            None => Err(StoreError::Failed {
                path: "[store]".into(),
                detail: "routers share their calls through PostgreSQL: set [store] url".into(),
            }),
        }
    }

    /// The file the embedded store lives in, for router `instance`.
    pub fn file(&self, instance: &str) -> Result<PathBuf, StoreError> {
        if let Some(path) = &self.path {
            return Ok(path.clone());
        }
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let dir = if let Some(dir) = env("STATE_DIRECTORY") {
            // systemd may list several, separated by ':'.
            let dirs = dir.to_string_lossy().into_owned();
            PathBuf::from(dirs.split(':').next().unwrap_or(&dirs))
        } else if let Some(dir) = env("XDG_STATE_HOME") {
            PathBuf::from(dir).join("callwasm")
        } else if let Some(home) = env("HOME") {
            PathBuf::from(home).join(".local/state/callwasm")
        } else {
            return Err(StoreError::CannotWrite {
                path: "(no state directory)".into(),
                detail: "none of STATE_DIRECTORY, XDG_STATE_HOME and HOME is set".into(),
            });
        };
        Ok(dir.join(format!("{instance}.calls.db")))
    }
}

/// How hard a commit presses its data to the disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// Each commit synced before it counts.
    Full,
    /// Commits synced within [`sqlite::LOG_SYNCED_WITHIN`] (docs/decisions.md says why this
    /// is the default).
    #[default]
    Normal,
}

/// One call's row.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRow {
    pub call_id: String,
    /// The router that drives the call.
    pub instance: String,
    pub server: String,
    pub tenant: String,
    /// The component hash of the version the call holds.
    pub version: String,
    /// The plugin's state bytes.
    pub state: Vec<u8>,
    /// The rest of the call's image, as JSON (the router's `durable` module reads it).
    pub record: String,
    /// When it was written (ms since the Unix epoch).
    pub written_ms: i64,
}

/// A plugin version as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRow {
    pub tenant: String,
    pub hash: String,
    pub label: Option<String>,
    pub component: Arc<[u8]>,
    pub loaded_ms: i64,
}

/// One change the writer commits.
#[derive(Debug, Clone)]
pub enum Change {
    /// Insert or replace a call's row.
    Put(Box<CallRow>),
    /// The call ended.
    Remove(String),
    /// A version was loaded (kept even when the same hash comes again under a new label).
    Version(VersionRow),
}

/// What a backend does; the writer thread owns it.
pub trait Backend: Send + 'static {
    /// Commits `changes` in one transaction, in order.
    fn apply(&mut self, changes: &[Change]) -> Result<(), StoreError>;
    /// The calls `instance` drives.
    fn calls(&mut self, instance: &str) -> Result<Vec<CallRow>, StoreError>;
    /// `tenant`'s versions, oldest first.
    fn versions(&mut self, tenant: &str) -> Result<Vec<VersionRow>, StoreError>;
    /// Housekeeping the writer runs after each commit (`idle`: nothing is queued). Work that
    /// would stall commits (a checkpoint) is started from here, never run inside `apply`.
    fn tend(&mut self, idle: bool) {
        let _ = idle;
    }
}

/// Why the store cannot be used; each names the store and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the call store {path} is in use by another router: stop that router, or give this one its own [store] path"
    )]
    Locked { path: String },
    #[error(
        "the call store {path} is corrupt or is not a call store ({detail}): move it aside and start again (the calls it held cannot be carried on)"
    )]
    Corrupt { path: String, detail: String },
    #[error(
        "the call store {path} cannot be written: the disk is full; free space (until then calls in progress are not durable)"
    )]
    Full { path: String },
    #[error(
        "the call store {path} cannot be written ({detail}): check the directory and its permissions, or set [store] path"
    )]
    CannotWrite { path: String, detail: String },
    #[error("the call store {path}: {detail}")]
    Failed { path: String, detail: String },
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
