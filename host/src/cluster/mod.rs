//! Scale-out: several routers share the calls of the same Asterisk servers.
//!
//! New calls are spread by Asterisk itself: the dialplan runs `StasisBroadcast()`, every
//! router's app hears the `CallBroadcast`, and the first `POST /events/claim` wins the call
//! ([`claim`]). Each router has apps of its own for that, `<tenant app>@<instance>.<run>`: the
//! run part is new at every start, so that a router that comes back never takes an app another
//! router still serves its old calls on.
//!
//! Calls are kept in a shared PostgreSQL store, and each belongs to one router at a time: the
//! router whose name is in its row, which holds that name's advisory lock ([`lease`]). When a
//! router dies its lock goes; a survivor takes the lock, moves the dead router's rows to
//! itself, connects with the dead router's apps (Asterisk then sends their events to it, and
//! an `ApplicationReplaced` to any socket of the dead one) and carries the calls on as a
//! restart would. A router that could not renew its lease sends nothing that changes a call
//! ([`Fence`]) and stops. docs/decisions.md ("Scale-out") walks through the failure cases.

pub mod claim;
pub mod fence;
pub mod lease;

pub use fence::Fence;
pub use lease::{Lease, LeaseNews};

use serde::Deserialize;
use std::time::Duration;

/// The `[cluster]` section: present when this router shares its calls with others.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// How long a router that stopped answering the database keeps its calls, in ms (default
    /// 4000): PostgreSQL ends its session after this long idle, its lock goes, and a survivor
    /// takes its calls within one more `heartbeat_ms`. The router itself stops changing calls
    /// a second before that.
    #[serde(default = "default_lease_ms")]
    pub lease_ms: u64,
    /// How often a router renews its lease and looks for routers that died (default 500).
    #[serde(default = "default_heartbeat_ms")]
    pub heartbeat_ms: u64,
    /// A router waits this long per call it carries before claiming a broadcast call, in
    /// microseconds (default 100), so that the least loaded router tends to win.
    #[serde(default = "default_claim_delay_per_call_us")]
    pub claim_delay_per_call_us: u64,
    /// The longest wait before a claim, in ms (default 200; StasisBroadcast's own timeout
    /// must be well above it).
    #[serde(default = "default_claim_delay_max_ms")]
    pub claim_delay_max_ms: u64,
    /// How long a starting router waits for its name's lock while a survivor is taking over
    /// its calls, in ms (default 30000).
    #[serde(default = "default_join_wait_ms")]
    pub join_wait_ms: u64,
}

fn default_lease_ms() -> u64 {
    4000
}
fn default_heartbeat_ms() -> u64 {
    500
}
fn default_claim_delay_per_call_us() -> u64 {
    100
}
fn default_claim_delay_max_ms() -> u64 {
    200
}
fn default_join_wait_ms() -> u64 {
    30_000
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            lease_ms: default_lease_ms(),
            heartbeat_ms: default_heartbeat_ms(),
            claim_delay_per_call_us: default_claim_delay_per_call_us(),
            claim_delay_max_ms: default_claim_delay_max_ms(),
            join_wait_ms: default_join_wait_ms(),
        }
    }
}

/// How much sooner than the database a router stops trusting its own lease: a heartbeat's
/// answer and a request already on its way both take time.
pub const LEASE_MARGIN: Duration = Duration::from_millis(1000);

impl ClusterConfig {
    /// What the types cannot say.
    pub fn check(&self) -> Result<(), String> {
        if self.lease_ms < 2000 {
            return Err(format!(
                "cluster.lease_ms: expected at least 2000 (a lease shorter than that ends on an ordinary pause), got {}",
                self.lease_ms
            ));
        }
        if self.heartbeat_ms == 0 || self.heartbeat_ms * 3 > self.lease_ms {
            return Err(format!(
                "cluster.heartbeat_ms: expected above 0 and at most a third of lease_ms ({}), got {}",
                self.lease_ms / 3,
                self.heartbeat_ms
            ));
        }
        Ok(())
    }

    /// How long the router trusts its lease after a heartbeat was sent.
    pub fn trusted_for(&self) -> Duration {
        Duration::from_millis(self.lease_ms).saturating_sub(LEASE_MARGIN)
    }
}

/// The app this router registers for the tenant app `app`: `<app>@<instance>.<run>`.
pub fn app_name(app: &str, instance: &str, run: u32) -> String {
    format!("{app}@{instance}.{run:06x}")
}

/// The longest app name [`app_name`] adds to a tenant app: `@`, the instance (at most 32),
/// `.` and six hex digits.
pub const APP_SUFFIX_MAX: usize = 1 + 32 + 1 + 6;

/// The tenant app a router's app serves (`acme@r1.0a1b2c` → `acme`); a plain app is itself.
pub fn tenant_app(app: &str) -> &str {
    app.split_once('@').map_or(app, |(base, _)| base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_routers_app_names_its_tenant_app_instance_and_run() {
        let name = app_name("acme", "r1", 0x0a1b2c);
        assert_eq!(name, "acme@r1.0a1b2c");
        assert_eq!(tenant_app(&name), "acme");
        assert_eq!(tenant_app("acme"), "acme");
    }

    #[test]
    fn a_lease_shorter_than_three_heartbeats_is_refused() {
        let ok = ClusterConfig::default();
        assert_eq!(ok.check(), Ok(()));
        assert_eq!(ok.trusted_for(), Duration::from_millis(3000));
        let short = ClusterConfig {
            heartbeat_ms: 2000,
            ..ClusterConfig::default()
        };
        assert_eq!(
            short.check(),
            Err("cluster.heartbeat_ms: expected above 0 and at most a third of lease_ms (1333), got 2000".into())
        );
    }
}
