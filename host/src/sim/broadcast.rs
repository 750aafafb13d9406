//! StasisBroadcast (Asterisk 22.7+, ari-samples t8): a channel in the dialplan is offered to
//! every connected app whose name matches a filter (CallBroadcast); the first `POST
//! /events/claim` wins it (204; later claims 409), the matched apps hear who won
//! (CallClaimed) when the dialplan asked, and only the winner gets its StasisStart. Unclaimed
//! after the timeout, the dialplan goes on (STASISSTATUS=TIMEOUT) and the channel hangs up.

use super::operations::{ChannelBody, announce, hang_up};
use super::server::{Body, Shared, lock, message, no_content};
use super::state::{Broadcast, State};
use hyper::{Response, StatusCode};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The `;2` half `id` of a Local channel runs StasisBroadcast(`timeout`, `filter`, `args`,
/// `notify_claimed`).
pub(super) fn offer(
    shared: &Arc<Shared>,
    state: &mut State,
    id: &str,
    timeout: Duration,
    filter: &str,
    args: &str,
    notify_claimed: bool,
) {
    let Ok(pattern) = regex::Regex::new(filter) else {
        // A filter Asterisk could not compile: the application fails and the call goes on.
        hang_up(state, id, Some(16), 16);
        return;
    };
    let mut apps: Vec<String> = state
        .apps
        .keys()
        .filter(|app| state.listening(app) && pattern.is_match(app))
        .cloned()
        .collect();
    apps.sort();
    let Some(channel) = state.channels.get_mut(id) else {
        return;
    };
    channel.model.dialplan.app_name = "StasisBroadcast".into();
    // As the dialplan wrote it (t8: "3000,^router2?$,argA:argB,yes").
    channel.model.dialplan.app_data = format!(
        "{},{filter},{args},{}",
        timeout.as_millis(),
        if notify_claimed { "yes" } else { "no" }
    );
    let (caller, called) = (
        channel.model.caller.number.clone(),
        channel.model.dialplan.exten.clone(),
    );
    let body = serde_json::json!({
        "channel": channel.model,
        "caller": caller,
        "called": called,
    });
    let names: Vec<&str> = apps.iter().map(String::as_str).collect();
    announce(state, &names, "CallBroadcast", &body);
    state.broadcasts.insert(
        id.to_string(),
        Broadcast {
            apps,
            args: match args {
                "" => Vec::new(),
                _ => args.split(':').map(String::from).collect(),
            },
            notify_claimed,
        },
    );
    let (shared, id) = (shared.clone(), id.to_string());
    tokio::spawn(async move {
        tokio::time::sleep(timeout).await;
        let mut state = lock(&shared.state);
        if state.broadcasts.remove(&id).is_some() {
            // STASISSTATUS=TIMEOUT; the dialplan logs and hangs up.
            hang_up(&mut state, &id, Some(16), 16);
        }
    });
}

/// `POST /events/claim?channelId=&application=`.
pub(super) fn claim(state: &mut State, query: &HashMap<String, String>) -> Response<Body> {
    let Some(app) = query.get("application").filter(|a| !a.is_empty()) else {
        return message(StatusCode::BAD_REQUEST, "application parameter is required");
    };
    let id = query.get("channelId").cloned().unwrap_or_default();
    let Some(offer) = state.broadcasts.get(&id).cloned() else {
        let claimed = state
            .channels
            .get(&id)
            .is_some_and(|c| c.model.dialplan.app_name == "StasisBroadcast");
        return if claimed {
            message(
                StatusCode::CONFLICT,
                "Channel has already been claimed by another application",
            )
        } else {
            message(
                StatusCode::NOT_FOUND,
                "Channel not found or not in broadcast state",
            )
        };
    };
    state.broadcasts.remove(&id);
    if offer.notify_claimed
        && let Some(channel) = state.channels.get(&id)
    {
        let body = ChannelBody {
            channel: &channel.model,
            extra: &serde_json::json!({ "winner_app": app }),
        };
        let names: Vec<&str> = offer.apps.iter().map(String::as_str).collect();
        announce(state, &names, "CallClaimed", &body);
    }
    if let Some(channel) = state.channels.get_mut(&id) {
        channel.app = Some(app.clone());
        channel.inbound = true;
    }
    super::operations::channel_event(
        state,
        &id,
        "StasisStart",
        serde_json::json!({ "args": offer.args }),
    );
    no_content()
}
