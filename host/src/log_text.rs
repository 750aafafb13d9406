//! Text a tenant controls (a plugin's error, its log lines, a file name, Asterisk's echo of a
//! variable name) goes into the router's log escaped: control characters become `\n`, `\r`,
//! `\u{1b}`, …, so a line break in a plugin's message can never forge a log line of its own.

use std::fmt;

/// Displays its text with control characters escaped.
pub struct Escaped<T>(pub T);

impl<T: fmt::Display> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Filter<'a, 'b>(&'a mut fmt::Formatter<'b>);
        impl fmt::Write for Filter<'_, '_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                for c in s.chars() {
                    if c.is_control() {
                        for e in c.escape_default() {
                            fmt::Write::write_char(self.0, e)?;
                        }
                    } else {
                        fmt::Write::write_char(self.0, c)?;
                    }
                }
                Ok(())
            }
        }
        fmt::write(&mut Filter(f), format_args!("{}", self.0))
    }
}

/// `text`, escaped for the log.
pub fn escaped<T: fmt::Display>(text: T) -> Escaped<T> {
    Escaped(text)
}

#[cfg(test)]
mod tests {
    use super::escaped;

    #[test]
    fn control_characters_cannot_break_a_line() {
        assert_eq!(
            escaped("v2\n2026-11-27T00:00:00Z  INFO forged\r\u{1b}[2J").to_string(),
            "v2\\n2026-11-27T00:00:00Z  INFO forged\\r\\u{1b}[2J"
        );
        assert_eq!(escaped("plain é text").to_string(), "plain é text");
    }
}
