//! Timers a plugin starts (`start-timer`): kept by the host, per call, firing as `timer`
//! events into the call's queue. Restarting a running name replaces it; all die with the call.

use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A call's running timers.
#[derive(Default)]
pub struct Timers {
    running: HashMap<String, JoinHandle<()>>,
}

impl Timers {
    /// Starts (or restarts) `name`; after `ms` it sends `fire(name)` on `queue`.
    pub fn start<T: Send + 'static>(
        &mut self,
        name: &str,
        ms: u32,
        queue: mpsc::UnboundedSender<T>,
        fire: impl FnOnce(String) -> T + Send + 'static,
    ) {
        self.cancel(name);
        let owned = name.to_string();
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
            let _ = queue.send(fire(owned));
        });
        self.running.insert(name.to_string(), task);
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
