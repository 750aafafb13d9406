//! Channel variables and functions a plugin may set. Setting a variable through ARI runs
//! Asterisk's dialplan function writers, and some reach far past the call:
//! `CHANNEL(hangup_handler_push)` runs any dialplan at hangup, `GLOBAL(...)` and `DB(...)`
//! change every tenant's data, `SHARED(...)` writes another channel. So a set-var is a
//! capability: its name must parse, must not be on the deny list (which no allow-list
//! overrides), and must be on the tenant's allow-list for that kind of channel; its value must
//! hold no control characters (a CR LF inside a SIP header value would start a header of its
//! own).

use super::{name_char, only};
use crate::pattern::matches;

/// The longest value a plugin may set.
pub const MAX_VALUE: usize = 1024;

/// A variable or function name, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Name<'a> {
    /// A plain variable (`X_TENANT`, `__X_INHERITED`): the name without its inheritance
    /// underscores.
    Plain(&'a str),
    /// A function: `PJSIP_HEADER(add,X-Route)` is `PJSIP_HEADER` with `add` and `X-Route`.
    Function { name: &'a str, args: Vec<&'a str> },
}

impl<'a> Name<'a> {
    /// Parses a name as Asterisk reads it; anything else (nested calls, `${...}`, spaces,
    /// separators) is refused.
    pub fn parse(text: &'a str) -> Result<Self, String> {
        parse(text, false)
    }
}

fn ident(text: &str, pattern: bool) -> bool {
    !text.is_empty()
        && text.len() <= 80
        && only(text, |b| {
            b.is_ascii_alphanumeric() || b == b'_' || (pattern && (b == b'*' || b == b'?'))
        })
}

fn parse(text: &str, pattern: bool) -> Result<Name<'_>, String> {
    if text.len() > 128 {
        return Err("a variable name is at most 128 bytes".into());
    }
    match text.split_once('(') {
        None => {
            let plain = text.trim_start_matches('_');
            if text.len() - plain.len() > 2 || !ident(plain, pattern) {
                return Err(format!("{text:?} is not a variable name"));
            }
            Ok(Name::Plain(plain))
        }
        Some((name, rest)) => {
            let args = rest
                .strip_suffix(')')
                .ok_or_else(|| format!("{text:?}: a function's arguments end with ')'"))?;
            if !ident(name, pattern) {
                return Err(format!("{name:?} is not a function name"));
            }
            let args: Vec<&str> = args.split(',').collect();
            let arg_ok = |b: u8| name_char(b) || b == b'+' || (pattern && (b == b'*' || b == b'?'));
            if let Some(bad) = args.iter().find(|a| a.len() > 64 || !only(a, arg_ok)) {
                return Err(format!("{text:?}: {bad:?} is not a function argument"));
            }
            Ok(Name::Function { name, args })
        }
    }
}

/// Functions no allow-list can grant: each reaches past the channel it is set on (other
/// channels, every tenant's data, files, the shell, the network, device state).
const DENIED_FUNCTIONS: &[&str] = &[
    "GLOBAL",
    "DB",
    "DB_*",
    "SHARED",
    "MASTER_CHANNEL",
    "IMPORT",
    "DEVICE_STATE",
    "EXTENSION_STATE",
    "PRESENCE_STATE",
    "HINT",
    "SHELL",
    "FILE",
    "FILE_*",
    "ODBC",
    "ODBC_*",
    "CURL",
    "CURLOPT",
    "SYSTEM",
    "ENV",
    "STAT",
    "EVAL",
    "EVAL_EXTEN",
    "EXEC",
    "GROUP",
    "GROUP_*",
    "LOCAL",
    "LOCAL_PEEK",
    "QUEUE_*",
    "AST_CONFIG",
    "REALTIME",
    "REALTIME_*",
    "AGI",
    "SORCERY",
    "PJSIP_ENDPOINT",
    "PJSIP_AOR",
    "PJSIP_CONTACT",
    "PJSIP_DIAL_CONTACTS",
    "CONFBRIDGE",
    "CONFBRIDGE_*",
    "MESSAGE",
    "MESSAGE_DATA",
    "VM_INFO",
    "MAILBOX_EXISTS",
    "SPEECH*",
    "CHANNELS",
    "SPOOL*",
];

/// Plain variables Asterisk acts on beyond the channel: transfer and forward contexts, group
/// counts, features, gosubs and recordings to files.
const DENIED_VARIABLES: &[&str] = &[
    "TRANSFER_CONTEXT",
    "FORWARD_CONTEXT",
    "OUTBOUND_GROUP*",
    "DYNAMIC_FEATURES",
    "BRIDGE_FEATURES",
    "GOSUB*",
    "MACRO*",
    "TOUCH_MONITOR*",
    "TOUCH_MIXMONITOR*",
    "AUTO_MONITOR*",
    "MONITOR_*",
    "MIXMONITOR_*",
    "DIALPLAN_*",
    "AGISIGHUP",
    "AGIEXITONHANGUP",
];

/// Why a name is denied whatever the tenant's allow-list says, if it is.
fn denied(name: &Name<'_>) -> Option<String> {
    match name {
        Name::Plain(plain) => {
            let upper = plain.to_ascii_uppercase();
            DENIED_VARIABLES
                .iter()
                .any(|p| matches(p, &upper))
                .then(|| format!("{plain} acts beyond the channel"))
        }
        Name::Function { name, args } => {
            let upper = name.to_ascii_uppercase();
            if DENIED_FUNCTIONS.iter().any(|p| matches(p, &upper)) {
                return Some(format!("{upper}() reaches beyond the channel"));
            }
            let first = args
                .first()
                .map(|a| a.to_ascii_lowercase())
                .unwrap_or_default();
            if upper == "CHANNEL" && first.starts_with("hangup_handler") {
                return Some("hangup handlers run dialplan the tenant does not own".into());
            }
            None
        }
    }
}

/// One allow-list entry: `X_*` (plain variables), `CALLERID(*)` (the function with any
/// arguments) or `PJSIP_HEADER(add,X-*)` (those arguments, each matched on its own). Parsed
/// once, at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariablePattern {
    text: String,
    kind: PatternKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PatternKind {
    Plain(String),
    /// The function name upper-cased; `args` None takes any arguments (`F(*)`).
    Function {
        name: String,
        args: Option<Vec<String>>,
    },
}

impl VariablePattern {
    /// Parses a pattern from the config.
    pub fn new(text: &str) -> Result<Self, String> {
        let kind = match parse(text, true)? {
            Name::Plain(p) => PatternKind::Plain(p.to_string()),
            Name::Function { name, args } => PatternKind::Function {
                name: name.to_ascii_uppercase(),
                args: (args != ["*"]).then(|| args.iter().map(|a| a.to_string()).collect()),
            },
        };
        Ok(VariablePattern {
            text: text.to_string(),
            kind,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn allows(&self, name: &Name<'_>) -> bool {
        match (&self.kind, name) {
            (PatternKind::Plain(p), Name::Plain(n)) => matches(p, n),
            (PatternKind::Function { name: pn, args }, Name::Function { name: n, args: a }) => {
                matches(pn, &n.to_ascii_uppercase())
                    && args.as_ref().is_none_or(|pa| {
                        pa.len() == a.len() && pa.iter().zip(a).all(|(p, a)| matches(p, a))
                    })
            }
            _ => false,
        }
    }
}

/// A tenant's variable capability: what it may set on every channel of its calls, and what on
/// the legs its calls created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variables {
    pub any: Vec<VariablePattern>,
    pub created: Vec<VariablePattern>,
}

impl Default for Variables {
    /// Plain variables and `X-` SIP headers on every channel; caller ID and connected line
    /// only on the legs the call created (the caller's identity is not the tenant's to change).
    fn default() -> Self {
        let p = |s: &str| VariablePattern::new(s).unwrap_or_else(|e| unreachable!("{e}"));
        Variables {
            any: vec![p("*"), p("PJSIP_HEADER(add,X-*)")],
            created: vec![p("CALLERID(*)"), p("CONNECTEDLINE(*)")],
        }
    }
}

impl Variables {
    /// Checks a set-var of `name` to `value` on a channel (`created`: one the call created).
    pub fn check(&self, created: bool, name: &str, value: &str) -> Result<(), String> {
        // A denied function is named as such whatever its arguments look like.
        if let Some((function, _)) = name.split_once('(') {
            let upper = function.to_ascii_uppercase();
            if DENIED_FUNCTIONS.iter().any(|p| matches(p, &upper)) {
                return Err(format!(
                    "{name:?} is denied: {upper}() reaches beyond the channel"
                ));
            }
        }
        let parsed = Name::parse(name)?;
        if let Some(why) = denied(&parsed) {
            return Err(format!("{name:?} is denied: {why}"));
        }
        let lists = if created {
            [&self.any[..], &self.created[..]]
        } else {
            [&self.any[..], &[][..]]
        };
        if !lists
            .iter()
            .flat_map(|l| l.iter())
            .any(|p| p.allows(&parsed))
        {
            let on = if created { "leg" } else { "caller" };
            return Err(format!(
                "{name:?} is not on the tenant's variables for a {on}"
            ));
        }
        if value.len() > MAX_VALUE {
            return Err(format!("the value is longer than {MAX_VALUE} bytes"));
        }
        if value.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return Err("the value holds control characters".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An operator's widest allow-list: every plain variable and every function.
    fn allow_everything() -> Variables {
        Variables {
            any: vec![
                VariablePattern::new("*").expect("p"),
                VariablePattern::new("*(*)").expect("p"),
            ],
            created: vec![],
        }
    }

    #[test]
    fn the_default_allows_plain_variables_headers_and_ids_on_legs() {
        let v = Variables::default();
        assert_eq!(v.check(false, "X_TENANT", "acme"), Ok(()));
        assert_eq!(v.check(false, "__X_INHERITED", "1"), Ok(()));
        assert_eq!(v.check(true, "PJSIP_HEADER(add,X-Route)", "a"), Ok(()));
        assert_eq!(v.check(true, "CALLERID(num)", "5551000"), Ok(()));
        assert_eq!(v.check(true, "CONNECTEDLINE(name)", "ACME"), Ok(()));
        assert!(v.check(false, "CALLERID(num)", "5551000").is_err());
        assert!(
            v.check(true, "PJSIP_HEADER(add,P-Asserted-Identity)", "<sip:1@x>")
                .is_err()
        );
        assert!(v.check(true, "CHANNEL(accountcode)", "other").is_err());
        assert!(
            v.check(true, "PJSIP_HEADER(add,X-A)", "a\r\nVia: evil")
                .is_err()
        );
        assert!(v.check(true, "X", &"a".repeat(MAX_VALUE + 1)).is_err());
    }

    #[test]
    fn the_deny_list_beats_any_allow_list() {
        let all = allow_everything();
        for name in [
            "CHANNEL(hangup_handler_push)",
            "CHANNEL(HANGUP_HANDLER_WIPE)",
            "GLOBAL(X)",
            "DB(othertenant/key)",
            "db_delete(othertenant/key)",
            "SHARED(x,PJSIP/other-0001)",
            "MASTER_CHANNEL(X)",
            "DEVICE_STATE(Custom:other)",
            "SHELL(rm)",
            "FILE(x)",
            "ODBC_QUERY(x)",
            "CURL(x)",
            "TRANSFER_CONTEXT",
            "__TRANSFER_CONTEXT",
            "OUTBOUND_GROUP",
        ] {
            assert!(all.check(true, name, "x").is_err(), "{name}");
        }
        assert_eq!(all.check(true, "CHANNEL(accountcode)", "x"), Ok(()));
    }

    #[test]
    fn names_that_do_not_parse_are_refused() {
        let all = allow_everything();
        for name in [
            "",
            "X Y",
            "X=1",
            "${EVIL}",
            "CALLERID(num",
            "CALLERID(num))",
            "F(G(x))",
            "___X",
            "X\n",
            "PJSIP_HEADER(add,X-A\r\nB)",
        ] {
            assert!(all.check(true, name, "x").is_err(), "{name:?}");
        }
    }
}
