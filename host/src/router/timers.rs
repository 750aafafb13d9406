//! Timers a plugin starts (`start-timer`): kept by the host, per call, firing as `timer`
//! events into the call's queue. Restarting a running name replaces it; all die with the call.

use super::queue::CallQueue;
use super::session::CallInput;
use std::collections::HashMap;
use std::time::Duration;
use tokio::task::JoinHandle;

/// A call's running timers.
#[derive(Default)]
pub struct Timers {
    running: HashMap<String, JoinHandle<()>>,
}

impl Timers {
    /// Starts (or restarts) `name`; after `ms` it sends a `timer` input on `queue`. The
    /// call's budget has checked how many run and how short they are.
    pub fn start(&mut self, name: &str, ms: u32, queue: CallQueue) {
        self.cancel(name);
        let owned = name.to_string();
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
            queue.send(CallInput::Timer(owned));
        });
        self.running.insert(name.to_string(), task);
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
        if let Some(task) = self.running.remove(name) {
            task.abort();
        }
    }

    /// A timer fired: it is no longer running.
    pub fn fired(&mut self, name: &str) {
        self.running.remove(name);
    }

    /// Cancels every timer.
    pub fn clear(&mut self) {
        for (_, task) in self.running.drain() {
            task.abort();
        }
    }
}

impl Drop for Timers {
    fn drop(&mut self) {
        self.clear();
    }
}
