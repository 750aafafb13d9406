//! The admin HTTP API: operators list tenants and their plugin versions, push new versions and
//! roll back, without restarting the router. Every request needs the operator token
//! (`Authorization: Bearer <token>`); errors are JSON `{"error": "…"}`. Tokens are never
//! logged.
//!
//! - `GET  /tenants`: every tenant with its versions (live, loaded, calls held, served, failed)
//! - `GET  /tenants/{tenant}`: one tenant
//! - `PUT  /tenants/{tenant}/plugin?label=L`: body = a .wasm component; checked (world, smoke
//!   call) off the event path, then made live. 201 with the version, or 422 with the reason.
//! - `POST /tenants/{tenant}/rollback?to=X`: X is a label or a hash prefix (6+ hex digits).

mod api;

pub use api::{Admin, version_json};
