//! What one call may spend: channels, timers, REST requests per second, and its share of the
//! tenant's channels in progress. A plugin once grew the router to gigabytes with 1,000 timers
//! per event, created 2,400 legs in one call in 7 s, and drove ~600 REST requests/s from one
//! call with a 0 ms timer loop. A command over a limit is not sent: it fails back to the plugin
//! as `command-failed` with the reason, and a call that keeps hitting limits gets the failure
//! policy (the session counts [`Budget::hits`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The per-call limits of a tenant (`[tenants.x.limits]`).
#[derive(Debug, Clone, PartialEq)]
pub struct CallLimits {
    /// Channels one call holds at once, the caller included.
    pub max_channels: usize,
    /// Timers one call runs at once.
    pub max_timers: usize,
    /// The shortest timer a plugin may start, in ms.
    pub min_timer_ms: u32,
    /// REST requests one call may send per second (a burst of twice as many).
    pub requests_per_second: f64,
    /// Inputs waiting in one call's queue.
    pub max_queued_inputs: usize,
}

impl Default for CallLimits {
    /// Room for a hunt group ringing a dozen agents at once, a few prompts and timeouts.
    fn default() -> Self {
        CallLimits {
            max_channels: 16,
            max_timers: 16,
            min_timer_ms: 10,
            requests_per_second: 50.0,
            max_queued_inputs: super::queue::DEFAULT_BOUND,
        }
    }
}

/// A limit a command ran into; its text goes to the plugin and the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("over the limit of {0}")]
pub struct OverLimit(pub String);

/// One call's budget.
#[derive(Debug)]
pub struct Budget {
    limits: CallLimits,
    /// REST tokens left, and when they were last refilled.
    tokens: f64,
    refilled: Instant,
    /// The tenant's channels in progress, its limit, and how many of them are this call's.
    tenant_channels: Arc<AtomicUsize>,
    max_tenant_channels: usize,
    counted: usize,
    /// Limits this call ran into so far.
    pub hits: u32,
}

impl Budget {
    /// A call's budget under `limits`; its created channels count in `tenant_channels`, which
    /// may hold at most `max_tenant_channels`.
    pub fn new(
        limits: CallLimits,
        tenant_channels: Arc<AtomicUsize>,
        max_tenant_channels: usize,
    ) -> Self {
        Budget {
            tokens: limits.requests_per_second * 2.0,
            limits,
            refilled: Instant::now(),
            tenant_channels,
            max_tenant_channels,
            counted: 0,
            hits: 0,
        }
    }

    /// The limits this budget applies.
    pub fn limits(&self) -> &CallLimits {
        &self.limits
    }

    fn hit(&mut self, what: String) -> OverLimit {
        self.hits += 1;
        OverLimit(what)
    }

    /// Takes one REST request from the call's rate.
    pub fn request(&mut self) -> Result<(), OverLimit> {
        self.request_at(Instant::now())
    }

    /// [`Budget::request`] at `now`.
    fn request_at(&mut self, now: Instant) -> Result<(), OverLimit> {
        let rate = self.limits.requests_per_second;
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(rate * 2.0);
        self.refilled = self.refilled.max(now);
        if self.tokens < 1.0 {
            return Err(self.hit(format!("{rate} REST requests per second per call")));
        }
        self.tokens -= 1.0;
        Ok(())
    }

    /// Takes a channel for a create, in a call that holds `channels` now.
    pub fn create(&mut self, channels: usize) -> Result<(), OverLimit> {
        if channels >= self.limits.max_channels {
            let max = self.limits.max_channels;
            return Err(self.hit(format!("{max} channels per call")));
        }
        let taken = self.tenant_channels.fetch_add(1, Ordering::AcqRel);
        if taken >= self.max_tenant_channels {
            self.tenant_channels.fetch_sub(1, Ordering::AcqRel);
            let max = self.max_tenant_channels;
            return Err(self.hit(format!("{max} created channels in progress per tenant")));
        }
        self.counted += 1;
        Ok(())
    }

    /// Checks a start-timer of `ms` in a call running `running` timers (`restart`: the name
    /// is one of them, so the count does not grow).
    pub fn timer(&mut self, running: usize, restart: bool, ms: u32) -> Result<(), OverLimit> {
        if ms < self.limits.min_timer_ms {
            let min = self.limits.min_timer_ms;
            return Err(self.hit(format!("timers of at least {min} ms")));
        }
        if !restart && running >= self.limits.max_timers {
            let max = self.limits.max_timers;
            return Err(self.hit(format!("{max} timers per call")));
        }
        Ok(())
    }

    /// The call now holds `created` channels it created: what it counts against the tenant
    /// follows (a channel that hung up frees its place).
    pub fn sync(&mut self, created: usize) {
        if created < self.counted {
            self.tenant_channels
                .fetch_sub(self.counted - created, Ordering::AcqRel);
            self.counted = created;
        }
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        self.tenant_channels
            .fetch_sub(self.counted, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_count_per_call_and_per_tenant() {
        let tenant = Arc::new(AtomicUsize::new(0));
        let limits = CallLimits {
            max_channels: 3,
            ..CallLimits::default()
        };
        let mut a = Budget::new(limits.clone(), tenant.clone(), 3);
        let mut b = Budget::new(limits, tenant.clone(), 3);
        assert_eq!(a.create(1), Ok(()));
        assert_eq!(a.create(2), Ok(()));
        assert_eq!(a.create(3), Err(OverLimit("3 channels per call".into())));
        assert_eq!(b.create(1), Ok(()));
        assert_eq!(
            b.create(2),
            Err(OverLimit(
                "3 created channels in progress per tenant".into()
            ))
        );
        assert_eq!(tenant.load(Ordering::Acquire), 3);
        a.sync(1);
        assert_eq!(tenant.load(Ordering::Acquire), 2);
        assert_eq!(b.create(2), Ok(()));
        drop(a);
        drop(b);
        assert_eq!(tenant.load(Ordering::Acquire), 0);
    }

    #[test]
    fn timers_and_requests() {
        let mut budget = Budget::new(
            CallLimits {
                max_timers: 2,
                min_timer_ms: 10,
                requests_per_second: 5.0,
                ..CallLimits::default()
            },
            Arc::new(AtomicUsize::new(0)),
            10,
        );
        assert!(budget.timer(0, false, 9).is_err());
        assert_eq!(budget.timer(1, false, 10), Ok(()));
        assert!(budget.timer(2, false, 10).is_err());
        assert_eq!(budget.timer(2, true, 10), Ok(()));
        // A burst of twice the rate, then nothing until tokens come back: one per 200 ms.
        let t0 = budget.refilled;
        let sent = (0..100).filter(|_| budget.request_at(t0).is_ok()).count();
        assert_eq!(sent, 10);
        assert_eq!(budget.hits, 2 + 90);
        let later = t0 + std::time::Duration::from_millis(400);
        let sent = (0..100)
            .filter(|_| budget.request_at(later).is_ok())
            .count();
        assert_eq!(sent, 2);
    }
}
