//! The usage of one relayed answer: read from its bytes as they pass (never holding one back) and,
//! when the request ends (complete, cut or abandoned by the client), recorded in the usage
//! history, counted in `/metrics`, charged to the endpoint's budget and shown in the access log.

use super::report::Attempt;
use super::Handles;
use crate::endpoint::EndpointAddr;
use crate::history::{UsageHistory, UsageMetrics};
use crate::usage::{AnswerHead, AnswerMeter, Kind, PriceTable, Spent, UsageRecord};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// An answer's meter and where its record goes.
pub struct UsageTap {
    meter: AnswerMeter,
    history: UsageHistory,
    metrics: UsageMetrics,
    endpoint: EndpointAddr,
}

/// Who answered and what was asked, for the record.
pub struct Answered<'a> {
    pub content_type: &'a str,
    pub endpoint: &'a crate::config::EndpointConfig,
    pub addr: EndpointAddr,
    /// The client's model (`-` when the request named none).
    pub model: Option<&'a Arc<str>>,
    /// The name the endpoint received for it (the attempt worked it out).
    pub upstream_model: Option<&'a Arc<str>>,
    /// Who asked ([`crate::usage::agent_of`]).
    pub client: &'a Arc<str>,
    /// The price file's rows, over the built-in table.
    pub prices: &'a PriceTable,
    pub status: u16,
    /// Time to the answer's head.
    pub latency: Duration,
}

impl UsageTap {
    /// Starts metering an answer as its head arrives.
    pub(super) fn new(state: &Handles<'_>, answered: Answered<'_>) -> Self {
        let model = answered.model.cloned().unwrap_or_else(|| Arc::from("-"));
        let upstream_model = answered
            .upstream_model
            .cloned()
            .unwrap_or_else(|| model.clone());
        let rates = answered
            .prices
            .rates_for_kept(answered.endpoint.price.as_ref(), &upstream_model);
        UsageTap {
            meter: AnswerMeter::new(
                answered.content_type,
                AnswerHead {
                    endpoint: answered.endpoint.wire.shared_id.clone(),
                    model,
                    upstream_model,
                    client: answered.client.clone(),
                    status: answered.status,
                    latency: answered.latency,
                },
                rates,
            ),
            history: state.usage.clone(),
            metrics: state.usage_metrics.clone(),
            endpoint: answered.addr,
        }
    }

    /// Reads the next relayed chunk.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.meter.feed(chunk);
    }

    /// Ends the answer: counts and sends its record (the disk is never waited for) and charges
    /// its cost to the endpoint's budget, with the outcome of `attempt` (the one that answered)
    /// when it is still to be reported. An answer that carried no usage (an error, an unknown
    /// model's 404) costs nothing and leaves no record. Returns the record for the access log when
    /// it is `logged`.
    pub fn finish(self, attempt: Option<&mut Attempt>, logged: bool) -> Option<UsageRecord> {
        let at = SystemTime::now();
        let record = self.meter.finish(at);
        if record.tokens.is_none() {
            return logged.then_some(record);
        }
        self.metrics.observe(&record);
        if let Some(usd) = record.cost_usd.filter(|c| *c > 0.0) {
            match attempt {
                Some(attempt) => attempt.charge(Spent { usd, at }),
                None => self.endpoint.do_send(Spent { usd, at }),
            }
        }
        if !logged {
            // Nothing else reads it: it goes to the history as it is.
            self.history.record(record);
            return None;
        }
        self.history.record(record.clone());
        Some(record)
    }
}

/// The access log's words for a record: `client=… tokens=in/out/cache_read/cache_write
/// cost_usd=…` (cache writes of both lifetimes; `-` for what is unknown), and
/// `cache_write_1h=…` when the answer wrote for an hour.
pub fn log_words(record: Option<&UsageRecord>) -> String {
    let Some(record) = record else {
        return String::new();
    };
    let shown = |n: Option<u64>| n.map_or_else(|| "-".to_string(), |n| n.to_string());
    let mut hour = String::new();
    let tokens = match &record.tokens {
        Some(t) => {
            let write = match (t.get(Kind::CacheWrite5m), t.get(Kind::CacheWrite1h)) {
                (Some(five), Some(h)) => Some(five.saturating_add(h)),
                _ => None,
            };
            if t.cache_write_1h > 0 {
                hour = format!(" cache_write_1h={}", t.cache_write_1h);
            }
            [
                t.get(Kind::Input),
                t.get(Kind::Output),
                t.get(Kind::CacheRead),
                write,
            ]
            .map(shown)
            .join("/")
        }
        None => "-".to_string(),
    };
    let cost = record
        .cost_usd
        .map_or_else(|| "-".to_string(), |c| format!("{c:.6}"));
    format!(
        " client={} tokens={tokens}{hour} cost_usd={cost}",
        record.client
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::Tokens;

    #[test]
    fn the_log_shows_the_client_tokens_by_kind_and_the_cost_or_a_dash() {
        let mut record = UsageRecord {
            at: SystemTime::UNIX_EPOCH,
            endpoint: "a".into(),
            model: "m".into(),
            upstream_model: "m".into(),
            client: "codex".into(),
            tokens: Some(Tokens::new(10, 5, 2, 1)),
            status: 200,
            latency: Duration::ZERO,
            cost_usd: Some(0.0015),
            cache_saved_usd: Some(0.0),
        };
        assert_eq!(
            log_words(Some(&record)),
            " client=codex tokens=10/5/2/1 cost_usd=0.001500"
        );
        if let Some(t) = record.tokens.as_mut() {
            t.unknown.insert(Kind::Input);
            t.cache_write_1h = 4;
        }
        assert_eq!(
            log_words(Some(&record)),
            " client=codex tokens=-/5/2/5 cache_write_1h=4 cost_usd=0.001500"
        );
        record.tokens = None;
        record.cost_usd = None;
        assert_eq!(
            log_words(Some(&record)),
            " client=codex tokens=- cost_usd=-"
        );
        assert_eq!(log_words(None), "");
    }
}
