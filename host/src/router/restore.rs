//! A call read back from the store after a restart meets Asterisk again. While the router was
//! down Asterisk went on: the interrupted reply may have created channels and bridges the
//! image does not name, legs rang or answered, parties hung up. Asterisk's channel and bridge
//! lists at the first connection are the truth; this brings the record up to them and says
//! what the plugin must hear (hangups of vanished legs are the resync's, as after any
//! reconnect).

use super::call::{BridgeRecord, CallRecord, Leg, LegCallerId, LegPhase, ari_id, call_of};
use super::session::Listed;
use crate::runtime as wit;

/// Adopts the channels and bridges Asterisk holds for the call that the record lacks (their
/// ids name the call and the handle), refreshes each leg and bridge from the lists, and
/// returns the events the plugin missed: `state-changed` for a leg whose state moved, and
/// `dial-status answer` for a dialed leg that answered meanwhile.
pub fn catch_up(record: &mut CallRecord, listed: &Listed) -> Vec<wit::Event> {
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

    let mut events = Vec::new();
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
    events
}
