//! What every endpoint uses and costs, as plain code: token usage read from answers as they pass
//! ([`extract`]), prices ([`price`]), budgets and their UTC windows ([`budget`]), the calendar
//! they count on ([`clock`]), and the [`UsageRecord`] of one answer. No actor, file or socket:
//! the config and the endpoint actors build on this room; what is kept of it (the history file,
//! its actor and its `/metrics` series) is the `history` room, above this one.
//!
//! The request path builds an [`AnswerMeter`] when an answer's head arrives, feeds it the body's
//! chunks as they are relayed, and at the end sends the resulting [`UsageRecord`] to the usage
//! history (and the cost to the endpoint's actor, which owns its [`BudgetTracker`]).

pub mod budget;
pub mod clock;
pub mod extract;
pub mod price;
mod record;

pub use budget::{Budget, BudgetSnapshot, BudgetTracker, OverBudget, Spent, Window};
pub use extract::{Kind, Tokens, Unknown, UsageReader, MAX_TOKENS};
pub use price::{builtin_price, Price, PriceSource, PriceTable, Rates};
pub use record::{agent_of, shared_agent_of, UsageRecord};

use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// What is known of an answer when its head arrives: who answered whom, with which model, and how.
#[derive(Debug, Clone)]
pub struct AnswerHead {
    pub endpoint: Arc<str>,
    /// The model the client asked for.
    pub model: Arc<str>,
    /// The model sent upstream.
    pub upstream_model: Arc<str>,
    /// Who asked: the client key's name or the agent ([`agent_of`]).
    pub client: Arc<str>,
    pub status: u16,
    /// Time to the answer's head.
    pub latency: Duration,
}

/// Follows one answer from its head to its end: reads its usage and, at the end, prices it.
#[derive(Debug)]
pub struct AnswerMeter {
    reader: UsageReader,
    head: AnswerHead,
    rates: Option<Rates>,
}

impl AnswerMeter {
    /// Starts metering an answer of `content_type`, priced at `rates` (`None`: no price is known).
    pub fn new(content_type: &str, head: AnswerHead, rates: Option<Rates>) -> Self {
        AnswerMeter {
            reader: UsageReader::for_content_type(content_type),
            head,
            rates,
        }
    }

    /// Takes the next chunk of the body (the same bytes the client gets; nothing is held back).
    pub fn feed(&mut self, chunk: &[u8]) {
        self.reader.feed(chunk);
    }

    /// The record of the answer, ended at `at` (complete or cut: what was seen counts). Usage
    /// fields that could not be used are logged; the cost counts the kinds that are known.
    pub fn finish(self, at: SystemTime) -> UsageRecord {
        let reading = self.reader.finish_reading();
        let head = self.head;
        if !reading.rejected.is_empty() {
            log::warn!(
                "endpoint {}: the usage of an answer for model {} has {}; recorded as unknown (a token count must be a whole number from 0 to {}), the other counts still count",
                head.endpoint,
                head.model.escape_debug(),
                describe_rejected(&reading.rejected),
                extract::MAX_TOKENS
            );
        }
        let tokens = reading.tokens;
        let priced = match (&tokens, &self.rates) {
            (Some(tokens), Some(rates)) if !tokens.unknown.is_all() => Some((rates, tokens)),
            _ => None,
        };
        UsageRecord {
            at,
            endpoint: head.endpoint,
            model: head.model,
            upstream_model: head.upstream_model,
            client: head.client,
            tokens,
            status: head.status,
            latency: head.latency,
            cost_usd: priced.map(|(rates, tokens)| rates.cost_usd(tokens)),
            cache_saved_usd: priced
                .map(|(rates, tokens)| price::nanos_to_usd(rates.saved_nanos(tokens))),
        }
    }
}

/// `input_tokens = -1, output_tokens named twice` (upstream text escaped for the log).
fn describe_rejected(rejected: &[extract::Rejected]) -> String {
    rejected
        .iter()
        .map(|r| match &r.value {
            None => format!("{} named twice", r.field),
            Some(value) => format!("{} = {}", r.field, value.escape_debug()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
pub(crate) fn head(endpoint: &str, model: &str, upstream_model: &str, status: u16) -> AnswerHead {
    AnswerHead {
        endpoint: endpoint.into(),
        model: model.into(),
        upstream_model: upstream_model.into(),
        client: "other".into(),
        status,
        latency: Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rates of the built-in table for `model` (no endpoint price, no price file).
    fn built_in(model: &str) -> Option<Rates> {
        PriceTable::default().rates_for(None, model)
    }

    #[test]
    fn a_metered_stream_becomes_a_priced_record() {
        let model = "claude-sonnet-4-5-20250929";
        let mut meter = AnswerMeter::new(
            "text/event-stream",
            AnswerHead {
                latency: Duration::from_millis(300),
                ..head("relay-a", "claude-sonnet-4-5", model, 200)
            },
            built_in(model),
        );
        let body = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":1000,\"output_tokens\":1}}}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":200}}\n\n",
        );
        for chunk in body.as_bytes().chunks(7) {
            meter.feed(chunk);
        }
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let record = meter.finish(at);
        assert_eq!(
            record.tokens.map(|t| (t.input, t.output)),
            Some((1000, 200))
        );
        // 1000 × $3/M + 200 × $15/M = $0.006
        assert_eq!(record.cost_usd.map(price::usd_to_nanos), Some(6_000_000));
        assert_eq!(record.cache_saved_usd, Some(0.0));
        assert_eq!(record.at, at);
        assert_eq!(&*record.upstream_model, "claude-sonnet-4-5-20250929");
    }

    #[test]
    fn a_one_hour_cache_write_is_priced_at_its_own_rate_and_cache_reads_save_the_input_price() {
        let model = "claude-sonnet-4-5";
        let mut meter = AnswerMeter::new(
            "application/json",
            head("a", model, model, 200),
            built_in(model),
        );
        meter.feed(
            br#"{"usage":{"input_tokens":1000,"cache_read_input_tokens":10000,"cache_creation_input_tokens":3000,
                "cache_creation":{"ephemeral_5m_input_tokens":1000,"ephemeral_1h_input_tokens":2000},"output_tokens":100}}"#,
        );
        let record = meter.finish(SystemTime::now());
        // 1000 × $3 + 10000 × $0.30 + 1000 × $3.75 + 2000 × $6 (2 × input) + 100 × $15, per
        // million: $0.02325. Priced at the 5-minute rate, the hour's writes would be $0.0075 less.
        assert_eq!(record.cost_usd.map(price::usd_to_nanos), Some(23_250_000));
        // 10000 cached tokens would have cost $3/M as input and cost $0.30/M: $0.027 saved.
        assert_eq!(
            record.cache_saved_usd.map(price::usd_to_nanos),
            Some(27_000_000)
        );
    }

    #[test]
    fn an_unpriced_model_or_an_answer_without_usage_has_no_cost() {
        let mut meter = AnswerMeter::new(
            "application/json",
            head("local", "llama", "llama", 200),
            built_in("llama"),
        );
        meter.feed(br#"{"usage":{"prompt_tokens":5,"completion_tokens":5}}"#);
        let record = meter.finish(SystemTime::now());
        assert!(record.tokens.is_some());
        assert_eq!((record.cost_usd, record.cache_saved_usd), (None, None));
        let own = Price::new(1.0, 1.0, 1.0, 1.0);
        let meter = AnswerMeter::new(
            "application/json",
            head("local", "llama", "llama", 500),
            Some(own.rates("llama")),
        );
        let record = meter.finish(SystemTime::now());
        assert_eq!((record.tokens, record.cost_usd), (None, None));
    }
}

#[cfg(test)]
mod unknown_count_tests {
    use super::*;

    fn meter(body: &str) -> UsageRecord {
        let price = Price::new(1.0, 2.0, 0.1, 1.25);
        let mut meter = AnswerMeter::new(
            "application/json",
            head("e", "m", "m", 200),
            Some(price.rates("m")),
        );
        meter.feed(body.as_bytes());
        meter.finish(SystemTime::now())
    }

    #[test]
    fn an_unknown_count_costs_nothing_and_the_known_ones_are_still_charged() {
        let record =
            meter(r#"{"usage":{"input_tokens":18446744073709551615,"output_tokens":500}}"#);
        let tokens = record.tokens.expect("usage was there");
        assert_eq!(
            (tokens.get(Kind::Input), tokens.get(Kind::Output)),
            (None, Some(500))
        );
        // 500 output tokens at $2 per million.
        assert_eq!(record.cost_usd.map(price::usd_to_nanos), Some(1_000_000));
        let record = meter(
            r#"{"usage":{"input_tokens":-1,"output_tokens":1.5,"cache_read_input_tokens":"7","cache_creation_input_tokens":1e9}}"#,
        );
        assert!(record.tokens.is_some_and(|t| t.unknown.is_all()));
        assert_eq!(record.cost_usd, None, "nothing known: unpriced, not free");
    }
}

/// Run by hand (figures only): `cargo test --locked --lib usage::meter_cost -- --ignored --nocapture`.
/// What reading usage costs the relay per chunk: an Anthropic stream of 1,000 text deltas, one
/// event per chunk, as the relay sees it.
#[cfg(test)]
#[test]
#[ignore]
fn meter_cost_per_chunk() {
    let mut events = vec![
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"usage\":{\"input_tokens\":1000,\"output_tokens\":1}}}\n\n".to_string(),
    ];
    for i in 0..1000 {
        events.push(format!("event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"word {i} \"}}}}\n\n"));
    }
    events.push("event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":1000}}\n\n".to_string());
    let rounds = 200;
    let began = std::time::Instant::now();
    for _ in 0..rounds {
        let mut meter = AnswerMeter::new(
            "text/event-stream",
            head("e", "claude-sonnet-4-5", "claude-sonnet-4-5", 200),
            PriceTable::default().rates_for(None, "claude-sonnet-4-5"),
        );
        for event in &events {
            meter.feed(event.as_bytes());
        }
        assert!(meter.finish(SystemTime::now()).tokens.is_some());
    }
    let per_chunk = began.elapsed() / (rounds * events.len() as u32);
    println!(
        "meter: {per_chunk:?} per chunk ({} chunks per stream)",
        events.len()
    );
}
