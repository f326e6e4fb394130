//! The usage series of `/metrics`: `switchyard_tokens_total{endpoint,model,kind}`,
//! `switchyard_cost_usd_total{endpoint,model}` and the history file's health. Counted in memory
//! when a request ends (never read back from the file), registered into the gateway's registry.

use super::db::UsageRecord;
use super::store::StoreHealth;
use prometheus::{CounterVec, IntCounterVec, IntGauge, Opts, Registry};

/// The usage metric families. Cheap to clone (the families are shared).
#[derive(Clone)]
pub struct UsageMetrics {
    tokens: IntCounterVec,
    cost: CounterVec,
    store_errors: IntGauge,
    store_dropped: IntGauge,
    store_pending: IntGauge,
}

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
        })
    }

    /// Counts one answered request.
    pub fn observe(&self, record: &UsageRecord) {
        if let Some(t) = &record.tokens {
            for (kind, n) in [
                ("input", t.input),
                ("output", t.output),
                ("cache_read", t.cache_read),
                ("cache_write", t.cache_write),
            ] {
                self.tokens
                    .with_label_values(&[&*record.endpoint, &*record.model, kind])
                    .inc_by(n);
            }
        }
        if let Some(usd) = record.cost_usd.filter(|c| c.is_finite() && *c >= 0.0) {
            self.cost
                .with_label_values(&[&*record.endpoint, &*record.model])
                .inc_by(usd);
        }
    }

    /// Copies the store's counters in (at scrape time).
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
            tokens: Some(Tokens {
                input: 10,
                output: 5,
                cache_read: 100,
                cache_write: 0,
            }),
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
}
