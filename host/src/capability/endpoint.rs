//! Endpoints a plugin may create channels to, parsed with Asterisk's dial-string grammar
//! instead of globbed as text. `PJSIP/alice*` once let `PJSIP/alice/sip:+900123456@198.51.100.7`
//! through: a direct SIP URI over alice's transport, toll fraud. Parsed, that endpoint has a URI
//! part its pattern does not name, and is refused.
//!
//! The grammar (one channel, no `&` lists, no options a pattern does not name):
//!
//! ```text
//! endpoint = tech "/" [user "@"] target ["/" tail]
//! tech     = letters, digits, "_"                 PJSIP, Local, IAX2, DAHDI
//! user     = letters, digits, "_-.+*#"            a number or extension
//! target   = letters, digits, "_-."               an endpoint, trunk or Local's context
//! tail     = scheme ":" [user "@"] host [":" port]   a URI (PJSIP/trunk/sip:100@host)
//!          | letters                              Local's options (/n)
//! ```

use super::{dial_char, name_char, only, with_wildcards};
use crate::pattern::matches;

/// The longest endpoint a plugin may name.
pub const MAX_LEN: usize = 256;

/// An endpoint split into the parts Asterisk reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint<'a> {
    pub tech: &'a str,
    pub user: Option<&'a str>,
    pub target: &'a str,
    pub tail: Option<Tail<'a>>,
}

/// What follows the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail<'a> {
    /// A URI to send to directly: `sip:100@203.0.113.5:5060`.
    Uri {
        scheme: &'a str,
        user: Option<&'a str>,
        host: &'a str,
    },
    /// Channel driver options, such as Local's `n`.
    Options(&'a str),
}

impl<'a> Endpoint<'a> {
    /// Parses an endpoint a plugin names; the error says what is wrong.
    pub fn parse(text: &'a str) -> Result<Self, String> {
        parse(text, false)
    }
}

fn parse(text: &str, pattern: bool) -> Result<Endpoint<'_>, String> {
    if text.len() > MAX_LEN {
        return Err(format!("longer than {MAX_LEN} bytes"));
    }
    let wild = |f: fn(u8) -> bool| -> Box<dyn Fn(u8) -> bool> {
        if pattern {
            Box::new(with_wildcards(f))
        } else {
            Box::new(f)
        }
    };
    let (tech, resource) = text
        .split_once('/')
        .ok_or("expected technology/resource, such as PJSIP/alice")?;
    if tech.is_empty() || tech.len() > 32 || !only(tech, |b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(format!("{tech:?} is not a channel technology"));
    }
    let (head, tail) = match resource.split_once('/') {
        Some((head, tail)) => (head, Some(tail)),
        None => (resource, None),
    };
    let (user, target) = match head.split_once('@') {
        Some((user, target)) => (Some(user), target),
        None => (None, head),
    };
    if let Some(user) = user
        && (user.is_empty() || user.len() > 80 || !only(user, wild(dial_char)))
    {
        return Err(format!("{user:?} is not a number or extension"));
    }
    if target.is_empty() || target.len() > 80 || !only(target, wild(name_char)) {
        return Err(format!("{target:?} is not an endpoint or context name"));
    }
    let tail = match tail {
        None => None,
        Some(tail) => Some(match tail.split_once(':') {
            Some((scheme, rest)) => {
                if !matches!(scheme, "sip" | "sips" | "tel") {
                    return Err(format!("URI scheme {scheme:?} is not sip, sips or tel"));
                }
                let (user, hostport) = match rest.split_once('@') {
                    Some((user, host)) => (Some(user), host),
                    None => (None, rest),
                };
                if let Some(user) = user
                    && (user.is_empty() || !only(user, wild(dial_char)))
                {
                    return Err(format!("{user:?} is not a URI user part"));
                }
                let host_ok = |b: u8| name_char(b) || b == b':';
                if hostport.is_empty() || !only(hostport, wild(host_ok)) {
                    return Err(format!("{hostport:?} is not a URI host"));
                }
                Tail::Uri {
                    scheme,
                    user,
                    host: hostport,
                }
            }
            None => {
                if tail.is_empty()
                    || tail.len() > 8
                    || !only(tail, wild(|b| b.is_ascii_alphabetic()))
                {
                    return Err(format!("{tail:?} is not a URI or channel options"));
                }
                Tail::Options(tail)
            }
        }),
    };
    Ok(Endpoint {
        tech,
        user,
        target,
        tail,
    })
}

/// A tenant's endpoint pattern, such as `PJSIP/*`, `PJSIP/*@trunk1`, `Local/1??@from-router`
/// or `PJSIP/trunk1/sip:+1*@sip.carrier.example`. Each part is matched on its own (`*` and `?`
/// within it); a part the pattern leaves out must be absent from the endpoint: `PJSIP/*` allows
/// no `user@` and no URI. Parsed once, at load; matching only compares parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointPattern {
    text: String,
    tech: String,
    user: Option<String>,
    target: String,
    tail: Option<PatternTail>,
}

/// The pattern's [`Tail`], owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PatternTail {
    Uri {
        scheme: String,
        user: Option<String>,
        host: String,
    },
    Options(String),
}

impl EndpointPattern {
    /// Parses a pattern from the config.
    pub fn new(text: &str) -> Result<Self, String> {
        let p = parse(text, true)?;
        Ok(EndpointPattern {
            text: text.to_string(),
            tech: p.tech.to_string(),
            user: p.user.map(str::to_string),
            target: p.target.to_string(),
            tail: p.tail.map(|tail| match tail {
                Tail::Uri { scheme, user, host } => PatternTail::Uri {
                    scheme: scheme.to_string(),
                    user: user.map(str::to_string),
                    host: host.to_string(),
                },
                Tail::Options(o) => PatternTail::Options(o.to_string()),
            }),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `endpoint` is one the pattern allows.
    pub fn allows(&self, endpoint: &Endpoint<'_>) -> bool {
        let opt = |p: &Option<String>, e: Option<&str>| match (p, e) {
            (None, None) => true,
            (Some(p), Some(e)) => matches(p, e),
            _ => false,
        };
        self.tech.eq_ignore_ascii_case(endpoint.tech)
            && opt(&self.user, endpoint.user)
            && matches(&self.target, endpoint.target)
            && match (&self.tail, &endpoint.tail) {
                (None, None) => true,
                (Some(PatternTail::Options(p)), Some(Tail::Options(e))) => matches(p, e),
                (
                    Some(PatternTail::Uri {
                        scheme: ps,
                        user: pu,
                        host: ph,
                    }),
                    Some(Tail::Uri {
                        scheme: es,
                        user: eu,
                        host: eh,
                    }),
                ) => ps == es && opt(pu, *eu) && matches(ph, eh),
                _ => false,
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(pattern: &str, endpoint: &str) -> bool {
        let p = EndpointPattern::new(pattern).expect("pattern");
        Endpoint::parse(endpoint).is_ok_and(|e| p.allows(&e))
    }

    #[test]
    fn parts_are_matched_on_their_own() {
        assert!(allowed("PJSIP/*", "PJSIP/alice"));
        assert!(allowed("pjsip/alice*", "PJSIP/alice2"));
        assert!(allowed("PJSIP/*@trunk1", "PJSIP/+15551234@trunk1"));
        assert!(allowed("Local/*@from-router", "Local/100@from-router"));
        assert!(allowed("Local/*@from-router/n", "Local/100@from-router/n"));
        assert!(allowed(
            "PJSIP/trunk1/sip:+1*@sip.carrier.example",
            "PJSIP/trunk1/sip:+15551234@sip.carrier.example"
        ));
        // Toll fraud through alice's transport: a URI the pattern does not name.
        assert!(!allowed(
            "PJSIP/alice*",
            "PJSIP/alice/sip:+900123456@198.51.100.7"
        ));
        assert!(!allowed("PJSIP/*", "PJSIP/900123456@premium-trunk"));
        // Local's context is its own part: another context is not a longer extension.
        assert!(!allowed("Local/*@from-router", "Local/100@admin-only"));
        assert!(!allowed(
            "Local/*@from-router",
            "Local/100@admin@from-router"
        ));
        assert!(!allowed("Local/*@from-router", "Local/100@from-router/n"));
        assert!(!allowed(
            "PJSIP/trunk1/sip:+1*@sip.carrier.example",
            "PJSIP/trunk1/sip:+1555@evil.example"
        ));
        assert!(!allowed("PJSIP/*", "SIP/alice"));
    }

    #[test]
    fn what_does_not_parse_is_refused() {
        for bad in [
            "PJSIP/alice&PJSIP/bob",
            "PJSIP/alice,PJSIP/bob",
            "PJSIP/alice\nX",
            "PJSIP/",
            "PJSIP",
            "/alice",
            "PJSIP/alice bob",
            "PJSIP/alice/../../x",
            "PJSIP/a/http://x",
            "Local/@ctx",
            "PJSIP/a/sip:x@y@z",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Endpoint::parse(&format!("PJSIP/{}", "a".repeat(60_000))).is_err());
        assert!(EndpointPattern::new("*").is_err());
    }
}
