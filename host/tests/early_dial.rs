//! The shipped early-dial plugin, built from plugins/early-dial, run in the real runtime: the
//! exact commands it answers each event with.

mod common;

use callwasm::runtime::{
    BridgeCreate, BridgeKind, BridgeMembers, CallerId, ChannelState, Command, Create, Dial,
    DialOutcome, DialStatus, Event, Hangup, HangupChannel, Play, PlaybackEnd, PlaybackStatus,
    Reply, SetVar, Target,
};
use common::*;

fn started_settings() -> Vec<(&'static str, &'static str)> {
    vec![
        ("caller_id_number", "5551000"),
        ("caller_id_name", "Sales"),
        ("vars", "X_TENANT=acme;X_ROUTE=sales"),
        ("dial_timeout", "25"),
    ]
}

fn hangup(channel: &str, cause: u8) -> Command {
    Command::Hangup(HangupChannel {
        channel: channel.into(),
        cause,
    })
}

fn dial_status(status: DialStatus) -> Event {
    Event::DialStatus(DialOutcome {
        leg: "agent".into(),
        status,
    })
}

fn hung_up(channel: &str, cause: u16) -> Event {
    Event::HungUp(Hangup {
        channel: channel.into(),
        cause,
        cause_text: "Normal Clearing".into(),
    })
}

/// Runs `started` and returns its reply, for the state the next event gets.
fn start(plugin: &callwasm::runtime::Plugin, settings: &[(&str, &str)]) -> Reply {
    handle(
        plugin,
        &Event::Started,
        &call(&["alice"], vec![caller("100")]),
        &common::settings(settings),
    )
    .expect("started")
}

/// The call while the leg rings, with the state of `previous`.
fn ringing_call(previous: &Reply) -> callwasm::runtime::Call {
    let mut c = call(
        &["alice"],
        vec![caller("100"), leg("agent", ChannelState::Ringing)],
    );
    c.state = previous.state.clone().expect("state bytes");
    c
}

#[test]
fn started_creates_bridges_and_dials_in_one_reply() {
    let rt = runtime();
    let plugin = load(&rt, "early-dial");
    let reply = start(&plugin, &started_settings());
    assert_eq!(
        reply.commands,
        vec![
            Command::Create(Create {
                leg: "agent".into(),
                endpoint: "PJSIP/alice".into(),
                caller_id: CallerId::Given(party("Sales", "5551000")),
                formats: None,
                originator: None,
            }),
            Command::SetVar(SetVar {
                channel: "agent".into(),
                name: "X_TENANT".into(),
                value: "acme".into(),
            }),
            Command::SetVar(SetVar {
                channel: "agent".into(),
                name: "X_ROUTE".into(),
                value: "sales".into(),
            }),
            Command::BridgeCreate(BridgeCreate {
                bridge: "b1".into(),
                kind: BridgeKind::Mixing,
            }),
            Command::BridgeAdd(BridgeMembers {
                bridge: "b1".into(),
                channels: vec!["caller".into(), "agent".into()],
            }),
            Command::Dial(Dial {
                leg: "agent".into(),
                caller: Some("caller".into()),
                timeout_s: 25,
            }),
        ]
    );
}

#[test]
fn without_caller_id_settings_the_callers_own_passes_through_and_routes_apply() {
    let rt = runtime();
    let plugin = load(&rt, "early-dial");
    // No Stasis args: the dialed extension picks the route.
    let reply = handle(
        &plugin,
        &Event::Started,
        &call(&[], vec![caller("200")]),
        &settings(&[
            ("route.200", "PJSIP/bob@trunk"),
            ("endpoint", "SIP/{target}"),
        ]),
    )
    .expect("started");
    assert_eq!(
        reply.commands[0],
        Command::Create(Create {
            leg: "agent".into(),
            endpoint: "PJSIP/bob@trunk".into(),
            caller_id: CallerId::PassThrough,
            formats: None,
            originator: None,
        })
    );
    assert_eq!(
        reply.commands.last(),
        Some(&Command::Dial(Dial {
            leg: "agent".into(),
            caller: Some("caller".into()),
            timeout_s: 30,
        }))
    );
    // The template applies when no route matches.
    let reply = handle(
        &plugin,
        &Event::Started,
        &call(&["300"], vec![caller("200")]),
        &settings(&[("endpoint", "SIP/{target}")]),
    )
    .expect("started");
    let Command::Create(create) = &reply.commands[0] else {
        panic!("first command is not create: {:?}", reply.commands[0]);
    };
    assert_eq!(create.endpoint, "SIP/300");
}

#[test]
fn a_call_with_no_target_is_an_error_that_says_so() {
    let rt = runtime();
    let plugin = load(&rt, "early-dial");
    let mut inbound = caller("");
    inbound.dialplan = None;
    let err = handle(
        &plugin,
        &Event::Started,
        &call(&[], vec![inbound]),
        &settings(&[]),
    )
    .expect_err("no target");
    assert_eq!(
        err.to_string(),
        "plugin returned an error: no target: the call has no Stasis argument and no dialed extension"
    );
}

#[test]
fn each_failed_dial_hangs_the_caller_up_with_its_cause() {
    let rt = runtime();
    let plugin = load(&rt, "early-dial");
    let started = start(&plugin, &started_settings());
    for (status, cause) in [
        (DialStatus::Busy, 17),
        (DialStatus::NoAnswer, 19),
        (DialStatus::Unavailable, 20),
        (DialStatus::Congestion, 34),
    ] {
        let reply = handle(
            &plugin,
            &dial_status(status),
            &ringing_call(&started),
            &settings(&started_settings()),
        )
        .expect("dial status");
        assert_eq!(reply.commands, vec![hangup("caller", cause)], "{status:?}");
    }
}

#[test]
fn ringing_and_progress_need_nothing_and_answer_answers_the_caller() {
    let rt = runtime();
    let plugin = load(&rt, "early-dial");
    let started = start(&plugin, &started_settings());
    for status in [DialStatus::Ringing, DialStatus::Progress] {
        let reply = handle(
            &plugin,
            &dial_status(status),
            &ringing_call(&started),
            &settings(&started_settings()),
        )
        .expect("dial status");
        assert_eq!(reply.commands, vec![], "{status:?}");
    }
    let reply = handle(
        &plugin,
        &dial_status(DialStatus::Answer),
        &ringing_call(&started),
        &settings(&started_settings()),
    )
    .expect("dial status");
    assert_eq!(reply.commands, vec![Command::Answer("caller".into())]);
}

#[test]
fn busy_with_a_prompt_plays_it_then_hangs_up_with_17() {
    let rt = runtime();
    let plugin = load(&rt, "early-dial");
    let conf = [("prompt.busy", "sound:vm-busy, sound:goodbye")];
    let started = start(&plugin, &conf);
    let busy = handle(
        &plugin,
        &dial_status(DialStatus::Busy),
        &ringing_call(&started),
        &settings(&conf),
    )
    .expect("busy");
    assert_eq!(
        busy.commands,
        vec![Command::Play(Play {
            playback: "prompt".into(),
            target: Target::Channel("caller".into()),
            media: vec!["sound:vm-busy".into(), "sound:goodbye".into()],
        })]
    );
    let finished = handle(
        &plugin,
        &Event::PlaybackFinished(PlaybackEnd {
            playback: "prompt".into(),
            status: PlaybackStatus::Done,
        }),
        &ringing_call(&busy),
        &settings(&conf),
    )
    .expect("playback finished");
    assert_eq!(finished.commands, vec![hangup("caller", 17)]);
}

#[test]
fn caller_hanging_up_hangs_up_the_leg() {
    let rt = runtime();
    let plugin = load(&rt, "early-dial");
    let started = start(&plugin, &started_settings());
    let mut c = ringing_call(&started);
    c.channels.retain(|ch| ch.handle != "caller");
    let reply = handle(
        &plugin,
        &hung_up("caller", 16),
        &c,
        &settings(&started_settings()),
    )
    .expect("hung up");
    assert_eq!(reply.commands, vec![hangup("agent", 16)]);
}

#[test]
fn leg_hanging_up_after_answer_hangs_up_the_caller() {
    let rt = runtime();
    let plugin = load(&rt, "early-dial");
    let started = start(&plugin, &started_settings());
    let mut c = ringing_call(&started);
    c.channels.retain(|ch| ch.handle != "agent");
    let reply = handle(
        &plugin,
        &hung_up("agent", 16),
        &c,
        &settings(&started_settings()),
    )
    .expect("hung up");
    assert_eq!(reply.commands, vec![hangup("caller", 16)]);
}

#[test]
fn state_bytes_round_trip_between_events() {
    let rt = runtime();
    let plugin = load(&rt, "early-dial");
    let started = start(&plugin, &started_settings());
    assert_eq!(
        started.state.as_deref(),
        Some(&br#"{"pending_cause":null,"finishing":false}"#[..])
    );
    // Busy: the plugin hangs the caller up and remembers it is finishing.
    let busy = handle(
        &plugin,
        &dial_status(DialStatus::Busy),
        &ringing_call(&started),
        &settings(&started_settings()),
    )
    .expect("busy");
    assert_eq!(
        busy.state.as_deref(),
        Some(&br#"{"pending_cause":null,"finishing":true}"#[..])
    );
    // Asterisk then destroys the busy leg while the caller's hangup is on its way. With the
    // remembered state the plugin does not hang the caller up a second time...
    let mut c = ringing_call(&busy);
    c.channels.retain(|ch| ch.handle != "agent");
    let gone = handle(
        &plugin,
        &hung_up("agent", 17),
        &c,
        &settings(&started_settings()),
    )
    .expect("leg gone");
    assert_eq!(gone.commands, vec![]);
    assert_eq!(gone.state, None, "unchanged state is not sent back");
    // ...while without it (the state of `started`) it would.
    let mut c = ringing_call(&started);
    c.channels.retain(|ch| ch.handle != "agent");
    let fresh = handle(
        &plugin,
        &hung_up("agent", 17),
        &c,
        &settings(&started_settings()),
    )
    .expect("leg gone");
    assert_eq!(fresh.commands, vec![hangup("caller", 16)]);
}
