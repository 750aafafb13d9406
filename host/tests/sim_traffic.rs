//! Generated traffic and endpoint rules from a simulator set-up file: the calls arrive as
//! configured (rate, numbers, arguments, DTMF, hangups), the rules decide what dialed endpoints
//! do, and a bad file is refused with the line and key at fault.

use callwasm::ari::{Auth, CreateChannel, Rest, RestConfig};
use callwasm::sim::{Sim, SimFile};
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn socket(addr: std::net::SocketAddr, app: &str) -> Socket {
    let url = format!("ws://{addr}/ari/events?app={app}&api_key=asterisk:asterisk");
    tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket")
        .0
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

const FILE: &str = r#"
busy_hangup_after_ms = 200

[[endpoints]]
pattern = "PJSIP/alice*"
behaviour = "busy"

[[traffic]]
app = "router"
rate = 50.0
count = 6
exten = "2001"
numbers = ["5550001", "5550002", "5550003"]
name = "Load"
dtmf = "7@20"
hangup_after_ms = 60
"#;

#[tokio::test]
async fn traffic_from_a_file_arrives_as_configured() {
    let file = SimFile::parse(FILE).expect("valid file");
    let sim = Sim::start(file.config()).await.expect("sim");
    let mut ws = socket(sim.addr(), "router").await;
    let began = Instant::now();
    let placed = sim.run_traffic(&file.traffic[0]).await.expect("traffic");
    // Six calls at 50/s: the last is due 100 ms after the first.
    assert!(began.elapsed() >= Duration::from_millis(100));
    assert_eq!(placed.channels.len(), 6);

    // Per call: StasisStart, the DTMF digit, then the caller's CANCEL (it was never
    // answered: cause 127) and StasisEnd, and nothing more (ari-samples t5: no
    // ChannelDestroyed for a channel that entered from the dialplan). Calls overlap, so
    // collect per channel.
    let mut per_call: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut starts = Vec::new();
    while per_call.values().map(Vec::len).sum::<usize>() < 6 * 4 {
        let e = next_event(&mut ws).await;
        let id = e["channel"]["id"].as_str().expect("channel id").to_string();
        let summary = match e["type"].as_str().expect("type") {
            "StasisStart" => {
                starts.push((
                    e["channel"]["caller"]["number"].as_str().map(String::from),
                    e["channel"]["caller"]["name"].as_str().map(String::from),
                    e["args"].clone(),
                ));
                "StasisStart".to_string()
            }
            "ChannelDtmfReceived" => format!("DTMF {}", e["digit"].as_str().unwrap_or("?")),
            "ChannelHangupRequest" => format!("HangupRequest cause={}", e["cause"]),
            "ChannelDestroyed" => format!("Destroyed cause={}", e["cause"]),
            other => other.to_string(),
        };
        per_call.entry(id).or_default().push(summary);
    }
    assert_eq!(per_call.keys().cloned().collect::<Vec<_>>(), {
        let mut ids = placed.channels.clone();
        ids.sort();
        ids
    });
    for events in per_call.values() {
        assert_eq!(
            events,
            &[
                "StasisStart",
                "DTMF 7",
                "HangupRequest cause=127",
                "StasisEnd"
            ]
        );
    }
    let numbers: Vec<_> = starts
        .iter()
        .map(|s| s.0.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        numbers,
        [
            "5550001", "5550002", "5550003", "5550001", "5550002", "5550003"
        ]
    );
    assert!(starts.iter().all(|s| s.1.as_deref() == Some("Load")));
    assert!(starts.iter().all(|s| s.2 == serde_json::json!(["2001"])));
    assert!(sim.channel_ids().is_empty(), "every caller hung up");
}

#[tokio::test]
async fn endpoint_rules_from_a_file_come_before_the_built_in_ones() {
    let file = SimFile::parse(FILE).expect("valid file");
    let sim = Sim::start(file.config()).await.expect("sim");
    let mut ws = socket(sim.addr(), "router").await;
    let rest = Rest::new(
        "sim",
        &RestConfig {
            base_url: sim.base_url(),
            auth: Auth::Basic {
                user: "asterisk".into(),
                password: "asterisk".into(),
            },
            pool_size: 4,
            timeout: Duration::from_secs(2),
        },
    )
    .expect("client");
    let leg = rest
        .create_channel(&CreateChannel {
            endpoint: "PJSIP/alice-desk",
            app: "router",
            ..CreateChannel::default()
        })
        .await
        .expect("create");
    assert_eq!(next_event(&mut ws).await["type"], "StasisStart");
    rest.dial(&leg.id, None, None).await.expect("dial");
    let dial = next_event(&mut ws).await;
    assert_eq!(
        (dial["type"].as_str(), dial["dialstatus"].as_str()),
        (Some("Dial"), Some(""))
    );
    let busy = next_event(&mut ws).await;
    assert_eq!(
        busy["dialstatus"], "BUSY",
        "the file's rule, not the default answer"
    );
    // And the file's busy linger: hung up with cause 17 after 200 ms, not 5 s.
    let began = Instant::now();
    let hangup = next_event(&mut ws).await;
    assert_eq!(
        (hangup["type"].as_str(), hangup["cause"].as_i64()),
        (Some("ChannelHangupRequest"), Some(17))
    );
    // 200 ms, not the default 5 s (with room for a loaded machine).
    assert!(began.elapsed() < Duration::from_secs(4));
}

#[test]
fn a_bad_file_names_the_line_and_key() {
    let unknown_behaviour = "[[endpoints]]\npattern = \"PJSIP/*\"\nbehaviour = \"ringing\"\n";
    let e = SimFile::parse(unknown_behaviour).expect_err("refused");
    assert!(e.starts_with("line 3, column 13, key `endpoints[0].behaviour`: unknown variant `ringing`, expected one of `answer`, `ring-forever`, `busy`"), "{e}");

    let unknown_key = "[[traffic]]\napp = \"router\"\nrate = 1.0\ncount = 1\nextension = \"100\"\n";
    let e = SimFile::parse(unknown_key).expect_err("refused");
    assert!(
        e.starts_with(
            "line 5, column 1, key `traffic[0].extension`: unknown field `extension`, expected one of"
        ),
        "{e}"
    );

    let zero_rate = "[[traffic]]\napp = \"router\"\nrate = 0.0\ncount = 1\n";
    assert_eq!(
        SimFile::parse(zero_rate).expect_err("refused"),
        "traffic[0].rate: expected a number of calls per second above 0, got 0"
    );

    let bad_dtmf = "[[traffic]]\napp = \"router\"\nrate = 1.0\ncount = 1\ndtmf = \"X@10\"\n";
    assert_eq!(
        SimFile::parse(bad_dtmf).expect_err("refused"),
        "traffic[0].dtmf: dtmf: not a DTMF digit: X"
    );

    let missing = "[[traffic]]\napp = \"router\"\nrate = 1.0\n";
    let e = SimFile::parse(missing).expect_err("refused");
    assert!(e.contains("missing field `count`"), "{e}");
}

#[test]
fn the_sim_command_refuses_a_bad_file_with_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sim.toml");
    std::fs::write(&path, "listen = \"nowhere\"\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_callwasm"))
        .args(["sim", "--config"])
        .arg(&path)
        .output()
        .expect("callwasm sim");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        format!(
            "error: {}: line 1, column 10, key `listen`: invalid socket address syntax",
            path.display()
        )
    );
}

#[test]
fn the_shipped_example_file_is_valid() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sim.toml");
    let file = SimFile::load(&path).expect("examples/sim.toml is valid");
    assert_eq!(file.endpoints.len(), 3);
    assert_eq!(
        file.traffic.iter().map(|t| t.count).collect::<Vec<_>>(),
        [10, 2]
    );
    let config = file.config();
    assert_eq!(config.listen.to_string(), "127.0.0.1:8088");
    assert_eq!(config.endpoints[1].pattern, "PJSIP/bob*");
    assert_eq!(
        config.endpoints[1].behaviour,
        callwasm::sim::Behaviour::Busy
    );
}
