//! early-dial's decision, compiled into the router as plain Rust: what the same routing logic
//! costs without WebAssembly, for the dispatch figures' WASM-to-native ratio. It reads the same
//! settings and builds the same commands as plugins/early-dial's `started`.

use crate::runtime::{
    BridgeCreate, BridgeKind, BridgeMembers, Call, CallerId, Command, Create, Dial, Party, SetVar,
    Settings,
};

/// early-dial's reply to `started`, natively.
pub fn early_dial_started(call: &Call, settings: &Settings) -> Result<Vec<Command>, String> {
    let setting = |k: &str| settings.get(k).cloned();
    let target = call
        .args
        .first()
        .filter(|a| !a.is_empty())
        .cloned()
        .or_else(|| {
            call.channels
                .iter()
                .find(|c| c.handle == "caller")
                .and_then(|c| c.dialplan.as_ref())
                .map(|d| d.extension.clone())
        })
        .ok_or("no target: the call has no Stasis argument and no dialed extension")?;
    let endpoint = setting(&format!("route.{target}")).unwrap_or_else(|| {
        setting("endpoint")
            .unwrap_or_else(|| "PJSIP/{target}".to_string())
            .replace("{target}", &target)
    });
    let caller_id = match setting("caller_id_number") {
        Some(number) => CallerId::Given(Party {
            name: setting("caller_id_name").unwrap_or_default(),
            number,
        }),
        None => CallerId::PassThrough,
    };
    let timeout_s = match setting("dial_timeout") {
        Some(t) => t
            .trim()
            .parse::<u32>()
            .map_err(|_| format!("setting dial_timeout: expected seconds, got {t:?}"))?,
        None => 30,
    };
    let mut commands = vec![Command::Create(Create {
        leg: "agent".into(),
        endpoint,
        caller_id,
        formats: None,
        originator: None,
    })];
    for entry in setting("vars").unwrap_or_default().split(';') {
        if entry.trim().is_empty() {
            continue;
        }
        let (name, value) = entry.split_once('=').unwrap_or((entry, ""));
        commands.push(Command::SetVar(SetVar {
            channel: "agent".into(),
            name: name.trim().into(),
            value: value.into(),
        }));
    }
    commands.push(Command::BridgeCreate(BridgeCreate {
        bridge: "b1".into(),
        kind: BridgeKind::Mixing,
    }));
    commands.push(Command::BridgeAdd(BridgeMembers {
        bridge: "b1".into(),
        channels: vec!["caller".into(), "agent".into()],
    }));
    commands.push(Command::Dial(Dial {
        leg: "agent".into(),
        caller: Some("caller".into()),
        timeout_s,
    }));
    Ok(commands)
}
