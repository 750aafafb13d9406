//! A window on the router's work for whoever wants to watch it call by call (the demo prints
//! it; tests assert on it; `callwasm bench` times it): calls opening, each event with the
//! plugin's commands and time, plugin failures, the first dial, calls ending. Sending never
//! blocks the router, nobody watching costs nothing, and a timings-only watcher is spared the
//! copies of events and commands.

use crate::runtime as wit;
use std::time::Duration;
use tokio::sync::mpsc;

/// Something that happened to a call.
#[derive(Debug, Clone)]
pub enum Observation {
    Opened {
        call: String,
        tenant: String,
        caller: String,
        args: Vec<String>,
    },
    /// The plugin handled `event` in `plugin_time` and answered these commands (checked, about
    /// to be carried out).
    Handled {
        call: String,
        event: wit::Event,
        commands: Vec<wit::Command>,
        plugin_time: Duration,
    },
    /// The plugin failed on `event` (or its reply was refused); the policy applies.
    PluginFailed {
        call: String,
        event: wit::Event,
        reason: String,
    },
    Ended {
        call: String,
        duration: Duration,
        /// The failure policy ended it.
        given_up: bool,
    },
    /// A timings-only watcher's `Handled`: how long the plugin took for one event.
    PluginTime { call: String, plugin_time: Duration },
    /// The call's first dial request was sent `after` the router read its StasisStart.
    Dialed { call: String, after: Duration },
}

/// Where observations go, if anywhere, and whether the watcher wants every detail.
#[derive(Debug, Clone, Default)]
pub struct Observer(Option<(mpsc::UnboundedSender<Observation>, bool)>);

impl Observer {
    /// An observer of everything and the receiving end of its observations.
    pub fn channel() -> (Observer, mpsc::UnboundedReceiver<Observation>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Observer(Some((tx, true))), rx)
    }

    /// An observer of timings only (`PluginTime`, `Dialed`, `PluginFailed`, `Ended`): what a
    /// benchmark watches without making the router copy every event and reply.
    pub fn timings() -> (Observer, mpsc::UnboundedReceiver<Observation>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Observer(Some((tx, false))), rx)
    }

    /// Nobody watching.
    pub fn none() -> Observer {
        Observer(None)
    }

    /// Whether someone wants `Opened` and `Handled` (with copies of events and commands).
    pub fn wants_details(&self) -> bool {
        matches!(self.0, Some((_, true)))
    }

    /// Whether anyone watches at all.
    pub fn watching(&self) -> bool {
        self.0.is_some()
    }

    pub fn send(&self, observation: Observation) {
        if let Some((tx, _)) = &self.0 {
            let _ = tx.send(observation);
        }
    }
}

/// A contract event in one short line, for logs and the demo.
pub fn event_text(event: &wit::Event) -> String {
    use wit::Event::*;
    match event {
        Started => "started".into(),
        StateChanged(h) => format!("state-changed {h}"),
        DialStatus(d) => format!("dial-status {} {}", d.leg, dial_status_name(d.status)),
        HungUp(h) => format!("hung-up {} cause {} ({})", h.channel, h.cause, h.cause_text),
        Left(h) => format!("left {h}"),
        EnteredBridge(m) => format!("entered-bridge {} {}", m.bridge, m.channel),
        LeftBridge(m) => format!("left-bridge {} {}", m.bridge, m.channel),
        Dtmf(d) => format!("dtmf {} {}", d.channel, d.digit),
        PlaybackFinished(p) => format!(
            "playback-finished {} {}",
            p.playback,
            match p.status {
                wit::PlaybackStatus::Done => "done",
                wit::PlaybackStatus::Failed => "failed",
            }
        ),
        Timer(name) => format!("timer {name}"),
        CommandFailed(f) => format!(
            "command-failed #{} {} HTTP {}: {}",
            f.index, f.command, f.status, f.message
        ),
    }
}

/// A command in one short line, for logs and the demo.
pub fn command_text(command: &wit::Command) -> String {
    use wit::Command::*;
    match command {
        Create(c) => {
            let id = match &c.caller_id {
                wit::CallerId::PassThrough => "caller's ID".to_string(),
                wit::CallerId::Given(p) => format!("ID {:?} <{}>", p.name, p.number),
            };
            format!("create {} {} ({id})", c.leg, c.endpoint)
        }
        SetVar(v) => format!("set-var {} {}={}", v.channel, v.name, v.value),
        Dial(d) => format!("dial {} ({} s)", d.leg, d.timeout_s),
        Answer(h) => format!("answer {h}"),
        Ring(h) => format!("ring {h}"),
        Progress(h) => format!("progress {h}"),
        Hangup(h) => format!("hangup {} cause {}", h.channel, h.cause),
        BridgeCreate(b) => format!(
            "bridge-create {} {}",
            b.bridge,
            match b.kind {
                wit::BridgeKind::Mixing => "mixing",
                wit::BridgeKind::Holding => "holding",
            }
        ),
        BridgeAdd(m) => format!("bridge-add {} [{}]", m.bridge, m.channels.join(", ")),
        BridgeRemove(m) => format!("bridge-remove {} [{}]", m.bridge, m.channels.join(", ")),
        BridgeDestroy(b) => format!("bridge-destroy {b}"),
        Play(p) => format!("play {} {}", p.playback, p.media.join(",")),
        StopPlayback(p) => format!("stop-playback {p}"),
        StartMoh(m) => format!("start-moh {}", m.channel),
        StopMoh(h) => format!("stop-moh {h}"),
        ContinueInDialplan(c) => format!(
            "continue {} {}",
            c.channel,
            c.context.as_deref().unwrap_or("(same context)")
        ),
        StartTimer(t) => format!("start-timer {} {} ms", t.name, t.ms),
        CancelTimer(name) => format!("cancel-timer {name}"),
    }
}

/// A dial status as the contract spells it.
pub fn dial_status_name(status: wit::DialStatus) -> &'static str {
    use wit::DialStatus::*;
    match status {
        Ringing => "ringing",
        Progress => "progress",
        Answer => "answer",
        Busy => "busy",
        NoAnswer => "no-answer",
        Unavailable => "unavailable",
        Congestion => "congestion",
        Cancel => "cancel",
        Failed => "failed",
    }
}
