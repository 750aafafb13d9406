//! A tenant's share of the instance pool. The pooling allocator has a fixed number of
//! instance, memory and table slots for the whole router; a tenant whose instances lived on
//! (a plugin that blocked, warm instances kept for reuse, many versions in use) once took every
//! slot, and every other tenant's calls failed with "maximum concurrent limit reached". Each
//! tenant now holds at most its share, and the pool is sized as the sum of the shares, so
//! slots stay for everyone.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One tenant's instance slots.
#[derive(Debug)]
pub struct InstanceSlots {
    used: AtomicUsize,
    max: usize,
    /// Slots warm instances may keep while idle; the rest stay free for running calls.
    idle_max: usize,
}

/// A slot held by a live instance; given back when dropped.
#[derive(Debug)]
pub struct Slot(Arc<InstanceSlots>);

impl InstanceSlots {
    /// A share for a tenant running at most `threads` plugin calls at once: one instance per
    /// thread running, as many kept warm, and one for a version being loaded.
    pub fn for_threads(threads: usize) -> Arc<Self> {
        let threads = threads.max(1);
        Arc::new(InstanceSlots {
            used: AtomicUsize::new(0),
            max: 2 * threads + 1,
            idle_max: threads,
        })
    }

    /// The most instances the tenant may have alive.
    pub fn max(&self) -> usize {
        self.max
    }

    /// The instances alive now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// Takes a slot for a new instance; None when the share is used up.
    pub fn take(self: &Arc<Self>) -> Option<Slot> {
        let before = self.used.fetch_add(1, Ordering::AcqRel);
        if before >= self.max {
            self.used.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Slot(self.clone()))
    }

    /// Whether an instance that just finished may stay warm (it keeps its slot): only while
    /// the tenant's instances leave a slot per thread for running calls.
    /// One slot always stays for a version being loaded (its `interests` and smoke call).
    pub fn may_keep_idle(&self) -> bool {
        self.used() < self.max - self.idle_max
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.used.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_is_never_exceeded_and_slots_come_back() {
        let slots = InstanceSlots::for_threads(2);
        assert_eq!(slots.max(), 5);
        let held: Vec<Slot> = (0..5).filter_map(|_| slots.take()).collect();
        assert_eq!(held.len(), 5);
        assert!(slots.take().is_none());
        assert!(!slots.may_keep_idle());
        drop(held);
        assert_eq!(slots.used(), 0);
        let held: Vec<Slot> = (0..2).filter_map(|_| slots.take()).collect();
        assert!(slots.may_keep_idle());
        let third = slots.take();
        assert!(third.is_some());
        assert!(!slots.may_keep_idle());
        drop(held);
    }
}
