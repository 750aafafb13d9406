//! What a tenant's plugin may reach in Asterisk through the strings of its replies: endpoints,
//! channel variables and functions, media URIs and dialplan locations.
//!
//! Asterisk reads each of those strings with its own grammar, and some of them reach far past
//! the call (a hangup handler, `GLOBAL(...)`, a SIP URI through another tenant's trunk, a
//! playlist hidden in one media string). So nothing is matched as raw text: each string is
//! parsed with the grammar Asterisk applies to it, anything that does not parse is refused, and
//! the tenant's patterns are matched part by part, so a `*` never reaches across a separator.

pub mod dialplan;
pub mod endpoint;
pub mod media;
pub mod variable;

/// Whether every byte of `text` is one of `allowed` (checked as ASCII).
fn only(text: &str, allowed: impl Fn(u8) -> bool) -> bool {
    text.bytes().all(allowed)
}

/// Letters, digits, `_`, `-` and `.`: names of endpoints, contexts, header names.
fn name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// What a dialed number or extension may hold: a name's characters and `+ * #`.
fn dial_char(b: u8) -> bool {
    name_char(b) || matches!(b, b'+' | b'*' | b'#')
}

/// A pattern's characters add the wildcards `*` and `?`.
fn with_wildcards(char_ok: impl Fn(u8) -> bool) -> impl Fn(u8) -> bool {
    move |b| char_ok(b) || b == b'*' || b == b'?'
}
