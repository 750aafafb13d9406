//! From Asterisk's events to the plugin's: updates the call record with what an ARI event says
//! and returns the contract events (zero or more) the plugin should see. Asterisk's quirks are
//! absorbed here, so plugins see one clear story per leg:
//! - a dial that times out ends with ChannelDestroyed cause 19 and no NOANSWER Dial event
//!   (ari-samples): the plugin gets `dial-status no-answer`, derived from the cause, before
//!   `hung-up`; the same for any leg that ends before its dial settled;
//! - a StasisEnd after a hangup request is the channel going away; one without is the channel
//!   leaving for the dialplan (`left`). A channel that entered from the dialplan gets nothing
//!   after that StasisEnd (no ChannelDestroyed: ari-samples t1, t2, t5, t6), so it is
//!   `hung-up` right there, with the hangup request's cause. A channel the router created is
//!   subscribed and gets ChannelDestroyed with the real cause (19 for a dial timeout where the
//!   request said 32), so its `hung-up` waits for that, bounded by [`DESTROY_GRACE`].
//!
//! [`DESTROY_GRACE`]: super::call::DESTROY_GRACE

use super::call::{CallRecord, LegPhase};
use crate::ari::cause_text;
use crate::ari::events::Event as Ari;
use crate::runtime as wit;

/// The channel ids an event concerns, for routing it to its call (first is the main one).
pub fn channel_ids(event: &Ari) -> Vec<&str> {
    match event {
        Ari::StasisStart(e) => vec![&e.channel.id],
        Ari::StasisEnd(e) => vec![&e.channel.id],
        Ari::ChannelStateChange(e) => vec![&e.channel.id],
        Ari::ChannelHangupRequest(e) => vec![&e.channel.id],
        Ari::ChannelDestroyed(e) => vec![&e.channel.id],
        Ari::ChannelDtmfReceived(e) => vec![&e.channel.id],
        Ari::ChannelCallerId(e) => vec![&e.channel.id],
        Ari::ChannelConnectedLine(e) => vec![&e.channel.id],
        Ari::ChannelEnteredBridge(e) => {
            let mut ids = vec![e.bridge.id.as_str()];
            ids.extend(e.channel.as_ref().map(|c| c.id.as_str()));
            ids
        }
        Ari::ChannelLeftBridge(e) => vec![&e.bridge.id, &e.channel.id],
        Ari::BridgeDestroyed(e) => vec![&e.bridge.id],
        Ari::Dial(e) => {
            let mut ids = vec![e.peer.id.as_str()];
            ids.extend(e.caller.as_ref().map(|c| c.id.as_str()));
            ids
        }
        Ari::PlaybackStarted(e) => vec![&e.playback.id],
        Ari::PlaybackFinished(e) => vec![&e.playback.id],
        _ => Vec::new(),
    }
}

/// The contract's dial status for ARI's `dialstatus`; None for the empty status of a dial
/// that just began.
pub fn dial_status(text: &str) -> Option<wit::DialStatus> {
    use wit::DialStatus::*;
    Some(match text {
        "" => return None,
        "RINGING" => Ringing,
        "PROGRESS" => Progress,
        "ANSWER" => Answer,
        "BUSY" => Busy,
        "NOANSWER" => NoAnswer,
        "CHANUNAVAIL" => Unavailable,
        "CONGESTION" => Congestion,
        "CANCEL" => Cancel,
        _ => Failed,
    })
}

/// The dial status a leg that ends before its dial settled stands for, by Q.850 cause.
pub fn status_of_cause(cause: i64) -> wit::DialStatus {
    use wit::DialStatus::*;
    match cause {
        18 | 19 => NoAnswer,
        17 | 21 => Busy,
        1 | 3 | 20 | 27 | 38 => Unavailable,
        34 | 41 | 42 | 44 => Congestion,
        16 => Cancel,
        _ => Failed,
    }
}

fn settles(status: wit::DialStatus) -> bool {
    !matches!(status, wit::DialStatus::Ringing | wit::DialStatus::Progress)
}

/// Applies `event` to the call and returns what the plugin sees of it.
pub fn translate(call: &mut CallRecord, event: &Ari) -> Vec<wit::Event> {
    let mut out = Vec::new();
    match event {
        Ari::StasisStart(e) => {
            if let Some(h) = call.leg_handle(&e.channel.id).map(String::from)
                && let Some(leg) = call.legs.get_mut(&h)
            {
                leg.model = e.channel.clone();
                if leg.phase == LegPhase::Entering {
                    leg.phase = LegPhase::InStasis;
                }
            }
        }
        Ari::ChannelStateChange(e) => {
            if let Some(h) = call.leg_handle(&e.channel.id).map(String::from)
                && let Some(leg) = call.legs.get_mut(&h)
            {
                leg.model = e.channel.clone();
                out.push(wit::Event::StateChanged(h));
            }
        }
        Ari::ChannelCallerId(e) => update_model(call, &e.channel),
        Ari::ChannelConnectedLine(e) => update_model(call, &e.channel),
        Ari::Dial(e) => {
            if let Some(status) = dial_status(&e.dialstatus)
                && let Some(h) = call.leg_handle(&e.peer.id).map(String::from)
                && let Some(leg) = call.legs.get_mut(&h)
                && !leg.dial_settled
            {
                leg.model = e.peer.clone();
                leg.dial_settled = settles(status);
                out.push(wit::Event::DialStatus(wit::DialOutcome { leg: h, status }));
            }
        }
        Ari::ChannelHangupRequest(e) => {
            if let Some(h) = call.leg_handle(&e.channel.id).map(String::from)
                && let Some(leg) = call.legs.get_mut(&h)
                && !matches!(leg.phase, LegPhase::Leaving(_))
            {
                // A second request (Asterisk repeats them) keeps the first one's cause.
                let cause = match leg.phase {
                    LegPhase::HangingUp(first) => first.or(e.cause),
                    _ => e.cause,
                };
                leg.phase = LegPhase::HangingUp(cause);
            }
        }
        Ari::StasisEnd(e) => {
            if let Some(h) = call.leg_handle(&e.channel.id).map(String::from)
                && let Some(leg) = call.legs.get_mut(&h)
            {
                match leg.phase {
                    LegPhase::HangingUp(cause) if leg.created => {
                        leg.phase = LegPhase::Leaving(cause);
                    }
                    LegPhase::HangingUp(_) => {
                        let cause = leg.phase.hangup_cause();
                        out.extend(gone(call, &h, cause, cause_text(cause.into())));
                    }
                    _ => {
                        remove_leg(call, &h);
                        out.push(wit::Event::Left(h));
                    }
                }
            }
        }
        Ari::ChannelDestroyed(e) => {
            if let Some(h) = call.leg_handle(&e.channel.id).map(String::from) {
                let cause = u16::try_from(e.cause).unwrap_or(0);
                out.extend(gone(call, &h, cause, e.cause_txt.as_str()));
            }
        }
        Ari::ChannelEnteredBridge(e) => {
            if let Some(c) = &e.channel
                && let Some(h) = call.leg_handle(&c.id).map(String::from)
                && let Some(b) = call.bridge_handle(&e.bridge.id).map(String::from)
            {
                if let Some(bridge) = call.bridges.get_mut(&b)
                    && !bridge.members.contains(&h)
                {
                    bridge.members.push(h.clone());
                }
                out.push(wit::Event::EnteredBridge(wit::BridgeMove {
                    bridge: b,
                    channel: h,
                }));
            }
        }
        Ari::ChannelLeftBridge(e) => {
            if let Some(h) = call.leg_handle(&e.channel.id).map(String::from)
                && let Some(b) = call.bridge_handle(&e.bridge.id).map(String::from)
            {
                if let Some(bridge) = call.bridges.get_mut(&b) {
                    bridge.members.retain(|m| *m != h);
                }
                out.push(wit::Event::LeftBridge(wit::BridgeMove {
                    bridge: b,
                    channel: h,
                }));
            }
        }
        Ari::BridgeDestroyed(e) => {
            if let Some(b) = call.bridge_handle(&e.bridge.id).map(String::from) {
                call.bridges.remove(&b);
            }
        }
        Ari::ChannelDtmfReceived(e) => {
            if let Some(h) = call.leg_handle(&e.channel.id).map(String::from)
                && let Some(digit) = e.digit.chars().next()
            {
                out.push(wit::Event::Dtmf(wit::Dtmf {
                    channel: h,
                    digit,
                    duration_ms: u32::try_from(e.duration_ms).unwrap_or(0),
                }));
            }
        }
        Ari::PlaybackFinished(e) => {
            if let Some(h) = call.playbacks.remove(&e.playback.id) {
                let status = if e.playback.state == "failed" {
                    wit::PlaybackStatus::Failed
                } else {
                    wit::PlaybackStatus::Done
                };
                out.push(wit::Event::PlaybackFinished(wit::PlaybackEnd {
                    playback: h,
                    status,
                }));
            }
        }
        _ => {}
    }
    out
}

fn update_model(call: &mut CallRecord, channel: &crate::ari::models::Channel) {
    if let Some(h) = call.leg_handle(&channel.id).map(String::from)
        && let Some(leg) = call.legs.get_mut(&h)
    {
        leg.model = channel.clone();
    }
}

/// The leg `handle` is gone with `cause`: it leaves the record, and the plugin hears it hung
/// up, after the dial status it stands for if its dial had not settled.
pub fn gone(call: &mut CallRecord, handle: &str, cause: u16, text: &str) -> Vec<wit::Event> {
    let mut out = Vec::with_capacity(2);
    if let Some(leg) = call.legs.get(handle)
        && leg.dialed
        && !leg.dial_settled
    {
        out.push(wit::Event::DialStatus(wit::DialOutcome {
            leg: handle.into(),
            status: status_of_cause(cause.into()),
        }));
    }
    remove_leg(call, handle);
    out.push(wit::Event::HungUp(wit::Hangup {
        channel: handle.into(),
        cause,
        cause_text: text.into(),
    }));
    out
}

/// A channel is gone from the call: from its legs and from its bridges' members.
pub fn remove_leg(call: &mut CallRecord, handle: &str) {
    call.legs.remove(handle);
    for bridge in call.bridges.values_mut() {
        bridge.members.retain(|m| m != handle);
    }
}
