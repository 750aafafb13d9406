//! What one plugin call may use: memory, time, and the size of what it returns.

use std::time::Duration;

/// Limits applied to every `handle` call of a plugin. The router's config sets them per tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory one instance may grow to, in bytes.
    pub memory_bytes: usize,
    /// Wall time one `handle` call may run before it is interrupted.
    pub deadline: Duration,
    /// Commands in one reply.
    pub max_commands: usize,
    /// Size of one reply (commands and state), in bytes.
    pub max_reply_bytes: usize,
    /// Size of the plugin's state, in bytes.
    pub max_state_bytes: usize,
    /// Bytes a plugin may log (host log, stdout and stderr together) in one call; the rest is
    /// dropped and counted.
    pub max_log_bytes: usize,
}

impl Default for Limits {
    /// Defaults sized for routing logic: a Rust plugin uses ~1 MiB and microseconds; the
    /// Python and JavaScript runtimes need tens of MiB.
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            deadline: Duration::from_millis(100),
            max_commands: 1000,
            max_reply_bytes: 1 << 20,
            max_state_bytes: 64 << 10,
            max_log_bytes: 64 << 10,
        }
    }
}
