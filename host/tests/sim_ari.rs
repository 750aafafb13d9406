//! The simulated Asterisk driven the way any ARI client would: hand-written HTTP/1.1 requests
//! on a TCP socket and a plain WebSocket client, with no code of the router's own ARI client.

use callwasm::ari::models::Channel;
use callwasm::sim::{CreateOrder, Sim, SimConfig};
use futures_util::StreamExt;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// A curl-style request: one connection, `Connection: close`, Basic auth unless `auth` is None.
async fn http(sim: &Sim, method: &str, path: &str, auth: Option<&str>) -> (u16, serde_json::Value) {
    let mut stream = TcpStream::connect(sim.addr()).await.expect("connect");
    let auth = auth
        .map(|a| format!("Authorization: Basic {a}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n",
        sim.addr()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let body = if body.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|e| panic!("body {body:?}: {e}"))
    };
    (status, body)
}

/// A simulator whose created channels are in the application before the create's 200: these
/// tests use a channel right after creating it, which only the raw flow test (on the random
/// order a real Asterisk has) does properly, by waiting for its StasisStart.
fn in_order() -> SimConfig {
    SimConfig {
        create_order: CreateOrder::StasisStartFirst,
        ..SimConfig::default()
    }
}

/// base64("asterisk:asterisk")
const AUTH: Option<&str> = Some("YXN0ZXJpc2s6YXN0ZXJpc2s=");

async fn ari(sim: &Sim, method: &str, path: &str) -> (u16, serde_json::Value) {
    http(sim, method, &format!("/ari{path}"), AUTH).await
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn socket(sim: &Sim) -> Socket {
    let url = format!(
        "ws://{}/ari/events?app=router&api_key=asterisk:asterisk",
        sim.addr()
    );
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket");
    socket
}

async fn next_event(socket: &mut Socket) -> serde_json::Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(3), socket.next())
            .await
            .expect("an event within 3 s")
            .expect("socket open")
            .expect("frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).expect("event JSON");
        }
    }
}

/// The next events' `type` (with Dial's dialstatus), until `n` are read.
async fn events(socket: &mut Socket, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let e = next_event(socket).await;
        let kind = e["type"].as_str().unwrap_or_default().to_string();
        out.push(match kind.as_str() {
            "Dial" => format!("Dial {}", e["dialstatus"].as_str().unwrap_or_default()),
            "ChannelStateChange" => format!(
                "ChannelStateChange {}",
                e["channel"]["state"].as_str().unwrap_or_default()
            ),
            _ => kind,
        });
    }
    out
}

#[tokio::test]
async fn the_create_bridge_dial_flow_with_raw_http_and_a_plain_websocket() {
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    let mut ws = socket(&sim).await;
    let caller = sim.inbound_call("router", ("Alice", "5550100"), "100", &["alice"]);
    let start = next_event(&mut ws).await;
    assert_eq!(start["type"], "StasisStart");
    assert_eq!(start["args"], serde_json::json!(["alice"]));
    assert_eq!(start["channel"]["state"], "Ring");

    let (status, created) = ari(
        &sim,
        "POST",
        "/channels/create?endpoint=PJSIP/alice&app=router&channelId=call1-agent",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(created["id"], "call1-agent");
    assert_eq!(created["state"], "Down");
    assert!(
        created["name"]
            .as_str()
            .unwrap_or_default()
            .starts_with("PJSIP/alice-")
    );
    assert_eq!(events(&mut ws, 1).await, vec!["StasisStart"]);

    let (status, _) = ari(
        &sim,
        "POST",
        "/channels/call1-agent/variable?variable=CONNECTEDLINE(num)&value=5551000",
    )
    .await;
    assert_eq!(status, 204);
    let (status, bridge) = ari(&sim, "POST", "/bridges?bridgeId=call1-b1&type=mixing").await;
    assert_eq!(
        (status, bridge["bridge_type"].as_str()),
        (200, Some("mixing"))
    );
    let (status, _) = ari(
        &sim,
        "POST",
        &format!("/bridges/call1-b1/addChannel?channel={caller},call1-agent&inhibitConnectedLineUpdates=true"),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        events(&mut ws, 2).await,
        vec!["ChannelEnteredBridge", "ChannelEnteredBridge"]
    );
    // The caller is in the bridge while the leg has not even been dialed.
    let (_, b) = ari(&sim, "GET", "/bridges/call1-b1").await;
    assert_eq!(b["channels"], serde_json::json!([caller, "call1-agent"]));

    let (status, _) = ari(&sim, "POST", "/channels/call1-agent/dial?timeout=30").await;
    assert_eq!(status, 204);
    assert_eq!(
        events(&mut ws, 5).await,
        vec![
            "Dial ",
            "ChannelStateChange Ringing",
            "Dial RINGING",
            "ChannelStateChange Up",
            "Dial ANSWER"
        ]
    );
    // Inhibited updates and no `caller` on dial: the callee sees the number that was set.
    let (_, leg) = ari(&sim, "GET", "/channels/call1-agent").await;
    let leg: Channel = serde_json::from_value(leg).expect("channel");
    assert_eq!(leg.connected.number, "5551000");

    // Hang the caller up: it leaves the bridge and Stasis, and the app hears nothing more of
    // it (no ChannelDestroyed for a channel that entered from the dialplan: ari-samples t6);
    // the next events are the bridge's.
    let (status, _) = ari(
        &sim,
        "DELETE",
        &format!("/channels/{caller}?reason_code=16"),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        events(&mut ws, 3).await,
        vec!["ChannelHangupRequest", "ChannelLeftBridge", "StasisEnd"]
    );
    let (status, _) = ari(&sim, "DELETE", "/bridges/call1-b1").await;
    assert_eq!(status, 204);
    assert_eq!(
        events(&mut ws, 2).await,
        vec!["ChannelLeftBridge", "BridgeDestroyed"]
    );
}

#[tokio::test]
async fn adding_to_a_bridge_without_inhibiting_pushes_the_callers_id() {
    let sim = Sim::start(in_order()).await.expect("sim");
    let _ws = socket(&sim).await;
    let caller = sim.inbound_call("router", ("Alice", "5550100"), "100", &[]);
    ari(
        &sim,
        "POST",
        "/channels/create?endpoint=PJSIP/alice&app=router&channelId=leg",
    )
    .await;
    ari(
        &sim,
        "POST",
        "/channels/leg/variable?variable=CONNECTEDLINE(num)&value=5551000",
    )
    .await;
    ari(&sim, "POST", "/bridges?bridgeId=b&type=mixing").await;
    ari(
        &sim,
        "POST",
        &format!("/bridges/b/addChannel?channel={caller},leg"),
    )
    .await;
    let (_, leg) = ari(&sim, "GET", "/channels/leg").await;
    assert_eq!(leg["connected"]["number"], "5550100");
}

#[tokio::test]
async fn asterisk_error_semantics() {
    let sim = Sim::start(in_order()).await.expect("sim");
    let _ws = socket(&sim).await;
    let msg = |m: &str| serde_json::json!({ "message": m });

    assert_eq!(
        http(&sim, "GET", "/ari/channels", None).await,
        (401, msg("Authentication required"))
    );
    assert_eq!(
        ari(&sim, "GET", "/channels/nope").await,
        (404, msg("Channel not found"))
    );
    assert_eq!(
        ari(&sim, "DELETE", "/bridges/nope").await,
        (404, msg("Bridge not found"))
    );
    assert_eq!(
        ari(&sim, "POST", "/channels/create?endpoint=Bogus/x&app=router").await,
        (500, serde_json::json!({"error": "Allocation failed"}))
    );
    assert_eq!(
        ari(&sim, "POST", "/channels/create?app=router").await.0,
        400
    );

    let (status, _) = ari(
        &sim,
        "POST",
        "/channels/create?endpoint=PJSIP/alice&app=router&channelId=c1",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        ari(
            &sim,
            "POST",
            "/channels/create?endpoint=PJSIP/alice&app=router&channelId=c1"
        )
        .await
        .0,
        409
    );
    for op in ["answer", "ring", "progress"] {
        assert_eq!(
            ari(&sim, "POST", &format!("/channels/c1/{op}")).await,
            (412, msg("Channel in invalid state")),
            "{op}"
        );
    }
    assert_eq!(ari(&sim, "POST", "/channels/c1/dial").await.0, 204);
    assert_eq!(
        ari(&sim, "POST", "/channels/c1/dial").await,
        (409, msg("Channel is not in the 'Down' state"))
    );

    ari(&sim, "POST", "/bridges?bridgeId=b1").await;
    assert_eq!(
        ari(&sim, "POST", "/bridges/b1/addChannel?channel=ghost").await,
        (400, msg("Channel not found"))
    );
    sim.insert_channel(Channel {
        id: "outside".into(),
        state: "Up".into(),
        ..Channel::default()
    });
    assert_eq!(
        ari(&sim, "POST", "/bridges/b1/addChannel?channel=outside").await,
        (422, msg("Channel not in Stasis application"))
    );
}

#[tokio::test]
async fn busy_no_answer_and_unavailable_end_like_asterisk() {
    let sim = Sim::start(SimConfig {
        busy_hangup_after: Duration::from_millis(200),
        ..in_order()
    })
    .await
    .expect("sim");
    let mut ws = socket(&sim).await;

    ari(
        &sim,
        "POST",
        "/channels/create?endpoint=PJSIP/busy-1&app=router&channelId=b",
    )
    .await;
    ari(&sim, "POST", "/channels/b/dial?timeout=10").await;
    assert_eq!(
        events(&mut ws, 6).await,
        vec![
            "StasisStart",
            "Dial ",
            "Dial BUSY",
            "ChannelHangupRequest",
            "StasisEnd",
            "ChannelDestroyed"
        ]
    );

    ari(
        &sim,
        "POST",
        "/channels/create?endpoint=PJSIP/noanswer-1&app=router&channelId=n",
    )
    .await;
    ari(&sim, "POST", "/channels/n/dial?timeout=1").await;
    let mut seen = events(&mut ws, 4).await;
    assert_eq!(
        seen,
        vec![
            "StasisStart",
            "Dial ",
            "ChannelStateChange Ringing",
            "Dial RINGING"
        ]
    );
    // The timeout ends it with cause 19 and no NOANSWER Dial event.
    seen = events(&mut ws, 2).await;
    assert_eq!(seen, vec!["ChannelHangupRequest", "StasisEnd"]);
    let destroyed = next_event(&mut ws).await;
    assert_eq!(
        (destroyed["type"].as_str(), destroyed["cause"].as_i64()),
        (Some("ChannelDestroyed"), Some(19))
    );
    assert_eq!(destroyed["cause_txt"], "User alerting, no answer");

    ari(
        &sim,
        "POST",
        "/channels/create?endpoint=PJSIP/unavailable-1&app=router&channelId=u",
    )
    .await;
    ari(&sim, "POST", "/channels/u/dial").await;
    assert_eq!(
        events(&mut ws, 3).await,
        vec!["StasisStart", "Dial ", "Dial CHANUNAVAIL"]
    );
    assert!(sim.bridge_ids().is_empty());
}

#[tokio::test]
async fn playback_finishes_done_or_failed_and_continue_ends_stasis() {
    let sim = Sim::start(in_order()).await.expect("sim");
    let mut ws = socket(&sim).await;
    let caller = sim.inbound_call("router", ("Alice", "5550100"), "100", &[]);
    assert_eq!(events(&mut ws, 1).await, vec!["StasisStart"]);

    let (status, pb) = ari(
        &sim,
        "POST",
        &format!("/channels/{caller}/play?media=sound:hello-world&playbackId=pb1"),
    )
    .await;
    assert_eq!(
        (status, pb["id"].as_str(), pb["target_uri"].as_str()),
        (201, Some("pb1"), Some(format!("channel:{caller}").as_str()))
    );
    let started = next_event(&mut ws).await;
    assert_eq!(
        (
            started["type"].as_str(),
            started["playback"]["state"].as_str()
        ),
        (Some("PlaybackStarted"), Some("playing"))
    );
    let finished = next_event(&mut ws).await;
    assert_eq!(
        (
            finished["type"].as_str(),
            finished["playback"]["state"].as_str()
        ),
        (Some("PlaybackFinished"), Some("done"))
    );

    // A missing sound still answers 201; the failure comes with PlaybackFinished.
    let (status, _) = ari(
        &sim,
        "POST",
        &format!("/channels/{caller}/play?media=sound:no-such-file&playbackId=pb2"),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(events(&mut ws, 1).await, vec!["PlaybackStarted"]);
    let failed = next_event(&mut ws).await;
    assert_eq!(failed["playback"]["state"], "failed");

    assert_eq!(
        ari(&sim, "POST", &format!("/channels/{caller}/continue"))
            .await
            .0,
        204
    );
    assert_eq!(events(&mut ws, 1).await, vec!["StasisEnd"]);
    assert_eq!(
        ari(&sim, "POST", &format!("/channels/{caller}/answer")).await,
        (
            409,
            serde_json::json!({"message": "Channel not in Stasis application"})
        )
    );
}

/// `callwasm sim` as its own process: a call placed through the control endpoint sends its
/// DTMF and hangs up on schedule.
#[tokio::test]
async fn the_sim_command_places_calls_with_scripted_callers() {
    use std::io::BufRead;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_callwasm"))
        .args(["sim", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("callwasm sim");
    let stdout = child.stdout.take().expect("stdout");
    let first = std::io::BufReader::new(stdout)
        .lines()
        .next()
        .expect("a line")
        .expect("utf-8");
    assert_eq!(
        first,
        format!("simulated Asterisk listening: ARI at http://127.0.0.1:{port}/ari")
    );

    let url = format!("ws://127.0.0.1:{port}/ari/events?app=router&api_key=asterisk:asterisk");
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket");
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let request = format!(
        "POST /sim/calls?app=router&number=5550100&exten=100&args=menu&dtmf=5@100,%23@150&hangup_after_ms=300 HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        AUTH.unwrap_or_default()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    let start = next_event(&mut ws).await;
    assert_eq!(
        (start["type"].as_str(), start["args"][0].as_str()),
        (Some("StasisStart"), Some("menu"))
    );
    let d1 = next_event(&mut ws).await;
    let d2 = next_event(&mut ws).await;
    assert_eq!(
        (
            d1["type"].as_str(),
            d1["digit"].as_str(),
            d2["digit"].as_str()
        ),
        (Some("ChannelDtmfReceived"), Some("5"), Some("#"))
    );
    // A caller that hangs up before it is answered CANCELs (cause 127); after its StasisEnd
    // the app hears nothing more of it (ari-samples t5).
    let request = next_event(&mut ws).await;
    assert_eq!(
        (
            request["type"].as_str(),
            request["cause"].as_i64(),
            request["tech_cause"].as_i64()
        ),
        (Some("ChannelHangupRequest"), Some(127), Some(487))
    );
    assert_eq!(events(&mut ws, 1).await, vec!["StasisEnd"]);
    let more = tokio::time::timeout(Duration::from_millis(500), ws.next()).await;
    assert!(more.is_err(), "an event after StasisEnd: {more:?}");
    let _ = child.kill();
    let _ = child.wait();
}

/// Originate into the application: dialed at once, StasisStart (state Up) once answered,
/// as the captured b and c2 samples show; the Local channel's `;2` half answers first and the
/// application hears of it.
#[tokio::test]
async fn an_originated_channel_enters_stasis_when_answered() {
    let sim = Sim::start(in_order()).await.expect("sim");
    let mut ws = socket(&sim).await;
    let (status, channel) = ari(
        &sim,
        "POST",
        "/channels?endpoint=Local/900@local-test&app=router&appArgs=A",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        events(&mut ws, 5).await,
        vec![
            "Dial ",
            "ChannelStateChange Up",
            "ChannelStateChange Up",
            "Dial ANSWER",
            "StasisStart"
        ]
    );
    let (status, _) = ari(
        &sim,
        "POST",
        &format!(
            "/channels/{}/answer",
            channel["id"].as_str().unwrap_or_default()
        ),
    )
    .await;
    assert_eq!(status, 204, "in Stasis now");
    assert_eq!(
        ari(&sim, "POST", "/channels?endpoint=Local/100@local-test").await,
        (
            400,
            serde_json::json!({"message": "Application or extension must be specified"})
        )
    );
}
