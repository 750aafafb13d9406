//! The store's writer thread and its group commit. Callers queue changes and go on; the thread
//! takes everything queued, commits it as one transaction and announces how far it got. A
//! call's newer row replaces its row still waiting, so the queue holds at most one change per
//! call in progress (bounded by the tenants' call limits) and a busy second costs one commit
//! per round trip to the disk, not one per event.
//!
//! A failing store (a full disk) does not stop calls: the writer keeps the changes, says what
//! is wrong once, and retries with a growing pause; whoever waits for durability gives up after
//! its own bound and is told.

use super::{Backend, CallRow, Change, StoreError, VersionRow};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// A queued change's place in line: it is durable once the writer has committed this far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(u64);

#[derive(Default)]
struct Queue {
    /// The latest change per call.
    calls: HashMap<String, Change>,
    /// Versions and live-version changes, in order.
    others: Vec<Change>,
    last_ticket: u64,
    closing: bool,
    /// When the oldest change waiting was queued.
    since: Option<std::time::Instant>,
    /// Someone waits for a change waiting: commit now.
    waited: bool,
    /// The writer sleeps until woken (it found nothing queued twice in a row).
    asleep: bool,
}

/// How long a change nobody waits for may wait to share a commit with others. A commit costs
/// the same few page writes and a sync whether it carries one row or fifty; a call waits only
/// for the write before its dial, which commits at once.
const GATHER: Duration = Duration::from_millis(5);

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    /// The last ticket committed.
    committed: AtomicU64,
    /// Who waits for which ticket. Each commit wakes only the waiters it covers: with
    /// thousands of calls waiting at once, waking every waiter on every commit (a broadcast)
    /// cost more than the commits.
    waiters: Mutex<BTreeMap<u64, Vec<oneshot::Sender<()>>>>,
    /// The writer has stopped: nobody will be woken.
    stopped: AtomicBool,
    trouble: Mutex<Option<StoreError>>,
}

/// Past this many tickets waited for, waiters that gave up are swept out.
const SWEEP_WAITERS_ABOVE: usize = 4096;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The call store as the router uses it: queue changes, wait for durability when it matters.
pub struct Store {
    shared: Arc<Shared>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The file or URL, for messages.
    name: String,
}

/// The longest pause between attempts while the store fails.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(2);

impl Store {
    /// Starts the writer thread over `backend` (`name` says which store it is, in messages).
    pub fn start(backend: Box<dyn Backend>, name: String) -> Result<Store, StoreError> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            committed: AtomicU64::new(0),
            waiters: Mutex::new(BTreeMap::new()),
            stopped: AtomicBool::new(false),
            trouble: Mutex::new(None),
        });
        let thread = std::thread::Builder::new()
            .name("call-store".into())
            .spawn({
                let shared = shared.clone();
                let name = name.clone();
                move || {
                    write_loop(backend, &shared, &name);
                    shared.stopped.store(true, Ordering::Release);
                    lock(&shared.waiters).clear(); // their receivers hear the writer stopped
                }
            })
            .map_err(|e| StoreError::Failed {
                path: name.clone(),
                detail: format!("cannot start the writer thread: {e}"),
            })?;
        Ok(Store {
            shared,
            thread: Mutex::new(Some(thread)),
            name,
        })
    }

    /// The store's file or URL.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn enqueue(&self, key: Option<String>, change: Change) -> Ticket {
        let mut q = lock(&self.shared.queue);
        // Only a sleeping writer needs waking: one gathering or looking in now and then finds
        // the change by itself, or is woken by whoever waits. (A wake per queued row cost the
        // writer a context switch each.)
        let asleep = q.asleep;
        q.since.get_or_insert_with(std::time::Instant::now);
        q.last_ticket += 1;
        let ticket = Ticket(q.last_ticket);
        match key {
            Some(call) => {
                q.calls.insert(call, change);
            }
            None => q.others.push(change),
        }
        drop(q);
        if asleep {
            self.shared.wake.notify_one();
        }
        ticket
    }

    /// Queues a call's row (replacing one of the same call still waiting).
    pub fn put(&self, row: CallRow) -> Ticket {
        self.enqueue(Some(row.call_id.clone()), Change::Put(Box::new(row)))
    }

    /// Queues the removal of an ended call's row.
    pub fn remove(&self, call: &str) -> Ticket {
        self.enqueue(Some(call.to_string()), Change::Remove(call.to_string()))
    }

    /// Queues a version's component.
    pub fn version(&self, row: VersionRow) -> Ticket {
        self.enqueue(None, Change::Version(row))
    }

    /// Waits until `ticket`'s change is committed, for at most `bound`; Err says why not.
    pub async fn durable(&self, ticket: Ticket, bound: Duration) -> Result<(), String> {
        let shared = &self.shared;
        let done = || shared.committed.load(Ordering::Acquire) >= ticket.0;
        if done() {
            return Ok(());
        }
        let (tx, rx) = oneshot::channel();
        {
            let mut waiters = lock(&shared.waiters);
            // The writer moves `committed` on and takes its waiters under this lock.
            if done() {
                return Ok(());
            }
            if shared.stopped.load(Ordering::Acquire) {
                return Err(format!("{}: the writer stopped", self.name));
            }
            if waiters.len() > SWEEP_WAITERS_ABOVE {
                waiters.retain(|_, w| {
                    w.retain(|tx| !tx.is_closed());
                    !w.is_empty()
                });
            }
            waiters.entry(ticket.0).or_default().push(tx);
        }
        lock(&shared.queue).waited = true;
        shared.wake.notify_one();
        match tokio::time::timeout(bound, rx).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(format!("{}: the writer stopped", self.name)),
            Err(_) => Err(match self.trouble() {
                Some(e) => e.to_string(),
                None => format!(
                    "{}: not committed within {} ms",
                    self.name,
                    bound.as_millis()
                ),
            }),
        }
    }

    /// What is wrong with the store now, if its last commit failed.
    pub fn trouble(&self) -> Option<StoreError> {
        lock(&self.shared.trouble).clone()
    }

    /// Commits what is queued and stops the writer (a clean shutdown). Idempotent.
    pub fn close(&self) {
        lock(&self.shared.queue).closing = true;
        self.shared.wake.notify_one();
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("name", &self.name).finish()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.close();
    }
}

fn write_loop(mut backend: Box<dyn Backend>, shared: &Shared, name: &str) {
    let mut pause = Duration::from_millis(50);
    loop {
        let (batch, upto, closing) = {
            let mut q = lock(&shared.queue);
            // Under load, changes come every few milliseconds: the writer looks in after a
            // gathering time instead of being woken by each first change. Finding nothing, it
            // sleeps until woken (an idle router's writer costs nothing).
            let mut looked = false;
            while q.calls.is_empty() && q.others.is_empty() && !q.closing {
                if looked {
                    q.asleep = true;
                    q = shared.wake.wait(q).unwrap_or_else(|p| p.into_inner());
                    q.asleep = false;
                } else {
                    q = shared
                        .wake
                        .wait_timeout(q, GATHER)
                        .map(|(q, _)| q)
                        .unwrap_or_else(|p| p.into_inner().0);
                    looked = true;
                }
            }
            if q.calls.is_empty() && q.others.is_empty() {
                return; // closing, and nothing left
            }
            // Gather: until someone waits, or the oldest change has waited long enough.
            while !q.waited && !q.closing {
                let waited_for = q.since.map_or(GATHER, |t| t.elapsed());
                let Some(left) = GATHER.checked_sub(waited_for).filter(|l| !l.is_zero()) else {
                    break;
                };
                q = shared
                    .wake
                    .wait_timeout(q, left)
                    .map(|(q, _)| q)
                    .unwrap_or_else(|p| p.into_inner().0);
            }
            q.waited = false;
            q.since = None;
            let mut batch = std::mem::take(&mut q.others);
            batch.extend(q.calls.drain().map(|(_, change)| change));
            (batch, q.last_ticket, q.closing)
        };
        match backend.apply(&batch) {
            Ok(()) => {
                if lock(&shared.trouble).take().is_some() {
                    tracing::warn!(store = %name, "the call store is written again");
                }
                let woken = {
                    let mut waiters = lock(&shared.waiters);
                    shared.committed.store(upto, Ordering::Release);
                    let later = waiters.split_off(&(upto + 1));
                    std::mem::replace(&mut *waiters, later)
                };
                for tx in woken.into_values().flatten() {
                    let _ = tx.send(());
                }
                let idle = {
                    let q = lock(&shared.queue);
                    q.calls.is_empty() && q.others.is_empty()
                };
                backend.tend(idle);
                pause = Duration::from_millis(50);
            }
            Err(e) => {
                let first = lock(&shared.trouble).replace(e.clone()) != Some(e.clone());
                if first {
                    tracing::error!(error = %e, "the call store failed; calls go on, not durable, and the writes are retried");
                }
                if closing {
                    tracing::error!(store = %name, changes = batch.len(), "stopping with changes the call store did not take");
                    return;
                }
                // Put back what no newer change replaced meanwhile.
                let mut q = lock(&shared.queue);
                let mut others = Vec::new();
                for change in batch {
                    match &change {
                        Change::Put(row) => {
                            q.calls.entry(row.call_id.clone()).or_insert(change);
                        }
                        Change::Remove(call) => {
                            q.calls.entry(call.clone()).or_insert(change);
                        }
                        _ => others.push(change),
                    }
                }
                others.append(&mut q.others);
                q.others = others;
                q.since.get_or_insert_with(std::time::Instant::now);
                drop(q);
                std::thread::sleep(pause);
                pause = (pause * 2).min(MAX_RETRY_PAUSE);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SyncMode;
    use crate::store::sqlite::Sqlite;
    use std::sync::atomic::AtomicBool;

    /// The real SQLite store, capped at its size while `full` is set (the disk is full).
    struct FillingDisk {
        store: Sqlite,
        full: Arc<AtomicBool>,
    }

    impl Backend for FillingDisk {
        fn apply(&mut self, changes: &[Change]) -> Result<(), StoreError> {
            let full = self.full.load(Ordering::SeqCst);
            self.store
                .cap_at_current_size(full)
                .map_err(|e| StoreError::Failed {
                    path: "cap".into(),
                    detail: e.to_string(),
                })?;
            self.store.apply(changes)
        }
        fn calls(&mut self, instance: &str) -> Result<Vec<CallRow>, StoreError> {
            self.store.calls(instance)
        }
        fn versions(&mut self, tenant: &str) -> Result<Vec<VersionRow>, StoreError> {
            self.store.versions(tenant)
        }
    }

    fn row(call: &str, state_bytes: usize) -> CallRow {
        CallRow {
            call_id: call.into(),
            instance: "r1".into(),
            server: "pbx1".into(),
            tenant: "acme".into(),
            version: "v1".into(),
            state: vec![7; state_bytes],
            record: "{}".into(),
            written_ms: 1,
        }
    }

    #[tokio::test]
    async fn a_full_disk_is_named_calls_go_on_and_the_writes_land_once_there_is_room() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r1.calls.db");
        let full = Arc::new(AtomicBool::new(false));
        let backend = FillingDisk {
            store: Sqlite::open(&path, SyncMode::Full).expect("open"),
            full: full.clone(),
        };
        let store = Store::start(Box::new(backend), path.display().to_string()).expect("start");
        let first = store.put(row("r1.1", 10));
        store
            .durable(first, Duration::from_secs(10))
            .await
            .expect("written while there is room");

        full.store(true, Ordering::SeqCst);
        // A call's state that needs new pages: the commit fails, the caller is told why
        // within its bound, and the row stays queued.
        let big = store.put(row("r1.2", 200_000));
        let told = store
            .durable(big, Duration::from_millis(300))
            .await
            .expect_err("not durable while the disk is full");
        let expected = StoreError::Full {
            path: path.display().to_string(),
        };
        assert_eq!(told, expected.to_string());
        assert_eq!(store.trouble(), Some(expected));

        full.store(false, Ordering::SeqCst);
        store
            .durable(big, Duration::from_secs(10))
            .await
            .expect("written once there is room again");
        assert_eq!(store.trouble(), None);
        store.close();

        let mut reopened = Sqlite::open(&path, SyncMode::Full).expect("reopen");
        let rows = reopened.calls("r1").expect("rows");
        let sizes: Vec<(String, usize)> = rows
            .iter()
            .map(|r| (r.call_id.clone(), r.state.len()))
            .collect();
        assert_eq!(sizes, vec![("r1.1".into(), 10), ("r1.2".into(), 200_000)]);
    }
}
