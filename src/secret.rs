//! [`Secret`]: a key that never prints itself.

use serde::{Serialize, Serializer};
use std::fmt;

/// A key (upstream or client). Printing it never shows it, nor any part of it: `Debug` and
/// `redacted` give at most a fingerprint.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    /// The key itself, for the one place that must send or compare it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first 8 hex digits of the key's SHA-256, which tell two keys apart without showing any
    /// part of either (as an endpoint's default id does); empty for a key short enough to be
    /// guessed from it.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        if self.0.chars().count() < 16 {
            return String::new();
        }
        Sha256::digest(self.0.as_bytes())[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// How `check` and logs show a key: `(empty)`, `(set)`, or `(set, sha256 1a2b3c4d)` with its
    /// [`fingerprint`](Secret::fingerprint) for a key long enough to have one.
    pub fn redacted(&self) -> String {
        match (self.0.is_empty(), self.fingerprint()) {
            (true, _) => "(empty)".to_string(),
            (false, print) if print.is_empty() => "(set)".to_string(),
            (false, print) => format!("(set, sha256 {print})"),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret{}", self.redacted())
    }
}

/// Serialized, a key is always its redacted form: no view of the settings can leak one.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn secrets_never_print_themselves() {
        let s = Secret::new("sk-ant-api03-abcdefghijklmnop".into());
        let shown = format!("{s:?}");
        assert_eq!(shown, format!("Secret(set, sha256 {})", s.fingerprint()));
        assert!(!shown.contains("mnop"), "{shown}");
        assert_eq!(Secret::new("short".into()).fingerprint(), "");
        assert_eq!(Secret::new("short".into()).redacted(), "(set)");
        assert_eq!(Secret::default().redacted(), "(empty)");
    }

    #[test]
    fn a_fingerprint_is_no_part_of_the_key() {
        // The demo's rejected key once showed as `…cted`, as if it read `[redacted]`.
        let key = "demo-key-rejected";
        let print = Secret::new(key.into()).fingerprint();
        assert_eq!(print.len(), 8);
        assert!(print.chars().all(|c| c.is_ascii_hexdigit()));
        for part in print.as_bytes().windows(3) {
            let part = std::str::from_utf8(part).unwrap();
            assert!(!key.contains(part), "{part} is in the key");
        }
        assert_ne!(print, Secret::new("demo-key-accepted".into()).fingerprint());
        assert_eq!(print, Secret::new(key.into()).fingerprint());
        assert_eq!(Secret::new("short".into()).fingerprint(), "");
    }
}
