//! The simulated Asterisk's HTTP and WebSocket server: ARI's paths under `/ari`, Basic or
//! `api_key` authentication, Asterisk's status codes and JSON error bodies.

use super::calls::InboundCall;
use super::faults::Faults;
use super::state::{Outgoing, SimChannel, State, new_channel, timestamp};
use crate::ari::models::{Application, Channel};
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

/// How the simulator listens and whom it lets in.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    pub user: String,
    pub password: String,
    /// What dialed endpoints do, by name pattern; the first match wins.
    pub endpoints: Vec<super::endpoints::EndpointRule>,
    /// How long Asterisk keeps a busy channel before hanging it up (5 s on a real one).
    pub busy_hangup_after: Duration,
    /// Keep a journal of the REST requests received (for tests; off under load).
    pub journal: bool,
    /// Whether a created channel's StasisStart comes before or after the create's 200.
    pub create_order: CreateOrder,
}

/// When a created channel enters its application, against the create's 200. A real Asterisk
/// does all three (ari-samples t4: of 120 creates, the StasisStart came after the 200 in 106,
/// and an addChannel sent at once after the 200 was refused with 422 in 5); a client that
/// assumes one order fails on another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CreateOrder {
    /// In the application at once; StasisStart goes out before the 200.
    StasisStartFirst,
    /// In the application at once (addChannel works), but StasisStart goes out 0.4–3.6 ms
    /// after the 200.
    ResponseFirst,
    /// Not in the application until its StasisStart, 0.4–3.6 ms after the 200: an
    /// addChannel or dial in between is refused (422 / 409), and the channel enters all the
    /// same.
    LateEntry,
    /// Like `LateEntry`, but the channel enters right after the first request that names it
    /// has been answered, however long that takes: tests take the refused side of the race
    /// on purpose with it, whatever the machine's load.
    HeldEntry,
    /// Each create at random, in the proportions recorded: 14 in 120 StasisStart first, 5 in
    /// 120 late entries, the rest response first.
    #[default]
    Random,
}

impl CreateOrder {
    /// This create's order (Random picks one).
    pub fn pick(self) -> CreateOrder {
        match self {
            CreateOrder::Random => match fastrand::u32(0..120) {
                0..14 => CreateOrder::StasisStartFirst,
                14..19 => CreateOrder::LateEntry,
                _ => CreateOrder::ResponseFirst,
            },
            fixed => fixed,
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            user: "asterisk".into(),
            password: "asterisk".into(),
            endpoints: super::endpoints::default_rules(),
            busy_hangup_after: Duration::from_secs(5),
            journal: false,
            create_order: CreateOrder::default(),
        }
    }
}

pub(super) struct Shared {
    pub config: SimConfig,
    pub state: Mutex<State>,
    pub faults: Mutex<Faults>,
    pub addr: SocketAddr,
    /// REST requests received, as `METHOD /path?sorted&query`, when the config asks for it.
    pub journal: Mutex<Vec<(Instant, String)>>,
    /// Who sent each journal entry (the request's User-Agent), in the same order.
    pub journal_clients: Mutex<Vec<String>>,
}

/// A running simulated Asterisk. Dropping it stops the server.
pub struct Sim {
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        lock(&self.shared.state).drop_sockets();
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Simulator state is plain data: a panic elsewhere leaves nothing half-written that matters.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(super) type Body = Full<Bytes>;

pub(super) fn json(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

pub(super) fn message(status: StatusCode, text: &str) -> Response<Body> {
    json(status, serde_json::json!({ "message": text }))
}

/// Asterisk's HTML error page (main/http.c `ast_http_error`), which its HTTP server sends where
/// ARI's JSON errors do not apply, such as a refused event WebSocket.
fn html_error(status: StatusCode, text: &str) -> Response<Body> {
    let title = status.canonical_reason().unwrap_or("Error");
    let page = format!(
        "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\r\n<html><head>\r\n<title>{} {title}</title>\r\n</head><body>\r\n<h1>{title}</h1>\r\n<p>{text}</p>\r\n<hr />\r\n<address>Asterisk/22.10.1</address>\r\n</body></html>\r\n",
        status.as_u16()
    );
    let mut response = Response::new(Full::new(Bytes::from(page)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html"),
    );
    response
}

pub(super) fn no_content() -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

impl Sim {
    /// Starts the server on `config.listen`.
    pub async fn start(config: SimConfig) -> std::io::Result<Sim> {
        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let far_ends = config.journal.then(Vec::new);
        let shared = Arc::new(Shared {
            config,
            state: Mutex::new(State {
                epoch,
                far_ends,
                ..State::default()
            }),
            faults: Mutex::new(Faults::default()),
            addr,
            journal: Mutex::new(Vec::new()),
            journal_clients: Mutex::new(Vec::new()),
        });
        let (shutdown, rx) = watch::channel(false);
        tokio::spawn(accept_loop(shared.clone(), listener, rx));
        Ok(Sim { shared, shutdown })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The ARI base URL, such as `http://127.0.0.1:8088/ari`.
    pub fn base_url(&self) -> String {
        format!("http://{}/ari", self.shared.addr)
    }

    /// Changes the injected faults.
    pub fn faults(&self, change: impl FnOnce(&mut Faults)) {
        change(&mut lock(&self.shared.faults));
    }

    /// Closes every open event socket, as a network drop or an Asterisk restart would.
    pub fn drop_sockets(&self) {
        lock(&self.shared.state).drop_sockets();
    }

    /// Open event sockets.
    pub fn socket_count(&self) -> usize {
        lock(&self.shared.state).sockets.len()
    }

    /// Ids of the channels it holds.
    pub fn channel_ids(&self) -> Vec<String> {
        lock(&self.shared.state).channels.keys().cloned().collect()
    }

    /// A channel as ARI would report it.
    pub fn channel(&self, id: &str) -> Option<Channel> {
        lock(&self.shared.state)
            .channels
            .get(id)
            .map(|c| c.model.clone())
    }

    /// Ids of the bridges it holds.
    pub fn bridge_ids(&self) -> Vec<String> {
        lock(&self.shared.state).bridges.keys().cloned().collect()
    }

    /// A bridge as ARI would report it.
    pub fn bridge(&self, id: &str) -> Option<crate::ari::models::Bridge> {
        lock(&self.shared.state)
            .bridges
            .get(id)
            .map(|b| b.model.clone())
    }

    /// Puts a channel in place without any event (one that exists while nobody listens).
    pub fn insert_channel(&self, channel: Channel) {
        lock(&self.shared.state).channels.insert(
            channel.id.clone(),
            SimChannel {
                model: channel,
                ..SimChannel::default()
            },
        );
    }

    /// Removes a channel without any event (one that went away while nobody listened).
    /// The far end of a channel hangs up: a SIP BYE once answered (hangup request without a
    /// cause), a CANCEL before (cause 127), then StasisEnd, and ChannelDestroyed with `cause`
    /// for the apps subscribed to it. False when there is no such channel.
    pub fn hang_up(&self, id: &str, cause: i64) -> bool {
        let mut state = lock(&self.shared.state);
        if !state.channels.contains_key(id) {
            return false;
        }
        super::operations::far_hangup(&mut state, id, cause);
        true
    }

    pub fn remove_channel(&self, id: &str) {
        lock(&self.shared.state).channels.remove(id);
    }

    /// Sends any event to an application's socket (filters apply).
    pub fn emit(&self, app: &str, event: serde_json::Value) {
        lock(&self.shared.state).emit(app, event);
    }

    /// Sends raw text to an application's socket, as a broken or newer Asterisk might.
    pub fn emit_raw(&self, app: &str, text: &str) {
        lock(&self.shared.state).emit_raw(app, text);
    }

    /// The REST requests received so far (with `journal` on), as `METHOD /path?query` with
    /// the query's pairs sorted and unescaped, `/ari` left out.
    pub fn journal(&self) -> Vec<String> {
        lock(&self.shared.journal)
            .iter()
            .map(|(_, line)| line.clone())
            .collect()
    }

    /// The journal with the time each request arrived.
    pub fn journal_timed(&self) -> Vec<(Instant, String)> {
        lock(&self.shared.journal).clone()
    }

    /// The journal with the time each request arrived and who sent it (its User-Agent, such
    /// as `callwasm/0.1.0 (r1)`; "" when it had none).
    pub fn journal_by_client(&self) -> Vec<(Instant, String, String)> {
        let journal = lock(&self.shared.journal);
        let clients = lock(&self.shared.journal_clients);
        journal
            .iter()
            .zip(clients.iter())
            .map(|((at, line), client)| (*at, line.clone(), client.clone()))
            .collect()
    }

    /// When each far end hung up (with the journal on): a caller's phone or a callee, by
    /// channel id.
    pub fn far_ends(&self) -> Vec<(Instant, String)> {
        lock(&self.shared.state)
            .far_ends
            .clone()
            .unwrap_or_default()
    }

    /// Inbound calls whose Stasis() failed because no socket held their app.
    pub fn refused_entries(&self) -> u64 {
        lock(&self.shared.state).refused_entries
    }

    /// Whether an application has an event socket connected.
    pub fn listening(&self, app: &str) -> bool {
        lock(&self.shared.state).listening(app)
    }

    /// The applications with an event socket connected, sorted.
    pub fn listening_apps(&self) -> Vec<String> {
        let state = lock(&self.shared.state);
        let mut apps: Vec<String> = state
            .apps
            .keys()
            .filter(|a| state.listening(a))
            .cloned()
            .collect();
        apps.sort();
        apps
    }

    /// Places an inbound call and plays its caller's behaviour (hang up, DTMF). Returns the
    /// caller channel's id.
    pub fn place_call(&self, call: &InboundCall) -> String {
        place_call(&self.shared, call)
    }

    /// An inbound call entering `Stasis(app, args…)`: a caller channel in state Ring with the
    /// given caller ID and dialed extension, announced by StasisStart. Returns its id.
    pub fn inbound_call(
        &self,
        app: &str,
        caller: (&str, &str),
        exten: &str,
        args: &[&str],
    ) -> String {
        inbound(&self.shared, app, caller, exten, args)
    }
}

/// A SIP caller's channel `id` dialing `exten`, in state Ring with caller ID `caller` (name,
/// number), as the dialplan of `from-sipp` sees it.
fn caller_channel(
    state: &mut super::state::State,
    id: &str,
    caller: (&str, &str),
    exten: &str,
) -> crate::ari::models::Channel {
    state.next_name += 1;
    let seq = state.next_name;
    let mut channel = new_channel(
        id,
        format!("PJSIP/sipp-{seq:08x}"),
        "Ring",
        "from-sipp",
        exten,
    );
    channel.caller = crate::ari::models::CallerId {
        name: caller.0.into(),
        number: caller.1.into(),
    };
    channel
}

/// An inbound call offered by `StasisBroadcast()`: a caller channel in state Ring, in no app
/// until a router claims it ([`super::broadcast`]). Returns its id.
fn broadcast(
    shared: &Arc<Shared>,
    call: &InboundCall,
    offer: &super::calls::BroadcastOffer,
) -> String {
    let mut state = lock(&shared.state);
    let id = state.unique_id();
    let channel = caller_channel(
        &mut state,
        &id,
        (&call.caller_name, &call.caller_number),
        &call.exten,
    );
    state.channels.insert(
        id.clone(),
        SimChannel {
            model: channel,
            app: None,
            endpoint: "PJSIP/sipp".into(),
            inbound: true,
            ..SimChannel::default()
        },
    );
    super::broadcast::offer(
        shared,
        &mut state,
        &id,
        offer.timeout,
        &offer.filter,
        &call.args.join(":"),
        offer.notify_claimed,
    );
    id
}

/// An inbound call entering `Stasis(app, args…)`: a caller channel in state Ring with the
/// given caller ID and dialed extension, announced by StasisStart. Returns its id.
fn inbound(shared: &Shared, app: &str, caller: (&str, &str), exten: &str, args: &[&str]) -> String {
    let mut state = lock(&shared.state);
    let id = state.unique_id();
    if !state.listening(app) {
        // Stasis() fails on an app no socket holds (res_stasis.c: "Stasis app '…' not
        // registered" / "not active" once its socket closed); the dialplan goes on without
        // the app ever hearing of the channel. A router that is down misses these calls;
        // those already in the app when its socket dropped stay there.
        state.refused_entries += 1;
        return id;
    }
    let mut channel = caller_channel(&mut state, &id, caller, exten);
    channel.dialplan.app_name = "Stasis".into();
    channel.dialplan.app_data = std::iter::once(app)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(",");
    state.channels.insert(
        id.clone(),
        SimChannel {
            model: channel.clone(),
            app: Some(app.to_string()),
            endpoint: "PJSIP/sipp".into(),
            inbound: true,
            ..SimChannel::default()
        },
    );
    state.emit(
        app,
        serde_json::json!({
            "type": "StasisStart",
            "timestamp": timestamp(),
            "args": args,
            "channel": channel,
            "asterisk_id": "sim",
            "application": app,
        }),
    );
    id
}

pub(super) fn place_call(shared: &Arc<Shared>, call: &InboundCall) -> String {
    let args: Vec<&str> = call.args.iter().map(String::as_str).collect();
    let id = match &call.broadcast {
        Some(offer) => broadcast(shared, call, offer),
        None => inbound(
            shared,
            &call.app,
            (&call.caller_name, &call.caller_number),
            &call.exten,
            &args,
        ),
    };
    for (at, digit) in call.behaviour.dtmf.clone() {
        let (shared, id) = (shared.clone(), id.clone());
        tokio::spawn(async move {
            tokio::time::sleep(at).await;
            let state = lock(&shared.state);
            if let Some(c) = state.channels.get(&id)
                && let Some(app) = c.app.as_deref()
            {
                state.emit(
                    app,
                    serde_json::json!({
                        "type": "ChannelDtmfReceived",
                        "timestamp": timestamp(),
                        "digit": digit.to_string(),
                        "duration_ms": 100,
                        "channel": c.model,
                        "asterisk_id": "sim",
                        "application": app,
                    }),
                );
            }
        });
    }
    if let Some(c) = lock(&shared.state).channels.get_mut(&id) {
        c.hangup_after_answer = call.behaviour.hangup_after_answer;
    }
    if let Some(after) = call.behaviour.hangup_after {
        let (shared, id) = (shared.clone(), id.clone());
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let mut state = lock(&shared.state);
            if state.channels.contains_key(&id) {
                super::operations::far_hangup(&mut state, &id, 16);
            }
        });
    }
    id
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut listener = Some(listener);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let refuse_until = lock(&shared.faults).refuse_until;
        if let Some(until) = refuse_until.filter(|u| *u > Instant::now()) {
            // Closing the port is what makes connecting fail with "connection refused".
            listener = None;
            tokio::select! {
                _ = tokio::time::sleep_until(until.into()) => {}
                _ = shutdown.changed() => return,
            }
            continue;
        }
        let current = match &listener {
            Some(l) => l,
            None => match TcpListener::bind(shared.addr).await {
                Ok(l) => listener.insert(l),
                Err(e) => {
                    tracing::warn!("simulator cannot listen on {} again: {e}", shared.addr);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        tokio::select! {
            accepted = current.accept() => {
                if let Ok((stream, _)) = accepted {
                    let _ = stream.set_nodelay(true);
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |req| handle(shared.clone(), req));
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .with_upgrades()
                            .await;
                    });
                }
            }
            // Notice a refusal fault promptly.
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

fn authorized(
    config: &SimConfig,
    req: &Request<Incoming>,
    query: &HashMap<String, String>,
) -> bool {
    let expected = format!("{}:{}", config.user, config.password);
    if query.get("api_key") == Some(&expected) {
        return true;
    }
    let token = base64::engine::general_purpose::STANDARD.encode(&expected);
    req.headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Basic {token}"))
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, std::convert::Infallible> {
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    if !authorized(&shared.config, &req, &query) {
        return Ok(message(StatusCode::UNAUTHORIZED, "Authentication required"));
    }
    let path = req.uri().path().to_string();
    // The simulator's own control endpoint: place an inbound call.
    if path == "/sim/calls" && req.method() == Method::POST {
        return Ok(match InboundCall::from_query(&query) {
            Ok(call) => json(
                StatusCode::OK,
                serde_json::json!({ "id": place_call(&shared, &call) }),
            ),
            Err(e) => message(StatusCode::BAD_REQUEST, &e),
        });
    }
    let Some(rest) = path.strip_prefix("/ari") else {
        return Ok(message(StatusCode::NOT_FOUND, "Resource not found"));
    };
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    if req.method() == Method::GET && segments == ["events"] {
        return Ok(upgrade_events(shared, req, &query));
    }
    if let ["api-docs", file] = segments.as_slice() {
        // Asterisk writes the address the client used into basePath: the clients send their
        // requests there.
        let host = req
            .headers()
            .get(hyper::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map_or_else(|| shared.addr.to_string(), String::from);
        let docs = match file.strip_suffix(".json") {
            Some("resources") => Some(super::api_docs::resources(&host)),
            Some(name) => super::api_docs::resource(&host, name),
            None => None,
        };
        return Ok(match docs {
            Some(docs) => json(StatusCode::OK, docs),
            None => message(StatusCode::NOT_FOUND, "Resource not found"),
        });
    }

    let method = req.method().clone();
    let client = req
        .headers()
        .get(hyper::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = http_body_util::BodyExt::collect(req.into_body())
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if shared.config.journal {
        journal(&shared, &method, rest, &query, &segments, &body, &client);
    }
    let faults = lock(&shared.faults).clone();
    if !faults.rest_delay.is_zero() {
        tokio::time::sleep(faults.rest_delay).await;
    }
    if faults.fail_share > 0.0 && fastrand::f64() < faults.fail_share {
        let status =
            StatusCode::from_u16(faults.fail_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Ok(message(status, "Injected failure"));
    }
    if faults.garbage_bodies {
        let mut response = Response::new(Full::new(Bytes::from_static(b"<html>not json</html>")));
        *response.status_mut() = StatusCode::OK;
        return Ok(response);
    }
    let response = super::operations::route(&shared, &method, &segments, &query, &body);
    super::operations::release_held(&shared, &segments, &query);
    Ok(response)
}

/// Notes a REST request in the journal as `METHOD /path?sorted&query` (a create's variables
/// after it, sorted), whichever transport it came on.
pub(super) fn journal(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
    segments: &[&str],
    body: &[u8],
    client: &str,
) {
    let mut pairs: Vec<String> = query
        .iter()
        .filter(|(k, _)| k.as_str() != "api_key")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    pairs.sort();
    let line = match pairs.is_empty() {
        true => format!("{method} {path}"),
        false => format!("{method} {path}?{}", pairs.join("&")),
    };
    // A create's variables travel in its body: the journal shows them, sorted.
    let line = match create_variables_text(segments, body) {
        Some(vars) => format!("{line} {vars}"),
        None => line,
    };
    // Both under the journal's lock, so the two lists stay in step.
    let mut journal = lock(&shared.journal);
    journal.push((Instant::now(), line));
    lock(&shared.journal_clients).push(client.to_string());
}

/// Upgrades `GET /ari/events?app=…` to the event WebSocket.
fn upgrade_events(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    query: &HashMap<String, String>,
) -> Response<Body> {
    // As res/ari/ari_websockets.c: a missing `app` is a 400; each comma-separated name is
    // stripped of blanks, and an empty or over-long one fails the registration with a 500.
    let Some(app) = query.get("app").filter(|a| !a.is_empty()) else {
        return html_error(
            StatusCode::BAD_REQUEST,
            "HTTP request is missing param: [app]",
        );
    };
    let apps: Vec<String> = app.split(',').map(|a| a.trim().to_string()).collect();
    if apps
        .iter()
        .any(|a| a.is_empty() || a.len() > crate::router::config::MAX_APP_NAME_LEN)
    {
        return html_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Stasis app registration failed",
        );
    }
    let subscribe_all = query.get("subscribeAll").is_some_and(|v| v == "true");
    let Some(key) = req
        .headers()
        .get("sec-websocket-key")
        .map(|k| derive_accept_key(k.as_bytes()))
    else {
        return message(StatusCode::BAD_REQUEST, "WebSocket upgrade required");
    };
    // The `ari` subprotocol is accepted when asked for (t7); none is needed.
    let ari_protocol = req
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|p| p.to_str().ok())
        .is_some_and(|p| p.split(',').any(|p| p.trim() == "ari"));
    // Asterisk registers the apps before it answers 101 (websocket_attempted_cb), so a client
    // may use them as soon as the handshake is done; events meanwhile wait in the queue.
    let (tx, rx) = mpsc::unbounded_channel();
    let subscription = Subscription {
        id: lock(&shared.state).subscribe(&apps, subscribe_all, tx.clone()),
        tx,
        rx,
    };
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(req).await else {
            lock(&shared.state).unsubscribe(subscription.id);
            return;
        };
        let socket =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        serve_socket(shared, socket, apps, subscription).await;
    });
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::UPGRADE,
        hyper::header::HeaderValue::from_static("websocket"),
    );
    headers.insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("Upgrade"),
    );
    if let Ok(v) = key.parse() {
        headers.insert("sec-websocket-accept", v);
    }
    if ari_protocol {
        headers.insert(
            "sec-websocket-protocol",
            hyper::header::HeaderValue::from_static("ari"),
        );
    }
    response
}

/// An event socket's registration in the state, made before the handshake completes.
struct Subscription {
    id: u64,
    tx: mpsc::UnboundedSender<Outgoing>,
    rx: mpsc::UnboundedReceiver<Outgoing>,
}

async fn serve_socket(
    shared: Arc<Shared>,
    mut socket: WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>,
    apps: Vec<String>,
    subscription: Subscription,
) {
    let Subscription {
        id,
        tx: replies,
        mut rx,
    } = subscription;
    loop {
        if lock(&shared.faults).silent {
            // A silent socket: nothing read (so no pongs), nothing written, until closed.
            match rx.recv().await {
                Some(Outgoing::Close) | None => break,
                Some(Outgoing::Event(_)) => continue,
            }
        }
        tokio::select! {
            out = rx.recv() => match out {
                Some(Outgoing::Event(text)) => {
                    // Write what is queued behind it too, then flush once: one write per
                    // burst rather than per event.
                    let mut closing = false;
                    let mut sent = socket.feed(Message::text(text)).await.is_ok();
                    while sent && let Ok(next) = rx.try_recv() {
                        match next {
                            Outgoing::Event(text) => {
                                sent = socket.feed(Message::text(text)).await.is_ok();
                            }
                            Outgoing::Close => {
                                closing = true;
                                break;
                            }
                        }
                    }
                    if !sent || socket.flush().await.is_err() {
                        break;
                    }
                    if closing {
                        let _ = socket.close(None).await;
                        break;
                    }
                }
                Some(Outgoing::Close) | None => {
                    let _ = socket.close(None).await;
                    break;
                }
            },
            incoming = socket.next() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(Message::Text(text))) => {
                    // REST over the socket: the answer goes out behind what is queued.
                    let app = apps.first().map(String::as_str).unwrap_or_default();
                    if let Some(reply) = super::rest_socket::answer(&shared, app, &text) {
                        let _ = replies.send(Outgoing::Event(reply));
                    }
                }
                Some(Ok(_)) => {}
            },
            // Re-check the silence fault now and then.
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    lock(&shared.state).unsubscribe(id);
}

pub(super) fn application(name: &str, state: &State) -> Option<Application> {
    let app = state.apps.get(name)?;
    Some(Application {
        name: name.into(),
        channel_ids: state
            .channels
            .iter()
            .filter(|(_, c)| app.all || c.watched_by(name))
            .map(|(id, _)| id.clone())
            .collect(),
        events_allowed: app
            .allowed
            .iter()
            .map(|t| serde_json::json!({ "type": t }))
            .collect(),
        ..Application::default()
    })
}

/// `variables: {"A": "1", "B": "2"}` of a `channels/create` body, sorted, for the journal.
fn create_variables_text(segments: &[&str], body: &[u8]) -> Option<String> {
    if segments != ["channels", "create"] || body.is_empty() {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let map = value.get("variables")?.as_object()?;
    let mut pairs: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    pairs.sort();
    Some(format!("variables: {}", pairs.join(", ")))
}
