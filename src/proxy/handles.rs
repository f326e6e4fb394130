//! [`Handles`]: the worker's shared parts that one request uses, borrowed from the `web::Data`
//! its handler was given (the server registers each on its own).

use super::BodyBudget;
use crate::balancer::Balancer;
use crate::history::{UsageHistory, UsageMetrics};
use crate::metrics::Metrics;
use actix::Addr;

/// What the request path asks, counts in and sends to, for the whole of one request.
pub(super) struct Handles<'a> {
    /// Asked for an endpoint before each attempt.
    pub balancer: &'a Addr<Balancer>,
    pub metrics: &'a Metrics,
    /// The request bodies held now, all requests together.
    pub bodies: &'a BodyBudget,
    /// Where an answer's usage record goes (sent, never waited for).
    pub usage: &'a UsageHistory,
    /// The usage series of `/metrics`.
    pub usage_metrics: &'a UsageMetrics,
}
