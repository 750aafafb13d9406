//! Timers a plugin starts (`start-timer`): kept by the host, per call, firing as `timer`
//! events into the call's queue. Restarting a running name replaces it; all die with the call.
//! Each keeps its deadline on the wall clock, which is what the call store keeps: a restarted
//! router starts them again for what is left (and fires those already due at once).

use super::queue::CallQueue;
use super::session::CallInput;
use std::collections::HashMap;
use std::time::Duration;
use tokio::task::JoinHandle;

/// A call's running timers.
#[derive(Default)]
pub struct Timers {
    /// Each running timer's task and deadline (ms since the Unix epoch).
    running: HashMap<String, (JoinHandle<()>, i64)>,
}

impl Timers {
    /// Starts (or restarts) `name`; after `ms` it sends a `timer` input on `queue`. The
    /// call's budget has checked how many run and how short they are.
    pub fn start(&mut self, name: &str, ms: u32, queue: CallQueue) {
        let deadline = crate::store::now_ms().saturating_add(i64::from(ms));
        self.start_until(name, deadline, queue);
    }

    /// Starts (or restarts) `name` to fire at `deadline` (ms since the Unix epoch; at once
    /// when it has passed).
    pub fn start_until(&mut self, name: &str, deadline: i64, queue: CallQueue) {
        self.cancel(name);
        let owned = name.to_string();
        let left = u64::try_from(deadline.saturating_sub(crate::store::now_ms())).unwrap_or(0);
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(left)).await;
            queue.send(CallInput::Timer(owned));
        });
        self.running.insert(name.to_string(), (task, deadline));
    }

    /// Each running timer's deadline (ms since the Unix epoch).
    pub fn deadlines(&self) -> std::collections::BTreeMap<String, i64> {
        self.running
            .iter()
            .map(|(name, (_, deadline))| (name.clone(), *deadline))
            .collect()
    }

    /// How many timers are running.
    pub fn len(&self) -> usize {
        self.running.len()
    }

    /// Whether none is running.
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// Whether `name` is running.
    pub fn is_running(&self, name: &str) -> bool {
        self.running.contains_key(name)
    }

    /// Cancels `name`; nothing happens when it is not running.
    pub fn cancel(&mut self, name: &str) {
        if let Some((task, _)) = self.running.remove(name) {
            task.abort();
        }
    }

    /// A timer fired: it is no longer running.
    pub fn fired(&mut self, name: &str) {
        self.running.remove(name);
    }

    /// Cancels every timer.
    pub fn clear(&mut self) {
        for (_, (task, _)) in self.running.drain() {
            task.abort();
        }
    }
}

impl Drop for Timers {
    fn drop(&mut self) {
        self.clear();
    }
}
