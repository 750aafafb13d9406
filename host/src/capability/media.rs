//! Media URIs a plugin may play, parsed one URI per entry. ARI's `media` parameter is a
//! comma-separated list, so `sound:beep,recording:other/x` in one entry used to pass as a
//! `sound:` URI and play another tenant's recording; a `sound:` path that is absolute or climbs
//! with `..` reaches other tenants' files. Neither parses here.

use super::{name_char, only};

/// The media schemes ARI plays.
pub const SCHEMES: &[&str] = &[
    "sound",
    "recording",
    "tone",
    "digits",
    "number",
    "characters",
];

/// A media URI split into scheme and resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media<'a> {
    pub scheme: &'a str,
    pub resource: &'a str,
}

impl<'a> Media<'a> {
    /// Parses one media URI; the error says what is wrong.
    pub fn parse(text: &'a str) -> Result<Self, String> {
        let (scheme, resource) = text
            .split_once(':')
            .ok_or("expected scheme:resource, such as sound:beep")?;
        if resource.is_empty() || resource.len() > 255 {
            return Err("the resource is empty or longer than 255 bytes".into());
        }
        let ok = match scheme {
            "sound" | "recording" => {
                !resource.starts_with('/')
                    && resource.split('/').all(|segment| {
                        !segment.is_empty()
                            && segment != "."
                            && segment != ".."
                            && only(segment, name_char)
                    })
            }
            // Tone names and simple tone specs (`ring`, `440+480/2000`, `ring;tonezone=fr`);
            // a `,` would start another playlist entry.
            "tone" => only(resource, |b| {
                b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'*' | b';' | b'=' | b'_')
            }),
            "digits" => {
                resource.len() <= 64
                    && only(resource, |b| {
                        b.is_ascii_digit() || matches!(b, b'A'..=b'D' | b'*' | b'#' | b'w')
                    })
            }
            "number" => {
                let digits = resource.strip_prefix('-').unwrap_or(resource);
                !digits.is_empty() && digits.len() <= 18 && only(digits, |b| b.is_ascii_digit())
            }
            "characters" => resource.len() <= 64 && only(resource, |b| b.is_ascii_alphanumeric()),
            _ => {
                return Err(format!(
                    "scheme {scheme:?} is not sound, recording, tone, digits, number or characters"
                ));
            }
        };
        if !ok {
            return Err(format!("{resource:?} is not a {scheme}: resource"));
        }
        Ok(Media { scheme, resource })
    }
}

/// A tenant's media prefix, such as `sound:` (every sound) or `recording:acme/` (the
/// recordings under `acme/`). A prefix without a trailing `/` is a whole path segment:
/// `recording:acme` allows `recording:acme/x`, not `recording:acme-other/x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPrefix(String);

impl MediaPrefix {
    /// Checks a prefix from the config: a known scheme, then a path.
    pub fn new(text: &str) -> Result<Self, String> {
        let (scheme, rest) = text
            .split_once(':')
            .ok_or_else(|| format!("{text:?}: expected scheme: or scheme:path/"))?;
        if !SCHEMES.contains(&scheme) {
            return Err(format!(
                "{text:?}: scheme {scheme:?} is not one of {SCHEMES:?}"
            ));
        }
        if !rest.is_empty() {
            let path = rest.strip_suffix('/').unwrap_or(rest);
            Media::parse(&format!("{scheme}:{path}")).map_err(|e| format!("{text:?}: {e}"))?;
        }
        Ok(MediaPrefix(text.to_string()))
    }

    /// The prefix as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the prefix covers `uri` (already parsed as one [`Media`]).
    pub fn allows(&self, uri: &str) -> bool {
        let p = self.0.as_str();
        if p.ends_with(':') || p.ends_with('/') {
            return uri.starts_with(p);
        }
        uri == p
            || uri
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(prefixes: &[&str], uri: &str) -> bool {
        Media::parse(uri).is_ok()
            && prefixes
                .iter()
                .any(|p| MediaPrefix::new(p).expect("prefix").allows(uri))
    }

    #[test]
    fn one_uri_per_entry_inside_the_tenants_prefixes() {
        let acme = ["sound:", "tone:", "digits:", "recording:acme/"];
        assert!(allowed(&acme, "sound:beep"));
        assert!(allowed(&acme, "sound:en/vm-nobodyavail"));
        assert!(allowed(&acme, "recording:acme/greeting"));
        assert!(allowed(&acme, "tone:ring;tonezone=fr"));
        assert!(allowed(&acme, "digits:123#"));
        assert!(!allowed(&acme, "sound:beep,recording:othertenant/x"));
        assert!(!allowed(
            &acme,
            "sound:/var/spool/asterisk/recording/othertenant/x"
        ));
        assert!(!allowed(&acme, "sound:../recording/othertenant/x"));
        assert!(!allowed(&acme, "sound:en/../../x"));
        assert!(!allowed(&acme, "recording:othertenant/x"));
        assert!(!allowed(&acme, "recording:acme/../othertenant/x"));
        assert!(!allowed(&acme, "number:12"));
        assert!(!allowed(&acme, "sound:beep\n"));
        assert!(!allowed(&["recording:acme"], "recording:acme-other/x"));
        assert!(allowed(&["recording:acme"], "recording:acme/x"));
        assert!(!allowed(&["sound:"], "http://evil.example/x.wav"));
    }

    #[test]
    fn prefixes_are_checked_at_load() {
        assert!(MediaPrefix::new("sound:").is_ok());
        assert!(MediaPrefix::new("recording:acme/").is_ok());
        assert!(MediaPrefix::new("http:").is_err());
        assert!(MediaPrefix::new("recording:../x/").is_err());
        assert!(MediaPrefix::new("sound").is_err());
    }
}
