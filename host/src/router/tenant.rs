//! A tenant as the router runs it: its applications, its loaded plugin (and fallback), the
//! settings and limits handed to every call, its endpoint allow-list and failure policy, and
//! the counters operators watch.

use super::config::{FailurePolicy, TenantConfig, settings_map};
use crate::runtime::{InstanceMode, Limits, LoadError, Plugin, Runtime, Settings};
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
    pub plugin: Arc<Plugin>,
    pub settings: Arc<Settings>,
    pub limits: Limits,
    pub mode: InstanceMode,
    /// Endpoint patterns a plugin may create channels to.
    pub endpoints: Vec<String>,
    pub on_failure: OnFailure,
    pub counters: TenantCounters,
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
        let plugin = load(&config.plugin)?;
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
        Ok(Tenant {
            name: name.into(),
            apps: config.apps.clone(),
            plugin,
            settings: Arc::new(settings),
            limits: config.limits.limits(),
            mode: config.instances.mode(),
            endpoints: config.endpoints.clone(),
            on_failure,
            counters: TenantCounters::default(),
        })
    }

    /// Whether the plugin may create a channel to `endpoint`.
    pub fn allows_endpoint(&self, endpoint: &str) -> bool {
        self.endpoints
            .iter()
            .any(|p| crate::pattern::matches(p, endpoint))
    }
}
