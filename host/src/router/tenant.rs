//! A tenant as the router runs it: its applications, its plugin versions (and fallback), the
//! settings and limits handed to every call, its endpoint allow-list and failure policy, and
//! the counters operators watch. New versions are checked here, off the event path, before
//! they go live.

use super::config::{Capabilities, FailurePolicy, RollbackConfig, TenantConfig, settings_map};
use super::versions::{Version, Versions};
use crate::runtime::{
    self as wit, InstanceMode, Invocation, Limits, LoadError, Plugin, Runtime, Settings,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a tenant's failure policy does, with its plugins loaded.
#[derive(Debug, Clone)]
pub enum OnFailure {
    Hangup {
        cause: u8,
    },
    Continue {
        context: String,
        extension: Option<String>,
        priority: Option<i32>,
    },
    Fallback {
        plugin: Arc<Plugin>,
    },
}

/// Counters of one tenant.
#[derive(Debug, Default)]
pub struct TenantCounters {
    pub calls_opened: AtomicU64,
    pub calls_ended: AtomicU64,
    pub events_handled: AtomicU64,
    /// Plugin failures (trap, deadline, memory, error, limits) and refused replies.
    pub plugin_failures: AtomicU64,
    pub replies_refused: AtomicU64,
    pub commands_failed: AtomicU64,
    /// Calls refused for a limit (concurrent calls, new calls per second).
    pub calls_refused: AtomicU64,
    /// Commands not sent because they were over a call's limits (channels, timers, REST rate).
    pub limits_hit: AtomicU64,
    /// Total plugin time, for the mean per event.
    pub plugin_nanos: AtomicU64,
}

impl TenantCounters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// A tenant, ready to serve calls.
#[derive(Debug)]
pub struct Tenant {
    pub name: String,
    pub apps: Vec<String>,
    /// The plugin's versions: the live one, those calls hold, the history.
    pub versions: Versions,
    /// Compiles new versions.
    pub runtime: Runtime,
    /// Calls move to a new version at their next event instead of finishing on theirs.
    pub migrate: bool,
    pub rollback: RollbackConfig,
    /// The directory watched for new versions.
    pub watch: Option<std::path::PathBuf>,
    pub settings: Arc<Settings>,
    pub limits: Limits,
    pub mode: InstanceMode,
    /// What the plugin may reach: endpoints, dialplan contexts, media, variables.
    pub capabilities: Capabilities,
    pub on_failure: OnFailure,
    pub counters: TenantCounters,
    /// The admin API token of this tenant.
    pub admin_token: Option<String>,
    /// What one call may spend (channels, timers, REST rate, queued inputs).
    pub call_limits: super::budget::CallLimits,
    /// Channels the tenant's calls created that are in progress, and the most allowed.
    pub channels_live: Arc<std::sync::atomic::AtomicUsize>,
    pub max_channels: usize,
    /// Calls in progress, and the most allowed.
    pub calls_live: std::sync::atomic::AtomicUsize,
    pub max_calls: usize,
    /// New calls per second: a token bucket (tokens, last refill).
    pub max_new_calls_per_second: f64,
    bucket: std::sync::Mutex<(f64, std::time::Instant)>,
    /// The tenant's own plugin threads: bounds its plugin work at once.
    pub workers: super::workers::Workers,
    /// The tenant's share of the instance pool.
    pub slots: Arc<crate::runtime::InstanceSlots>,
    /// A new version is being received or checked: one at a time per tenant.
    loading: std::sync::atomic::AtomicBool,
    /// Where the tenant's versions are kept across restarts (None: in memory only).
    pub store: Option<Arc<crate::store::Store>>,
}

/// The largest component a tenant may push (Python and JavaScript components are 2–20 MB).
pub const MAX_COMPONENT_BYTES: usize = 64 << 20;

/// Whether a version label is usable: 1–64 of `A-Z a-z 0-9 . _ - +`. Labels go to logs and
/// the admin API; one with a newline once forged a router log line.
pub fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 64
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'))
}

/// A tenant's turn to load a new version; the next may start once it is dropped.
#[derive(Debug)]
pub struct LoadTurn(Arc<Tenant>);

impl Drop for LoadTurn {
    fn drop(&mut self) {
        self.0.loading.store(false, Ordering::Release);
    }
}

/// A tenant that could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("tenant {tenant}: plugin {path}: {source}")]
    Plugin {
        tenant: String,
        path: String,
        source: LoadError,
    },
    #[error("tenant {tenant}: settings: {message}")]
    Settings { tenant: String, message: String },
}

impl Tenant {
    /// Loads the tenant's plugins (compiled or from the code cache) and checks them.
    pub fn load(
        name: &str,
        config: &TenantConfig,
        runtime: &Runtime,
    ) -> Result<Tenant, TenantError> {
        let load = |path: &std::path::Path| {
            runtime
                .load_file(path)
                .map(Arc::new)
                .map_err(|source| TenantError::Plugin {
                    tenant: name.into(),
                    path: path.display().to_string(),
                    source,
                })
        };
        let bytes: Arc<[u8]> = std::fs::read(&config.plugin)
            .map_err(|source| TenantError::Plugin {
                tenant: name.into(),
                path: config.plugin.display().to_string(),
                source: LoadError::Read {
                    path: config.plugin.display().to_string(),
                    source,
                },
            })?
            .into();
        let plugin = runtime
            .load(name, &bytes)
            .map_err(|source| TenantError::Plugin {
                tenant: name.into(),
                path: config.plugin.display().to_string(),
                source,
            })?;
        let label = config
            .plugin
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned());
        let on_failure = match &config.on_failure {
            FailurePolicy::Hangup { cause } => OnFailure::Hangup { cause: *cause },
            FailurePolicy::Continue {
                context,
                extension,
                priority,
            } => OnFailure::Continue {
                context: context.clone(),
                extension: extension.clone(),
                priority: *priority,
            },
            FailurePolicy::Fallback { plugin } => OnFailure::Fallback {
                plugin: load(plugin)?,
            },
        };
        let settings = settings_map(&config.settings).map_err(|message| TenantError::Settings {
            tenant: name.into(),
            message,
        })?;
        let capabilities = config
            .capabilities()
            .map_err(|message| TenantError::Settings {
                tenant: name.into(),
                message,
            })?;
        Ok(Tenant {
            name: name.into(),
            apps: config.apps.clone(),
            versions: Versions::new(Version::new(plugin, bytes, label)),
            runtime: runtime.clone(),
            migrate: config.migrate,
            rollback: config.rollback.clone(),
            watch: config.watch.clone(),
            settings: Arc::new(settings),
            limits: config.limits.limits(),
            mode: config.instances.mode(),
            capabilities,
            on_failure,
            counters: TenantCounters::default(),
            admin_token: config.admin_token.clone(),
            call_limits: config.limits.call_limits(),
            channels_live: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            max_channels: config.limits.max_channels.unwrap_or(DEFAULT_MAX_CHANNELS),
            calls_live: std::sync::atomic::AtomicUsize::new(0),
            max_calls: config.limits.max_calls.unwrap_or(10_000),
            max_new_calls_per_second: config.limits.max_new_calls_per_second.unwrap_or(500.0),
            bucket: std::sync::Mutex::new((
                config.limits.max_new_calls_per_second.unwrap_or(500.0),
                std::time::Instant::now(),
            )),
            workers: super::workers::Workers::new(name, config.limits.plugin_threads()),
            slots: crate::runtime::InstanceSlots::for_threads(config.limits.plugin_threads()),
            loading: std::sync::atomic::AtomicBool::new(false),
            store: None,
        })
    }

    /// Keeps the tenant's versions in `store`: the versions it kept before a restart join the
    /// history (so calls that held them go on, and rollbacks reach them), and the live one
    /// is written. Reading the store is the caller's: `stored` is what it held.
    pub fn keep_versions(
        &mut self,
        store: Arc<crate::store::Store>,
        stored: Vec<crate::store::VersionRow>,
    ) {
        let older: Vec<Arc<Version>> = stored
            .into_iter()
            .map(|row| {
                let at = std::time::UNIX_EPOCH
                    + std::time::Duration::from_millis(u64::try_from(row.loaded_ms).unwrap_or(0));
                Version::kept(row.hash, row.label, row.component, at)
            })
            .collect();
        self.versions.remember(older);
        self.store = Some(store);
        self.record_version(&self.versions.live());
    }

    /// Writes a version's component to the store (once per hash; a new label replaces the
    /// old one).
    fn record_version(&self, version: &Version) {
        if let Some(store) = &self.store {
            store.version(crate::store::VersionRow {
                tenant: self.name.clone(),
                hash: version.hash.clone(),
                label: version.label.clone(),
                component: version.bytes.clone(),
                loaded_ms: crate::store::now_ms(),
            });
        }
    }

    /// Admits a new call, or says which limit it is over. An admitted call counts in
    /// `calls_live` until [`Tenant::call_ended`].
    pub fn admit(&self) -> Result<(), String> {
        {
            let mut bucket = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
            let now = std::time::Instant::now();
            let rate = self.max_new_calls_per_second;
            bucket.0 = (bucket.0 + now.duration_since(bucket.1).as_secs_f64() * rate).min(rate);
            bucket.1 = now;
            if bucket.0 < 1.0 {
                return Err(format!("over the limit of {rate} new calls per second"));
            }
            bucket.0 -= 1.0;
        }
        let live = self.calls_live.fetch_add(1, Ordering::AcqRel);
        if live >= self.max_calls {
            self.calls_live.fetch_sub(1, Ordering::AcqRel);
            return Err(format!(
                "over the limit of {} calls in progress",
                self.max_calls
            ));
        }
        Ok(())
    }

    /// Whether a new call would be admitted now (a router sharing its calls claims only
    /// those): under the call limit, with the rate's bucket not empty.
    pub fn has_room(&self) -> bool {
        let bucket = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let refill = bucket.1.elapsed().as_secs_f64() * self.max_new_calls_per_second;
        let tokens = (bucket.0 + refill).min(self.max_new_calls_per_second);
        tokens >= 1.0 && self.calls_live.load(Ordering::Acquire) < self.max_calls
    }

    /// A call read back from the store after a restart counts as in progress again (it was
    /// admitted before the restart).
    pub fn resumed(&self) {
        self.calls_live.fetch_add(1, Ordering::AcqRel);
    }

    /// An admitted call ended.
    pub fn call_ended(&self) {
        self.calls_live.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a new version was not made live.
#[derive(Debug, thiserror::Error)]
pub enum Rejected {
    #[error("{0}")]
    Load(#[from] LoadError),
    #[error("smoke call on a canned `started` event failed: {0}")]
    Smoke(String),
    #[error("the label {0:?} is not 1-64 characters of A-Z a-z 0-9 . _ - +")]
    Label(String),
    #[error("the component is {0} bytes; at most {MAX_COMPONENT_BYTES} are accepted")]
    TooLarge(usize),
}

impl Tenant {
    /// The tenant's turn to load a version; None while another load runs.
    pub fn load_turn(self: &Arc<Self>) -> Option<LoadTurn> {
        self.loading
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| LoadTurn(self.clone()))
    }

    /// Whether a new version is being received or checked.
    pub fn is_loading(&self) -> bool {
        self.loading.load(Ordering::Acquire)
    }

    /// Compiles and checks `bytes` as a new version (right world; a smoke `handle` on a
    /// canned `started` event returns Ok within the deadline) and makes it live. Blocking:
    /// call it off the event path. The live version stays if anything fails.
    /// The same component pushed again makes its kept version live again (with the calls it
    /// still holds) rather than a second copy.
    /// The caller holds the tenant's [`LoadTurn`]: one version is loaded at a time.
    pub fn install(
        &self,
        _turn: &LoadTurn,
        bytes: &[u8],
        label: Option<String>,
    ) -> Result<Arc<Version>, Rejected> {
        if let Some(label) = label.as_ref().filter(|l| !valid_label(l)) {
            return Err(Rejected::Label(label.clone()));
        }
        if bytes.len() > MAX_COMPONENT_BYTES {
            return Err(Rejected::TooLarge(bytes.len()));
        }
        let hash = crate::runtime::content_hash(bytes);
        if let Some(kept) = self.versions.find(&hash) {
            let plugin = kept.reload(&self.runtime, &self.name)?;
            self.smoke(&plugin).map_err(Rejected::Smoke)?;
            self.versions.install(kept.clone());
            tracing::info!(tenant = %self.name, version = %kept.name(), "kept plugin version live again");
            return Ok(kept);
        }
        let plugin = self.runtime.load(&self.name, bytes)?;
        self.smoke(&plugin).map_err(Rejected::Smoke)?;
        let version = Version::new(plugin, Arc::from(bytes), label);
        self.record_version(&version);
        self.versions.install(version.clone());
        tracing::info!(tenant = %self.name, version = %version.name(), hash = %version.hash, "new plugin version live");
        Ok(version)
    }

    /// One `handle` on a canned `started` event of a made-up call.
    fn smoke(&self, plugin: &Plugin) -> Result<(), String> {
        let caller = wit::Channel {
            handle: super::call::CALLER.into(),
            name: "PJSIP/smoke-00000000".into(),
            state: wit::ChannelState::Ring,
            caller: wit::Party {
                name: "Smoke Test".into(),
                number: "5550000".into(),
            },
            connected: wit::Party {
                name: String::new(),
                number: String::new(),
            },
            dialplan: Some(wit::DialplanLocation {
                context: "from-sipp".into(),
                extension: "100".into(),
                priority: 1,
            }),
        };
        let call = wit::Call {
            id: "smoke".into(),
            tenant: self.name.clone(),
            args: vec!["100".into()],
            channels: vec![caller],
            bridges: vec![],
            state: vec![],
            now_ms: 0,
        };
        plugin
            .handle(Invocation {
                event: &wit::Event::Started,
                call: &call,
                settings: self.settings.clone(),
                tag: Arc::from(format!("{}/smoke", self.name)),
                limits: &self.limits,
                mode: InstanceMode::Fresh,
                slots: Some(self.slots.clone()),
            })
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Rolls back to the kept version named `key` (label or hash prefix).
    pub fn rollback(&self, key: &str) -> Result<Arc<Version>, String> {
        let v = self.versions.rollback(key, &self.runtime, &self.name)?;
        tracing::info!(tenant = %self.name, version = %v.name(), "rolled back");
        Ok(v)
    }

    /// A call on `version` (its `rank`-th) saw the plugin fail: judge the version, and roll
    /// it back if too many of its first calls failed.
    pub fn judge_failure(&self, version: &Arc<Version>, rank: u64) {
        let n = self.rollback.first_calls;
        if rank > n {
            return;
        }
        let failed = version.failed_calls.fetch_add(1, Ordering::AcqRel) + 1;
        let limit = self.rollback.max_failure_rate * n as f64;
        if failed as f64 > limit {
            let reason = format!(
                "version {} rolled back: the plugin failed in {failed} of its first {n} calls (at most {:.0}% allowed)",
                version.name(),
                self.rollback.max_failure_rate * 100.0
            );
            if let Some(to) =
                self.versions
                    .auto_rollback(version, reason.clone(), &self.runtime, &self.name)
            {
                tracing::warn!(tenant = %self.name, to = %to.name(), "{reason}");
            }
        }
    }
}

/// Channels a tenant's calls may have created and in progress at once, unless its config
/// says otherwise: as many as the default number of calls, each with one leg.
pub const DEFAULT_MAX_CHANNELS: usize = 10_000;

/// A tenant's plugin threads unless its config says otherwise: half the machine's cores (at
/// least one), so no single tenant's plugins — a runaway one included — can take every core
/// (measured: `cargo bench --bench isolation`, docs/decisions.md).
pub fn default_plugin_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() / 2)
        .unwrap_or(1)
        .max(1)
}
