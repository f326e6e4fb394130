//! Per-model cooldowns: providers limit each model (class) on its own, so a 429 for one model
//! cools the endpoint for that model only, and other models keep using it. Plain code with the
//! clock passed in; the endpoint actor holds one beside its health.

use serde::Serialize;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// Models cooling down on one endpoint, each until a time the upstream gave.
#[derive(Debug, Default, Clone)]
pub struct ModelCooldowns {
    until: HashMap<String, Instant>,
}

/// One model's cooldown as `/admin/status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelCooldown {
    pub model: String,
    /// RFC 3339, UTC.
    pub until: String,
    pub retry_in_s: f64,
}

/// At most this many models are tracked per endpoint; the soonest to end is dropped beyond it.
const MAX_MODELS: usize = 256;

impl ModelCooldowns {
    /// Cools `model` until `until` (a later end wins over an earlier one).
    pub fn cool(&mut self, model: &str, until: Instant, now: Instant) {
        self.forget_expired(now);
        let end = self.until.entry(model.to_string()).or_insert(until);
        if *end < until {
            *end = until;
        }
        if self.until.len() > MAX_MODELS {
            if let Some(soonest) = self
                .until
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(m, _)| m.clone())
            {
                self.until.remove(&soonest);
            }
        }
    }

    /// When `model` may be sent again, if it is cooling down now.
    pub fn cooling_until(&self, model: &str, now: Instant) -> Option<Instant> {
        self.until.get(model).copied().filter(|at| *at > now)
    }

    /// Ends every cooldown (an operator's reset).
    pub fn clear(&mut self) {
        self.until.clear();
    }

    /// The cooldowns in force, soonest end first, for `/admin/status`.
    pub fn snapshot(&self, now: Instant, wall_now: std::time::SystemTime) -> Vec<ModelCooldown> {
        let mut list: Vec<(&String, Duration)> = self
            .until
            .iter()
            .filter(|(_, at)| **at > now)
            .map(|(m, at)| (m, *at - now))
            .collect();
        list.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(b.0)));
        list.into_iter()
            .map(|(model, wait)| ModelCooldown {
                model: model.clone(),
                until: format_rfc3339(wall_now + wait),
                retry_in_s: (wait.as_secs_f64() * 10.0).ceil() / 10.0,
            })
            .collect()
    }

    fn forget_expired(&mut self, now: Instant) {
        self.until.retain(|_, at| *at > now);
    }
}

/// `2026-11-23T10:00:12Z` for a wall-clock time.
pub fn format_rfc3339(at: std::time::SystemTime) -> String {
    crate::usage::clock::format_rfc3339(crate::usage::clock::unix_ms(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cooldown_holds_for_its_model_only_and_ends_on_time() {
        let t0 = Instant::now();
        let mut c = ModelCooldowns::default();
        c.cool("opus", t0 + Duration::from_secs(5), t0);
        assert_eq!(
            c.cooling_until("opus", t0),
            Some(t0 + Duration::from_secs(5))
        );
        assert_eq!(c.cooling_until("haiku", t0), None);
        assert_eq!(c.cooling_until("opus", t0 + Duration::from_secs(5)), None);
    }

    #[test]
    fn the_later_end_wins_and_reset_clears() {
        let t0 = Instant::now();
        let mut c = ModelCooldowns::default();
        c.cool("opus", t0 + Duration::from_secs(9), t0);
        c.cool("opus", t0 + Duration::from_secs(2), t0);
        assert_eq!(
            c.cooling_until("opus", t0),
            Some(t0 + Duration::from_secs(9))
        );
        c.clear();
        assert_eq!(c.cooling_until("opus", t0), None);
    }

    #[test]
    fn the_snapshot_lists_live_cooldowns_soonest_first() {
        let t0 = Instant::now();
        let wall = std::time::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let mut c = ModelCooldowns::default();
        c.cool("b", t0 + Duration::from_millis(2500), t0);
        c.cool("a", t0 + Duration::from_secs(30), t0);
        c.cool("gone", t0 + Duration::from_secs(1), t0);
        let s = c.snapshot(t0 + Duration::from_secs(1), wall);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].model.as_str(), s[0].retry_in_s), ("b", 1.5));
        assert_eq!(s[1].model, "a");
        assert!(s[1].until.ends_with('Z'));
    }

    #[test]
    fn the_map_is_bounded() {
        let t0 = Instant::now();
        let mut c = ModelCooldowns::default();
        for i in 0..(MAX_MODELS + 10) {
            c.cool(
                &format!("m{i}"),
                t0 + Duration::from_secs(10 + i as u64),
                t0,
            );
        }
        assert_eq!(c.until.len(), MAX_MODELS);
        assert_eq!(c.cooling_until("m0", t0), None, "the soonest went first");
    }

    #[test]
    fn wall_times_print_as_rfc3339() {
        let at = std::time::UNIX_EPOCH + Duration::from_secs(1_795_428_012);
        assert_eq!(format_rfc3339(at), "2026-11-23T10:00:12Z");
    }
}
