//! [`LiveConfig`]: the config in force, shared by the request handlers (which read it) and the
//! supervisor (which replaces it on reload), with the last reload's error.

use super::error::ReloadError;
use super::settings::Config;
use std::sync::{Arc, RwLock};

/// The config in force and the last reload's error. A poisoned lock still gives its value: a
/// panic elsewhere must not take the config away.
#[derive(Debug)]
pub struct LiveConfig {
    config: RwLock<Arc<Config>>,
    error: RwLock<Option<Arc<ReloadError>>>,
}

impl LiveConfig {
    /// Starts with `config` in force and no error.
    pub fn new(config: Arc<Config>) -> Self {
        LiveConfig {
            config: RwLock::new(config),
            error: RwLock::new(None),
        }
    }

    /// The config in force for a new request.
    pub fn get(&self) -> Arc<Config> {
        read(&self.config)
    }

    /// Puts a reloaded config in force for new requests.
    pub fn set(&self, config: Arc<Config>) {
        write(&self.config, config);
    }

    /// The last reload's error, if the last reload failed.
    pub fn error(&self) -> Option<Arc<ReloadError>> {
        read(&self.error)
    }

    /// Records the outcome of a reload: its error, or `None` when it succeeded.
    pub fn set_error(&self, error: Option<Arc<ReloadError>>) {
        write(&self.error, error);
    }
}

fn read<T: Clone>(lock: &RwLock<T>) -> T {
    match lock.read() {
        Ok(guard) => guard.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

fn write<T>(lock: &RwLock<T>, value: T) {
    match lock.write() {
        Ok(mut guard) => *guard = value,
        Err(poisoned) => *poisoned.into_inner() = value,
    }
}
