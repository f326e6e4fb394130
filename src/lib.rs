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
pub mod onboard;
pub mod proxy;
pub mod server;
pub mod supervisor;
pub mod upstream;

use actix::Addr;
use config::Config;
use std::fmt;
use std::sync::{Arc, RwLock};

/// A key (upstream or client). Printing it never shows it: `Debug` and `redacted` give at most a hint.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    /// The key itself, for the one place that must send or compare it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// At most the last four characters, and only of a key long enough that they give nothing away.
    pub fn hint(&self) -> String {
        let n = self.0.chars().count();
        if n >= 16 {
            let tail: String = self.0.chars().skip(n - 4).collect();
            format!("…{tail}")
        } else {
            String::new()
        }
    }

    /// How `check` and logs show a key: `(empty)` or `(set, …abcd)`.
    pub fn redacted(&self) -> String {
        match (self.0.is_empty(), self.hint()) {
            (true, _) => "(empty)".to_string(),
            (false, hint) if hint.is_empty() => "(set)".to_string(),
            (false, hint) => format!("(set, {hint})"),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret{}", self.redacted())
    }
}

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

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn secrets_never_print_themselves() {
        let s = Secret::new("sk-ant-api03-abcdefghijklmnop".into());
        assert_eq!(s.hint(), "…mnop");
        assert!(!format!("{s:?}").contains("abcdefgh"));
        assert_eq!(Secret::new("short".into()).hint(), "");
        assert_eq!(Secret::new("short".into()).redacted(), "(set)");
        assert_eq!(Secret::default().redacted(), "(empty)");
    }
}
