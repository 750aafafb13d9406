//! A call's image in the call store, and how a session writes it. The image holds what the
//! router needs to drive the call on in another process: the record (legs and bridges by
//! handle, with Asterisk's last word on each), timers as deadlines, dial progress, the
//! failure-policy status, contract events taken in but not yet delivered, and the reply being
//! carried out with how far it got. The plugin's state bytes and the version's hash travel in
//! their own columns.
//!
//! When it is written (docs/decisions.md, "Durable calls"): before a reply's commands are
//! carried out (waited for: after a crash the reply is finished, not lost), before each dial
//! goes out (waited for: a restarted router never dials a leg twice), and after the reply is
//! carried out (queued; the next write replaces it if it has not gone yet). A call's row goes
//! when the call ends.

use super::call::{BridgeRecord, Leg};
use crate::runtime as wit;
use crate::store::{CallRow, Store, Ticket};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long a write the call waits for may take before the call goes on without it (a store
/// in trouble must not stall calls; the writer says what is wrong).
pub const DURABLE_WAIT: Duration = Duration::from_secs(2);

/// A call's image, as JSON in the store's `record` column.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallImage {
    pub app: String,
    pub args: Vec<String>,
    pub legs: BTreeMap<String, Leg>,
    pub bridges: BTreeMap<String, BridgeRecord>,
    /// Playback id → handle.
    pub playbacks: BTreeMap<String, String>,
    /// Running timers' deadlines, ms since the Unix epoch.
    pub timers: BTreeMap<String, i64>,
    /// The plugin has had `started`.
    pub started: bool,
    /// The failure policy was applied: the plugin is asked nothing more.
    pub given_up: bool,
    /// The tenant's fallback plugin drives the call.
    pub on_fallback: bool,
    pub failed_once: bool,
    pub dials: u32,
    /// When the call opened, ms since the Unix epoch.
    pub opened_ms: i64,
    /// Contract events taken in and not yet handed to the plugin.
    pub pending: Vec<wit::Event>,
    /// The reply being carried out, if any.
    pub reply: Option<ReplyImage>,
}

/// A reply and the index of the first command not known to be done.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplyImage {
    pub commands: Vec<wit::Command>,
    pub next: usize,
}

/// Where a call's session writes its image: the store and the names of the row's owner.
#[derive(Clone)]
pub struct Journal {
    pub store: std::sync::Arc<Store>,
    /// This router's instance name.
    pub instance: std::sync::Arc<str>,
}

impl Journal {
    /// Queues a call's image.
    #[allow(clippy::too_many_arguments)]
    pub fn write(
        &self,
        call_id: &str,
        server: &str,
        tenant: &str,
        version: &str,
        state: &[u8],
        image: &CallImage,
    ) -> Option<Ticket> {
        let record = match serde_json::to_string(image) {
            Ok(json) => json,
            Err(e) => {
                tracing::error!(error = %e, "a call's image cannot be written as JSON; not stored");
                return None;
            }
        };
        Some(self.store.put(CallRow {
            call_id: call_id.into(),
            instance: self.instance.to_string(),
            server: server.into(),
            tenant: tenant.into(),
            version: version.into(),
            state: state.to_vec(),
            record,
            written_ms: crate::store::now_ms(),
        }))
    }

    /// Waits for `ticket` (bounded by [`DURABLE_WAIT`]); says once per call when it could not.
    pub async fn wait(&self, ticket: Ticket, warned: &mut bool) {
        if let Err(e) = self.store.durable(ticket, DURABLE_WAIT).await
            && !*warned
        {
            *warned = true;
            tracing::warn!(error = %crate::log_text::escaped(&e), "the call goes on without its image stored");
        }
    }

    /// The call ended: its row goes.
    pub fn remove(&self, call_id: &str) {
        self.store.remove(call_id);
    }
}
