//! TOML errors as one line an operator can act on: where (line, column), which key, and what
//! was expected. Shared by the router's config and the simulator's set-up file.

use std::path::Path;

/// A TOML file that could not be used: names the file and what is wrong where.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// Reads `path` and hands its text to `parse`; either failure names the file.
pub fn load<T>(path: &Path, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<T, FileError> {
    let text = std::fs::read_to_string(path).map_err(|source| FileError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text).map_err(|message| FileError::Invalid {
        path: path.display().to_string(),
        message,
    })
}

/// Describes `error`, raised while reading `text`, as `line L, column C, key K: message`.
pub fn describe(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().to_string();
    let Some(span) = error.span() else {
        return message;
    };
    let start = span.start.min(text.len());
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    match key_at(text, line) {
        Some(key) => format!("line {line}, column {column}, key `{key}`: {message}"),
        None => format!("line {line}, column {column}: {message}"),
    }
}

/// The dotted key defined on `line` (1-based), with its table: `tenants.acme.apps`,
/// `traffic[1].rate`. None when the line defines no key.
fn key_at(text: &str, line: usize) -> Option<String> {
    let mut table = String::new();
    let mut arrays: std::collections::HashMap<String, usize> = Default::default();
    for (n, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        let header = if let Some(name) = trimmed
            .strip_prefix("[[")
            .and_then(|r| r.split_once("]]"))
            .map(|(name, _)| name.trim().to_string())
        {
            let count = arrays.entry(name.clone()).or_insert(0);
            *count += 1;
            Some(format!("{name}[{}]", *count - 1))
        } else {
            trimmed
                .strip_prefix('[')
                .and_then(|r| r.split_once(']'))
                .map(|(name, _)| name.trim().to_string())
        };
        if let Some(header) = header {
            table = header;
            if n + 1 == line {
                return Some(table);
            }
            continue;
        }
        if n + 1 == line {
            let key = trimmed.split_once('=')?.0.trim().trim_matches('"');
            return Some(if table.is_empty() {
                key.to_string()
            } else {
                format!("{table}.{key}")
            });
        }
    }
    (!table.is_empty()).then_some(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        name: Option<String>,
        #[serde(default)]
        item: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        size: u32,
    }

    fn error_of(text: &str) -> String {
        let e = toml::from_str::<Doc>(text).expect_err("invalid");
        describe(text, &e)
    }

    #[test]
    fn names_line_key_and_expectation() {
        assert_eq!(
            error_of("name = 5\n"),
            "line 1, column 8, key `name`: invalid type: integer `5`, expected a string"
        );
        assert_eq!(
            error_of("[[item]]\nsize = 1\n[[item]]\nsize = \"big\"\n"),
            "line 4, column 8, key `item[1].size`: invalid type: string \"big\", expected u32"
        );
    }
}
