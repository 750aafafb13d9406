//! rogue: a plugin that misbehaves on purpose, so tests can show the router contains it.
//!
//! Setting `misbehave` picks what it does: `trap` (panics), `loop` (never returns), `memory`
//! (allocates without bound), `recursion` (overflows the stack), `flood` (returns `count`
//! commands, default 100000), `error` (returns an error), `snoop` (reaches for the environment,
//! files, the network and the clock, and reports what it got as set-var commands), `forge`
//! (hangs up setting `handle`, a channel it does not have), `create` (creates a channel to
//! setting `endpoint`), `timer` (timers kept by the host; see below), `escape` (continue into
//! setting `context`), `play` (play setting `media`), `fat-state` (`mib` MiB of state),
//! `chatter` (write `mib` MiB to stdout), `script` (on `started`, the commands of setting
//! `script`, see [`script`]), `timer-storm` (on every event, `count` timers of `ms` ms, each a
//! fresh name), `leg-storm` (on every event, create and dial `count` legs), `sleep` (sleep in
//! WASI for setting `ms`, or forever), `sleep-at-load` (the same, when the host asks its
//! interests), `random` (report WASI random's first `u64` as `X_RANDOM`). Setting `after` lets
//! it behave for that many events first (default 0). Behaving, it answers `started` with one
//! `answer`.

use callwasm_sdk::prelude::*;
use callwasm_sdk::{Command, ContinueInDialplan};
use serde::{Deserialize, Serialize};
use std::hint::black_box;

struct Rogue;

#[derive(Serialize, Deserialize, Default)]
struct State {
    events: u32,
    #[serde(default)]
    timers: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    blob: String,
}

impl Plugin for Rogue {
    type State = State;

    fn interests() -> Vec<EventKind> {
        if setting("misbehave").as_deref() == Some("sleep-at-load") {
            sleep();
        }
        callwasm_sdk::ALL_EVENTS.to_vec()
    }

    fn handle(event: Event, _call: &Call, state: &mut State) -> Result<Reply, String> {
        let after: u32 = setting("after").and_then(|a| a.parse().ok()).unwrap_or(0);
        state.events += 1;
        let mut reply = Reply::new();
        if state.events <= after {
            if let Event::Started = event {
                reply.answer(CALLER);
            }
            return Ok(reply);
        }
        match setting("misbehave").as_deref() {
            Some("trap") => panic!("rogue: told to trap"),
            Some("loop") => spin(),
            Some("memory") => hoard(),
            Some("recursion") => {
                let limit = setting("depth")
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(u64::MAX);
                black_box(recurse(0, limit));
            }
            Some("flood") => {
                let count: usize = setting("count")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(100_000);
                for i in 0..count {
                    reply.set_var(CALLER, "X_FLOOD", &i.to_string());
                }
            }
            Some("error") => return Err("rogue: told to fail".into()),
            Some("snoop") => snoop(&mut reply),
            // Names a channel this call does not have (another call's, say).
            Some("forge") => {
                let handle = setting("handle").unwrap_or_else(|| "agent".into());
                reply.hangup(&handle, 16);
            }
            // Not a misbehaviour: on `started` starts timer `t1` (setting `ms`) and `t2` (10 ms
            // later); when `t1` fires it cancels `t2` and starts `t3` (50 ms). `t3` hangs the
            // caller up with 15 + the timer events counted in the state (17); `t2`, had it not
            // been cancelled, would hang up with 42 first.
            Some("timer") => match event {
                Event::Started => {
                    let ms: u32 = setting("ms").and_then(|m| m.parse().ok()).unwrap_or(100);
                    // t2 is cancelled when t1 fires, if the host keeps up within `gap` ms.
                    let gap: u32 = setting("gap").and_then(|m| m.parse().ok()).unwrap_or(10);
                    reply.start_timer("t1", ms).start_timer("t2", ms + gap);
                }
                Event::Timer(name) => {
                    state.timers += 1;
                    match name.as_str() {
                        "t1" => {
                            reply.cancel_timer("t2").start_timer("t3", 50);
                        }
                        "t2" => {
                            reply.hangup(CALLER, 42);
                        }
                        _ => {
                            reply.hangup(CALLER, 15 + state.timers.min(100) as u8);
                        }
                    }
                }
                _ => {}
            },
            // Continues the caller in the dialplan context of setting `context`.
            Some("escape") => {
                let context = setting("context").unwrap_or_else(|| "admin".into());
                reply.push(Command::ContinueInDialplan(ContinueInDialplan {
                    channel: CALLER.into(),
                    context: Some(context),
                    extension: Some("s".into()),
                    priority: Some(1),
                }));
            }
            // Plays the media URI of setting `media` to the caller.
            Some("play") => {
                let media = setting("media").unwrap_or_else(|| "recording:other".into());
                reply.play("p", Target::Channel(CALLER.into()), [media.as_str()]);
            }
            // Keeps `mib` MiB (default 64) of state.
            Some("fat-state") => {
                let mib: usize = setting("mib").and_then(|m| m.parse().ok()).unwrap_or(64);
                state.blob = "x".repeat(mib << 20);
            }
            // Writes `mib` MiB (default 100) to stdout in one call.
            Some("chatter") => {
                let mib: usize = setting("mib").and_then(|m| m.parse().ok()).unwrap_or(100);
                let line = "rogue chatter ".repeat(73) + "\n"; // 1 KiB
                let mut out = std::io::stdout().lock();
                for _ in 0..(mib << 10) {
                    let _ = std::io::Write::write_all(&mut out, line.as_bytes());
                }
            }
            Some("script") => {
                if let Event::Started = event {
                    script(&setting("script").unwrap_or_default(), &mut reply);
                }
            }
            Some("timer-storm") => {
                let count: u32 = setting("count")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1000);
                let ms: u32 = setting("ms").and_then(|m| m.parse().ok()).unwrap_or(0);
                for _ in 0..count {
                    state.timers = state.timers.wrapping_add(1);
                    reply.start_timer(&format!("t{}", state.timers), ms);
                }
            }
            Some("leg-storm") => {
                let count: u32 = setting("count").and_then(|c| c.parse().ok()).unwrap_or(100);
                for _ in 0..count {
                    state.timers = state.timers.wrapping_add(1);
                    let leg = format!("leg{}", state.timers);
                    reply
                        .create(&leg, "PJSIP/agent", CallerId::PassThrough)
                        .dial(&leg, Some(CALLER), 30);
                }
                if let Event::Started = event {
                    reply.start_timer("again", 10);
                } else if let Event::Timer(_) = event {
                    reply.start_timer("again", 10);
                }
            }
            Some("sleep") => {
                sleep();
                if let Event::Started = event {
                    reply.answer(CALLER);
                }
            }
            Some("random") => {
                let mut bytes = [0u8; 8];
                let _ = getrandom_bytes(&mut bytes);
                reply.set_var(CALLER, "X_RANDOM", &u64::from_le_bytes(bytes).to_string());
            }
            // Creates a channel to the endpoint in setting `endpoint`.
            Some("create") => {
                let endpoint = setting("endpoint").unwrap_or_else(|| "PJSIP/anywhere".into());
                reply.create("x", &endpoint, CallerId::PassThrough);
            }
            _ => {
                if let Event::Started = event {
                    reply.answer(CALLER);
                }
            }
        }
        Ok(reply)
    }
}

/// Sleeps in WASI for setting `ms` (default: forever).
fn sleep() {
    let ms: u64 = setting("ms")
        .and_then(|m| m.parse().ok())
        .unwrap_or(u64::MAX);
    std::thread::sleep(std::time::Duration::from_millis(ms));
}

/// WASI random, as a language runtime reads it (a hash seed, a UUID).
fn getrandom_bytes(out: &mut [u8]) -> Result<(), ()> {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    // std's RandomState seeds itself from WASI random; hashing nothing reads the seed.
    for chunk in out.chunks_mut(8) {
        let h = RandomState::new().build_hasher().finish().to_le_bytes();
        chunk.copy_from_slice(&h[..chunk.len()]);
    }
    Ok(())
}

/// Carries out a script: one command per line, fields split by `|`:
/// `create|leg|endpoint`, `setvar|channel|name|value`, `dial|leg`, `play|handle|media`,
/// `continue|channel|context|extension|priority` (an empty field is none), `timer|name|ms`,
/// `hangup|channel|cause`, `bridge|handle`, `add|bridge|channel`. `\r` and `\n` in a field
/// are CR and LF.
fn script(text: &str, reply: &mut Reply) {
    let unescape = |f: &str| f.replace("\\r", "\r").replace("\\n", "\n");
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<String> = line.split('|').map(unescape).collect();
        let at = |i: usize| f.get(i).cloned().unwrap_or_default();
        let opt = |i: usize| Some(at(i)).filter(|s| !s.is_empty());
        match at(0).as_str() {
            "create" => {
                reply.create(&at(1), &at(2), CallerId::PassThrough);
            }
            "setvar" => {
                reply.set_var(&at(1), &at(2), &at(3));
            }
            "dial" => {
                reply.dial(&at(1), Some(CALLER), 30);
            }
            "play" => {
                reply.play(&at(1), Target::Channel(CALLER.into()), [at(2).as_str()]);
            }
            "continue" => {
                reply.push(Command::ContinueInDialplan(ContinueInDialplan {
                    channel: at(1),
                    context: opt(2),
                    extension: opt(3),
                    priority: opt(4).and_then(|p| p.parse().ok()),
                }));
            }
            "timer" => {
                reply.start_timer(&at(1), at(2).parse().unwrap_or(0));
            }
            "hangup" => {
                reply.hangup(&at(1), at(2).parse().unwrap_or(16));
            }
            "bridge" => {
                reply.bridge_create(&at(1), BridgeKind::Mixing);
            }
            "add" => {
                reply.bridge_add(&at(1), &[at(2).as_str()]);
            }
            _ => {}
        }
    }
}

/// Reaches for what a sandboxed plugin must not have, and reports what it got as variables;
/// prints to stdout and stderr on the way.
fn snoop(reply: &mut Reply) {
    println!("rogue: looking around");
    eprintln!("rogue: on stderr");
    let env = std::env::vars().count();
    let args = std::env::args().count();
    let fs = match std::fs::read_dir("/") {
        Ok(_) => "open".to_string(),
        Err(e) => format!("{:?}", e.kind()),
    };
    let file = match std::fs::read("/etc/passwd") {
        Ok(_) => "read".to_string(),
        Err(e) => format!("{:?}", e.kind()),
    };
    let net = match std::net::TcpStream::connect("127.0.0.1:8088") {
        Ok(_) => "connected".to_string(),
        Err(e) => format!("{:?}", e.kind()),
    };
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis().to_string())
        .unwrap_or_default();
    for (name, value) in [
        ("X_ENV", env.to_string()),
        ("X_ARGS", args.to_string()),
        ("X_FS", fs),
        ("X_FILE", file),
        ("X_NET", net),
        ("X_CLOCK", clock),
    ] {
        reply.set_var(CALLER, name, &value);
    }
}

fn spin() -> ! {
    let mut n = 0u64;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

fn hoard() -> ! {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        kept.push(vec![0x5a; 1 << 20]);
        black_box(&kept);
    }
}

/// Recursion whose frames live on the wasm call stack (nothing is address-taken, so Rust's
/// shadow stack in linear memory is untouched): it ends in the engine's stack-overflow trap.
#[inline(never)]
fn recurse(depth: u64, limit: u64) -> u64 {
    if depth >= limit {
        return depth;
    }
    let below = recurse(depth + 1, limit);
    below.rotate_left((depth & 7) as u32) ^ depth
}

callwasm_sdk::export_plugin!(Rogue);
