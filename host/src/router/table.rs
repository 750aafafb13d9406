//! The live calls: by call id, and by the server and Asterisk id of each call's inbound
//! channel (the only channel whose id the router did not choose; Asterisk's ids are unique
//! per server only). Channels and bridges the router made carry
//! their call id in their own id, so they need no entry.

use super::queue::CallQueue;
use std::collections::HashMap;
use std::sync::Mutex;

/// A live call's entry.
#[derive(Debug, Clone)]
pub struct CallEntry {
    pub queue: CallQueue,
    pub server: String,
    pub tenant: String,
    pub caller: String,
}

/// The call table, shared by the dispatcher and the calls' tasks.
#[derive(Debug, Default)]
pub struct CallTable {
    calls: Mutex<HashMap<String, CallEntry>>,
    callers: Mutex<HashMap<String, String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl CallTable {
    pub fn insert(&self, call: &str, entry: CallEntry) {
        lock(&self.callers).insert(caller_key(&entry.server, &entry.caller), call.to_string());
        lock(&self.calls).insert(call.to_string(), entry);
    }

    pub fn get(&self, call: &str) -> Option<CallEntry> {
        lock(&self.calls).get(call).cloned()
    }

    /// The call whose inbound channel is `channel` on `server`.
    pub fn by_caller(&self, server: &str, channel: &str) -> Option<String> {
        lock(&self.callers)
            .get(&caller_key(server, channel))
            .cloned()
    }

    pub fn remove(&self, call: &str) {
        if let Some(entry) = lock(&self.calls).remove(call) {
            lock(&self.callers).remove(&caller_key(&entry.server, &entry.caller));
        }
    }

    /// The live calls' ids and entries.
    pub fn calls(&self) -> Vec<(String, CallEntry)> {
        lock(&self.calls)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub fn len(&self) -> usize {
        lock(&self.calls).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn caller_key(server: &str, channel: &str) -> String {
    format!("{server}\u{0}{channel}")
}
