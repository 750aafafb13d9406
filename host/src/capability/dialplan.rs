//! Where `continue-in-dialplan` may send a channel. A context is a capability: the tenant's
//! patterns name the ones it may use, and a channel that entered the app from the dialplan may
//! always go back to its own context. A leg the router created has no context of its own
//! (Asterisk would run it in `default`), so it must name one.

use super::{dial_char, name_char, only};
use crate::pattern::matches;

/// A dialplan location a plugin asked for, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location<'a> {
    pub context: Option<&'a str>,
    pub extension: Option<&'a str>,
    pub priority: Option<i32>,
}

/// Whether `text` can be a context name (Asterisk allows 79 bytes).
pub fn valid_context(text: &str) -> bool {
    !text.is_empty() && text.len() <= 79 && only(text, name_char)
}

/// Whether `text` can be an extension to continue at (a dialed number, `s`, `h`, `i`, …).
pub fn valid_extension(text: &str) -> bool {
    !text.is_empty() && text.len() <= 79 && only(text, dial_char)
}

/// A tenant's dialplan contexts (patterns).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contexts(pub Vec<String>);

impl Contexts {
    /// Checks the patterns from the config.
    pub fn new(patterns: &[String]) -> Result<Self, String> {
        for p in patterns {
            if p.is_empty() || !only(p, |b| name_char(b) || b == b'*' || b == b'?') {
                return Err(format!("{p:?} is not a context pattern"));
            }
        }
        Ok(Contexts(patterns.to_vec()))
    }

    /// Checks a continue of a channel whose own context is `own` (None for a leg the router
    /// created) to `to`; the error says why not.
    pub fn check(&self, own: Option<&str>, to: &Location<'_>) -> Result<(), String> {
        match to.context {
            Some(context) => {
                if !valid_context(context) {
                    return Err(format!("{context:?} is not a context name"));
                }
                if own != Some(context) && !self.0.iter().any(|p| matches(p, context)) {
                    return Err(format!(
                        "context {context:?} is not on the tenant's list of dialplan contexts"
                    ));
                }
            }
            None if own.is_none() => {
                return Err(
                    "a channel the call created has no dialplan context of its own: name one"
                        .into(),
                );
            }
            None => {}
        }
        if let Some(extension) = to.extension
            && !valid_extension(extension)
        {
            return Err(format!("{extension:?} is not an extension"));
        }
        if let Some(priority) = to.priority
            && priority < 1
        {
            return Err(format!("priority {priority} is below 1"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to(
        context: Option<&'static str>,
        extension: Option<&'static str>,
        priority: Option<i32>,
    ) -> Location<'static> {
        Location {
            context,
            extension,
            priority,
        }
    }

    #[test]
    fn own_context_and_listed_ones_only() {
        let c = Contexts::new(&["callwasm-fallback".into(), "acme-*".into()]).expect("patterns");
        assert_eq!(
            c.check(
                Some("from-sipp"),
                &to(Some("from-sipp"), Some("s"), Some(1))
            ),
            Ok(())
        );
        assert_eq!(c.check(Some("from-sipp"), &to(None, None, None)), Ok(()));
        assert_eq!(
            c.check(None, &to(Some("acme-ivr"), Some("100"), None)),
            Ok(())
        );
        assert!(
            c.check(Some("from-sipp"), &to(Some("admin-only"), None, None))
                .is_err()
        );
        assert!(c.check(None, &to(None, Some("s"), Some(1))).is_err());
        assert!(c.check(None, &to(Some("default"), None, None)).is_err());
        assert!(c.check(Some("x"), &to(None, Some("s\n"), None)).is_err());
        assert!(c.check(Some("x"), &to(None, Some("s"), Some(-5))).is_err());
        assert!(c.check(Some("x"), &to(None, Some("s"), Some(0))).is_err());
        assert!(
            c.check(Some("x"), &to(Some("acme-x,admin"), None, None))
                .is_err()
        );
        assert!(Contexts::new(&["a b".into()]).is_err());
    }
}
