//! The simulated Asterisk: a real HTTP + WebSocket server that speaks ARI the way Asterisk 22
//! does, for tests, the demo and plugin authors.
//!
//! This first part serves what the ARI client needs: authentication, the event WebSocket with
//! application registration and takeover, event filters, channel and bridge lists, and fault
//! injection (dropped sockets, refused connections, silent sockets, slow or failing REST).

mod calls;
mod endpoints;
mod faults;
mod operations;
mod server;
mod state;

pub use calls::{CallerBehaviour, InboundCall};
pub use endpoints::{Behaviour, EndpointRule, default_rules};
pub use faults::Faults;
pub use server::{Sim, SimConfig};
