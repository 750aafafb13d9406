//! The command builder: a reply reads like the call flow it carries out.

use crate::{
    BridgeCreate, BridgeKind, BridgeMembers, CallerId, Command, ContinueInDialplan, Create, Dial,
    HangupChannel, Moh, Play, SetVar, Target, Timer,
};

/// The commands a plugin answers an event with, carried out in order.
///
/// Each method appends one command and returns the reply, so a whole call flow reads as one
/// chain. The create / bridge / dial flow of Asterisk 14, in one reply:
///
/// ```
/// # use callwasm_sdk::{BridgeKind, CallerId, Reply, CALLER};
/// let mut reply = Reply::new();
/// reply
///     .create("agent", "PJSIP/alice", CallerId::PassThrough)
///     .set_var("agent", "X_TENANT", "acme")
///     .bridge_create("b1", BridgeKind::Mixing)
///     .bridge_add("b1", &[CALLER, "agent"])
///     .dial("agent", Some(CALLER), 30);
/// assert_eq!(reply.commands().len(), 5);
/// ```
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reply {
    commands: Vec<Command>,
}

fn handles(list: &[&str]) -> Vec<String> {
    list.iter().map(|h| h.to_string()).collect()
}

impl Reply {
    /// An empty reply: nothing to do.
    ///
    /// ```
    /// # use callwasm_sdk::Reply;
    /// assert!(Reply::new().commands().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The commands so far.
    ///
    /// ```
    /// # use callwasm_sdk::{Command, Reply, CALLER};
    /// let mut reply = Reply::new();
    /// reply.answer(CALLER);
    /// assert_eq!(reply.commands(), &[Command::Answer("caller".into())]);
    /// ```
    pub fn commands(&self) -> &[Command] {
        &self.commands
    }

    /// Consumes the reply into its commands.
    ///
    /// ```
    /// # use callwasm_sdk::{Command, Reply, CALLER};
    /// let mut reply = Reply::new();
    /// reply.ring(CALLER);
    /// assert_eq!(reply.into_commands(), vec![Command::Ring("caller".into())]);
    /// ```
    pub fn into_commands(self) -> Vec<Command> {
        self.commands
    }

    /// Appends any command.
    ///
    /// ```
    /// # use callwasm_sdk::{Command, Reply};
    /// let mut reply = Reply::new();
    /// reply.push(Command::StopMoh("caller".into()));
    /// assert_eq!(reply.commands().len(), 1);
    /// ```
    pub fn push(&mut self, command: Command) -> &mut Self {
        self.commands.push(command);
        self
    }

    /// Creates an outgoing leg to `endpoint` without dialing it; the callee will see `caller_id`.
    ///
    /// ```
    /// # use callwasm_sdk::{CallerId, Command, Party, Reply};
    /// let mut reply = Reply::new();
    /// reply.create("agent", "PJSIP/alice", CallerId::Given(Party::new("Support", "5551000")));
    /// let Command::Create(create) = &reply.commands()[0] else { panic!() };
    /// assert_eq!((create.leg.as_str(), create.endpoint.as_str()), ("agent", "PJSIP/alice"));
    /// ```
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
    ///
    /// ```
    /// # use callwasm_sdk::{Command, Reply, SetVar};
    /// let mut reply = Reply::new();
    /// reply.set_var("agent", "PJSIP_HEADER(add,X-Tenant)", "acme");
    /// assert_eq!(
    ///     reply.commands(),
    ///     &[Command::SetVar(SetVar {
    ///         channel: "agent".into(),
    ///         name: "PJSIP_HEADER(add,X-Tenant)".into(),
    ///         value: "acme".into(),
    ///     })]
    /// );
    /// ```
    pub fn set_var(&mut self, channel: &str, name: &str, value: &str) -> &mut Self {
        self.push(Command::SetVar(SetVar {
            channel: channel.into(),
            name: name.into(),
            value: value.into(),
        }))
    }

    /// Dials a created leg on behalf of `caller`, ringing at most `timeout_s` seconds.
    ///
    /// ```
    /// # use callwasm_sdk::{Command, Dial, Reply, CALLER};
    /// let mut reply = Reply::new();
    /// reply.dial("agent", Some(CALLER), 30);
    /// assert_eq!(
    ///     reply.commands(),
    ///     &[Command::Dial(Dial { leg: "agent".into(), caller: Some("caller".into()), timeout_s: 30 })]
    /// );
    /// ```
    pub fn dial(&mut self, leg: &str, caller: Option<&str>, timeout_s: u32) -> &mut Self {
        self.push(Command::Dial(Dial {
            leg: leg.into(),
            caller: caller.map(Into::into),
            timeout_s,
        }))
    }

    /// Answers a channel.
    ///
    /// ```
    /// # use callwasm_sdk::{Command, Reply, CALLER};
    /// assert_eq!(Reply::new().answer(CALLER).commands(), &[Command::Answer("caller".into())]);
    /// ```
    pub fn answer(&mut self, channel: &str) -> &mut Self {
        self.push(Command::Answer(channel.into()))
    }

    /// Sends ringing to a channel.
    ///
    /// ```
    /// # use callwasm_sdk::{Command, Reply, CALLER};
    /// assert_eq!(Reply::new().ring(CALLER).commands(), &[Command::Ring("caller".into())]);
    /// ```
    pub fn ring(&mut self, channel: &str) -> &mut Self {
        self.push(Command::Ring(channel.into()))
    }

    /// Sends progress (early media) to a channel.
    ///
    /// ```
    /// # use callwasm_sdk::{Command, Reply, CALLER};
    /// assert_eq!(Reply::new().progress(CALLER).commands(), &[Command::Progress("caller".into())]);
    /// ```
    pub fn progress(&mut self, channel: &str) -> &mut Self {
        self.push(Command::Progress(channel.into()))
    }

    /// Hangs a channel up with a Q.850 cause (see [`crate::cause`]).
    ///
    /// ```
    /// # use callwasm_sdk::{cause, Command, HangupChannel, Reply, CALLER};
    /// let mut reply = Reply::new();
    /// reply.hangup(CALLER, cause::BUSY);
    /// assert_eq!(
    ///     reply.commands(),
    ///     &[Command::Hangup(HangupChannel { channel: "caller".into(), cause: 17 })]
    /// );
    /// ```
    pub fn hangup(&mut self, channel: &str, cause: u8) -> &mut Self {
        self.push(Command::Hangup(HangupChannel {
            channel: channel.into(),
            cause,
        }))
    }

    /// Creates a bridge.
    ///
    /// ```
    /// # use callwasm_sdk::{BridgeCreate, BridgeKind, Command, Reply};
    /// let mut reply = Reply::new();
    /// reply.bridge_create("b1", BridgeKind::Mixing);
    /// assert_eq!(
    ///     reply.commands(),
    ///     &[Command::BridgeCreate(BridgeCreate { bridge: "b1".into(), kind: BridgeKind::Mixing })]
    /// );
    /// ```
    pub fn bridge_create(&mut self, bridge: &str, kind: BridgeKind) -> &mut Self {
        self.push(Command::BridgeCreate(BridgeCreate {
            bridge: bridge.into(),
            kind,
        }))
    }

    /// Adds channels to a bridge.
    ///
    /// Adding the caller and a created leg before dialing it is early bridging: the caller
    /// hears the leg's ringing and early media.
    ///
    /// ```
    /// # use callwasm_sdk::{BridgeMembers, Command, Reply, CALLER};
    /// let mut reply = Reply::new();
    /// reply.bridge_add("b1", &[CALLER, "agent"]);
    /// assert_eq!(
    ///     reply.commands(),
    ///     &[Command::BridgeAdd(BridgeMembers {
    ///         bridge: "b1".into(),
    ///         channels: vec!["caller".into(), "agent".into()],
    ///     })]
    /// );
    /// ```
    pub fn bridge_add(&mut self, bridge: &str, channels: &[&str]) -> &mut Self {
        self.push(Command::BridgeAdd(BridgeMembers {
            bridge: bridge.into(),
            channels: handles(channels),
        }))
    }

    /// Removes channels from a bridge.
    ///
    /// ```
    /// # use callwasm_sdk::{BridgeMembers, Command, Reply};
    /// let mut reply = Reply::new();
    /// reply.bridge_remove("b1", &["agent"]);
    /// assert_eq!(
    ///     reply.commands(),
    ///     &[Command::BridgeRemove(BridgeMembers { bridge: "b1".into(), channels: vec!["agent".into()] })]
    /// );
    /// ```
    pub fn bridge_remove(&mut self, bridge: &str, channels: &[&str]) -> &mut Self {
        self.push(Command::BridgeRemove(BridgeMembers {
            bridge: bridge.into(),
            channels: handles(channels),
        }))
    }

    /// Destroys a bridge.
    ///
    /// ```
    /// # use callwasm_sdk::{Command, Reply};
    /// assert_eq!(Reply::new().bridge_destroy("b1").commands(), &[Command::BridgeDestroy("b1".into())]);
    /// ```
    pub fn bridge_destroy(&mut self, bridge: &str) -> &mut Self {
        self.push(Command::BridgeDestroy(bridge.into()))
    }

    /// Plays media URIs in turn to a channel or a bridge.
    ///
    /// ```
    /// # use callwasm_sdk::{Command, Play, Reply, Target, CALLER};
    /// let mut reply = Reply::new();
    /// reply.play("prompt", Target::Channel(CALLER.into()), ["sound:vm-nobodyavail"]);
    /// assert_eq!(
    ///     reply.commands(),
    ///     &[Command::Play(Play {
    ///         playback: "prompt".into(),
    ///         target: Target::Channel("caller".into()),
    ///         media: vec!["sound:vm-nobodyavail".into()],
    ///     })]
    /// );
    /// ```
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
    ///
    /// ```
    /// # use callwasm_sdk::{Command, Reply};
    /// assert_eq!(Reply::new().stop_playback("prompt").commands(), &[Command::StopPlayback("prompt".into())]);
    /// ```
    pub fn stop_playback(&mut self, playback: &str) -> &mut Self {
        self.push(Command::StopPlayback(playback.into()))
    }

    /// Starts music on hold on a channel.
    ///
    /// `class` is a music-on-hold class of musiconhold.conf; `None` is the channel's default.
    ///
    /// ```
    /// # use callwasm_sdk::{Command, Moh, Reply, CALLER};
    /// let mut reply = Reply::new();
    /// reply.start_moh(CALLER, None);
    /// assert_eq!(reply.commands(), &[Command::StartMoh(Moh { channel: "caller".into(), class: None })]);
    /// ```
    pub fn start_moh(&mut self, channel: &str, class: Option<&str>) -> &mut Self {
        self.push(Command::StartMoh(Moh {
            channel: channel.into(),
            class: class.map(Into::into),
        }))
    }

    /// Stops music on hold on a channel.
    ///
    /// ```
    /// # use callwasm_sdk::{Command, Reply, CALLER};
    /// assert_eq!(Reply::new().stop_moh(CALLER).commands(), &[Command::StopMoh("caller".into())]);
    /// ```
    pub fn stop_moh(&mut self, channel: &str) -> &mut Self {
        self.push(Command::StopMoh(channel.into()))
    }

    /// Hands a channel back to the dialplan at `context,extension,priority`.
    ///
    /// `None` parts keep the channel's own; the router allows only the tenant's contexts.
    ///
    /// ```
    /// # use callwasm_sdk::{Command, ContinueInDialplan, Reply, CALLER};
    /// let mut reply = Reply::new();
    /// reply.continue_in_dialplan(CALLER, None, Some("voicemail"), Some(1));
    /// assert_eq!(
    ///     reply.commands(),
    ///     &[Command::ContinueInDialplan(ContinueInDialplan {
    ///         channel: "caller".into(),
    ///         context: None,
    ///         extension: Some("voicemail".into()),
    ///         priority: Some(1),
    ///     })]
    /// );
    /// ```
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
    ///
    /// ```
    /// # use callwasm_sdk::{Command, Reply, Timer};
    /// let mut reply = Reply::new();
    /// reply.start_timer("give-up", 20_000);
    /// assert_eq!(reply.commands(), &[Command::StartTimer(Timer { name: "give-up".into(), ms: 20_000 })]);
    /// ```
    pub fn start_timer(&mut self, name: &str, ms: u32) -> &mut Self {
        self.push(Command::StartTimer(Timer {
            name: name.into(),
            ms,
        }))
    }

    /// Cancels a named timer.
    ///
    /// ```
    /// # use callwasm_sdk::{Command, Reply};
    /// assert_eq!(Reply::new().cancel_timer("give-up").commands(), &[Command::CancelTimer("give-up".into())]);
    /// ```
    pub fn cancel_timer(&mut self, name: &str) -> &mut Self {
        self.push(Command::CancelTimer(name.into()))
    }
}
