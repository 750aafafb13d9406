//! hunt-group: ring a list of endpoints, one after the other or all at once, and join the
//! caller with whoever answers first.
//!
//! Every leg is created, put in the call's bridge with the caller and only then dialed (early
//! bridging), so the caller hears each leg's ringing and early media. A busy (declined) leg is
//! hung up at once, without waiting for Asterisk to clear it; a busy, unavailable, congested or
//! unanswered leg moves the hunt on. If nobody answers, the caller hears a prompt as early media
//! and is hung up with the cause that says why, or continues in a dialplan context.
//!
//! The Python (examples/python-hunt-group) and JavaScript (examples/js-hunt-group) builds do
//! exactly the same, with the same settings and the same state bytes, so a live call can move
//! from one language's build to another's during a hot swap. tests/hunt_group/scenarios.toml is
//! the behaviour all three are held to.
//!
//! Settings:
//! - `members` (required): the endpoints to ring, comma-separated, in order
//!   (`PJSIP/alice, PJSIP/bob`).
//! - `strategy`: `sequential` (default: one after the other) or `parallel` (all at once; the
//!   first to answer wins and the others are hung up with cause 26, answered elsewhere).
//! - `ring_timeout`: seconds a leg rings before it counts as unanswered, default 20.
//! - `caller_id_number`, `caller_id_name`: the caller ID the members see; unset, the caller's own.
//! - `prompt`: media played to the caller when nobody answers, comma-separated; default
//!   `sound:vm-nobodyavail`; empty for none.
//! - `fallback_context` (with optional `fallback_extension`, `fallback_priority`): when set, a
//!   caller nobody answered continues there instead of hearing the prompt.

use callwasm_sdk::prelude::*;
use serde::{Deserialize, Serialize};

/// The bridge every leg and the caller share.
const BRIDGE: &str = "b1";
/// The no-answer prompt's playback handle.
const PROMPT: &str = "prompt";
/// What the caller hears when nobody answers, unless the `prompt` setting says otherwise.
const DEFAULT_PROMPT: &str = "sound:vm-nobodyavail";
/// Seconds a leg rings, unless `ring_timeout` says otherwise.
const DEFAULT_RING_TIMEOUT: u32 = 20;

struct HuntGroup;

/// What the plugin remembers between events. The Python and JavaScript builds keep the same
/// JSON, field for field.
#[derive(Serialize, Deserialize, Default, Debug)]
struct State {
    /// Members dialed so far: legs `leg1` to `leg<dialed>`.
    dialed: usize,
    /// Each dialed leg's final dial status (as the contract names it), "" while it rings.
    outcomes: Vec<String>,
    /// The leg that answered, "" until one does.
    winner: String,
    /// The call is being ended (or handed back to the dialplan): start nothing new.
    finishing: bool,
    /// The cause the caller is hung up with once the prompt ends; 0 for none.
    pending_cause: u8,
}

/// How the members are rung.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Strategy {
    Sequential,
    Parallel,
}

/// The hunt's settings, read once per event.
struct Settings {
    members: Vec<String>,
    strategy: Strategy,
    ring_timeout: u32,
    caller_id: CallerId,
}

impl Settings {
    fn read() -> Result<Settings, String> {
        let members: Vec<String> = setting("members")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(String::from)
            .collect();
        if members.is_empty() {
            return Err("setting members: no endpoints to ring".into());
        }
        let strategy = match setting("strategy").as_deref().map(str::trim) {
            None | Some("sequential") => Strategy::Sequential,
            Some("parallel") => Strategy::Parallel,
            Some(other) => {
                return Err(format!(
                    "setting strategy: expected sequential or parallel, got {other:?}"
                ));
            }
        };
        let ring_timeout = match setting("ring_timeout") {
            Some(t) => t
                .trim()
                .parse::<u32>()
                .map_err(|_| format!("setting ring_timeout: expected seconds, got {t:?}"))?,
            None => DEFAULT_RING_TIMEOUT,
        };
        let caller_id = match setting("caller_id_number") {
            Some(number) => CallerId::Given(Party::new(
                setting("caller_id_name").unwrap_or_default(),
                number,
            )),
            None => CallerId::PassThrough,
        };
        Ok(Settings {
            members,
            strategy,
            ring_timeout,
            caller_id,
        })
    }
}

/// The handle of the leg that rings member `index` (0-based).
fn leg(index: usize) -> String {
    format!("leg{}", index + 1)
}

/// The member index of a leg handle, if it is one of ours.
fn leg_index(handle: &str) -> Option<usize> {
    handle
        .strip_prefix("leg")?
        .parse::<usize>()
        .ok()?
        .checked_sub(1)
}

impl Plugin for HuntGroup {
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
            Event::Started => {
                let settings = Settings::read()?;
                reply.bridge_create(BRIDGE, BridgeKind::Mixing);
                match settings.strategy {
                    Strategy::Sequential => ring(&settings, state, &mut reply, &[0]),
                    Strategy::Parallel => {
                        let all: Vec<usize> = (0..settings.members.len()).collect();
                        ring(&settings, state, &mut reply, &all)
                    }
                }
            }
            Event::DialStatus(outcome) => {
                if let Some(index) = leg_index(&outcome.leg).filter(|i| *i < state.dialed) {
                    leg_status(call, state, &mut reply, index, outcome.status)?;
                }
            }
            Event::PlaybackFinished(end) if end.playback == PROMPT => {
                if state.pending_cause != 0 && call.has_channel(CALLER) {
                    reply.hangup(CALLER, state.pending_cause);
                }
                state.pending_cause = 0;
            }
            Event::HungUp(gone) if gone.channel == CALLER => {
                state.finishing = true;
                for index in 0..state.dialed {
                    if call.has_channel(&leg(index)) {
                        reply.hangup(&leg(index), cause::NORMAL);
                    }
                }
            }
            Event::HungUp(gone)
                if gone.channel == state.winner && !state.finishing && call.has_channel(CALLER) =>
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
                if !state.finishing {
                    state.finishing = true;
                    for index in 0..state.dialed {
                        if call.has_channel(&leg(index)) {
                            reply.hangup(&leg(index), cause::NORMAL);
                        }
                    }
                    if call.has_channel(CALLER) {
                        reply.hangup(CALLER, cause::TEMPORARY_FAILURE);
                    }
                }
            }
            _ => {}
        }
        Ok(reply)
    }
}

/// Creates the legs for these members, bridges them (with the caller, the first time) and
/// dials them.
fn ring(settings: &Settings, state: &mut State, reply: &mut Reply, members: &[usize]) {
    let legs: Vec<String> = members.iter().map(|i| leg(*i)).collect();
    for (index, handle) in members.iter().zip(&legs) {
        reply.create(
            handle,
            &settings.members[*index],
            settings.caller_id.clone(),
        );
    }
    let mut joining: Vec<&str> = Vec::with_capacity(legs.len() + 1);
    if state.dialed == 0 {
        joining.push(CALLER);
    }
    joining.extend(legs.iter().map(String::as_str));
    reply.bridge_add(BRIDGE, &joining);
    for handle in &legs {
        reply.dial(handle, Some(CALLER), settings.ring_timeout);
    }
    state.dialed += legs.len();
    state.outcomes.resize(state.dialed, String::new());
}

/// A dialed leg's progress or outcome.
fn leg_status(
    call: &Call,
    state: &mut State,
    reply: &mut Reply,
    index: usize,
    status: DialStatus,
) -> Result<(), String> {
    if !status.is_final() || !state.outcomes[index].is_empty() {
        return Ok(());
    }
    state.outcomes[index] = status_name(status).into();
    let handle = leg(index);
    if status == DialStatus::Answer {
        if !state.winner.is_empty() || state.finishing {
            // Someone else answered first (or the caller is gone): this one is not wanted.
            reply.hangup(&handle, cause::ANSWERED_ELSEWHERE);
            return Ok(());
        }
        state.winner = handle.clone();
        if call.has_channel(CALLER) {
            reply.answer(CALLER);
        }
        for other in (0..state.dialed).filter(|i| *i != index) {
            if call.has_channel(&leg(other)) {
                reply.hangup(&leg(other), cause::ANSWERED_ELSEWHERE);
            }
        }
        return Ok(());
    }
    if status == DialStatus::Busy && call.has_channel(&handle) {
        // Declined: end the leg now rather than when Asterisk clears it.
        reply.hangup(&handle, cause::BUSY);
    }
    if state.finishing || !state.winner.is_empty() {
        return Ok(());
    }
    let settings = Settings::read()?;
    if settings.strategy == Strategy::Sequential && state.dialed < settings.members.len() {
        if index + 1 == state.dialed {
            ring(&settings, state, reply, &[state.dialed]);
        }
        return Ok(());
    }
    if state.outcomes.iter().all(|o| !o.is_empty()) {
        nobody_answered(call, state, reply);
    }
    Ok(())
}

/// The hunt ended without an answer: the caller continues in the fallback context, or hears
/// the prompt as early media and is hung up with the cause that tells why.
fn nobody_answered(call: &Call, state: &mut State, reply: &mut Reply) {
    state.finishing = true;
    if !call.has_channel(CALLER) {
        return;
    }
    if let Some(context) = setting("fallback_context") {
        let extension = setting("fallback_extension");
        let priority = setting("fallback_priority").and_then(|p| p.trim().parse::<i32>().ok());
        reply.continue_in_dialplan(
            CALLER,
            Some(&context),
            extension.as_deref(),
            Some(priority.unwrap_or(1)),
        );
        return;
    }
    let cause = hunt_cause(&state.outcomes);
    let prompt = setting("prompt").unwrap_or_else(|| DEFAULT_PROMPT.into());
    let media: Vec<&str> = prompt
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .collect();
    if media.is_empty() {
        reply.hangup(CALLER, cause);
        return;
    }
    state.pending_cause = cause;
    reply
        .progress(CALLER)
        .play(PROMPT, Target::Channel(CALLER.into()), media);
}

/// The cause a caller nobody answered is hung up with: no answer if any member rang out, else
/// busy if any declined, else congestion, else unavailable.
fn hunt_cause(outcomes: &[String]) -> u8 {
    let any = |name: &str| outcomes.iter().any(|o| o == name);
    if any("no-answer") {
        cause::NO_ANSWER
    } else if any("busy") {
        cause::BUSY
    } else if any("congestion") {
        cause::CONGESTION
    } else if any("unavailable") {
        cause::UNAVAILABLE
    } else {
        cause::NORMAL
    }
}

/// The contract's name of a dial status.
fn status_name(status: DialStatus) -> &'static str {
    match status {
        DialStatus::Ringing => "ringing",
        DialStatus::Progress => "progress",
        DialStatus::Answer => "answer",
        DialStatus::Busy => "busy",
        DialStatus::NoAnswer => "no-answer",
        DialStatus::Unavailable => "unavailable",
        DialStatus::Congestion => "congestion",
        DialStatus::Cancel => "cancel",
        DialStatus::Failed => "failed",
    }
}

callwasm_sdk::export_plugin!(HuntGroup);
