//! The router's configuration file (TOML): the Asterisk servers to keep sessions with, the
//! tenants (their Stasis apps, plugin, settings, limits, endpoint allow-list and failure
//! policy) and runtime options. Everything is checked at load: the router does not start on a
//! bad config, and the error names the file, the line, the key and what was expected.
//! examples/router.toml documents every key.

use crate::runtime::{InstanceMode, Limits};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// This router's name, 1–32 characters of `A-Z a-z 0-9 _` (default: the host name with
    /// other characters as `_`). Every channel and bridge id it makes carries it, and it only
    /// ever cleans up ids with its own name: give each router sharing an Asterisk its own,
    /// and keep it across restarts so a restarted router finds what it left.
    pub instance: Option<String>,
    #[serde(default)]
    pub runtime: RuntimeOptions,
    /// The admin HTTP API; none when absent.
    pub admin: Option<AdminConfig>,
    /// Where calls in progress are kept so that a restarted router carries them on (default:
    /// an embedded store under the state directory).
    #[serde(default)]
    pub store: crate::store::StoreConfig,
    /// Present when this router shares the calls with other routers: new calls come by
    /// StasisBroadcast and are claimed, and the store (a PostgreSQL `[store] url`) is shared.
    pub cluster: Option<crate::cluster::ClusterConfig>,
    /// Asterisk servers, by name.
    pub servers: BTreeMap<String, Server>,
    /// Tenants, by name.
    pub tenants: BTreeMap<String, TenantConfig>,
}

/// Engine-wide options.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeOptions {
    /// Where compiled plugins are cached (default: the user's cache directory).
    pub cache_dir: Option<PathBuf>,
    /// The cache's size cap in MiB; the least recently used entries go first (default 2048).
    pub cache_max_mib: Option<u64>,
    /// CPU seconds one compile of a plugin may use (default 120); past it the version is
    /// rejected. Compiles run in a child process, at a lower priority.
    pub compile_cpu_s: Option<u64>,
    /// Address space of a compile, in MiB (default 4096).
    pub compile_memory_mib: Option<u64>,
    /// Compiles running at once in the router (default: half the cores, at least 1).
    pub compiles_at_once: Option<usize>,
}

/// The admin API: where it listens and the operator token it requires
/// (`Authorization: Bearer <token>`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    pub listen: std::net::SocketAddr,
    pub token: String,
}

/// One Asterisk server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// ARI's base URL, such as `http://127.0.0.1:8088/ari`.
    pub url: String,
    pub user: String,
    pub password: String,
    /// REST requests in flight at once (and keep-alive connections).
    #[serde(default = "default_pool")]
    pub pool_size: usize,
    /// Time one REST request may take.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

/// Sounds, tones and spoken digits; recordings only when a tenant lists its own prefix (they
/// may be another tenant's).
fn default_media() -> Vec<String> {
    ["sound:", "tone:", "digits:", "number:", "characters:"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn default_pool() -> usize {
    32
}

fn default_timeout_ms() -> u64 {
    5000
}

/// One tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// The Stasis applications whose calls this tenant routes.
    pub apps: Vec<String>,
    /// The plugin component (.wasm), relative to the config file.
    pub plugin: PathBuf,
    /// Handed to the plugin through `host.setting`; nested tables become dotted keys
    /// (`[settings.route] 100 = "PJSIP/alice"` is `route.100`).
    #[serde(default)]
    pub settings: toml::Table,
    /// Endpoints the plugin may create channels to: patterns where `*` matches any run of
    /// characters. Empty allows none.
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// Dialplan contexts `continue-in-dialplan` may name (patterns). Continuing without a
    /// context (in the channel's own) is always allowed.
    #[serde(default)]
    pub contexts: Vec<String>,
    /// Media URI prefixes `play` may use, such as `sound:` or `recording:acme/`.
    #[serde(default = "default_media")]
    pub media: Vec<String>,
    /// Channel variables and functions set-var may set (see [`VariablesConfig`]).
    #[serde(default)]
    pub variables: VariablesConfig,
    /// A token that reads and changes this tenant's plugins and calls (and nothing else) in
    /// the admin API.
    pub admin_token: Option<String>,
    #[serde(default)]
    pub limits: LimitsConfig,
    /// `fresh` (a new instance per event) or `reuse`.
    #[serde(default)]
    pub instances: InstancesConfig,
    #[serde(default)]
    pub on_failure: FailurePolicy,
    /// A directory watched for new versions: a `.wasm` file renamed into it is checked and,
    /// if good, made live (labelled with the file's name).
    pub watch: Option<PathBuf>,
    /// On a swap, calls in progress move to the new version at their next event (`true`),
    /// or finish on the version they started on (`false`, the default).
    #[serde(default)]
    pub migrate: bool,
    #[serde(default)]
    pub rollback: RollbackConfig,
}

/// The variables a tenant's plugin may set: patterns such as `X_*` (plain variables),
/// `CALLERID(*)` or `PJSIP_HEADER(add,X-*)`. A deny list no pattern overrides comes first
/// (hangup handlers, `GLOBAL`, `DB`, `SHARED`, …: docs/decisions.md "Tenants fenced in").
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariablesConfig {
    /// On every channel of a call (default `["*", "PJSIP_HEADER(add,X-*)"]`).
    pub any: Option<Vec<String>>,
    /// Also on the legs the call created (default `["CALLERID(*)", "CONNECTEDLINE(*)"]`).
    pub created: Option<Vec<String>>,
}

impl VariablesConfig {
    /// The capability: these patterns over the defaults.
    pub fn variables(&self) -> Result<crate::capability::variable::Variables, String> {
        use crate::capability::variable::{VariablePattern, Variables};
        let d = Variables::default();
        let parse =
            |key: &str, list: &Option<Vec<String>>, default: Vec<VariablePattern>| match list {
                None => Ok(default),
                Some(list) => list
                    .iter()
                    .map(|p| VariablePattern::new(p).map_err(|e| format!("variables.{key}: {e}")))
                    .collect(),
            };
        Ok(Variables {
            any: parse("any", &self.any, d.any)?,
            created: parse("created", &self.created, d.created)?,
        })
    }
}

/// Automatic rollback of a new version that fails too often among its first calls.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackConfig {
    /// How many of a new version's first calls are judged.
    #[serde(default = "default_first_calls")]
    pub first_calls: u64,
    /// The share of those calls in which the plugin may fail; more rolls the version back.
    #[serde(default = "default_failure_rate")]
    pub max_failure_rate: f64,
}

fn default_first_calls() -> u64 {
    20
}

fn default_failure_rate() -> f64 {
    0.2
}

impl Default for RollbackConfig {
    fn default() -> Self {
        RollbackConfig {
            first_calls: default_first_calls(),
            max_failure_rate: default_failure_rate(),
        }
    }
}

/// Per-tenant limits; each unset key keeps the documented default (see [`Limits`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    pub memory_mib: Option<usize>,
    pub deadline_ms: Option<u64>,
    pub max_commands: Option<usize>,
    pub max_reply_bytes: Option<usize>,
    pub max_state_bytes: Option<usize>,
    pub max_log_bytes: Option<usize>,
    /// Calls in progress at once (default 10,000); more are refused.
    pub max_calls: Option<usize>,
    /// New calls per second, with a burst of as many (default 500); more are refused.
    pub max_new_calls_per_second: Option<f64>,
    /// `handle` calls of this tenant running at once, on its own threads (default: half the
    /// cores, at least 1): a slow plugin queues behind its own tenant's work, never another's,
    /// and no tenant can take every core.
    pub max_plugin_threads: Option<usize>,
    /// Channels one call holds at once, the caller included (default 16).
    pub max_channels_per_call: Option<usize>,
    /// Channels the tenant's calls created that are in progress at once (default 10,000).
    pub max_channels: Option<usize>,
    /// Timers one call runs at once (default 16).
    pub max_timers_per_call: Option<usize>,
    /// The shortest timer a plugin may start, in ms (default 10).
    pub min_timer_ms: Option<u32>,
    /// REST requests one call may send per second, with a burst of twice as many (default 50).
    pub max_requests_per_second: Option<f64>,
    /// Inputs (events, timers) waiting in one call's queue; past it the call gets the failure
    /// policy (default 1024).
    pub max_queued_inputs: Option<usize>,
}

impl LimitsConfig {
    /// The tenant's plugin threads: the configured number, or the default.
    pub fn plugin_threads(&self) -> usize {
        self.max_plugin_threads
            .unwrap_or_else(super::tenant::default_plugin_threads)
    }

    /// The per-call limits: these values over the defaults.
    pub fn call_limits(&self) -> super::budget::CallLimits {
        let d = super::budget::CallLimits::default();
        super::budget::CallLimits {
            max_channels: self.max_channels_per_call.unwrap_or(d.max_channels),
            max_timers: self.max_timers_per_call.unwrap_or(d.max_timers),
            min_timer_ms: self.min_timer_ms.unwrap_or(d.min_timer_ms),
            requests_per_second: self
                .max_requests_per_second
                .unwrap_or(d.requests_per_second),
            max_queued_inputs: self.max_queued_inputs.unwrap_or(d.max_queued_inputs),
        }
    }

    /// The runtime limits: these values over the defaults.
    pub fn limits(&self) -> Limits {
        let d = Limits::default();
        Limits {
            memory_bytes: self.memory_mib.map_or(d.memory_bytes, |m| m << 20),
            deadline: self.deadline_ms.map_or(d.deadline, Duration::from_millis),
            max_commands: self.max_commands.unwrap_or(d.max_commands),
            max_reply_bytes: self.max_reply_bytes.unwrap_or(d.max_reply_bytes),
            max_state_bytes: self.max_state_bytes.unwrap_or(d.max_state_bytes),
            max_log_bytes: self.max_log_bytes.unwrap_or(d.max_log_bytes),
        }
    }
}

/// How a tenant's instances are used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstancesConfig {
    #[default]
    Fresh,
    Reuse,
}

/// A tenant's capabilities, parsed from its config.
#[derive(Debug, Clone)]
pub struct Capabilities {
    pub endpoints: Vec<crate::capability::endpoint::EndpointPattern>,
    pub contexts: crate::capability::dialplan::Contexts,
    pub media: Vec<crate::capability::media::MediaPrefix>,
    pub variables: crate::capability::variable::Variables,
}

impl Capabilities {
    /// Whether the plugin may create a channel to `endpoint`; the error says why not.
    pub fn check_endpoint(&self, endpoint: &str) -> Result<(), String> {
        use crate::capability::endpoint::Endpoint;
        let parsed =
            Endpoint::parse(endpoint).map_err(|e| format!("endpoint {endpoint:?}: {e}"))?;
        if self.endpoints.iter().any(|p| p.allows(&parsed)) {
            Ok(())
        } else {
            Err(format!(
                "endpoint {endpoint:?} is not on the tenant's allow-list"
            ))
        }
    }

    /// Whether play may use `uri`; the error says why not.
    pub fn check_media(&self, uri: &str) -> Result<(), String> {
        crate::capability::media::Media::parse(uri).map_err(|e| format!("media {uri:?}: {e}"))?;
        if self.media.iter().any(|p| p.allows(uri)) {
            Ok(())
        } else {
            Err(format!("media {uri:?} is not allowed for the tenant"))
        }
    }
}

impl TenantConfig {
    /// Parses the endpoint, context, media and variable patterns; the error names the key.
    pub fn capabilities(&self) -> Result<Capabilities, String> {
        use crate::capability::{
            dialplan::Contexts, endpoint::EndpointPattern, media::MediaPrefix,
        };
        Ok(Capabilities {
            endpoints: self
                .endpoints
                .iter()
                .map(|p| EndpointPattern::new(p).map_err(|e| format!("endpoints: {p:?}: {e}")))
                .collect::<Result<_, _>>()?,
            contexts: Contexts::new(&self.contexts).map_err(|e| format!("contexts: {e}"))?,
            media: self
                .media
                .iter()
                .map(|p| MediaPrefix::new(p).map_err(|e| format!("media: {e}")))
                .collect::<Result<_, _>>()?,
            variables: self.variables.variables()?,
        })
    }
}

impl InstancesConfig {
    pub fn mode(self) -> InstanceMode {
        match self {
            InstancesConfig::Fresh => InstanceMode::Fresh,
            InstancesConfig::Reuse => InstanceMode::Reuse { max_uses: 1000 },
        }
    }
}

/// What happens to a call whose plugin traps, times out, returns an error or is refused.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FailurePolicy {
    /// Hang up every channel of the call with this Q.850 cause.
    Hangup {
        #[serde(default = "temporary_failure")]
        cause: u8,
    },
    /// Hand the caller back to the dialplan here; the call's other channels are hung up.
    Continue {
        context: String,
        #[serde(default)]
        extension: Option<String>,
        #[serde(default)]
        priority: Option<i32>,
    },
    /// The call goes on with this plugin (relative to the config file), from the event that
    /// failed. If it fails too, the call is hung up with cause 41.
    Fallback { plugin: PathBuf },
}

fn temporary_failure() -> u8 {
    41
}

impl Default for FailurePolicy {
    /// Hang up with cause 41 (temporary failure): the caller hears the call fail at once
    /// instead of silence.
    fn default() -> Self {
        FailurePolicy::Hangup { cause: 41 }
    }
}

/// A config that could not be used: names the file and what is wrong where.
pub type ConfigError = crate::toml_error::FileError;

impl Config {
    /// The router's instance name: the configured one, or one made from the host name.
    pub fn instance_name(&self) -> String {
        if let Some(name) = &self.instance {
            return name.clone();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .unwrap_or_default();
        crate::router::call::instance_from_host(host.trim())
    }

    /// Reads and checks a config file; plugin paths become relative to its directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let mut config = crate::toml_error::load(path, Config::parse)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let invalid = |message: String| ConfigError::Invalid {
            path: path.display().to_string(),
            message,
        };
        let resolve = |key: String, p: &Path| -> Result<PathBuf, ConfigError> {
            let expanded =
                expand_env(&p.to_string_lossy()).map_err(|e| invalid(format!("{key}: {e}")))?;
            Ok(base.join(expanded))
        };
        for (name, tenant) in config.tenants.iter_mut() {
            tenant.plugin = resolve(format!("tenants.{name}.plugin"), &tenant.plugin)?;
            if let FailurePolicy::Fallback { plugin } = &mut tenant.on_failure {
                *plugin = resolve(format!("tenants.{name}.on_failure.plugin"), plugin)?;
            }
            if let Some(dir) = &mut tenant.watch {
                *dir = resolve(format!("tenants.{name}.watch"), dir)?;
                if !dir.is_dir() {
                    return Err(invalid(format!(
                        "tenants.{name}.watch: {} is not a directory (create it, or leave `watch` out)",
                        dir.display()
                    )));
                }
            }
        }
        Ok(config)
    }

    /// Parses and checks a config's text.
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config =
            toml::from_str(text).map_err(|e| crate::toml_error::describe(text, &e))?;
        config.check()?;
        Ok(config)
    }

    /// What the types cannot say: at least one server and tenant, URLs, apps unique.
    fn check(&self) -> Result<(), String> {
        if let Some(instance) = &self.instance
            && !crate::router::call::valid_instance(instance)
        {
            return Err(format!(
                "instance: expected 1-32 characters of A-Z a-z 0-9 _, got {instance:?}"
            ));
        }
        if self.servers.is_empty() {
            return Err("servers: expected at least one Asterisk server".into());
        }
        for (name, server) in &self.servers {
            if !server.url.starts_with("http://") {
                return Err(format!(
                    "servers.{name}.url: expected an http:// URL such as http://127.0.0.1:8088/ari, got {:?}",
                    server.url
                ));
            }
            if server.pool_size == 0 {
                return Err(format!("servers.{name}.pool_size: expected at least 1"));
            }
        }
        if let Some(admin) = &self.admin
            && admin.token.len() < 16
        {
            return Err("admin.token: expected at least 16 characters".into());
        }
        for (name, tenant) in &self.tenants {
            if let Some(token) = &tenant.admin_token {
                if token.len() < 16 {
                    return Err(format!(
                        "tenants.{name}.admin_token: expected at least 16 characters"
                    ));
                }
                if self.admin.as_ref().is_some_and(|a| a.token == *token)
                    || self
                        .tenants
                        .iter()
                        .any(|(other, t)| other != name && t.admin_token.as_ref() == Some(token))
                {
                    return Err(format!(
                        "tenants.{name}.admin_token: expected a token of this tenant's own"
                    ));
                }
            }
            if tenant
                .limits
                .max_new_calls_per_second
                .is_some_and(|r| r.is_nan() || r <= 0.0)
            {
                return Err(format!(
                    "tenants.{name}.limits.max_new_calls_per_second: expected above 0"
                ));
            }
            let l = &tenant.limits;
            if [
                l.max_plugin_threads,
                l.max_calls,
                l.max_channels_per_call,
                l.max_channels,
                l.max_queued_inputs,
            ]
            .contains(&Some(0))
            {
                return Err(format!(
                    "tenants.{name}.limits: max_calls, max_plugin_threads, max_channels_per_call, max_channels and max_queued_inputs must be at least 1"
                ));
            }
            if l.max_requests_per_second
                .is_some_and(|r| r.is_nan() || r < 1.0)
            {
                return Err(format!(
                    "tenants.{name}.limits.max_requests_per_second: expected at least 1"
                ));
            }
        }
        if self.tenants.is_empty() {
            return Err("tenants: expected at least one tenant".into());
        }
        if let Some(cluster) = &self.cluster {
            cluster.check()?;
            if self.store.url.is_none() || !self.store.durable {
                return Err("cluster: routers share their calls through PostgreSQL: set [store] url (and keep durable = true)".into());
            }
            for (name, tenant) in &self.tenants {
                for app in &tenant.apps {
                    if app.contains('@') {
                        return Err(format!(
                            "tenants.{name}.apps: {app:?} holds a '@', which a router sharing its calls uses to add its own name (app@router.run)"
                        ));
                    }
                    let longest = app.len() + crate::cluster::APP_SUFFIX_MAX;
                    if longest > MAX_APP_NAME_LEN {
                        return Err(format!(
                            "tenants.{name}.apps: {app:?} is too long for a router sharing its calls: it registers {app}@<instance>.<run>, up to {longest} bytes, and Asterisk takes at most {MAX_APP_NAME_LEN}"
                        ));
                    }
                }
            }
        }
        let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, tenant) in &self.tenants {
            if tenant.apps.is_empty() {
                return Err(format!(
                    "tenants.{name}.apps: expected at least one Stasis application name"
                ));
            }
            for app in &tenant.apps {
                if let Err(why) = check_app_name(app) {
                    return Err(format!("tenants.{name}.apps: {app:?} {why}"));
                }
                if let Some(other) = owner.insert(app, name) {
                    return Err(format!(
                        "tenants.{name}.apps: {app:?} already belongs to tenant {other}"
                    ));
                }
            }
            let rate = tenant.rollback.max_failure_rate;
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!(
                    "tenants.{name}.rollback.max_failure_rate: expected a share from 0 to 1, got {rate}"
                ));
            }
            if let Some(0) = tenant.limits.deadline_ms {
                return Err(format!(
                    "tenants.{name}.limits.deadline_ms: expected above 0"
                ));
            }
            settings_map(&tenant.settings).map_err(|e| format!("tenants.{name}.settings.{e}"))?;
            tenant
                .capabilities()
                .map_err(|e| format!("tenants.{name}.{e}"))?;
        }
        Ok(())
    }
}

/// The longest Stasis application name Asterisk registers: `ARI_MAX_APP_NAME_LEN` in
/// res/ari/ari_websockets.h, the 80 of a dialplan context less the 7 of `stasis-`. A longer
/// name makes the event WebSocket fail with 500 "Stasis app registration failed".
pub const MAX_APP_NAME_LEN: usize = 73;

/// Whether Asterisk would register `app` as given: it splits the `app` parameter on `,`,
/// strips blanks around each name, and refuses an empty or over-long one.
pub fn check_app_name(app: &str) -> Result<(), String> {
    if app.is_empty() {
        return Err("is empty; Asterisk refuses an empty Stasis application name".into());
    }
    if app.len() > MAX_APP_NAME_LEN {
        return Err(format!(
            "is {} bytes long; Asterisk registers Stasis application names of at most {MAX_APP_NAME_LEN}",
            app.len()
        ));
    }
    if app.contains(',') {
        return Err("holds a ','; Asterisk would read it as several applications".into());
    }
    if app.trim() != app || app.chars().any(char::is_control) {
        return Err(
            "has blanks at its ends or control characters; Asterisk would register another name"
                .into(),
        );
    }
    Ok(())
}

/// Expands `${VAR}` and `${VAR:-default}` in a path from the config (so one file serves with
/// and without `CARGO_TARGET_DIR`, say). An unset variable without a default is an error.
pub fn expand_env(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("{text:?}: `${{` without its `}}`"))?;
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        match (std::env::var(name).ok().filter(|v| !v.is_empty()), default) {
            (Some(value), _) => out.push_str(&value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => {
                return Err(format!("{text:?}: environment variable {name} is not set"));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A settings table as the flat `key → text` map plugins read: nested tables become dotted
/// keys, numbers and booleans their text. Arrays are refused (a setting is one value).
pub fn settings_map(table: &toml::Table) -> Result<BTreeMap<String, String>, String> {
    fn walk(
        prefix: &str,
        table: &toml::Table,
        out: &mut BTreeMap<String, String>,
    ) -> Result<(), String> {
        for (key, value) in table {
            let key = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            let text = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Table(t) => {
                    walk(&key, t, out)?;
                    continue;
                }
                other => {
                    return Err(format!(
                        "{key}: expected a string, number, boolean or table, got {}",
                        other.type_str()
                    ));
                }
            };
            out.insert(key, text);
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk("", table, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::check_app_name;

    #[test]
    fn app_names_are_checked_as_asterisk_registers_them() {
        assert_eq!(check_app_name("acme"), Ok(()));
        assert_eq!(check_app_name(&"a".repeat(73)), Ok(()));
        assert_eq!(
            check_app_name(&"a".repeat(74)),
            Err(
                "is 74 bytes long; Asterisk registers Stasis application names of at most 73"
                    .into()
            )
        );
        assert_eq!(
            check_app_name(""),
            Err("is empty; Asterisk refuses an empty Stasis application name".into())
        );
        assert_eq!(
            check_app_name("a,b"),
            Err("holds a ','; Asterisk would read it as several applications".into())
        );
        for name in [" acme", "acme\t", "ac\nme"] {
            assert_eq!(
                check_app_name(name),
                Err("has blanks at its ends or control characters; Asterisk would register another name".into()),
                "{name:?}"
            );
        }
    }
}
