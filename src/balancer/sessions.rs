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

/// Session key → the endpoints that served it, bounded in size and age; and how often a session
/// moved. A session holds one endpoint per kind of request it makes (Claude Code asks a small
/// model beside its main one, which other endpoints may serve), most recent first.
#[derive(Debug, Clone)]
pub struct SessionTable {
    ttl: Duration,
    max_entries: usize,
    bindings: HashMap<String, (Vec<String>, Instant)>,
    /// Sessions moved off each endpoint (it was out, or failed the request), since the start.
    moves: BTreeMap<String, u64>,
}

/// At most this many endpoints are kept per session.
const ENDPOINTS_PER_SESSION: usize = 4;

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

    /// The endpoints bound to `key`, most recent first, if the binding is still fresh.
    pub fn get(&self, key: &str, now: Instant) -> Option<&[String]> {
        self.bindings
            .get(key)
            .filter(|(_, at)| now.duration_since(*at) < self.ttl)
            .map(|(ids, _)| ids.as_slice())
    }

    /// Binds `key` to `endpoint` (refreshing its age). `replacing` is the session's endpoint for
    /// this request, whose place `endpoint` takes: the session moved off it, and that endpoint is
    /// answered. Without one, `endpoint` joins the session's endpoints.
    pub fn bind(
        &mut self,
        key: &str,
        endpoint: &str,
        replacing: Option<&str>,
        now: Instant,
    ) -> Option<String> {
        if self.max_entries == 0 {
            return None;
        }
        let mut ids = self
            .get(key, now)
            .map(<[String]>::to_vec)
            .unwrap_or_default();
        let moved = replacing
            .filter(|from| *from != endpoint && ids.iter().any(|id| id == from))
            .map(str::to_string);
        if let Some(from) = &moved {
            ids.retain(|id| id != from);
            *self.moves.entry(from.clone()).or_default() += 1;
        }
        ids.retain(|id| id != endpoint);
        ids.insert(0, endpoint.to_string());
        ids.truncate(ENDPOINTS_PER_SESSION);
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
        self.bindings.insert(key.to_string(), (ids, now));
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

    /// Drops `endpoint` from the session `key` (it could not serve the session's request).
    pub fn unbind(&mut self, key: &str, endpoint: &str) {
        if let Some((ids, _)) = self.bindings.get_mut(key) {
            ids.retain(|id| id != endpoint);
            if ids.is_empty() {
                self.bindings.remove(key);
            }
        }
    }

    /// Drops every binding to `endpoint` (it left the config).
    pub fn unbind_endpoint(&mut self, endpoint: &str) {
        self.bindings.retain(|_, (ids, _)| {
            ids.retain(|id| id != endpoint);
            !ids.is_empty()
        });
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
        t.bind("s1", "a", None, now);
        assert_eq!(
            t.get("s1", now + Duration::from_secs(59)),
            Some(&["a".to_string()][..])
        );
        assert_eq!(t.get("s1", now + Duration::from_secs(60)), None);
        assert_eq!(t.get("s2", now), None);
    }

    #[test]
    fn the_table_stays_bounded() {
        let now = Instant::now();
        let mut t = SessionTable::new(Duration::from_secs(60), 3);
        for i in 0..10u64 {
            t.bind(&format!("s{i}"), "a", None, now + Duration::from_millis(i));
        }
        assert_eq!(t.len(), 3);
        assert!(t.get("s9", now).is_some());
        assert_eq!(t.get("s0", now), None);
        for e in ["a", "b", "c", "d", "e", "f"] {
            t.bind("s9", e, None, now);
        }
        assert_eq!(
            t.get("s9", now).map(<[String]>::len),
            Some(ENDPOINTS_PER_SESSION)
        );
    }

    #[test]
    fn a_session_keeps_an_endpoint_per_kind_of_request_and_a_replaced_one_is_a_move() {
        let now = Instant::now();
        let mut t = SessionTable::new(Duration::from_secs(60), 10);
        assert_eq!(
            t.bind("s1", "big", None, now),
            None,
            "a first binding is no move"
        );
        // A request the session's endpoints do not serve: its endpoint joins them.
        assert_eq!(t.bind("s1", "small", None, now), None);
        assert_eq!(t.bind("s1", "small", Some("small"), now), None);
        let ids = |t: &SessionTable| t.get("s1", now).map(<[String]>::to_vec);
        assert_eq!(ids(&t), Some(vec!["small".into(), "big".into()]));
        // `big` is out: `other` takes its place.
        assert_eq!(
            t.bind("s1", "other", Some("big"), now).as_deref(),
            Some("big")
        );
        assert_eq!(ids(&t), Some(vec!["other".into(), "small".into()]));
        // An expired binding is gone: binding the session again is no move.
        let later = now + Duration::from_secs(61);
        assert_eq!(t.bind("s1", "big", Some("other"), later), None);
        let stats = t.stats(true, later);
        assert_eq!((stats.bound, stats.moves), (1, 1));
        assert_eq!(stats.moved_from.get("big"), Some(&1));
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
        t.bind("s1", "a", None, now);
        t.bind("s2", "b", None, now);
        t.bind("s2", "a", None, now);
        t.unbind_endpoint("a");
        assert_eq!(t.get("s1", now), None);
        assert_eq!(t.get("s2", now), Some(&["b".to_string()][..]));
        t.unbind("s2", "b");
        assert!(t.is_empty());
    }
}
