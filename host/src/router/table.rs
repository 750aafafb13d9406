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
    /// Listed channels with no call yet, watched for a while ([`super::stranded`]): whether a
    /// call was opened for each since. A call can open and end within that while; without
    /// this it would look stranded at the end of it. Holds only channels of a listing.
    watched: Mutex<HashMap<String, bool>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl CallTable {
    pub fn insert(&self, call: &str, entry: CallEntry) {
        let key = caller_key(&entry.server, &entry.caller);
        if let Some(opened) = lock(&self.watched).get_mut(&key) {
            *opened = true;
        }
        lock(&self.callers).insert(key, call.to_string());
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

    /// Starts watching channels of `server` that have no call: [`CallTable::unclaimed`] later
    /// tells which still never had one.
    pub fn watch(&self, server: &str, channels: &[String]) {
        let mut watched = lock(&self.watched);
        for channel in channels {
            watched.entry(caller_key(server, channel)).or_insert(false);
        }
    }

    /// Of the watched `channels`, those for which no call was opened since [`CallTable::watch`]
    /// and none is live; stops watching them all.
    pub fn unclaimed(&self, server: &str, channels: Vec<String>) -> Vec<String> {
        let mut watched = lock(&self.watched);
        channels
            .into_iter()
            .filter(|channel| {
                let key = caller_key(server, channel);
                let opened = watched.remove(&key).unwrap_or(false);
                !opened && !lock(&self.callers).contains_key(&key)
            })
            .collect()
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

#[cfg(test)]
mod tests {
    use super::{CallEntry, CallTable};

    fn entry(caller: &str) -> CallEntry {
        CallEntry {
            queue: crate::router::queue::bounded(4).0,
            server: "pbx1".into(),
            tenant: "acme".into(),
            caller: caller.into(),
        }
    }

    /// A listed channel whose call opened and ended while it was watched is no stray; one that
    /// never had a call is; one of another server is not confused with it.
    #[test]
    fn a_call_that_came_and_went_while_watched_is_not_unclaimed() {
        let table = CallTable::default();
        let listed = vec!["1.1".to_string(), "1.2".to_string(), "1.3".to_string()];
        table.watch("pbx1", &listed);
        table.insert("c1", entry("1.1"));
        table.remove("c1");
        table.insert("c3", entry("1.3"));
        let mut elsewhere = entry("1.2");
        elsewhere.server = "pbx2".into();
        table.insert("c2", elsewhere);
        assert_eq!(
            table.unclaimed("pbx1", listed.clone()),
            vec!["1.2".to_string()]
        );
        // Watching ends with the answer: nothing is held for those channels any more.
        assert!(table.watched.lock().expect("lock").is_empty());
    }
}
