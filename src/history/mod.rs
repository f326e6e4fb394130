//! What is kept of usage: the history file ([`db`], SQLite), the actor that owns it on a thread
//! of its own ([`store`]: the request path sends records and never waits), the bound on the model
//! names it keeps per endpoint ([`models`]), and the usage series of `/metrics` ([`metrics`]).
//! Built on the plain [`crate::usage`] room; `/admin/usage` and the status page read it through
//! [`UsageHistory`].

pub mod db;
pub mod metrics;
pub mod models;
pub mod rows;
pub mod store;

pub use db::{Dimension, EndpointSpend, StoreError, UsageTable};
pub use metrics::UsageMetrics;
pub use models::{ModelNames, MODELS_PER_ENDPOINT, OTHER_MODEL};
pub use store::{StoreHealth, StoreSettings, UsageHistory};
