//! A call's input queue, bounded. Asterisk's events, the plugin's timers and the router's own
//! notices reach a call through it, and a plugin can make them come faster than it takes them
//! (timers, playbacks, legs). Past the bound, inputs are dropped and the call is marked
//! overflowed: its task applies the failure policy, since a call that lost events cannot be
//! trusted to know its own state. Sending never waits: the dispatcher serves every call.

use super::session::CallInput;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tokio::sync::mpsc;

/// Inputs a call may have waiting by default.
pub const DEFAULT_BOUND: usize = 1024;

#[derive(Debug)]
struct Depth {
    queued: AtomicUsize,
    bound: usize,
    overflowed: AtomicBool,
}

/// The sending side; cheap to clone.
#[derive(Debug, Clone)]
pub struct CallQueue {
    tx: mpsc::UnboundedSender<CallInput>,
    depth: Arc<Depth>,
}

/// The call's task's side.
#[derive(Debug)]
pub struct CallInputs {
    rx: mpsc::UnboundedReceiver<CallInput>,
    depth: Arc<Depth>,
}

/// A queue holding at most `bound` inputs.
pub fn bounded(bound: usize) -> (CallQueue, CallInputs) {
    let (tx, rx) = mpsc::unbounded_channel();
    let depth = Arc::new(Depth {
        queued: AtomicUsize::new(0),
        bound: bound.max(1),
        overflowed: AtomicBool::new(false),
    });
    (
        CallQueue {
            tx,
            depth: depth.clone(),
        },
        CallInputs { rx, depth },
    )
}

impl CallQueue {
    /// Queues `input`; false when the call is gone or the queue is full (then the input is
    /// dropped and the call marked overflowed).
    pub fn send(&self, input: CallInput) -> bool {
        let depth = &self.depth;
        if depth.queued.fetch_add(1, Ordering::AcqRel) >= depth.bound {
            depth.queued.fetch_sub(1, Ordering::AcqRel);
            depth.overflowed.store(true, Ordering::Release);
            return false;
        }
        if self.tx.send(input).is_err() {
            depth.queued.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }
}

impl CallInputs {
    /// The next input; None once every sender is gone.
    pub async fn recv(&mut self) -> Option<CallInput> {
        let input = self.rx.recv().await;
        if input.is_some() {
            self.depth.queued.fetch_sub(1, Ordering::AcqRel);
        }
        input
    }

    /// Whether inputs were dropped since the last time this was asked.
    pub fn overflowed(&self) -> bool {
        self.depth.overflowed.swap(false, Ordering::AcqRel)
    }

    /// The most inputs the queue holds.
    pub fn bound(&self) -> usize {
        self.depth.bound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn past_the_bound_inputs_are_dropped_and_the_call_is_told() {
        let (queue, mut inputs) = bounded(2);
        assert!(queue.send(CallInput::Timer("a".into())));
        assert!(queue.send(CallInput::Timer("b".into())));
        assert!(!queue.send(CallInput::Timer("c".into())));
        assert!(inputs.overflowed());
        assert!(!inputs.overflowed());
        assert!(matches!(inputs.recv().await, Some(CallInput::Timer(n)) if n == "a"));
        assert!(queue.send(CallInput::Timer("d".into())));
        assert!(matches!(inputs.recv().await, Some(CallInput::Timer(n)) if n == "b"));
        assert!(matches!(inputs.recv().await, Some(CallInput::Timer(n)) if n == "d"));
        assert!(!inputs.overflowed());
    }
}
