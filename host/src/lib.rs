//! callwasm: an Asterisk call router whose routing logic runs in sandboxed WebAssembly.
//!
//! The host keeps the ARI session with Asterisk and hands every call event to the tenant's
//! plugin, a component of the `callwasm:router/router-plugin` world (wit/router.wit). This crate
//! holds the router's parts, one concern per module; the `callwasm` binary wires them up.

pub mod admin;
pub mod ari;
pub mod bench;
pub mod capability;
pub mod cluster;
pub mod log_text;
pub mod pattern;
pub mod router;
pub mod runtime;
pub mod sim;
pub mod store;
pub mod toml_error;
