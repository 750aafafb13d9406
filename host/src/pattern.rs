//! Wildcard patterns for endpoint names (`PJSIP/*`, `Local/1??@*`): the simulator's endpoint
//! rules and the tenants' allow-lists. `*` matches any run of characters, `?` one character.
//! The text matched can come from a plugin, so matching is iterative and never exponential.

/// Whether `text` matches `pattern` as a whole.
pub fn matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and where in the text it started matching.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            // Let the last star swallow one more character and retry.
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_and_marks() {
        assert!(matches("PJSIP/*", "PJSIP/alice"));
        assert!(matches("*", ""));
        assert!(matches("Local/1??@*", "Local/100@local-test"));
        assert!(!matches("Local/1??@*", "Local/10@x"));
        assert!(matches("*busy*", "PJSIP/busy-1"));
        assert!(!matches("PJSIP/*", "SIP/alice"));
        assert!(!matches("PJSIP/alice", "PJSIP/alice2"));
        assert!(matches("a*b*c", "a-b-b-c"));
    }

    #[test]
    fn a_hostile_text_does_not_blow_up() {
        let text = "a".repeat(100_000);
        assert!(!matches("*a*a*a*a*a*a*b", &text));
    }
}
