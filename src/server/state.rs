//! [`AppState`]: what the server hands every request handler of its worker.

use crate::balancer::Balancer;
use crate::config::{Config, LiveConfig};
use crate::history::{UsageHistory, UsageMetrics};
use crate::metrics::Metrics;
use crate::supervisor::Supervisor;
use actix::Addr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// What every request handler of a worker shares: the actors' addresses and the config in force.
pub struct AppState {
    pub balancer: Addr<Balancer>,
    pub supervisor: Addr<Supervisor>,
    /// The config in force; the supervisor replaces it on reload.
    pub live: Arc<LiveConfig>,
    pub started: Instant,
    pub metrics: Metrics,
    /// The addresses the gateway listens on, as `host:port` (set once the sockets are bound).
    pub listen: Arc<OnceLock<Vec<String>>>,
    /// The usage history (records are sent, never waited for).
    pub usage: UsageHistory,
    /// The usage series of `/metrics`.
    pub usage_metrics: UsageMetrics,
    /// The request bodies held now, all requests together.
    pub bodies: crate::proxy::BodyBudget,
}

impl AppState {
    /// The config in force for a new request.
    pub fn config(&self) -> Arc<Config> {
        self.live.get()
    }

    /// The last reload's error, if the last reload failed.
    pub fn config_error(&self) -> Option<String> {
        self.live.error().map(|e| e.to_string())
    }
}
