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
pub use price::{builtin_price, cost_usd, price_for, Price};
pub use record::UsageRecord;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Follows one answer from its head to its end: reads its usage and, at the end, prices it.
#[derive(Debug)]
pub struct AnswerMeter {
    reader: UsageReader,
    endpoint: Arc<str>,
    model: Arc<str>,
    upstream_model: Arc<str>,
    status: u16,
    latency: Duration,
    price: Option<Price>,
}

impl AnswerMeter {
    /// Starts metering an answer. `endpoint_price` is the endpoint's `price`, if it has one;
    /// otherwise the built-in list price of `upstream_model` is used, if there is one.
    pub fn new(
        content_type: &str,
        endpoint: Arc<str>,
        model: Arc<str>,
        upstream_model: Arc<str>,
        status: u16,
        latency: Duration,
        endpoint_price: Option<&Price>,
    ) -> Self {
        AnswerMeter {
            reader: UsageReader::for_content_type(content_type),
            price: price_for(endpoint_price, &upstream_model),
            endpoint,
            model,
            upstream_model,
            status,
            latency,
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
        if !reading.rejected.is_empty() {
            log::warn!(
                "endpoint {}: the usage of an answer for model {} has {}; recorded as unknown (a token count must be a whole number from 0 to {}), the other counts still count",
                self.endpoint,
                self.model.escape_debug(),
                describe_rejected(&reading.rejected),
                extract::MAX_TOKENS
            );
        }
        let tokens = reading.tokens;
        let cost_usd = match (&tokens, &self.price) {
            (Some(tokens), Some(price)) if !tokens.unknown.is_all() => Some(price.cost_usd(tokens)),
            _ => None,
        };
        UsageRecord {
            at,
            endpoint: self.endpoint,
            model: self.model,
            upstream_model: self.upstream_model,
            tokens,
            status: self.status,
            latency: self.latency,
            cost_usd,
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
mod tests {
    use super::*;

    #[test]
    fn a_metered_stream_becomes_a_priced_record() {
        let mut meter = AnswerMeter::new(
            "text/event-stream",
            "relay-a".into(),
            "claude-sonnet-4-5".into(),
            "claude-sonnet-4-5-20250929".into(),
            200,
            Duration::from_millis(300),
            None,
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
        assert_eq!(record.at, at);
        assert_eq!(&*record.upstream_model, "claude-sonnet-4-5-20250929");
    }

    #[test]
    fn an_unpriced_model_or_an_answer_without_usage_has_no_cost() {
        let mut meter = AnswerMeter::new(
            "application/json",
            "local".into(),
            "llama".into(),
            "llama".into(),
            200,
            Duration::ZERO,
            None,
        );
        meter.feed(br#"{"usage":{"prompt_tokens":5,"completion_tokens":5}}"#);
        let record = meter.finish(SystemTime::now());
        assert!(record.tokens.is_some());
        assert_eq!(record.cost_usd, None);
        let own = Price::new(1.0, 1.0, 1.0, 1.0);
        let meter = AnswerMeter::new(
            "application/json",
            "local".into(),
            "llama".into(),
            "llama".into(),
            500,
            Duration::ZERO,
            Some(&own),
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
            "e".into(),
            "m".into(),
            "m".into(),
            200,
            Duration::ZERO,
            Some(&price),
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
            "e".into(),
            "claude-sonnet-4-5".into(),
            "claude-sonnet-4-5".into(),
            200,
            Duration::ZERO,
            None,
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
