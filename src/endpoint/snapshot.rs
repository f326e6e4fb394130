//! [`EndpointSnapshot`]: what `/admin/status`, `switchyard status` and the metrics read of one
//! endpoint, taken by its actor at one instant.

use super::health::{EndpointHealth, State};
use crate::config::EndpointConfig;
use serde::Serialize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// What `/admin/status` shows of one endpoint. Never the key, nor any part of it.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointSnapshot {
    pub id: String,
    pub base_url: String,
    /// The first 8 hex digits of the key's SHA-256 (empty for a short key): which key is in use.
    pub key_fingerprint: String,
    pub state: State,
    /// Whether the endpoint would take a request now (the health machine's own answer: an
    /// ended cooldown is selectable before its state word changes).
    pub selectable: bool,
    pub enabled: bool,
    pub consecutive_failures: u32,
    pub requests: u64,
    pub failures: u64,
    pub in_flight: u32,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    /// Unix time (seconds) of the last state change.
    pub changed_at: f64,
    /// Unix time (seconds) when a timed state ends.
    pub until: Option<f64>,
    /// Seconds left in a timed state.
    pub retry_in_s: Option<f64>,
    /// The peak-EWMA time to first byte (`null` before the first answer).
    pub latency_ewma_ms: Option<f64>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub priority: u32,
    pub weight: f64,
    pub models: Vec<String>,
    pub auth: &'static str,
    /// How often the supervisor restarted the endpoint's actor (its state is kept).
    pub actor_restarts: u32,
    /// Spend today and this month (UTC) against the endpoint's budget, if it has one.
    pub budget: Option<crate::usage::BudgetSnapshot>,
    /// Models rate-limited here (with `rate_limit_scope: model`), soonest end first.
    pub model_cooldowns: Vec<super::model_cooldowns::ModelCooldown>,
    /// The rate limits the upstream's latest successful answers announced (per model with
    /// `rate_limit_scope: model`), newest first.
    pub rate_limits: Vec<super::limits_seen::LimitsSnapshot>,
}

impl EndpointSnapshot {
    pub(super) fn of(config: &EndpointConfig, health: &EndpointHealth, now: Instant) -> Self {
        let wall_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let wall = |t: Instant| -> f64 {
            if t >= now {
                wall_now + (t - now).as_secs_f64()
            } else {
                wall_now - (now - t).as_secs_f64()
            }
        };
        let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
        let until = health.until();
        EndpointSnapshot {
            id: config.id.clone(),
            base_url: config.base_url.clone(),
            key_fingerprint: config.api_key.fingerprint(),
            state: health.state(),
            selectable: health.is_selectable(now),
            enabled: health.is_enabled(),
            consecutive_failures: health.consecutive_failures(),
            requests: health.requests(),
            failures: health.failures(),
            in_flight: health.in_flight(),
            last_status: health.last_status(),
            last_error: health.last_error().map(str::to_string),
            changed_at: (wall(health.changed_at()) * 1000.0).round() / 1000.0,
            until: until.map(|t| (wall(t) * 1000.0).round() / 1000.0),
            retry_in_s: until
                .filter(|t| *t > now)
                .map(|t| ((t - now).as_secs_f64() * 10.0).ceil() / 10.0),
            latency_ewma_ms: health.latency_estimate(now).map(ms),
            latency_p50_ms: health.latency_quantile(0.5).map(ms),
            latency_p95_ms: health.latency_quantile(0.95).map(ms),
            priority: config.priority,
            weight: config.weight,
            models: config.models.clone(),
            auth: config.auth.as_str(),
            actor_restarts: 0,
            budget: None,
            model_cooldowns: health.model_cooldowns(now),
            rate_limits: Vec::new(),
        }
    }
}
