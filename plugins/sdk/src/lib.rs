//! The crate Rust plugin authors depend on to write a callwasm routing plugin.
//!
//! A plugin implements [`Plugin`]: it gets one event of one call, what the router knows of the
//! call and its own typed state, and fills a [`Reply`] with the commands the router carries out
//! against Asterisk, in order. [`export_plugin!`] turns that into a WebAssembly component of the
//! `callwasm:router/router-plugin` world (build with `--target wasm32-wasip2`).
//!
//! ```
//! use callwasm_sdk::prelude::*;
//!
//! struct Hello;
//! impl Plugin for Hello {
//!     type State = ();
//!     fn handle(event: Event, _call: &Call, _state: &mut ()) -> Result<Reply, String> {
//!         let mut reply = Reply::new();
//!         if let Event::Started = event {
//!             reply.answer(CALLER).play("hello", Target::Channel(CALLER.into()), ["sound:hello-world"]);
//!         }
//!         Ok(reply)
//!     }
//! }
//! callwasm_sdk::export_plugin!(Hello);
//! ```

#![deny(missing_docs)]

// The generated bindings name their runtime as `callwasm_sdk::…` so that plugin crates need
// no wit-bindgen of their own; inside this crate that path must resolve too.
extern crate self as callwasm_sdk;

mod reply;

pub use reply::Reply;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "router-plugin",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "__export_router_plugin",
        default_bindings_module: "callwasm_sdk::bindings",
        runtime_path: "callwasm_sdk::__wit_bindgen_rt",
        additional_derives: [PartialEq, Eq, Clone],
    });
}

#[doc(hidden)]
pub use wit_bindgen::rt as __wit_bindgen_rt;

pub use bindings::callwasm::router::host::Level;
pub use bindings::callwasm::router::types::{
    Bridge, BridgeCreate, BridgeKind, BridgeMembers, BridgeMove, Call, CallerId, Channel,
    ChannelState, Command, ContinueInDialplan, Create, Dial, DialOutcome, DialStatus,
    DialplanLocation, Dtmf, Event, EventKind, Failure, Hangup, HangupChannel, Moh, Party, Play,
    PlaybackEnd, PlaybackStatus, SetVar, Target, Timer,
};

/// The handle of the call's inbound channel.
pub const CALLER: &str = "caller";

/// Q.850 cause codes a plugin commonly hangs up with.
pub mod cause {
    /// Normal call clearing.
    pub const NORMAL: u8 = 16;
    /// User busy.
    pub const BUSY: u8 = 17;
    /// No user responding.
    pub const NO_RESPONSE: u8 = 18;
    /// No answer from the user (alerted, nobody picked up).
    pub const NO_ANSWER: u8 = 19;
    /// Subscriber absent (the endpoint is unreachable).
    pub const UNAVAILABLE: u8 = 20;
    /// Call rejected.
    pub const REJECTED: u8 = 21;
    /// Non-selected user clearing: another leg of a hunt group answered first.
    pub const ANSWERED_ELSEWHERE: u8 = 26;
    /// No circuit or channel available.
    pub const CONGESTION: u8 = 34;
    /// Temporary failure.
    pub const TEMPORARY_FAILURE: u8 = 41;
}

/// A routing plugin: one event in, commands out.
pub trait Plugin {
    /// What the plugin remembers between the events of a call. The router keeps it as bytes
    /// (JSON) and hands it back with the next event; it starts as `Default`.
    type State: serde::Serialize + serde::de::DeserializeOwned + Default;

    /// Handle one event. An `Err` applies the tenant's failure policy to this call.
    fn handle(event: Event, call: &Call, state: &mut Self::State) -> Result<Reply, String>;

    /// The kinds of event the plugin wants (`started` always comes). Every kind unless the
    /// plugin says otherwise; naming only those it acts on spares the router an instance per
    /// event it would ignore.
    fn interests() -> Vec<EventKind> {
        ALL_EVENTS.to_vec()
    }
}

/// Every kind of event.
pub const ALL_EVENTS: &[EventKind] = &[
    EventKind::Started,
    EventKind::StateChanged,
    EventKind::DialStatus,
    EventKind::HungUp,
    EventKind::Left,
    EventKind::EnteredBridge,
    EventKind::LeftBridge,
    EventKind::Dtmf,
    EventKind::PlaybackFinished,
    EventKind::Timer,
    EventKind::CommandFailed,
];

/// One of the tenant's plugin settings, from the router's config.
///
/// ```no_run
/// let timeout: u32 = callwasm_sdk::setting("ring_timeout_s")
///     .and_then(|s| s.parse().ok())
///     .unwrap_or(20);
/// ```
pub fn setting(key: &str) -> Option<String> {
    bindings::callwasm::router::host::setting(key)
}

/// Write a line to the router's log, tagged with the tenant and the call.
///
/// ```no_run
/// callwasm_sdk::log(callwasm_sdk::Level::Info, "no agent free: playing the prompt");
/// ```
pub fn log(level: Level, message: &str) {
    bindings::callwasm::router::host::log(level, message)
}

impl Call {
    /// The call's channel with this handle, if it is still there.
    ///
    /// ```
    /// # use callwasm_sdk::{Bridge, BridgeKind, Call, Channel, ChannelState, Party};
    /// let call = Call {
    ///     id: "1732760000.42".into(),
    ///     tenant: "acme".into(),
    ///     args: vec![],
    ///     channels: vec![Channel {
    ///         handle: "caller".into(),
    ///         name: "PJSIP/5550100-00000001".into(),
    ///         state: ChannelState::Ring,
    ///         caller: Party::new("Alice", "5550100"),
    ///         connected: Party::new("", ""),
    ///         dialplan: None,
    ///     }],
    ///     bridges: vec![Bridge { handle: "b1".into(), kind: BridgeKind::Mixing, channels: vec![] }],
    ///     state: vec![],
    ///     now_ms: 0,
    /// };
    /// assert_eq!(call.channel("caller").map(|c| c.caller.number.as_str()), Some("5550100"));
    /// assert!(call.channel("agent").is_none());
    /// ```
    pub fn channel(&self, handle: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.handle == handle)
    }

    /// Whether the call still has a channel with this handle.
    ///
    /// ```
    /// # use callwasm_sdk::{Bridge, BridgeKind, Call, Channel, ChannelState, Party};
    /// let call = Call {
    ///     id: "1732760000.42".into(),
    ///     tenant: "acme".into(),
    ///     args: vec![],
    ///     channels: vec![Channel {
    ///         handle: "caller".into(),
    ///         name: "PJSIP/5550100-00000001".into(),
    ///         state: ChannelState::Ring,
    ///         caller: Party::new("Alice", "5550100"),
    ///         connected: Party::new("", ""),
    ///         dialplan: None,
    ///     }],
    ///     bridges: vec![Bridge { handle: "b1".into(), kind: BridgeKind::Mixing, channels: vec![] }],
    ///     state: vec![],
    ///     now_ms: 0,
    /// };
    /// assert!(call.has_channel("caller") && !call.has_channel("agent"));
    /// ```
    pub fn has_channel(&self, handle: &str) -> bool {
        self.channel(handle).is_some()
    }

    /// The call's bridge with this handle, if it exists.
    ///
    /// ```
    /// # use callwasm_sdk::{Bridge, BridgeKind, Call, Channel, ChannelState, Party};
    /// let call = Call {
    ///     id: "1732760000.42".into(),
    ///     tenant: "acme".into(),
    ///     args: vec![],
    ///     channels: vec![Channel {
    ///         handle: "caller".into(),
    ///         name: "PJSIP/5550100-00000001".into(),
    ///         state: ChannelState::Ring,
    ///         caller: Party::new("Alice", "5550100"),
    ///         connected: Party::new("", ""),
    ///         dialplan: None,
    ///     }],
    ///     bridges: vec![Bridge { handle: "b1".into(), kind: BridgeKind::Mixing, channels: vec![] }],
    ///     state: vec![],
    ///     now_ms: 0,
    /// };
    /// assert_eq!(call.bridge("b1").map(|b| b.kind), Some(BridgeKind::Mixing));
    /// ```
    pub fn bridge(&self, handle: &str) -> Option<&Bridge> {
        self.bridges.iter().find(|b| b.handle == handle)
    }
}

impl Party {
    /// A caller ID with a name and a number.
    ///
    /// ```
    /// # use callwasm_sdk::Party;
    /// let support = Party::new("Support", "5551000");
    /// assert_eq!((support.name.as_str(), support.number.as_str()), ("Support", "5551000"));
    /// ```
    pub fn new(name: impl Into<String>, number: impl Into<String>) -> Self {
        Party {
            name: name.into(),
            number: number.into(),
        }
    }
}

impl DialStatus {
    /// Whether this status is a leg's outcome (not progress).
    ///
    /// ```
    /// # use callwasm_sdk::DialStatus;
    /// assert!(DialStatus::Busy.is_final() && !DialStatus::Ringing.is_final());
    /// ```
    pub fn is_final(self) -> bool {
        !matches!(self, DialStatus::Ringing | DialStatus::Progress)
    }
}

/// Everything a plugin usually needs, in one import.
pub mod prelude {
    pub use crate::{
        BridgeKind, CALLER, Call, CallerId, Channel, ChannelState, DialStatus, Event, EventKind,
        Level, Party, PlaybackStatus, Plugin, Reply, Target, cause, log, setting,
    };
}

/// Runs `P` for one event: decodes its state, calls it, encodes the new state when it changed.
#[doc(hidden)]
pub fn __dispatch<P: Plugin>(
    event: Event,
    call: Call,
) -> Result<bindings::callwasm::router::types::Reply, String> {
    let mut state: P::State = if call.state.is_empty() {
        P::State::default()
    } else {
        serde_json::from_slice(&call.state).map_err(|e| format!("plugin state unreadable: {e}"))?
    };
    let reply = P::handle(event, &call, &mut state)?;
    let bytes = serde_json::to_vec(&state).map_err(|e| format!("plugin state unwritable: {e}"))?;
    let state = (bytes != call.state).then_some(bytes);
    Ok(bindings::callwasm::router::types::Reply {
        commands: reply.into_commands(),
        state,
    })
}

/// Exports a [`Plugin`] as the component's `call-handler`: use it once, in the crate that
/// builds the component (a `cdylib` built with `--target wasm32-wasip2`).
///
/// ```
/// use callwasm_sdk::prelude::*;
///
/// struct Busy;
/// impl Plugin for Busy {
///     type State = ();
///     fn handle(event: Event, _call: &Call, _state: &mut ()) -> Result<Reply, String> {
///         let mut reply = Reply::new();
///         if let Event::Started = event {
///             reply.hangup(CALLER, cause::BUSY);
///         }
///         Ok(reply)
///     }
///     fn interests() -> Vec<EventKind> {
///         vec![EventKind::Started]
///     }
/// }
/// callwasm_sdk::export_plugin!(Busy);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        struct __CallwasmExport;
                impl $crate::bindings::exports::callwasm::router::call_handler::Guest for __CallwasmExport {
            fn interests() -> ::std::vec::Vec<$crate::EventKind> {
                <$plugin as $crate::Plugin>::interests()
            }
            fn handle(
                event: $crate::Event,
                call: $crate::Call,
            ) -> ::core::result::Result<$crate::bindings::callwasm::router::types::Reply, ::std::string::String>
            {
                $crate::__dispatch::<$plugin>(event, call)
            }
        }
        $crate::bindings::__export_router_plugin!(__CallwasmExport with_types_in $crate::bindings);
    };
}
