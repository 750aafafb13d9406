//! A router's lease on its name in the shared PostgreSQL store, and the watch for routers
//! that died.
//!
//! One thread with its own connection: it takes the advisory lock of this router's name (the
//! lock lives exactly as long as the session), sets PostgreSQL's `idle_session_timeout` to the
//! lease so that the server itself ends the session of a router that stops talking (killed,
//! paused, cut off), and every heartbeat runs one query that both proves the session alive
//! (renewing the [`Fence`]) and lists the other routers. For each other router whose lock it
//! can take, that router is gone: it moves the dead router's rows to itself in one
//! transaction, and hands them to the router with the dead router's apps ([`LeaseNews`]).
//! When its own session is gone the lease is lost for good: the fence closes and the router
//! stops (a restart finds whatever calls are still its own).

use super::{ClusterConfig, Fence};
use crate::store::postgres::{call_rows, error_text, version_rows};
use crate::store::{CallRow, StoreError, VersionRow};
use postgres::{Client, NoTls};
use std::collections::HashSet;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc as tokio_mpsc, oneshot};

/// What the lease thread tells the router.
#[derive(Debug)]
pub enum LeaseNews {
    /// Router `from` is gone; its calls are this router's now.
    TookOver(Takeover),
    /// This router's lease is gone: another router may carry its calls.
    Lost(String),
}

/// A dead router's calls, now this router's.
#[derive(Debug)]
pub struct Takeover {
    /// The dead router's name.
    pub from: String,
    /// Its calls' rows (their instance is this router's now).
    pub rows: Vec<CallRow>,
    /// The versions those calls hold, for tenants that may not have them loaded.
    pub versions: Vec<VersionRow>,
    /// The apps it held, as (server, app).
    pub apps: Vec<(String, String)>,
}

enum Ask {
    /// Which of these call ids have a row (any router's).
    Known {
        calls: Vec<String>,
        reply: oneshot::Sender<Result<HashSet<String>, String>>,
    },
    /// The router stops cleanly: its lock is given back.
    Stop,
}

/// This router's lease: the thread that holds and renews it.
pub struct Lease {
    fence: Fence,
    /// The apps this router's name held in its previous run, as (server, app): a restart
    /// listens to them for the calls that sit there.
    earlier_apps: Vec<(String, String)>,
    asks: mpsc::Sender<Ask>,
    news: std::sync::Mutex<Option<tokio_mpsc::UnboundedReceiver<LeaseNews>>>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// The key of router `instance`'s advisory lock (the embedded store's single-router lock uses
/// the same one, so a shared and a single router of one name exclude each other too).
const LOCK_KEY: &str = "hashtext('callwasm router ' || $1::text)";

impl Lease {
    /// Connects to `url`, waits (up to the config's `join_wait_ms`) for this router's lock —
    /// a survivor may be moving this name's calls just now — says which apps it holds, and
    /// starts renewing. Blocks while it waits.
    pub fn acquire(
        url: &str,
        instance: &str,
        apps: Vec<(String, String)>,
        config: &ClusterConfig,
    ) -> Result<Lease, StoreError> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (asks, asks_rx) = mpsc::channel();
        let (news_tx, news_rx) = tokio_mpsc::unbounded_channel();
        let fence = Fence::new(Instant::now());
        let holder = Holder {
            url: url.to_string(),
            shown: crate::store::postgres::without_password(url),
            instance: instance.to_string(),
            config: config.clone(),
            fence: fence.clone(),
            news: news_tx,
        };
        let thread = std::thread::Builder::new()
            .name("router-lease".into())
            .spawn(move || holder.run(apps, &ready_tx, &asks_rx))
            .map_err(|e| StoreError::Failed {
                path: "lease".into(),
                detail: format!("cannot start the lease thread: {e}"),
            })?;
        match ready_rx.recv() {
            Ok(Ok(earlier_apps)) => Ok(Lease {
                fence,
                earlier_apps,
                asks,
                news: std::sync::Mutex::new(Some(news_rx)),
                thread: std::sync::Mutex::new(Some(thread)),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(StoreError::Failed {
                path: "lease".into(),
                detail: "the lease thread stopped while starting".into(),
            }),
        }
    }

    /// The apps this router's name held before this start, as (server, app).
    pub fn earlier_apps(&self) -> &[(String, String)] {
        &self.earlier_apps
    }

    /// The fence every REST client of this router checks.
    pub fn fence(&self) -> Fence {
        self.fence.clone()
    }

    /// What the lease thread tells (taken once, by the router's loop).
    pub fn news(&self) -> Option<tokio_mpsc::UnboundedReceiver<LeaseNews>> {
        self.news.lock().ok()?.take()
    }

    /// Which of `calls` have a row in the store, whichever router's.
    pub async fn known(&self, calls: Vec<String>) -> Result<HashSet<String>, String> {
        let (reply, answer) = oneshot::channel();
        self.asks
            .send(Ask::Known { calls, reply })
            .map_err(|_| "the lease thread stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the lease thread stopped".to_string())?
    }

    /// Gives the lock back (a clean stop). Idempotent.
    pub fn stop(&self) {
        let _ = self.asks.send(Ask::Stop);
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Holder {
    url: String,
    shown: String,
    instance: String,
    config: ClusterConfig,
    fence: Fence,
    news: tokio_mpsc::UnboundedSender<LeaseNews>,
}

impl Holder {
    fn run(
        self,
        apps: Vec<(String, String)>,
        ready: &mpsc::Sender<Result<Vec<(String, String)>, StoreError>>,
        asks: &mpsc::Receiver<Ask>,
    ) {
        let mut client = match self.join(&apps) {
            Ok((client, earlier)) => {
                let _ = ready.send(Ok(earlier));
                client
            }
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let heartbeat = Duration::from_millis(self.config.heartbeat_ms);
        let mut next_beat = Instant::now() + heartbeat;
        loop {
            let wait = next_beat.saturating_duration_since(Instant::now());
            match asks.recv_timeout(wait) {
                Ok(Ask::Known { calls, reply }) => {
                    let known = client
                        .query(
                            "SELECT call_id FROM calls WHERE call_id = ANY($1)",
                            &[&calls],
                        )
                        .map(|rows| rows.iter().map(|r| r.get::<_, String>(0)).collect())
                        .map_err(|e| error_text(&e));
                    let _ = reply.send(known);
                }
                Ok(Ask::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = client.execute(
                        &format!("SELECT pg_advisory_unlock({LOCK_KEY})"),
                        &[&self.instance],
                    );
                    return;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if Instant::now() < next_beat {
                continue;
            }
            next_beat = Instant::now() + heartbeat;
            if let Err(e) = self.beat(&mut client) {
                if client.is_closed() {
                    self.fence.lose();
                    let why = format!("the call store's session ended ({})", error_text(&e));
                    tracing::error!(store = %self.shown, reason = %why, "this router lost its lease: it stops changing calls");
                    let _ = self.news.send(LeaseNews::Lost(why));
                    return;
                }
                tracing::warn!(store = %self.shown, error = %error_text(&e), "lease heartbeat failed; retrying");
            }
        }
    }

    /// Connects and takes this router's lock, waiting for it up to `join_wait_ms`, and
    /// registers `apps`; the apps the name held before.
    fn join(
        &self,
        apps: &[(String, String)],
    ) -> Result<(Client, Vec<(String, String)>), StoreError> {
        let lease = Duration::from_millis(self.config.lease_ms);
        let cannot = |detail: String| StoreError::CannotWrite {
            path: self.shown.clone(),
            detail,
        };
        let mut config: postgres::Config = self
            .url
            .parse()
            .map_err(|e| cannot(format!("[store] url: {e}")))?;
        config
            .connect_timeout(lease)
            .tcp_user_timeout(lease)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(1))
            .application_name(&format!("callwasm router {} lease", self.instance));
        let mut client = config.connect(NoTls).map_err(|e| {
            cannot(format!(
                "cannot connect: {e}; check [store] url and that PostgreSQL runs"
            ))
        })?;
        let failed = |e: postgres::Error| StoreError::Failed {
            path: self.shown.clone(),
            detail: error_text(&e),
        };
        // The server ends a session idle past the lease (PostgreSQL 14+): a router that stops
        // talking loses its lock without anyone's help.
        client
            .batch_execute(&format!(
                "SET idle_session_timeout = {ms}; SET idle_in_transaction_session_timeout = {ms}",
                ms = self.config.lease_ms
            ))
            .map_err(|e| StoreError::Failed {
                path: self.shown.clone(),
                detail: format!(
                    "cannot set idle_session_timeout ({}): scale-out needs PostgreSQL 14 or newer",
                    error_text(&e)
                ),
            })?;
        let began = Instant::now();
        let mut said = false;
        loop {
            let sent = Instant::now();
            let held: bool = client
                .query_one(
                    &format!("SELECT pg_try_advisory_lock({LOCK_KEY})"),
                    &[&self.instance],
                )
                .map_err(failed)?
                .get(0);
            if held {
                self.fence.renew(sent + self.config.trusted_for());
                break;
            }
            if began.elapsed() >= Duration::from_millis(self.config.join_wait_ms) {
                return Err(StoreError::Locked {
                    path: format!("{} (router {})", self.shown, self.instance),
                });
            }
            if !said {
                tracing::info!(router = %self.instance, "another process holds this router's name (a survivor taking its calls over, or a second router of the same name): waiting");
                said = true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let earlier: Vec<(String, String)> = client
            .query(
                "SELECT apps FROM routers WHERE instance = $1",
                &[&self.instance],
            )
            .map_err(failed)?
            .first()
            .and_then(|r| serde_json::from_str(&r.get::<_, String>(0)).ok())
            .unwrap_or_default();
        let apps_json = serde_json::to_string(apps).unwrap_or_else(|_| "[]".into());
        client
            .execute(
                "INSERT INTO routers (instance, apps, written_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT (instance) DO UPDATE SET apps = excluded.apps, written_ms = excluded.written_ms",
                &[&self.instance, &apps_json, &crate::store::now_ms()],
            )
            .map_err(failed)?;
        Ok((client, earlier))
    }

    /// One heartbeat: proves the session (and so the lock) alive and takes over the routers
    /// whose locks are free.
    fn beat(&self, client: &mut Client) -> Result<(), postgres::Error> {
        let sent = Instant::now();
        // Registered routers, and any name that still has rows (a paused router's writer may
        // have written one after its calls were taken over).
        let others: Vec<(String, String)> = client
            .query(
                "SELECT instance, apps FROM routers WHERE instance <> $1 \
                 UNION SELECT DISTINCT instance, '[]' FROM calls \
                 WHERE instance <> $1 AND instance NOT IN (SELECT instance FROM routers) \
                 ORDER BY 1",
                &[&self.instance],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        self.fence.renew(sent + self.config.trusted_for());
        for (other, apps) in others {
            let free: bool = client
                .query_one(
                    &format!("SELECT pg_try_advisory_lock({LOCK_KEY})"),
                    &[&other],
                )?
                .get(0);
            if !free {
                continue;
            }
            let moved = self.take_over(client, &other, &apps);
            client.execute(&format!("SELECT pg_advisory_unlock({LOCK_KEY})"), &[&other])?;
            let takeover = moved?;
            tracing::warn!(router = %other, calls = takeover.rows.len(), "a router is gone: its calls are carried on here");
            let _ = self.news.send(LeaseNews::TookOver(takeover));
        }
        Ok(())
    }

    /// Moves `dead`'s rows to this router and forgets `dead` (it registers again when it
    /// comes back), in one transaction, while holding `dead`'s lock.
    fn take_over(
        &self,
        client: &mut Client,
        dead: &str,
        apps: &str,
    ) -> Result<Takeover, postgres::Error> {
        let mut tx = client.transaction()?;
        let rows = tx.query(
            "UPDATE calls SET instance = $1 WHERE instance = $2 \
             RETURNING call_id, instance, server, tenant, version, state, record, written_ms",
            &[&self.instance, &dead],
        )?;
        let rows = call_rows(&rows);
        let hashes: Vec<String> = rows
            .iter()
            .map(|r| r.version.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let versions = tx.query(
            "SELECT tenant, hash, label, component, loaded_ms FROM versions \
             WHERE hash = ANY($1) ORDER BY loaded_ms, hash",
            &[&hashes],
        )?;
        let versions = version_rows(&versions);
        tx.execute("DELETE FROM routers WHERE instance = $1", &[&dead])?;
        tx.commit()?;
        let apps: Vec<(String, String)> = serde_json::from_str(apps).unwrap_or_default();
        Ok(Takeover {
            from: dead.to_string(),
            rows,
            versions,
            apps,
        })
    }
}
