//! The admin API's server: a hyper HTTP/1 server on its own listener, routing the few
//! resources above to the tenants.

use crate::router::table::CallTable;
use crate::router::tenant::{MAX_COMPONENT_BYTES, Tenant, valid_label};
use crate::router::versions::Version;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Streams an upload into a temporary file, at most [`MAX_COMPONENT_BYTES`]; the error says
/// why it stopped.
async fn upload_to_disk(mut body: Incoming) -> Result<tempfile::NamedTempFile, String> {
    use tokio::io::AsyncWriteExt;
    let file =
        tempfile::NamedTempFile::new().map_err(|e| format!("no room for the upload: {e}"))?;
    let mut out = tokio::fs::File::from_std(
        file.reopen()
            .map_err(|e| format!("no room for the upload: {e}"))?,
    );
    let mut received = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("cannot read the component: {e}"))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        received += data.len();
        if received > MAX_COMPONENT_BYTES {
            return Err(format!(
                "cannot read the component: more than {MAX_COMPONENT_BYTES} bytes"
            ));
        }
        out.write_all(&data)
            .await
            .map_err(|e| format!("no room for the upload: {e}"))?;
    }
    out.flush()
        .await
        .map_err(|e| format!("no room for the upload: {e}"))?;
    Ok(file)
}

type Tenants = Arc<BTreeMap<String, Arc<Tenant>>>;

/// The admin API, bound and ready to serve.
pub struct Admin {
    listener: TcpListener,
    token: Arc<str>,
    tenants: Tenants,
    calls: Arc<CallTable>,
}

impl Admin {
    /// Binds the API's address.
    pub async fn bind(
        listen: SocketAddr,
        token: &str,
        tenants: Tenants,
        calls: Arc<CallTable>,
    ) -> std::io::Result<Admin> {
        Ok(Admin {
            listener: TcpListener::bind(listen).await?,
            token: Arc::from(token),
            tenants,
            calls,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` turns true.
    ///
    /// The listener faces whoever can reach it, token or not: a client gets
    /// [`HEADER_TIMEOUT`] to send its request head, one request per connection, at most
    /// [`MAX_CONNECTIONS`] connections at once (more are closed at once) and
    /// [`REQUESTS_PER_SECOND`] requests per second per address (more get 429). An accept
    /// error (out of file descriptors) pauses the loop instead of spinning it.
    pub async fn serve(self, mut shutdown: watch::Receiver<bool>) {
        let open = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        let clients = Arc::new(std::sync::Mutex::new(ClientRates::default()));
        loop {
            let accepted = tokio::select! {
                a = self.listener.accept() => a,
                _ = shutdown.changed() => return,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "admin API: accept failed; pausing");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            // Over the connection cap the connection is closed unanswered: answering would
            // cost what the cap is there to save.
            let Ok(permit) = open.clone().try_acquire_owned() else {
                continue;
            };
            let Some(held) = ClientRates::open(&clients, peer.ip()) else {
                continue; // this address holds its share of connections already
            };
            let limited = clients
                .lock()
                .map(|mut c| !c.admit(peer.ip(), Instant::now()))
                .unwrap_or(false);
            let (token, tenants, calls) =
                (self.token.clone(), self.tenants.clone(), self.calls.clone());
            tokio::spawn(async move {
                let _permit = (permit, held);
                let service = service_fn(move |req| {
                    let (token, tenants, calls) = (token.clone(), tenants.clone(), calls.clone());
                    async move {
                        if limited {
                            return Ok::<_, std::convert::Infallible>(error(
                                StatusCode::TOO_MANY_REQUESTS,
                                &format!(
                                    "more than {REQUESTS_PER_SECOND} requests per second from this address"
                                ),
                            ));
                        }
                        Ok(handle(req, &token, &tenants, &calls).await)
                    }
                });
                let connection = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .keep_alive(false)
                    .serve_connection(TokioIo::new(stream), service);
                // A request that is slow once its head is in (an upload trickling in) is cut
                // off too.
                let _ = tokio::time::timeout(CONNECTION_TIMEOUT, connection).await;
            });
        }
    }
}

/// Time a client has to send its request's head.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Time one connection may take in all, an upload and its check included.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(600);

/// Admin connections open at once.
pub const MAX_CONNECTIONS: usize = 64;

/// Requests per second one address may make (a burst of twice as many).
pub const REQUESTS_PER_SECOND: f64 = 20.0;

/// Admin connections one address may hold open at once.
pub const MAX_CONNECTIONS_PER_ADDRESS: usize = 8;

/// Addresses whose rates are tracked; the oldest is forgotten past it.
const MAX_CLIENTS: usize = 1024;

/// Request rates per client address (token buckets), and the connections each holds.
#[derive(Default)]
struct ClientRates {
    buckets: HashMap<std::net::IpAddr, (f64, Instant)>,
    open: HashMap<std::net::IpAddr, usize>,
}

/// A connection counted against its address; uncounted when dropped.
struct Held(Arc<std::sync::Mutex<ClientRates>>, std::net::IpAddr);

impl Drop for Held {
    fn drop(&mut self) {
        if let Ok(mut c) = self.0.lock()
            && let Some(n) = c.open.get_mut(&self.1)
        {
            *n -= 1;
            if *n == 0 {
                c.open.remove(&self.1);
            }
        }
    }
}

impl ClientRates {
    /// Counts a new connection from `ip`; None when it holds its share already.
    fn open(clients: &Arc<std::sync::Mutex<ClientRates>>, ip: std::net::IpAddr) -> Option<Held> {
        let mut c = clients.lock().ok()?;
        let n = c.open.entry(ip).or_insert(0);
        if *n >= MAX_CONNECTIONS_PER_ADDRESS {
            return None;
        }
        *n += 1;
        Some(Held(clients.clone(), ip))
    }

    /// Whether `ip` may make a request at `now`.
    fn admit(&mut self, ip: std::net::IpAddr, now: Instant) -> bool {
        if !self.buckets.contains_key(&ip) && self.buckets.len() >= MAX_CLIENTS {
            let oldest = self
                .buckets
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(ip, _)| *ip);
            if let Some(oldest) = oldest {
                self.buckets.remove(&oldest);
            }
        }
        let (tokens, at) = self
            .buckets
            .entry(ip)
            .or_insert((REQUESTS_PER_SECOND * 2.0, now));
        *tokens = (*tokens
            + now.saturating_duration_since(*at).as_secs_f64() * REQUESTS_PER_SECOND)
            .min(REQUESTS_PER_SECOND * 2.0);
        *at = now;
        if *tokens < 1.0 {
            return false;
        }
        *tokens -= 1.0;
        true
    }
}

fn json(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    json(status, serde_json::json!({ "error": message }))
}

/// Compares in time independent of where the strings differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Who a request speaks for.
enum Caller {
    Operator,
    Tenant(String),
}

fn identify(req: &Request<Incoming>, token: &str, tenants: &Tenants) -> Option<Caller> {
    let given = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))?;
    if same_secret(given.as_bytes(), token.as_bytes()) {
        return Some(Caller::Operator);
    }
    tenants.values().find_map(|t| {
        t.admin_token
            .as_ref()
            .filter(|own| same_secret(given.as_bytes(), own.as_bytes()))
            .map(|_| Caller::Tenant(t.name.clone()))
    })
}

/// A version as the API shows it.
pub fn version_json(v: &Version, live: bool) -> serde_json::Value {
    serde_json::json!({
        "name": v.name(),
        "hash": v.hash,
        "label": v.label,
        "live": live,
        "loaded": v.loaded(),
        "calls": v.calls.load(Ordering::Acquire),
        "served": v.served.load(Ordering::Acquire),
        "failed_calls": v.failed_calls.load(Ordering::Acquire),
        "loaded_at": v.loaded_at.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
    })
}

fn tenant_json(t: &Tenant) -> serde_json::Value {
    let live = t.versions.live();
    let c = &t.counters;
    serde_json::json!({
        "name": t.name,
        "apps": t.apps,
        "live": live.name(),
        "migrate": t.migrate,
        "versions": t.versions.history().iter().map(|v| version_json(v, Arc::ptr_eq(v, &live))).collect::<Vec<_>>(),
        "last_rollback": t.versions.last_rollback(),
        "loading": t.is_loading(),
        "instances": {"alive": t.slots.used(), "max": t.slots.max()},
        "counters": {
            "calls_opened": c.calls_opened.load(Ordering::Relaxed),
            "calls_ended": c.calls_ended.load(Ordering::Relaxed),
            "events_handled": c.events_handled.load(Ordering::Relaxed),
            "plugin_failures": c.plugin_failures.load(Ordering::Relaxed),
            "replies_refused": c.replies_refused.load(Ordering::Relaxed),
            "commands_failed": c.commands_failed.load(Ordering::Relaxed),
            "calls_refused": c.calls_refused.load(Ordering::Relaxed),
            "limits_hit": c.limits_hit.load(Ordering::Relaxed),
            "channels_in_progress": t.channels_live.load(Ordering::Relaxed),
        },
    })
}

async fn handle(
    req: Request<Incoming>,
    token: &str,
    tenants: &Tenants,
    calls: &CallTable,
) -> Response<Full<Bytes>> {
    let Some(caller) = identify(&req, token, tenants) else {
        return error(StatusCode::UNAUTHORIZED, "a valid token is required");
    };
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let path = req.uri().path().to_string();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let method = req.method().clone();
    // A tenant's token reaches its own tenant only.
    if let (Caller::Tenant(own), ["tenants", name, ..]) = (&caller, segments.as_slice())
        && own != name
    {
        return error(
            StatusCode::FORBIDDEN,
            &format!("this token is for tenant {own:?}, not {name:?}"),
        );
    }
    let tenant = |name: &str| tenants.get(name).cloned();
    match (method, segments.as_slice()) {
        (Method::GET, ["tenants"]) => json(
            StatusCode::OK,
            serde_json::json!(
                tenants
                    .values()
                    .filter(|t| match &caller {
                        Caller::Operator => true,
                        Caller::Tenant(own) => *own == t.name,
                    })
                    .map(|t| tenant_json(t))
                    .collect::<Vec<_>>()
            ),
        ),
        (Method::GET, ["tenants", name, "calls"]) => match tenant(name) {
            Some(t) => json(
                StatusCode::OK,
                serde_json::json!(
                    calls
                        .calls()
                        .into_iter()
                        .filter(|(_, e)| e.tenant == t.name)
                        .map(|(id, e)| serde_json::json!({
                            "id": id,
                            "server": e.server,
                            "caller_channel": e.caller,
                        }))
                        .collect::<Vec<_>>()
                ),
            ),
            None => error(StatusCode::NOT_FOUND, &format!("no tenant {name:?}")),
        },
        (Method::GET, ["tenants", name]) => match tenant(name) {
            Some(t) => json(StatusCode::OK, tenant_json(&t)),
            None => error(StatusCode::NOT_FOUND, &format!("no tenant {name:?}")),
        },
        (Method::PUT, ["tenants", name, "plugin"]) => {
            let Some(t) = tenant(name) else {
                return error(StatusCode::NOT_FOUND, &format!("no tenant {name:?}"));
            };
            let label = query.get("label").cloned().filter(|l| !l.is_empty());
            if let Some(label) = label.as_ref().filter(|l| !valid_label(l)) {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("the label {label:?} is not 1-64 characters of A-Z a-z 0-9 . _ - +"),
                );
            }
            // One version per tenant at a time, taken before the body is read: a tenant's
            // uploads never pile up in memory or compile side by side.
            let Some(turn) = t.load_turn() else {
                return error(
                    StatusCode::CONFLICT,
                    &format!(
                        "another version of tenant {:?} is being checked; try again when it is done",
                        t.name
                    ),
                );
            };
            let file = match upload_to_disk(req.into_body()).await {
                Ok(file) => file,
                Err(e) => return error(StatusCode::PAYLOAD_TOO_LARGE, &e),
            };
            let installer = t.clone();
            let asked_label = label.clone();
            let installed = tokio::task::spawn_blocking(move || {
                let bytes = std::fs::read(file.path()).map_err(|e| {
                    crate::router::tenant::Rejected::Load(crate::runtime::LoadError::Read {
                        path: "the upload".into(),
                        source: e,
                    })
                })?;
                installer.install(&turn, &bytes, label)
            })
            .await;
            match installed {
                // Bytes already kept keep their version and its label (labels name contents,
                // and a rollback by label must stay unambiguous): say so rather than silently
                // dropping the new label.
                Ok(Ok(v)) => match asked_label.filter(|l| v.label.as_ref() != Some(l)) {
                    Some(asked) => {
                        let mut body = version_json(&v, true);
                        body["note"] = serde_json::Value::String(format!(
                            "these bytes are already kept as version {}; the label {asked:?} was not applied",
                            v.name()
                        ));
                        json(StatusCode::CREATED, body)
                    }
                    None => json(StatusCode::CREATED, version_json(&v, true)),
                },
                Ok(Err(rejected)) => {
                    let reason = format!("version rejected: {rejected}");
                    tracing::warn!(tenant = %t.name, reason = %crate::log_text::escaped(&reason));
                    error(StatusCode::UNPROCESSABLE_ENTITY, &reason)
                }
                Err(e) => error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("checking the version failed: {e}"),
                ),
            }
        }
        (Method::POST, ["tenants", name, "rollback"]) => {
            let Some(t) = tenant(name) else {
                return error(StatusCode::NOT_FOUND, &format!("no tenant {name:?}"));
            };
            let Some(to) = query.get("to").cloned() else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "missing parameter `to` (a label or hash)",
                );
            };
            let roller = t.clone();
            match tokio::task::spawn_blocking(move || roller.rollback(&to)).await {
                Ok(Ok(v)) => json(StatusCode::OK, version_json(&v, true)),
                Ok(Err(reason)) => error(StatusCode::NOT_FOUND, &reason),
                Err(e) => error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("rollback failed: {e}"),
                ),
            }
        }
        _ => error(StatusCode::NOT_FOUND, "no such resource"),
    }
}
