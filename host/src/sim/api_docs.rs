//! The simulator's `/ari/api-docs`: Swagger 1.2 descriptions of the ARI operations it
//! implements and of the events it sends, in the shape Asterisk serves its own. The official
//! clients (node-ari-client, ari-py) build themselves from these at connect: every resource's
//! methods come from `apis`, and every event on the socket is looked up in the events API's
//! `models`, so an event type missing there breaks them.
//!
//! Written from the simulator's own table ([`OPERATIONS`], [`EVENTS`]), never copied from
//! Asterisk's files: a test checks the table against them (names, methods, nicknames) and
//! against the router (every operation answers, not 404).

/// A parameter: name, where it goes (`path`, `query`, `body`), required, type, may repeat.
type Param = (&'static str, &'static str, bool, &'static str, bool);

/// One operation: resource, HTTP method, path, Asterisk's nickname, response class, params.
pub struct Operation {
    pub resource: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    pub nickname: &'static str,
    pub response: &'static str,
    pub params: &'static [Param],
}

const fn op(
    resource: &'static str,
    method: &'static str,
    path: &'static str,
    nickname: &'static str,
    response: &'static str,
    params: &'static [Param],
) -> Operation {
    Operation {
        resource,
        method,
        path,
        nickname,
        response,
        params,
    }
}

const CHANNEL_ID: Param = ("channelId", "path", true, "string", false);
const BRIDGE_ID: Param = ("bridgeId", "path", true, "string", false);
const APP_NAME: Param = ("applicationName", "path", true, "string", false);

/// Every operation the simulator answers (host/src/sim/operations.rs routes them).
pub const OPERATIONS: &[Operation] = &[
    op(
        "asterisk",
        "GET",
        "/asterisk/info",
        "getInfo",
        "AsteriskInfo",
        &[("only", "query", false, "string", true)],
    ),
    op(
        "asterisk",
        "GET",
        "/asterisk/ping",
        "ping",
        "AsteriskPing",
        &[],
    ),
    op(
        "asterisk",
        "GET",
        "/asterisk/variable",
        "getGlobalVar",
        "Variable",
        &[("variable", "query", true, "string", false)],
    ),
    op(
        "endpoints",
        "GET",
        "/endpoints",
        "list",
        "List[Endpoint]",
        &[],
    ),
    op(
        "endpoints",
        "GET",
        "/endpoints/{tech}",
        "listByTech",
        "List[Endpoint]",
        &[("tech", "path", true, "string", false)],
    ),
    op("channels", "GET", "/channels", "list", "List[Channel]", &[]),
    op(
        "channels",
        "POST",
        "/channels",
        "originate",
        "Channel",
        &[
            ("endpoint", "query", true, "string", false),
            ("app", "query", false, "string", false),
            ("appArgs", "query", false, "string", false),
            ("timeout", "query", false, "int", false),
            ("channelId", "query", false, "string", false),
            ("otherChannelId", "query", false, "string", false),
        ],
    ),
    op(
        "channels",
        "POST",
        "/channels/create",
        "create",
        "Channel",
        &[
            ("endpoint", "query", true, "string", false),
            ("app", "query", true, "string", false),
            ("appArgs", "query", false, "string", false),
            ("channelId", "query", false, "string", false),
            ("otherChannelId", "query", false, "string", false),
            ("originator", "query", false, "string", false),
            ("formats", "query", false, "string", false),
            ("variables", "body", false, "containers", false),
        ],
    ),
    op(
        "channels",
        "GET",
        "/channels/{channelId}",
        "get",
        "Channel",
        &[CHANNEL_ID],
    ),
    op(
        "channels",
        "DELETE",
        "/channels/{channelId}",
        "hangup",
        "void",
        &[
            CHANNEL_ID,
            ("reason_code", "query", false, "string", false),
            ("reason", "query", false, "string", false),
        ],
    ),
    op(
        "channels",
        "POST",
        "/channels/{channelId}/continue",
        "continueInDialplan",
        "void",
        &[
            CHANNEL_ID,
            ("context", "query", false, "string", false),
            ("extension", "query", false, "string", false),
            ("priority", "query", false, "int", false),
        ],
    ),
    op(
        "channels",
        "POST",
        "/channels/{channelId}/answer",
        "answer",
        "void",
        &[CHANNEL_ID],
    ),
    op(
        "channels",
        "POST",
        "/channels/{channelId}/ring",
        "ring",
        "void",
        &[CHANNEL_ID],
    ),
    op(
        "channels",
        "POST",
        "/channels/{channelId}/progress",
        "progress",
        "void",
        &[CHANNEL_ID],
    ),
    op(
        "channels",
        "POST",
        "/channels/{channelId}/dial",
        "dial",
        "void",
        &[
            CHANNEL_ID,
            ("caller", "query", false, "string", false),
            ("timeout", "query", false, "int", false),
        ],
    ),
    op(
        "channels",
        "GET",
        "/channels/{channelId}/variable",
        "getChannelVar",
        "Variable",
        &[CHANNEL_ID, ("variable", "query", true, "string", false)],
    ),
    op(
        "channels",
        "POST",
        "/channels/{channelId}/variable",
        "setChannelVar",
        "void",
        &[
            CHANNEL_ID,
            ("variable", "query", true, "string", false),
            ("value", "query", false, "string", false),
        ],
    ),
    op(
        "channels",
        "POST",
        "/channels/{channelId}/moh",
        "startMoh",
        "void",
        &[CHANNEL_ID, ("mohClass", "query", false, "string", false)],
    ),
    op(
        "channels",
        "DELETE",
        "/channels/{channelId}/moh",
        "stopMoh",
        "void",
        &[CHANNEL_ID],
    ),
    op(
        "channels",
        "POST",
        "/channels/{channelId}/play",
        "play",
        "Playback",
        &[
            CHANNEL_ID,
            ("media", "query", true, "string", true),
            ("playbackId", "query", false, "string", false),
        ],
    ),
    op("bridges", "GET", "/bridges", "list", "List[Bridge]", &[]),
    op(
        "bridges",
        "POST",
        "/bridges",
        "create",
        "Bridge",
        &[
            ("type", "query", false, "string", false),
            ("bridgeId", "query", false, "string", false),
            ("name", "query", false, "string", false),
        ],
    ),
    op(
        "bridges",
        "GET",
        "/bridges/{bridgeId}",
        "get",
        "Bridge",
        &[BRIDGE_ID],
    ),
    op(
        "bridges",
        "DELETE",
        "/bridges/{bridgeId}",
        "destroy",
        "void",
        &[BRIDGE_ID],
    ),
    op(
        "bridges",
        "POST",
        "/bridges/{bridgeId}/addChannel",
        "addChannel",
        "void",
        &[
            BRIDGE_ID,
            ("channel", "query", true, "string", true),
            (
                "inhibitConnectedLineUpdates",
                "query",
                false,
                "boolean",
                false,
            ),
        ],
    ),
    op(
        "bridges",
        "POST",
        "/bridges/{bridgeId}/removeChannel",
        "removeChannel",
        "void",
        &[BRIDGE_ID, ("channel", "query", true, "string", true)],
    ),
    op(
        "bridges",
        "POST",
        "/bridges/{bridgeId}/play",
        "play",
        "Playback",
        &[
            BRIDGE_ID,
            ("media", "query", true, "string", true),
            ("playbackId", "query", false, "string", false),
        ],
    ),
    op(
        "playbacks",
        "DELETE",
        "/playbacks/{playbackId}",
        "stop",
        "void",
        &[("playbackId", "path", true, "string", false)],
    ),
    op(
        "applications",
        "GET",
        "/applications",
        "list",
        "List[Application]",
        &[],
    ),
    op(
        "applications",
        "GET",
        "/applications/{applicationName}",
        "get",
        "Application",
        &[APP_NAME],
    ),
    op(
        "applications",
        "POST",
        "/applications/{applicationName}/subscription",
        "subscribe",
        "Application",
        &[APP_NAME, ("eventSource", "query", true, "string", true)],
    ),
    op(
        "applications",
        "DELETE",
        "/applications/{applicationName}/subscription",
        "unsubscribe",
        "Application",
        &[APP_NAME, ("eventSource", "query", true, "string", true)],
    ),
    op(
        "applications",
        "PUT",
        "/applications/{applicationName}/eventFilter",
        "filter",
        "Application",
        &[APP_NAME, ("filter", "body", false, "object", false)],
    ),
    op(
        "events",
        "GET",
        "/events",
        "eventWebsocket",
        "Message",
        &[
            ("app", "query", true, "string", true),
            ("subscribeAll", "query", false, "boolean", false),
        ],
    ),
    op(
        "events",
        "POST",
        "/events/claim",
        "claimChannel",
        "void",
        &[
            ("channelId", "query", true, "string", false),
            ("application", "query", true, "string", false),
        ],
    ),
    op("sounds", "GET", "/sounds", "list", "List[Sound]", &[]),
    op(
        "recordings",
        "GET",
        "/recordings/stored",
        "listStored",
        "List[StoredRecording]",
        &[],
    ),
    op(
        "deviceStates",
        "GET",
        "/deviceStates",
        "list",
        "List[DeviceState]",
        &[],
    ),
];

/// The resources, in Asterisk's order, with their descriptions.
const RESOURCES: &[(&str, &str)] = &[
    ("asterisk", "Asterisk resources"),
    ("endpoints", "Endpoint resources"),
    ("channels", "Channel resources"),
    ("bridges", "Bridge resources"),
    ("recordings", "Recording resources"),
    ("sounds", "Sound resources"),
    ("playbacks", "Playback control resources"),
    ("deviceStates", "Device state resources"),
    ("events", "WebSocket resource"),
    ("applications", "Stasis application resources"),
];

/// Every event type the simulator sends, with its typed properties (besides `type`,
/// `application`, `timestamp` and `asterisk_id`, which every event has).
pub const EVENTS: &[(&str, &[(&str, &str)])] = &[
    (
        "StasisStart",
        &[
            ("channel", "Channel"),
            ("args", "List[string]"),
            ("replace_channel", "Channel"),
        ],
    ),
    ("StasisEnd", &[("channel", "Channel")]),
    ("ChannelCreated", &[("channel", "Channel")]),
    (
        "ChannelDestroyed",
        &[
            ("channel", "Channel"),
            ("cause", "int"),
            ("cause_txt", "string"),
        ],
    ),
    ("ChannelStateChange", &[("channel", "Channel")]),
    (
        "ChannelHangupRequest",
        &[
            ("channel", "Channel"),
            ("cause", "int"),
            ("soft", "boolean"),
            ("tech_cause", "int"),
        ],
    ),
    (
        "ChannelEnteredBridge",
        &[("bridge", "Bridge"), ("channel", "Channel")],
    ),
    (
        "ChannelLeftBridge",
        &[("bridge", "Bridge"), ("channel", "Channel")],
    ),
    (
        "ChannelDtmfReceived",
        &[
            ("channel", "Channel"),
            ("digit", "string"),
            ("duration_ms", "int"),
        ],
    ),
    ("BridgeDestroyed", &[("bridge", "Bridge")]),
    (
        "Dial",
        &[
            ("peer", "Channel"),
            ("caller", "Channel"),
            ("dialstatus", "string"),
            ("dialstring", "string"),
        ],
    ),
    ("PlaybackStarted", &[("playback", "Playback")]),
    ("PlaybackFinished", &[("playback", "Playback")]),
    ("ApplicationReplaced", &[]),
    (
        "CallBroadcast",
        &[
            ("channel", "Channel"),
            ("caller", "string"),
            ("called", "string"),
        ],
    ),
    (
        "CallClaimed",
        &[("channel", "Channel"), ("winner_app", "string")],
    ),
];

/// `resources.json`: the list of resource descriptions, for a server reached at `host`.
pub fn resources(host: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "10.0.0",
        "swaggerVersion": "1.1",
        "basePath": format!("http://{host}/ari"),
        "apis": RESOURCES
            .iter()
            .map(|(name, description)| serde_json::json!({
                "path": format!("/api-docs/{name}.{{format}}"),
                "description": description,
            }))
            .collect::<Vec<_>>(),
    })
}

/// One resource's description (`channels.json`), or None for a resource the simulator does
/// not have.
pub fn resource(host: &str, name: &str) -> Option<serde_json::Value> {
    RESOURCES.iter().find(|(r, _)| *r == name)?;
    let mut apis: Vec<serde_json::Value> = Vec::new();
    for op in OPERATIONS.iter().filter(|o| o.resource == name) {
        let operation = serde_json::json!({
            "httpMethod": op.method,
            "summary": format!("{} {}", op.method, op.path),
            "nickname": op.nickname,
            "responseClass": op.response,
            "parameters": op.params.iter().map(|(n, kind, required, data_type, multiple)| serde_json::json!({
                "name": n,
                "paramType": kind,
                "required": required,
                "allowMultiple": multiple,
                "dataType": data_type,
            })).collect::<Vec<_>>(),
        });
        match apis.iter_mut().find(|a| a["path"] == op.path) {
            Some(api) => {
                if let Some(list) = api["operations"].as_array_mut() {
                    list.push(operation);
                }
            }
            None => apis.push(serde_json::json!({
                "path": op.path,
                "description": name,
                "operations": [operation],
            })),
        }
    }
    let mut models = serde_json::Map::new();
    if name == "events" {
        models.insert("Message".into(), model("Message", &[("type", "string")]));
        models.insert(
            "Event".into(),
            model("Event", &[("application", "string"), ("timestamp", "Date")]),
        );
        for (event, properties) in EVENTS {
            models.insert((*event).into(), model(event, properties));
        }
    }
    Some(serde_json::json!({
        "apiVersion": "10.0.0",
        "swaggerVersion": "1.2",
        "basePath": format!("http://{host}/ari"),
        "resourcePath": format!("/api-docs/{name}.{{format}}"),
        "requiresAuth": true,
        "apis": apis,
        "models": models,
    }))
}

fn model(id: &str, properties: &[(&str, &str)]) -> serde_json::Value {
    let mut props = serde_json::Map::new();
    for (name, kind) in properties {
        props.insert((*name).into(), serde_json::json!({ "type": kind }));
    }
    serde_json::json!({ "id": id, "properties": props })
}
