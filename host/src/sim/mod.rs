//! The simulated Asterisk: a real HTTP + WebSocket server that speaks ARI the way Asterisk 22
//! does, for tests, the demo and plugin authors.
//!
//! It serves ARI's REST resources and event WebSocket (applications, takeover, filters,
//! subscribeAll), channels and bridges with Asterisk's event sequences and error codes,
//! scripted endpoints and callers, generated traffic from a TOML file, and fault injection
//! (dropped sockets, refused connections, silent sockets, slow or failing REST).

pub mod api_docs;
mod broadcast;
mod calls;
mod endpoints;
mod faults;
mod operations;
mod rest_socket;
mod server;
mod state;
mod traffic;

pub use calls::{BroadcastOffer, CallerBehaviour, InboundCall};
pub use endpoints::{Behaviour, EndpointRule, default_rules};
pub use faults::Faults;
pub use server::{CreateOrder, Sim, SimConfig};
pub use traffic::{BehaviourName, EndpointSpec, Placed, SimFile, SimFileError, Traffic};
