//! Checks a plugin's reply before anything of it is sent to Asterisk: every handle must name
//! a channel or bridge of this call (or one created earlier in the same reply), handles must be
//! well-formed, and endpoints must be on the tenant's allow-list. A refused reply sends nothing
//! and counts as a plugin failure. (Caps on commands, reply and state bytes are applied by the
//! runtime as the reply is read.)

use super::call::{CALLER, CallRecord, valid_handle};
use super::tenant::Tenant;
use crate::runtime::{Command, Target};
use std::collections::BTreeSet;

/// Why a reply was refused: the command's index and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("command {index} ({command}): {reason}")]
pub struct Refusal {
    pub index: usize,
    pub command: &'static str,
    pub reason: String,
}

/// The command's name as the contract spells it.
pub fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Create(_) => "create",
        Command::SetVar(_) => "set-var",
        Command::Dial(_) => "dial",
        Command::Answer(_) => "answer",
        Command::Ring(_) => "ring",
        Command::Progress(_) => "progress",
        Command::Hangup(_) => "hangup",
        Command::BridgeCreate(_) => "bridge-create",
        Command::BridgeAdd(_) => "bridge-add",
        Command::BridgeRemove(_) => "bridge-remove",
        Command::BridgeDestroy(_) => "bridge-destroy",
        Command::Play(_) => "play",
        Command::StopPlayback(_) => "stop-playback",
        Command::StartMoh(_) => "start-moh",
        Command::StopMoh(_) => "stop-moh",
        Command::ContinueInDialplan(_) => "continue-in-dialplan",
        Command::StartTimer(_) => "start-timer",
        Command::CancelTimer(_) => "cancel-timer",
    }
}

/// Checks every command of a reply against the call and the tenant.
pub fn check(call: &CallRecord, tenant: &Tenant, commands: &[Command]) -> Result<(), Refusal> {
    let mut channels: BTreeSet<&str> = call.legs.keys().map(String::as_str).collect();
    let mut bridges: BTreeSet<&str> = call.bridges.keys().map(String::as_str).collect();
    for (index, command) in commands.iter().enumerate() {
        let refuse = |reason: String| Refusal {
            index,
            command: command_name(command),
            reason,
        };
        let channel = |h: &str| -> Result<(), Refusal> {
            if channels.contains(h) {
                Ok(())
            } else {
                Err(refuse(format!("no channel {h:?} in this call")))
            }
        };
        let bridge = |h: &str| -> Result<(), Refusal> {
            if bridges.contains(h) {
                Ok(())
            } else {
                Err(refuse(format!("no bridge {h:?} in this call")))
            }
        };
        match command {
            Command::Create(c) => {
                if !valid_handle(&c.leg) || c.leg == CALLER {
                    return Err(refuse(format!("{:?} cannot name a new channel", c.leg)));
                }
                if channels.contains(c.leg.as_str()) {
                    return Err(refuse(format!("channel {:?} already exists", c.leg)));
                }
                if !tenant.allows_endpoint(&c.endpoint) {
                    return Err(refuse(format!(
                        "endpoint {:?} is not on the tenant's allow-list",
                        c.endpoint
                    )));
                }
                if let Some(o) = &c.originator {
                    channel(o)?;
                }
                channels.insert(&c.leg);
            }
            Command::SetVar(v) => {
                channel(&v.channel)?;
                if v.name.is_empty() {
                    return Err(refuse("empty variable name".into()));
                }
            }
            Command::Dial(d) => {
                channel(&d.leg)?;
                if let Some(c) = &d.caller {
                    channel(c)?;
                }
            }
            Command::Answer(h) | Command::Ring(h) | Command::Progress(h) | Command::StopMoh(h) => {
                channel(h)?
            }
            Command::Hangup(h) => channel(&h.channel)?,
            Command::StartMoh(m) => channel(&m.channel)?,
            Command::ContinueInDialplan(c) => {
                channel(&c.channel)?;
                if let Some(context) = &c.context
                    && !tenant.allows_context(context)
                {
                    return Err(refuse(format!(
                        "context {context:?} is not on the tenant's list of dialplan contexts"
                    )));
                }
            }
            Command::BridgeCreate(b) => {
                if !valid_handle(&b.bridge) {
                    return Err(refuse(format!("{:?} cannot name a bridge", b.bridge)));
                }
                if bridges.contains(b.bridge.as_str()) {
                    return Err(refuse(format!("bridge {:?} already exists", b.bridge)));
                }
                bridges.insert(&b.bridge);
            }
            Command::BridgeAdd(m) | Command::BridgeRemove(m) => {
                bridge(&m.bridge)?;
                if m.channels.is_empty() {
                    return Err(refuse("no channels named".into()));
                }
                for c in &m.channels {
                    channel(c)?;
                }
            }
            Command::BridgeDestroy(b) => bridge(b)?,
            Command::Play(p) => {
                if !valid_handle(&p.playback) {
                    return Err(refuse(format!("{:?} cannot name a playback", p.playback)));
                }
                match &p.target {
                    Target::Channel(c) => channel(c)?,
                    Target::Bridge(b) => bridge(b)?,
                }
                if p.media.is_empty() {
                    return Err(refuse("no media to play".into()));
                }
                if let Some(uri) = p.media.iter().find(|m| !tenant.allows_media(m)) {
                    return Err(refuse(format!(
                        "media {uri:?} is not allowed for the tenant"
                    )));
                }
            }
            Command::StopPlayback(p) => {
                if !valid_handle(p) {
                    return Err(refuse(format!("{p:?} cannot name a playback")));
                }
            }
            Command::StartTimer(t) => {
                if t.name.is_empty() || t.name.len() > 64 {
                    return Err(refuse("a timer's name is 1–64 bytes".into()));
                }
            }
            Command::CancelTimer(_) => {}
        }
    }
    Ok(())
}
