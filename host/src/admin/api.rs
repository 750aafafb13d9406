//! The admin API's server: a hyper HTTP/1 server on its own listener, routing the few
//! resources above to the tenants.

use crate::router::table::CallTable;
use crate::router::tenant::Tenant;
use crate::router::versions::Version;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The largest component accepted (Python and JavaScript components are 10–20 MB).
const MAX_UPLOAD: usize = 64 << 20;

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
    pub async fn serve(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let accepted = tokio::select! {
                a = self.listener.accept() => a,
                _ = shutdown.changed() => return,
            };
            let Ok((stream, _)) = accepted else { continue };
            let (token, tenants, calls) =
                (self.token.clone(), self.tenants.clone(), self.calls.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let (token, tenants, calls) = (token.clone(), tenants.clone(), calls.clone());
                    async move {
                        Ok::<_, std::convert::Infallible>(
                            handle(req, &token, &tenants, &calls).await,
                        )
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
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
            let body = match Limited::new(req.into_body(), MAX_UPLOAD).collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => {
                    return error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        &format!("cannot read the component (at most {MAX_UPLOAD} bytes): {e}"),
                    );
                }
            };
            let label = query.get("label").cloned().filter(|l| !l.is_empty());
            let installer = t.clone();
            let installed =
                tokio::task::spawn_blocking(move || installer.install(&body, label)).await;
            match installed {
                Ok(Ok(v)) => json(StatusCode::CREATED, version_json(&v, true)),
                Ok(Err(rejected)) => {
                    let reason = format!("version rejected: {rejected}");
                    tracing::warn!(tenant = %t.name, %reason);
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
