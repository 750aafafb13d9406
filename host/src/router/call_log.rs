//! The two lines a call leaves in the log at `info`: when it starts (who called what, where)
//! and when it ends (how, why, what it cost). Kept in one place so the story reads the same
//! everywhere and the bench measures exactly the lines the router writes.

use crate::log_text::escaped;

/// The span a call's task runs in: every line it logs carries `call=<id>`.
pub fn span(call: &str) -> tracing::Span {
    tracing::info_span!("call", call = %call)
}

/// What the first line of a call says.
pub struct Started<'a> {
    pub call: &'a str,
    pub tenant: &'a str,
    pub app: &'a str,
    pub caller: &'a str,
    pub extension: &'a str,
    pub server: &'a str,
}

/// `call started`: the caller's number and the extension as Asterisk gave them (escaped: they
/// come from the network).
pub fn started(s: &Started) {
    tracing::info!(
        call = %s.call,
        tenant = %s.tenant,
        app = %escaped(s.app),
        caller = %escaped(s.caller),
        extension = %escaped(s.extension),
        server = %s.server,
        "call started"
    );
}

/// What the last line of a call says.
pub struct Ended<'a> {
    pub tenant: &'a str,
    /// completed, failure policy or refused.
    pub outcome: &'a str,
    /// `handle:cause` of each hangup the call saw (the first few).
    pub causes: &'a [(String, u16)],
    pub legs_dialed: u32,
    pub duration: std::time::Duration,
    pub plugin_time: std::time::Duration,
}

/// `call ended`, inside the call's span.
pub fn ended(e: &Ended) {
    let causes: Vec<String> = e
        .causes
        .iter()
        .map(|(leg, cause)| format!("{leg}:{cause}"))
        .collect();
    tracing::info!(
        tenant = %e.tenant,
        outcome = e.outcome,
        causes = %causes.join(" "),
        legs_dialed = e.legs_dialed,
        duration_ms = e.duration.as_millis() as u64,
        plugin_us = e.plugin_time.as_micros() as u64,
        "call ended"
    );
}
