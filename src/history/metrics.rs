//! The usage series of `/metrics`: `switchyard_tokens_total{endpoint,model,kind}` (the kinds of
//! [`TOKEN_KINDS`]), `switchyard_cost_usd_total{endpoint,model}` and the history file's health. Counted in memory
//! when a request ends (never read back from the file), registered into the gateway's registry.
//! Each endpoint has series for at most [`MODELS_PER_ENDPOINT`](super::MODELS_PER_ENDPOINT)
//! models (the first it counted since start) and `model="other"` for the rest.

use super::models::ModelNames;
use super::store::StoreHealth;
use crate::usage::{Kind, Tokens, UsageRecord};
use prometheus::{Counter, CounterVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry};
use std::collections::HashMap;

/// Looked up on every answer: foldhash rather than std's slower default SipHash.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
use std::sync::{Arc, Mutex};

/// The `kind` label's words and the count each reads: `cache_write` is both lifetimes
/// (`cache_write_5m` + `cache_write_1h`), and `reasoning` is a part of `output`.
pub const TOKEN_KINDS: [(&str, CountOf); 7] = [
    ("input", |t| t.count(Kind::Input)),
    ("output", |t| t.count(Kind::Output)),
    ("cache_read", |t| t.count(Kind::CacheRead)),
    ("cache_write", Tokens::cache_write),
    ("cache_write_5m", |t| t.count(Kind::CacheWrite5m)),
    ("cache_write_1h", |t| t.count(Kind::CacheWrite1h)),
    ("reasoning", |t| t.count(Kind::Reasoning)),
];

/// How a `kind` label's count is read from an answer's tokens.
pub type CountOf = fn(&Tokens) -> u64;

/// One (endpoint, model) pair's counters, each made when first needed (an unpriced model has no
/// cost series).
#[derive(Default)]
struct Counters {
    tokens: Option<[IntCounter; TOKEN_KINDS.len()]>,
    cost: Option<Counter>,
}

/// The names counted under and, by endpoint and then model name, their counters (looked up by
/// label once per pair, not five times per answer).
#[derive(Default)]
struct Kept {
    names: ModelNames,
    counters: FastMap<Arc<str>, FastMap<Arc<str>, Counters>>,
}

/// The usage metric families. Cheap to clone (the families are shared).
#[derive(Clone)]
pub struct UsageMetrics {
    tokens: IntCounterVec,
    cost: CounterVec,
    store_errors: IntGauge,
    store_dropped: IntGauge,
    store_pending: IntGauge,
    kept: Arc<Mutex<Kept>>,
}

impl UsageMetrics {
    /// Creates the families and registers them; fails only if `registry` already has them.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let tokens = IntCounterVec::new(
            Opts::new(
                "switchyard_tokens_total",
                "Tokens read from answers, by endpoint, client model and kind (input, output, cache_read, cache_write = cache_write_5m + cache_write_1h, reasoning: part of output)",
            ),
            &["endpoint", "model", "kind"],
        )?;
        let cost = CounterVec::new(
            Opts::new(
                "switchyard_cost_usd_total",
                "Cost in USD of answers with a known price, by endpoint and client model",
            ),
            &["endpoint", "model"],
        )?;
        let store_errors = IntGauge::new(
            "switchyard_usage_store_errors_total",
            "Failed attempts to open or write the usage history file since start",
        )?;
        let store_dropped = IntGauge::new(
            "switchyard_usage_store_dropped_total",
            "Usage records given up because the history file could not be written",
        )?;
        let store_pending = IntGauge::new(
            "switchyard_usage_store_pending",
            "Usage records waiting to be written to the history file",
        )?;
        registry.register(Box::new(tokens.clone()))?;
        registry.register(Box::new(cost.clone()))?;
        registry.register(Box::new(store_errors.clone()))?;
        registry.register(Box::new(store_dropped.clone()))?;
        registry.register(Box::new(store_pending.clone()))?;
        Ok(UsageMetrics {
            tokens,
            cost,
            store_errors,
            store_dropped,
            store_pending,
            kept: Arc::default(),
        })
    }

    /// Counts one answered request (under `model="other"` once its endpoint has series for
    /// [`MODELS_PER_ENDPOINT`](super::MODELS_PER_ENDPOINT) other models).
    pub fn observe(&self, record: &UsageRecord) {
        let cost = record.cost_usd.filter(|c| c.is_finite() && *c >= 0.0);
        if record.tokens.is_none() && cost.is_none() {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        let Kept { names, counters } = &mut *kept;
        let model = names.name_for(&record.endpoint, &record.model);
        let endpoint = &record.endpoint;
        let counters = counters
            .entry(endpoint.clone())
            .or_default()
            .entry(model.clone())
            .or_default();
        if let Some(t) = &record.tokens {
            let tokens = counters.tokens.get_or_insert_with(|| {
                TOKEN_KINDS
                    .map(|(kind, _)| self.tokens.with_label_values(&[endpoint, &model, kind]))
            });
            for (counter, (_, count)) in tokens.iter().zip(TOKEN_KINDS) {
                // A counter stops at its largest value rather than wrap to a small one.
                counter.inc_by(count(t).min(u64::MAX - counter.get()));
            }
        }
        if let Some(usd) = cost {
            counters
                .cost
                .get_or_insert_with(|| self.cost.with_label_values(&[endpoint, &model]))
                .inc_by(usd);
        }
    }

    pub fn set_store_health(&self, health: &StoreHealth) {
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.store_errors.set(clamp(health.write_errors));
        self.store_dropped.set(clamp(health.dropped));
        self.store_pending.set(clamp(health.pending));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::MODELS_PER_ENDPOINT;
    use crate::usage::extract::Tokens;
    use prometheus::{Encoder, TextEncoder};
    use std::time::{Duration, SystemTime};

    #[test]
    fn tokens_and_cost_are_counted_per_endpoint_model_and_kind() {
        let registry = Registry::new();
        let metrics = UsageMetrics::register(&registry).expect("register");
        let record = UsageRecord {
            at: SystemTime::now(),
            endpoint: "relay-a".into(),
            model: "claude-sonnet-4-5".into(),
            upstream_model: "x".into(),
            client: "codex".into(),
            tokens: Some(Tokens::new(10, 5, 100, 0)),
            status: 200,
            latency: Duration::ZERO,
            cost_usd: Some(0.25),
            cache_saved_usd: None,
        };
        metrics.observe(&record);
        metrics.observe(&record);
        metrics.observe(&UsageRecord {
            tokens: None,
            cost_usd: None,
            cache_saved_usd: None,
            ..record.clone()
        });
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&registry.gather(), &mut out)
            .expect("encode");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.contains(
            "switchyard_tokens_total{endpoint=\"relay-a\",kind=\"cache_read\",model=\"claude-sonnet-4-5\"} 200"
        ), "{text}");
        assert!(
            text.contains(
                "switchyard_cost_usd_total{endpoint=\"relay-a\",model=\"claude-sonnet-4-5\"} 0.5"
            ),
            "{text}"
        );
        assert!(UsageMetrics::register(&registry).is_err());
    }

    #[test]
    fn past_the_bound_an_endpoints_new_models_are_counted_exactly_under_other() {
        let registry = Registry::new();
        let metrics = UsageMetrics::register(&registry).expect("register");
        let record = |endpoint: &str, model: String, cost_usd: Option<f64>| UsageRecord {
            at: SystemTime::now(),
            endpoint: endpoint.into(),
            model: model.into(),
            upstream_model: "x".into(),
            client: "codex".into(),
            tokens: Some(Tokens::new(1, 2, 0, 0)),
            status: 200,
            latency: Duration::ZERO,
            cost_usd,
            cache_saved_usd: None,
        };
        let extra = 50;
        let models = MODELS_PER_ENDPOINT + extra;
        for _round in 0..2 {
            for i in 0..models {
                let cost = (i % 2 == 0).then_some(0.5);
                metrics.observe(&record("e", format!("m{i}"), cost));
            }
        }
        metrics.observe(&record("f", "m300".into(), None));
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&registry.gather(), &mut out)
            .expect("encode");
        let text = String::from_utf8(out).expect("utf-8");
        let series = |name: &str| -> Vec<(String, f64)> {
            text.lines()
                .filter_map(|line| line.strip_prefix(name)?.strip_prefix('{'))
                .filter(|rest| rest.contains("endpoint=\"e\""))
                .filter_map(|rest| {
                    let (labels, value) = rest.rsplit_once("} ")?;
                    Some((labels.to_string(), value.parse().ok()?))
                })
                .collect()
        };
        let output: Vec<(String, f64)> = series("switchyard_tokens_total")
            .into_iter()
            .filter(|(l, _)| l.contains("kind=\"output\""))
            .collect();
        assert_eq!(output.len(), MODELS_PER_ENDPOINT + 1);
        let other = |s: &[(String, f64)]| {
            s.iter()
                .find(|(l, _)| l.contains("model=\"other\""))
                .map(|(_, v)| *v)
        };
        // Two rounds of 2 output tokens per model.
        assert_eq!(other(&output), Some((extra * 4) as f64));
        assert!(output.iter().all(|(l, v)| l.contains("other") || *v == 4.0));
        let cost = series("switchyard_cost_usd_total");
        assert_eq!(
            cost.len(),
            MODELS_PER_ENDPOINT / 2 + 1,
            "priced models only, and other"
        );
        assert_eq!(other(&cost), Some((extra / 2) as f64 * 2.0 * 0.5));
        assert!(
            text.contains("endpoint=\"f\",kind=\"output\",model=\"m300\"} 2"),
            "another endpoint has room of its own"
        );
    }

    #[test]
    fn a_counter_stops_at_its_largest_value() {
        let registry = Registry::new();
        let metrics = UsageMetrics::register(&registry).expect("register");
        let record = UsageRecord {
            at: SystemTime::now(),
            endpoint: "e".into(),
            model: "m".into(),
            upstream_model: "m".into(),
            client: "codex".into(),
            tokens: Some(Tokens::new(u64::MAX - 1, 0, 0, 0)),
            status: 200,
            latency: Duration::ZERO,
            cost_usd: None,
            cache_saved_usd: None,
        };
        metrics.observe(&record);
        metrics.observe(&record);
        let input = metrics.tokens.with_label_values(&["e", "m", "input"]);
        assert_eq!(input.get(), u64::MAX);
    }
}
