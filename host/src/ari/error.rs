//! What can go wrong talking to Asterisk, named so a log line says which server, which
//! operation on which resource, and what Asterisk said.

use std::time::Duration;

/// A failed ARI request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{server}: {op} {resource}: {kind}")]
pub struct AriError {
    /// The Asterisk server's name in the config.
    pub server: String,
    /// The operation, such as "channels.dial".
    pub op: &'static str,
    /// The channel, bridge, playback or application id, or "" for none.
    pub resource: String,
    pub kind: AriErrorKind,
}

/// Why an ARI request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AriErrorKind {
    /// Asterisk answered with an error status. Its message comes from the body's `message` or
    /// `error` key (Asterisk uses both).
    #[error("HTTP {status}: {message}")]
    Status { status: u16, message: String },
    /// The request never got an answer: connection refused or dropped.
    #[error("transport: {0}")]
    Transport(String),
    /// No answer within the per-request timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// An answer whose body is not what the API defines.
    #[error("unreadable answer: {0}")]
    BadBody(String),
    /// Not sent: this router's lease in the shared call store is not good (cluster/fence.rs),
    /// so another router may be carrying the call.
    #[error("not sent: {0}")]
    Fenced(String),
}

impl AriError {
    /// Whether the request was held back by the router's fence.
    pub fn fenced(&self) -> bool {
        matches!(self.kind, AriErrorKind::Fenced(_))
    }
}

impl AriError {
    /// The HTTP status, when Asterisk answered.
    pub fn status(&self) -> Option<u16> {
        match self.kind {
            AriErrorKind::Status { status, .. } => Some(status),
            _ => None,
        }
    }

    /// Asterisk's message, or the failure's description.
    pub fn message(&self) -> String {
        match &self.kind {
            AriErrorKind::Status { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

/// Asterisk's message from an error body: `{"message": …}` or `{"error": …}`; the raw text
/// when it is neither.
pub(crate) fn asterisk_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        message: Option<String>,
        error: Option<String>,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody {
            message: Some(m), ..
        }) => m,
        Ok(ErrorBody { error: Some(e), .. }) => e,
        _ => String::from_utf8_lossy(body).trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::asterisk_message;

    #[test]
    fn asterisk_uses_both_message_and_error_keys() {
        assert_eq!(
            asterisk_message(br#"{"message": "Channel not found"}"#),
            "Channel not found"
        );
        assert_eq!(
            asterisk_message(br#"{"error": "Allocation failed"}"#),
            "Allocation failed"
        );
        assert_eq!(
            asterisk_message(b"<html>Bad Gateway</html>\n"),
            "<html>Bad Gateway</html>"
        );
    }
}
