//! [`Forwarding`]: the worker's shared parts that the forwarding handler uses, registered as one
//! `app_data`; [`Handles`]: the same, borrowed for one request.

use super::BodyBudget;
use crate::balancer::Balancer;
use crate::config::LiveConfig;
use crate::history::{UsageHistory, UsageMetrics};
use crate::metrics::Metrics;
use crate::upstream::WorkerClient;
use actix::Addr;
use actix_web::web;

/// Everything [`super::forward`] uses, found with one look-up in the request's app data (one
/// extractor per part costs a look-up and a reference count each, on every request). The admin
/// routes are given the same parts one by one.
pub struct Forwarding {
    pub live: web::Data<LiveConfig>,
    pub balancer: web::Data<Addr<Balancer>>,
    pub metrics: web::Data<Metrics>,
    pub bodies: web::Data<BodyBudget>,
    pub usage: UsageHistory,
    pub usage_metrics: web::Data<UsageMetrics>,
    /// The worker's upstream client.
    pub client: WorkerClient,
}

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

impl<'a> Handles<'a> {
    pub fn of(parts: &'a Forwarding) -> Handles<'a> {
        Handles {
            balancer: &parts.balancer,
            metrics: &parts.metrics,
            bodies: &parts.bodies,
            usage: &parts.usage,
            usage_metrics: &parts.usage_metrics,
        }
    }
}
