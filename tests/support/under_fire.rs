//! Calls under fire: what the router's crash tests share (tests/durable_calls.rs,
//! tests/scale_out.rs). The simulated Asterisk places calls of five kinds lasting 2–10 s
//! (early-dial's plugin routes them) while a test kills routers or drops sockets; afterwards
//! the simulator's request journal and far-end hangups are the evidence that each call ended
//! the way its plugin and its parties decided, each leg dialed once, nothing left behind.
#![allow(dead_code)]

use super::common;
use callwasm::sim::{Behaviour, BroadcastOffer, EndpointRule, InboundCall, Sim, SimConfig};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// early-dial's ring time before `no-answer`.
pub const DIAL_TIMEOUT_S: u64 = 4;

/// What a call's parties do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Plan {
    /// The callee answers after 1 s; the caller hangs up 1–9 s after being answered.
    Answered,
    /// The callee answers after 1 s and hangs up 3 s later.
    CalleeHangsUp,
    /// The callee is busy.
    Busy,
    /// The callee rings until early-dial's dial timeout.
    NoAnswer,
    /// The callee rings; the caller gives up after 2–3.5 s.
    CallerGivesUp,
}

pub const PLANS: [Plan; 5] = [
    Plan::Answered,
    Plan::CalleeHangsUp,
    Plan::Busy,
    Plan::NoAnswer,
    Plan::CallerGivesUp,
];

/// One call the simulator placed.
pub struct Placed {
    pub caller: String,
    pub plan: Plan,
    /// The endpoint early-dial dials (unique per call).
    pub endpoint: String,
    /// It entered the app (false: no router held the app, Asterisk refused it).
    pub entered: bool,
    pub at: Instant,
}

pub fn sim_config() -> SimConfig {
    let ms = Duration::from_millis;
    SimConfig {
        journal: true,
        busy_hangup_after: ms(300),
        endpoints: vec![
            EndpointRule::new("PJSIP/ans-*", Behaviour::Answer { after: ms(1000) }),
            EndpointRule::new(
                "PJSIP/bye-*",
                Behaviour::AnswerThenHangup {
                    after: ms(1000),
                    hold: ms(3000),
                },
            ),
            EndpointRule::new("PJSIP/busy-*", Behaviour::Busy),
            EndpointRule::new("PJSIP/ring-*", Behaviour::RingForever),
        ],
        ..SimConfig::default()
    }
}

/// A router's config: early-dial for tenant acme (app `router`) on the simulator; a caller
/// left with no call goes back to the dialplan at `router-down`, so the journal tells those
/// apart. `extra` is appended (a `[store]` or `[cluster]` section).
pub fn write_config(dir: &Path, sim: &Sim, instance: &str, extra: &str) -> PathBuf {
    let path = dir.join(format!("{instance}.toml"));
    let text = format!(
        r#"instance = "{instance}"
[servers.pbx1]
url = "{url}"
user = "asterisk"
password = "asterisk"

[tenants.acme]
apps = ["router"]
plugin = "{plugin}"
endpoints = ["PJSIP/*"]
[tenants.acme.settings]
dial_timeout = {DIAL_TIMEOUT_S}
[tenants.acme.on_failure]
action = "continue"
context = "router-down"
extension = "s"
priority = 1
{extra}
"#,
        url = sim.base_url(),
        plugin = common::plugin_path("early-dial").display(),
    );
    std::fs::write(&path, text).expect("write the router's config");
    path
}

/// A `callwasm run` process, killed (SIGKILL) when dropped: a failing test leaves no router
/// running behind it.
pub struct RunningRouter(pub Child);

impl RunningRouter {
    /// Sends `signal` (SIGSTOP, SIGCONT, …) to the process.
    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.0.id()).expect("a pid");
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        let sent = unsafe { libc::kill(pid, signal) };
        assert_eq!(sent, 0, "kill({pid}, {signal})");
    }

    /// The exit status, once the process has exited by itself within `limit`.
    pub async fn exited_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let began = Instant::now();
        while began.elapsed() < limit {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for RunningRouter {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The router process of one run, its log in `<dir>/router-<name>.log`.
pub fn start_router(dir: &Path, config: &Path, name: &str) -> RunningRouter {
    let log = std::fs::File::create(dir.join(format!("router-{name}.log"))).expect("log file");
    RunningRouter(
        Command::new(env!("CARGO_BIN_EXE_callwasm"))
            .args(["run", "--config"])
            .arg(config)
            .env("STATE_DIRECTORY", dir)
            .env("CALLWASM_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("callwasm run"),
    )
}

/// Places calls at `rate` a second for `placing` into app `router` (or, with `broadcast`,
/// offered to the apps it matches), calling `fault(elapsed)` between calls.
pub async fn place_calls(
    sim: &Sim,
    seed: u64,
    (rate, placing): (u32, Duration),
    broadcast: Option<&BroadcastOffer>,
    mut fault: impl FnMut(Duration),
) -> Vec<Placed> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut placed = Vec::new();
    let began = Instant::now();
    let gap = Duration::from_secs(1) / rate;
    let mut tick = tokio::time::interval(gap);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut n = 0u64;
    while began.elapsed() < placing {
        tick.tick().await;
        fault(began.elapsed());
        n += 1;
        let plan = PLANS[rng.usize(..PLANS.len())];
        let target = match plan {
            Plan::Answered => format!("ans-{n}"),
            Plan::CalleeHangsUp => format!("bye-{n}"),
            Plan::Busy => format!("busy-{n}"),
            Plan::NoAnswer | Plan::CallerGivesUp => format!("ring-{n}"),
        };
        let mut call = InboundCall::new("router", "5550100", &target);
        call.args = vec![target.clone()];
        call.broadcast = broadcast.cloned();
        match plan {
            Plan::Answered => {
                call.behaviour.hangup_after_answer =
                    Some(Duration::from_millis(rng.u64(1000..=9000)));
            }
            Plan::CallerGivesUp => {
                call.behaviour.hangup_after = Some(Duration::from_millis(rng.u64(2000..=3500)));
            }
            _ => {}
        }
        let caller = sim.place_call(&call);
        let entered = sim.channel(&caller).is_some();
        placed.push(Placed {
            caller,
            plan,
            endpoint: format!("PJSIP/{target}"),
            entered,
            at: Instant::now(),
        });
    }
    placed
}

/// Waits until Asterisk holds no channel and no bridge, for at most `limit`.
pub async fn until_all_gone(sim: &Sim, limit: Duration) -> bool {
    let began = Instant::now();
    while began.elapsed() < limit {
        if sim.channel_ids().is_empty() && sim.bridge_ids().is_empty() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// What the simulator's journal says about the calls, by channel id.
#[derive(Default)]
pub struct Evidence {
    /// Endpoint → the legs created to it.
    pub legs_to: HashMap<String, Vec<String>>,
    /// Leg → dial requests.
    pub dials: HashMap<String, usize>,
    /// Leg → when it was first dialed.
    pub dialed_at: HashMap<String, Instant>,
    /// Channel → when the router answered it.
    pub answered: HashMap<String, Instant>,
    /// Channel → the router's hangup requests (cause, when).
    pub hung_up: HashMap<String, Vec<(String, Instant)>>,
    /// Callers sent back to the dialplan by the failure policy.
    pub sent_back: HashMap<String, Instant>,
    /// Bridges taken apart by the router (a channel removed or the bridge destroyed), when.
    pub unbridged: HashMap<String, Instant>,
    /// Channel → when its far end hung up.
    pub far_end: HashMap<String, Instant>,
}

impl Evidence {
    pub fn read(sim: &Sim) -> Evidence {
        let mut e = Evidence::default();
        for (at, line) in sim.journal_timed() {
            let Some((method, target)) = line.split_once(' ') else {
                continue;
            };
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            let query = query.split(' ').next().unwrap_or("");
            let param = |name: &str| {
                query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                    .map(String::from)
            };
            let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            match (method, parts.as_slice()) {
                ("POST", ["channels", "create"]) => {
                    if let (Some(leg), Some(endpoint)) = (param("channelId"), param("endpoint")) {
                        e.legs_to.entry(endpoint).or_default().push(leg);
                    }
                }
                ("POST", ["channels", id, "dial"]) => {
                    *e.dials.entry(id.to_string()).or_default() += 1;
                    e.dialed_at.entry(id.to_string()).or_insert(at);
                }
                ("POST", ["channels", id, "answer"]) => {
                    e.answered.entry(id.to_string()).or_insert(at);
                }
                ("POST", ["channels", id, "continue"])
                    if param("context").as_deref() == Some("router-down") =>
                {
                    e.sent_back.insert(id.to_string(), at);
                }
                ("DELETE", ["channels", id]) => {
                    let cause = param("reason_code").unwrap_or_default();
                    e.hung_up
                        .entry(id.to_string())
                        .or_default()
                        .push((cause, at));
                }
                ("POST", ["bridges", id, "removeChannel"]) | ("DELETE", ["bridges", id]) => {
                    e.unbridged.entry(id.to_string()).or_insert(at);
                }
                _ => {}
            }
        }
        for (at, id) in sim.far_ends() {
            e.far_end.entry(id).or_insert(at);
        }
        e
    }

    /// When the last of the call's channels ended (by the router or a far end).
    pub fn end_of(&self, call: &Placed) -> Option<Instant> {
        let mut ids = vec![call.caller.clone()];
        ids.extend(
            self.legs_to
                .get(&call.endpoint)
                .cloned()
                .unwrap_or_default(),
        );
        ids.iter()
            .flat_map(|id| {
                let far = self.far_end.get(id).copied();
                let by_router = self
                    .hung_up
                    .get(id)
                    .and_then(|h| h.first())
                    .map(|(_, at)| *at);
                [far, by_router]
            })
            .flatten()
            .max()
    }

    /// Why `call` did not end the way its plan and its plugin say, if it did not. `outages`:
    /// when the router could not hear Asterisk (a kill until the restarted router listened).
    pub fn judge(&self, call: &Placed, outages: &[Instant]) -> Result<(), String> {
        let caller = &call.caller;
        let legs = self
            .legs_to
            .get(&call.endpoint)
            .cloned()
            .unwrap_or_default();
        let dials = |leg: &String| self.dials.get(leg).copied().unwrap_or(0);
        // One leg per call rings. A second leg may have been created only when a router died
        // before its call's first write committed (a first reply's create goes out before
        // that write; its dial waits for it) and a survivor started the caller again: the
        // first leg was never dialed, and a router hung it up (docs/decisions.md, Scale-out).
        let dialed: Vec<&String> = legs.iter().filter(|l| dials(l) > 0).collect();
        if dialed.len() > 1 {
            return Err(format!("{} legs dialed: {legs:?}", dialed.len()));
        }
        let leg = dialed.first().copied().or(legs.last());
        for spare in legs.iter().filter(|l| Some(*l) != leg) {
            if !self.hung_up.contains_key(spare) {
                return Err(format!(
                    "leg {spare} created beside {leg:?}, never dialed, and never hung up"
                ));
            }
        }
        if let Some(leg) = leg {
            let dials = dials(leg);
            // A caller that gives up may leave before its leg is dialed; no leg is ever
            // dialed twice.
            let once = dials == 1 || (dials == 0 && call.plan == Plan::CallerGivesUp);
            if !once {
                return Err(format!("leg {leg} dialed {dials} times"));
            }
        }
        let caller_hung_up = self.hung_up.get(caller).cloned().unwrap_or_default();
        let caller_cause = caller_hung_up.first().map(|(c, _)| c.as_str());
        let answered = self.answered.get(caller);
        // A leg that ended while the router could not hear Asterisk is only known to have
        // vanished: the plugin hears `hung-up` without the busy or no-answer that ended it
        // (the issue's contract), and early-dial then clears the caller with 16.
        let missed_the_end = caller_hung_up
            .first()
            .is_some_and(|(_, at)| outages.iter().any(|o| *o > call.at && o < at));
        let cleared_with = |cause: &str| {
            caller_cause == Some(cause) || (missed_the_end && caller_cause == Some("16"))
        };
        let expect = |what: &str, holds: bool| {
            if holds {
                Ok(())
            } else {
                Err(format!(
                    "expected {what}; leg {leg:?}, caller answered {}, caller hung up by the router {caller_hung_up:?}",
                    answered.is_some()
                ))
            }
        };
        match call.plan {
            Plan::Answered => {
                expect("a leg", leg.is_some())?;
                expect("the caller answered", answered.is_some())?;
                expect("the caller to hang up itself", caller_hung_up.is_empty())?;
                // Bridged until a party hung up: nothing taken apart before the caller's BYE.
                let bye = self.far_end.get(caller);
                expect("the caller's hangup", bye.is_some())?;
                let bridge = leg.map(|l| l.replace("-agent", "-b1"));
                let apart = bridge.and_then(|b| self.unbridged.get(&b));
                expect(
                    "the bridge kept until the caller hung up",
                    apart.is_none_or(|at| Some(at) >= bye),
                )
            }
            Plan::CalleeHangsUp => {
                expect("a leg", leg.is_some())?;
                // The callee answered (1 s after its dial) and hung up while no router heard
                // Asterisk (a router paused until its lease ran out): the plugin is only told
                // the leg vanished, and early-dial clears the caller with 16 unanswered.
                let answer_unheard = leg.and_then(|l| self.dialed_at.get(l)).is_some_and(|dial| {
                    outages
                        .iter()
                        .any(|o| *o > call.at && *o < *dial + Duration::from_secs(1))
                });
                if answer_unheard && missed_the_end && answered.is_none() {
                    return expect("the caller hung up with 16", caller_cause == Some("16"));
                }
                expect("the caller answered", answered.is_some())?;
                let bye = leg.and_then(|l| self.far_end.get(l));
                expect("the callee's hangup", bye.is_some())?;
                expect("the caller hung up with 16", caller_cause == Some("16"))?;
                let bridge = leg.map(|l| l.replace("-agent", "-b1"));
                let apart = bridge.and_then(|b| self.unbridged.get(&b));
                expect(
                    "the bridge kept until the callee hung up",
                    apart.is_none_or(|at| Some(at) >= bye),
                )
            }
            Plan::Busy => {
                expect("a leg", leg.is_some())?;
                expect("the caller hung up with 17", cleared_with("17"))
            }
            Plan::NoAnswer => {
                expect("a leg", leg.is_some())?;
                expect("the caller hung up with 19", cleared_with("19"))
            }
            Plan::CallerGivesUp => {
                expect("the caller not answered", answered.is_none())?;
                expect("the caller to hang up itself", caller_hung_up.is_empty())?;
                // Its leg (if the router got that far) was hung up after the caller left —
                // unless the router heard of the caller's leaving only after an outage, by
                // which time the leg's own dial timeout may have ended it.
                let heard_late = outages
                    .iter()
                    .any(|o| *o > call.at && *o < call.at + Duration::from_secs(DIAL_TIMEOUT_S));
                expect(
                    "the leg hung up with 16",
                    leg.is_none_or(|l| match self.hung_up.get(l).and_then(|h| h.first()) {
                        Some((cause, _)) => cause == "16",
                        None => heard_late,
                    }),
                )
            }
        }
    }
}

/// The counts the test prints.
#[derive(Default, Debug)]
pub struct Table {
    pub placed: usize,
    pub refused: usize,
    pub completed: usize,
    pub resumed: usize,
    pub sent_back: usize,
    pub lost: usize,
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rows = [
            ("calls placed (entered the app)", self.placed),
            ("  refused: no router held the app", self.refused),
            (
                "completed as their plugin and parties decided",
                self.completed,
            ),
            ("  of them in progress across a kill or drop", self.resumed),
            ("failure policy: their start was lost", self.sent_back),
            ("lost", self.lost),
        ];
        for (label, n) in rows {
            writeln!(f, "{label:<48}{n:>7}")?;
        }
        Ok(())
    }
}

/// Judges every call and fills the table; the failures, each with its call.
pub fn tally(placed: &[Placed], evidence: &Evidence, outages: &[Instant]) -> (Table, Vec<String>) {
    let mut table = Table::default();
    let mut failures = Vec::new();
    for call in placed {
        if !call.entered {
            table.refused += 1;
            continue;
        }
        table.placed += 1;
        if evidence.sent_back.contains_key(&call.caller) {
            // Its legs (if any) were hung up as strays, never dialed twice.
            let legs = evidence
                .legs_to
                .get(&call.endpoint)
                .cloned()
                .unwrap_or_default();
            if legs
                .iter()
                .all(|l| evidence.dials.get(l).copied().unwrap_or(0) <= 1)
            {
                table.sent_back += 1;
            } else {
                table.lost += 1;
                failures.push(format!(
                    "{} ({:?}): a leg dialed twice",
                    call.caller, call.plan
                ));
            }
            continue;
        }
        match evidence.judge(call, outages) {
            Ok(()) => {
                table.completed += 1;
                let end = evidence.end_of(call);
                if outages
                    .iter()
                    .any(|o| *o > call.at && end.is_some_and(|e| e > *o))
                {
                    table.resumed += 1;
                }
            }
            Err(why) => {
                table.lost += 1;
                failures.push(format!(
                    "{} ({:?}, {}): {why}",
                    call.caller, call.plan, call.endpoint
                ));
            }
        }
    }
    (table, failures)
}

/// What Asterisk still holds once the calls should be over (None when `settled`).
pub fn sim_left(sim: &Sim, settled: bool) -> Option<String> {
    (!settled).then(|| {
        format!(
            "left in Asterisk: {} channels, {} bridges",
            sim.channel_ids().len(),
            sim.bridge_ids().len()
        )
    })
}

/// [`tally`], with what Asterisk still holds counted as a failure.
pub fn tally_settled(
    placed: &[Placed],
    evidence: &Evidence,
    outages: &[Instant],
    left: Option<String>,
) -> (Table, Vec<String>) {
    let (table, mut failures) = tally(placed, evidence, outages);
    failures.extend(left);
    (table, failures)
}

/// Lines of the router logs in `dir` that contain `text`.
pub fn log_count(dir: &Path, text: &str) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("router-"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .map(|log| log.matches(text).count())
        .sum()
}

/// The router logs' messages at warn or error, each with how often it came (call ids and
/// times left out), for a failure message.
pub fn log_trouble(dir: &Path) -> String {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    let logs = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("router-"));
    for entry in logs {
        let Ok(log) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        for line in log.lines() {
            let Some(at) = line.find(" WARN ").or_else(|| line.find(" ERROR ")) else {
                continue;
            };
            // `WARN call{call=…}: target: message key=value…`: the level, target and message.
            let rest = &line[at..];
            let message: String = rest
                .split(": ")
                .skip(1)
                .collect::<Vec<_>>()
                .join(": ")
                .split(" call=")
                .next()
                .unwrap_or(rest)
                .chars()
                .take(200)
                .collect();
            *counts
                .entry(format!("{}{message}", &rest[..6]))
                .or_default() += 1;
        }
    }
    counts
        .iter()
        .map(|(m, n)| format!("{n:>6} × {m}"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn report(title: &str, table: &Table, failures: &[String], dir: &Path) {
    println!("{title}\n{table}");
    assert!(
        failures.is_empty(),
        "{} calls did not end as decided (first 20):\n{}\n\nrouter warnings (logs in {}):\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n"),
        dir.display(),
        log_trouble(dir)
    );
    assert_eq!(table.lost, 0);
}
