//! The rig the router's end-to-end tests share: a simulator, a router serving tenants
//! against it (with its admin API), and helpers to wait on and read what happened.
#![allow(dead_code)]

use super::common;
use callwasm::admin::Admin;
use callwasm::router::Router;
use callwasm::router::config::Config;
use callwasm::router::observe::{Observation, Observer};
use callwasm::router::table::CallTable;
use callwasm::sim::Sim;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// The operator token of the rig's admin API.
pub const TOKEN: &str = "test-operator-token-0123456789";

/// A router serving tenants against a simulator.
pub struct Rig {
    pub sim: Sim,
    pub table: Arc<CallTable>,
    pub observations: mpsc::UnboundedReceiver<Observation>,
    pub shutdown: watch::Sender<bool>,
    pub router: tokio::task::JoinHandle<()>,
    /// The admin API's address.
    pub admin: SocketAddr,
    /// The router's call store lives here while the rig does.
    _store: tempfile::TempDir,
}

impl Rig {
    /// Starts a router with `tenants` (TOML; `{early_dial}`, `{rogue}`, `{swap_blue}` replaced
    /// by the components' paths) against `sim`, with its admin API, and waits until it listens.
    pub async fn start(sim: Sim, tenants: &str) -> Rig {
        let text = format!(
            "instance = \"rig\"\n[servers.sim]\nurl = \"{}\"\nuser = \"asterisk\"\npassword = \"asterisk\"\n\n{}",
            sim.base_url(),
            tenants
                .replace(
                    "{early_dial}",
                    &common::plugin_path("early-dial").display().to_string()
                )
                .replace(
                    "{swap_blue}",
                    &common::plugin_path("swap-blue").display().to_string()
                )
                .replace(
                    "{rogue}",
                    &common::plugin_path("rogue").display().to_string()
                )
        );
        let mut config = Config::parse(&text).unwrap_or_else(|e| panic!("config: {e}\n{text}"));
        let store = tempfile::tempdir().expect("store dir");
        config.store = callwasm::store::StoreConfig::in_dir(store.path());
        let (observer, observations) = Observer::channel();
        let router = Router::new(&config, observer).expect("router");
        let table = router.table();
        let admin = Admin::bind(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            TOKEN,
            router.tenants(),
            router.table(),
        )
        .await
        .expect("admin API");
        let admin_addr = admin.addr().expect("admin address");
        let apps: Vec<String> = config
            .tenants
            .values()
            .flat_map(|t| t.apps.clone())
            .collect();
        let (shutdown, rx) = watch::channel(false);
        tokio::spawn(admin.serve(rx.clone()));
        let router = tokio::spawn(router.run(rx));
        let began = Instant::now();
        while !apps.iter().all(|a| sim.listening(a)) {
            assert!(
                began.elapsed() < Duration::from_secs(60),
                "router never subscribed"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // The stream sets filters and resyncs right after subscribing.
        tokio::time::sleep(Duration::from_millis(100)).await;
        Rig {
            sim,
            table,
            observations,
            shutdown,
            router,
            admin: admin_addr,
            _store: store,
        }
    }

    /// Waits until `done` holds of the simulator, or fails after `limit`.
    pub async fn until(&self, limit: Duration, what: &str, done: impl Fn(&Sim) -> bool) {
        let began = Instant::now();
        while !done(&self.sim) {
            assert!(began.elapsed() < limit, "timed out waiting for: {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until the router's call table is empty (every call's record gone), or fails
    /// after `limit` naming how many are left.
    pub async fn until_no_calls(&self, limit: Duration) {
        let began = Instant::now();
        while !self.table.is_empty() {
            assert!(
                began.elapsed() < limit,
                "{} call records left",
                self.table.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.router).await;
    }

    /// The observations so far.
    pub fn drain(&mut self) -> Vec<Observation> {
        let mut out = Vec::new();
        while let Ok(o) = self.observations.try_recv() {
            out.push(o);
        }
        out
    }
}

/// An admin API request; the status and the JSON answer.
pub async fn admin(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = client
        .request(request.body(Full::new(Bytes::from(body))).expect("request"))
        .await
        .expect("admin API answers");
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}
