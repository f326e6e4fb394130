//! [`Parts`]: what the app factory builds once, on the worker's thread: the actors, and the
//! handles the handlers share. Each handle is registered as a `web::Data` of its own, so a
//! handler names only what it uses and nothing below the server knows how the app is put together.

use crate::admin::Started;
use crate::balancer::Balancer;
use crate::config::{Config, LiveConfig};
use crate::endpoint::StateSaved;
use crate::history::{EndpointSpend, UsageHistory, UsageMetrics};
use crate::metrics::Metrics;
use crate::proxy::BodyBudget;
use crate::supervisor::{self, Supervisor};
use actix::{Addr, Recipient};
use actix_web::web;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// The actors' addresses and the shared handles of the worker.
pub(super) struct Parts {
    /// The config in force; the supervisor replaces it on reload, every request reads it anew.
    pub live: web::Data<LiveConfig>,
    pub balancer: web::Data<Addr<Balancer>>,
    /// Told to reload by SIGHUP and the config file's watcher.
    pub supervisor: Addr<Supervisor>,
    /// The supervisor, as the admin routes see it: answers once the state file is written.
    pub state_saved: web::Data<Recipient<StateSaved>>,
    pub metrics: web::Data<Metrics>,
    /// The usage series of `/metrics`.
    pub usage_metrics: web::Data<UsageMetrics>,
    /// The request bodies held now, all requests together.
    pub bodies: web::Data<BodyBudget>,
    pub started: web::Data<Started>,
}

impl Parts {
    /// Starts the actors (on the calling worker's arbiter) and makes the handles its handlers
    /// share. `spend` seeds the endpoints' budgets.
    pub fn build(
        config: Arc<Config>,
        usage: UsageHistory,
        spend: &HashMap<String, EndpointSpend>,
    ) -> Parts {
        let live = Arc::new(LiveConfig::new(config));
        let (supervisor, balancer) = supervisor::start(live.clone(), usage, spend);
        let metrics = Metrics::default();
        // Start-up only: the families are new to this fresh registry.
        let usage_metrics =
            UsageMetrics::register(metrics.registry()).expect("usage metrics register once");
        Parts {
            live: web::Data::from(live),
            balancer: web::Data::new(balancer),
            state_saved: web::Data::new(supervisor.clone().recipient()),
            supervisor,
            metrics: web::Data::new(metrics),
            usage_metrics: web::Data::new(usage_metrics),
            bodies: web::Data::new(BodyBudget::default()),
            started: web::Data::new(Started(Instant::now())),
        }
    }
}
