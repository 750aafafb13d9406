//! rogue: a plugin that misbehaves on purpose, so tests can show the router contains it.
//!
//! Setting `misbehave` picks what it does: `trap` (panics), `loop` (never returns), `memory`
//! (allocates without bound), `recursion` (overflows the stack), `flood` (returns `count`
//! commands, default 100000), `error` (returns an error), `snoop` (reaches for the environment,
//! files, the network and the clock, and reports what it got as set-var commands), `forge`
//! (hangs up setting `handle`, a channel it does not have), `create` (creates a channel to
//! setting `endpoint`), `timer` (timers kept by the host; see below), `escape` (continue into
//! setting `context`), `play` (play setting `media`), `fat-state` (`mib` MiB of state),
//! `chatter` (write `mib` MiB to stdout). Setting `after` lets it behave for
//! that many events first (default 0). Behaving, it answers `started` with one `answer`.

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
                    reply.start_timer("t1", ms).start_timer("t2", ms + 10);
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
