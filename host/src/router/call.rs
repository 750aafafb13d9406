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

/// The handle of the channel that opened the call.
pub const CALLER: &str = "caller";

/// The Asterisk id for `handle` in call `call`: `cw-<call>-<handle>`.
pub fn ari_id(call: &str, handle: &str) -> String {
    format!("{ID_PREFIX}{call}-{handle}")
}

/// The call id inside an id the router made (`cw-<call>-<handle>`, or a Local channel's
/// `cw-<call>-<handle>;2`).
pub fn call_of(ari_id: &str) -> Option<&str> {
    let rest = ari_id.strip_prefix(ID_PREFIX)?;
    rest.split_once('-').map(|(call, _)| call)
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegCallerId {
    PassThrough,
    Given,
}

/// A channel of the call.
#[derive(Debug, Clone)]
pub struct Leg {
    pub ari_id: String,
    /// Asterisk's last word on the channel.
    pub model: AriChannel,
    pub caller_id: LegCallerId,
    /// A dial was sent.
    pub dialed: bool,
    /// A final dial status (answer, busy, …) reached the plugin.
    pub dial_settled: bool,
    /// Asterisk announced a hangup request: a StasisEnd that follows means it is going away,
    /// not leaving for the dialplan.
    pub hanging_up: bool,
    /// When the router learnt of it (a channel list fetched before cannot know it).
    pub since: std::time::Instant,
}

/// A bridge the call created.
#[derive(Debug, Clone)]
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
    fn ids_carry_the_call() {
        let id = ari_id("a1b2", "agent-2");
        assert_eq!(id, "cw-a1b2-agent-2");
        assert_eq!(call_of(&id), Some("a1b2"));
        assert_eq!(call_of("cw-a1b2-agent-2;2"), Some("a1b2"));
        assert_eq!(call_of("1795667013.2"), None);
        assert!(valid_handle("agent_2-b"));
        assert!(!valid_handle("../x"));
        assert!(!valid_handle(""));
        assert!(!valid_handle(&"x".repeat(49)));
    }
}
