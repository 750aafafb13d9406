//! early-dial: the Asterisk 14 ARI flow in one reply.
//!
//! On `started` it creates the outgoing leg without dialing it, sets its variables, creates a
//! mixing bridge, puts the caller and the leg in it (early bridging: the caller hears ringing
//! and early media) and dials. Answer: the bridge already joins them; the caller is answered (Asterisk does
//! not answer a bridged inbound channel by itself).
//! Busy, no answer, unavailable, congestion: play the configured prompt if any, then hang the
//! caller up with the matching cause. Either side hangs up: hang up the other.
//!
//! Settings (all optional but a way to find the endpoint):
//! - `endpoint`: template of the endpoint to dial, `{target}` replaced by the first Stasis
//!   argument or else the caller's dialed extension. Default `PJSIP/{target}`.
//! - `route.<target>`: the endpoint for one target, before the template.
//! - `caller_id_number`, `caller_id_name`: the caller ID the callee sees. Unset: the caller's own.
//! - `vars`: variables to set on the leg, `NAME=value;NAME2=value2`.
//! - `dial_timeout`: seconds to ring, default 30.
//! - `prompt`, `prompt.busy`, `prompt.no-answer`, `prompt.unavailable`, `prompt.congestion`:
//!   media played to the caller before it is hung up when the leg fails.

use callwasm_sdk::prelude::*;
use serde::{Deserialize, Serialize};

/// The outgoing leg's handle.
const LEG: &str = "agent";
/// The bridge's handle.
const BRIDGE: &str = "b1";
/// The failure prompt's playback handle.
const PROMPT: &str = "prompt";

struct EarlyDial;

/// What the plugin remembers between events.
#[derive(Serialize, Deserialize, Default, Debug)]
struct State {
    /// The cause the caller is hung up with once the failure prompt ends.
    pending_cause: Option<u8>,
    /// The plugin has hung the caller up (or is about to): nothing more to do for it.
    finishing: bool,
}

impl Plugin for EarlyDial {
    type State = State;

    /// Outcomes only: the call's start, legs' dial statuses, hangups, the prompt's end and
    /// failed commands. State changes and bridge moves would each cost an instance for nothing.
    fn interests() -> Vec<EventKind> {
        vec![
            EventKind::Started,
            EventKind::DialStatus,
            EventKind::HungUp,
            EventKind::PlaybackFinished,
            EventKind::CommandFailed,
        ]
    }

    fn handle(event: Event, call: &Call, state: &mut State) -> Result<Reply, String> {
        let mut reply = Reply::new();
        match event {
            Event::Started => start(call, &mut reply)?,
            Event::DialStatus(outcome) if outcome.leg == LEG => {
                if outcome.status == DialStatus::Answer && call.has_channel(CALLER) {
                    reply.answer(CALLER);
                }
                if let Some((cause, prompt_key)) = failure_cause(outcome.status) {
                    fail_caller(call, state, &mut reply, cause, prompt_key);
                }
            }
            Event::PlaybackFinished(end) if end.playback == PROMPT => {
                if let Some(cause) = state.pending_cause.take()
                    && call.has_channel(CALLER)
                {
                    reply.hangup(CALLER, cause);
                }
            }
            Event::HungUp(gone) if gone.channel == CALLER => {
                state.finishing = true;
                if call.has_channel(LEG) {
                    reply.hangup(LEG, cause::NORMAL);
                }
            }
            Event::HungUp(gone)
                if gone.channel == LEG
                    && !state.finishing
                    && state.pending_cause.is_none()
                    && call.has_channel(CALLER) =>
            {
                state.finishing = true;
                reply.hangup(CALLER, cause::NORMAL);
            }
            Event::CommandFailed(failure) => {
                log(
                    Level::Warn,
                    &format!(
                        "{} (command {}) failed: {} {}",
                        failure.command, failure.index, failure.status, failure.message
                    ),
                );
                if !state.finishing && call.has_channel(CALLER) {
                    state.finishing = true;
                    reply.hangup(CALLER, cause::TEMPORARY_FAILURE);
                }
            }
            _ => {}
        }
        Ok(reply)
    }
}

/// The whole create / bridge / dial flow as one reply.
fn start(call: &Call, reply: &mut Reply) -> Result<(), String> {
    let target = call
        .args
        .first()
        .filter(|a| !a.is_empty())
        .cloned()
        .or_else(|| {
            call.channel(CALLER)
                .and_then(|c| c.dialplan.as_ref())
                .map(|d| d.extension.clone())
        })
        .ok_or("no target: the call has no Stasis argument and no dialed extension")?;
    let endpoint = setting(&format!("route.{target}")).unwrap_or_else(|| {
        setting("endpoint")
            .unwrap_or_else(|| "PJSIP/{target}".to_string())
            .replace("{target}", &target)
    });
    let caller_id = match setting("caller_id_number") {
        Some(number) => CallerId::Given(Party::new(
            setting("caller_id_name").unwrap_or_default(),
            number,
        )),
        None => CallerId::PassThrough,
    };
    let timeout = match setting("dial_timeout") {
        Some(t) => t
            .trim()
            .parse::<u32>()
            .map_err(|_| format!("setting dial_timeout: expected seconds, got {t:?}"))?,
        None => 30,
    };

    reply.create(LEG, &endpoint, caller_id);
    for (name, value) in setting("vars")
        .as_deref()
        .map(parse_vars)
        .unwrap_or_default()
    {
        reply.set_var(LEG, name, value);
    }
    reply
        .bridge_create(BRIDGE, BridgeKind::Mixing)
        .bridge_add(BRIDGE, &[CALLER, LEG])
        .dial(LEG, Some(CALLER), timeout);
    Ok(())
}

/// `NAME=value;NAME2=value2` → pairs; blank entries are skipped.
fn parse_vars(list: &str) -> Vec<(&str, &str)> {
    list.split(';')
        .filter(|e| !e.trim().is_empty())
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.trim(), v),
            None => (e.trim(), ""),
        })
        .collect()
}

/// The cause the caller is hung up with for a failed leg, and the prompt setting for it;
/// None while the leg is progressing or answered.
fn failure_cause(status: DialStatus) -> Option<(u8, &'static str)> {
    match status {
        DialStatus::Ringing | DialStatus::Progress | DialStatus::Answer => None,
        DialStatus::Busy => Some((cause::BUSY, "prompt.busy")),
        DialStatus::NoAnswer => Some((cause::NO_ANSWER, "prompt.no-answer")),
        DialStatus::Unavailable => Some((cause::UNAVAILABLE, "prompt.unavailable")),
        DialStatus::Congestion => Some((cause::CONGESTION, "prompt.congestion")),
        DialStatus::Cancel | DialStatus::Failed => Some((cause::NORMAL, "prompt")),
    }
}

fn fail_caller(call: &Call, state: &mut State, reply: &mut Reply, cause: u8, prompt_key: &str) {
    if state.finishing || !call.has_channel(CALLER) {
        return;
    }
    state.finishing = true;
    match setting(prompt_key).or_else(|| setting("prompt")) {
        Some(prompt) => {
            state.pending_cause = Some(cause);
            reply.play(
                PROMPT,
                Target::Channel(CALLER.into()),
                prompt.split(',').map(str::trim),
            );
        }
        None => {
            reply.hangup(CALLER, cause);
        }
    }
}

callwasm_sdk::export_plugin!(EarlyDial);
