//! Checks a plugin's reply before anything of it is sent to Asterisk: every handle must name
//! a channel or bridge of this call (or one created earlier in the same reply), handles must be
//! well-formed, and every string Asterisk will read (endpoints, variables, media, dialplan
//! locations) must parse and be within the tenant's capabilities (crate::capability). A refused reply sends nothing
//! and counts as a plugin failure. (Caps on commands, reply and state bytes are applied by the
//! runtime as the reply is read.)

use super::call::{CALLER, CallRecord, valid_handle};
use super::config::Capabilities;
use crate::capability::dialplan::Location;
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

/// Media URIs in one play.
pub const MAX_MEDIA: usize = 32;

/// Whether a timer's name is usable: it comes back in `timer` events and goes to logs.
fn valid_timer(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && !name.chars().any(char::is_control)
}

/// Checks every command of a reply against the call and the tenant's capabilities.
pub fn check(
    call: &CallRecord,
    capabilities: &Capabilities,
    commands: &[Command],
) -> Result<(), Refusal> {
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
                capabilities.check_endpoint(&c.endpoint).map_err(refuse)?;
                if let Some(formats) = &c.formats
                    && (formats.is_empty()
                        || formats.len() > 128
                        || !formats
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b','))
                {
                    return Err(refuse(format!("{formats:?} is not a list of codecs")));
                }
                if let Some(o) = &c.originator {
                    channel(o)?;
                }
                channels.insert(&c.leg);
            }
            Command::SetVar(v) => {
                channel(&v.channel)?;
                let created = v.channel != CALLER;
                capabilities
                    .variables
                    .check(created, &v.name, &v.value)
                    .map_err(refuse)?;
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
            Command::StartMoh(m) => {
                channel(&m.channel)?;
                if let Some(class) = &m.class
                    && !crate::capability::dialplan::valid_context(class)
                {
                    return Err(refuse(format!("{class:?} is not a music-on-hold class")));
                }
            }
            Command::ContinueInDialplan(c) => {
                channel(&c.channel)?;
                // A channel that entered from the dialplan may go back to its own context; a
                // leg the call created has none.
                let own = call
                    .legs
                    .get(&c.channel)
                    .filter(|leg| !leg.created)
                    .map(|leg| leg.model.dialplan.context.as_str())
                    .filter(|context| !context.is_empty());
                capabilities
                    .contexts
                    .check(
                        own,
                        &Location {
                            context: c.context.as_deref(),
                            extension: c.extension.as_deref(),
                            priority: c.priority,
                        },
                    )
                    .map_err(refuse)?;
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
                if p.media.len() > MAX_MEDIA {
                    return Err(refuse(format!("more than {MAX_MEDIA} media URIs")));
                }
                for uri in &p.media {
                    capabilities.check_media(uri).map_err(refuse)?;
                }
            }
            Command::StopPlayback(p) => {
                if !valid_handle(p) {
                    return Err(refuse(format!("{p:?} cannot name a playback")));
                }
            }
            Command::StartTimer(t) => {
                if !valid_timer(&t.name) {
                    return Err(refuse("a timer's name is 1–64 printable bytes".into()));
                }
            }
            Command::CancelTimer(name) => {
                if !valid_timer(name) {
                    return Err(refuse("a timer's name is 1–64 printable bytes".into()));
                }
            }
        }
    }
    Ok(())
}
