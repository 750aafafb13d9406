//! A call read back from the store after a restart meets Asterisk again. While the router was
//! down Asterisk went on: the interrupted reply may have created channels and bridges the
//! image does not name, legs rang or answered, parties hung up. Asterisk's channel and bridge
//! lists at the first connection are the truth; this brings the record up to them and says
//! what the plugin must hear (hangups of vanished legs are the resync's, as after any
//! reconnect).

use super::call::{BridgeRecord, CallRecord, Leg, LegCallerId, LegPhase, ari_id, call_of};
use super::durable::ReplyImage;
use super::session::Listed;
use crate::runtime as wit;

/// What the call must hear and clear up after meeting Asterisk again.
#[derive(Debug, Default)]
pub struct CaughtUp {
    /// The events the plugin missed.
    pub events: Vec<wit::Event>,
    /// Channels the call's last reply created before the router died without storing that
    /// reply: nothing will drive them, so they are hung up.
    pub stray_channels: Vec<String>,
    /// Bridges likewise; they are destroyed.
    pub stray_bridges: Vec<String>,
}

/// Whether the stored unfinished reply creates the leg or bridge `handle`.
fn creates(reply: Option<&ReplyImage>, handle: &str) -> bool {
    reply.is_some_and(|r| {
        r.commands.iter().any(|c| match c {
            wit::Command::Create(c) => c.leg == handle,
            wit::Command::BridgeCreate(b) => b.bridge == handle,
            _ => false,
        })
    })
}

/// Adopts the channels and bridges Asterisk holds for the call that the record lacks and the
/// stored unfinished reply creates (their ids name the call and the handle); those of a reply
/// that was lost with the router are returned as strays. Refreshes each leg and bridge from
/// the lists, and returns the events the plugin missed: `state-changed` for a leg whose state
/// moved, and `dial-status answer` for a dialed leg that answered meanwhile.
pub fn catch_up(
    record: &mut CallRecord,
    listed: &Listed,
    unfinished: Option<&ReplyImage>,
) -> CaughtUp {
    let mut caught = CaughtUp::default();
    let prefix = ari_id(&record.id, "");
    // Channels the interrupted reply created (a Local channel's `;2` half is not a leg).
    for (id, channel) in &listed.channels {
        if call_of(id) != Some(record.id.as_str()) || id.contains(';') {
            continue;
        }
        let Some(handle) = id.strip_prefix(&prefix) else {
            continue;
        };
        if record.legs.contains_key(handle) || record.leg_handle(id).is_some() {
            continue;
        }
        if !creates(unfinished, handle) {
            tracing::info!(leg = %handle, "hanging up a channel of a reply lost with the router");
            caught.stray_channels.push(id.clone());
            continue;
        }
        tracing::info!(leg = %handle, "adopting a channel the interrupted reply created");
        record.legs.insert(
            handle.to_string(),
            Box::new(Leg {
                ari_id: id.clone(),
                model: channel.clone(),
                caller_id: LegCallerId::PassThrough,
                created: true,
                phase: LegPhase::InStasis,
                // Not marked: its dial had not been recorded, so it was not sent.
                dialed: false,
                dial_settled: false,
                since: std::time::Instant::now(),
            }),
        );
    }
    for bridge in &listed.bridges {
        if call_of(&bridge.id) != Some(record.id.as_str()) {
            continue;
        }
        let Some(handle) = bridge.id.strip_prefix(&prefix) else {
            continue;
        };
        if !record.bridges.contains_key(handle) && !creates(unfinished, handle) {
            tracing::info!(bridge = %handle, "destroying a bridge of a reply lost with the router");
            caught.stray_bridges.push(bridge.id.clone());
            continue;
        }
        let members: Vec<String> = bridge
            .channels
            .iter()
            .filter_map(|c| record.leg_handle(c).map(String::from))
            .collect();
        match record.bridges.get_mut(handle) {
            Some(known) => known.members = members,
            None => {
                tracing::info!(bridge = %handle, "adopting a bridge the interrupted reply created");
                record.bridges.insert(
                    handle.to_string(),
                    BridgeRecord {
                        ari_id: bridge.id.clone(),
                        kind: if bridge.bridge_type.contains("holding") {
                            wit::BridgeKind::Holding
                        } else {
                            wit::BridgeKind::Mixing
                        },
                        members,
                    },
                );
            }
        }
    }
    // Bridges Asterisk no longer has.
    let listed_bridges: std::collections::HashSet<&str> =
        listed.bridges.iter().map(|b| b.id.as_str()).collect();
    record
        .bridges
        .retain(|_, b| listed_bridges.contains(b.ari_id.as_str()));

    let events = &mut caught.events;
    for (handle, leg) in record.legs.iter_mut() {
        let Some(now) = listed.channels.get(&leg.ari_id) else {
            continue; // vanished: the resync's hangup
        };
        if leg.phase == LegPhase::Entering {
            leg.phase = LegPhase::InStasis;
        }
        if now.state != leg.model.state {
            leg.model = now.clone();
            events.push(wit::Event::StateChanged(handle.clone()));
            if leg.dialed && !leg.dial_settled && now.state == "Up" {
                leg.dial_settled = true;
                events.push(wit::Event::DialStatus(wit::DialOutcome {
                    leg: handle.clone(),
                    status: wit::DialStatus::Answer,
                }));
            }
        } else {
            leg.model = now.clone();
        }
    }
    caught
}

/// After the event stream of a running router came back: dialed legs Asterisk now lists as up
/// answered while the stream was down, and the plugin hears it (`state-changed`, `dial-status
/// answer`). Only that: an answer cannot be undone, so a list fetched a moment before a newer
/// event cannot move a leg backwards; legs that went away are the resync's hangups.
pub fn answered_meanwhile(record: &mut CallRecord, listed: &Listed) -> Vec<wit::Event> {
    let mut events = Vec::new();
    for (handle, leg) in record.legs.iter_mut() {
        if !leg.dialed || leg.dial_settled || leg.model.state == "Up" {
            continue;
        }
        let Some(now) = listed.channels.get(&leg.ari_id) else {
            continue;
        };
        if now.state == "Up" {
            leg.model = now.clone();
            leg.dial_settled = true;
            events.push(wit::Event::StateChanged(handle.clone()));
            events.push(wit::Event::DialStatus(wit::DialOutcome {
                leg: handle.clone(),
                status: wit::DialStatus::Answer,
            }));
        }
    }
    events
}

/// Whether a restart tells the plugin `event` again if its reply was lost: a hangup (the leg
/// is gone from the lists), an answer or a state change (the lists show the leg up), a
/// timer (its deadline is in the stored image and fires late, at once). A reply to anything
/// else (the call's start, a digit, a playback's end) is lost for good unless written first.
pub fn told_again_after_restart(event: &wit::Event) -> bool {
    matches!(
        event,
        wit::Event::HungUp(_)
            | wit::Event::StateChanged(_)
            | wit::Event::Timer(_)
            | wit::Event::DialStatus(wit::DialOutcome {
                status: wit::DialStatus::Answer,
                ..
            })
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ari::models::{Bridge, Channel};

    fn channel(id: &str, state: &str) -> Channel {
        Channel {
            id: id.into(),
            name: format!("PJSIP/{id}"),
            state: state.into(),
            ..Channel::default()
        }
    }

    /// Call `r1.7` with its caller in Stasis and Asterisk holding `b1` and bridge `br` of it.
    fn call_and_lists(b1_state: &str) -> (CallRecord, Listed) {
        let mut record = CallRecord::new("r1.7".into(), "acme", "pbx", "acme", Vec::new());
        record.legs.insert(
            "caller".into(),
            Box::new(Leg::inbound(channel("1795667013.2", "Up"))),
        );
        let b1 = ari_id("r1.7", "b1");
        let mut channels = std::collections::HashMap::new();
        channels.insert("1795667013.2".to_string(), channel("1795667013.2", "Up"));
        channels.insert(b1.clone(), channel(&b1, b1_state));
        let bridges = vec![Bridge {
            id: ari_id("r1.7", "br"),
            bridge_type: "mixing".into(),
            channels: vec!["1795667013.2".into(), b1],
            ..Bridge::default()
        }];
        (record, Listed { channels, bridges })
    }

    fn reply_creating_b1_and_br() -> ReplyImage {
        let commands: Vec<wit::Command> = serde_json::from_value(serde_json::json!([
            {"Create": {"leg": "b1", "endpoint": "PJSIP/b1", "caller_id": "PassThrough",
                        "formats": null, "originator": "caller"}},
            {"BridgeCreate": {"bridge": "br", "kind": "Mixing"}},
        ]))
        .expect("commands in serde spelling");
        ReplyImage { commands, next: 1 }
    }

    #[test]
    fn what_a_reply_lost_with_the_router_made_is_cleared_away() {
        let (mut record, listed) = call_and_lists("Down");
        let caught = catch_up(&mut record, &listed, None);
        assert_eq!(caught.stray_channels, vec![ari_id("r1.7", "b1")]);
        assert_eq!(caught.stray_bridges, vec![ari_id("r1.7", "br")]);
        assert!(caught.events.is_empty());
        assert_eq!(record.legs.keys().collect::<Vec<_>>(), ["caller"]);
        assert!(record.bridges.is_empty());
    }

    #[test]
    fn what_the_stored_unfinished_reply_made_is_adopted() {
        let (mut record, listed) = call_and_lists("Down");
        let reply = reply_creating_b1_and_br();
        let caught = catch_up(&mut record, &listed, Some(&reply));
        assert!(caught.stray_channels.is_empty());
        assert!(caught.stray_bridges.is_empty());
        assert!(caught.events.is_empty());
        let b1 = &record.legs["b1"];
        assert_eq!(
            (b1.ari_id.as_str(), b1.created, b1.dialed, b1.phase),
            ("cw-r1.7-b1", true, false, LegPhase::InStasis)
        );
        assert_eq!(record.bridges["br"].members, ["caller", "b1"]);
    }

    #[test]
    fn a_dialed_leg_that_answered_meanwhile_is_heard_answering() {
        let (mut record, listed) = call_and_lists("Up");
        let mut b1 = Leg::inbound(channel(&ari_id("r1.7", "b1"), "Ringing"));
        (b1.created, b1.dialed) = (true, true);
        record.legs.insert("b1".into(), Box::new(b1));
        let caught = catch_up(&mut record, &listed, None);
        assert_eq!(caught.stray_channels, Vec::<String>::new());
        // The bridge is not the record's and no stored reply creates it.
        assert_eq!(caught.stray_bridges, vec![ari_id("r1.7", "br")]);
        assert_eq!(
            caught.events,
            vec![
                wit::Event::StateChanged("b1".into()),
                wit::Event::DialStatus(wit::DialOutcome {
                    leg: "b1".into(),
                    status: wit::DialStatus::Answer,
                }),
            ]
        );
        assert!(record.legs["b1"].dial_settled);
        assert_eq!(record.legs["b1"].model.state, "Up");
    }

    #[test]
    fn a_running_router_hears_of_an_answer_its_stream_missed_and_nothing_older() {
        let (mut record, listed) = call_and_lists("Up");
        let mut b1 = Leg::inbound(channel(&ari_id("r1.7", "b1"), "Ringing"));
        (b1.created, b1.dialed) = (true, true);
        record.legs.insert("b1".into(), Box::new(b1));
        assert_eq!(
            answered_meanwhile(&mut record, &listed),
            vec![
                wit::Event::StateChanged("b1".into()),
                wit::Event::DialStatus(wit::DialOutcome {
                    leg: "b1".into(),
                    status: wit::DialStatus::Answer,
                }),
            ]
        );
        // Heard once; and a list older than the leg's own news changes nothing.
        assert!(answered_meanwhile(&mut record, &listed).is_empty());
        let (_, ringing) = call_and_lists("Ringing");
        if let Some(b1) = record.legs.get_mut("b1") {
            b1.dial_settled = false;
        }
        assert!(answered_meanwhile(&mut record, &ringing).is_empty());
        assert_eq!(record.legs["b1"].model.state, "Up");
    }
}
