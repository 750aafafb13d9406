//! Random replies thrown at the checker (issue 15): whatever a plugin sends, the checker never
//! panics, and every reply it accepts stays within the tenant's capabilities, judged here by
//! independent, blunt rules on the raw strings (what Asterisk would act on), not by the
//! checker's own parsers.

use callwasm::router::call::{CALLER, CallRecord, Leg};
use callwasm::router::check::check;
use callwasm::router::config::Config;
use callwasm::runtime::{
    BridgeCreate, BridgeKind, BridgeMembers, CallerId, Command, ContinueInDialplan, Create, Dial,
    HangupChannel, Play, SetVar, Target, Timer,
};
use proptest::prelude::*;

const TENANT: &str = r#"
[servers.pbx]
url = "http://127.0.0.1:8088/ari"
user = "u"
password = "p"
[tenants.acme]
apps = ["acme"]
plugin = "x.wasm"
endpoints = ["PJSIP/alice*", "PJSIP/*@trunk1", "Local/*@from-router"]
contexts = ["acme-*"]
media = ["sound:", "recording:acme/"]
"#;

/// Pieces hostile strings are made of: separators Asterisk splits on, path climbs, functions
/// that reach past the channel, control characters.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("PJSIP/".to_string()),
        Just("alice".to_string()),
        Just("Local/".to_string()),
        Just("@".to_string()),
        Just("/".to_string()),
        Just("&".to_string()),
        Just(",".to_string()),
        Just("sip:".to_string()),
        Just("+900".to_string()),
        Just("trunk1".to_string()),
        Just("from-router".to_string()),
        Just("admin-only".to_string()),
        Just("..".to_string()),
        Just("sound:".to_string()),
        Just("recording:".to_string()),
        Just("acme/".to_string()),
        Just("othertenant/".to_string()),
        Just("beep".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("CHANNEL".to_string()),
        Just("hangup_handler_push".to_string()),
        Just("GLOBAL".to_string()),
        Just("DB".to_string()),
        Just("SHARED".to_string()),
        Just("CALLERID".to_string()),
        Just("PJSIP_HEADER".to_string()),
        Just("add,X-".to_string()),
        Just("X_".to_string()),
        Just("__".to_string()),
        Just("$".to_string()),
        Just("{".to_string()),
        Just("\n".to_string()),
        Just("\r".to_string()),
        Just(" ".to_string()),
        Just(".".to_string()),
        Just("caller".to_string()),
        Just("leg".to_string()),
        "[a-zA-Z0-9_*?#-]{0,6}",
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..7).prop_map(|p| p.concat())
}

fn handle() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(CALLER.to_string()),
        Just("leg".to_string()),
        Just("b1".to_string()),
        text()
    ]
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        (handle(), text(), any::<bool>()).prop_map(|(leg, endpoint, given)| Command::Create(
            Create {
                leg,
                endpoint,
                caller_id: if given {
                    CallerId::Given(callwasm::runtime::Party {
                        name: "n".into(),
                        number: "1".into(),
                    })
                } else {
                    CallerId::PassThrough
                },
                formats: None,
                originator: None,
            }
        )),
        (handle(), text(), text()).prop_map(|(channel, name, value)| Command::SetVar(SetVar {
            channel,
            name,
            value
        })),
        (handle(), prop::collection::vec(text(), 0..3)).prop_map(|(playback, media)| {
            Command::Play(Play {
                playback,
                target: Target::Channel(CALLER.into()),
                media,
            })
        }),
        (
            handle(),
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(any::<i32>())
        )
            .prop_map(|(channel, context, extension, priority)| {
                Command::ContinueInDialplan(ContinueInDialplan {
                    channel,
                    context,
                    extension,
                    priority,
                })
            }),
        handle().prop_map(|leg| Command::Dial(Dial {
            leg,
            caller: None,
            timeout_s: 30
        })),
        handle().prop_map(|bridge| Command::BridgeCreate(BridgeCreate {
            bridge,
            kind: BridgeKind::Mixing
        })),
        (handle(), handle()).prop_map(|(bridge, c)| Command::BridgeAdd(BridgeMembers {
            bridge,
            channels: vec![c]
        })),
        (handle(), any::<u8>())
            .prop_map(|(channel, cause)| Command::Hangup(HangupChannel { channel, cause })),
        (text(), any::<u32>()).prop_map(|(name, ms)| Command::StartTimer(Timer { name, ms })),
    ]
}

/// The blunt rules: what no accepted command may carry, whatever the checker's reasons.
fn within_capabilities(command: &Command) -> Result<(), String> {
    let control = |s: &str| s.chars().any(char::is_control);
    match command {
        Command::Create(c) => {
            let e = &c.endpoint;
            let ok_prefix = e.starts_with("PJSIP/alice")
                || (e.starts_with("PJSIP/") && e.ends_with("@trunk1"))
                || (e.starts_with("Local/") && e.ends_with("@from-router"));
            if !ok_prefix
                || e.contains(['&', ',', ' ', '$'])
                || control(e)
                || e.contains("sip:")
                || e.matches('@').count() > 1
                || e.matches('/').count() != 1
            {
                return Err(format!("endpoint {e:?}"));
            }
            if c.leg.contains('.') || c.leg.is_empty() {
                return Err(format!("handle {:?}", c.leg));
            }
        }
        Command::SetVar(v) => {
            let upper = v.name.to_ascii_uppercase();
            // A function is what comes before `(`; a plain variable named GLOBAL is harmless.
            let function = upper.split_once('(').map(|(f, _)| f).unwrap_or_default();
            let denied = [
                "GLOBAL",
                "DB",
                "SHARED",
                "MASTER_CHANNEL",
                "DEVICE_STATE",
                "SHELL",
            ];
            if denied.contains(&function)
                || (function == "CHANNEL" && upper.contains("HANGUP_HANDLER"))
                || control(&v.name)
                || control(&v.value)
                || v.name.contains(['$', '{', ' ', '='])
            {
                return Err(format!("variable {:?} = {:?}", v.name, v.value));
            }
            if v.channel == CALLER && function == "CALLERID" {
                return Err("the caller's own caller ID".into());
            }
        }
        Command::Play(p) => {
            for m in &p.media {
                let ok = m.starts_with("sound:") || m.starts_with("recording:acme/");
                if !ok || m.contains(',') || m.contains("..") || m.contains(":/") || control(m) {
                    return Err(format!("media {m:?}"));
                }
            }
        }
        Command::ContinueInDialplan(c) => {
            match (&c.context, c.channel == CALLER) {
                (Some(context), _) if !(context.starts_with("acme-") || context == "from-sipp") => {
                    return Err(format!("context {context:?}"));
                }
                (None, false) => return Err("a created leg into its own context".into()),
                _ => {}
            }
            if c.context
                .iter()
                .chain(&c.extension)
                .any(|s| control(s) || s.contains([',', ' ']))
                || c.priority.is_some_and(|p| p < 1)
            {
                return Err(format!("location {c:?}"));
            }
        }
        Command::StartTimer(t) if control(&t.name) || t.name.is_empty() => {
            return Err(format!("timer {:?}", t.name));
        }
        _ => {}
    }
    Ok(())
}

fn caller_call() -> CallRecord {
    let mut call = CallRecord::new("r1.1".into(), "acme", "pbx", "acme", vec![]);
    let mut model = callwasm::ari::models::Channel {
        id: "1.1".into(),
        name: "PJSIP/sipp-00000001".into(),
        state: "Ring".into(),
        ..Default::default()
    };
    model.dialplan.context = "from-sipp".into();
    model.dialplan.exten = "100".into();
    model.dialplan.priority = 1;
    call.legs
        .insert(CALLER.into(), Box::new(Leg::inbound(model)));
    call
}

/// Replies the checker accepted in this run.
static ACCEPTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 4000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn nothing_outside_the_capabilities_passes(commands in prop::collection::vec(command(), 1..6)) {
        let config = Config::parse(TENANT).expect("config");
        let capabilities = config.tenants["acme"].capabilities().expect("capabilities");
        let call = caller_call();
        if check(&call, &capabilities, &commands).is_ok() {
            ACCEPTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            for c in &commands {
                prop_assert!(within_capabilities(c).is_ok(), "accepted {c:?}: {:?}", within_capabilities(c));
            }
        }
    }
}

/// Prints how many random replies were accepted (the property is not vacuous when some are).
#[test]
fn zz_report() {
    eprintln!(
        "accepted so far: {}",
        ACCEPTED.load(std::sync::atomic::Ordering::Relaxed)
    );
}

/// The generator does reach accepted replies: the property is not vacuous.
#[test]
fn accepted_replies_exist() {
    let config = Config::parse(TENANT).expect("config");
    let capabilities = config.tenants["acme"].capabilities().expect("capabilities");
    let commands = vec![
        Command::Create(Create {
            leg: "leg".into(),
            endpoint: "PJSIP/+15551234@trunk1".into(),
            caller_id: CallerId::PassThrough,
            formats: None,
            originator: None,
        }),
        Command::SetVar(SetVar {
            channel: "leg".into(),
            name: "CALLERID(num)".into(),
            value: "5551000".into(),
        }),
        Command::Play(Play {
            playback: "p1".into(),
            target: Target::Channel(CALLER.into()),
            media: vec!["sound:beep".into(), "recording:acme/hello".into()],
        }),
        Command::ContinueInDialplan(ContinueInDialplan {
            channel: CALLER.into(),
            context: None,
            extension: Some("s".into()),
            priority: Some(1),
        }),
    ];
    assert_eq!(check(&caller_call(), &capabilities, &commands), Ok(()));
    for c in &commands {
        assert_eq!(within_capabilities(c), Ok(()));
    }
}
