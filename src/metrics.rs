//! Prometheus metrics (`GET /metrics`). Request counters and histograms are updated when a request
//! ends; per-endpoint gauges (state, in flight) are handed in at scrape time by the caller, who
//! reads them from the endpoint actors. A leaf: this module knows no actor.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use prometheus::{Histogram, IntCounter};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The gateway's metric families. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Families>,
}

struct Families {
    registry: Registry,
    requests: IntCounterVec,
    attempts: prometheus::Histogram,
    failovers: IntCounterVec,
    failures: IntCounterVec,
    first_byte: HistogramVec,
    duration: HistogramVec,
    bytes: IntCounterVec,
    in_flight: IntGaugeVec,
    state: IntGaugeVec,
    model_cooldown: prometheus::GaugeVec,
    rectified: prometheus::IntCounter,
    session_moves: prometheus::IntCounter,
    fallbacks: IntCounterVec,
    /// Each endpoint's series, looked up by label once instead of on every request.
    kept: Mutex<HashMap<String, EndpointSeries, foldhash::fast::RandomState>>,
}

/// Endpoints whose series are kept at hand; past this many, each request looks its series up by
/// label, which gives the same figures a little slower.
const KEPT_ENDPOINTS: usize = 256;

/// One endpoint's per-request series, each made when first needed (so no series shows before
/// it has counted something).
#[derive(Default)]
struct EndpointSeries {
    /// `requests_total{status_class="2xx",outcome="ok"}`, the usual one.
    ok: Option<IntCounter>,
    first_byte: Option<Histogram>,
    duration: Option<Histogram>,
    bytes: Option<IntCounter>,
}

const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

impl Default for Metrics {
    fn default() -> Self {
        // Start-up only: these names and label sets are fixed and valid.
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "switchyard_requests_total",
                "Requests by endpoint that answered, status class and outcome",
            ),
            &["endpoint", "status_class", "outcome"],
        )
        .expect("valid metric");
        let attempts = prometheus::Histogram::with_opts(
            HistogramOpts::new(
                "switchyard_attempts_per_request",
                "Endpoints tried per request",
            )
            .buckets(vec![1.0, 2.0, 3.0, 4.0, 5.0, 8.0]),
        )
        .expect("valid metric");
        let failovers = IntCounterVec::new(
            Opts::new(
                "switchyard_failovers_total",
                "Attempts that failed and moved the request to another endpoint",
            ),
            &["endpoint"],
        )
        .expect("valid metric");
        let failures = IntCounterVec::new(
            Opts::new(
                "switchyard_upstream_failures_total",
                "Failed attempts by endpoint and kind (refused, timeout, cut, auth, rate_limited, quota, server_error, …)",
            ),
            &["endpoint", "kind"],
        )
        .expect("valid metric");
        let first_byte = HistogramVec::new(
            HistogramOpts::new(
                "switchyard_upstream_first_byte_seconds",
                "Time from sending to the upstream's response head",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["endpoint"],
        )
        .expect("valid metric");
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "switchyard_request_duration_seconds",
                "Time from the request's arrival to the end of its answer",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["endpoint"],
        )
        .expect("valid metric");
        let bytes = IntCounterVec::new(
            Opts::new(
                "switchyard_response_bytes_total",
                "Answer body bytes streamed to clients",
            ),
            &["endpoint"],
        )
        .expect("valid metric");
        let in_flight = IntGaugeVec::new(
            Opts::new(
                "switchyard_endpoint_in_flight",
                "Requests in flight per endpoint",
            ),
            &["endpoint"],
        )
        .expect("valid metric");
        let state = IntGaugeVec::new(
            Opts::new(
                "switchyard_endpoint_state",
                "1 for the endpoint's current state, 0 for the others",
            ),
            &["endpoint", "state"],
        )
        .expect("valid metric");
        let model_cooldown = prometheus::GaugeVec::new(
            Opts::new(
                "switchyard_model_cooldown_seconds",
                "Seconds until a rate-limited model may be sent to the endpoint again",
            ),
            &["endpoint", "model"],
        )
        .expect("valid metric");
        let rectified = prometheus::IntCounter::new(
            "switchyard_rectified_total",
            "Requests retried once without thinking blocks whose signatures another upstream made",
        )
        .expect("valid metric");
        let session_moves = prometheus::IntCounter::new(
            "switchyard_session_moves_total",
            "Requests whose sticky session moved to another endpoint because its own was out or failed",
        )
        .expect("valid metric");
        let fallbacks = IntCounterVec::new(
            Opts::new(
                "switchyard_fallbacks_total",
                "Requests moved on to a fallback model, by rule (its pattern) and the model tried",
            ),
            &["rule", "model"],
        )
        .expect("valid metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(attempts.clone()),
            Box::new(failovers.clone()),
            Box::new(failures.clone()),
            Box::new(first_byte.clone()),
            Box::new(duration.clone()),
            Box::new(bytes.clone()),
            Box::new(in_flight.clone()),
            Box::new(state.clone()),
            Box::new(model_cooldown.clone()),
            Box::new(rectified.clone()),
            Box::new(session_moves.clone()),
            Box::new(fallbacks.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Metrics {
            inner: Arc::new(Families {
                registry,
                requests,
                attempts,
                failovers,
                failures,
                first_byte,
                duration,
                bytes,
                in_flight,
                state,
                model_cooldown,
                rectified,
                session_moves,
                fallbacks,
                kept: Mutex::default(),
            }),
        }
    }
}

/// One endpoint's gauges at scrape time.
pub struct EndpointGauges<'a> {
    pub id: &'a str,
    pub in_flight: u32,
    /// The endpoint's state word.
    pub state: &'a str,
    /// `(model, seconds left)` of each rate-limited model.
    pub model_cooldowns: Vec<(&'a str, f64)>,
}

/// What one finished request contributes.
pub struct RequestRecord<'a> {
    /// The endpoint that answered (`none` when the gateway answered itself).
    pub endpoint: &'a str,
    pub status: u16,
    pub outcome: &'a str,
    pub attempts: usize,
    /// Endpoints that failed an attempt before another was tried.
    pub failed_over_from: &'a [&'a str],
    /// `(endpoint, kind)` of every failed attempt.
    pub failures: &'a [(&'a str, &'a str)],
    pub first_byte: Option<Duration>,
    pub duration: Duration,
    pub bytes: u64,
}

impl Metrics {
    /// The registry the families live in (for families kept elsewhere, such as usage).
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Counts a request retried without the thinking blocks another upstream signed.
    pub fn rectified(&self) {
        self.inner.rectified.inc();
    }

    /// Counts a request whose sticky session moved to another endpoint.
    pub fn session_moved(&self) {
        self.inner.session_moves.inc();
    }

    /// Counts a request moved on to the fallback `model` by the rule whose pattern is `rule`
    /// (both from the config, so the series stay few).
    pub fn fallback(&self, rule: &str, model: &str) {
        self.inner.fallbacks.with_label_values(&[rule, model]).inc();
    }

    /// Requests moved on to a fallback model by the rule whose pattern is `rule`, since start.
    pub fn fallbacks_by(&self, rule: &str) -> u64 {
        use prometheus::core::Collector;
        self.inner
            .fallbacks
            .collect()
            .iter()
            .flat_map(|family| family.get_metric())
            .filter(|metric| {
                metric
                    .get_label()
                    .iter()
                    .any(|label| label.name() == "rule" && label.value() == rule)
            })
            .map(|metric| metric.get_counter().get_value() as u64)
            .sum()
    }

    /// Counts a finished request.
    pub fn record(&self, r: &RequestRecord<'_>) {
        let m = &self.inner;
        let class = match r.status {
            0 => "none",
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        let mut kept = m.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if !kept.contains_key(r.endpoint) && kept.len() < KEPT_ENDPOINTS {
            kept.insert(r.endpoint.to_string(), EndpointSeries::default());
        }
        let mut this_request = EndpointSeries::default();
        let series = kept.get_mut(r.endpoint).unwrap_or(&mut this_request);
        let endpoint = [r.endpoint];
        if (class, r.outcome) == ("2xx", "ok") {
            series
                .ok
                .get_or_insert_with(|| m.requests.with_label_values(&[r.endpoint, "2xx", "ok"]))
                .inc();
        } else {
            m.requests
                .with_label_values(&[r.endpoint, class, r.outcome])
                .inc();
        }
        if let Some(t) = r.first_byte {
            series
                .first_byte
                .get_or_insert_with(|| m.first_byte.with_label_values(&endpoint))
                .observe(t.as_secs_f64());
        }
        series
            .duration
            .get_or_insert_with(|| m.duration.with_label_values(&endpoint))
            .observe(r.duration.as_secs_f64());
        if r.bytes > 0 {
            series
                .bytes
                .get_or_insert_with(|| m.bytes.with_label_values(&endpoint))
                .inc_by(r.bytes);
        }
        drop(kept);
        if r.attempts > 0 {
            m.attempts.observe(r.attempts as f64);
        }
        for from in r.failed_over_from {
            m.failovers.with_label_values(&[from]).inc();
        }
        for (endpoint, kind) in r.failures {
            m.failures.with_label_values(&[endpoint, kind]).inc();
        }
    }

    /// The Prometheus text exposition, with endpoint gauges from `endpoints`; `states` are all the
    /// state words (1 for an endpoint's own, 0 for the others).
    pub fn render(&self, endpoints: &[EndpointGauges<'_>], states: &[&str]) -> String {
        let m = &self.inner;
        m.in_flight.reset();
        m.state.reset();
        m.model_cooldown.reset();
        for e in endpoints {
            for (model, seconds) in &e.model_cooldowns {
                m.model_cooldown
                    .with_label_values(&[e.id, model])
                    .set(*seconds);
            }
            m.in_flight
                .with_label_values(&[e.id])
                .set(i64::from(e.in_flight));
            for word in states {
                m.state
                    .with_label_values(&[e.id, word])
                    .set(i64::from(e.state == *word));
            }
        }
        let mut out = Vec::new();
        if TextEncoder::new()
            .encode(&m.registry.gather(), &mut out)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(metrics: &Metrics, endpoint: &str, status: u16, outcome: &str, bytes: u64) {
        metrics.record(&RequestRecord {
            endpoint,
            status,
            outcome,
            attempts: 1,
            failed_over_from: &[],
            failures: &[],
            first_byte: (status != 0).then_some(Duration::from_millis(3)),
            duration: Duration::from_millis(7),
            bytes,
        });
    }

    /// The value of the series whose line starts with `prefix` (`None` when there is none).
    fn value(text: &str, prefix: &str) -> Option<f64> {
        let line = text.lines().find(|l| l.starts_with(prefix))?;
        line.rsplit(' ').next()?.parse().ok()
    }

    #[test]
    fn counts_stay_exact_past_the_kept_endpoints_and_no_series_shows_before_it_counts() {
        let metrics = Metrics::default();
        let endpoints: Vec<String> = (0..KEPT_ENDPOINTS + 40).map(|i| format!("e{i}")).collect();
        for (i, endpoint) in endpoints.iter().enumerate() {
            for _ in 0..=i % 3 {
                record(&metrics, endpoint, 200, "ok", 100);
            }
            record(&metrics, endpoint, 502, "upstream_error", 0);
        }
        record(&metrics, "only-failed", 0, "no_endpoint", 0);
        let text = metrics.render(&[], &[]);
        for (i, endpoint) in endpoints.iter().enumerate() {
            let ok = (i % 3 + 1) as f64;
            let requests = format!(
                "switchyard_requests_total{{endpoint=\"{endpoint}\",outcome=\"ok\",status_class=\"2xx\"}}"
            );
            assert_eq!(value(&text, &requests), Some(ok), "{endpoint}");
            let failed = format!("switchyard_requests_total{{endpoint=\"{endpoint}\",outcome=\"upstream_error\",status_class=\"5xx\"}}");
            assert_eq!(value(&text, &failed), Some(1.0), "{endpoint}");
            let bytes = format!("switchyard_response_bytes_total{{endpoint=\"{endpoint}\"}}");
            assert_eq!(value(&text, &bytes), Some(ok * 100.0), "{endpoint}");
            let durations =
                format!("switchyard_request_duration_seconds_count{{endpoint=\"{endpoint}\"}}");
            assert_eq!(value(&text, &durations), Some(ok + 1.0), "{endpoint}");
        }
        // An endpoint that never answered has no `ok`, bytes or first-byte series.
        assert!(
            !text.contains("endpoint=\"only-failed\",outcome=\"ok\""),
            "{text}"
        );
        assert!(!text.contains("bytes_total{endpoint=\"only-failed\"}"));
        assert!(!text.contains("first_byte_seconds_count{endpoint=\"only-failed\"}"));
        assert!(
            text.contains("switchyard_request_duration_seconds_count{endpoint=\"only-failed\"} 1")
        );
    }
}
