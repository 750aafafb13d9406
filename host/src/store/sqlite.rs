//! The embedded call store: one SQLite file in WAL mode. The router holds an exclusive lock
//! on the file (flock) for its life, so that a second router pointed at the same file is
//! refused at start instead of interleaving its writes. Opening checks the file (a quick
//! integrity check), brings the schema up to date (refinery, host/migrations) and proves it
//! can write, so a router never starts on a store it cannot use.
//!
//! Checkpoints (copying the write-ahead log back into the database and syncing it) run on a
//! thread of their own with their own connection, beside the writer's commits: run by the
//! writer, or by SQLite inside a commit, every call waiting for a commit (the one before its
//! dial) waited for the checkpoint too — the store's p99.

use super::{Backend, CallRow, Change, StoreError, SyncMode, VersionRow};
use rusqlite::{Connection, ErrorCode, OpenFlags, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// An open SQLite store.
pub struct Sqlite {
    // Field order is drop order: the connections close before the lock is let go.
    conn: Connection,
    checkpoints: Checkpointer,
    path: PathBuf,
    /// `sync = "normal"`: the checkpointer syncs the log soon after each commit.
    sync_later: bool,
    /// Commits since the checkpointer was last asked, and when that was.
    commits: u32,
    asked: std::time::Instant,
    /// Held for the store's life: another router opening the file is refused.
    _lock: std::fs::File,
}

/// The checkpointer is asked after this many commits, or when the writer has nothing queued
/// and commits are waiting this long; an idle store is left alone.
const CHECKPOINT_EVERY_COMMITS: u32 = 100;
const CHECKPOINT_WHEN_IDLE_AFTER: Duration = Duration::from_secs(1);

/// The checkpoint thread: asked by the writer, stopped when the store closes.
struct Checkpointer {
    signal: Arc<(Mutex<CheckpointAsk>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct CheckpointAsk {
    due: bool,
    /// A pass has copied the log as it stood when it began: the writer copies the frames
    /// committed meanwhile (a few) between two commits. Only a checkpoint that leaves no
    /// frame behind lets SQLite start the log over at its beginning, overwriting its blocks
    /// (which syncs cheaply) instead of growing it; under steady load the writer commits
    /// while every concurrent pass runs, so that last step is the writer's.
    copied: bool,
    /// `sync = "normal"`: commits since the log was last synced to the disk.
    unsynced: bool,
    stop: bool,
}

/// With `sync = "normal"` the log is synced to the disk at most this long after a commit
/// (commits themselves only reach the operating system, which a killed router cannot lose):
/// a power loss loses at most this much.
pub const LOG_SYNCED_WITHIN: Duration = Duration::from_millis(20);

impl Checkpointer {
    fn start(conn: Connection, path: &Path) -> Result<Checkpointer, StoreError> {
        let signal = Arc::new((Mutex::new(CheckpointAsk::default()), Condvar::new()));
        let thread = std::thread::Builder::new()
            .name("call-store-checkpoint".into())
            .spawn({
                let signal = signal.clone();
                let path = path.to_path_buf();
                move || checkpoint_loop(&conn, &signal, &path)
            })
            .map_err(|e| StoreError::Failed {
                path: path.display().to_string(),
                detail: format!("cannot start the checkpoint thread: {e}"),
            })?;
        Ok(Checkpointer {
            signal,
            thread: Some(thread),
        })
    }

    fn asked(&self) -> std::sync::MutexGuard<'_, CheckpointAsk> {
        self.signal.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn ask(&self) {
        self.asked().due = true;
        self.signal.1.notify_one();
    }

    /// A commit that only reached the operating system: sync the log soon. Wakes the thread
    /// only for the first commit since the last sync.
    fn sync_soon(&self) {
        let mut asked = self.asked();
        if !asked.unsynced {
            asked.unsynced = true;
            drop(asked);
            self.signal.1.notify_one();
        }
    }

    /// Whether a pass has finished since the last call (its tail is the writer's to copy).
    fn take_copied(&self) -> bool {
        std::mem::take(&mut self.asked().copied)
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.asked().stop = true;
        self.signal.1.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Copies the log back into the database (PASSIVE: without waiting for the writer, and
/// syncing the database as `synchronous` says). A store in trouble is the writer's to report.
fn checkpoint(conn: &Connection, path: &Path) {
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        tracing::debug!(store = %path.display(), error = %e, "checkpoint failed");
    }
}

/// Syncs the store's write-ahead log to the disk. SQLite checks each frame of the log
/// against a running checksum when it reads it back, so a commit synced here survives a power
/// loss and one caught half-written is dropped whole.
fn sync_log(path: &Path) {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if let Err(e) = std::fs::File::open(&wal).and_then(|f| f.sync_data()) {
        tracing::debug!(store = %path.display(), error = %e, "syncing the log failed");
    }
}

fn checkpoint_loop(conn: &Connection, signal: &(Mutex<CheckpointAsk>, Condvar), path: &Path) {
    let (ask, wake) = signal;
    let lock = || ask.lock().unwrap_or_else(|p| p.into_inner());
    let mut synced = std::time::Instant::now();
    loop {
        let (copy, sync) = {
            let mut asked = lock();
            loop {
                if asked.stop {
                    return;
                }
                let sync_in = asked
                    .unsynced
                    .then(|| LOG_SYNCED_WITHIN.saturating_sub(synced.elapsed()));
                if asked.due || sync_in.is_some_and(|t| t.is_zero()) {
                    break;
                }
                asked = match sync_in {
                    Some(left) => wake
                        .wait_timeout(asked, left)
                        .map(|(a, _)| a)
                        .unwrap_or_else(|p| p.into_inner().0),
                    None => wake.wait(asked).unwrap_or_else(|p| p.into_inner()),
                };
            }
            let sync = std::mem::take(&mut asked.unsynced);
            (std::mem::take(&mut asked.due), sync)
        };
        if copy {
            // A checkpoint syncs the log before it copies it back.
            checkpoint(conn, path);
            lock().copied = true;
        } else if sync {
            sync_log(path);
        }
        if sync || copy {
            synced = std::time::Instant::now();
        }
    }
}

/// What a SQLite error means for the store at `path`.
fn classify(path: &Path, e: &rusqlite::Error) -> StoreError {
    let path = path.display().to_string();
    let detail = e.to_string();
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked { path },
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            StoreError::Corrupt { path, detail }
        }
        Some(ErrorCode::DiskFull) => StoreError::Full { path },
        Some(
            ErrorCode::ReadOnly
            | ErrorCode::CannotOpen
            | ErrorCode::PermissionDenied
            | ErrorCode::SystemIoFailure,
        ) => StoreError::CannotWrite { path, detail },
        _ => StoreError::Failed { path, detail },
    }
}

impl Sqlite {
    /// Opens (creating it and its directory when missing) the store at `path`.
    pub fn open(path: &Path, sync: SyncMode) -> Result<Sqlite, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::CannotWrite {
                path: path.display().to_string(),
                detail: format!("cannot create {}: {e}", dir.display()),
            })?;
        }
        let lock = take_lock(path)?;
        let conn = connect(path, sync)?;
        let fail = |e: rusqlite::Error| classify(path, &e);
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |row| row.get(0))
            .map_err(fail)?;
        if check != "ok" {
            return Err(StoreError::Corrupt {
                path: path.display().to_string(),
                detail: check,
            });
        }
        let mut store = Sqlite {
            conn,
            checkpoints: Checkpointer::start(connect(path, sync)?, path)?,
            path: path.to_path_buf(),
            sync_later: sync == SyncMode::Normal,
            commits: 0,
            asked: std::time::Instant::now(),
            _lock: lock,
        };
        store.migrate()?;
        // Prove a write goes through.
        store.apply(&[Change::Remove(String::new())])?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        super::embedded::migrations::runner()
            .run(&mut self.conn)
            .map(|_| ())
            .map_err(|e| {
                let inner = e.kind().to_string();
                let path = self.path.display().to_string();
                // refinery wraps the driver's error; its text still says what SQLite said.
                if inner.contains("locked") || inner.contains("busy") {
                    StoreError::Locked { path }
                } else if inner.contains("not a database") || inner.contains("malformed") {
                    StoreError::Corrupt {
                        path,
                        detail: inner,
                    }
                } else {
                    StoreError::Failed {
                        path,
                        detail: format!("schema migration failed: {inner}"),
                    }
                }
            })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Takes the router's lock on the store's file (creating it), or says who holds it.
fn take_lock(path: &Path) -> Result<std::fs::File, StoreError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| StoreError::CannotWrite {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked {
            path: path.display().to_string(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::CannotWrite {
            path: path.display().to_string(),
            detail: format!("cannot lock it: {e}"),
        }),
    }
}

/// A connection to the store with the router's settings. The checkpointer and the writer
/// each have one; SQLite's own automatic checkpoint is off (it would run inside a commit).
fn connect(path: &Path, sync: SyncMode) -> Result<Connection, StoreError> {
    let fail = |e: rusqlite::Error| classify(path, &e);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(fail)?;
    let sync = match sync {
        SyncMode::Full => "FULL",
        SyncMode::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", sync)
        .map_err(fail)?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)
        .map_err(fail)?;
    // The writer and the checkpointer take SQLite's locks in turn for moments.
    conn.busy_timeout(Duration::from_secs(2)).map_err(fail)?;
    Ok(conn)
}

impl Backend for Sqlite {
    fn apply(&mut self, changes: &[Change]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| classify(&path, &e);
        let tx = self.conn.transaction().map_err(fail)?;
        for change in changes {
            match change {
                Change::Put(row) => {
                    tx.prepare_cached(
                        "INSERT INTO calls (call_id, instance, server, tenant, version, state, record, written_ms) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                         ON CONFLICT (call_id) DO UPDATE SET version = excluded.version, \
                         state = excluded.state, record = excluded.record, written_ms = excluded.written_ms",
                    )
                    .and_then(|mut st| {
                        st.execute(params![
                            row.call_id,
                            row.instance,
                            row.server,
                            row.tenant,
                            row.version,
                            row.state,
                            row.record,
                            row.written_ms
                        ])
                    })
                    .map_err(fail)?;
                }
                Change::Remove(call) => {
                    tx.prepare_cached("DELETE FROM calls WHERE call_id = ?1")
                        .and_then(|mut st| st.execute(params![call]))
                        .map_err(fail)?;
                }
                Change::Version(v) => {
                    tx.prepare_cached(
                        "INSERT INTO versions (tenant, hash, label, component, loaded_ms) VALUES (?1, ?2, ?3, ?4, ?5) \
                         ON CONFLICT (tenant, hash) DO UPDATE SET label = excluded.label, loaded_ms = excluded.loaded_ms",
                    )
                    .and_then(|mut st| {
                        st.execute(params![
                            v.tenant,
                            v.hash,
                            v.label,
                            &v.component[..],
                            v.loaded_ms
                        ])
                    })
                    .map_err(fail)?;
                }
            }
        }
        tx.commit().map_err(fail)?;
        if self.sync_later {
            self.checkpoints.sync_soon();
        }
        Ok(())
    }

    fn tend(&mut self, idle: bool) {
        if self.checkpoints.take_copied() {
            checkpoint(&self.conn, &self.path);
        }
        self.commits += 1;
        if self.commits >= CHECKPOINT_EVERY_COMMITS
            || (idle && self.asked.elapsed() >= CHECKPOINT_WHEN_IDLE_AFTER)
        {
            self.commits = 0;
            self.asked = std::time::Instant::now();
            self.checkpoints.ask();
        }
    }

    fn calls(&mut self, instance: &str) -> Result<Vec<CallRow>, StoreError> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| classify(&path, &e);
        let mut st = self
            .conn
            .prepare(
                "SELECT call_id, instance, server, tenant, version, state, record, written_ms \
                 FROM calls WHERE instance = ?1 ORDER BY call_id",
            )
            .map_err(fail)?;
        let rows = st
            .query_map(params![instance], |r| {
                Ok(CallRow {
                    call_id: r.get(0)?,
                    instance: r.get(1)?,
                    server: r.get(2)?,
                    tenant: r.get(3)?,
                    version: r.get(4)?,
                    state: r.get(5)?,
                    record: r.get(6)?,
                    written_ms: r.get(7)?,
                })
            })
            .map_err(fail)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(fail)
    }

    fn versions(&mut self, tenant: &str) -> Result<Vec<VersionRow>, StoreError> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| classify(&path, &e);
        let mut st = self
            .conn
            .prepare(
                "SELECT tenant, hash, label, component, loaded_ms FROM versions \
                 WHERE tenant = ?1 ORDER BY loaded_ms, hash",
            )
            .map_err(fail)?;
        let rows = st
            .query_map(params![tenant], |r| {
                let component: Vec<u8> = r.get(3)?;
                Ok(VersionRow {
                    tenant: r.get(0)?,
                    hash: r.get(1)?,
                    label: r.get(2)?,
                    component: component.into(),
                    loaded_ms: r.get(4)?,
                })
            })
            .map_err(fail)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(fail)
    }
}

#[cfg(test)]
impl Sqlite {
    /// Caps the database at its current size (None lifts the cap): SQLite then answers
    /// SQLITE_FULL to a write that needs another page, as it does on a full disk.
    pub(crate) fn cap_at_current_size(&self, capped: bool) -> rusqlite::Result<()> {
        let pages: i64 = if capped {
            self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?
        } else {
            1_073_741_823
        };
        self.conn
            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
    }
}
