//! The command builder: a reply reads like the call flow it carries out.

use crate::{
    BridgeCreate, BridgeKind, BridgeMembers, CallerId, Command, ContinueInDialplan, Create, Dial,
    HangupChannel, Moh, Play, SetVar, Target, Timer,
};

/// The commands a plugin answers an event with, carried out in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reply {
    commands: Vec<Command>,
}

fn handles(list: &[&str]) -> Vec<String> {
    list.iter().map(|h| h.to_string()).collect()
}

impl Reply {
    /// An empty reply: nothing to do.
    pub fn new() -> Self {
        Self::default()
    }

    /// The commands so far.
    pub fn commands(&self) -> &[Command] {
        &self.commands
    }

    /// Consumes the reply into its commands.
    pub fn into_commands(self) -> Vec<Command> {
        self.commands
    }

    /// Appends any command.
    pub fn push(&mut self, command: Command) -> &mut Self {
        self.commands.push(command);
        self
    }

    /// Creates an outgoing leg to `endpoint` without dialing it; the callee will see `caller_id`.
    pub fn create(&mut self, leg: &str, endpoint: &str, caller_id: CallerId) -> &mut Self {
        self.push(Command::Create(Create {
            leg: leg.into(),
            endpoint: endpoint.into(),
            caller_id,
            formats: None,
            originator: None,
        }))
    }

    /// Sets a channel variable (or function, such as `PJSIP_HEADER(add,X-Foo)`).
    pub fn set_var(&mut self, channel: &str, name: &str, value: &str) -> &mut Self {
        self.push(Command::SetVar(SetVar {
            channel: channel.into(),
            name: name.into(),
            value: value.into(),
        }))
    }

    /// Dials a created leg on behalf of `caller`, ringing at most `timeout_s` seconds.
    pub fn dial(&mut self, leg: &str, caller: Option<&str>, timeout_s: u32) -> &mut Self {
        self.push(Command::Dial(Dial {
            leg: leg.into(),
            caller: caller.map(Into::into),
            timeout_s,
        }))
    }

    /// Answers a channel.
    pub fn answer(&mut self, channel: &str) -> &mut Self {
        self.push(Command::Answer(channel.into()))
    }

    /// Sends ringing to a channel.
    pub fn ring(&mut self, channel: &str) -> &mut Self {
        self.push(Command::Ring(channel.into()))
    }

    /// Sends progress (early media) to a channel.
    pub fn progress(&mut self, channel: &str) -> &mut Self {
        self.push(Command::Progress(channel.into()))
    }

    /// Hangs a channel up with a Q.850 cause (see [`crate::cause`]).
    pub fn hangup(&mut self, channel: &str, cause: u8) -> &mut Self {
        self.push(Command::Hangup(HangupChannel {
            channel: channel.into(),
            cause,
        }))
    }

    /// Creates a bridge.
    pub fn bridge_create(&mut self, bridge: &str, kind: BridgeKind) -> &mut Self {
        self.push(Command::BridgeCreate(BridgeCreate {
            bridge: bridge.into(),
            kind,
        }))
    }

    /// Adds channels to a bridge.
    pub fn bridge_add(&mut self, bridge: &str, channels: &[&str]) -> &mut Self {
        self.push(Command::BridgeAdd(BridgeMembers {
            bridge: bridge.into(),
            channels: handles(channels),
        }))
    }

    /// Removes channels from a bridge.
    pub fn bridge_remove(&mut self, bridge: &str, channels: &[&str]) -> &mut Self {
        self.push(Command::BridgeRemove(BridgeMembers {
            bridge: bridge.into(),
            channels: handles(channels),
        }))
    }

    /// Destroys a bridge.
    pub fn bridge_destroy(&mut self, bridge: &str) -> &mut Self {
        self.push(Command::BridgeDestroy(bridge.into()))
    }

    /// Plays media URIs in turn to a channel or a bridge.
    pub fn play<'a>(
        &mut self,
        playback: &str,
        target: Target,
        media: impl IntoIterator<Item = &'a str>,
    ) -> &mut Self {
        self.push(Command::Play(Play {
            playback: playback.into(),
            target,
            media: media.into_iter().map(Into::into).collect(),
        }))
    }

    /// Stops a playback.
    pub fn stop_playback(&mut self, playback: &str) -> &mut Self {
        self.push(Command::StopPlayback(playback.into()))
    }

    /// Starts music on hold on a channel.
    pub fn start_moh(&mut self, channel: &str, class: Option<&str>) -> &mut Self {
        self.push(Command::StartMoh(Moh {
            channel: channel.into(),
            class: class.map(Into::into),
        }))
    }

    /// Stops music on hold on a channel.
    pub fn stop_moh(&mut self, channel: &str) -> &mut Self {
        self.push(Command::StopMoh(channel.into()))
    }

    /// Hands a channel back to the dialplan at `context,extension,priority`.
    pub fn continue_in_dialplan(
        &mut self,
        channel: &str,
        context: Option<&str>,
        extension: Option<&str>,
        priority: Option<i32>,
    ) -> &mut Self {
        self.push(Command::ContinueInDialplan(ContinueInDialplan {
            channel: channel.into(),
            context: context.map(Into::into),
            extension: extension.map(Into::into),
            priority,
        }))
    }

    /// Starts (or restarts) a named timer; a `timer` event follows after `ms`.
    pub fn start_timer(&mut self, name: &str, ms: u32) -> &mut Self {
        self.push(Command::StartTimer(Timer {
            name: name.into(),
            ms,
        }))
    }

    /// Cancels a named timer.
    pub fn cancel_timer(&mut self, name: &str) -> &mut Self {
        self.push(Command::CancelTimer(name.into()))
    }
}
