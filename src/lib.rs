//! switchyard: a local gateway that gives every LLM client on a workstation one base URL and sends
//! each request to a healthy upstream endpoint.
//!
//! Data flows one way: a request comes in ([`proxy`]), the [`balancer::Balancer`] actor asks the
//! [`endpoint::Endpoint`] actors `IsHealthy` and picks one, the request is forwarded and streamed
//! back, and the outcome goes as a message to the endpoint's actor, the only owner of its health.
//! The [`supervisor::Supervisor`] starts and reloads the actors; [`admin`] shows what they do.
#![forbid(unsafe_code)]

pub mod admin;
pub mod auth;
pub mod balancer;
pub mod cli;
pub mod config;
pub mod endpoint;
pub mod metrics;
pub mod mock;
pub mod proxy;
mod secret;
pub mod server;
pub mod supervisor;
pub mod upstream;
pub mod words;

pub use secret::Secret;

use actix::Addr;
use config::Config;
use std::sync::{Arc, RwLock};

/// What every request handler of a worker shares: the Balancer's address and the config in force.
pub struct AppState {
    pub balancer: Addr<balancer::Balancer>,
    pub supervisor: Addr<supervisor::Supervisor>,
    config: RwLock<Arc<Config>>,
    config_error: RwLock<Option<String>>,
    pub started: std::time::Instant,
    pub metrics: metrics::Metrics,
    /// The addresses the gateway listens on, as `host:port` (set once the sockets are bound).
    pub listen: Arc<std::sync::OnceLock<Vec<String>>>,
}

impl AppState {
    pub fn new(
        balancer: Addr<balancer::Balancer>,
        supervisor: Addr<supervisor::Supervisor>,
        config: Arc<Config>,
        listen: Arc<std::sync::OnceLock<Vec<String>>>,
    ) -> Self {
        AppState {
            balancer,
            supervisor,
            config: RwLock::new(config),
            config_error: RwLock::new(None),
            started: std::time::Instant::now(),
            metrics: metrics::Metrics::default(),
            listen,
        }
    }

    /// The config in force for a new request.
    pub fn config(&self) -> Arc<Config> {
        match self.config.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Puts a reloaded config in force for new requests.
    pub fn set_config(&self, config: Arc<Config>) {
        match self.config.write() {
            Ok(mut guard) => *guard = config,
            Err(poisoned) => *poisoned.into_inner() = config,
        }
    }

    /// The last reload's error, if the last reload failed.
    pub fn config_error(&self) -> Option<String> {
        match self.config_error.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn set_config_error(&self, error: Option<String>) {
        match self.config_error.write() {
            Ok(mut guard) => *guard = error,
            Err(poisoned) => *poisoned.into_inner() = error,
        }
    }
}
