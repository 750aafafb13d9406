//! ARI event models against Asterisk itself: every event captured from a real Asterisk 22 in
//! ../shared/ari-samples decodes into its typed model, and every event type Asterisk 22's
//! events.json defines has a model. Both read ../shared at test time.

use callwasm::ari::Event;
use callwasm::ari::events::EVENT_TYPES;
use std::path::PathBuf;

fn shared() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: {} is absent", dir.display());
        None
    }
}

/// The events of one sample file, raw and decoded.
fn sample_events(name: &str) -> Option<Vec<(serde_json::Value, Event)>> {
    let path = shared()?.join("ari-samples").join(name);
    let text = std::fs::read_to_string(&path).expect("read sample");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("sample is JSON");
    let log = doc["log"].as_array().expect("log");
    Some(
        log.iter()
            .filter(|e| e["kind"] == "event")
            .map(|e| {
                let raw = e["event"].clone();
                let event: Event = serde_json::from_value(raw.clone())
                    .unwrap_or_else(|err| panic!("{name}: {err}: {raw}"));
                (raw, event)
            })
            .collect(),
    )
}

#[test]
fn every_captured_event_decodes_into_its_own_model() {
    let Some(dir) = shared() else { return };
    let mut count = 0;
    for entry in std::fs::read_dir(dir.join("ari-samples")).expect("samples") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for (raw, event) in sample_events(&name).unwrap_or_default() {
            assert_eq!(
                event.type_name(),
                raw["type"].as_str().unwrap_or_default(),
                "{name}: {raw}"
            );
            assert_eq!(
                event.application().unwrap_or_default(),
                raw["application"].as_str().unwrap_or_default()
            );
            count += 1;
        }
    }
    assert!(count > 200, "only {count} events found");
}

#[test]
fn every_event_type_in_events_json_has_a_model() {
    let Some(dir) = shared() else { return };
    let text = std::fs::read_to_string(dir.join("ari-api-docs/events.json")).expect("events.json");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let mut missing = Vec::new();
    for kind in ["Message", "Event"] {
        for t in doc["models"][kind]["subTypes"]
            .as_array()
            .expect("subTypes")
        {
            let t = t.as_str().expect("type name");
            if t == "Event" {
                continue;
            }
            // A model decodes a minimal event of its type to itself.
            let event: Event = serde_json::from_value(
                serde_json::json!({"type": t, "application": "a", "timestamp": "t"}),
            )
            .unwrap_or_else(|e| panic!("{t}: {e}"));
            if event.type_name() != t || !EVENT_TYPES.contains(&t) {
                missing.push(t.to_string());
            }
        }
    }
    assert_eq!(missing, Vec::<String>::new(), "event types without a model");
}

#[test]
fn create_bridge_dial_fields() {
    let Some(events) = sample_events("c_create_bridge_dial.json") else {
        return;
    };
    let start = events
        .iter()
        .find_map(|(_, e)| match e {
            Event::StasisStart(s) if s.channel.id == "1795667013.2" => Some(s),
            _ => None,
        })
        .expect("StasisStart of the created channel");
    assert_eq!(start.args, vec!["c-created".to_string()]);
    assert_eq!(start.channel.state, "Down");
    assert_eq!(start.channel.name, "Local/200@local-test-00000001;1");
    let statuses: Vec<&str> = events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Dial(d) => Some(d.dialstatus.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, vec!["", "ANSWER"]);
    let destroyed = events
        .iter()
        .find_map(|(_, e)| match e {
            Event::ChannelDestroyed(d) => Some(d),
            _ => None,
        })
        .expect("ChannelDestroyed");
    assert_eq!(
        (destroyed.cause, destroyed.cause_txt.as_str()),
        (16, "Normal Clearing")
    );
    assert!(
        events.iter().any(
            |(_, e)| matches!(e, Event::BridgeDestroyed(b) if b.bridge.bridge_type == "mixing")
        )
    );
    assert!(
        events
            .iter()
            .any(|(_, e)| matches!(e, Event::PlaybackFinished(p) if p.playback.state == "done"))
    );
}

#[test]
fn busy_no_answer_and_far_hangup_fields() {
    let Some(events) = sample_events("c3_dial_busy_noanswer_farhangup.json") else {
        return;
    };
    let dial: Vec<(String, String)> = events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Dial(d) => Some((d.peer.id.clone(), d.dialstatus.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        dial,
        vec![
            ("1795667018.9".into(), "".into()),
            ("1795667018.9".into(), "BUSY".into()),
            ("1795667023.11".into(), "".into()),
            ("1795667023.11".into(), "RINGING".into()),
            ("1795667026.13".into(), "".into()),
            ("1795667026.13".into(), "ANSWER".into()),
        ]
    );
    let destroyed: Vec<(String, i64, String)> = events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::ChannelDestroyed(d) => {
                Some((d.channel.id.clone(), d.cause, d.cause_txt.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        destroyed,
        vec![
            ("1795667018.9".into(), 17, "User busy".into()),
            (
                "1795667023.11".into(),
                19,
                "User alerting, no answer".into()
            ),
            ("1795667026.13".into(), 16, "Normal Clearing".into()),
        ]
    );
    let states: Vec<&str> = events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::ChannelStateChange(c) => Some(c.channel.state.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(states, vec!["Ringing", "Up"]);
}

#[test]
fn application_replaced_is_a_typed_event() {
    let Some(events) = sample_events("w_two_websockets_same_app.json") else {
        return;
    };
    let replaced: Vec<&str> = events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::ApplicationReplaced(r) => Some(r.application.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(replaced, vec!["router"]);
}

#[test]
fn unknown_types_and_fields_are_tolerated() {
    let event: Event = serde_json::from_str(
        r#"{"type":"SomethingNew","application":"router","timestamp":"2026-01-01T00:00:00.000+0000"}"#,
    )
    .expect("unknown type decodes");
    assert_eq!(event, Event::Unknown);
    let event: Event = serde_json::from_str(
        r#"{"type":"ChannelDtmfReceived","application":"router","timestamp":"t","digit":"5","duration_ms":120,
            "channel":{"id":"c1","name":"PJSIP/a-1","state":"Up","future_field":{"x":1}},"another_new_field":true}"#,
    )
    .expect("unknown fields decode");
    let Event::ChannelDtmfReceived(dtmf) = event else {
        panic!("wrong type");
    };
    assert_eq!(
        (
            dtmf.digit.as_str(),
            dtmf.duration_ms,
            dtmf.channel.id.as_str()
        ),
        ("5", 120, "c1")
    );
}

#[test]
fn a_malformed_event_is_an_error_not_a_panic() {
    for text in [
        "",
        "{",
        "[1,2]",
        r#"{"type": 5}"#,
        r#"{"type":"StasisStart","args":"not a list"}"#,
    ] {
        assert!(
            serde_json::from_str::<Event>(text).is_err(),
            "{text:?} decoded"
        );
    }
}
