//! [`UsageRecord`]: what one answer used and cost, as the meter ends it and the history keeps it.

use super::extract::Tokens;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// One answered request, as the request path reports it when the answer has ended.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRecord {
    /// When the answer ended.
    pub at: SystemTime,
    pub endpoint: Arc<str>,
    /// The model the client asked for.
    pub model: Arc<str>,
    /// The model sent upstream (after `model_map`).
    pub upstream_model: Arc<str>,
    /// `None` when the answer carried no usage.
    pub tokens: Option<Tokens>,
    pub status: u16,
    /// Time until the response head arrived.
    pub latency: Duration,
    /// `None` when no price is known (or the tokens are not).
    pub cost_usd: Option<f64>,
}
