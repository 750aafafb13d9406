//! Claiming broadcast calls. StasisBroadcast offers a new call to every router's app at once
//! and the first claim wins; a router waits before claiming in proportion to the calls it
//! carries, so the least loaded one tends to be first and the calls spread evenly without the
//! routers telling each other their load. A router over a tenant's limits does not claim at
//! all: the call goes to one with room.

use super::ClusterConfig;
use crate::ari::Rest;
use std::time::Duration;

/// How long a router carrying `calls` calls waits before it claims.
pub fn delay(calls: usize, config: &ClusterConfig) -> Duration {
    let per_call = Duration::from_micros(config.claim_delay_per_call_us);
    let most = Duration::from_millis(config.claim_delay_max_ms);
    per_call
        .saturating_mul(u32::try_from(calls).unwrap_or(u32::MAX))
        .min(most)
}

/// Claims channel `channel` for `app` after `wait`. A lost race is the normal outcome for
/// every router but one, and is not logged.
pub fn spawn(rest: Rest, channel: String, app: String, wait: Duration) {
    tokio::spawn(async move {
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        match rest.claim(&channel, &app).await {
            Ok(true) => tracing::debug!(%channel, %app, "broadcast call claimed"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(%channel, %app, error = %crate::log_text::escaped(&e), "claim failed")
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_grows_with_the_calls_carried_up_to_its_cap() {
        let config = ClusterConfig::default();
        assert_eq!(delay(0, &config), Duration::ZERO);
        assert_eq!(delay(300, &config), Duration::from_millis(30));
        assert_eq!(delay(1_000_000, &config), Duration::from_millis(200));
    }
}
