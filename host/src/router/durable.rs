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

use super::call::{BridgeRecord, Leg, LegCallerId, LegPhase};
use crate::ari::models::{CallerId, Channel as AriChannel, DialplanCep};
use crate::runtime as wit;
use crate::store::{CallRow, Store, Ticket};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long a write the call waits for may take before the call goes on without it (a store
/// in trouble must not stall calls; the writer says what is wrong).
pub const DURABLE_WAIT: Duration = Duration::from_secs(2);

/// A call's image, as JSON in the store's `record` column. Every write of a call rewrites it,
/// several times a call, so it keeps what a restart needs and leaves out what is empty.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallImage {
    pub app: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    pub legs: BTreeMap<String, StoredLeg>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bridges: BTreeMap<String, BridgeRecord>,
    /// Playback id → handle.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub playbacks: BTreeMap<String, String>,
    /// Running timers' deadlines, ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub timers: BTreeMap<String, i64>,
    /// The plugin has had `started`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub started: bool,
    /// The failure policy was applied: the plugin is asked nothing more.
    #[serde(default, skip_serializing_if = "is_false")]
    pub given_up: bool,
    /// The tenant's fallback plugin drives the call.
    #[serde(default, skip_serializing_if = "is_false")]
    pub on_fallback: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub failed_once: bool,
    #[serde(default)]
    pub dials: u32,
    /// When the call opened, ms since the Unix epoch.
    pub opened_ms: i64,
    /// Contract events taken in and not yet handed to the plugin.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<wit::Event>,
    /// The reply being carried out, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplyImage>,
}

fn is_false(b: &bool) -> bool {
    !b
}

/// A leg as the image keeps it: the router's marks and what the plugin sees of the channel.
/// The rest of Asterisk's channel model (creation time, language, account code, …) is not
/// kept: the restart's resync lists every channel again, and the leg takes Asterisk's word.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredLeg {
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub state: String,
    /// Caller ID as `[name, number]`.
    #[serde(default, skip_serializing_if = "no_party")]
    pub caller: (String, String),
    #[serde(default, skip_serializing_if = "no_party")]
    pub connected: (String, String),
    /// Context, extension and priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialplan: Option<(String, String, i64)>,
    #[serde(default = "pass_through", skip_serializing_if = "is_pass_through")]
    pub caller_id: LegCallerId,
    #[serde(default, skip_serializing_if = "is_false")]
    pub created: bool,
    pub phase: LegPhase,
    #[serde(default, skip_serializing_if = "is_false")]
    pub dialed: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub dial_settled: bool,
}

fn no_party(p: &(String, String)) -> bool {
    p.0.is_empty() && p.1.is_empty()
}

fn pass_through() -> LegCallerId {
    LegCallerId::PassThrough
}

fn is_pass_through(c: &LegCallerId) -> bool {
    *c == LegCallerId::PassThrough
}

impl From<&Leg> for StoredLeg {
    fn from(leg: &Leg) -> StoredLeg {
        let m = &leg.model;
        StoredLeg {
            id: leg.ari_id.clone(),
            name: m.name.clone(),
            state: m.state.clone(),
            caller: (m.caller.name.clone(), m.caller.number.clone()),
            connected: (m.connected.name.clone(), m.connected.number.clone()),
            dialplan: (!m.dialplan.context.is_empty()).then(|| {
                (
                    m.dialplan.context.clone(),
                    m.dialplan.exten.clone(),
                    m.dialplan.priority,
                )
            }),
            caller_id: leg.caller_id.clone(),
            created: leg.created,
            phase: leg.phase,
            dialed: leg.dialed,
            dial_settled: leg.dial_settled,
        }
    }
}

impl StoredLeg {
    /// The leg back in memory. It was learnt of before any channel list fetched after the
    /// restart, so its `since` lies in the past.
    pub fn into_leg(self) -> Leg {
        let (context, exten, priority) = self.dialplan.unwrap_or_default();
        let model = AriChannel {
            id: self.id.clone(),
            name: self.name,
            state: self.state,
            caller: CallerId {
                name: self.caller.0,
                number: self.caller.1,
            },
            connected: CallerId {
                name: self.connected.0,
                number: self.connected.1,
            },
            dialplan: DialplanCep {
                context,
                exten,
                priority,
                ..DialplanCep::default()
            },
            ..AriChannel::default()
        };
        Leg {
            ari_id: self.id,
            model,
            caller_id: self.caller_id,
            created: self.created,
            phase: self.phase,
            dialed: self.dialed,
            dial_settled: self.dial_settled,
            since: long_ago(),
        }
    }
}

/// An instant an hour back (or now, on a machine up for less).
fn long_ago() -> std::time::Instant {
    let now = std::time::Instant::now();
    now.checked_sub(std::time::Duration::from_secs(3600))
        .unwrap_or(now)
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

/// What a call last wrote, so that an unchanged image is not written again (a row write costs
/// the store a page or more and a share of a commit; replies often change nothing it keeps).
#[derive(Debug, Default)]
pub struct LastWrite {
    ticket: Option<Ticket>,
    /// A hash of the version, the state bytes and the image's JSON.
    digest: u64,
}

impl Journal {
    /// Queues a call's image unless it is what the call last wrote; the ticket to wait for
    /// either way (None when it could not be written).
    pub fn write(
        &self,
        row: (&str, &str, &str, &str),
        state: &[u8],
        image: &CallImage,
        last: &mut LastWrite,
    ) -> Option<Ticket> {
        let (call_id, server, tenant, version) = row;
        let record = match serde_json::to_string(image) {
            Ok(json) => json,
            Err(e) => {
                tracing::error!(error = %e, "a call's image cannot be written as JSON; not stored");
                return None;
            }
        };
        let digest = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (version, state, &record).hash(&mut h);
            h.finish()
        };
        if let Some(ticket) = last.ticket
            && last.digest == digest
        {
            return Some(ticket);
        }
        let ticket = self.store.put(CallRow {
            call_id: call_id.into(),
            instance: self.instance.to_string(),
            server: server.into(),
            tenant: tenant.into(),
            version: version.into(),
            state: state.to_vec(),
            record,
            written_ms: crate::store::now_ms(),
        });
        *last = LastWrite {
            ticket: Some(ticket),
            digest,
        };
        Some(ticket)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leg_keeps_what_the_plugin_sees_and_the_routers_marks() {
        let model = AriChannel {
            id: "cw-r1.7-b1".into(),
            name: "PJSIP/bob-00000003".into(),
            state: "Ringing".into(),
            protocol_id: "a84d@10.0.0.1".into(),
            caller: CallerId {
                name: "Alice".into(),
                number: "100".into(),
            },
            dialplan: DialplanCep {
                context: "default".into(),
                exten: "s".into(),
                priority: 1,
                app_name: "Stasis".into(),
                app_data: "acme".into(),
            },
            creationtime: "2026-11-28T06:00:00.000+0000".into(),
            language: "en".into(),
            ..AriChannel::default()
        };
        let mut leg = Leg::inbound(model);
        (leg.created, leg.dialed, leg.caller_id) = (true, true, LegCallerId::Given);
        let stored = StoredLeg::from(&leg);
        let json = serde_json::to_string(&stored).expect("a leg is JSON");
        assert_eq!(
            json,
            r#"{"id":"cw-r1.7-b1","name":"PJSIP/bob-00000003","state":"Ringing","caller":["Alice","100"],"dialplan":["default","s",1],"caller_id":"given","created":true,"phase":"in-stasis","dialed":true}"#
        );
        let back: StoredLeg = serde_json::from_str(&json).expect("read back");
        let back = back.into_leg();
        assert_eq!(back.ari_id, "cw-r1.7-b1");
        assert_eq!(back.model.id, "cw-r1.7-b1");
        assert_eq!(back.model.name, leg.model.name);
        assert_eq!(back.model.state, "Ringing");
        assert_eq!(back.model.caller, leg.model.caller);
        assert_eq!(back.model.connected, CallerId::default());
        assert_eq!(
            (
                back.model.dialplan.context.as_str(),
                back.model.dialplan.exten.as_str(),
                back.model.dialplan.priority
            ),
            ("default", "s", 1)
        );
        assert_eq!(back.model.language, "");
        assert_eq!(
            (
                back.created,
                back.dialed,
                back.dial_settled,
                back.caller_id,
                back.phase
            ),
            (true, true, false, LegCallerId::Given, LegPhase::InStasis)
        );
    }
}
