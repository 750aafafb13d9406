//! A window on the router's work for whoever wants to watch it call by call (the demo prints
//! it; tests assert on it): calls opening, each event with the plugin's commands and time,
//! plugin failures, calls ending. Sending never blocks the router, and nobody watching costs
//! nothing.

use crate::runtime as wit;
use std::time::Duration;
use tokio::sync::mpsc;

/// Something that happened to a call.
#[derive(Debug, Clone)]
pub enum Observation {
    Opened {
        call: String,
        tenant: String,
        caller: String,
        args: Vec<String>,
    },
    /// The plugin handled `event` in `plugin_time` and answered these commands (checked, about
    /// to be carried out).
    Handled {
        call: String,
        event: wit::Event,
        commands: Vec<wit::Command>,
        plugin_time: Duration,
    },
    /// The plugin failed on `event` (or its reply was refused); the policy applies.
    PluginFailed {
        call: String,
        event: wit::Event,
        reason: String,
    },
    Ended {
        call: String,
        duration: Duration,
        /// The failure policy ended it.
        given_up: bool,
    },
}

/// Where observations go, if anywhere.
#[derive(Debug, Clone, Default)]
pub struct Observer(Option<mpsc::UnboundedSender<Observation>>);

impl Observer {
    /// An observer and the receiving end of its observations.
    pub fn channel() -> (Observer, mpsc::UnboundedReceiver<Observation>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Observer(Some(tx)), rx)
    }

    /// Nobody watching.
    pub fn none() -> Observer {
        Observer(None)
    }

    pub fn send(&self, observation: Observation) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(observation);
        }
    }
}
