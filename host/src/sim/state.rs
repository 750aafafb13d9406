//! What the simulated Asterisk holds: channels, bridges, registered applications and the
//! sockets events go to.

use crate::ari::models::{Bridge, Channel};
use std::collections::{BTreeMap, HashMap};
use tokio::sync::mpsc;

/// A channel as the simulator holds it: ARI's model plus what Asterisk knows besides.
#[derive(Debug, Clone, Default)]
pub(crate) struct SimChannel {
    pub model: Channel,
    /// The Stasis application it is in, if any.
    pub app: Option<String>,
    /// An originated channel: the application it enters (with these args) once answered; its
    /// events go to that application meanwhile, as Asterisk subscribes it at originate.
    pub pending: Option<(String, Vec<String>)>,
    /// An application that receives this channel's events without it being in Stasis: the
    /// `;2` half of a Local channel originated into that application.
    pub observer: Option<String>,
    /// What it was created or originated to.
    pub endpoint: String,
    /// Created with `/channels/create` and not dialed yet: most operations answer 412.
    pub created: bool,
    /// Dial was requested (a second dial answers 409).
    pub dialed: bool,
    pub bridge: Option<String>,
    pub vars: HashMap<String, String>,
    /// The other half of a Local channel.
    pub partner: Option<String>,
    /// A caller that hangs up this long after being answered.
    pub hangup_after_answer: Option<std::time::Duration>,
    /// Applications subscribed to it explicitly: the one a create or originate named, and
    /// those that asked (`POST /applications/{app}/subscription`). Unlike being in Stasis,
    /// this outlasts StasisEnd: only these hear of its ChannelDestroyed (ari-samples t1–t6).
    pub subscribed: Vec<String>,
    /// Created into an application whose StasisStart has not gone out yet: the channel is
    /// not in Stasis until then (the create's 200 can come first, ari-samples t4).
    pub entering: Option<(String, Vec<String>)>,
    /// It entered Stasis from the dialplan (an inbound call), so the dialplan goes on after
    /// it leaves the application.
    pub inbound: bool,
    /// Bumped on every state change, so a timer set earlier can tell it is stale.
    pub generation: u64,
}

impl SimChannel {
    /// The application that gets this channel's events: the one it is in, the one it will
    /// enter once answered, or the one observing it.
    pub fn subscriber(&self) -> Option<&str> {
        self.app
            .as_deref()
            .or(self.pending.as_ref().map(|(app, _)| app.as_str()))
            .or(self.observer.as_deref())
    }

    /// Whether `app` gets this channel's events.
    pub fn watched_by(&self, app: &str) -> bool {
        self.subscriber() == Some(app) || self.subscribed.iter().any(|a| a == app)
    }
}

/// A channel StasisBroadcast offers: the apps it was offered to, its args and whether those
/// apps hear who claimed it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Broadcast {
    pub apps: Vec<String>,
    pub args: Vec<String>,
    pub notify_claimed: bool,
}

/// A bridge and the application it belongs to.
#[derive(Debug, Clone, Default)]
pub(crate) struct SimBridge {
    pub model: Bridge,
    pub app: String,
}

/// Something to write on an event socket.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Event(String),
    Close,
}

/// A registered Stasis application.
#[derive(Debug, Default)]
pub(crate) struct App {
    /// The socket that owns the app (the newest to subscribe it).
    pub socket: Option<u64>,
    /// Event types allowed by the app's filter; empty allows everything.
    pub allowed: Vec<String>,
    /// Subscribed to every channel (`subscribeAll=true`).
    pub all: bool,
}

#[derive(Default)]
pub(crate) struct State {
    pub channels: BTreeMap<String, SimChannel>,
    pub bridges: BTreeMap<String, SimBridge>,
    pub apps: HashMap<String, App>,
    pub sockets: HashMap<u64, mpsc::UnboundedSender<Outgoing>>,
    /// Playbacks under way, with the application their events go to.
    pub playbacks: HashMap<String, String>,
    /// Created channels whose StasisStart is held back to go out after the create's 200: the
    /// few to look at before each request, not every channel held.
    pub entering: Vec<String>,
    /// Late entries held until a later request names them ([`super::CreateOrder::HeldEntry`]),
    /// each with whether the request that created it is over (then the next one naming it
    /// releases it).
    pub held: Vec<(String, bool)>,
    /// Channels offered by StasisBroadcast and not yet claimed or timed out, by channel id.
    pub broadcasts: HashMap<String, Broadcast>,
    pub next_socket: u64,
    pub next_id: u64,
    /// Sequence in channel names, such as the `00000002` of `PJSIP/alice-00000002`.
    pub next_name: u64,
    /// Asterisk's unique ids look like `<epoch>.<n>`.
    pub epoch: u64,
    /// Inbound calls whose Stasis() failed because no socket held their app.
    pub refused_entries: u64,
    /// With the journal on: when each far end hung up (a caller's phone, a callee), by
    /// channel id, so a test can tell who ended a call.
    pub far_ends: Option<Vec<(std::time::Instant, String)>>,
}

impl State {
    /// A new unique channel id in Asterisk's format.
    pub fn unique_id(&mut self) -> String {
        self.next_id += 1;
        format!("{}.{}", self.epoch, self.next_id)
    }

    /// Registers `apps` on a new socket; the sockets that owned them get ApplicationReplaced
    /// and nothing more for those apps.
    pub fn subscribe(
        &mut self,
        apps: &[String],
        subscribe_all: bool,
        tx: mpsc::UnboundedSender<Outgoing>,
    ) -> u64 {
        self.next_socket += 1;
        let id = self.next_socket;
        self.sockets.insert(id, tx);
        for name in apps {
            let app = self.apps.entry(name.clone()).or_default();
            app.all = subscribe_all;
            if let Some(old) = app.socket.replace(id)
                && let Some(old_tx) = self.sockets.get(&old)
            {
                let event = serde_json::json!({
                    "type": "ApplicationReplaced",
                    "application": name,
                    "timestamp": timestamp(),
                });
                let _ = old_tx.send(Outgoing::Event(event.to_string()));
            }
        }
        id
    }

    /// Forgets a closed socket. An app left without a socket stays registered while channels
    /// are in it (Asterisk keeps it, and a reconnecting socket gets their later events); one
    /// with no channels goes.
    pub fn unsubscribe(&mut self, socket: u64) {
        self.sockets.remove(&socket);
        let channels = &self.channels;
        self.apps.retain(|name, app| {
            if app.socket == Some(socket) {
                app.socket = None;
            }
            app.socket.is_some() || channels.values().any(|c| c.watched_by(name))
        });
    }

    /// Whether an app has a socket to send events to.
    pub fn listening(&self, app: &str) -> bool {
        self.apps
            .get(app)
            .and_then(|a| a.socket)
            .is_some_and(|s| self.sockets.contains_key(&s))
    }

    /// Sends an event to the socket of its application, if the app's filter allows it.
    pub fn emit(&self, app: &str, event: serde_json::Value) {
        let kind = event["type"].as_str().unwrap_or_default();
        if self.accepts(app, kind) {
            self.send(app, event.to_string());
        }
    }

    /// Whether `app` is registered and its event filter lets `kind` through.
    pub fn accepts(&self, app: &str, kind: &str) -> bool {
        self.apps.get(app).is_some_and(|registered| {
            registered.allowed.is_empty() || registered.allowed.iter().any(|t| t == kind)
        })
    }

    /// Writes an event's text on the app's socket, if it has one.
    pub fn send(&self, app: &str, text: String) {
        if let Some(tx) = self
            .apps
            .get(app)
            .and_then(|a| a.socket)
            .and_then(|s| self.sockets.get(&s))
        {
            let _ = tx.send(Outgoing::Event(text));
        }
    }

    /// Sends raw text to the socket of an application, bypassing filters.
    pub fn emit_raw(&self, app: &str, text: &str) {
        if let Some(tx) = self
            .apps
            .get(app)
            .and_then(|a| a.socket)
            .and_then(|s| self.sockets.get(&s))
        {
            let _ = tx.send(Outgoing::Event(text.to_string()));
        }
    }

    /// Closes every open event socket.
    pub fn drop_sockets(&mut self) {
        for tx in self.sockets.values() {
            let _ = tx.send(Outgoing::Close);
        }
    }
}

/// A new channel as Asterisk reports it: `state` at `context,exten,1`, created now.
pub(crate) fn new_channel(
    id: &str,
    name: String,
    state: &str,
    context: &str,
    exten: &str,
) -> Channel {
    Channel {
        id: id.to_string(),
        name,
        state: state.into(),
        dialplan: crate::ari::models::DialplanCep {
            context: context.into(),
            exten: exten.into(),
            priority: 1,
            ..Default::default()
        },
        creationtime: timestamp(),
        language: "en".into(),
        ..Channel::default()
    }
}

/// A comma-separated parameter (`app=a,b`, `channel=c1,c2`) as a list; empty entries dropped.
pub(crate) fn comma_list(value: Option<&String>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Asterisk's timestamp format, such as `2026-11-26T05:00:00.000+0000`.
pub(crate) fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}+0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}
