//! The ARI REST client: typed calls over a keep-alive HTTP/1.1 connection pool.
//!
//! One client per Asterisk server. Every call has a timeout, and every failure comes back as
//! an [`AriError`] naming the server, the operation and the resource.

use super::error::{AriError, AriErrorKind, asterisk_message};
use super::models::{Application, AsteriskPing, Bridge, Channel, Playback, Variable};
use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How the client proves who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// HTTP Basic, as ari.conf users.
    Basic { user: String, password: String },
    /// `api_key=user:password` on every request, as the WebSocket needs anyway.
    ApiKey(String),
}

/// Connection settings for one Asterisk server.
#[derive(Debug, Clone)]
pub struct RestConfig {
    /// Base URL including Asterisk's prefix, such as `http://127.0.0.1:8088/ari`.
    pub base_url: String,
    pub auth: Auth,
    /// Keep-alive connections kept, and requests in flight at once.
    pub pool_size: usize,
    /// Time one request may take, connection included.
    pub timeout: Duration,
}

/// Parameters of `POST /channels/create`.
#[derive(Debug, Clone, Default)]
pub struct CreateChannel<'a> {
    pub endpoint: &'a str,
    pub app: &'a str,
    pub app_args: Option<&'a str>,
    pub channel_id: Option<&'a str>,
    pub originator: Option<&'a str>,
    pub formats: Option<&'a str>,
    /// Channel variables (and functions such as `CONNECTEDLINE(num)`) set as it is created.
    pub variables: &'a [(&'a str, &'a str)],
}

/// Parameters of `POST /channels` (originate into an application).
#[derive(Debug, Clone, Default)]
pub struct Originate<'a> {
    pub endpoint: &'a str,
    pub app: &'a str,
    pub app_args: Option<&'a str>,
    pub channel_id: Option<&'a str>,
    pub caller_id: Option<&'a str>,
    pub timeout_s: Option<u32>,
    pub originator: Option<&'a str>,
    pub formats: Option<&'a str>,
}

/// What a playback plays to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayTarget<'a> {
    Channel(&'a str),
    Bridge(&'a str),
}

/// The ARI REST client of one Asterisk server. Cheap to clone.
#[derive(Clone)]
pub struct Rest {
    inner: Arc<Inner>,
}

struct Inner {
    server: String,
    base: String,
    auth_header: Option<hyper::header::HeaderValue>,
    api_key: Option<String>,
    timeout: Duration,
    client: Client<HttpConnector, Full<Bytes>>,
    in_flight: Semaphore,
    /// `callwasm/<version> (<router>)`: Asterisk's HTTP log (and the simulator's journal)
    /// tell the routers apart.
    agent: hyper::header::HeaderValue,
    /// A router sharing its calls sends nothing that changes one without a good lease.
    fence: Option<crate::cluster::Fence>,
}

type Query<'a> = &'a [(&'a str, Option<&'a str>)];

impl Rest {
    /// A client for the server named `server` (the name every error and event carries).
    pub fn new(server: &str, config: &RestConfig) -> Result<Self, AriError> {
        Self::for_router(server, config, None, None)
    }

    /// A client for router `instance` (named in each request's User-Agent), whose requests
    /// other than GETs wait for `fence` to hold.
    pub fn for_router(
        server: &str,
        config: &RestConfig,
        instance: Option<&str>,
        fence: Option<crate::cluster::Fence>,
    ) -> Result<Self, AriError> {
        let agent = match instance {
            Some(i) => format!("callwasm/{} ({i})", env!("CARGO_PKG_VERSION")),
            None => format!("callwasm/{}", env!("CARGO_PKG_VERSION")),
        };
        let agent = hyper::header::HeaderValue::from_str(&agent)
            .unwrap_or_else(|_| hyper::header::HeaderValue::from_static("callwasm"));
        let base = config.base_url.trim_end_matches('/').to_string();
        if !base.starts_with("http://") {
            return Err(AriError {
                server: server.into(),
                op: "config",
                resource: base,
                kind: AriErrorKind::Transport("base URL must start with http://".into()),
            });
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(config.timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(config.pool_size)
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        let (auth_header, api_key) = match &config.auth {
            Auth::Basic { user, password } => {
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                let value = hyper::header::HeaderValue::from_str(&format!("Basic {token}"))
                    .map_err(|e| AriError {
                        server: server.into(),
                        op: "config",
                        resource: String::new(),
                        kind: AriErrorKind::Transport(format!("credentials: {e}")),
                    })?;
                (Some(value), None)
            }
            Auth::ApiKey(key) => (None, Some(key.clone())),
        };
        Ok(Rest {
            inner: Arc::new(Inner {
                server: server.into(),
                base,
                auth_header,
                api_key,
                timeout: config.timeout,
                client,
                in_flight: Semaphore::new(config.pool_size.max(1)),
                agent,
                fence,
            }),
        })
    }

    /// The server's name.
    pub fn server(&self) -> &str {
        &self.inner.server
    }

    fn error(&self, op: &'static str, resource: &str, kind: AriErrorKind) -> AriError {
        AriError {
            server: self.inner.server.clone(),
            op,
            resource: resource.into(),
            kind,
        }
    }

    fn url(&self, path: &str, query: Query<'_>) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in query {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        if let Some(key) = &self.inner.api_key {
            q.append_pair("api_key", key);
        }
        let q = q.finish();
        if q.is_empty() {
            format!("{}{}", self.inner.base, path)
        } else {
            format!("{}{}?{}", self.inner.base, path, q)
        }
    }

    /// Sends one request; the body of a 2xx answer, or the error.
    async fn send(
        &self,
        op: &'static str,
        resource: &str,
        method: Method,
        path: &str,
        query: Query<'_>,
        body: Option<serde_json::Value>,
    ) -> Result<Bytes, AriError> {
        let url = self.url(path, query);
        let changes = method != Method::GET;
        let mut request = Request::builder()
            .method(method)
            .uri(url)
            .header(hyper::header::USER_AGENT, self.inner.agent.clone());
        if let Some(auth) = &self.inner.auth_header {
            request = request.header(hyper::header::AUTHORIZATION, auth.clone());
        }
        let body = match body {
            Some(json) => {
                request = request.header(hyper::header::CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(json.to_string()))
            }
            None => Full::new(Bytes::new()),
        };
        let request = request
            .body(body)
            .map_err(|e| self.error(op, resource, AriErrorKind::Transport(e.to_string())))?;
        let _permit = self
            .inner
            .in_flight
            .acquire()
            .await
            .map_err(|e| self.error(op, resource, AriErrorKind::Transport(e.to_string())))?;
        // Checked last before sending: a router paused past its lease wakes here.
        if changes && let Some(fence) = &self.inner.fence {
            fence
                .hold(self.inner.timeout)
                .await
                .map_err(|e| self.error(op, resource, AriErrorKind::Fenced(e.to_string())))?;
        }
        let exchange = async {
            let response = self
                .inner
                .client
                .request(request)
                .await
                .map_err(|e| AriErrorKind::Transport(transport_reason(&e)))?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| AriErrorKind::Transport(e.to_string()))?
                .to_bytes();
            if status.is_success() {
                Ok(bytes)
            } else {
                Err(AriErrorKind::Status {
                    status: status.as_u16(),
                    message: asterisk_message(&bytes),
                })
            }
        };
        let began = std::time::Instant::now();
        let result = match tokio::time::timeout(self.inner.timeout, exchange).await {
            Ok(result) => result.map_err(|kind| self.error(op, resource, kind)),
            Err(_) => Err(self.error(op, resource, AriErrorKind::Timeout(self.inner.timeout))),
        };
        // Every request at debug, as the demo prints them: what was asked and what came back.
        if tracing::enabled!(tracing::Level::DEBUG) {
            let took_us = began.elapsed().as_micros() as u64;
            match &result {
                Ok(_) => tracing::debug!(op, %resource, took_us, "ARI request ok"),
                Err(e) => {
                    tracing::debug!(op, %resource, took_us, error = %crate::log_text::escaped(e), "ARI request failed")
                }
            }
        }
        result
    }

    async fn json<T: DeserializeOwned>(
        &self,
        op: &'static str,
        resource: &str,
        method: Method,
        path: &str,
        query: Query<'_>,
        body: Option<serde_json::Value>,
    ) -> Result<T, AriError> {
        let bytes = self.send(op, resource, method, path, query, body).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| self.error(op, resource, AriErrorKind::BadBody(e.to_string())))
    }

    async fn empty(
        &self,
        op: &'static str,
        resource: &str,
        method: Method,
        path: &str,
        query: Query<'_>,
    ) -> Result<(), AriError> {
        self.send(op, resource, method, path, query, None)
            .await
            .map(|_| ())
    }

    // --- channels ---

    /// `POST /channels/create`: a channel that is not dialed yet.
    pub async fn create_channel(&self, p: &CreateChannel<'_>) -> Result<Channel, AriError> {
        let resource = p.channel_id.unwrap_or(p.endpoint);
        let query = [
            ("endpoint", Some(p.endpoint)),
            ("app", Some(p.app)),
            ("appArgs", p.app_args),
            ("channelId", p.channel_id),
            ("originator", p.originator),
            ("formats", p.formats),
        ];
        let body = (!p.variables.is_empty()).then(|| {
            let variables: serde_json::Map<String, serde_json::Value> = p
                .variables
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
                .collect();
            serde_json::json!({ "variables": variables })
        });
        self.json(
            "channels.create",
            resource,
            Method::POST,
            "/channels/create",
            &query,
            body,
        )
        .await
    }

    /// `POST /channels`: originate a channel into an application.
    pub async fn originate(&self, p: &Originate<'_>) -> Result<Channel, AriError> {
        let timeout = p.timeout_s.map(|t| t.to_string());
        let query = [
            ("endpoint", Some(p.endpoint)),
            ("app", Some(p.app)),
            ("appArgs", p.app_args),
            ("channelId", p.channel_id),
            ("callerId", p.caller_id),
            ("timeout", timeout.as_deref()),
            ("originator", p.originator),
            ("formats", p.formats),
        ];
        let resource = p.channel_id.unwrap_or(p.endpoint);
        self.json(
            "channels.originate",
            resource,
            Method::POST,
            "/channels",
            &query,
            None,
        )
        .await
    }

    /// `POST /channels/{id}/dial`.
    pub async fn dial(
        &self,
        id: &str,
        caller: Option<&str>,
        timeout_s: Option<u32>,
    ) -> Result<(), AriError> {
        let timeout = timeout_s.map(|t| t.to_string());
        let query = [("caller", caller), ("timeout", timeout.as_deref())];
        let path = format!("/channels/{id}/dial");
        self.empty("channels.dial", id, Method::POST, &path, &query)
            .await
    }

    /// `GET /channels/{id}/variable`.
    pub async fn get_variable(&self, id: &str, name: &str) -> Result<String, AriError> {
        let path = format!("/channels/{id}/variable");
        let v: Variable = self
            .json(
                "channels.getVariable",
                id,
                Method::GET,
                &path,
                &[("variable", Some(name))],
                None,
            )
            .await?;
        Ok(v.value)
    }

    /// `POST /channels/{id}/variable`.
    pub async fn set_variable(&self, id: &str, name: &str, value: &str) -> Result<(), AriError> {
        let path = format!("/channels/{id}/variable");
        let query = [("variable", Some(name)), ("value", Some(value))];
        self.empty("channels.setVariable", id, Method::POST, &path, &query)
            .await
    }

    /// `POST /channels/{id}/answer`.
    pub async fn answer(&self, id: &str) -> Result<(), AriError> {
        let path = format!("/channels/{id}/answer");
        self.empty("channels.answer", id, Method::POST, &path, &[])
            .await
    }

    /// `POST /channels/{id}/ring`.
    pub async fn ring(&self, id: &str) -> Result<(), AriError> {
        let path = format!("/channels/{id}/ring");
        self.empty("channels.ring", id, Method::POST, &path, &[])
            .await
    }

    /// `POST /channels/{id}/progress`.
    pub async fn progress(&self, id: &str) -> Result<(), AriError> {
        let path = format!("/channels/{id}/progress");
        self.empty("channels.progress", id, Method::POST, &path, &[])
            .await
    }

    /// `DELETE /channels/{id}` with a Q.850 cause code.
    pub async fn hangup(&self, id: &str, cause: u8) -> Result<(), AriError> {
        let path = format!("/channels/{id}");
        let code = cause.to_string();
        let query = [("reason_code", Some(code.as_str()))];
        self.empty("channels.hangup", id, Method::DELETE, &path, &query)
            .await
    }

    /// `POST /channels/{id}/play` or `POST /bridges/{id}/play`: media URIs in turn, under
    /// `playback_id`.
    pub async fn play(
        &self,
        target: PlayTarget<'_>,
        media: &[String],
        playback_id: &str,
    ) -> Result<Playback, AriError> {
        let (op, path, id) = match target {
            PlayTarget::Channel(id) => ("channels.play", format!("/channels/{id}/play"), id),
            PlayTarget::Bridge(id) => ("bridges.play", format!("/bridges/{id}/play"), id),
        };
        let media = media.join(",");
        let query = [
            ("media", Some(media.as_str())),
            ("playbackId", Some(playback_id)),
        ];
        self.json(op, id, Method::POST, &path, &query, None).await
    }

    /// `DELETE /playbacks/{id}`.
    pub async fn stop_playback(&self, id: &str) -> Result<(), AriError> {
        let path = format!("/playbacks/{id}");
        self.empty("playbacks.stop", id, Method::DELETE, &path, &[])
            .await
    }

    /// `POST /channels/{id}/moh`.
    pub async fn start_moh(&self, id: &str, class: Option<&str>) -> Result<(), AriError> {
        let path = format!("/channels/{id}/moh");
        self.empty(
            "channels.startMoh",
            id,
            Method::POST,
            &path,
            &[("mohClass", class)],
        )
        .await
    }

    /// `DELETE /channels/{id}/moh`.
    pub async fn stop_moh(&self, id: &str) -> Result<(), AriError> {
        let path = format!("/channels/{id}/moh");
        self.empty("channels.stopMoh", id, Method::DELETE, &path, &[])
            .await
    }

    /// `POST /channels/{id}/continue`.
    pub async fn continue_in_dialplan(
        &self,
        id: &str,
        context: Option<&str>,
        extension: Option<&str>,
        priority: Option<i32>,
    ) -> Result<(), AriError> {
        let path = format!("/channels/{id}/continue");
        let priority = priority.map(|p| p.to_string());
        let query = [
            ("context", context),
            ("extension", extension),
            ("priority", priority.as_deref()),
        ];
        self.empty(
            "channels.continueInDialplan",
            id,
            Method::POST,
            &path,
            &query,
        )
        .await
    }

    /// `GET /channels`.
    pub async fn list_channels(&self) -> Result<Vec<Channel>, AriError> {
        self.json("channels.list", "", Method::GET, "/channels", &[], None)
            .await
    }

    /// `GET /channels/{id}`.
    pub async fn get_channel(&self, id: &str) -> Result<Channel, AriError> {
        let path = format!("/channels/{id}");
        self.json("channels.get", id, Method::GET, &path, &[], None)
            .await
    }

    // --- bridges ---

    /// `POST /bridges` with the id chosen by the caller.
    pub async fn create_bridge(&self, id: &str, kind: &str) -> Result<Bridge, AriError> {
        let query = [("bridgeId", Some(id)), ("type", Some(kind))];
        self.json("bridges.create", id, Method::POST, "/bridges", &query, None)
            .await
    }

    /// `POST /bridges/{id}/addChannel`. `inhibit_connected_line` keeps the channels' connected
    /// line as it was set (the caller ID a callee sees with early bridging).
    pub async fn add_channels(
        &self,
        id: &str,
        channels: &[&str],
        inhibit_connected_line: bool,
    ) -> Result<(), AriError> {
        let path = format!("/bridges/{id}/addChannel");
        let list = channels.join(",");
        let query = [
            ("channel", Some(list.as_str())),
            (
                "inhibitConnectedLineUpdates",
                inhibit_connected_line.then_some("true"),
            ),
        ];
        self.empty("bridges.addChannel", id, Method::POST, &path, &query)
            .await
    }

    /// `POST /bridges/{id}/removeChannel`.
    pub async fn remove_channels(&self, id: &str, channels: &[&str]) -> Result<(), AriError> {
        let path = format!("/bridges/{id}/removeChannel");
        let list = channels.join(",");
        let query = [("channel", Some(list.as_str()))];
        self.empty("bridges.removeChannel", id, Method::POST, &path, &query)
            .await
    }

    /// `POST /events/claim`: claims channel `id`, offered by StasisBroadcast, for `app`.
    /// True: this app won it (its StasisStart follows); false: another app won it (409) or
    /// the offer is over (404).
    pub async fn claim(&self, id: &str, app: &str) -> Result<bool, AriError> {
        let query = [("channelId", Some(id)), ("application", Some(app))];
        match self
            .empty("events.claim", id, Method::POST, "/events/claim", &query)
            .await
        {
            Ok(()) => Ok(true),
            Err(e) if matches!(e.status(), Some(404 | 409)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `DELETE /bridges/{id}`.
    pub async fn destroy_bridge(&self, id: &str) -> Result<(), AriError> {
        let path = format!("/bridges/{id}");
        self.empty("bridges.destroy", id, Method::DELETE, &path, &[])
            .await
    }

    /// `GET /bridges`.
    pub async fn list_bridges(&self) -> Result<Vec<Bridge>, AriError> {
        self.json("bridges.list", "", Method::GET, "/bridges", &[], None)
            .await
    }

    // --- applications and asterisk ---

    /// `GET /applications/{name}`: fails with 404 while no WebSocket registered the app.
    pub async fn get_application(&self, name: &str) -> Result<Application, AriError> {
        let path = format!("/applications/{name}");
        self.json("applications.get", name, Method::GET, &path, &[], None)
            .await
    }

    /// `PUT /applications/{name}/eventFilter`: only these event types reach the app.
    pub async fn set_event_filter(
        &self,
        name: &str,
        allowed: &[&str],
    ) -> Result<Application, AriError> {
        let path = format!("/applications/{name}/eventFilter");
        let body = serde_json::json!({
            "allowed": allowed.iter().map(|t| serde_json::json!({"type": t})).collect::<Vec<_>>(),
            "disallowed": [],
        });
        self.json(
            "applications.filter",
            name,
            Method::PUT,
            &path,
            &[],
            Some(body),
        )
        .await
    }

    /// `GET /asterisk/info`.
    pub async fn asterisk_info(&self) -> Result<serde_json::Value, AriError> {
        self.json(
            "asterisk.info",
            "",
            Method::GET,
            "/asterisk/info",
            &[],
            None,
        )
        .await
    }

    /// `GET /asterisk/ping`.
    pub async fn ping(&self) -> Result<AsteriskPing, AriError> {
        self.json(
            "asterisk.ping",
            "",
            Method::GET,
            "/asterisk/ping",
            &[],
            None,
        )
        .await
    }
}

/// The innermost cause of a hyper client error ("connection refused", not "client error").
fn transport_reason(error: &hyper_util::client::legacy::Error) -> String {
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}
