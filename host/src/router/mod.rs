//! The router: events flow from Asterisk through the tenant's plugin and back as ARI calls.
//!
//! One event stream per Asterisk server subscribes every tenant's apps; the dispatcher here
//! finds each event's call (by the id of a channel, bridge or playback the router made, which
//! carries the call id, or by the inbound channel's id), opens a call on StasisStart of a
//! channel it did not make, and hands the event to the call's task ([`session`]), which runs
//! the plugin and carries out its reply. After every (re)connect it reconciles: calls whose
//! channels vanished end, and bridges and channels it made that belong to no live call go.

mod adopt;
pub mod budget;
pub mod call;
pub mod call_log;
pub mod check;
pub mod config;
pub mod durable;
pub mod execute;
pub mod observe;
pub mod plugin_dir;
pub mod queue;
pub mod restore;
pub mod session;
pub mod stranded;
pub mod table;
pub mod tenant;
pub mod timers;
pub mod translate;
pub mod versions;
pub mod workers;

use crate::ari::events::Event as Ari;
use crate::ari::{Auth, EventStream, Rest, RestConfig, ServerItem, StreamConfig, StreamItem};
use crate::runtime::{Runtime, RuntimeConfig};
use call::{CallRecord, Leg, call_of, instance_of};
use config::Config;
use observe::{Observation, Observer};
use session::{CallInput, Session};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use table::{CallEntry, CallTable};
use tenant::{Tenant, TenantCounters, TenantError};
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

/// A router that could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("runtime: {0}")]
    Runtime(String),
    #[error(transparent)]
    Tenant(#[from] TenantError),
    #[error("server {server}: {message}")]
    Server { server: String, message: String },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The running router's parts.
pub struct Router {
    tenants: Arc<BTreeMap<String, Arc<Tenant>>>,
    by_app: HashMap<String, Arc<Tenant>>,
    servers: BTreeMap<String, (Rest, RestConfig)>,
    table: Arc<CallTable>,
    observer: Observer,
    /// This router's name: every id it makes carries it, and it cleans up only those.
    instance: String,
    /// `server/app` for each app another client took from this router (ApplicationReplaced):
    /// Asterisk sends this router nothing more for it.
    replaced: Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
    /// Event streams that came up and resynced, counted over all servers and reconnects.
    resyncs: Arc<AtomicU64>,
    /// Call ids: `<instance>.<random prefix per run><counter>` (no `-`: ids embed them).
    id_prefix: u32,
    next_call: AtomicU64,
    /// Servers whose event stream came up at least once.
    connected_once: FirstTimes,
    /// Apps calls entered that no tenant serves (each logged once).
    unserved_apps: FirstTimes,
    /// Where calls' images are written (None: calls in memory only).
    journal: Option<durable::Journal>,
    /// The calls the store held at start: carried on when the router runs.
    stored: std::sync::Mutex<Vec<crate::store::CallRow>>,
    /// Set when this router shares the calls with others ([`crate::cluster`]).
    cluster: Option<Cluster>,
}

/// A router sharing its calls: its apps for broadcast calls, and its lease.
struct Cluster {
    config: crate::cluster::ClusterConfig,
    lease: Arc<crate::cluster::Lease>,
    /// This run's app for each tenant app (`acme` → `acme@r1.0a1b2c`).
    apps: BTreeMap<String, String>,
}

/// Apps this router holds for calls that entered them under another run or router: a stream
/// of their own, stopped once their calls are over.
struct Adopted {
    server: String,
    apps: Vec<String>,
    /// The callers of the calls in them (carried on, or strays started here).
    callers: Arc<std::sync::Mutex<Vec<String>>>,
    since: Instant,
    stop: watch::Sender<bool>,
}

/// Names seen at least once: tells a first connection from a reconnection.
#[derive(Default)]
struct FirstTimes(std::sync::Mutex<std::collections::BTreeSet<String>>);

impl FirstTimes {
    /// How many names were seen.
    fn len(&self) -> usize {
        self.0.lock().map(|seen| seen.len()).unwrap_or(usize::MAX)
    }

    /// True the first time `name` is given.
    fn insert_if_new(&self, name: &str) -> bool {
        self.0
            .lock()
            .map(|mut seen| seen.insert(name.to_string()))
            .unwrap_or(false)
    }
}

impl Router {
    /// Loads every tenant's plugin and prepares a REST client per server. Nothing is
    /// contacted yet.
    pub fn new(config: &Config, observer: Observer) -> Result<Router, StartError> {
        let mut runtime_config = RuntimeConfig::default();
        if let Some(dir) = &config.runtime.cache_dir {
            runtime_config.cache = Some(crate::runtime::CodeCache::new(dir));
        }
        if let Some(mib) = config.runtime.cache_max_mib {
            runtime_config.cache = runtime_config
                .cache
                .map(|c| c.with_max_bytes(mib.saturating_mul(1 << 20)));
        }
        let d = crate::runtime::CompileLimits::default();
        let limits = crate::runtime::CompileLimits {
            cpu: config
                .runtime
                .compile_cpu_s
                .map_or(d.cpu, Duration::from_secs),
            memory_bytes: config
                .runtime
                .compile_memory_mib
                .map_or(d.memory_bytes, |m| m.saturating_mul(1 << 20)),
            concurrent: config.runtime.compiles_at_once.unwrap_or(d.concurrent),
        };
        runtime_config.compiler = match crate::runtime::Compiler::locate(limits) {
            Some(compiler) => compiler,
            None => {
                tracing::warn!(
                    "no callwasm program to compile plugins in (set CALLWASM_BIN): compiles run in this process, without CPU or memory bounds"
                );
                crate::runtime::Compiler::InProcess
            }
        };
        // The pool holds every tenant's share of instances and no more (runtime/slots.rs).
        runtime_config.max_instances = config
            .tenants
            .values()
            .map(|t| {
                crate::runtime::InstanceSlots::for_threads(t.limits.plugin_threads()).max() as u32
            })
            .sum::<u32>()
            .max(1);
        let runtime =
            Runtime::new(runtime_config).map_err(|e| StartError::Runtime(e.to_string()))?;
        let mut loaded = Vec::new();
        for (name, tc) in &config.tenants {
            loaded.push(Tenant::load(name, tc, &runtime)?);
        }
        // The store once the config's plugins load: a router never starts on a store it cannot
        // use, and the versions it kept join the tenants' histories.
        let instance = config.instance_name();
        let id_prefix = fastrand::u32(..0x100_0000);
        let mut kept_versions = HashMap::new();
        let mut stored_calls = Vec::new();
        let opened = match (config.store.durable, &config.cluster) {
            (false, _) => None,
            (true, Some(_)) => Some(config.store.open_shared(&instance)?),
            (true, None) => Some(config.store.open(&instance)?),
        };
        // A router sharing its calls holds its name's lease before it reads its rows (a
        // survivor may be moving them just now), once the store's schema is up to date.
        let cluster = match (&config.cluster, &config.store.url) {
            (Some(cc), Some(url)) => {
                let apps: BTreeMap<String, String> = config
                    .tenants
                    .values()
                    .flat_map(|t| t.apps.iter())
                    .map(|a| (a.clone(), crate::cluster::app_name(a, &instance, id_prefix)))
                    .collect();
                let held: Vec<(String, String)> = config
                    .servers
                    .keys()
                    .flat_map(|s| apps.values().map(move |a| (s.clone(), a.clone())))
                    .collect();
                let lease = crate::cluster::Lease::acquire(url, &instance, held, cc)?;
                Some(Cluster {
                    config: cc.clone(),
                    lease: Arc::new(lease),
                    apps,
                })
            }
            _ => None,
        };
        let journal = if let Some((mut backend, name)) = opened {
            for tenant in config.tenants.keys() {
                kept_versions.insert(tenant.clone(), backend.versions(tenant)?);
            }
            stored_calls = backend.calls(&instance)?;
            let store = crate::store::Store::start(backend, name.clone())?;
            tracing::info!(store = %name, "call store open");
            Some(durable::Journal {
                store: Arc::new(store),
                instance: Arc::from(instance.as_str()),
            })
        } else {
            None
        };
        let mut tenants = BTreeMap::new();
        let mut by_app = HashMap::new();
        for mut tenant in loaded {
            let name = tenant.name.clone();
            if let Some(journal) = &journal {
                let stored = kept_versions.remove(&name).unwrap_or_default();
                tenant.keep_versions(journal.store.clone(), stored);
            }
            let tenant = Arc::new(tenant);
            for app in &tenant.apps {
                by_app.insert(app.clone(), tenant.clone());
            }
            tenants.insert(name.clone(), tenant);
        }
        let mut servers = BTreeMap::new();
        for (name, s) in &config.servers {
            let rc = RestConfig {
                base_url: s.url.clone(),
                auth: Auth::Basic {
                    user: s.user.clone(),
                    password: s.password.clone(),
                },
                pool_size: s.pool_size,
                timeout: Duration::from_millis(s.timeout_ms),
            };
            let fence = cluster.as_ref().map(|c| c.lease.fence());
            let rest = Rest::for_router(name, &rc, Some(&instance), fence).map_err(|e| {
                StartError::Server {
                    server: name.clone(),
                    message: e.to_string(),
                }
            })?;
            servers.insert(name.clone(), (rest, rc));
        }
        Ok(Router {
            tenants: Arc::new(tenants),
            by_app,
            servers,
            table: Arc::new(CallTable::default()),
            observer,
            instance,
            replaced: Arc::default(),
            resyncs: Arc::default(),
            id_prefix,
            next_call: AtomicU64::new(1),
            connected_once: FirstTimes::default(),
            unserved_apps: FirstTimes::default(),
            journal,
            stored: std::sync::Mutex::new(stored_calls),
            cluster,
        })
    }

    /// The fence of a router sharing its calls: lost once its lease is (the router then
    /// stops, and `callwasm run` exits with 3).
    pub fn fence(&self) -> Option<crate::cluster::Fence> {
        self.cluster.as_ref().map(|c| c.lease.fence())
    }

    /// The apps this router registers: the tenants' own, or (sharing its calls) this run's
    /// app for each.
    fn own_apps(&self) -> Vec<String> {
        match &self.cluster {
            Some(c) => c.apps.values().cloned().collect(),
            None => self.by_app.keys().cloned().collect(),
        }
    }

    /// The tenant whose calls enter `app` (a router's app `acme@r1.0a1b2c` serves `acme`).
    fn tenant_of(&self, app: &str) -> Option<Arc<Tenant>> {
        if let Some(t) = self.by_app.get(app) {
            return Some(t.clone());
        }
        self.cluster.as_ref()?;
        self.by_app.get(crate::cluster::tenant_app(app)).cloned()
    }

    /// The tenants, by name (shared with the admin API).
    pub fn tenants(&self) -> Arc<BTreeMap<String, Arc<Tenant>>> {
        self.tenants.clone()
    }

    /// The live calls.
    pub fn table(&self) -> Arc<CallTable> {
        self.table.clone()
    }

    /// This router's instance name.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The apps other clients took from this router, as `server/app`.
    pub fn replaced(&self) -> Arc<std::sync::Mutex<std::collections::BTreeSet<String>>> {
        self.replaced.clone()
    }

    /// How many times a server's event stream has come up and resynced (each reconnect
    /// counts): a watcher can tell the router is listening again.
    pub fn resyncs(&self) -> Arc<AtomicU64> {
        self.resyncs.clone()
    }

    /// Whether this router made the channel or bridge `id`.
    fn made(&self, id: &str) -> bool {
        instance_of(id) == Some(self.instance.as_str())
    }

    /// Runs until `shutdown` turns true: keeps every server's event stream up and routes. A
    /// router sharing its calls also stops when it loses its lease ([`Router::fence`]).
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        for tenant in self.tenants.values() {
            if let Some(dir) = &tenant.watch
                && let Err(e) = plugin_dir::watch_dir(tenant.clone(), dir, shutdown.clone())
            {
                tracing::error!(tenant = %tenant.name, dir = %dir.display(), error = %crate::log_text::escaped(&e), "cannot watch the plugin directory");
            }
        }
        let (tx, mut rx) = mpsc::channel::<ServerItem>(4096);
        let mut adopted = Vec::new();
        let rows = std::mem::take(&mut *self.stored.lock().unwrap_or_else(|p| p.into_inner()));
        let carried = self.carry_on_rows(rows, "calls read back from the call store");
        // A router sharing its calls listens to its previous run's apps too: callers it
        // claimed there but never wrote a call for are started here.
        let earlier = self
            .cluster
            .as_ref()
            .map(|c| c.lease.earlier_apps().to_vec())
            .unwrap_or_default();
        self.adopt(carried, &earlier, &tx, &mut adopted);
        let apps = self.own_apps();
        for (name, (rest, rc)) in &self.servers {
            let stream = EventStream::new(
                name,
                rest.clone(),
                rc.clone(),
                StreamConfig {
                    apps: apps.clone(),
                    ..StreamConfig::default()
                },
            );
            tokio::spawn(stream.run(tx.clone(), shutdown.clone()));
        }
        let mut news = self.cluster.as_ref().and_then(|c| c.lease.news());
        let mut tidy = tokio::time::interval(Duration::from_secs(2));
        let mut shutdown = shutdown;
        loop {
            tokio::select! {
                item = rx.recv() => match item {
                    Some(item) => self.on_item(item),
                    None => break,
                },
                told = async {
                    match news.as_mut() {
                        Some(news) => news.recv().await,
                        None => std::future::pending().await,
                    }
                } => match told {
                    Some(crate::cluster::LeaseNews::TookOver(takeover)) => {
                        let apps = takeover.apps.clone();
                        let carried = self.take_over(takeover);
                        self.adopt(carried, &apps, &tx, &mut adopted);
                    }
                    Some(crate::cluster::LeaseNews::Lost(_)) | None => {
                        tracing::error!("stopping: this router lost its lease, so its calls may be another router's now; a restart carries on those that are still its own");
                        break;
                    }
                },
                _ = tidy.tick() => self.release_adopted(&mut adopted),
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
        }
        for a in &adopted {
            let _ = a.stop.send(true);
        }
        if let Some(c) = &self.cluster
            && !c.lease.fence().is_lost()
        {
            // What is queued reaches the store before the lock goes, so the router that
            // takes these calls over reads their latest rows.
            if let Some(journal) = &self.journal {
                journal.store.close();
            }
            c.lease.stop();
        }
    }

    /// Carries each stored call on (see [`Router::carry_on`]); what each call's caller and app
    /// are, as (server, app, caller), for the apps it must listen to.
    fn carry_on_rows(
        &self,
        rows: Vec<crate::store::CallRow>,
        what: &str,
    ) -> Vec<(String, String, String)> {
        if rows.is_empty() {
            return Vec::new();
        }
        let Some(journal) = &self.journal else {
            return Vec::new();
        };
        let (mut resumed, mut dropped) = (0usize, 0usize);
        let mut carried = Vec::new();
        for row in rows {
            let call = row.call_id.clone();
            match self.carry_on(row, journal) {
                Ok(c) => {
                    resumed += 1;
                    carried.push(c);
                }
                Err(reason) => {
                    dropped += 1;
                    tracing::warn!(call = %call, reason = %crate::log_text::escaped(&reason), "a stored call cannot be carried on: its caller gets the failure policy");
                    journal.remove(&call);
                }
            }
        }
        tracing::info!(resumed, dropped, "{what}");
        carried
    }

    /// The call of `row` goes back into the table on the version it held, and waits for its
    /// server's channel list to catch up. A call that cannot be carried on (its tenant or
    /// server is gone from the config, its version cannot be loaded, its image cannot be
    /// read) is dropped from the store by the caller, with the reason: its caller then gets
    /// the tenant's failure policy as a stray, and its channels and bridges go as orphans, at
    /// the first resync. Ok: the call's (server, app, caller).
    fn carry_on(
        &self,
        row: crate::store::CallRow,
        journal: &durable::Journal,
    ) -> Result<(String, String, String), String> {
        let mut image: durable::CallImage = serde_json::from_str(&row.record)
            .map_err(|e| format!("its image cannot be read: {e}"))?;
        let tenant = self
            .tenants
            .get(&row.tenant)
            .cloned()
            .ok_or_else(|| format!("tenant {} is no longer in the config", row.tenant))?;
        let (rest, _) = self
            .servers
            .get(&row.server)
            .ok_or_else(|| format!("server {} is no longer in the config", row.server))?;
        let held = tenant
            .versions
            .hold_kept(&row.version, &tenant.runtime, &tenant.name)?;
        let mut record = CallRecord::new(
            row.call_id.clone(),
            &row.tenant,
            &row.server,
            &image.app,
            image.args.clone(),
        );
        record.legs = std::mem::take(&mut image.legs)
            .into_iter()
            .map(|(h, l)| (h, Box::new(l.into_leg())))
            .collect();
        record.bridges = image.bridges.clone();
        record.playbacks = image.playbacks.clone();
        record.state = row.state;
        record.dials = image.dials;
        let caller = record
            .legs
            .get(call::CALLER)
            .map(|l| l.ari_id.clone())
            .unwrap_or_default();
        let (queue, inputs) = queue::bounded(tenant.call_limits.max_queued_inputs);
        self.table.insert(
            &row.call_id,
            CallEntry {
                queue: queue.clone(),
                server: row.server.clone(),
                tenant: tenant.name.clone(),
                caller: caller.clone(),
            },
        );
        tenant.resumed();
        let span = call_log::span(&row.call_id);
        tracing::info!(call = %row.call_id, tenant = %tenant.name, legs = record.legs.len(), "call carried on after a restart");
        let parts = session::Parts {
            rest: rest.clone(),
            table: self.table.clone(),
            observer: self.observer.clone(),
            queue,
            journal: Some(journal.clone()),
        };
        let app = image.app.clone();
        let session = Session::resume(record, image, held, tenant, parts);
        tokio::spawn(session.run(inputs).instrument(span));
        Ok((row.server, app, caller))
    }

    fn on_item(&self, item: ServerItem) {
        let server = item.server.to_string();
        match item.item {
            StreamItem::Event(event) => {
                if let Ari::ApplicationReplaced(e) = &*event {
                    // Two routers on one app take it from each other at every reconnect;
                    // this one yields and says so (the stream logged it already).
                    self.replaced
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(format!("{server}/{}", e.application));
                    return;
                }
                self.dispatch(&server, event, item.received)
            }
            StreamItem::Resynced {
                channels,
                bridges,
                listed_at,
            } => {
                self.reconcile(&server, channels, bridges, listed_at);
                self.resyncs.fetch_add(1, Ordering::Relaxed);
            }
            StreamItem::Connected => {
                if self.connected_once.insert_if_new(&server) {
                    tracing::info!(%server, "ready: event stream connected")
                } else {
                    tracing::info!(%server, "event stream connected again")
                }
            }
            // The stream said why and when it retries.
            StreamItem::Disconnected { .. } => {}
        }
    }

    /// Hands an event to its call, or opens a call for a new inbound channel.
    fn dispatch(&self, server: &str, event: Box<Ari>, received: Instant) {
        let ids = translate::channel_ids(&event);
        let call = ids.iter().find_map(|id| match call_of(id) {
            Some(call) => Some(call.to_string()),
            None => self.table.by_caller(server, id),
        });
        if let Some(call) = call {
            if let Some(entry) = self.table.get(&call) {
                if !entry.queue.send(CallInput::Ari(event)) {
                    tracing::warn!(call = %call, "call's input queue is full; event dropped");
                }
            } else if let Ari::StasisStart(e) = &*event
                && self.made(&e.channel.id)
            {
                // A channel of one of this router's calls that is over (a restart, a lost
                // race): nobody can drive it. Another router's channels are its own.
                self.hang_up_orphan(server, &e.channel.id);
            }
            return;
        }
        match &*event {
            Ari::StasisStart(e) => self.open(server, e, event.clone(), received),
            Ari::CallBroadcast(e) => self.on_broadcast(server, e),
            _ => {}
        }
    }

    /// A new call: `e.channel` entered one of a tenant's apps.
    fn open(
        &self,
        server: &str,
        e: &crate::ari::events::StasisStart,
        event: Box<Ari>,
        received: Instant,
    ) {
        let Some(tenant) = self.tenant_of(&e.application) else {
            // Once per app (and at most a few hundred apps): a dialplan pointing calls at
            // the wrong app shows up without flooding the log.
            if self.unserved_apps.len() < 256 && self.unserved_apps.insert_if_new(&e.application) {
                tracing::warn!(%server, app = %crate::log_text::escaped(&e.application), "a call entered an app no tenant serves; its calls stay in Asterisk untouched (check the tenants' apps and the dialplan's Stasis())");
            }
            return;
        };
        let Some((rest, _)) = self.servers.get(server) else {
            return;
        };
        let n = self.next_call.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}.{:06x}{n:x}", self.instance, self.id_prefix);
        let mut record = CallRecord::new(
            id.clone(),
            &tenant.name,
            server,
            &e.application,
            e.args.clone(),
        );
        record.received = received;
        record.legs.insert(
            call::CALLER.into(),
            Box::new(Leg::inbound(e.channel.clone())),
        );
        let (queue, inputs) = queue::bounded(tenant.call_limits.max_queued_inputs);
        self.table.insert(
            &id,
            CallEntry {
                queue: queue.clone(),
                server: server.into(),
                tenant: tenant.name.clone(),
                caller: e.channel.id.clone(),
            },
        );
        TenantCounters::add(&tenant.counters.calls_opened, 1);
        if self.observer.wants_details() {
            self.observer.send(Observation::Opened {
                call: id.clone(),
                tenant: tenant.name.clone(),
                caller: e.channel.caller.number.clone(),
                args: e.args.clone(),
            });
        }
        let admitted = tenant.admit();
        let tenant_name = tenant.name.clone();
        let span = call_log::span(&id);
        call_log::started(&call_log::Started {
            call: &id,
            tenant: &tenant.name,
            app: &e.application,
            caller: &e.channel.caller.number,
            extension: &e.channel.dialplan.exten,
            server,
        });
        let session = Session::new(
            record,
            tenant,
            rest.clone(),
            self.table.clone(),
            self.observer.clone(),
            queue.clone(),
            self.journal.clone(),
        );
        let session = match admitted {
            Ok(()) => session,
            Err(reason) => {
                tracing::warn!(call = %id, tenant = %tenant_name, reason = %crate::log_text::escaped(&reason), "call refused");
                session.refuse(reason)
            }
        };
        queue.send(CallInput::Ari(event));
        tokio::spawn(session.run(inputs).instrument(span));
    }

    /// After a (re)connect: every call of this server checks its channels against the list;
    /// bridges and channels this router made for calls that are no more are removed (never
    /// another router's); callers sitting in a tenant's app with no call get the tenant's
    /// failure policy ([`stranded`]).
    fn reconcile(
        &self,
        server: &str,
        channels: Vec<crate::ari::models::Channel>,
        bridges: Vec<crate::ari::models::Bridge>,
        listed_at: Instant,
    ) {
        let live: HashSet<String> = channels.iter().map(|c| c.id.clone()).collect();
        let live = Arc::new(live);
        let listed = Arc::new(session::Listed {
            channels: channels.iter().map(|c| (c.id.clone(), c.clone())).collect(),
            bridges: bridges.clone(),
        });
        // A leg the router learnt of after the list was asked for (one it created meanwhile)
        // cannot be in it: only those known before count as vanished.
        let at = listed_at;
        let calls = self.table.calls();
        for (_, entry) in calls.iter().filter(|(_, e)| e.server == server) {
            entry.queue.send(CallInput::Resynced {
                live: live.clone(),
                at,
                listed: listed.clone(),
            });
        }
        let Some((rest, _)) = self.servers.get(server) else {
            return;
        };
        // A caller in another router's bridge is that router's call, not a stranded one.
        let elsewhere: HashSet<&str> = bridges
            .iter()
            .filter(|b| instance_of(&b.id).is_some_and(|i| i != self.instance))
            .flat_map(|b| b.channels.iter().map(String::as_str))
            .collect();
        let lone: Vec<&crate::ari::models::Channel> = channels
            .iter()
            .filter(|c| !elsewhere.contains(c.id.as_str()))
            .collect();
        stranded::look_after(server, &lone, &self.by_app, &self.table, rest);
        let bridges: Vec<String> = bridges.into_iter().map(|b| b.id).collect();
        let orphans =
            |id: &String| self.made(id) && call_of(id).is_some_and(|c| self.table.get(c).is_none());
        let orphan_bridges: Vec<String> = bridges.into_iter().filter(orphans).collect();
        let orphan_channels: Vec<String> = live.iter().filter(|id| orphans(id)).cloned().collect();
        if orphan_bridges.is_empty() && orphan_channels.is_empty() {
            return;
        }
        let rest = rest.clone();
        let server = server.to_string();
        let lease = self.cluster.as_ref().map(|c| c.lease.clone());
        tokio::spawn(async move {
            let (mut orphan_bridges, mut orphan_channels) = (orphan_bridges, orphan_channels);
            if let Some(lease) = lease {
                // This router's earlier run made them, but a survivor may carry their calls
                // on now: only those whose calls have no row anywhere are orphans.
                let calls: Vec<String> = orphan_bridges
                    .iter()
                    .chain(&orphan_channels)
                    .filter_map(|id| call_of(id).map(String::from))
                    .collect();
                match lease.known(calls).await {
                    Ok(carried) => {
                        let mine = |id: &String| call_of(id).is_none_or(|c| !carried.contains(c));
                        orphan_bridges.retain(mine);
                        orphan_channels.retain(mine);
                    }
                    Err(e) => {
                        tracing::warn!(%server, error = %e, "cannot tell orphans from calls another router carries: left alone until the next resync");
                        return;
                    }
                }
            }
            for id in orphan_bridges {
                match rest.destroy_bridge(&id).await {
                    Ok(()) => tracing::info!(%server, bridge = %id, "orphan bridge destroyed"),
                    Err(e) => {
                        tracing::warn!(%server, bridge = %id, error = %crate::log_text::escaped(&e), "orphan bridge not destroyed")
                    }
                }
            }
            for id in orphan_channels {
                if let Err(e) = rest.hangup(&id, 16).await
                    && e.status() != Some(404)
                {
                    tracing::warn!(%server, channel = %id, error = %crate::log_text::escaped(&e), "orphan channel not hung up");
                }
            }
        });
    }

    fn hang_up_orphan(&self, server: &str, id: &str) {
        if let Some((rest, _)) = self.servers.get(server) {
            let (rest, id) = (rest.clone(), id.to_string());
            tokio::spawn(async move {
                let _ = rest.hangup(&id, 16).await;
            });
        }
    }
}
