//! The plugin runtime: a narrow wrapper over wasmtime.
//!
//! Safe defaults are picked once, here (component model, pooling allocator, epoch deadlines,
//! memory caps, a WASI with no authority), so the rest of the router never touches a raw
//! wasmtime knob. Plugins are compiled once into an `InstancePre`; compiled code is cached on
//! disk so a restart does not compile again.

mod bindings;
mod cache;
mod compiler;
mod engine;
mod error;
mod inspect;
mod limits;
mod plugin;
mod sandbox;
mod slots;
mod wit_json;

pub use bindings::callwasm::router::host::Level;
pub use bindings::callwasm::router::types::{
    Bridge, BridgeCreate, BridgeKind, BridgeMembers, BridgeMove, Call, CallerId, Channel,
    ChannelState, Command, ContinueInDialplan, Create, Dial, DialOutcome, DialStatus,
    DialplanLocation, Dtmf, Event, EventKind, Failure, Hangup, HangupChannel, Moh, Party, Play,
    PlaybackEnd, PlaybackStatus, Reply, SetVar, Target, Timer,
};
pub use cache::{CodeCache, content_hash};
pub use compiler::{CompileLimits, Compiler, compile_component_file};
pub use engine::{Runtime, RuntimeConfig};
pub use error::{LoadError, PluginError};
pub use inspect::ComponentInfo;
pub use limits::Limits;
pub use plugin::{InstanceMode, Invocation, Plugin, Settings};
pub use slots::{InstanceSlots, Slot};
pub use wit_json::WitJson;

/// The WIT interface a plugin must export.
pub const CALL_HANDLER_INTERFACE: &str = "callwasm:router/call-handler@0.1.0";
