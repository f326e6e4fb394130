//! The usage series of `/metrics`: `switchyard_tokens_total{endpoint,model,kind}`,
//! `switchyard_cost_usd_total{endpoint,model}` and the history file's health. Counted in memory
//! when a request ends (never read back from the file), registered into the gateway's registry.

use super::db::UsageRecord;
use super::store::StoreHealth;
use prometheus::{Counter, CounterVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// (endpoint, model) pairs whose counters are kept at hand; past this many, each answer looks its
/// counters up by label, which gives the same figures a little slower.
const KEPT_PAIRS: usize = 256;

/// One (endpoint, model) pair's counters, each made when first needed (an unpriced model has no
/// cost series).
#[derive(Default)]
struct Counters {
    tokens: Option<[IntCounter; 4]>,
    cost: Option<Counter>,
}

/// Counters by endpoint, then client model.
type Kept = HashMap<Arc<str>, HashMap<Arc<str>, Counters>>;

/// The usage metric families. Cheap to clone (the families are shared).
#[derive(Clone)]
pub struct UsageMetrics {
    tokens: IntCounterVec,
    cost: CounterVec,
    store_errors: IntGauge,
    store_dropped: IntGauge,
    store_pending: IntGauge,
    /// Looked up by label once per pair, not five times per answer.
    kept: Arc<Mutex<Kept>>,
}

/// Token kinds, in the order of [`Counters::tokens`].
const KINDS: [&str; 4] = ["input", "output", "cache_read", "cache_write"];

impl UsageMetrics {
    /// Creates the families and registers them; fails only if `registry` already has them.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let tokens = IntCounterVec::new(
            Opts::new(
                "switchyard_tokens_total",
                "Tokens read from answers, by endpoint, client model and kind (input, output, cache_read, cache_write)",
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

    /// Counts one answered request.
    pub fn observe(&self, record: &UsageRecord) {
        let cost = record.cost_usd.filter(|c| c.is_finite() && *c >= 0.0);
        if record.tokens.is_none() && cost.is_none() {
            return;
        }
        let (endpoint, model) = (&record.endpoint, &record.model);
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        let known = kept
            .get(&**endpoint)
            .is_some_and(|m| m.contains_key(&**model));
        let room = known || kept.values().map(HashMap::len).sum::<usize>() < KEPT_PAIRS;
        // Past the cap the pair's counters are looked up for this answer only.
        let mut this_answer = Counters::default();
        let counters = if room {
            kept.entry(endpoint.clone())
                .or_default()
                .entry(model.clone())
                .or_default()
        } else {
            &mut this_answer
        };
        if let Some(t) = &record.tokens {
            let tokens = counters.tokens.get_or_insert_with(|| {
                KINDS.map(|kind| self.tokens.with_label_values(&[endpoint, model, kind]))
            });
            for (counter, n) in tokens
                .iter()
                .zip([t.input, t.output, t.cache_read, t.cache_write])
            {
                counter.inc_by(n);
            }
        }
        if let Some(usd) = cost {
            counters
                .cost
                .get_or_insert_with(|| self.cost.with_label_values(&[endpoint, model]))
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
            tokens: Some(Tokens::new(10, 5, 100, 0)),
            status: 200,
            latency: Duration::ZERO,
            cost_usd: Some(0.25),
        };
        metrics.observe(&record);
        metrics.observe(&record);
        metrics.observe(&UsageRecord {
            tokens: None,
            cost_usd: None,
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
    fn counts_stay_exact_past_the_kept_pairs_and_unpriced_models_get_no_cost_series() {
        let registry = Registry::new();
        let metrics = UsageMetrics::register(&registry).expect("register");
        let record = |model: String, cost_usd: Option<f64>| UsageRecord {
            at: SystemTime::now(),
            endpoint: "e".into(),
            model: model.into(),
            upstream_model: "x".into(),
            tokens: Some(Tokens::new(1, 2, 0, 0)),
            status: 200,
            latency: Duration::ZERO,
            cost_usd,
        };
        let pairs = KEPT_PAIRS + 50;
        for round in 0..2 {
            for i in 0..pairs {
                let cost = (i % 2 == 0).then_some(0.5);
                metrics.observe(&record(format!("m{i}"), cost));
            }
            assert_eq!(
                metrics.kept.lock().expect("kept")["e"].len(),
                KEPT_PAIRS,
                "round {round}"
            );
        }
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&registry.gather(), &mut out)
            .expect("encode");
        let text = String::from_utf8(out).expect("utf-8");
        let series = |name: &str| -> Vec<(String, f64)> {
            text.lines()
                .filter_map(|line| line.strip_prefix(name)?.strip_prefix('{'))
                .filter_map(|rest| {
                    let (labels, value) = rest.rsplit_once("} ")?;
                    Some((labels.to_string(), value.parse().ok()?))
                })
                .collect()
        };
        let tokens = series("switchyard_tokens_total");
        assert_eq!(tokens.len(), pairs * 4);
        let output: Vec<&(String, f64)> = tokens
            .iter()
            .filter(|(l, _)| l.contains("kind=\"output\""))
            .collect();
        assert_eq!(output.len(), pairs);
        assert!(output.iter().all(|(_, v)| *v == 4.0), "{output:?}");
        let cost = series("switchyard_cost_usd_total");
        assert_eq!(
            cost.len(),
            pairs.div_ceil(2),
            "only priced models have a cost series"
        );
        assert!(cost.iter().all(|(_, v)| *v == 1.0), "{cost:?}");
    }
}
