//! The rows the history stores: answers that share a second, endpoint, client model, upstream
//! model, client, status, and which token kinds and whether the cost are known, summed. Every
//! query sums, so the history answers the same as with one row per request. Records are folded
//! into rows as they come, on the thread that answered them, so the store's thread is handed a
//! few rows rather than a record per request.

use crate::usage::{clock, Tokens, Unknown, UsageRecord};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Arc;

/// One row: the answers of one key, summed.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The start of the second in which the answers ended.
    pub at_ms: i64,
    pub endpoint: Arc<str>,
    pub model: Arc<str>,
    pub upstream_model: Arc<str>,
    pub client: Arc<str>,
    pub status: u16,
    pub requests: u64,
    pub latency_ms_sum: u64,
    /// Summed; `None` when the answers carried no usage.
    pub tokens: Option<Tokens>,
    /// Summed in whole nano-dollars (exact); `None` when no price was known.
    pub cost_nanousd: Option<i64>,
    /// Summed like the cost (known exactly when the cost is).
    pub cache_saved_nanousd: Option<i64>,
}

/// What tells one row from another.
type Key = (
    i64,
    Arc<str>,
    Arc<str>,
    Arc<str>,
    Arc<str>,
    u16,
    Option<Unknown>,
    bool,
);

/// Records folded into rows, in the order of each key's first record.
#[derive(Debug, Default)]
pub struct Rows {
    // foldhash rather than std's SipHash: the table lives for one batch, and its keys are
    // bounded by the gateway itself (endpoints, model names per endpoint, client words), so
    // colliding keys could cost little.
    index: HashMap<Key, usize, foldhash::fast::RandomState>,
    rows: Vec<Row>,
    requests: u64,
}

impl Rows {
    /// Folds `record` into its row. A record whose row exists costs a look-up and a few sums: its
    /// names go back to where they came from rather than to the store's thread.
    pub fn add(&mut self, record: UsageRecord) {
        let at_ms = clock::unix_ms(record.at).div_euclid(1000) * 1000;
        let cost = record.cost_usd.map(crate::usage::price::usd_to_nanos);
        let saved = cost.map(|_| {
            record
                .cache_saved_usd
                .map_or(0, crate::usage::price::usd_to_nanos)
        });
        let latency_ms = u64::try_from(record.latency.as_millis()).unwrap_or(u64::MAX);
        let tokens = record.tokens;
        let key = (
            at_ms,
            record.endpoint,
            record.model,
            record.upstream_model,
            record.client,
            record.status,
            tokens.map(|t| t.unknown),
            cost.is_some(),
        );
        let i = match self.index.entry(key) {
            Entry::Occupied(known) => *known.get(),
            Entry::Vacant(new) => {
                let key = new.key();
                self.rows.push(Row {
                    at_ms,
                    endpoint: key.1.clone(),
                    model: key.2.clone(),
                    upstream_model: key.3.clone(),
                    client: key.4.clone(),
                    status: key.5,
                    requests: 0,
                    latency_ms_sum: 0,
                    tokens: tokens.map(|t| Tokens {
                        unknown: t.unknown,
                        ..Tokens::default()
                    }),
                    cost_nanousd: cost.map(|_| 0),
                    cache_saved_nanousd: cost.map(|_| 0),
                });
                *new.insert(self.rows.len() - 1)
            }
        };
        self.requests += 1;
        let row = &mut self.rows[i];
        row.requests += 1;
        row.latency_ms_sum = row.latency_ms_sum.saturating_add(latency_ms);
        if let (Some(sum), Some(t)) = (row.tokens.as_mut(), tokens.as_ref()) {
            sum.add(t);
        }
        if let (Some(sum), Some(c)) = (row.cost_nanousd.as_mut(), cost) {
            *sum = sum.saturating_add(c);
        }
        if let (Some(sum), Some(s)) = (row.cache_saved_nanousd.as_mut(), saved) {
            *sum = sum.saturating_add(s);
        }
    }

    /// The requests folded in since the last [`Self::take`].
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// The rows so far, in the order of their first records; this starts afresh (the table keeps
    /// its room for the next batch).
    pub fn take(&mut self) -> Vec<Row> {
        self.index.clear();
        self.requests = 0;
        std::mem::take(&mut self.rows)
    }

    /// The rows `records` become.
    #[cfg(test)]
    pub fn of(records: impl IntoIterator<Item = UsageRecord>) -> Vec<Row> {
        let mut rows = Rows::default();
        for record in records {
            rows.add(record);
        }
        rows.take()
    }
}
