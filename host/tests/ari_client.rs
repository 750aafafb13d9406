//! The ARI client against a real HTTP + WebSocket server on loopback (the simulated Asterisk):
//! reconnects, resync, silent sockets, refused connections, and typed REST errors.

use callwasm::ari::models::Channel;
use callwasm::ari::{
    AriError, AriErrorKind, Auth, Event, EventStream, Rest, RestConfig, ServerItem, StreamConfig,
    StreamItem,
};
use callwasm::sim::{Sim, SimConfig};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

fn rest_config(sim: &Sim, auth: Auth, timeout: Duration) -> RestConfig {
    RestConfig {
        base_url: sim.base_url(),
        auth,
        pool_size: 8,
        timeout,
    }
}

fn basic() -> Auth {
    Auth::Basic {
        user: "asterisk".into(),
        password: "asterisk".into(),
    }
}

fn stream_config() -> StreamConfig {
    StreamConfig {
        apps: vec!["router".into()],
        ping_interval: Duration::from_millis(100),
        pong_timeout: Duration::from_millis(500),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        ..StreamConfig::default()
    }
}

struct Running {
    rx: mpsc::Receiver<ServerItem>,
    _stop: watch::Sender<bool>,
}

fn start_stream(sim: &Sim, config: StreamConfig) -> Running {
    let rc = rest_config(sim, basic(), Duration::from_secs(2));
    let rest = Rest::new("pbx1", &rc).expect("rest");
    let (tx, rx) = mpsc::channel(1024);
    let (stop, stop_rx) = watch::channel(false);
    tokio::spawn(EventStream::new("pbx1", rest, rc, config).run(tx, stop_rx));
    Running { rx, _stop: stop }
}

async fn next(run: &mut Running) -> StreamItem {
    let item = tokio::time::timeout(Duration::from_secs(5), run.rx.recv())
        .await
        .expect("a stream item within 5 s")
        .expect("stream alive");
    assert_eq!(&*item.server, "pbx1", "every item names its server");
    item.item
}

fn channel(id: &str) -> Channel {
    Channel {
        id: id.into(),
        name: format!("PJSIP/{id}"),
        state: "Up".into(),
        ..Channel::default()
    }
}

fn ids(channels: &[Channel]) -> Vec<&str> {
    channels.iter().map(|c| c.id.as_str()).collect()
}

#[tokio::test]
async fn a_dropped_socket_reconnects_and_resyncs_with_the_current_channels() {
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    sim.insert_channel(channel("before.1"));
    let mut run = start_stream(&sim, stream_config());
    assert_eq!(next(&mut run).await, StreamItem::Connected);
    match next(&mut run).await {
        StreamItem::Resynced {
            channels, bridges, ..
        } => {
            assert_eq!(ids(&channels), vec!["before.1"]);
            assert!(bridges.is_empty());
        }
        other => panic!("expected Resynced, got {other:?}"),
    }

    // The event filter is in place: ChannelVarset is not sent, ChannelStateChange is.
    sim.emit("router", serde_json::json!({"type": "ChannelVarset", "application": "router", "timestamp": "t", "variable": "X", "value": "1"}));
    let id = sim.inbound_call("router", ("Alice", "5550100"), "100", &["alice", "sales"]);
    match next(&mut run).await {
        StreamItem::Event(event) => match *event {
            Event::StasisStart(start) => {
                assert_eq!(start.channel.id, id);
                assert_eq!(start.channel.state, "Ring");
                assert_eq!(start.args, vec!["alice".to_string(), "sales".to_string()]);
                assert_eq!(start.channel.caller.number, "5550100");
                assert_eq!(start.channel.dialplan.exten, "100");
            }
            other => panic!("expected StasisStart, got {other:?}"),
        },
        other => panic!("expected an event, got {other:?}"),
    }

    // While the socket is down the world changes; the resync shows it.
    sim.remove_channel("before.1");
    sim.insert_channel(channel("during.2"));
    sim.drop_sockets();
    match next(&mut run).await {
        StreamItem::Disconnected { reason } => assert!(reason.contains("closed"), "{reason}"),
        other => panic!("expected Disconnected, got {other:?}"),
    }
    assert_eq!(next(&mut run).await, StreamItem::Connected);
    match next(&mut run).await {
        StreamItem::Resynced { channels, .. } => {
            let mut got = ids(&channels);
            got.sort();
            let mut want = vec!["during.2", id.as_str()];
            want.sort();
            assert_eq!(got, want);
        }
        other => panic!("expected Resynced, got {other:?}"),
    }
}

#[tokio::test]
async fn refused_connections_are_retried_with_capped_backoff_until_they_succeed() {
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    let mut run = start_stream(&sim, stream_config());
    assert_eq!(next(&mut run).await, StreamItem::Connected);
    assert!(matches!(next(&mut run).await, StreamItem::Resynced { .. }));

    let refused_for = Duration::from_secs(10);
    let began = Instant::now();
    sim.faults(|f| f.refuse_until = Some(began + refused_for));
    sim.drop_sockets();
    let mut attempts = Vec::new();
    loop {
        match next(&mut run).await {
            StreamItem::Disconnected { reason } => attempts.push((Instant::now(), reason)),
            StreamItem::Connected => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    let reconnected = began.elapsed();
    assert!(
        reconnected >= refused_for,
        "connected while refused: {reconnected:?}"
    );
    assert!(
        reconnected < refused_for + Duration::from_millis(500) + Duration::from_secs(1),
        "reconnect came {reconnected:?} after the refusal began (cap 500 ms)"
    );
    // Never gave up, and the backoff stayed under its cap (plus connect time).
    assert!(
        attempts.len() >= 15,
        "only {} attempts in 10 s",
        attempts.len()
    );
    for pair in attempts.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap <= Duration::from_millis(500) + Duration::from_millis(300),
            "gap {gap:?}"
        );
    }
    assert!(
        attempts[1..].iter().all(|(_, r)| r.contains("refused")),
        "{:?}",
        attempts.iter().map(|(_, r)| r).collect::<Vec<_>>()
    );
    assert!(matches!(next(&mut run).await, StreamItem::Resynced { .. }));
}

#[tokio::test]
async fn a_silent_socket_is_detected_and_replaced() {
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    let mut run = start_stream(&sim, stream_config());
    assert_eq!(next(&mut run).await, StreamItem::Connected);
    assert!(matches!(next(&mut run).await, StreamItem::Resynced { .. }));

    let went_silent = Instant::now();
    sim.faults(|f| f.silent = true);
    match next(&mut run).await {
        StreamItem::Disconnected { reason } => {
            assert!(reason.contains("no pong"), "{reason}");
            let after = went_silent.elapsed();
            // pong timeout 500 ms + one ping interval, with room for a busy machine.
            assert!(after >= Duration::from_millis(500), "too early: {after:?}");
            assert!(after < Duration::from_secs(10), "too late: {after:?}");
        }
        other => panic!("expected Disconnected, got {other:?}"),
    }
    sim.faults(|f| f.silent = false);
    assert_eq!(next(&mut run).await, StreamItem::Connected);
    assert!(matches!(next(&mut run).await, StreamItem::Resynced { .. }));
    // The new socket works.
    sim.inbound_call("router", ("Bob", "5550200"), "200", &[]);
    assert!(
        matches!(next(&mut run).await, StreamItem::Event(e) if matches!(*e, Event::StasisStart(_)))
    );
}

#[tokio::test]
async fn another_client_taking_the_app_is_surfaced() {
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    let mut run = start_stream(&sim, stream_config());
    assert_eq!(next(&mut run).await, StreamItem::Connected);
    assert!(matches!(next(&mut run).await, StreamItem::Resynced { .. }));
    // A plain WebSocket client (api_key auth) subscribes the same app.
    let url = format!(
        "ws://{}/ari/events?app=router&api_key=asterisk:asterisk",
        sim.addr()
    );
    let (_other, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("second socket");
    match next(&mut run).await {
        StreamItem::Event(e) => match *e {
            Event::ApplicationReplaced(r) => assert_eq!(r.application, "router"),
            other => panic!("expected ApplicationReplaced, got {other:?}"),
        },
        other => panic!("expected an event, got {other:?}"),
    }
}

fn status(err: &AriError) -> (u16, String) {
    match &err.kind {
        AriErrorKind::Status { status, message } => (*status, message.clone()),
        other => panic!("expected a status error, got {other:?}"),
    }
}

#[tokio::test]
async fn rest_errors_are_typed_with_status_and_message() {
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    let rest =
        Rest::new("pbx1", &rest_config(&sim, basic(), Duration::from_secs(2))).expect("rest");

    let err = rest.get_channel("no-such-channel").await.expect_err("404");
    assert_eq!(
        (err.server.as_str(), err.op, err.resource.as_str()),
        ("pbx1", "channels.get", "no-such-channel")
    );
    assert_eq!(status(&err), (404, "Channel not found".into()));
    assert_eq!(
        err.to_string(),
        "pbx1: channels.get no-such-channel: HTTP 404: Channel not found"
    );

    sim.faults(|f| {
        f.fail_share = 1.0;
        f.fail_status = 503;
    });
    let err = rest.answer("c1").await.expect_err("503");
    assert_eq!(status(&err), (503, "Injected failure".into()));
    sim.faults(|f| f.fail_share = 0.0);

    let wrong = Rest::new(
        "pbx1",
        &rest_config(
            &sim,
            Auth::Basic {
                user: "asterisk".into(),
                password: "nope".into(),
            },
            Duration::from_secs(2),
        ),
    )
    .expect("rest");
    assert_eq!(
        status(&wrong.ping().await.expect_err("401")),
        (401, "Authentication required".into())
    );

    let keyed = Rest::new(
        "pbx1",
        &rest_config(
            &sim,
            Auth::ApiKey("asterisk:asterisk".into()),
            Duration::from_secs(2),
        ),
    )
    .expect("rest");
    assert_eq!(keyed.ping().await.expect("api_key works").ping, "pong");
}

#[tokio::test]
async fn a_server_that_never_answers_hits_the_timeout() {
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    sim.faults(|f| f.rest_delay = Duration::from_secs(30));
    let rest = Rest::new(
        "pbx1",
        &rest_config(&sim, basic(), Duration::from_millis(300)),
    )
    .expect("rest");
    let began = Instant::now();
    let err = rest.list_channels().await.expect_err("timeout");
    assert_eq!(err.kind, AriErrorKind::Timeout(Duration::from_millis(300)));
    // It gave up rather than hung: well before the simulator's stall would end.
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "{:?}",
        began.elapsed()
    );
}

#[tokio::test]
async fn a_body_that_is_not_json_is_an_error() {
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    sim.faults(|f| f.garbage_bodies = true);
    let rest =
        Rest::new("pbx1", &rest_config(&sim, basic(), Duration::from_secs(2))).expect("rest");
    let err = rest.list_channels().await.expect_err("bad body");
    assert!(matches!(err.kind, AriErrorKind::BadBody(_)), "{err}");
}

#[tokio::test]
async fn a_closed_port_is_a_transport_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let rest = Rest::new(
        "pbx1",
        &RestConfig {
            base_url: format!("http://127.0.0.1:{port}/ari"),
            auth: basic(),
            pool_size: 2,
            timeout: Duration::from_secs(2),
        },
    )
    .expect("rest");
    let err = rest.ping().await.expect_err("refused");
    match err.kind {
        AriErrorKind::Transport(reason) => {
            assert!(reason.to_lowercase().contains("refused"), "{reason}")
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
}

#[tokio::test]
async fn several_servers_share_one_consumer_and_each_item_names_its_server() {
    let east = Sim::start(SimConfig::default()).await.expect("sim");
    let west = Sim::start(SimConfig::default()).await.expect("sim");
    let (tx, mut rx) = mpsc::channel(64);
    let (_stop, stop_rx) = watch::channel(false);
    for (name, sim) in [("east", &east), ("west", &west)] {
        let rc = rest_config(sim, basic(), Duration::from_secs(2));
        let rest = Rest::new(name, &rc).expect("rest");
        tokio::spawn(
            EventStream::new(name, rest, rc, stream_config()).run(tx.clone(), stop_rx.clone()),
        );
    }
    let mut resynced = Vec::new();
    while resynced.len() < 2 {
        let item = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("item")
            .expect("alive");
        if let StreamItem::Resynced { .. } = item.item {
            resynced.push(item.server.to_string());
        }
    }
    resynced.sort();
    assert_eq!(resynced, vec!["east", "west"]);
    let id = west.inbound_call("router", ("Carol", "5550300"), "300", &[]);
    let item = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("item")
        .expect("alive");
    assert_eq!(&*item.server, "west");
    assert!(
        matches!(item.item, StreamItem::Event(e) if matches!(&*e, Event::StasisStart(s) if s.channel.id == id))
    );
}

#[tokio::test]
async fn unknown_and_malformed_events_are_skipped_without_dropping_the_socket() {
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    let mut run = start_stream(
        &sim,
        StreamConfig {
            // No filter, so Asterisk would send event types this version does not know.
            event_filter: vec![],
            ..stream_config()
        },
    );
    assert_eq!(next(&mut run).await, StreamItem::Connected);
    assert!(matches!(next(&mut run).await, StreamItem::Resynced { .. }));
    sim.emit_raw(
        "router",
        r#"{"type":"SomethingFromAsterisk99","application":"router","timestamp":"t"}"#,
    );
    sim.emit_raw(
        "router",
        r#"{"type":"SomethingFromAsterisk99","application":"router","timestamp":"t"}"#,
    );
    sim.emit_raw("router", "{not json at all");
    sim.emit_raw("router", r#"{"type":"StasisStart","args":"not a list"}"#);
    let id = sim.inbound_call("router", ("Dave", "5550400"), "400", &[]);
    // The next item is the good event: nothing was dropped, no reconnect happened.
    match next(&mut run).await {
        StreamItem::Event(e) => assert!(
            matches!(&*e, Event::StasisStart(s) if s.channel.id == id),
            "{e:?}"
        ),
        other => panic!("expected the StasisStart, got {other:?}"),
    }
    assert_eq!(sim.socket_count(), 1);
}

#[tokio::test]
async fn typed_calls_of_the_seed_flow_against_the_simulator() {
    use callwasm::ari::{CreateChannel, PlayTarget};
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    let mut run = start_stream(&sim, stream_config());
    assert_eq!(next(&mut run).await, StreamItem::Connected);
    assert!(matches!(next(&mut run).await, StreamItem::Resynced { .. }));
    let rest =
        Rest::new("pbx1", &rest_config(&sim, basic(), Duration::from_secs(2))).expect("rest");
    let caller = sim.inbound_call("router", ("Alice", "5550100"), "100", &[]);

    let leg = rest
        .create_channel(&CreateChannel {
            endpoint: "PJSIP/alice",
            app: "router",
            channel_id: Some("c1-agent"),
            originator: Some(&caller),
            ..CreateChannel::default()
        })
        .await
        .expect("create");
    assert_eq!((leg.id.as_str(), leg.state.as_str()), ("c1-agent", "Down"));
    // The 200 may come before the leg is in the application (as on a real Asterisk): a
    // client waits for its StasisStart before using it.
    loop {
        match next(&mut run).await {
            StreamItem::Event(e) if matches!(&*e, Event::StasisStart(s) if s.channel.id == "c1-agent") =>
            {
                break;
            }
            StreamItem::Event(_) => {}
            other => panic!("expected events, got {other:?}"),
        }
    }
    rest.set_variable("c1-agent", "CONNECTEDLINE(num)", "5551000")
        .await
        .expect("variable");
    assert_eq!(
        rest.get_variable("c1-agent", "CONNECTEDLINE(num)")
            .await
            .expect("get"),
        "5551000"
    );
    let bridge = rest.create_bridge("c1-b1", "mixing").await.expect("bridge");
    assert_eq!(bridge.bridge_type, "mixing");
    rest.add_channels("c1-b1", &[&caller, "c1-agent"], true)
        .await
        .expect("add");
    rest.dial("c1-agent", None, Some(30)).await.expect("dial");
    let err = rest
        .dial("c1-agent", None, None)
        .await
        .expect_err("second dial");
    assert_eq!(
        status(&err),
        (409, "Channel is not in the 'Down' state".into())
    );
    let playback = rest
        .play(
            PlayTarget::Bridge("c1-b1"),
            &["sound:hello-world".to_string()],
            "c1-pb",
        )
        .await
        .expect("play");
    assert_eq!(
        (playback.id.as_str(), playback.target_uri.as_str()),
        ("c1-pb", "bridge:c1-b1")
    );
    let playback = rest
        .play(
            PlayTarget::Channel(&caller),
            &["digits:123".to_string()],
            "c1-pb2",
        )
        .await
        .expect("play");
    assert_eq!(playback.target_uri, format!("channel:{caller}"));
    rest.hangup(&caller, 16).await.expect("hangup");
    rest.destroy_bridge("c1-b1").await.expect("destroy");
    assert_eq!(
        ids(&rest.list_channels().await.expect("list")),
        vec!["c1-agent"]
    );
    assert!(rest.list_bridges().await.expect("list").is_empty());
}

/// What Asterisk answers to a refused event WebSocket reaches the log in words an operator can
/// act on: the status, Asterisk's own reason and what to check.
#[tokio::test]
async fn a_refused_event_socket_says_why_and_what_to_check() {
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    let refused = |rc: RestConfig, apps: Vec<String>| {
        let rest = Rest::new("pbx1", &rc).expect("rest");
        let (tx, rx) = mpsc::channel(16);
        let (stop, stop_rx) = watch::channel(false);
        let config = StreamConfig {
            apps,
            ..stream_config()
        };
        tokio::spawn(EventStream::new("pbx1", rest, rc, config).run(tx, stop_rx));
        Running { rx, _stop: stop }
    };
    // The password was changed on the Asterisk side.
    let wrong = Auth::Basic {
        user: "asterisk".into(),
        password: "old".into(),
    };
    let mut run = refused(
        rest_config(&sim, wrong, Duration::from_secs(2)),
        vec!["router".into()],
    );
    assert_eq!(
        next(&mut run).await,
        StreamItem::Disconnected {
            reason: "connect: HTTP 401 \"Authentication required\": Asterisk refused user \"asterisk\": was the password changed in ari.conf?".into()
        }
    );
    // An application name Asterisk will not register (over 73 bytes): its HTML error page.
    let long_app = "a".repeat(74);
    let mut run = refused(
        rest_config(&sim, basic(), Duration::from_secs(2)),
        vec![long_app.clone()],
    );
    assert_eq!(
        next(&mut run).await,
        StreamItem::Disconnected {
            reason: format!(
                "connect: HTTP 500 \"Stasis app registration failed\": Asterisk refused to register the application(s) {long_app}"
            )
        }
    );
}

/// A router sharing its calls sends nothing that changes a call while its lease is not good:
/// a request waits for the next renewal, fails once the lease is lost, and never reaches
/// Asterisk; reading (GET) is not fenced. Each request names its router in its User-Agent.
#[tokio::test]
async fn a_fenced_client_sends_no_change_while_its_lease_is_not_good() {
    use callwasm::cluster::Fence;
    let sim = Sim::start(SimConfig {
        journal: true,
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    let mut stream = start_stream(&sim, stream_config());
    while !matches!(next(&mut stream).await, StreamItem::Resynced { .. }) {}
    let caller = sim.inbound_call("router", ("", "5550100"), "100", &[]);
    let fence = Fence::new(Instant::now()); // lapsed from the start
    let rc = rest_config(&sim, basic(), Duration::from_millis(300));
    let rest = Rest::for_router("pbx1", &rc, Some("r1"), Some(fence.clone())).expect("rest");

    let held = rest.answer(&caller).await.expect_err("held back");
    assert!(held.fenced(), "{held}");
    assert_eq!(
        held.to_string(),
        format!(
            "pbx1: channels.answer {caller}: not sent: this router's lease in the call store was not renewed within 300ms"
        )
    );
    rest.get_channel(&caller)
        .await
        .expect("reading is not fenced");

    // Renewed while the request waits: it goes out.
    let renewer = fence.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        renewer.renew(Instant::now() + Duration::from_secs(60));
    });
    rest.answer(&caller).await.expect("sent once renewed");

    fence.lose();
    let lost = rest.hangup(&caller, 16).await.expect_err("lost");
    assert!(lost.fenced(), "{lost}");
    // The stream's own requests (its filter, its resync) came before the caller.
    let sent: Vec<(String, String)> = sim
        .journal_by_client()
        .into_iter()
        .map(|(_, line, client)| (line, client))
        .filter(|(line, _)| line.contains(&caller))
        .collect();
    let agent = format!("callwasm/{} (r1)", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        sent,
        vec![
            (format!("GET /channels/{caller}"), agent.clone()),
            (format!("POST /channels/{caller}/answer"), agent),
        ]
    );
}
