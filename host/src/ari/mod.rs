//! The host's link to Asterisk: ARI's REST calls and its event stream, per server.

pub mod cause;
pub mod error;
pub mod events;
pub mod models;
pub mod rest;
pub mod stream;

pub use cause::cause_text;
pub use error::{AriError, AriErrorKind};
pub use events::Event;
pub use rest::{Auth, CreateChannel, Originate, PlayTarget, Rest, RestConfig};
pub use stream::{EventStream, ROUTER_EVENTS, ServerItem, StreamConfig, StreamItem};
