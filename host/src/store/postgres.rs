//! The shared call store: the embedded store's tables in a PostgreSQL database (`[store]
//! url`), so that several routers can keep their calls where each can read the others'. The
//! schema and its migrations are the embedded store's (host/migrations, run by refinery).
//!
//! A router holds a session-level advisory lock on its instance name for as long as its
//! connection lives: a second router started with the same name is refused, as the embedded
//! store's file lock refuses one; the lock goes when the process or its connection dies.

use super::{Backend, CallRow, Change, StoreError, VersionRow};
use postgres::{Client, NoTls};

/// An open PostgreSQL store.
pub struct Postgres {
    client: Connection,
    url: String,
    /// The URL as messages show it (no password).
    shown: String,
    instance: String,
    /// Whether this connection holds the router's lock (a router alone); a router sharing the
    /// store holds it on its lease's connection instead (cluster/lease.rs).
    locked: bool,
}

/// The advisory lock every router takes while it migrates the schema: two routers starting at
/// once would otherwise both create refinery's history table.
const MIGRATION_LOCK: i64 = 0x6361_6c6c_7761_736d; // "callwasm" in ASCII

impl Postgres {
    /// Connects to `url`, takes router `instance`'s lock, brings the schema up to date and
    /// proves it can write.
    pub fn open(url: &str, instance: &str) -> Result<Postgres, StoreError> {
        off_runtime(|| Self::open_here(url, instance, true))
    }

    /// Opens the store for a router that shares it: its lease holds the lock of its name.
    pub fn open_shared(url: &str, instance: &str) -> Result<Postgres, StoreError> {
        off_runtime(|| Self::open_here(url, instance, false))
    }

    fn open_here(url: &str, instance: &str, locked: bool) -> Result<Postgres, StoreError> {
        let shown = without_password(url);
        let mut store = Postgres {
            client: Connection(Some(connect(url, &shown)?)),
            url: url.to_string(),
            shown,
            instance: instance.to_string(),
            locked,
        };
        if locked {
            store.lock_instance()?;
        }
        store.migrate()?;
        store.apply_here(&[Change::Remove(String::new())])?;
        Ok(store)
    }

    fn lock_instance(&mut self) -> Result<(), StoreError> {
        let held: bool = self
            .client
            .query_one(
                "SELECT pg_try_advisory_lock(hashtext('callwasm router ' || $1::text))",
                &[&self.instance],
            )
            .map_err(|e| classify(&self.shown, &e))?
            .get(0);
        if held {
            Ok(())
        } else {
            Err(StoreError::Locked {
                path: format!("{} (router {})", self.shown, self.instance),
            })
        }
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let fail = |detail: String| StoreError::Failed {
            path: self.shown.clone(),
            detail,
        };
        self.client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .map_err(|e| classify(&self.shown, &e))?;
        let migrated = super::embedded::migrations::runner().run(&mut *self.client);
        let _ = self
            .client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
        migrated
            .map(|_| ())
            .map_err(|e| fail(format!("schema migration failed: {}", e.kind())))
    }

    /// A lost connection is made again (and the router's lock taken again) before a commit.
    fn reconnect_if_lost(&mut self) -> Result<(), StoreError> {
        if !self.client.is_closed() {
            return Ok(());
        }
        self.client = Connection(Some(connect(&self.url, &self.shown)?));
        if self.locked {
            self.lock_instance()?;
        }
        Ok(())
    }
}

/// The client, closed off any runtime when dropped (closing blocks, like every call).
struct Connection(Option<Client>);

impl std::ops::Deref for Connection {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.0
            .as_ref()
            .expect("a connection is only emptied when dropped")
    }
}

impl std::ops::DerefMut for Connection {
    fn deref_mut(&mut self) -> &mut Client {
        self.0
            .as_mut()
            .expect("a connection is only emptied when dropped")
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            off_runtime(move || drop(client));
        }
    }
}

/// Runs `f` where the driver may block: the synchronous client drives its own small runtime,
/// which cannot start on a thread that is already driving one (the router opens its store
/// from async code; the writer thread has no runtime and calls straight through).
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

fn connect(url: &str, shown: &str) -> Result<Client, StoreError> {
    Client::connect(url, NoTls).map_err(|e| StoreError::CannotWrite {
        path: shown.to_string(),
        detail: format!(
            "cannot connect: {}; check [store] url and that PostgreSQL runs",
            error_text(&e)
        ),
    })
}

/// `url` with its password masked, for messages and logs.
pub fn without_password(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        // postgresql://user:password@host/db
        if let Some((credentials, host)) = rest.rsplit_once('@')
            && let Some((user, _)) = credentials.split_once(':')
        {
            return format!("{scheme}://{user}:***@{host}");
        }
        return url.to_string();
    }
    // host=… user=… password=… (the key=value form)
    url.split_whitespace()
        .map(|kv| match kv.split_once('=') {
            Some(("password", _)) => "password=***".to_string(),
            _ => kv.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The database's own message when there is one (the driver's says only "db error").
pub(crate) fn error_text(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// What a PostgreSQL error means for the store at `shown`.
fn classify(shown: &str, e: &postgres::Error) -> StoreError {
    use postgres::error::SqlState;
    let path = shown.to_string();
    let detail = error_text(e);
    match e.code() {
        Some(c) if *c == SqlState::DISK_FULL => StoreError::Full { path },
        Some(c)
            if *c == SqlState::INSUFFICIENT_PRIVILEGE
                || *c == SqlState::READ_ONLY_SQL_TRANSACTION =>
        {
            StoreError::CannotWrite { path, detail }
        }
        Some(c) if *c == SqlState::DATA_CORRUPTED || *c == SqlState::INDEX_CORRUPTED => {
            StoreError::Corrupt { path, detail }
        }
        _ if e.is_closed() => StoreError::Failed {
            path,
            detail: format!("the connection was lost ({detail})"),
        },
        _ => StoreError::Failed { path, detail },
    }
}

impl Backend for Postgres {
    fn apply(&mut self, changes: &[Change]) -> Result<(), StoreError> {
        off_runtime(|| self.apply_here(changes))
    }

    fn calls(&mut self, instance: &str) -> Result<Vec<CallRow>, StoreError> {
        off_runtime(|| self.calls_here(instance))
    }

    fn versions(&mut self, tenant: &str) -> Result<Vec<VersionRow>, StoreError> {
        off_runtime(|| self.versions_here(tenant))
    }
}

impl Postgres {
    fn apply_here(&mut self, changes: &[Change]) -> Result<(), StoreError> {
        self.reconnect_if_lost()?;
        let shown = self.shown.clone();
        let fail = |e: postgres::Error| classify(&shown, &e);
        let mut tx = self.client.transaction().map_err(fail)?;
        let put = tx
            .prepare(
                "INSERT INTO calls (call_id, instance, server, tenant, version, state, record, written_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (call_id) DO UPDATE SET version = excluded.version, \
                 state = excluded.state, record = excluded.record, written_ms = excluded.written_ms \
                 WHERE calls.instance = excluded.instance",
            )
            .map_err(fail)?;
        for change in changes {
            match change {
                Change::Put(row) => {
                    tx.execute(
                        &put,
                        &[
                            &row.call_id,
                            &row.instance,
                            &row.server,
                            &row.tenant,
                            &row.version,
                            &row.state,
                            &row.record,
                            &row.written_ms,
                        ],
                    )
                    .map_err(fail)?;
                }
                Change::Remove(call) => {
                    // Only this router's: a call another router took over is that one's to end.
                    tx.execute(
                        "DELETE FROM calls WHERE call_id = $1 AND instance = $2",
                        &[call, &self.instance],
                    )
                    .map_err(fail)?;
                }
                Change::Version(v) => {
                    tx.execute(
                        "INSERT INTO versions (tenant, hash, label, component, loaded_ms) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (tenant, hash) DO UPDATE SET label = excluded.label, loaded_ms = excluded.loaded_ms",
                        &[&v.tenant, &v.hash, &v.label, &&v.component[..], &v.loaded_ms],
                    )
                    .map_err(fail)?;
                }
            }
        }
        tx.commit().map_err(fail)
    }

    fn calls_here(&mut self, instance: &str) -> Result<Vec<CallRow>, StoreError> {
        let shown = self.shown.clone();
        let rows = self
            .client
            .query(
                "SELECT call_id, instance, server, tenant, version, state, record, written_ms \
                 FROM calls WHERE instance = $1 ORDER BY call_id",
                &[&instance],
            )
            .map_err(|e| classify(&shown, &e))?;
        Ok(call_rows(&rows))
    }

    fn versions_here(&mut self, tenant: &str) -> Result<Vec<VersionRow>, StoreError> {
        let shown = self.shown.clone();
        let rows = self
            .client
            .query(
                "SELECT tenant, hash, label, component, loaded_ms FROM versions \
                 WHERE tenant = $1 ORDER BY loaded_ms, hash",
                &[&tenant],
            )
            .map_err(|e| classify(&shown, &e))?;
        Ok(version_rows(&rows))
    }
}

/// Rows of `SELECT call_id, instance, server, tenant, version, state, record, written_ms`.
pub(crate) fn call_rows(rows: &[postgres::Row]) -> Vec<CallRow> {
    rows.iter()
        .map(|r| CallRow {
            call_id: r.get(0),
            instance: r.get(1),
            server: r.get(2),
            tenant: r.get(3),
            version: r.get(4),
            state: r.get(5),
            record: r.get(6),
            written_ms: r.get(7),
        })
        .collect()
}

/// Rows of `SELECT tenant, hash, label, component, loaded_ms FROM versions`.
pub(crate) fn version_rows(rows: &[postgres::Row]) -> Vec<VersionRow> {
    rows.iter()
        .map(|r| {
            let component: Vec<u8> = r.get(3);
            VersionRow {
                tenant: r.get(0),
                hash: r.get(1),
                label: r.get(2),
                component: component.into(),
                loaded_ms: r.get(4),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn messages_never_show_the_password() {
        assert_eq!(
            without_password("postgresql://callwasm:s3cret@db.example:5432/calls"),
            "postgresql://callwasm:***@db.example:5432/calls"
        );
        assert_eq!(
            without_password("postgresql://callwasm@db.example/calls"),
            "postgresql://callwasm@db.example/calls"
        );
        assert_eq!(
            without_password("host=/run/postgresql user=callwasm password=s3cret dbname=calls"),
            "host=/run/postgresql user=callwasm password=*** dbname=calls"
        );
    }
}
