//! ARI's REST operations in the simulated Asterisk: what each does to channels and bridges,
//! which events it emits, and the status codes and bodies a real Asterisk 22 answers with
//! (../shared/ari-samples/README.md lists what the real one did).

use super::endpoints::{Behaviour, TECHNOLOGIES, behaviour_of};
use super::server::{Body, CreateOrder, Shared, application, json, lock, message, no_content};
use super::state::{SimBridge, SimChannel, State, comma_list, new_channel, timestamp};
use crate::ari::models::{Bridge, Channel};
use hyper::{Method, Response, StatusCode};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

type Query = HashMap<String, String>;

/// Answers one REST request.
pub(super) fn route(
    shared: &Arc<Shared>,
    method: &Method,
    segments: &[&str],
    query: &Query,
    body: &[u8],
) -> Response<Body> {
    let mut state = lock(&shared.state);
    let state = &mut *state;
    if !matches!(segments, ["channels", "create"]) {
        announce_entries(state);
    }
    match (method.clone(), segments) {
        (Method::GET, ["asterisk", "ping"]) => json(
            StatusCode::OK,
            serde_json::json!({"asterisk_id": "sim", "ping": "pong", "timestamp": timestamp()}),
        ),
        (Method::GET, ["asterisk", "info"]) => json(
            StatusCode::OK,
            serde_json::json!({
                "system": {"version": "22.10.1-callwasm-sim", "entity_id": "sim"},
                "build": {"os": "Linux", "kernel": "", "machine": "x86_64", "options": "", "date": "", "user": ""},
                "status": {"startup_time": timestamp(), "last_reload_time": timestamp()},
            }),
        ),
        (Method::GET, ["asterisk", "variable"]) => match query.get("variable") {
            // No global variables are set on the simulated Asterisk: unset reads as "".
            Some(name) if !name.is_empty() => {
                json(StatusCode::OK, serde_json::json!({ "value": "" }))
            }
            _ => missing("variable"),
        },
        (Method::GET, ["endpoints"]) => {
            json(StatusCode::OK, serde_json::json!(endpoints(state, None)))
        }
        (Method::GET, ["endpoints", tech]) => {
            if TECHNOLOGIES.contains(tech) {
                json(
                    StatusCode::OK,
                    serde_json::json!(endpoints(state, Some(tech))),
                )
            } else {
                message(
                    StatusCode::NOT_FOUND,
                    &format!("No Endpoints found - invalid tech {tech}"),
                )
            }
        }
        // No sound packages, recordings or device states on the simulated Asterisk (nor on
        // the test suite's minimal build): empty lists, as that Asterisk answers.
        (Method::GET, ["sounds"] | ["recordings", "stored"] | ["deviceStates"]) => {
            json(StatusCode::OK, serde_json::json!([]))
        }
        (Method::GET, ["applications"]) => {
            let names: Vec<String> = state.apps.keys().cloned().collect();
            let list: Vec<_> = names.iter().filter_map(|n| application(n, state)).collect();
            json(StatusCode::OK, serde_json::json!(list))
        }
        (Method::GET, ["applications", name]) => match application(name, state) {
            Some(app) => json(StatusCode::OK, serde_json::json!(app)),
            None => message(StatusCode::NOT_FOUND, "Application not found"),
        },
        (Method::PUT, ["applications", name, "eventFilter"]) => set_filter(state, name, body),
        (Method::POST, ["applications", name, "subscription"]) => {
            subscription(state, name, query, true)
        }
        (Method::DELETE, ["applications", name, "subscription"]) => {
            subscription(state, name, query, false)
        }
        (Method::GET, ["channels"]) => {
            let list: Vec<&Channel> = state.channels.values().map(|c| &c.model).collect();
            json(StatusCode::OK, serde_json::json!(list))
        }
        (Method::POST, ["channels", "create"]) => {
            let Some(variables) = create_variables(body) else {
                return message(StatusCode::BAD_REQUEST, "Invalid JSON body");
            };
            let response = create(shared, state, query, &variables);
            // Without an application nothing holds the new channel: Asterisk answers 200
            // and the channel is gone at once.
            if !query.contains_key("app")
                && let Some(id) = created_id(state, query)
            {
                let partner = state.channels.remove(&id).and_then(|c| c.partner);
                if let Some(partner) = partner {
                    state.channels.remove(&partner);
                }
            }
            response
        }
        (Method::POST, ["channels"]) => originate(shared, state, query),
        (Method::POST, ["events", "claim"]) => super::broadcast::claim(state, query),
        (Method::PUT | Method::PATCH, ["channels"]) => {
            message(StatusCode::METHOD_NOT_ALLOWED, "Invalid method")
        }
        (Method::POST, ["channels", id, "play"]) => play(shared, state, Target::Channel(id), query),
        (Method::POST, ["bridges", id, "play"]) => play(shared, state, Target::Bridge(id), query),
        (Method::DELETE, ["playbacks", id]) => stop_playback(state, id),
        (Method::POST, ["channels", id, "moh"]) => in_stasis(state, id).unwrap_or_else(no_content),
        (Method::DELETE, ["channels", id, "moh"]) => {
            in_stasis(state, id).unwrap_or_else(no_content)
        }
        (Method::POST, ["channels", id, "continue"]) => continue_in_dialplan(state, id, query),
        (Method::GET, ["channels", id]) => match state.channels.get(*id) {
            Some(c) => json(StatusCode::OK, serde_json::json!(c.model)),
            None => message(StatusCode::NOT_FOUND, "Channel not found"),
        },
        (Method::DELETE, ["channels", id]) => {
            let cause = query
                .get("reason_code")
                .and_then(|c| c.parse().ok())
                .unwrap_or(16);
            match state.channels.contains_key(*id) {
                true => {
                    hang_up(state, id, Some(LOCAL_HANGUP_REQUEST), cause);
                    no_content()
                }
                false => message(StatusCode::NOT_FOUND, "Channel not found"),
            }
        }
        (Method::POST, ["channels", id, "dial"]) => dial(shared, state, id, query),
        (Method::POST, ["channels", id, op @ ("answer" | "ring" | "progress")]) => {
            signal(shared, state, id, op)
        }
        (Method::POST, ["channels", id, "variable"]) => set_variable(state, id, query),
        (Method::GET, ["channels", id, "variable"]) => get_variable(state, id, query),
        (Method::GET, ["bridges"]) => {
            let list: Vec<&Bridge> = state.bridges.values().map(|b| &b.model).collect();
            json(StatusCode::OK, serde_json::json!(list))
        }
        (Method::POST, ["bridges"]) => create_bridge(state, query),
        (Method::GET, ["bridges", id]) => match state.bridges.get(*id) {
            Some(b) => json(StatusCode::OK, serde_json::json!(b.model)),
            None => message(StatusCode::NOT_FOUND, "Bridge not found"),
        },
        (Method::DELETE, ["bridges", id]) => match state.bridges.contains_key(*id) {
            true => {
                destroy_bridge(state, id);
                no_content()
            }
            false => message(StatusCode::NOT_FOUND, "Bridge not found"),
        },
        (Method::POST, ["bridges", id, "addChannel"]) => add_channels(state, id, query),
        (Method::POST, ["bridges", id, "removeChannel"]) => remove_channels(state, id, query),
        _ => message(StatusCode::NOT_FOUND, "Resource not found"),
    }
}

fn set_filter(state: &mut State, name: &str, body: &[u8]) -> Response<Body> {
    #[derive(serde::Deserialize)]
    struct Filter {
        #[serde(default)]
        allowed: Vec<serde_json::Value>,
    }
    let filter: Filter = match serde_json::from_slice(body) {
        Ok(f) => f,
        Err(_) if body.is_empty() => Filter { allowed: vec![] },
        Err(e) => return message(StatusCode::BAD_REQUEST, &format!("Invalid filter: {e}")),
    };
    let Some(app) = state.apps.get_mut(name) else {
        return message(StatusCode::NOT_FOUND, "Application not found");
    };
    app.allowed = filter
        .allowed
        .iter()
        .filter_map(|t| t["type"].as_str().map(String::from))
        .collect();
    match application(name, state) {
        Some(app) => json(StatusCode::OK, serde_json::json!(app)),
        None => message(StatusCode::NOT_FOUND, "Application not found"),
    }
}

/// The endpoints that have channels (the simulator has no endpoint configuration), as
/// `GET /endpoints` lists them; of one technology when `tech` is given.
fn endpoints(state: &State, tech: Option<&str>) -> Vec<serde_json::Value> {
    let mut by: std::collections::BTreeMap<(String, String), Vec<String>> = Default::default();
    for (id, c) in &state.channels {
        if let Some((t, resource)) = c.endpoint.split_once('/')
            && tech.is_none_or(|want| want == t)
        {
            let resource = resource.split('@').next().unwrap_or(resource).to_string();
            by.entry((t.to_string(), resource))
                .or_default()
                .push(id.clone());
        }
    }
    by.into_iter()
        .map(|((technology, resource), channel_ids)| {
            serde_json::json!({
                "technology": technology,
                "resource": resource,
                "state": "online",
                "channel_ids": channel_ids,
            })
        })
        .collect()
}

/// `POST` / `DELETE /applications/{app}/subscription?eventSource=channel:<id>,…`: the app
/// hears of the channel until it is destroyed, in Stasis or not (res_stasis's
/// `stasis_app_subscribe`, with resource_applications.c's answers). Channels only.
fn subscription(state: &mut State, name: &str, query: &Query, on: bool) -> Response<Body> {
    let sources = comma_list(query.get("eventSource"));
    if sources.is_empty() {
        return message(StatusCode::BAD_REQUEST, "Missing parameter eventSource");
    }
    if !state.apps.contains_key(name) {
        return message(StatusCode::NOT_FOUND, "Application not found");
    }
    let mut ids = Vec::with_capacity(sources.len());
    for source in &sources {
        let Some(id) = source.strip_prefix("channel:") else {
            return message(StatusCode::BAD_REQUEST, "Invalid event source URI scheme");
        };
        let known = state.channels.get(id).is_some_and(|c| {
            on || c.subscribed.iter().any(|a| a == name) || c.app.as_deref() == Some(name)
        });
        if !known {
            let text = if on {
                "Event source does not exist"
            } else {
                "Event source was not subscribed to"
            };
            return message(StatusCode::UNPROCESSABLE_ENTITY, text);
        }
        ids.push(id.to_string());
    }
    for id in ids {
        if let Some(c) = state.channels.get_mut(&id) {
            c.subscribed.retain(|a| a != name);
            if on {
                c.subscribed.push(name.to_string());
            }
        }
    }
    match application(name, state) {
        Some(app) => json(StatusCode::OK, serde_json::json!(app)),
        None => message(StatusCode::NOT_FOUND, "Application not found"),
    }
}

/// The far end answered: Up, Dial ANSWER, and an originated channel enters its application.
/// A Local channel's `;2` half (running the dialplan) answers first.
fn answered(state: &mut State, id: &str, caller: Option<&str>) {
    if let Some(partner) = state.channels.get(id).and_then(|c| c.partner.clone())
        && state
            .channels
            .get(&partner)
            .is_some_and(|p| p.app.is_none())
    {
        set_state(state, &partner, "Up");
    }
    set_state(state, id, "Up");
    dial_event(state, id, "ANSWER", caller);
    let pending = state.channels.get_mut(id).and_then(|c| c.pending.take());
    if let Some((app, args)) = pending {
        // Stasis() fails for an application with no socket: Asterisk hangs the channel up.
        if !state.listening(&app) {
            hang_up(state, id, Some(LOCAL_HANGUP_REQUEST), 16);
            return;
        }
        if let Some(c) = state.channels.get_mut(id) {
            c.app = Some(app);
        }
        channel_event(
            state,
            id,
            "StasisStart",
            serde_json::json!({ "args": args }),
        );
    }
}

/// The applications that get events about a channel, in order: the one it belongs to, those
/// subscribed to it, then those subscribed to every channel.
fn audience<'a>(state: &'a State, channel: &'a SimChannel) -> Vec<&'a str> {
    let mut apps: Vec<&str> = channel.subscriber().into_iter().collect();
    for app in &channel.subscribed {
        if !apps.contains(&app.as_str()) {
            apps.push(app);
        }
    }
    for (name, app) in &state.apps {
        if app.all && !apps.contains(&name.as_str()) {
            apps.push(name);
        }
    }
    apps
}

/// An event as written on the socket: the envelope every ARI event has around its body.
/// Serialised straight from borrowed models: under load, building a `serde_json::Value` tree
/// per event was most of the simulator's CPU.
#[derive(serde::Serialize)]
struct Envelope<'a, B: serde::Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    timestamp: &'a str,
    #[serde(flatten)]
    body: &'a B,
    asterisk_id: &'static str,
    application: &'a str,
}

/// Sends an event of type `kind` with `body` to each of `apps` that accepts it.
pub(super) fn announce<B: serde::Serialize>(state: &State, apps: &[&str], kind: &str, body: &B) {
    let now = timestamp();
    for app in apps {
        if !state.accepts(app, kind) {
            continue;
        }
        let envelope = Envelope {
            kind,
            timestamp: &now,
            body,
            asterisk_id: "sim",
            application: app,
        };
        if let Ok(text) = serde_json::to_string(&envelope) {
            state.send(app, text);
        }
    }
}

/// The body of a channel event: the channel and the event's own fields.
#[derive(serde::Serialize)]
pub(super) struct ChannelBody<'a> {
    pub channel: &'a Channel,
    #[serde(flatten)]
    pub extra: &'a serde_json::Value,
}

/// An event about a channel. StasisStart and StasisEnd go to the application the channel is
/// in; the others to every application watching it.
pub(super) fn channel_event(state: &State, id: &str, kind: &str, extra: serde_json::Value) {
    let Some(channel) = state.channels.get(id) else {
        return;
    };
    let apps = match kind {
        "StasisStart" | "StasisEnd" => channel.app.as_deref().into_iter().collect(),
        _ => audience(state, channel),
    };
    let body = ChannelBody {
        channel: &channel.model,
        extra: &extra,
    };
    announce(state, &apps, kind, &body);
}

/// Asterisk's 400 for a missing parameter, in its own words.
fn missing(name: &str) -> Response<Body> {
    let text = match name {
        "variable" => "Variable name is required".to_string(),
        "endpoint" => "Endpoint must be specified".to_string(),
        "media" => "Missing parameter media".to_string(),
        other => format!("Missing parameter {other}"),
    };
    message(StatusCode::BAD_REQUEST, &text)
}

/// Whether Asterisk could allocate a channel for this endpoint.
fn allocatable(endpoint: &str) -> bool {
    let Some((tech, resource)) = endpoint.split_once('/') else {
        return false;
    };
    TECHNOLOGIES.contains(&tech) && !resource.is_empty() && !resource.contains("nosuch")
}

fn allocation_failed() -> Response<Body> {
    json(
        StatusCode::INTERNAL_SERVER_ERROR,
        serde_json::json!({"error": "Allocation failed"}),
    )
}

/// The channel `create` just made for `query`: the given id, or the one for the endpoint named
/// with the highest sequence.
fn created_id(state: &State, query: &Query) -> Option<String> {
    if let Some(id) = query.get("channelId") {
        return Some(id.clone());
    }
    let endpoint = query.get("endpoint")?;
    state
        .channels
        .values()
        .filter(|c| c.created && c.endpoint == *endpoint && !c.model.name.ends_with(";2"))
        .max_by(|a, b| a.model.name.cmp(&b.model.name))
        .map(|c| c.model.id.clone())
}

/// `POST /channels/create`: a channel in Stasis, state Down, not dialed.
/// The `variables` of a create request's JSON body (none without a body); None when the body
/// is not JSON or its variables are not strings.
fn create_variables(body: &[u8]) -> Option<Vec<(String, String)>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(Vec::new());
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    match value.get("variables") {
        None => Some(Vec::new()),
        Some(serde_json::Value::Object(map)) => map
            .iter()
            .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect(),
        Some(_) => None,
    }
}

fn create(
    shared: &Arc<Shared>,
    state: &mut State,
    query: &Query,
    variables: &[(String, String)],
) -> Response<Body> {
    let Some(endpoint) = query.get("endpoint") else {
        return missing("endpoint");
    };
    // A real Asterisk 22 accepts a create without `app`: the channel is then not in Stasis.
    let app = query.get("app").cloned();
    let tech = endpoint.split('/').next().unwrap_or_default();
    if !allocatable(endpoint) {
        return allocation_failed();
    }
    let id = match query.get("channelId") {
        Some(id) if state.channels.contains_key(id) => {
            return message(
                StatusCode::CONFLICT,
                "Channel with given unique ID already exists",
            );
        }
        Some(id) => id.clone(),
        None => state.unique_id(),
    };
    state.next_name += 1;
    let seq = state.next_name;
    let name = if tech == "Local" {
        format!("{endpoint}-{seq:08x};1")
    } else {
        format!("{endpoint}-{seq:08x}")
    };
    // A Local channel comes as a pair: the `;2` half runs the dialplan, outside Stasis. Its
    // id is `otherChannelId`, `<channelId>;2`, or the next unique id, as Asterisk does.
    if tech == "Local" {
        let other = match (query.get("otherChannelId"), query.get("channelId")) {
            (Some(other), _) => other.clone(),
            (None, Some(id)) => format!("{id};2"),
            (None, None) => state.unique_id(),
        };
        let (exten, context) = endpoint
            .split_once('/')
            .and_then(|(_, r)| r.split_once('@'))
            .unwrap_or(("s", "default"));
        let half = new_channel(
            &other,
            format!("{endpoint}-{seq:08x};2"),
            "Ring",
            context,
            exten,
        );
        state.channels.insert(
            other.clone(),
            SimChannel {
                model: half,
                endpoint: endpoint.clone(),
                partner: Some(id.clone()),
                ..SimChannel::default()
            },
        );
    }
    let model = new_channel(&id, name, "Down", "default", "s");
    let args: Vec<String> = query
        .get("appArgs")
        .map(|a| a.split(',').map(String::from).collect())
        .unwrap_or_default();
    // Asterisk subscribes the app at once (it hears the channel's destruction whatever
    // happens), but the channel enters Stasis on its own thread: its StasisStart may come
    // after the 200, and now and then it is not in the application yet when the 200 goes.
    let order = match app {
        Some(_) => shared.config.create_order.pick(),
        None => CreateOrder::StasisStartFirst,
    };
    let later = order != CreateOrder::StasisStartFirst;
    let (app, entering) = match app {
        Some(app) if matches!(order, CreateOrder::LateEntry | CreateOrder::HeldEntry) => {
            (None, Some((app, args.clone())))
        }
        Some(app) if later => (Some(app.clone()), Some((app, args.clone()))),
        other => (other, None),
    };
    let subscribed: Vec<String> = app
        .iter()
        .chain(entering.as_ref().map(|(a, _)| a))
        .take(1)
        .cloned()
        .collect();
    state.channels.insert(
        id.clone(),
        SimChannel {
            model: model.clone(),
            app,
            entering,
            subscribed,
            endpoint: endpoint.clone(),
            created: true,
            partner: (tech == "Local")
                .then(|| local_partner(state, &id))
                .flatten(),
            ..SimChannel::default()
        },
    );
    if let Some(channel) = state.channels.get_mut(&id) {
        for (name, value) in variables {
            apply_variable(channel, name, value.clone());
        }
    }
    // Applications subscribed to every channel hear of each new one (first half first).
    let everyone: Vec<&str> = state
        .apps
        .iter()
        .filter(|(_, a)| a.all)
        .map(|(n, _)| n.as_str())
        .collect();
    let partner = state.channels.get(&id).and_then(|c| c.partner.clone());
    for channel in std::iter::once(&id).chain(partner.as_ref()) {
        if let Some(c) = state.channels.get(channel) {
            let body = ChannelBody {
                channel: &c.model,
                extra: &serde_json::json!({}),
            };
            announce(state, &everyone, "ChannelCreated", &body);
        }
    }
    if later {
        state.entering.push(id.clone());
        if order == CreateOrder::HeldEntry {
            state.held.push((id.clone(), false));
        } else {
            enter_stasis_later(shared, &id);
        }
    } else {
        channel_event(
            state,
            &id,
            "StasisStart",
            serde_json::json!({ "args": args }),
        );
    }
    json(StatusCode::OK, serde_json::json!(model))
}

/// The created channel `id`'s StasisStart goes out a little after the 200 (0.4 to 3.6 ms
/// later, the spread ari-samples t4 measured); a late entry is in the application only from
/// then on.
fn enter_stasis_later(shared: &Arc<Shared>, id: &str) {
    let (shared, id) = (shared.clone(), id.to_string());
    let delay = Duration::from_micros(fastrand::u64(400..3600));
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        enter(&mut lock(&shared.state), &id);
    });
}

/// A late entry enters its application now: StasisStart.
fn enter(state: &mut State, id: &str) {
    let Some(channel) = state.channels.get_mut(id) else {
        return;
    };
    let Some((app, args)) = channel.entering.take() else {
        return;
    };
    channel.app = Some(app);
    state.entering.retain(|e| e != id);
    channel_event(
        state,
        id,
        "StasisStart",
        serde_json::json!({ "args": args }),
    );
}

/// Held late entries named by a request just answered (in its path or a parameter) enter now;
/// those created by this very request wait for the next one.
pub(super) fn release_held(
    shared: &Arc<Shared>,
    segments: &[&str],
    query: &HashMap<String, String>,
) {
    let mut state = lock(&shared.state);
    if state.held.is_empty() {
        return;
    }
    let named = |id: &str| {
        segments.contains(&id) || query.values().any(|v| v.split(',').any(|part| part == id))
    };
    let released: Vec<String> = state
        .held
        .iter()
        .filter(|(id, armed)| *armed && named(id))
        .map(|(id, _)| id.clone())
        .collect();
    state.held.retain(|(id, _)| !released.contains(id));
    for (_, armed) in state.held.iter_mut() {
        *armed = true;
    }
    for id in released {
        enter(&mut state, &id);
    }
}

/// Created channels already in their application whose StasisStart was held back (to go out
/// after the create's 200) announce it now, before anything else can happen to them: on a
/// real Asterisk nothing about a channel precedes its StasisStart on the socket.
fn announce_entries(state: &mut State) {
    if state.entering.is_empty() {
        return;
    }
    let channels = &mut state.channels;
    let mut ready: Vec<(String, Vec<String>)> = Vec::new();
    // A late entry stays listed until its own StasisStart; the others go now.
    state.entering.retain(|id| match channels.get_mut(id) {
        Some(c) if c.entering.is_some() && c.app.is_some() => {
            if let Some((_, args)) = c.entering.take() {
                ready.push((id.clone(), args));
            }
            false
        }
        Some(c) => c.entering.is_some(),
        None => false,
    });
    for (id, args) in ready {
        channel_event(
            state,
            &id,
            "StasisStart",
            serde_json::json!({ "args": args }),
        );
    }
}

/// A far end that hangs up on its own: a SIP phone's BYE carries no cause in the hangup
/// request (ari-samples t2); a Local channel's dialplan Hangup() gives its cause (c3).
fn far_request(endpoint: &str, cause: i64) -> Option<i64> {
    (!endpoint.starts_with("PJSIP/") || cause != 16).then_some(cause)
}

/// The `;2` half of the Local channel `id` enters `id`'s application with the dialed
/// extension as its argument, in state Ring.
fn local_stasis(state: &mut State, id: &str) {
    let Some(channel) = state.channels.get(id) else {
        return;
    };
    let (Some(partner), Some(app)) = (channel.partner.clone(), channel.subscriber()) else {
        return;
    };
    let app = app.to_string();
    let Some(half) = state.channels.get_mut(&partner) else {
        return;
    };
    let exten = half.model.dialplan.exten.clone();
    half.app = Some(app.clone());
    half.observer = None;
    // Asterisk keeps the app subscribed to the half after it leaves Stasis (c4: it hears
    // the half's destruction).
    if !half.subscribed.contains(&app) {
        half.subscribed.push(app.clone());
    }
    half.model.dialplan.app_name = "Stasis".into();
    half.model.dialplan.app_data = format!("{app},{exten}");
    channel_event(
        state,
        &partner,
        "StasisStart",
        serde_json::json!({ "args": [exten] }),
    );
}

/// The `;2` half created for the Local channel `id`.
fn local_partner(state: &State, id: &str) -> Option<String> {
    state
        .channels
        .iter()
        .find(|(_, c)| c.partner.as_deref() == Some(id))
        .map(|(other, _)| other.clone())
}

/// Changes a channel's state and announces it.
fn set_state(state: &mut State, id: &str, new_state: &str) {
    if let Some(c) = state.channels.get_mut(id) {
        if c.model.state == new_state {
            return;
        }
        c.model.state = new_state.into();
        c.generation += 1;
    }
    channel_event(state, id, "ChannelStateChange", serde_json::json!({}));
}

fn dial_event(state: &State, id: &str, status: &str, caller: Option<&str>) {
    let Some(channel) = state.channels.get(id) else {
        return;
    };
    #[derive(serde::Serialize)]
    struct DialBody<'a> {
        peer: &'a Channel,
        dialstatus: &'a str,
        dialstring: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        caller: Option<&'a Channel>,
    }
    let body = DialBody {
        peer: &channel.model,
        dialstatus: status,
        dialstring: channel
            .endpoint
            .split_once('/')
            .map(|(_, r)| r)
            .unwrap_or_default(),
        caller: caller.and_then(|c| state.channels.get(c)).map(|c| &c.model),
    };
    announce(state, &audience(state, channel), "Dial", &body);
}

/// `POST /channels/{id}/dial`: runs the endpoint's scripted behaviour.
fn dial(shared: &Arc<Shared>, state: &mut State, id: &str, query: &Query) -> Response<Body> {
    let Some(channel) = state.channels.get(id) else {
        return message(StatusCode::NOT_FOUND, "Channel not found");
    };
    if channel.app.is_none() && channel.pending.is_none() {
        return message(StatusCode::CONFLICT, "Channel not in Stasis application");
    }
    if channel.dialed || channel.model.state != "Down" {
        return message(StatusCode::CONFLICT, "Channel is not in the 'Down' state");
    }
    ring_out(shared, state, id, query)
}

/// Dials the channel `id` (checked by the caller): its endpoint's scripted behaviour runs.
fn ring_out(shared: &Arc<Shared>, state: &mut State, id: &str, query: &Query) -> Response<Body> {
    let Some(channel) = state.channels.get(id) else {
        return message(StatusCode::NOT_FOUND, "Channel not found");
    };
    let caller = query.get("caller").cloned();
    if let Some(c) = &caller
        && !state.channels.contains_key(c)
    {
        return message(StatusCode::NOT_FOUND, "Caller channel not found");
    }
    let timeout = query
        .get("timeout")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(0);
    let behaviour = behaviour_of(&shared.config.endpoints, &channel.endpoint);
    // `caller` makes the leg's connected line the caller's ID (what the callee sees).
    let caller_id = caller
        .as_deref()
        .and_then(|c| state.channels.get(c))
        .map(|c| c.model.caller.clone());
    if let Some(c) = state.channels.get_mut(id) {
        c.dialed = true;
        c.created = false;
        c.generation += 1;
        if let Some(caller_id) = caller_id {
            c.model.connected = caller_id;
        }
    }
    dial_event(state, id, "", caller.as_deref());
    let ms = Duration::from_millis;
    // The far end's immediate reaction; an answer that comes later is scheduled below.
    let answer_after = match behaviour {
        Behaviour::Answer { after } if after.is_zero() => {
            answered(state, id, caller.as_deref());
            None
        }
        Behaviour::Answer { after } => {
            ring(state, id, caller.as_deref());
            Some(after)
        }
        Behaviour::EarlyMedia { after } => {
            ring(state, id, caller.as_deref());
            dial_event(state, id, "PROGRESS", caller.as_deref());
            Some(after)
        }
        Behaviour::AnswerThenHangup { after, hold } => {
            schedule_hangup(shared, id, after + hold, 16);
            if after.is_zero() {
                answered(state, id, caller.as_deref());
                None
            } else {
                ring(state, id, caller.as_deref());
                Some(after)
            }
        }
        Behaviour::RingForever => {
            ring(state, id, caller.as_deref());
            None
        }
        Behaviour::Broadcast {
            timeout,
            filter,
            args,
            notify_claimed,
        } => {
            if let Some(half) = state.channels.get(id).and_then(|c| c.partner.clone()) {
                super::broadcast::offer(
                    shared,
                    state,
                    &half,
                    timeout,
                    &filter,
                    &args,
                    notify_claimed,
                );
            }
            None
        }
        Behaviour::Stasis => {
            local_stasis(state, id);
            answered(state, id, caller.as_deref());
            if let Some(partner) = state.channels.get(id).and_then(|c| c.partner.clone()) {
                set_state(state, &partner, "Up");
            }
            None
        }
        Behaviour::Busy => {
            dial_event(state, id, "BUSY", caller.as_deref());
            schedule_hangup(shared, id, shared.config.busy_hangup_after, 17);
            None
        }
        Behaviour::Unavailable => {
            dial_event(state, id, "CHANUNAVAIL", caller.as_deref());
            schedule_hangup(shared, id, ms(10), 20);
            None
        }
        Behaviour::Congestion => {
            dial_event(state, id, "CONGESTION", caller.as_deref());
            schedule_hangup(shared, id, ms(10), 34);
            None
        }
    };
    let generation = state.channels.get(id).map_or(0, |c| c.generation);
    if let Some(after) = answer_after {
        schedule(shared, id, generation, after, Step::Answer, caller.clone());
    }
    // A dial timeout that expires ends the channel with cause 19 and no NOANSWER event.
    if timeout > 0 {
        let generation = state.channels.get(id).map_or(0, |c| c.generation);
        schedule(
            shared,
            id,
            generation,
            Duration::from_secs(timeout),
            Step::Timeout,
            None,
        );
    }
    no_content()
}

fn ring(state: &mut State, id: &str, caller: Option<&str>) {
    set_state(state, id, "Ringing");
    dial_event(state, id, "RINGING", caller);
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Answer,
    Timeout,
}

/// Runs `step` on the channel after `delay`, unless its state changed meanwhile.
fn schedule(
    shared: &Arc<Shared>,
    id: &str,
    generation: u64,
    delay: Duration,
    step: Step,
    caller: Option<String>,
) {
    let shared = shared.clone();
    let id = id.to_string();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let mut state = lock(&shared.state);
        let Some(channel) = state.channels.get(&id) else {
            return;
        };
        match step {
            Step::Answer if channel.generation == generation => {
                answered(&mut state, &id, caller.as_deref());
            }
            Step::Timeout if channel.generation == generation && channel.model.state != "Up" => {
                hang_up(&mut state, &id, Some(LOCAL_HANGUP_REQUEST), 19);
            }
            _ => {}
        }
    });
}

/// The far end hangs the channel up after `delay`, whatever happened meanwhile.
fn schedule_hangup(shared: &Arc<Shared>, id: &str, delay: Duration, cause: i64) {
    let shared = shared.clone();
    let id = id.to_string();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let mut state = lock(&shared.state);
        if let Some(channel) = state.channels.get(&id) {
            let request = far_request(&channel.endpoint, cause);
            note_far_end(&mut state, &id);
            hang_up(&mut state, &id, request, cause);
        }
    });
}

/// A caller's phone hangs up (a SIP BYE) after `delay`: a hangup request with no cause.
fn schedule_far_hangup(shared: &Arc<Shared>, id: &str, delay: Duration) {
    let shared = shared.clone();
    let id = id.to_string();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let mut state = lock(&shared.state);
        if state.channels.contains_key(&id) {
            note_far_end(&mut state, &id);
            hang_up(&mut state, &id, None, 16);
        }
    });
}

/// Notes (with the journal on) that `id`'s far end hung up.
fn note_far_end(state: &mut State, id: &str) {
    if let Some(ends) = &mut state.far_ends {
        ends.push((std::time::Instant::now(), id.to_string()));
    }
}

pub(super) use crate::ari::cause_text;

/// Cause Asterisk 22 reports in ChannelHangupRequest when the hangup comes from ARI or a dial
/// timeout rather than the far end (seen in every captured sample).
pub(super) const LOCAL_HANGUP_REQUEST: i64 = 32;

/// ChannelHangupRequest's fields as Asterisk 22 sends them (ari-samples README): none for a
/// SIP BYE, `soft` with Asterisk's soft-hangup flag 32 for an ARI hangup or a dial timeout,
/// the SIP response as `tech_cause` for a CANCEL (127).
fn hangup_request(cause: Option<i64>) -> serde_json::Value {
    match cause {
        None => serde_json::json!({}),
        Some(LOCAL_HANGUP_REQUEST) => {
            serde_json::json!({ "cause": LOCAL_HANGUP_REQUEST, "soft": true })
        }
        Some(CANCEL) => serde_json::json!({ "cause": CANCEL, "tech_cause": 487 }),
        Some(c) => serde_json::json!({ "cause": c }),
    }
}

/// The cause of a caller's CANCEL (hanging up before it was answered), as Asterisk reports it.
pub(super) const CANCEL: i64 = 127;

/// The far end of a channel hangs up: an inbound caller's phone CANCELs before it is answered,
/// any other far end sends a BYE (or its reject); those subscribed to it hear ChannelDestroyed
/// with `cause`.
pub(super) fn far_hangup(state: &mut State, id: &str, cause: i64) {
    note_far_end(state, id);
    let up = state
        .channels
        .get(id)
        .is_some_and(|c| c.model.state == "Up");
    let request = if up { None } else { Some(CANCEL) };
    hang_up(state, id, request, cause);
}

/// Hangs a channel up: HangupRequest (with `request_cause`; none for a far end's BYE),
/// leaving its bridge, StasisEnd, and ChannelDestroyed (with `cause`) for the applications
/// subscribed to it — none for a channel that entered Stasis from the dialplan, which the
/// app stops hearing of at StasisEnd. A Local channel's other half goes with it, before this
/// one is destroyed; Asterisk announces that half's hangup request twice.
pub(super) fn hang_up(state: &mut State, id: &str, request_cause: Option<i64>, cause: i64) {
    channel_event(
        state,
        id,
        "ChannelHangupRequest",
        hangup_request(request_cause),
    );
    leave(state, id);
    let partner = state.channels.get_mut(id).and_then(|c| c.partner.take());
    if let Some(partner) = partner
        && state.channels.contains_key(&partner)
    {
        let request = serde_json::json!({ "cause": cause });
        channel_event(state, &partner, "ChannelHangupRequest", request.clone());
        leave(state, &partner);
        channel_event(state, &partner, "ChannelHangupRequest", request);
        destroyed(state, &partner, cause);
    }
    destroyed(state, id, cause);
}

/// A channel going away leaves its bridge and its application; only the applications
/// subscribed to it hear of it after that.
fn leave(state: &mut State, id: &str) {
    let bridge = state.channels.get(id).and_then(|c| c.bridge.clone());
    if let Some(bridge) = bridge {
        leave_bridge(state, &bridge, id);
    }
    channel_event(state, id, "StasisEnd", serde_json::json!({}));
    let Some(channel) = state.channels.get_mut(id) else {
        return;
    };
    let was_in = channel.app.take().is_some();
    channel.entering = None;
    // An inbound channel that an app subscribed to goes on in the dialplan, whose Hangup()
    // requests the hangup again (ari-samples t3).
    if was_in && channel.inbound && !channel.subscribed.is_empty() {
        channel_event(
            state,
            id,
            "ChannelHangupRequest",
            serde_json::json!({ "cause": 16, "soft": true }),
        );
    }
}

/// ChannelDestroyed to whoever still hears of the channel, and the channel is gone.
fn destroyed(state: &mut State, id: &str, cause: i64) {
    channel_event(
        state,
        id,
        "ChannelDestroyed",
        serde_json::json!({ "cause": cause, "cause_txt": cause_text(cause) }),
    );
    state.channels.remove(id);
}

/// The error for an operation on a channel that is unknown, outside Stasis (409) or created
/// and not dialed yet (412); None when the operation may go ahead.
fn in_stasis(state: &State, id: &str) -> Option<Response<Body>> {
    let Some(channel) = state.channels.get(id) else {
        return Some(message(StatusCode::NOT_FOUND, "Channel not found"));
    };
    if channel.app.is_none() {
        return Some(message(
            StatusCode::CONFLICT,
            "Channel not in Stasis application",
        ));
    }
    if channel.created {
        return Some(message(
            StatusCode::PRECONDITION_FAILED,
            "Channel in invalid state",
        ));
    }
    None
}

/// answer, ring, progress: 412 on a created channel that was not dialed.
fn signal(shared: &Arc<Shared>, state: &mut State, id: &str, op: &str) -> Response<Body> {
    if let Some(refused) = in_stasis(state, id) {
        return refused;
    }
    if op == "answer" {
        set_state(state, id, "Up");
        // A caller that talks for a while after being answered, then sends BYE.
        if let Some(after) = state
            .channels
            .get_mut(id)
            .and_then(|c| c.hangup_after_answer.take())
        {
            schedule_far_hangup(shared, id, after);
        }
    }
    no_content()
}

fn set_variable(state: &mut State, id: &str, query: &Query) -> Response<Body> {
    let Some(name) = query.get("variable") else {
        return missing("variable");
    };
    let value = query.get("value").cloned().unwrap_or_default();
    let Some(channel) = state.channels.get_mut(id) else {
        return message(StatusCode::NOT_FOUND, "Channel not found");
    };
    if channel.app.is_none() {
        return message(StatusCode::CONFLICT, "Channel not in Stasis application");
    }
    apply_variable(channel, name, value);
    no_content()
}

/// Sets a variable or one of the caller-ID functions the simulator models.
fn apply_variable(channel: &mut SimChannel, name: &str, value: String) {
    match name {
        "CALLERID(num)" => channel.model.caller.number = value,
        "CALLERID(name)" => channel.model.caller.name = value,
        "CONNECTEDLINE(num)" => channel.model.connected.number = value,
        "CONNECTEDLINE(name)" => channel.model.connected.name = value,
        _ => {
            channel.vars.insert(name.to_string(), value);
        }
    }
}

fn get_variable(state: &State, id: &str, query: &Query) -> Response<Body> {
    let Some(name) = query.get("variable") else {
        return missing("variable");
    };
    let Some(channel) = state.channels.get(id) else {
        return message(StatusCode::NOT_FOUND, "Channel not found");
    };
    let value = match name.as_str() {
        "CALLERID(num)" => Some(channel.model.caller.number.clone()),
        "CALLERID(name)" => Some(channel.model.caller.name.clone()),
        "CONNECTEDLINE(num)" => Some(channel.model.connected.number.clone()),
        "CONNECTEDLINE(name)" => Some(channel.model.connected.name.clone()),
        "CHANNEL(name)" => Some(channel.model.name.clone()),
        _ => channel.vars.get(name).cloned(),
    };
    match value {
        Some(value) => json(StatusCode::OK, serde_json::json!({ "value": value })),
        None => message(StatusCode::NOT_FOUND, "Provided variable was not found"),
    }
}

fn create_bridge(state: &mut State, query: &Query) -> Response<Body> {
    let id = match query.get("bridgeId") {
        Some(id) if state.bridges.contains_key(id) => {
            return message(
                StatusCode::CONFLICT,
                &format!("Bridge with id '{id}' already exists"),
            );
        }
        Some(id) => id.clone(),
        None => state.unique_id(),
    };
    let kind = query.get("type").map(String::as_str).unwrap_or("mixing");
    let known = [
        "mixing",
        "holding",
        "dtmf_events",
        "proxy_media",
        "video_sfu",
        "video_single",
    ];
    if !kind.split(',').all(|k| known.contains(&k)) {
        return message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Unable to create bridge. Possible duplicate bridge id '(null)'",
        );
    }
    let model = Bridge {
        id: id.clone(),
        technology: "simple_bridge".into(),
        bridge_type: kind.split(',').next().unwrap_or("mixing").into(),
        bridge_class: "stasis".into(),
        creator: "Stasis".into(),
        name: query.get("name").cloned().unwrap_or_default(),
        video_mode: Some("none".into()),
        creationtime: timestamp(),
        ..Bridge::default()
    };
    state.bridges.insert(
        id,
        SimBridge {
            model: model.clone(),
            app: String::new(),
        },
    );
    json(StatusCode::OK, serde_json::json!(model))
}

fn bridge_event(state: &State, bridge: &str, channel: Option<&str>, kind: &str) {
    let Some(b) = state.bridges.get(bridge) else {
        return;
    };
    let app = channel
        .and_then(|c| state.channels.get(c))
        .and_then(|c| c.app.clone())
        .unwrap_or_else(|| b.app.clone());
    #[derive(serde::Serialize)]
    struct BridgeBody<'a> {
        bridge: &'a Bridge,
        #[serde(skip_serializing_if = "Option::is_none")]
        channel: Option<&'a Channel>,
    }
    let body = BridgeBody {
        bridge: &b.model,
        channel: channel
            .and_then(|c| state.channels.get(c))
            .map(|c| &c.model),
    };
    announce(state, &[app.as_str()], kind, &body);
}

fn channel_list(query: &Query) -> Option<Vec<String>> {
    query.get("channel").map(|c| comma_list(Some(c)))
}

/// `addChannel`: unknown channel 400, channel not in Stasis 422 (as Asterisk 22 answers).
fn add_channels(state: &mut State, bridge: &str, query: &Query) -> Response<Body> {
    let Some(channels) = channel_list(query) else {
        return missing("channel");
    };
    if !state.bridges.contains_key(bridge) {
        return message(StatusCode::NOT_FOUND, "Bridge not found");
    }
    for id in &channels {
        match state.channels.get(id) {
            None => return message(StatusCode::BAD_REQUEST, "Channel not found"),
            Some(c) if c.app.is_none() => {
                return message(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Channel not in Stasis application",
                );
            }
            Some(_) => {}
        }
    }
    let inhibit = query
        .get("inhibitConnectedLineUpdates")
        .is_some_and(|v| v == "true");
    for id in &channels {
        let members: Vec<String> = state
            .bridges
            .get(bridge)
            .map(|b| b.model.channels.clone())
            .unwrap_or_default();
        // Joining a bridge pushes the other party's caller ID into the connected line,
        // unless the channel was added with connected-line updates inhibited.
        if !inhibit
            && let Some(other) = members
                .iter()
                .find(|m| *m != id)
                .and_then(|m| state.channels.get(m))
                .map(|m| m.model.caller.clone())
            && let Some(c) = state.channels.get_mut(id)
        {
            c.model.connected = other;
        }
        if let Some(old) = state.channels.get(id).and_then(|c| c.bridge.clone())
            && old != bridge
        {
            leave_bridge(state, &old, id);
        }
        let app = state.channels.get(id).and_then(|c| c.app.clone());
        if let Some(b) = state.bridges.get_mut(bridge) {
            if !b.model.channels.contains(id) {
                b.model.channels.push(id.clone());
            }
            if b.app.is_empty()
                && let Some(app) = app
            {
                b.app = app;
            }
        }
        if let Some(c) = state.channels.get_mut(id) {
            c.bridge = Some(bridge.to_string());
        }
        bridge_event(state, bridge, Some(id), "ChannelEnteredBridge");
    }
    no_content()
}

fn leave_bridge(state: &mut State, bridge: &str, id: &str) {
    if let Some(b) = state.bridges.get_mut(bridge) {
        b.model.channels.retain(|c| c != id);
    }
    bridge_event(state, bridge, Some(id), "ChannelLeftBridge");
    if let Some(c) = state.channels.get_mut(id) {
        c.bridge = None;
    }
}

fn remove_channels(state: &mut State, bridge: &str, query: &Query) -> Response<Body> {
    let Some(channels) = channel_list(query) else {
        return missing("channel");
    };
    let Some(b) = state.bridges.get(bridge) else {
        return message(StatusCode::NOT_FOUND, "Bridge not found");
    };
    for id in &channels {
        if !state.channels.contains_key(id) {
            return message(StatusCode::BAD_REQUEST, "Channel not found");
        }
        if !b.model.channels.contains(id) {
            return message(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Channel not in this bridge",
            );
        }
    }
    for id in &channels {
        leave_bridge(state, bridge, id);
    }
    no_content()
}

fn destroy_bridge(state: &mut State, bridge: &str) {
    let members = state
        .bridges
        .get(bridge)
        .map(|b| b.model.channels.clone())
        .unwrap_or_default();
    for id in &members {
        leave_bridge(state, bridge, id);
    }
    bridge_event(state, bridge, None, "BridgeDestroyed");
    state.bridges.remove(bridge);
}

/// What a playback plays to.
enum Target<'a> {
    Channel(&'a str),
    Bridge(&'a str),
}

/// How long the simulator takes to play one media URI, and whether it exists: sounds whose
/// name says they do not exist (`no-such`, `missing`) and unknown schemes fail.
fn media_length(uri: &str) -> Option<Duration> {
    let (scheme, name) = uri.split_once(':')?;
    if name.contains("no-such") || name.contains("missing") {
        return None;
    }
    match scheme {
        "sound" | "recording" => Some(Duration::from_millis(500)),
        "tone" => Some(Duration::from_millis(1000)),
        "digits" | "number" | "characters" => {
            Some(Duration::from_millis(100 * name.len().max(1) as u64))
        }
        _ => None,
    }
}

/// `POST /channels/{id}/play`, `POST /bridges/{id}/play`: 201, PlaybackStarted, then
/// PlaybackFinished `done` after the media's length, or `failed` for missing media.
fn play(
    shared: &Arc<Shared>,
    state: &mut State,
    target: Target<'_>,
    query: &Query,
) -> Response<Body> {
    let Some(media) = query.get("media") else {
        return missing("media");
    };
    let (target_uri, app) = match target {
        Target::Channel(id) => {
            if let Some(refused) = in_stasis(state, id) {
                return refused;
            }
            (
                format!("channel:{id}"),
                state.channels.get(id).and_then(|c| c.app.clone()),
            )
        }
        Target::Bridge(id) => match state.bridges.get(id) {
            Some(b) => (format!("bridge:{id}"), Some(b.app.clone())),
            None => return message(StatusCode::NOT_FOUND, "Bridge not found"),
        },
    };
    let id = query
        .get("playbackId")
        .cloned()
        .unwrap_or_else(|| state.unique_id());
    let uris: Vec<&str> = media.split(',').collect();
    let lengths: Option<Vec<Duration>> = uris.iter().map(|u| media_length(u)).collect();
    let playback = crate::ari::models::Playback {
        id: id.clone(),
        media_uri: uris.first().copied().unwrap_or_default().to_string(),
        next_media_uri: uris.get(1).map(|u| u.to_string()),
        target_uri,
        language: Some("en".into()),
        state: "queued".into(),
    };
    let app = app.unwrap_or_default();
    let event = |kind: &str, playback_state: &str| {
        let mut p = playback.clone();
        p.state = playback_state.into();
        serde_json::json!({
            "type": kind,
            "timestamp": timestamp(),
            "playback": p,
            "asterisk_id": "sim",
            "application": app,
        })
    };
    state.emit(&app, event("PlaybackStarted", "playing"));
    let (after, outcome) = match lengths {
        Some(l) => (l.iter().sum(), "done"),
        None => (Duration::from_millis(10), "failed"),
    };
    state.playbacks.insert(id.clone(), app.clone());
    let finished = event("PlaybackFinished", outcome);
    let shared = shared.clone();
    let playback_id = id.clone();
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        let mut state = lock(&shared.state);
        // A playback stopped meanwhile has already finished.
        if let Some(app) = state.playbacks.remove(&playback_id) {
            state.emit(&app, finished);
        }
    });
    json(StatusCode::CREATED, serde_json::json!(playback))
}

/// `DELETE /playbacks/{id}`: the playback finishes (`done`) at once.
fn stop_playback(state: &mut State, id: &str) -> Response<Body> {
    match state.playbacks.remove(id) {
        Some(app) => {
            state.emit(
                &app,
                serde_json::json!({
                    "type": "PlaybackFinished",
                    "timestamp": timestamp(),
                    "playback": {"id": id, "media_uri": "", "target_uri": "", "state": "done"},
                    "asterisk_id": "sim",
                    "application": app,
                }),
            );
            no_content()
        }
        None => message(StatusCode::NOT_FOUND, "Playback not found"),
    }
}

/// Dialplan contexts the simulator's dialplan has (those of the captured samples' Asterisk).
const CONTEXTS: &[&str] = &["default", "local-test", "from-sipp", "bcast-test"];

/// `POST /channels/{id}/continue`: the channel leaves Stasis (StasisEnd) alive; sent to a
/// context the dialplan does not have, it is then destroyed with cause 0, as Asterisk does.
fn continue_in_dialplan(state: &mut State, id: &str, query: &Query) -> Response<Body> {
    if let Some(refused) = in_stasis(state, id) {
        return refused;
    }
    let bridge = state.channels.get(id).and_then(|c| c.bridge.clone());
    if let Some(bridge) = bridge {
        leave_bridge(state, &bridge, id);
    }
    channel_event(state, id, "StasisEnd", serde_json::json!({}));
    let nowhere = query
        .get("context")
        .is_some_and(|c| !CONTEXTS.contains(&c.as_str()));
    if nowhere {
        // The channel falls off the dialplan (cause 0) and the application still hears of
        // its end; a Local channel's other half goes too, in Asterisk's order and causes.
        let partner = state.channels.get_mut(id).and_then(|c| c.partner.take());
        let request = |cause: i64| serde_json::json!({ "cause": cause });
        if let Some(partner) = &partner {
            channel_event(state, partner, "ChannelHangupRequest", request(0));
        }
        destroyed(state, id, 0);
        if let Some(partner) = &partner {
            channel_event(state, partner, "ChannelHangupRequest", request(16));
            destroyed(state, partner, 0);
        }
    } else if let Some(c) = state.channels.get_mut(id) {
        c.app = None;
        // A channel StasisBroadcast handed over goes on to its dialplan's Hangup() (t8);
        // nobody hears of it any more.
        if c.model.dialplan.app_name == "StasisBroadcast" {
            hang_up(state, id, Some(16), 16);
        }
    }
    no_content()
}

/// `POST /channels`: originate into an application: the channel is dialed at once, its Dial
/// events go to the application, and it enters Stasis (StasisStart, state Up) once answered.
fn originate(shared: &Arc<Shared>, state: &mut State, query: &Query) -> Response<Body> {
    let Some(endpoint) = query.get("endpoint") else {
        return missing("endpoint");
    };
    let app = query.get("app");
    if app.is_none() && query.get("extension").is_none() {
        return message(
            StatusCode::BAD_REQUEST,
            "Application or extension must be specified",
        );
    }
    if !allocatable(endpoint) {
        return allocation_failed();
    }
    let mut create_query = query.clone();
    create_query.remove("app");
    create_query.remove("appArgs");
    let response = create(shared, state, &create_query, &[]);
    if response.status() != StatusCode::OK {
        return response;
    }
    let Some(id) = created_id(state, query) else {
        return response;
    };
    let args: Vec<String> = query
        .get("appArgs")
        .map(|a| a.split(',').map(String::from).collect())
        .unwrap_or_default();
    // `callerId` ("Name <number>") is both halves' caller ID.
    if let Some(caller_id) = query.get("callerId") {
        let (name, number) = match caller_id.split_once('<') {
            Some((name, rest)) => (name.trim(), rest.trim_end_matches('>').trim()),
            None => ("", caller_id.trim()),
        };
        let halves = std::iter::once(id.clone()).chain(local_partner(state, &id));
        for half in halves.collect::<Vec<_>>() {
            if let Some(c) = state.channels.get_mut(&half) {
                c.model.caller.name = name.into();
                c.model.caller.number = number.into();
            }
        }
    }
    if let Some(app) = app {
        if let Some(c) = state.channels.get_mut(&id) {
            c.pending = Some((app.clone(), args));
            c.subscribed = vec![app.clone()];
        }
        // Asterisk subscribes the application to a Local channel's other half too.
        if let Some(partner) = local_partner(state, &id)
            && let Some(half) = state.channels.get_mut(&partner)
        {
            half.observer = Some(app.clone());
        }
    }
    let mut dial_query = Query::new();
    if let Some(t) = query.get("timeout") {
        dial_query.insert("timeout".into(), t.clone());
    }
    // Originated into the dialplan, the channel is in no app: it is dialed all the same.
    let _ = ring_out(shared, state, &id, &dial_query);
    response
}
