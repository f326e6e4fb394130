//! Sticky sessions: a conversation's requests go to the endpoint that served it before (prompt
//! caches live per upstream). A bounded map with a time to live.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::time::Instant;

/// What makes two requests one conversation: a session the client names in a header, the cache
/// key or the user its body names, or (for a client that names none) the first content of its
/// conversation. Kinds are kept apart, so a header's `a` and a user `a` are two sessions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionKey(std::sync::Arc<str>);

impl SessionKey {
    /// The session a header (`x-claude-code-session-id`, `x-session-id`, `session-id`) names.
    pub fn from_header(value: &str) -> SessionKey {
        SessionKey(format!("session:{value}").into())
    }

    /// The user a request body's `metadata.user_id` names.
    pub fn from_user(user: &str) -> SessionKey {
        SessionKey(format!("user:{user}").into())
    }

    /// The cache key an OpenAI request body's `prompt_cache_key` names.
    pub fn from_cache_key(key: &str) -> SessionKey {
        SessionKey(format!("cache:{key}").into())
    }

    /// A conversation known by its first content, as the client wrote it (Gemini CLI names no
    /// session, and resends its first content unchanged on every request of a conversation): a
    /// digest, so that no prompt text is kept in the table.
    pub fn from_first_content(bytes: &[u8]) -> SessionKey {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(bytes);
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        SessionKey(format!("contents:{hex}").into())
    }

    /// The key as the session table stores it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Session key → endpoint id, bounded in size and age; and how often a session moved.
#[derive(Debug, Clone)]
pub struct SessionTable {
    ttl: Duration,
    max_entries: usize,
    bindings: HashMap<String, (String, Instant)>,
    /// Sessions moved off each endpoint (it was out, or failed the request), since the start.
    moves: BTreeMap<String, u64>,
}

/// What `/admin/status` shows of the sticky sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SessionStats {
    pub enabled: bool,
    /// Sessions bound to an endpoint now.
    pub bound: usize,
    /// Sessions moved to another endpoint because theirs was out or failed, since the start.
    pub moves: u64,
    /// The same moves by the endpoint the sessions left.
    pub moved_from: BTreeMap<String, u64>,
}

impl SessionTable {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        SessionTable {
            ttl,
            max_entries,
            bindings: HashMap::new(),
            moves: BTreeMap::new(),
        }
    }

    pub fn set_limits(&mut self, ttl: Duration, max_entries: usize) {
        self.ttl = ttl;
        self.max_entries = max_entries;
    }

    /// The endpoint id bound to `key`, if the binding is still fresh.
    pub fn get(&self, key: &str, now: Instant) -> Option<&str> {
        self.bindings
            .get(key)
            .filter(|(_, at)| now.duration_since(*at) < self.ttl)
            .map(|(id, _)| id.as_str())
    }

    /// Binds `key` to `endpoint` (refreshing its age). Answers the endpoint the session moved
    /// off, when it was bound to another one.
    pub fn bind(&mut self, key: &str, endpoint: &str, now: Instant) -> Option<String> {
        if self.max_entries == 0 {
            return None;
        }
        let moved = self
            .get(key, now)
            .filter(|bound| *bound != endpoint)
            .map(str::to_string);
        if let Some(from) = &moved {
            *self.moves.entry(from.clone()).or_default() += 1;
        }
        if !self.bindings.contains_key(key) && self.bindings.len() >= self.max_entries {
            self.bindings
                .retain(|_, (_, at)| now.duration_since(*at) < self.ttl);
            if self.bindings.len() >= self.max_entries {
                // Still full of fresh bindings: drop the oldest.
                if let Some(oldest) = self
                    .bindings
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(k, _)| k.clone())
                {
                    self.bindings.remove(&oldest);
                }
            }
        }
        match self.bindings.get_mut(key) {
            Some(entry) if entry.0 == endpoint => entry.1 = now,
            _ => {
                self.bindings
                    .insert(key.to_string(), (endpoint.to_string(), now));
            }
        }
        moved
    }

    /// The bindings still fresh at `now` and the moves counted so far.
    pub fn stats(&self, enabled: bool, now: Instant) -> SessionStats {
        SessionStats {
            enabled,
            bound: self
                .bindings
                .values()
                .filter(|(_, at)| now.duration_since(*at) < self.ttl)
                .count(),
            moves: self.moves.values().sum(),
            moved_from: self.moves.clone(),
        }
    }

    /// Drops every binding to `endpoint` (it left `healthy`).
    pub fn unbind_endpoint(&mut self, endpoint: &str) {
        self.bindings.retain(|_, (id, _)| id != endpoint);
    }

    pub fn len(&self) -> usize {
        self.bindings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binding_holds_until_its_ttl() {
        let now = Instant::now();
        let mut t = SessionTable::new(Duration::from_secs(60), 10);
        t.bind("s1", "a", now);
        assert_eq!(t.get("s1", now + Duration::from_secs(59)), Some("a"));
        assert_eq!(t.get("s1", now + Duration::from_secs(60)), None);
        assert_eq!(t.get("s2", now), None);
    }

    #[test]
    fn the_table_stays_bounded() {
        let now = Instant::now();
        let mut t = SessionTable::new(Duration::from_secs(60), 3);
        for i in 0..10u64 {
            t.bind(&format!("s{i}"), "a", now + Duration::from_millis(i));
        }
        assert_eq!(t.len(), 3);
        assert_eq!(t.get("s9", now), Some("a"));
        assert_eq!(t.get("s0", now), None);
    }

    #[test]
    fn a_session_bound_elsewhere_counts_a_move_off_its_endpoint() {
        let now = Instant::now();
        let mut t = SessionTable::new(Duration::from_secs(60), 10);
        assert_eq!(t.bind("s1", "a", now), None, "a first binding is no move");
        assert_eq!(t.bind("s1", "a", now), None);
        assert_eq!(t.bind("s1", "b", now).as_deref(), Some("a"));
        assert_eq!(t.bind("s2", "b", now), None);
        // An expired binding is gone: binding the session again is no move.
        assert_eq!(t.bind("s1", "a", now + Duration::from_secs(61)), None);
        let stats = t.stats(true, now + Duration::from_secs(61));
        assert_eq!((stats.bound, stats.moves), (1, 1));
        assert_eq!(stats.moved_from.get("a"), Some(&1));
    }

    #[test]
    fn keys_of_each_kind_are_apart_and_a_first_content_is_kept_as_a_digest() {
        let same = SessionKey::from_first_content(br#"{"role":"user","parts":[{"text":"hi"}]}"#);
        assert_eq!(
            same,
            SessionKey::from_first_content(br#"{"role":"user","parts":[{"text":"hi"}]}"#)
        );
        assert_ne!(same, SessionKey::from_first_content(br#"{"role":"user"}"#));
        assert!(same.as_str().starts_with("contents:") && !same.as_str().contains("hi"));
        assert_eq!(same.as_str().len(), "contents:".len() + 16);
        assert_ne!(
            SessionKey::from_header("a"),
            SessionKey::from_cache_key("a")
        );
        assert_ne!(SessionKey::from_user("a"), SessionKey::from_cache_key("a"));
    }

    #[test]
    fn bindings_to_an_endpoint_that_left_are_dropped() {
        let now = Instant::now();
        let mut t = SessionTable::new(Duration::from_secs(60), 10);
        t.bind("s1", "a", now);
        t.bind("s2", "b", now);
        t.unbind_endpoint("a");
        assert_eq!(t.get("s1", now), None);
        assert_eq!(t.get("s2", now), Some("b"));
    }
}
