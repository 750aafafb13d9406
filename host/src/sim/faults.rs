//! Faults a test can inject into the simulated Asterisk.

use std::time::{Duration, Instant};

/// What the simulator does wrong on purpose. All off by default.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Until then, the port is closed: connections are refused.
    pub refuse_until: Option<Instant>,
    /// Sockets open now stop reading and writing (no pongs, no events).
    pub silent: bool,
    /// Every REST answer waits this long first.
    pub rest_delay: Duration,
    /// This share (0.0 to 1.0) of REST requests fail with `fail_status`.
    pub fail_share: f64,
    pub fail_status: u16,
    /// REST answers 200 with a body that is not JSON.
    pub garbage_bodies: bool,
}
