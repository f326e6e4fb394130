//! Sticky sessions: a conversation's requests go to the endpoint that served it before (prompt
//! caches live per upstream). A bounded map with a time to live.

use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// What makes two requests one conversation: a session the client names in a header, or the user
/// its body names. Kinds are kept apart, so a header's `a` and a user `a` are two sessions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionKey(std::sync::Arc<str>);

impl SessionKey {
    /// The session a header (`x-claude-code-session-id`, `x-session-id`) names.
    pub fn from_header(value: &str) -> SessionKey {
        SessionKey(format!("session:{value}").into())
    }

    /// The user a request body's `metadata.user_id` names.
    pub fn from_user(user: &str) -> SessionKey {
        SessionKey(format!("user:{user}").into())
    }

    /// The key as the session table stores it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Session key → endpoint id, bounded in size and age.
#[derive(Debug, Clone)]
pub struct SessionTable {
    ttl: Duration,
    max_entries: usize,
    bindings: HashMap<String, (String, Instant)>,
}

impl SessionTable {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        SessionTable {
            ttl,
            max_entries,
            bindings: HashMap::new(),
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

    /// Binds `key` to `endpoint` (refreshing its age).
    pub fn bind(&mut self, key: &str, endpoint: &str, now: Instant) {
        if self.max_entries == 0 {
            return;
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
