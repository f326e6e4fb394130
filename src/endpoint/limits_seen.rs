//! The rate limits an endpoint's upstream announced in its latest successful answers (the
//! `anthropic-ratelimit-*` and `x-ratelimit-*` headers), so that a user sees a limit coming before
//! it bites. Kept per model where rate limits are scoped to models (`rate_limit_scope: model`:
//! providers limit each model class on its own), else once for the endpoint. Plain code with the
//! clock passed in; the endpoint actor holds one.

use crate::upstream::ratelimit::{Budget, RateLimits};
use serde::Serialize;
use std::time::SystemTime;

/// The latest limits seen, newest first.
#[derive(Debug, Default, Clone)]
pub struct LimitsSeen {
    latest: Vec<Seen>,
}

#[derive(Debug, Clone)]
struct Seen {
    /// The model the answer was for (the name sent upstream); `None` for the endpoint as a whole.
    model: Option<String>,
    limits: RateLimits,
    at: SystemTime,
}

/// At most this many models' limits are kept per endpoint; the oldest goes beyond it.
const MAX_MODELS: usize = 32;

/// The limits of one model (or of the endpoint) as `/admin/status` shows them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimitsSnapshot {
    /// The model they apply to; `null` when they are the endpoint's.
    pub model: Option<String>,
    /// Seconds since the answer that carried them.
    pub age_s: f64,
    pub requests: Option<BudgetSnapshot>,
    pub tokens: Option<BudgetSnapshot>,
    pub input_tokens: Option<BudgetSnapshot>,
    pub output_tokens: Option<BudgetSnapshot>,
}

/// One budget: what was left of how much, and when it is whole again.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetSnapshot {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// RFC 3339, UTC.
    pub resets_at: Option<String>,
    /// Seconds until then (0 once it has passed).
    pub reset_in_s: Option<f64>,
}

impl LimitsSeen {
    /// Keeps what an answer for `model` announced; `by_model` when limits are scoped to models.
    pub fn record(
        &mut self,
        model: Option<&str>,
        by_model: bool,
        limits: RateLimits,
        now: SystemTime,
    ) {
        let model = model.filter(|_| by_model).map(str::to_string);
        self.latest.retain(|seen| seen.model != model);
        self.latest.insert(
            0,
            Seen {
                model,
                limits,
                at: now,
            },
        );
        self.latest.truncate(MAX_MODELS);
    }

    /// Forgets everything (an operator's reset, or a change of scope).
    pub fn clear(&mut self) {
        self.latest.clear();
    }

    /// The limits kept, newest first, for `/admin/status`.
    pub fn snapshot(&self, now: SystemTime) -> Vec<LimitsSnapshot> {
        let budget = |b: Option<Budget>| {
            b.map(|b| BudgetSnapshot {
                limit: b.limit,
                remaining: b.remaining,
                resets_at: b.reset.map(super::model_cooldowns::format_rfc3339),
                reset_in_s: b.reset.map(|at| {
                    let left = at.duration_since(now).unwrap_or_default();
                    (left.as_secs_f64() * 10.0).ceil() / 10.0
                }),
            })
        };
        self.latest
            .iter()
            .map(|seen| LimitsSnapshot {
                model: seen.model.clone(),
                age_s: (now
                    .duration_since(seen.at)
                    .unwrap_or_default()
                    .as_secs_f64()
                    * 10.0)
                    .round()
                    / 10.0,
                requests: budget(seen.limits.requests),
                tokens: budget(seen.limits.tokens),
                input_tokens: budget(seen.limits.input_tokens),
                output_tokens: budget(seen.limits.output_tokens),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits(remaining: u64, reset: SystemTime) -> RateLimits {
        RateLimits {
            requests: Some(Budget {
                limit: Some(1000),
                remaining: Some(remaining),
                reset: Some(reset),
            }),
            ..RateLimits::default()
        }
    }

    #[test]
    fn the_latest_limits_are_kept_per_model_when_scoped_and_once_otherwise() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let s = Duration::from_secs(1);
        let mut seen = LimitsSeen::default();
        seen.record(Some("opus"), true, limits(900, now + 30 * s), now);
        seen.record(Some("haiku"), true, limits(500, now + 30 * s), now + s);
        seen.record(Some("opus"), true, limits(812, now + 34 * s), now + 2 * s);
        let shown = seen.snapshot(now + 2 * s);
        let models: Vec<_> = shown.iter().map(|l| l.model.as_deref()).collect();
        assert_eq!(models, [Some("opus"), Some("haiku")], "newest first");
        let requests = shown[0].requests.as_ref().expect("requests");
        assert_eq!(
            (requests.limit, requests.remaining),
            (Some(1000), Some(812))
        );
        assert_eq!(requests.reset_in_s, Some(32.0));
        assert_eq!(requests.resets_at.as_deref(), Some("2027-01-15T08:00:34Z"));
        assert_eq!(shown[1].age_s, 1.0);
        assert_eq!(shown[0].tokens, None);

        let mut whole = LimitsSeen::default();
        whole.record(Some("opus"), false, limits(3, now), now);
        whole.record(Some("haiku"), false, limits(2, now), now);
        let shown = whole.snapshot(now + 5 * s);
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].model, None);
        let requests = shown[0].requests.as_ref().expect("requests");
        assert_eq!(requests.remaining, Some(2));
        assert_eq!(requests.reset_in_s, Some(0.0), "a passed reset is 0");
    }

    #[test]
    fn the_models_kept_are_bounded() {
        let now = SystemTime::UNIX_EPOCH;
        let mut seen = LimitsSeen::default();
        for i in 0..100 {
            seen.record(Some(&format!("m{i}")), true, limits(1, now), now);
        }
        let shown = seen.snapshot(now);
        assert_eq!(shown.len(), MAX_MODELS);
        assert_eq!(shown[0].model.as_deref(), Some("m99"));
        seen.clear();
        assert!(seen.snapshot(now).is_empty());
    }
}
