//! The embedded call store: one SQLite file, in WAL mode, held in exclusive locking mode so
//! that a second router pointed at the same file is refused at start instead of interleaving
//! its writes. Opening checks the file (a quick integrity check), brings the schema up to date
//! (refinery, host/migrations) and proves it can write, so a router never starts on a store it
//! cannot use.

use super::{Backend, CallRow, Change, StoreError, SyncMode, VersionRow};
use rusqlite::{Connection, ErrorCode, OpenFlags, params};
use std::path::{Path, PathBuf};

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// An open SQLite store.
pub struct Sqlite {
    conn: Connection,
    path: PathBuf,
    /// Commits since the last checkpoint.
    commits: u32,
}

/// Checkpoints (copying the write-ahead log back into the database, and syncing it) are run by
/// the writer between commits, when it has nothing queued and this many commits have gone
/// by; SQLite's own would run inside a commit, and every call waiting for that commit would
/// wait for the checkpoint too (the call store's p99 latency). Past the second figure one runs
/// whatever is queued, so the log cannot grow without bound under a load that never pauses.
const CHECKPOINT_WHEN_IDLE: u32 = 100;
const CHECKPOINT_ANYWAY: u32 = 4000;

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
        let fail = |e: rusqlite::Error| classify(path, &e);
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(fail)?;
        // Exclusive: the first write takes the lock for as long as this router runs.
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
            .map_err(fail)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
        let sync = match sync {
            SyncMode::Full => "FULL",
            SyncMode::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", sync)
            .map_err(fail)?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)
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
            path: path.to_path_buf(),
            commits: 0,
        };
        store.migrate()?;
        // Prove a write goes through (and take the exclusive lock now).
        store.apply(&[Change::Remove(String::new())])?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        embedded::migrations::runner()
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
        self.commits += 1;
        Ok(())
    }

    fn tend(&mut self, idle: bool) {
        let due = if idle {
            CHECKPOINT_WHEN_IDLE
        } else {
            CHECKPOINT_ANYWAY
        };
        if self.commits < due {
            return;
        }
        self.commits = 0;
        // PASSIVE: copies what it can; a failure is the next commit's to report.
        if let Err(e) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        {
            tracing::debug!(store = %self.path.display(), error = %e, "checkpoint failed");
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
