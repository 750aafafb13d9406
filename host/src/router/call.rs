//! What the router knows of one call: its channels and bridges by the plugin's handles, the
//! Asterisk ids behind them, and the plugin's state bytes. A plugin only ever sees handles; the
//! ids are derived from the call id and the handle, so they are known before anything is sent
//! and one reply can create a channel and use it.

use crate::ari::models::Channel as AriChannel;
use crate::runtime as wit;
use std::collections::BTreeMap;

/// Prefix of every channel, bridge and playback id the router makes. Reconcile recognises its
/// own bridges by it.
pub const ID_PREFIX: &str = "cw-";

/// How long a channel the router created may take to enter the application (its StasisStart)
/// before a command that needs it there fails.
pub const ENTRY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How long after a created leg left the application on a hangup its ChannelDestroyed may
/// take before the router takes it as gone all the same.
pub const DESTROY_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The handle of the channel that opened the call.
pub const CALLER: &str = "caller";

/// The Asterisk id for `handle` in call `call`: `cw-<call>-<handle>`. A call id is
/// `<instance>.<serial>`, so every id names the router instance that made it.
pub fn ari_id(call: &str, handle: &str) -> String {
    format!("{ID_PREFIX}{call}-{handle}")
}

/// The call id inside an id the router made (`cw-<call>-<handle>`, or a Local channel's
/// `cw-<call>-<handle>;2`).
pub fn call_of(ari_id: &str) -> Option<&str> {
    let rest = ari_id.strip_prefix(ID_PREFIX)?;
    rest.split_once('-').map(|(call, _)| call)
}

/// The router instance that made an id (`cw-<instance>.<serial>-<handle>`); None for ids it
/// did not make, including those of older routers that did not name their instance.
pub fn instance_of(ari_id: &str) -> Option<&str> {
    call_of(ari_id)?
        .split_once('.')
        .map(|(instance, _)| instance)
}

/// Whether `name` can be a router instance's name: 1–32 characters of `A-Z a-z 0-9 _`
/// (ids are split on `.` and `-`).
pub fn valid_instance(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A default instance name from the host name: other characters become `_`.
pub fn instance_from_host(host: &str) -> String {
    let name: String = host
        .chars()
        .take(32)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        "callwasm".into()
    } else {
        name
    }
}

/// Whether a plugin's handle is usable: 1–48 characters of `A-Z a-z 0-9 _ -`. Asterisk ids
/// are made from it, so nothing that could escape a URL path or query.
pub fn valid_handle(handle: &str) -> bool {
    !handle.is_empty()
        && handle.len() <= 48
        && handle
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// How the callee's display of the caller is set, per leg (see ari-samples/README.md: with
/// early bridging only connected-line updates inhibited + CONNECTEDLINE set + dial without
/// `caller` shows a given ID).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LegCallerId {
    PassThrough,
    Given,
}

/// Where a channel stands with the call's Stasis application. What Asterisk sends at the end
/// differs by how the channel came (ari-samples t1–t6): a channel the router created is
/// subscribed to the app and always gets ChannelDestroyed; one that entered Stasis from the
/// dialplan gets ChannelHangupRequest, ChannelLeftBridge, StasisEnd and then nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LegPhase {
    /// Created by the router; its StasisStart has not arrived, so Asterisk may still refuse
    /// it in a bridge (422) or a dial: commands that need it in the app wait.
    Entering,
    /// In the application.
    InStasis,
    /// Asterisk announced a hangup request with this cause (Q.850; `None` when it gave none).
    HangingUp(Option<i64>),
    /// A created leg left the app after a hangup request; its ChannelDestroyed (with the
    /// real cause) is due, and [`DESTROY_GRACE`] bounds the wait.
    Leaving(Option<i64>),
}

impl LegPhase {
    /// The cause a hangup request gave, as the plugin should hear it: none (a SIP BYE) and
    /// Asterisk's soft-hangup flag 32 (an ARI hangup, a dial timeout) are normal clearing.
    pub fn hangup_cause(self) -> u16 {
        match self {
            LegPhase::HangingUp(Some(c)) | LegPhase::Leaving(Some(c)) if c != 32 => {
                u16::try_from(c).unwrap_or(16)
            }
            _ => 16,
        }
    }
}

/// A channel of the call (the call store keeps it as a `durable::StoredLeg`).
#[derive(Debug, Clone)]
pub struct Leg {
    pub ari_id: String,
    /// Asterisk's last word on the channel.
    pub model: AriChannel,
    pub caller_id: LegCallerId,
    /// The router created it (`create`): Asterisk will announce its destruction.
    pub created: bool,
    pub phase: LegPhase,
    /// A dial was sent.
    pub dialed: bool,
    /// A final dial status (answer, busy, …) reached the plugin.
    pub dial_settled: bool,
    /// When the router learnt of it (a channel list fetched before cannot know it).
    pub since: std::time::Instant,
}

impl Leg {
    /// The channel that opened a call (it entered Stasis from the dialplan).
    pub fn inbound(model: AriChannel) -> Leg {
        Leg {
            ari_id: model.id.clone(),
            model,
            caller_id: LegCallerId::PassThrough,
            created: false,
            phase: LegPhase::InStasis,
            dialed: false,
            dial_settled: false,
            since: std::time::Instant::now(),
        }
    }
}

/// A bridge the call created.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BridgeRecord {
    pub ari_id: String,
    pub kind: wit::BridgeKind,
    pub members: Vec<String>,
}

/// One call.
#[derive(Debug)]
pub struct CallRecord {
    pub id: String,
    pub tenant: String,
    pub server: String,
    /// The Stasis application the call came in on; channels it creates go there too.
    pub app: String,
    pub args: Vec<String>,
    /// Boxed: a map's first node holds room for eleven entries, and a leg with its ARI model
    /// is large; unboxed, two legs cost a call ~5 KiB of empty slots.
    pub legs: BTreeMap<String, Box<Leg>>,
    pub bridges: BTreeMap<String, BridgeRecord>,
    /// Playback id → handle.
    pub playbacks: BTreeMap<String, String>,
    /// The plugin's state bytes, handed back with every event.
    pub state: Vec<u8>,
    /// When the router read the caller's StasisStart off the socket.
    pub received: std::time::Instant,
    /// How long after `received` the call's first dial request was sent; taken once, for the
    /// observer.
    pub first_dial: Option<std::time::Duration>,
    /// Dial requests Asterisk accepted in this call.
    pub dials: u32,
}

impl CallRecord {
    /// A call opened by `caller` entering `app` with `args`.
    pub fn new(id: String, tenant: &str, server: &str, app: &str, args: Vec<String>) -> Self {
        CallRecord {
            id,
            tenant: tenant.into(),
            server: server.into(),
            app: app.into(),
            args,
            legs: BTreeMap::new(),
            bridges: BTreeMap::new(),
            playbacks: BTreeMap::new(),
            state: Vec::new(),
            received: std::time::Instant::now(),
            first_dial: None,
            dials: 0,
        }
    }

    /// The handle of the channel with this Asterisk id.
    pub fn leg_handle(&self, ari_id: &str) -> Option<&str> {
        self.legs
            .iter()
            .find(|(_, l)| l.ari_id == ari_id)
            .map(|(h, _)| h.as_str())
    }

    /// The handle of the bridge with this Asterisk id.
    pub fn bridge_handle(&self, ari_id: &str) -> Option<&str> {
        self.bridges
            .iter()
            .find(|(_, b)| b.ari_id == ari_id)
            .map(|(h, _)| h.as_str())
    }

    /// The call as the plugin sees it.
    pub fn snapshot(&self, now_ms: u64) -> wit::Call {
        wit::Call {
            id: self.id.clone(),
            tenant: self.tenant.clone(),
            args: self.args.clone(),
            channels: self
                .legs
                .iter()
                .map(|(handle, leg)| wit_channel(handle, &leg.model))
                .collect(),
            bridges: self
                .bridges
                .iter()
                .map(|(handle, b)| wit::Bridge {
                    handle: handle.clone(),
                    kind: b.kind,
                    channels: b.members.clone(),
                })
                .collect(),
            state: self.state.clone(),
            now_ms,
        }
    }
}

/// A channel as the plugin sees it.
fn wit_channel(handle: &str, c: &AriChannel) -> wit::Channel {
    wit::Channel {
        handle: handle.into(),
        name: c.name.clone(),
        state: channel_state(&c.state),
        caller: wit::Party {
            name: c.caller.name.clone(),
            number: c.caller.number.clone(),
        },
        connected: wit::Party {
            name: c.connected.name.clone(),
            number: c.connected.number.clone(),
        },
        dialplan: (!c.dialplan.context.is_empty()).then(|| wit::DialplanLocation {
            context: c.dialplan.context.clone(),
            extension: c.dialplan.exten.clone(),
            priority: c.dialplan.priority,
        }),
    }
}

/// ARI's state names.
pub fn channel_state(state: &str) -> wit::ChannelState {
    use wit::ChannelState::*;
    match state {
        "Down" => Down,
        "Rsrved" => Reserved,
        "OffHook" => OffHook,
        "Dialing" => Dialing,
        "Ring" => Ring,
        "Ringing" => Ringing,
        "Up" => Up,
        "Busy" => Busy,
        "Dialing Offhook" => DialingOffHook,
        "Pre-ring" => PreRing,
        _ => Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_the_call_and_the_instance() {
        let id = ari_id("r1.a1b2", "agent-2");
        assert_eq!(id, "cw-r1.a1b2-agent-2");
        assert_eq!(call_of(&id), Some("r1.a1b2"));
        assert_eq!(instance_of(&id), Some("r1"));
        assert_eq!(call_of("cw-r1.a1b2-agent-2;2"), Some("r1.a1b2"));
        assert_eq!(instance_of("cw-r2.a1b2-agent-2;2"), Some("r2"));
        assert_eq!(call_of("1795667013.2"), None);
        assert_eq!(instance_of("1795667013.2"), None);
        assert_eq!(instance_of("cw-dead01-b1"), None);
        assert!(valid_instance("r1_east"));
        assert!(!valid_instance("r1.east"));
        assert!(!valid_instance("r1-east"));
        assert!(!valid_instance(""));
        assert_eq!(instance_from_host("pbx-01.example"), "pbx_01_example");
        assert!(valid_handle("agent_2-b"));
        assert!(!valid_handle("../x"));
        assert!(!valid_handle(""));
        assert!(!valid_handle(&"x".repeat(49)));
    }
}
