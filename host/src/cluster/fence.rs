//! The fence: a router sends Asterisk nothing that changes a call unless its lease is good.
//!
//! The lease thread moves the fence's deadline on after every heartbeat the database answered
//! (the deadline is the heartbeat's send time plus the trusted part of the lease, so it always
//! ends before the database could give the lease away). A request that finds the deadline
//! passed waits for the next heartbeat; once the lease is lost for good (the session that held
//! the lock is gone, so another router may hold it now), every such request fails. A router
//! paused past its lease (SIGSTOP, a stalled VM) therefore wakes to a passed deadline and
//! sends nothing for the calls a survivor took meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Shared between the lease thread, which renews it, and every REST client, which checks it.
#[derive(Clone, Debug)]
pub struct Fence {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    base: Instant,
    /// Nanoseconds after `base` until which the lease is trusted.
    until_ns: AtomicU64,
    lost: AtomicBool,
    changed: Notify,
}

/// Why a request may not go out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fenced {
    #[error("this router lost its lease in the call store: another router may carry its calls now")]
    Lost,
    #[error("this router's lease in the call store was not renewed within {0:?}")]
    NotRenewed(Duration),
}

impl Fence {
    /// A fence trusted until `until`.
    pub fn new(until: Instant) -> Fence {
        let fence = Fence {
            inner: Arc::new(Inner {
                base: Instant::now(),
                until_ns: AtomicU64::new(0),
                lost: AtomicBool::new(false),
                changed: Notify::new(),
            }),
        };
        fence.renew(until);
        fence
    }

    /// The lease is good until `until` (never moved back).
    pub fn renew(&self, until: Instant) {
        let ns = until
            .saturating_duration_since(self.inner.base)
            .as_nanos()
            .min(u64::MAX as u128) as u64;
        self.inner.until_ns.fetch_max(ns, Ordering::AcqRel);
        self.inner.changed.notify_waiters();
    }

    /// The lease is gone for good.
    pub fn lose(&self) {
        self.inner.lost.store(true, Ordering::Release);
        self.inner.changed.notify_waiters();
    }

    /// Whether the lease is gone for good.
    pub fn is_lost(&self) -> bool {
        self.inner.lost.load(Ordering::Acquire)
    }

    /// Whether a request may go out now.
    pub fn holds(&self) -> bool {
        !self.is_lost() && self.inner.base.elapsed().as_nanos() < self.until() as u128
    }

    fn until(&self) -> u64 {
        self.inner.until_ns.load(Ordering::Acquire)
    }

    /// Waits, for at most `bound`, until a request may go out.
    pub async fn hold(&self, bound: Duration) -> Result<(), Fenced> {
        let began = Instant::now();
        loop {
            let changed = self.inner.changed.notified();
            if self.is_lost() {
                return Err(Fenced::Lost);
            }
            if self.holds() {
                return Ok(());
            }
            let Some(left) = bound.checked_sub(began.elapsed()) else {
                return Err(Fenced::NotRenewed(bound));
            };
            let _ = tokio::time::timeout(left, changed).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_waits_for_a_late_heartbeat_and_fails_once_the_lease_is_lost() {
        let fence = Fence::new(Instant::now() + Duration::from_secs(60));
        assert_eq!(fence.hold(Duration::ZERO).await, Ok(()));

        let lapsed = Fence::new(Instant::now());
        assert!(!lapsed.holds());
        let renewer = lapsed.clone();
        let waiting = tokio::spawn(async move { renewer.hold(Duration::from_secs(60)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        lapsed.renew(Instant::now() + Duration::from_secs(60));
        assert_eq!(waiting.await.expect("join"), Ok(()));

        let gone = Fence::new(Instant::now());
        let loser = gone.clone();
        let waiting = tokio::spawn(async move { loser.hold(Duration::from_secs(60)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        gone.lose();
        assert_eq!(waiting.await.expect("join"), Err(Fenced::Lost));
        gone.renew(Instant::now() + Duration::from_secs(60));
        assert!(!gone.holds(), "a lost lease is not renewed");
        assert_eq!(
            Fence::new(Instant::now())
                .hold(Duration::from_millis(10))
                .await,
            Err(Fenced::NotRenewed(Duration::from_millis(10)))
        );
    }
}
