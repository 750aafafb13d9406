//! {{name}}: a callwasm routing plugin. As written by `callwasm plugin new`, it forwards each
//! call to one endpoint with the create / bridge / dial flow: the caller hears the leg ring
//! (early bridging), is answered when the leg answers, and is hung up with the leg's cause when
//! it does not. Change `handle` to route as you need.
//!
//! Settings: `endpoint` (default `PJSIP/` + the dialed extension), `ring_timeout` (seconds,
//! default 30).

use callwasm_sdk::prelude::*;
use serde::{Deserialize, Serialize};

/// The outgoing leg's handle.
const LEG: &str = "agent";

struct Forward;

/// What the plugin remembers between the events of a call.
#[derive(Serialize, Deserialize, Default)]
struct State {
    /// The plugin has hung the caller up: nothing more to do.
    finishing: bool,
}

impl Plugin for Forward {
    type State = State;

    fn interests() -> Vec<EventKind> {
        vec![EventKind::Started, EventKind::DialStatus, EventKind::HungUp]
    }

    fn handle(event: Event, call: &Call, state: &mut State) -> Result<Reply, String> {
        let mut reply = Reply::new();
        match event {
            Event::Started => {
                let extension = call
                    .channel(CALLER)
                    .and_then(|c| c.dialplan.as_ref())
                    .map(|d| d.extension.clone())
                    .unwrap_or_default();
                let endpoint = setting("endpoint").unwrap_or(format!("PJSIP/{extension}"));
                let ring_timeout = match setting("ring_timeout") {
                    Some(s) => s
                        .trim()
                        .parse()
                        .map_err(|_| format!("setting ring_timeout: expected seconds, got {s:?}"))?,
                    None => 30,
                };
                reply
                    .create(LEG, &endpoint, CallerId::PassThrough)
                    .bridge_create("b1", BridgeKind::Mixing)
                    .bridge_add("b1", &[CALLER, LEG])
                    .dial(LEG, Some(CALLER), ring_timeout);
            }
            Event::DialStatus(outcome) if outcome.leg == LEG => {
                let cause = match outcome.status {
                    DialStatus::Answer => {
                        reply.answer(CALLER);
                        None
                    }
                    DialStatus::Busy => Some(cause::BUSY),
                    DialStatus::NoAnswer => Some(cause::NO_ANSWER),
                    DialStatus::Unavailable => Some(cause::UNAVAILABLE),
                    DialStatus::Congestion => Some(cause::CONGESTION),
                    DialStatus::Failed => Some(cause::TEMPORARY_FAILURE),
                    DialStatus::Ringing | DialStatus::Progress | DialStatus::Cancel => None,
                };
                if let Some(cause) = cause
                    && !state.finishing
                    && call.has_channel(CALLER)
                {
                    state.finishing = true;
                    reply.hangup(CALLER, cause);
                }
            }
            // Either side hangs up: hang up the other.
            Event::HungUp(gone) => {
                let other = if gone.channel == CALLER { LEG } else { CALLER };
                if call.has_channel(other) && !(other == CALLER && state.finishing) {
                    state.finishing = true;
                    reply.hangup(other, cause::NORMAL);
                }
            }
            _ => {}
        }
        Ok(reply)
    }
}

callwasm_sdk::export_plugin!(Forward);
