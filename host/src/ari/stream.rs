//! The ARI event stream of one Asterisk server: one WebSocket for all the router's apps, kept
//! up forever.
//!
//! On every (re)connect it checks the apps are registered, sets their event filters (so
//! Asterisk does not flood the router with events it does not use), lists the channels and
//! bridges and hands them over as [`StreamItem::Resynced`]: Asterisk does not replay what
//! happened while the socket was down. A socket that stops answering pings is dropped and
//! replaced; reconnects back off exponentially with jitter, capped, and never give up.

use super::events::Event;
use super::models::{Bridge, Channel};
use super::rest::{Auth, Rest, RestConfig};
use futures_util::{SinkExt, StreamExt};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The event types the router acts on; everything else is filtered out at Asterisk.
pub const ROUTER_EVENTS: &[&str] = &[
    "StasisStart",
    "StasisEnd",
    "ChannelStateChange",
    "ChannelDestroyed",
    "ChannelHangupRequest",
    "ChannelEnteredBridge",
    "ChannelLeftBridge",
    "ChannelDtmfReceived",
    "ChannelCallerId",
    "ChannelConnectedLine",
    "Dial",
    "PlaybackStarted",
    "PlaybackFinished",
    "BridgeDestroyed",
    "ApplicationReplaced",
    // StasisBroadcast's offers, claimed by routers sharing their calls (cluster/claim.rs).
    "CallBroadcast",
];

/// Settings of one server's event stream.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// The Stasis applications to subscribe, all on one socket.
    pub apps: Vec<String>,
    /// How often to ping Asterisk.
    pub ping_interval: Duration,
    /// A socket with no pong for this long is considered dead.
    pub pong_timeout: Duration,
    /// First reconnect delay; doubles per failure up to `backoff_max`, with jitter.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Event types to ask Asterisk for; empty sets no filter.
    pub event_filter: Vec<String>,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            apps: Vec::new(),
            ping_interval: Duration::from_secs(5),
            pong_timeout: Duration::from_secs(15),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            event_filter: ROUTER_EVENTS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// What the stream hands its consumer.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    /// The socket is up; a `Resynced` follows.
    Connected,
    /// The channels and bridges Asterisk holds right after a (re)connect.
    Resynced {
        channels: Vec<Channel>,
        bridges: Vec<Bridge>,
        /// When the lists were asked for: what was learnt after may be missing from them.
        listed_at: std::time::Instant,
    },
    /// An event, in the order Asterisk sent it.
    Event(Box<Event>),
    /// The socket is gone; reconnecting.
    Disconnected { reason: String },
}

/// A stream item of a named server.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerItem {
    pub server: Arc<str>,
    pub item: StreamItem,
    /// When the stream read it off the socket (or made it): where the router's latency
    /// figures start.
    pub received: Instant,
}

/// Keeps the event stream of one server up until `shutdown` turns true.
pub struct EventStream {
    server: Arc<str>,
    rest: Rest,
    rest_config: RestConfig,
    config: StreamConfig,
    unknown_types: HashSet<String>,
}

impl EventStream {
    pub fn new(server: &str, rest: Rest, rest_config: RestConfig, config: StreamConfig) -> Self {
        EventStream {
            server: Arc::from(server),
            rest,
            rest_config,
            config,
            unknown_types: HashSet::new(),
        }
    }

    /// The WebSocket URL: the REST base with `ws://` and `/events?app=a,b`.
    fn url(&self) -> String {
        let base = self.rest_config.base_url.trim_end_matches('/');
        let base = base.replacen("http://", "ws://", 1);
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("app", &self.config.apps.join(","));
        if let Auth::ApiKey(key) = &self.rest_config.auth {
            q.append_pair("api_key", key);
        }
        format!("{base}/events?{}", q.finish())
    }

    /// Runs until `shutdown` is true or the consumer goes away.
    pub async fn run(mut self, tx: mpsc::Sender<ServerItem>, mut shutdown: watch::Receiver<bool>) {
        let mut failures: u32 = 0;
        loop {
            if *shutdown.borrow() {
                return;
            }
            let outcome = tokio::select! {
                outcome = self.session(&tx) => outcome,
                _ = shutdown.changed() => return,
            };
            let reason = match outcome {
                Session::ConsumerGone => return,
                Session::Ended { reason, was_up } => {
                    if was_up {
                        failures = 0;
                    }
                    reason
                }
            };
            let delay = backoff(&self.config, failures);
            tracing::warn!(
                server = %self.server,
                url = %self.rest_config.base_url,
                user = %self.user(),
                retry_in_ms = delay.as_millis() as u64,
                reason = %crate::log_text::escaped(&reason),
                "ARI event stream down; retrying"
            );
            if tx
                .send(self.item(StreamItem::Disconnected { reason }))
                .await
                .is_err()
            {
                return;
            }
            failures = failures.saturating_add(1);
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// The ARI user, for log lines (never the password).
    fn user(&self) -> &str {
        match &self.rest_config.auth {
            super::Auth::Basic { user, .. } => user,
            super::Auth::ApiKey(key) => key.split(':').next().unwrap_or("-"),
        }
    }

    fn item(&self, item: StreamItem) -> ServerItem {
        ServerItem {
            server: self.server.clone(),
            item,
            received: Instant::now(),
        }
    }

    /// One connection, from connect to drop.
    async fn session(&mut self, tx: &mpsc::Sender<ServerItem>) -> Session {
        let ended = |reason: String| Session::Ended {
            reason,
            was_up: false,
        };
        let mut request = match self.url().into_client_request() {
            Ok(r) => r,
            Err(e) => return ended(format!("bad event URL: {e}")),
        };
        if let Auth::Basic { user, password } = &self.rest_config.auth {
            use base64::Engine as _;
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            match format!("Basic {token}").parse() {
                Ok(v) => {
                    request.headers_mut().insert("authorization", v);
                }
                Err(e) => return ended(format!("credentials: {e}")),
            }
        }
        let connect = tokio_tungstenite::connect_async(request);
        let (mut socket, _) = match tokio::time::timeout(self.rest_config.timeout, connect).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return ended(self.connect_failure(e)),
            Err(_) => return ended("connect: timed out".into()),
        };
        if tx.send(self.item(StreamItem::Connected)).await.is_err() {
            return Session::ConsumerGone;
        }
        if let Err(reason) = self.prepare_apps().await {
            return ended(reason);
        }
        let listed_at = std::time::Instant::now();
        let resync = tokio::try_join!(self.rest.list_channels(), self.rest.list_bridges());
        let (channels, bridges) = match resync {
            Ok(lists) => lists,
            Err(e) => return ended(format!("resync: {e}")),
        };
        if tx
            .send(self.item(StreamItem::Resynced {
                channels,
                bridges,
                listed_at,
            }))
            .await
            .is_err()
        {
            return Session::ConsumerGone;
        }

        let up = |reason: String| Session::Ended {
            reason,
            was_up: true,
        };
        let mut ping = tokio::time::interval(self.config.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        loop {
            tokio::select! {
                message = socket.next() => {
                    let message = match message {
                        None => return up("closed by Asterisk".into()),
                        Some(Err(e)) => return up(format!("socket error: {e}")),
                        Some(Ok(m)) => m,
                    };
                    last_heard = Instant::now();
                    match message {
                        Message::Text(text) => {
                            if let Some(event) = self.decode(text.as_bytes())
                                && tx.send(self.item(StreamItem::Event(Box::new(event)))).await.is_err()
                            {
                                return Session::ConsumerGone;
                            }
                        }
                        Message::Close(frame) => {
                            return up(format!("closed by Asterisk: {}", frame.map(|f| f.reason.to_string()).unwrap_or_default()));
                        }
                        Message::Ping(_) | Message::Pong(_) | Message::Binary(_) | Message::Frame(_) => {}
                    }
                }
                _ = ping.tick() => {
                    if last_heard.elapsed() > self.config.pong_timeout {
                        return up(format!("no pong for {:?}: silent socket replaced", self.config.pong_timeout));
                    }
                    if let Err(e) = socket.send(Message::Ping(Default::default())).await {
                        return up(format!("ping failed: {e}"));
                    }
                }
            }
        }
    }

    /// Why a connect failed, in words an operator can act on: an HTTP answer to the upgrade
    /// names its status, Asterisk's reason and what to check; anything else (refused, reset,
    /// DNS) is passed on as is.
    fn connect_failure(&self, error: tokio_tungstenite::tungstenite::Error) -> String {
        use tokio_tungstenite::tungstenite::Error;
        let Error::Http(response) = error else {
            return format!("connect: {error}");
        };
        let status = response.status().as_u16();
        let body = response
            .body()
            .as_deref()
            .map(|b| error_page_text(&String::from_utf8_lossy(b)))
            .unwrap_or_default();
        let hint = match status {
            401 | 403 => format!(
                "Asterisk refused user {:?}: was the password changed in ari.conf?",
                self.user()
            ),
            404 => "no ARI at this URL: check http.conf (enabled, bindaddr) and ari.conf (enabled)"
                .to_string(),
            400 | 500 => format!(
                "Asterisk refused to register the application(s) {}",
                self.config.apps.join(",")
            ),
            _ => "Asterisk refused the event WebSocket".to_string(),
        };
        format!("connect: HTTP {status} {body:?}: {hint}")
    }

    /// Checks every app is registered and sets its event filter.
    async fn prepare_apps(&self) -> Result<(), String> {
        let filter: Vec<&str> = self
            .config
            .event_filter
            .iter()
            .map(String::as_str)
            .collect();
        for app in &self.config.apps {
            self.rest
                .get_application(app)
                .await
                .map_err(|e| format!("application {app} not registered: {e}"))?;
            if !filter.is_empty() {
                self.rest
                    .set_event_filter(app, &filter)
                    .await
                    .map_err(|e| format!("event filter of {app}: {e}"))?;
            }
        }
        Ok(())
    }

    /// Decodes one event; malformed ones are logged and skipped, unknown types logged once.
    fn decode(&mut self, text: &[u8]) -> Option<Event> {
        match serde_json::from_slice::<Event>(text) {
            Ok(Event::Unknown) => {
                #[derive(serde::Deserialize)]
                struct TypeOnly {
                    #[serde(rename = "type")]
                    kind: String,
                }
                let kind = serde_json::from_slice::<TypeOnly>(text)
                    .map(|t| t.kind)
                    .unwrap_or_default();
                if self.unknown_types.insert(kind.clone()) {
                    tracing::info!(server = %self.server, event_type = %kind, "ignoring ARI events of an unknown type");
                }
                None
            }
            Ok(event) => {
                if let Event::ApplicationReplaced(e) = &event {
                    tracing::error!(server = %self.server, app = %e.application, "another client took over the Stasis application");
                }
                Some(event)
            }
            Err(e) => {
                tracing::warn!(server = %self.server, "malformed ARI event skipped: {e}");
                None
            }
        }
    }
}

enum Session {
    /// The connection ended; `was_up` when it had got as far as streaming events.
    Ended {
        reason: String,
        was_up: bool,
    },
    ConsumerGone,
}

/// The reason in an HTTP error answer: ARI's JSON `message`, the `<p>` of Asterisk's HTML
/// error page, else the body itself; cut to 200 characters.
fn error_page_text(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct AriError {
        message: String,
    }
    if let Ok(e) = serde_json::from_str::<AriError>(body) {
        return e.message.chars().take(200).collect();
    }
    let text = body
        .split_once("<p>")
        .and_then(|(_, rest)| rest.split_once("</p>"))
        .map_or(body, |(p, _)| p)
        .trim();
    text.chars().take(200).collect()
}

/// Capped exponential backoff with full jitter: `[d/2, d]` where `d = min * 2^failures`.
pub fn backoff(config: &StreamConfig, failures: u32) -> Duration {
    let ceiling = config
        .backoff_min
        .saturating_mul(1u32 << failures.min(20))
        .min(config.backoff_max);
    let half = ceiling / 2;
    half + half.mul_f64(fastrand::f64())
}
