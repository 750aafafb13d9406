//! Inbound calls: callers the simulator places into a Stasis application, as `Stasis(app,
//! args…)` in a dialplan would, each with a scripted behaviour.

use std::time::Duration;

/// What a caller does once in the application.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerBehaviour {
    /// Hangs up this long after entering (cause 16); None stays until hung up.
    pub hangup_after: Option<Duration>,
    /// Hangs up this long after the router answers it (cause 16), as a SIP phone that talks
    /// for a while does.
    pub hangup_after_answer: Option<Duration>,
    /// DTMF digits sent at these times after entering.
    pub dtmf: Vec<(Duration, char)>,
}

/// One inbound call to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundCall {
    pub app: String,
    pub caller_name: String,
    pub caller_number: String,
    /// The dialed extension.
    pub exten: String,
    /// The arguments of `Stasis(app, args…)`.
    pub args: Vec<String>,
    pub behaviour: CallerBehaviour,
    /// Offered by `StasisBroadcast(timeout, filter, args, notify_claimed)` instead of entering
    /// `app` directly: the first router to claim it gets it.
    pub broadcast: Option<BroadcastOffer>,
}

/// How a broadcast call is offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastOffer {
    /// Unclaimed this long, the call leaves the broadcast (STASISSTATUS=TIMEOUT) and hangs up.
    pub timeout: Duration,
    /// The regular expression app names must match.
    pub filter: String,
    /// Whether the apps hear who won (CallClaimed).
    pub notify_claimed: bool,
}

impl InboundCall {
    /// A caller `number` dialing `exten` into `app`, staying until hung up.
    pub fn new(app: &str, number: &str, exten: &str) -> Self {
        InboundCall {
            app: app.into(),
            caller_name: String::new(),
            caller_number: number.into(),
            exten: exten.into(),
            args: Vec::new(),
            behaviour: CallerBehaviour::default(),
            broadcast: None,
        }
    }

    /// Reads a call from the control endpoint's query: `app`, `number`, `name`, `exten`,
    /// `args` (comma-separated), `hangup_after_ms`, `hangup_after_answer_ms`, `dtmf`
    /// (`digit@ms,…`).
    pub fn from_query(q: &std::collections::HashMap<String, String>) -> Result<Self, String> {
        let app = q.get("app").ok_or("app is required")?;
        let mut call = InboundCall::new(
            app,
            q.get("number").map(String::as_str).unwrap_or("5550100"),
            q.get("exten").map(String::as_str).unwrap_or("100"),
        );
        call.caller_name = q.get("name").cloned().unwrap_or_default();
        call.args = super::state::comma_list(q.get("args"));
        let millis = |key: &str| -> Result<Option<Duration>, String> {
            q.get(key)
                .map(|ms| {
                    ms.parse()
                        .map(Duration::from_millis)
                        .map_err(|_| format!("{key}: not a number: {ms}"))
                })
                .transpose()
        };
        call.behaviour.hangup_after = millis("hangup_after_ms")?;
        call.behaviour.hangup_after_answer = millis("hangup_after_answer_ms")?;
        if let Some(list) = q.get("dtmf") {
            for entry in list.split(',').filter(|e| !e.is_empty()) {
                let (digit, at) = entry
                    .split_once('@')
                    .ok_or_else(|| format!("dtmf: expected digit@ms, got {entry}"))?;
                let mut chars = digit.chars();
                let (Some(d), None) = (chars.next(), chars.next()) else {
                    return Err(format!("dtmf: one digit per entry, got {digit}"));
                };
                if !matches!(d, '0'..='9' | 'A'..='D' | '*' | '#') {
                    return Err(format!("dtmf: not a DTMF digit: {d}"));
                }
                let at: u64 = at
                    .parse()
                    .map_err(|_| format!("dtmf: not a number: {at}"))?;
                call.behaviour.dtmf.push((Duration::from_millis(at), d));
            }
        }
        Ok(call)
    }
}
