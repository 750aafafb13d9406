//! The real-Asterisk rig: a throwaway Asterisk started by scripts/asterisk with the project's
//! config (tests/asterisk/), SIPp agents and callers (tests/asterisk/sipp/), and a router
//! running early-dial against it in this process.

use callwasm::router::Router;
use callwasm::router::config::Config;
use callwasm::router::observe::{Observation, Observer};
use callwasm::router::table::CallTable;
use callwasm::runtime as wit;
use std::collections::HashMap;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

fn sipp_file(name: &str) -> PathBuf {
    workspace().join("tests/asterisk/sipp").join(name)
}

/// This test's turn with the machine, or None (after a loud line) when the real Asterisk or
/// SIPp is not there and not required.
pub async fn turn() -> Option<tokio::sync::MutexGuard<'static, ()>> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let missing = missing();
    if let Some(what) = missing {
        let required = std::env::var("CALLWASM_REQUIRE_ASTERISK").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "CALLWASM_REQUIRE_ASTERISK=1 but {what}: run scripts/asterisk build and apt-get install sip-tester"
        );
        eprintln!(
            "\n*** SKIPPED: real-Asterisk test not run: {what}. Build it with scripts/asterisk build, install SIPp (apt-get install sip-tester). ***\n"
        );
        return None;
    }
    Some(TURN.lock().await)
}

fn missing() -> Option<String> {
    let built = Command::new(workspace().join("scripts/asterisk"))
        .arg("path")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !built {
        return Some("Asterisk is not built".into());
    }
    let sipp = Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    (!sipp).then(|| "SIPp is not installed".into())
}

/// A free UDP port on `ip`.
fn free_udp(ip: &str) -> u16 {
    UdpSocket::bind((ip, 0))
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port")
}

/// An agent endpoint Asterisk can dial (`PJSIP/<name>`), answered by a SIPp scenario on
/// 127.0.0.3.
#[derive(Debug, Clone)]
pub struct Agent {
    pub name: &'static str,
    /// The SIPp scenario that plays it; None for an address where nothing listens.
    pub scenario: Option<&'static str>,
}

impl Agent {
    /// The agents of the seed-flow scenarios: routes 2001–2005 of the router's tenant.
    pub fn all() -> Vec<Agent> {
        vec![
            Agent {
                name: "agent",
                scenario: Some("agent_answers.xml"),
            },
            Agent {
                name: "agent_bye",
                scenario: Some("agent_hangs_up.xml"),
            },
            Agent {
                name: "busy",
                scenario: Some("agent_busy.xml"),
            },
            Agent {
                name: "noanswer",
                scenario: Some("agent_rings.xml"),
            },
            Agent {
                name: "nobody",
                scenario: None,
            },
        ]
    }
}

/// A running throwaway Asterisk.
pub struct Pbx {
    dir: tempfile::TempDir,
    env: HashMap<String, String>,
    agents: HashMap<&'static str, (Agent, u16)>,
    http: reqwest_lite::Client,
}

impl Pbx {
    /// Writes the agents' endpoints and starts Asterisk on free ports.
    pub fn start(agents: &[Agent]) -> Result<Pbx, String> {
        let dir = tempfile::Builder::new()
            .prefix("callwasm-asterisk-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let mut conf = String::new();
        let mut ports = HashMap::new();
        for agent in agents {
            let port = free_udp("127.0.0.3");
            conf.push_str(&format!(
                "[{n}](endpoint-common)\ncontext = from-agent\naors = {n}\n\n[{n}]\ntype = aor\ncontact = sip:agent@127.0.0.3:{port}\n\n",
                n = agent.name
            ));
            ports.insert(agent.name, (agent.clone(), port));
        }
        std::fs::write(dir.path().join("agents.conf"), conf).map_err(|e| e.to_string())?;
        let env = start_asterisk(dir.path(), &HashMap::new())?;
        let http = reqwest_lite::Client::new(&env["ASTERISK_ARI_URL"]);
        Ok(Pbx {
            dir,
            env,
            agents: ports,
            http,
        })
    }

    /// Stops Asterisk (channels and all) and starts it again on the same ports.
    pub fn restart(&mut self) -> Result<(), String> {
        stop_asterisk(self.dir.path());
        let keep: HashMap<String, String> = [
            "ASTERISK_HTTP_PORT",
            "ASTERISK_SIP_PORT",
            "ASTERISK_RTP_START",
        ]
        .iter()
        .map(|k| (k.to_string(), self.env[*k].clone()))
        .collect();
        self.env = start_asterisk(self.dir.path(), &keep)?;
        Ok(())
    }

    /// The address ARI (HTTP and WebSocket) listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        let port: u16 = self.env["ASTERISK_HTTP_PORT"].parse().expect("a port");
        std::net::SocketAddr::from(([127, 0, 0, 1], port))
    }

    pub fn ari_url(&self) -> &str {
        &self.env["ASTERISK_ARI_URL"]
    }

    pub fn sip_port(&self) -> &str {
        &self.env["ASTERISK_SIP_PORT"]
    }

    /// A SIPp agent for `name`, ready to be started.
    pub fn agent(&self, name: &str) -> Sipp {
        let (agent, port) = &self.agents[name];
        Sipp::new(
            agent.scenario.expect("an agent with a scenario"),
            vec![
                "-i".into(),
                "127.0.0.3".into(),
                "-p".into(),
                port.to_string(),
            ],
            self.dir.path(),
        )
    }

    /// The ids of the channels Asterisk holds.
    pub async fn channels(&self) -> Vec<String> {
        self.http.ids("/channels").await
    }

    /// The ids of the bridges Asterisk holds.
    pub async fn bridges(&self) -> Vec<String> {
        self.http.ids("/bridges").await
    }

    pub async fn until_bridges(&self, n: usize) {
        let began = Instant::now();
        while self.bridges().await.len() != n {
            assert!(
                began.elapsed() < Duration::from_secs(20),
                "never {n} bridges: {:?}",
                self.bridges().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until Asterisk holds no channel and no bridge and the router no call; fails
    /// naming what is left after 20 s.
    pub async fn until_empty(&self, router: &RouterRun, when: &str) {
        let began = Instant::now();
        loop {
            let (channels, bridges) = (self.channels().await, self.bridges().await);
            let calls = router.table.len();
            if channels.is_empty() && bridges.is_empty() && calls == 0 {
                return;
            }
            assert!(
                began.elapsed() < Duration::from_secs(20),
                "{when}: left behind: channels {channels:?}, bridges {bridges:?}, calls in the router {calls}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Pbx {
    fn drop(&mut self) {
        stop_asterisk(self.dir.path());
    }
}

fn start_asterisk(
    dir: &Path,
    ports: &HashMap<String, String>,
) -> Result<HashMap<String, String>, String> {
    let out = Command::new(workspace().join("scripts/asterisk"))
        .arg("start")
        .arg(dir)
        .envs(ports)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("scripts/asterisk: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "scripts/asterisk start failed: {}",
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

fn stop_asterisk(dir: &Path) {
    let _ = Command::new(workspace().join("scripts/asterisk"))
        .arg("stop")
        .arg(dir)
        .status();
}

/// A SIPp run: a caller placing calls into the router's app, or an agent answering them.
pub struct Sipp {
    scenario: &'static str,
    args: Vec<String>,
    trace: PathBuf,
    stats: PathBuf,
    pause_ms: Option<u64>,
    count: Option<(u32, u32)>,
    child: Option<Child>,
}

/// How a SIPp run ended.
pub struct SippOutcome {
    pub exit: i32,
    /// Every SIP message it sent and received.
    pub messages: String,
    /// Its closing statistics screen.
    pub stats: String,
}

impl SippOutcome {
    /// The last final response (≥ 300) the run received.
    pub fn final_status(&self) -> Option<u16> {
        self.messages
            .lines()
            .filter_map(|l| l.strip_prefix("SIP/2.0 "))
            .filter_map(|l| l.get(..3)?.parse::<u16>().ok())
            .rfind(|s| *s >= 300)
    }
}

static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Sipp {
    fn new(scenario: &'static str, args: Vec<String>, dir: &Path) -> Sipp {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Sipp {
            scenario,
            args,
            trace: dir.join(format!("sipp-{n}-messages.log")),
            stats: dir.join(format!("sipp-{n}-screen.log")),
            pause_ms: None,
            count: None,
            child: None,
        }
    }

    /// A caller dialing `exten` into Asterisk's `from-sipp` context (Stasis(router,exten)).
    pub fn caller(pbx: &Pbx, scenario: &'static str, exten: &str) -> Sipp {
        let port = free_udp("127.0.0.2");
        Sipp::new(
            scenario,
            vec![
                format!("127.0.0.1:{}", pbx.sip_port()),
                "-s".into(),
                exten.into(),
                "-i".into(),
                "127.0.0.2".into(),
                "-p".into(),
                port.to_string(),
            ],
            pbx.dir.path(),
        )
    }

    /// The scenario's `<pause/>`.
    pub fn pause_ms(mut self, ms: u64) -> Sipp {
        self.pause_ms = Some(ms);
        self
    }

    /// An agent that answers `ms` after ringing.
    pub fn answer_after(self, ms: u64) -> Sipp {
        self.pause_ms(ms)
    }

    /// `calls` calls at `per_second`.
    pub fn rate(mut self, per_second: u32, calls: u32) -> Sipp {
        self.count = Some((per_second, calls));
        self
    }

    /// Starts it for one call.
    pub fn once(mut self) -> Sipp {
        self.count = Some((1, 1));
        self.spawn();
        self
    }

    /// Starts it for as many calls as come.
    pub fn many(mut self) -> Sipp {
        self.spawn();
        self
    }

    /// Starts it as configured.
    pub fn start(mut self) -> Sipp {
        self.spawn();
        self
    }

    fn spawn(&mut self) {
        let mut command = Command::new("sipp");
        command
            .arg("-sf")
            .arg(sipp_file(self.scenario))
            .args(&self.args)
            .args(["-nostdin", "-trace_msg", "-trace_screen"])
            .arg("-message_file")
            .arg(&self.trace)
            .arg("-screen_file")
            .arg(&self.stats)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(ms) = self.pause_ms {
            command.args(["-d", &ms.to_string()]);
        }
        if let Some((rate, calls)) = self.count {
            command.args(["-r", &rate.to_string(), "-m", &calls.to_string()]);
        }
        // SIPp gives up on a call after 40 s of silence: no test waits forever.
        command.args(["-timeout", "120s", "-recv_timeout", "40000"]);
        self.child = Some(command.spawn().expect("start sipp"));
        // The agent must listen before the first INVITE reaches it.
        std::thread::sleep(Duration::from_millis(200));
    }

    /// Runs it to the end (started if not yet) and reads what it wrote.
    pub async fn run_to_end(mut self) -> SippOutcome {
        if self.child.is_none() {
            if self.count.is_none() {
                self.count = Some((1, 1));
            }
            self.spawn();
        }
        self.finish().await
    }

    /// Waits for it to end (at most 150 s, then kills it) and reads what it wrote.
    pub async fn finish(mut self) -> SippOutcome {
        let mut child = self.child.take().expect("started");
        let exit = tokio::task::spawn_blocking(move || {
            let began = Instant::now();
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    return status.code().unwrap_or(-1);
                }
                if began.elapsed() > Duration::from_secs(150) {
                    let _ = child.kill();
                    let _ = child.wait();
                    return -1;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
        .await
        .unwrap_or(-1);
        SippOutcome {
            exit,
            messages: std::fs::read_to_string(&self.trace).unwrap_or_default(),
            stats: std::fs::read_to_string(&self.stats).unwrap_or_default(),
        }
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A router in this process running early-dial for app `router` against the Asterisk.
pub struct RouterRun {
    pub table: Arc<CallTable>,
    observations: Mutex<mpsc::UnboundedReceiver<Observation>>,
    replaced: Arc<Mutex<std::collections::BTreeSet<String>>>,
    resyncs: Arc<std::sync::atomic::AtomicU64>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    /// The router's call store lives here while the run does.
    _store: tempfile::TempDir,
}

/// What a router saw while it ran.
#[derive(Debug, Default)]
pub struct Report {
    pub opened: usize,
    pub ended: usize,
    pub plugin_failures: Vec<String>,
    pub command_failures: Vec<String>,
}

impl RouterRun {
    /// Starts a router named `instance` and waits until it has resynced with Asterisk.
    pub async fn start(pbx: &Pbx, instance: &str) -> RouterRun {
        RouterRun::start_with(pbx, instance, None).await
    }

    /// Starts router `instance` sharing its calls through the PostgreSQL at `url`
    /// (`[cluster]` with its defaults): it claims the calls StasisBroadcast offers.
    pub async fn start_shared(pbx: &Pbx, instance: &str, url: &str) -> RouterRun {
        RouterRun::start_with(pbx, instance, Some(url)).await
    }

    async fn start_with(pbx: &Pbx, instance: &str, shared: Option<&str>) -> RouterRun {
        let plugin = crate::common::plugin_path("early-dial");
        let text = format!(
            r#"
instance = "{instance}"
[servers.pbx]
url = "{url}"
user = "asterisk"
password = "asterisk"

[tenants.acme]
apps = ["router"]
plugin = "{plugin}"
endpoints = ["PJSIP/*"]
on_failure = {{ action = "continue", context = "router-fallback" }}
[tenants.acme.settings]
caller_id_number = "5551000"
caller_id_name = "ACME Support"
dial_timeout = "3"
"route.2001" = "PJSIP/agent"
"route.2002" = "PJSIP/agent_bye"
"route.2003" = "PJSIP/busy"
"route.2004" = "PJSIP/noanswer"
"route.2005" = "PJSIP/nobody"
"#,
            url = pbx.ari_url(),
            plugin = plugin.display()
        );
        let mut config = Config::parse(&text).unwrap_or_else(|e| panic!("config: {e}\n{text}"));
        let store = tempfile::tempdir().expect("store dir");
        match shared {
            Some(url) => {
                config.store.url = Some(url.to_string());
                config.cluster = Some(callwasm::cluster::ClusterConfig::default());
            }
            None => config.store = callwasm::store::StoreConfig::in_dir(store.path()),
        }
        let (observer, observations) = Observer::channel();
        let router = Router::new(&config, observer).expect("router");
        let table = router.table();
        let replaced = router.replaced();
        let (shutdown, rx) = watch::channel(false);
        let resyncs = router.resyncs();
        let task = tokio::spawn(router.run(rx));
        let run = RouterRun {
            table,
            observations: Mutex::new(observations),
            replaced,
            resyncs,
            shutdown,
            task,
            _store: store,
        };
        run.until_resyncs(1).await;
        run
    }

    /// Waits until the router's event stream has come up and resynced `n` times in all.
    pub async fn until_resyncs(&self, n: u64) {
        let began = Instant::now();
        while self.resyncs.load(std::sync::atomic::Ordering::Relaxed) < n {
            assert!(
                began.elapsed() < Duration::from_secs(30),
                "the router's event stream did not come up (resync {n})"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the router holds `n` calls.
    pub async fn until_calls(&self, n: usize) {
        let began = Instant::now();
        while self.table.len() != n {
            assert!(
                began.elapsed() < Duration::from_secs(30),
                "the router holds {} calls, not {n}",
                self.table.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether Asterisk told the router another client took its app.
    pub fn replaced(&self) -> bool {
        !self
            .replaced
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// Ends the router as a crash would: its tasks stop, nothing is cleaned up.
    pub fn crash(self) {
        self.task.abort();
        let _ = self.shutdown.send(true);
    }

    /// Stops the router and reports what it saw.
    pub async fn stop(self) -> Report {
        let _ = self.shutdown.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
        let mut report = Report::default();
        let mut rx = self
            .observations
            .into_inner()
            .unwrap_or_else(|p| p.into_inner());
        while let Ok(o) = rx.try_recv() {
            match o {
                Observation::Opened { .. } => report.opened += 1,
                Observation::Ended { .. } => report.ended += 1,
                Observation::PluginFailed { reason, .. } => report.plugin_failures.push(reason),
                Observation::Handled {
                    event: wit::Event::CommandFailed(f),
                    ..
                } => report
                    .command_failures
                    .push(format!("{} {} {}", f.command, f.status, f.message)),
                _ => {}
            }
        }
        report
    }
}

/// Just enough of an HTTP client for ARI's lists, on hyper.
mod reqwest_lite {
    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;
    use hyper_util::client::legacy::Client as Hyper;
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::rt::TokioExecutor;

    pub struct Client {
        base: String,
        http: Hyper<HttpConnector, Empty<Bytes>>,
    }

    impl Client {
        pub fn new(base: &str) -> Client {
            Client {
                base: base.trim_end_matches('/').to_string(),
                http: Hyper::builder(TokioExecutor::new()).build_http(),
            }
        }

        /// The `id`s of the objects a list answers with.
        pub async fn ids(&self, path: &str) -> Vec<String> {
            use base64::Engine as _;
            let auth = base64::engine::general_purpose::STANDARD.encode("asterisk:asterisk");
            let request = hyper::Request::get(format!("{}{path}", self.base))
                .header("authorization", format!("Basic {auth}"))
                .body(Empty::new())
                .expect("request");
            let response = self.http.request(request).await.expect("ARI answers");
            let body = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            let list: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("a JSON list");
            list.iter()
                .filter_map(|o| o["id"].as_str().map(String::from))
                .collect()
        }
    }
}
