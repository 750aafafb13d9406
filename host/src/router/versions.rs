//! A tenant's plugin versions: which one is live, which ones calls still hold, and the history
//! to roll back to. A version is a component's content hash plus an optional label.
//!
//! New calls take the live version (one atomic load); by default a call keeps the version it
//! started on until it ends. A version that is neither live nor held by a call drops its
//! compiled plugin (freeing its instances and code) but stays in the history with its bytes,
//! so a rollback reloads it (from the compiled-code cache: well under a millisecond).

use crate::runtime::{LoadError, Plugin, Runtime};
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// How many versions a tenant keeps to roll back to (the live one and those holding calls
/// are always kept).
pub const HISTORY: usize = 16;

/// The bytes of the components a tenant's history keeps (for rollback): sixteen kept
/// 60 MB versions once pinned ~1 GB. Past this, the oldest versions no call holds are
/// forgotten; the live one and those calls hold always stay.
pub const MAX_KEPT_BYTES: usize = 256 << 20;

/// One version of a tenant's plugin.
#[derive(Debug)]
pub struct Version {
    /// The component's sha256, hex.
    pub hash: String,
    pub label: Option<String>,
    pub bytes: Arc<[u8]>,
    pub loaded_at: SystemTime,
    /// The compiled plugin while the version is live or held by calls.
    plugin: Mutex<Option<Arc<Plugin>>>,
    /// Calls holding this version now.
    pub calls: AtomicU64,
    /// Calls that started on this version, and those of them in which the plugin failed.
    pub served: AtomicU64,
    pub failed_calls: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Version {
    pub fn new(plugin: Plugin, bytes: Arc<[u8]>, label: Option<String>) -> Arc<Version> {
        Arc::new(Version {
            hash: plugin.info().hash.clone(),
            label,
            bytes,
            loaded_at: SystemTime::now(),
            plugin: Mutex::new(Some(Arc::new(plugin))),
            calls: AtomicU64::new(0),
            served: AtomicU64::new(0),
            failed_calls: AtomicU64::new(0),
        })
    }

    /// A version read back from the call store: its bytes are kept, its plugin is compiled
    /// when a call or a rollback needs it.
    pub fn kept(
        hash: String,
        label: Option<String>,
        bytes: Arc<[u8]>,
        loaded_at: SystemTime,
    ) -> Arc<Version> {
        Arc::new(Version {
            hash,
            label,
            bytes,
            loaded_at,
            plugin: Mutex::new(None),
            calls: AtomicU64::new(0),
            served: AtomicU64::new(0),
            failed_calls: AtomicU64::new(0),
        })
    }

    /// The compiled plugin, if loaded.
    pub fn plugin(&self) -> Option<Arc<Plugin>> {
        lock(&self.plugin).clone()
    }

    /// Whether the compiled plugin is in memory.
    pub fn loaded(&self) -> bool {
        lock(&self.plugin).is_some()
    }

    /// Loads the plugin again (after it was freed), from the code cache when possible.
    pub fn reload(&self, runtime: &Runtime, name: &str) -> Result<Arc<Plugin>, LoadError> {
        let mut slot = lock(&self.plugin);
        if let Some(p) = slot.as_ref() {
            return Ok(p.clone());
        }
        let plugin = Arc::new(runtime.load(name, &self.bytes)?);
        *slot = Some(plugin.clone());
        Ok(plugin)
    }

    fn free(&self) {
        lock(&self.plugin).take();
    }

    /// `label` if it has one, else the first 12 hex digits of the hash.
    pub fn name(&self) -> String {
        self.label
            .clone()
            .unwrap_or_else(|| self.hash.chars().take(12).collect())
    }

    /// Whether `key` names this version: its label, its hash, or a prefix of the hash of at
    /// least 6 digits.
    pub fn matches(&self, key: &str) -> bool {
        self.label.as_deref() == Some(key) || (key.len() >= 6 && self.hash.starts_with(key))
    }
}

/// A tenant's versions.
#[derive(Debug)]
pub struct Versions {
    live: ArcSwap<Version>,
    /// Newest last; always holds the live version.
    history: Mutex<Vec<Arc<Version>>>,
    /// Why the last automatic rollback happened, for the admin API.
    last_rollback: Mutex<Option<String>>,
}

impl Versions {
    pub fn new(first: Arc<Version>) -> Versions {
        Versions {
            live: ArcSwap::from(first.clone()),
            history: Mutex::new(vec![first]),
            last_rollback: Mutex::new(None),
        }
    }

    /// The live version: what new calls start on.
    pub fn live(&self) -> Arc<Version> {
        self.live.load_full()
    }

    /// Every kept version, oldest first.
    pub fn history(&self) -> Vec<Arc<Version>> {
        lock(&self.history).clone()
    }

    /// Versions a restarted router read back from the call store, oldest first: they join
    /// the history before the live one (a version with the live one's hash is the live one),
    /// within the history's bounds.
    pub fn remember(&self, older: Vec<Arc<Version>>) {
        let live = self.live();
        let mut history = lock(&self.history);
        let mut restored: Vec<Arc<Version>> = older
            .into_iter()
            .filter(|v| v.hash != live.hash && !history.iter().any(|h| h.hash == v.hash))
            .collect();
        let room = HISTORY.saturating_sub(history.len());
        if restored.len() > room {
            restored.drain(..restored.len() - room);
        }
        let mut bytes: usize = history.iter().map(|v| v.bytes.len()).sum();
        restored.retain(|v| {
            bytes += v.bytes.len();
            bytes <= MAX_KEPT_BYTES
        });
        restored.append(&mut history);
        *history = restored;
    }

    /// A restored call holds the version with `hash` (compiled again if it was freed), as it
    /// did before the restart. Err says why it cannot.
    pub fn hold_kept(
        &self,
        hash: &str,
        runtime: &Runtime,
        tenant: &str,
    ) -> Result<(Arc<Version>, Arc<Plugin>), String> {
        let version = self
            .find(hash)
            .ok_or_else(|| format!("version {} is no longer kept", &hash[..hash.len().min(12)]))?;
        let plugin = version
            .reload(runtime, tenant)
            .map_err(|e| format!("version {} cannot be loaded: {e}", version.name()))?;
        version.calls.fetch_add(1, Ordering::AcqRel);
        Ok((version, plugin))
    }

    /// The kept version with this content hash.
    pub fn find(&self, hash: &str) -> Option<Arc<Version>> {
        lock(&self.history).iter().find(|v| v.hash == hash).cloned()
    }

    pub fn last_rollback(&self) -> Option<String> {
        lock(&self.last_rollback).clone()
    }

    /// Makes `version` live (it must be loaded). A version with the same hash already kept is
    /// replaced in the history by this one. Returns the version that was live.
    pub fn install(&self, version: Arc<Version>) -> Arc<Version> {
        let previous = self.live.swap(version.clone());
        let mut history = lock(&self.history);
        history.retain(|v| v.hash != version.hash || Arc::ptr_eq(v, &version));
        if !history.iter().any(|v| Arc::ptr_eq(v, &version)) {
            history.push(version);
        }
        // Forget the oldest idle versions beyond the history's size, or while the kept
        // components' bytes (counted per tenant) are over their bound.
        let kept = |h: &Vec<Arc<Version>>| h.iter().map(|v| v.bytes.len()).sum::<usize>();
        while history.len() > HISTORY || kept(&history) > MAX_KEPT_BYTES {
            let live = self.live.load();
            let Some(i) = history
                .iter()
                .position(|v| !Arc::ptr_eq(v, &live) && v.calls.load(Ordering::Acquire) == 0)
            else {
                break;
            };
            history.remove(i);
        }
        drop(history);
        self.release_if_idle(&previous);
        previous
    }

    /// Makes the kept version named `key` (label or hash) live again, reloading it if it
    /// was freed. Returns it.
    pub fn rollback(
        &self,
        key: &str,
        runtime: &Runtime,
        tenant: &str,
    ) -> Result<Arc<Version>, String> {
        let found = lock(&self.history)
            .iter()
            .rev()
            .find(|v| v.matches(key))
            .cloned();
        let version = found.ok_or_else(|| format!("no kept version named {key:?}"))?;
        version
            .reload(runtime, tenant)
            .map_err(|e| format!("version {key:?} cannot be loaded again: {e}"))?;
        self.install(version.clone());
        Ok(version)
    }

    /// Rolls back on its own: `from` failed too often. Goes to the newest other kept version.
    pub fn auto_rollback(
        &self,
        from: &Arc<Version>,
        reason: String,
        runtime: &Runtime,
        tenant: &str,
    ) -> Option<Arc<Version>> {
        if !Arc::ptr_eq(&self.live(), from) {
            return None; // already replaced
        }
        let target = lock(&self.history)
            .iter()
            .rev()
            .find(|v| !Arc::ptr_eq(v, from))
            .cloned()?;
        target.reload(runtime, tenant).ok()?;
        self.install(target.clone());
        *lock(&self.last_rollback) = Some(reason);
        Some(target)
    }

    /// A call starts on the live version: it holds it until [`Versions::release`]. Returns
    /// the version, its plugin, and the call's rank among the calls the version served.
    pub fn hold(&self) -> (Arc<Version>, Arc<Plugin>, u64) {
        loop {
            let version = self.live();
            version.calls.fetch_add(1, Ordering::AcqRel);
            // A swap between the load and the count could have freed it: take the new one.
            if let Some(plugin) = version.plugin() {
                let rank = version.served.fetch_add(1, Ordering::AcqRel) + 1;
                return (version, plugin, rank);
            }
            version.calls.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// A call that held `version` ended (or moved to another version).
    pub fn release(&self, version: &Arc<Version>) {
        version.calls.fetch_sub(1, Ordering::AcqRel);
        self.release_if_idle(version);
    }

    /// Frees a version's plugin once it is neither live nor held.
    fn release_if_idle(&self, version: &Arc<Version>) {
        let live = self.live.load();
        if !Arc::ptr_eq(&live, version) && version.calls.load(Ordering::Acquire) == 0 {
            version.free();
        }
    }
}
