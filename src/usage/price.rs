//! What tokens cost: an endpoint's own `price`, else a row of the user's price file
//! (`usage.prices`, [`PriceTable`]), else a built-in list price for well-known models, else
//! unknown. A price names up to five rates; the ones left out are filled in per model
//! ([`Price::rates`]). Costs are computed in nano-dollars (whole numbers) so that sums are exact.

use super::extract::Tokens;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

/// `endpoints[].price` and a price file's row: USD per million tokens of each kind. A rate left
/// out takes its default ([`Price::rates`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<f64>,
    /// A 5-minute cache write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
    /// A 1-hour cache write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h: Option<f64>,
}

/// The rate names of a price, in the order they are written.
pub const RATE_NAMES: [&str; 5] = [
    "input",
    "output",
    "cache_read",
    "cache_write",
    "cache_write_1h",
];

impl Price {
    /// A price with input, output, cache-read and (5-minute) cache-write rates given.
    pub const fn new(input: f64, output: f64, cache_read: f64, cache_write: f64) -> Self {
        Price {
            input,
            output,
            cache_read: Some(cache_read),
            cache_write: Some(cache_write),
            cache_write_1h: None,
        }
    }

    /// The same price with its 1-hour cache-write rate given.
    pub const fn with_cache_write_1h(mut self, rate: f64) -> Self {
        self.cache_write_1h = Some(rate);
        self
    }

    /// Every rate for `model`, the ones left out filled in: a cache read costs the input price;
    /// a cache write of an Anthropic model costs 1.25× the input price for 5 minutes and 2× for
    /// an hour, as Anthropic bills them; any other model's costs the input price, and its 1-hour
    /// write the 5-minute one.
    pub fn rates(&self, model: &str) -> Rates {
        let anthropic = is_anthropic_model(model);
        let cache_write_5m = self.cache_write.unwrap_or(if anthropic {
            self.input * 1.25
        } else {
            self.input
        });
        Rates {
            input: self.input,
            output: self.output,
            cache_read: self.cache_read.unwrap_or(self.input),
            cache_write_5m,
            cache_write_1h: self.cache_write_1h.unwrap_or(if anthropic {
                self.input * 2.0
            } else {
                cache_write_5m
            }),
        }
    }

    /// Why this price cannot be used, if it cannot (negative or not a number).
    pub fn problem(&self) -> Option<String> {
        let rates = [
            Some(self.input),
            Some(self.output),
            self.cache_read,
            self.cache_write,
            self.cache_write_1h,
        ];
        RATE_NAMES
            .iter()
            .zip(rates)
            .find_map(|(name, value)| match value {
                Some(v) if !v.is_finite() || v < 0.0 => Some(format!(
                    "price.{name}: must be a number of USD per million tokens, 0 or more (got {v})"
                )),
                _ => None,
            })
    }
}

/// Every rate of a price for one model (USD per million tokens).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    pub cache_write_5m: f64,
    pub cache_write_1h: f64,
}

impl Rates {
    /// What `tokens` cost at these rates, in nano-dollars (1e-9 USD). Reasoning is part of the
    /// output and not charged again.
    pub fn cost_nanos(&self, tokens: &Tokens) -> i64 {
        // USD per million tokens = 1000 nano-dollars per token.
        let nanos = tokens.input as f64 * self.input
            + tokens.output as f64 * self.output
            + tokens.cache_read as f64 * self.cache_read
            + tokens.cache_write_5m as f64 * self.cache_write_5m
            + tokens.cache_write_1h as f64 * self.cache_write_1h;
        (nanos * 1000.0).round() as i64
    }

    /// What `tokens` cost at these rates, in USD.
    pub fn cost_usd(&self, tokens: &Tokens) -> f64 {
        nanos_to_usd(self.cost_nanos(tokens))
    }

    /// What the cache saved on `tokens`, in nano-dollars: what its cache reads would have cost
    /// as input, less what they cost.
    pub fn saved_nanos(&self, tokens: &Tokens) -> i64 {
        let per_token = (self.input - self.cache_read).max(0.0);
        (tokens.cache_read as f64 * per_token * 1000.0).round() as i64
    }

    /// The rates in the order of [`RATE_NAMES`], for a person: `3 / 15 / 0.3 / 3.75 / 6`.
    pub fn describe(&self) -> String {
        [
            self.input,
            self.output,
            self.cache_read,
            self.cache_write_5m,
            self.cache_write_1h,
        ]
        .map(|r| format!("{r}"))
        .join(" / ")
    }
}

/// An Anthropic model, by its name (`claude-…`, after a `provider/` part): its cache writes are
/// billed above the input price.
pub fn is_anthropic_model(model: &str) -> bool {
    let name = model.rsplit('/').next().unwrap_or(model).as_bytes();
    name.len() >= 6 && name[..6].eq_ignore_ascii_case(b"claude")
}

/// Nano-dollars as USD.
pub fn nanos_to_usd(nanos: i64) -> f64 {
    nanos as f64 / 1e9
}

/// USD as nano-dollars (rounded).
pub fn usd_to_nanos(usd: f64) -> i64 {
    (usd * 1e9).round() as i64
}

/// Where the price of a model at an endpoint comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum PriceSource {
    /// The endpoint's own `price`.
    Endpoint,
    /// A row of the price file (`usage.prices`): its number (from 1) and model.
    File { row: usize, model: String },
    /// A row of the built-in table, by its model.
    BuiltIn { model: &'static str },
}

impl fmt::Display for PriceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PriceSource::Endpoint => f.write_str("its own price"),
            PriceSource::File { row, model } => write!(f, "price file row {row} ({model})"),
            PriceSource::BuiltIn { model } => write!(f, "built-in row {model}"),
        }
    }
}

/// One row of a price file: a model (matched as the built-in rows are) and its price.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceRow {
    pub model: String,
    pub price: Price,
}

/// The user's price rows (`usage.prices`), which override the built-in table, and the file they
/// came from. Empty when there is no price file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable {
    file: Option<String>,
    rows: Vec<PriceRow>,
    found: FoundRates,
}

/// The rates already found by model name (for endpoints without their own price): every
/// answer is priced, and a model's name is matched against the rows once, not per answer.
#[derive(Default)]
struct FoundRates(Mutex<HashMap<Arc<str>, Option<Rates>, foldhash::fast::RandomState>>);

/// Model names whose rates are kept; past this many (clients name any model), the others are
/// matched on each answer, which finds the same rates.
const FOUND_RATES_KEPT: usize = 1024;

impl FoundRates {
    fn get_or_find(&self, model: &Arc<str>, find: impl FnOnce() -> Option<Rates>) -> Option<Rates> {
        let mut found = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(rates) = found.get(model) {
            return *rates;
        }
        let rates = find();
        if found.len() < FOUND_RATES_KEPT {
            found.insert(model.clone(), rates);
        }
        rates
    }
}

/// A copy starts empty: what was found belongs to the rows it was found in.
impl Clone for FoundRates {
    fn clone(&self) -> Self {
        FoundRates::default()
    }
}

/// What was found is no part of a table's value.
impl PartialEq for FoundRates {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl fmt::Debug for FoundRates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FoundRates")
    }
}

impl PriceTable {
    /// The rows of `file` (its path, as shown to a person).
    pub fn new(file: String, rows: Vec<PriceRow>) -> Self {
        PriceTable {
            file: Some(file),
            rows,
            found: FoundRates::default(),
        }
    }

    /// The price file, if there is one.
    pub fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }

    pub fn rows(&self) -> &[PriceRow] {
        &self.rows
    }

    /// The price of `model` (the name sent upstream) at an endpoint whose own price is
    /// `endpoint_price`, and where it comes from: the endpoint's own, else the price file's
    /// longest matching row, else the built-in table's.
    pub fn lookup(
        &self,
        endpoint_price: Option<&Price>,
        model: &str,
    ) -> Option<(Price, PriceSource)> {
        if let Some(price) = endpoint_price {
            return Some((*price, PriceSource::Endpoint));
        }
        let row = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, row)| name_matches(model, &row.model))
            .max_by_key(|(_, row)| row.model.len());
        if let Some((i, row)) = row {
            return Some((
                row.price,
                PriceSource::File {
                    row: i + 1,
                    model: row.model.clone(),
                },
            ));
        }
        builtin_row(model).map(|(prefix, price)| (price, PriceSource::BuiltIn { model: prefix }))
    }

    /// The rates for `model` at an endpoint whose own price is `endpoint_price`, if any is known.
    pub fn rates_for(&self, endpoint_price: Option<&Price>, model: &str) -> Option<Rates> {
        self.lookup(endpoint_price, model)
            .map(|(price, _)| price.rates(model))
    }

    /// [`rates_for`](Self::rates_for), found once per model name for the endpoints without
    /// their own price.
    pub fn rates_for_kept(
        &self,
        endpoint_price: Option<&Price>,
        model: &Arc<str>,
    ) -> Option<Rates> {
        match endpoint_price {
            Some(price) => Some(price.rates(model)),
            None => self
                .found
                .get_or_find(model, || self.rates_for(None, model)),
        }
    }

    /// Reads a price file's text: a YAML (or JSON) list of rows `{model, input, output,
    /// cache_read, cache_write, cache_write_1h}`. The first error found refuses the whole file;
    /// it names the row and the field.
    pub fn parse_rows(text: &str) -> Result<Vec<PriceRow>, PriceFileError> {
        use serde_yaml::Value;
        let whole = |message: String| PriceFileError {
            row: None,
            model: None,
            field: None,
            message,
        };
        let value: Value =
            serde_yaml::from_str(text).map_err(|e| whole(format!("is not YAML or JSON: {e}")))?;
        let list = match value {
            Value::Sequence(list) => list,
            Value::Null => Vec::new(),
            _ => {
                return Err(whole(
                    "must be a list of rows, each `{model, input, output}` with optional cache_read, cache_write and cache_write_1h".into(),
                ))
            }
        };
        let mut rows: Vec<PriceRow> = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            let row = read_row(item).map_err(|(model, field, message)| PriceFileError {
                row: Some(i + 1),
                model,
                field,
                message,
            })?;
            let normal = normalise(&row.model);
            if let Some(earlier) = rows.iter().position(|r| normalise(&r.model) == normal) {
                return Err(PriceFileError {
                    row: Some(i + 1),
                    model: Some(row.model),
                    field: Some("model"),
                    message: format!("also row {}: a model has one row", earlier + 1),
                });
            }
            rows.push(row);
        }
        Ok(rows)
    }
}

/// Why a price file was refused: the row (from 1) and field where known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceFileError {
    pub row: Option<usize>,
    pub model: Option<String>,
    pub field: Option<&'static str>,
    pub message: String,
}

impl fmt::Display for PriceFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(row) = self.row {
            write!(f, "row {row}")?;
            if let Some(model) = &self.model {
                write!(f, " ({})", crate::text::escape_controls(model))?;
            }
            f.write_str(": ")?;
        }
        if let Some(field) = self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// One row of a price file, or (its model if known, the field, what is wrong).
fn read_row(
    item: &serde_yaml::Value,
) -> Result<PriceRow, (Option<String>, Option<&'static str>, String)> {
    let Some(mapping) = item.as_mapping() else {
        return Err((
            None,
            None,
            "must be a mapping `{model, input, output}` with optional cache_read, cache_write and cache_write_1h".into(),
        ));
    };
    let model = mapping
        .get("model")
        .and_then(|m| m.as_str())
        .map(|m| m.trim().to_string());
    let fail = |field: Option<&'static str>, message: String| (model.clone(), field, message);
    let mut rates: [Option<f64>; 5] = [None; 5];
    for (key, value) in mapping {
        let Some(key) = key.as_str() else {
            return Err(fail(None, "a key is not a word".into()));
        };
        if key == "model" {
            continue;
        }
        let Some(slot) = RATE_NAMES.iter().position(|name| *name == key) else {
            return Err(fail(
                None,
                format!(
                    "unknown field `{}` (use model, {})",
                    crate::text::escape_controls(key),
                    RATE_NAMES.join(", ")
                ),
            ));
        };
        let field = Some(RATE_NAMES[slot]);
        match value.as_f64() {
            Some(rate) if rate.is_finite() && rate >= 0.0 => rates[slot] = Some(rate),
            _ => {
                return Err(fail(
                    field,
                    "must be a number of USD per million tokens, 0 or more".into(),
                ))
            }
        }
    }
    let model = match (mapping.get("model"), &model) {
        (_, Some(m)) if !m.is_empty() && !m.chars().any(char::is_control) => m.clone(),
        (None, _) => return Err(fail(Some("model"), "missing".into())),
        _ => return Err(fail(Some("model"), "must be a model name".into())),
    };
    let [input, output, cache_read, cache_write, cache_write_1h] = rates;
    let (Some(input), Some(output)) = (input, output) else {
        let missing = if input.is_none() { "input" } else { "output" };
        return Err(fail(Some(missing), "missing".into()));
    };
    Ok(PriceRow {
        model,
        price: Price {
            input,
            output,
            cache_read,
            cache_write,
            cache_write_1h,
        },
    })
}

/// A model name as prices match it: the part after a `provider/`, lower case, and for Claude
/// models dotted versions with dashes (`claude-opus-4.5` is `claude-opus-4-5`).
fn normalise(model: &str) -> String {
    let name = model
        .rsplit('/')
        .next()
        .unwrap_or(model)
        .to_ascii_lowercase();
    if name.starts_with("claude-") {
        name.replace('.', "-")
    } else {
        name
    }
}

/// `prefix` (a price row's model) matches whole name parts of `model`.
fn name_matches(model: &str, prefix: &str) -> bool {
    let (name, prefix) = (normalise(model), normalise(prefix));
    name.starts_with(&prefix)
        && name
            .as_bytes()
            .get(prefix.len())
            .map_or(true, |b| matches!(b, b'-' | b'@' | b':' | b'[' | b'_'))
}

/// The date the built-in list prices were taken.
pub const BUILTIN_PRICES_TAKEN: &str = "2026-11-23";

/// List prices (USD per million tokens: input, output, cache read, 5-minute cache write, and for
/// Anthropic models the 1-hour cache write) of well-known models, matched by the longest name
/// prefix after lower-casing and dropping a `provider/` part.
///
/// Taken 2026-11-23 from:
/// - Anthropic: platform.claude.com/docs/en/about-claude/pricing and the per-model overview pages
///   (platform.claude.com/docs/*/models/*/overview). A 5-minute cache write is 1.25× the input
///   price, a 1-hour one 2×, a cache read 0.1× (older models as they were listed). Haiku 5.5
///   is priced by prompt length; the table holds the band for prompts up to 100k tokens.
///   Sonnet 5.5 cache reads at $0.10 since 2026-10-07 (release notes of pricing tools that track
///   the page, e.g. kurofune/claudit v1.9.2).
/// - OpenAI: developers.openai.com/api/docs/pricing (standard tier, short context), as quoted by
///   tokenmix.ai (2026-06-04) for the GPT-5.4/5.5 family; GPT-6.1 Sol/Terra as announced (release
///   notes of TheKrush/PromptFuel v1.0.22/v1.0.24); older models as listed on the same page.
///   OpenAI bills no cache writes: the cache-write column repeats the input price.
/// - DeepSeek: api-docs.deepseek.com/quick_start/pricing-details-usd (deepseek-chat,
///   deepseek-reasoner); deepseek-flash and deepseek-v4-pro at their peak-hour rates, the higher
///   of the two, as checked 2026-10-27 (benderandrew069/deepseek-api-pricing-2026).
/// - Google: ai.google.dev/gemini-api/docs/pricing (standard tier, prompts up to 200k tokens;
///   the cache-read column is its "context caching price", the hourly storage of an explicit
///   cache is not per answer and not counted), as quoted by factquire.com (2026-07-04) for
///   Gemini 3 Flash, cloudprice.net for Gemini 3.1 Pro, modelpedia.dev for Gemini 3.1 Flash-Lite
///   and hivebook.wiki / deploybase.ai (2026-03) for the 2.5 family. Gemini bills no cache
///   writes: the cache-write column repeats the input price.
const BUILTIN: &[(&str, Price)] = &[
    // Anthropic
    (
        "claude-fable-5-1",
        Price::new(10.0, 50.0, 0.25, 12.5).with_cache_write_1h(20.0),
    ),
    (
        "claude-mythos-5-1",
        Price::new(10.0, 50.0, 0.25, 12.5).with_cache_write_1h(20.0),
    ),
    (
        "claude-fable-5",
        Price::new(10.0, 50.0, 1.0, 12.5).with_cache_write_1h(20.0),
    ),
    (
        "claude-mythos-5",
        Price::new(10.0, 50.0, 1.0, 12.5).with_cache_write_1h(20.0),
    ),
    (
        "claude-opus-5-5",
        Price::new(4.0, 20.0, 0.2, 5.0).with_cache_write_1h(8.0),
    ),
    (
        "claude-opus-5",
        Price::new(5.0, 25.0, 0.5, 6.25).with_cache_write_1h(10.0),
    ),
    (
        "claude-opus-4-8",
        Price::new(5.0, 25.0, 0.5, 6.25).with_cache_write_1h(10.0),
    ),
    (
        "claude-opus-4-7",
        Price::new(5.0, 25.0, 0.5, 6.25).with_cache_write_1h(10.0),
    ),
    (
        "claude-opus-4-6",
        Price::new(5.0, 25.0, 0.5, 6.25).with_cache_write_1h(10.0),
    ),
    (
        "claude-opus-4-5",
        Price::new(5.0, 25.0, 0.5, 6.25).with_cache_write_1h(10.0),
    ),
    (
        "claude-opus-4",
        Price::new(15.0, 75.0, 1.5, 18.75).with_cache_write_1h(30.0),
    ),
    (
        "claude-3-opus",
        Price::new(15.0, 75.0, 1.5, 18.75).with_cache_write_1h(30.0),
    ),
    (
        "claude-sonnet-5-5",
        Price::new(2.0, 10.0, 0.1, 2.5).with_cache_write_1h(4.0),
    ),
    (
        "claude-sonnet-5",
        Price::new(2.0, 10.0, 0.2, 2.5).with_cache_write_1h(4.0),
    ),
    (
        "claude-sonnet-4",
        Price::new(3.0, 15.0, 0.3, 3.75).with_cache_write_1h(6.0),
    ),
    (
        "claude-3-7-sonnet",
        Price::new(3.0, 15.0, 0.3, 3.75).with_cache_write_1h(6.0),
    ),
    (
        "claude-3-5-sonnet",
        Price::new(3.0, 15.0, 0.3, 3.75).with_cache_write_1h(6.0),
    ),
    (
        "claude-haiku-5-5",
        Price::new(0.1, 0.5, 0.01, 0.125).with_cache_write_1h(0.2),
    ),
    (
        "claude-haiku-4-5",
        Price::new(1.0, 5.0, 0.1, 1.25).with_cache_write_1h(2.0),
    ),
    (
        "claude-3-5-haiku",
        Price::new(0.8, 4.0, 0.08, 1.0).with_cache_write_1h(1.6),
    ),
    (
        "claude-3-haiku",
        Price::new(0.25, 1.25, 0.03, 0.3).with_cache_write_1h(0.5),
    ),
    // OpenAI
    ("gpt-6.1-sol", Price::new(2.0, 10.0, 0.1, 2.0)),
    ("gpt-6.1-terra", Price::new(1.0, 5.0, 0.05, 1.0)),
    ("gpt-5.5-pro", Price::new(30.0, 180.0, 30.0, 30.0)),
    ("gpt-5.5", Price::new(5.0, 30.0, 0.5, 5.0)),
    ("gpt-5.4-pro", Price::new(30.0, 180.0, 30.0, 30.0)),
    ("gpt-5.4-mini", Price::new(0.75, 4.5, 0.075, 0.75)),
    ("gpt-5.4-nano", Price::new(0.2, 1.25, 0.02, 0.2)),
    ("gpt-5.4", Price::new(2.5, 15.0, 0.25, 2.5)),
    ("gpt-5-mini", Price::new(0.25, 2.0, 0.025, 0.25)),
    ("gpt-5-nano", Price::new(0.05, 0.4, 0.005, 0.05)),
    ("gpt-5", Price::new(1.25, 10.0, 0.125, 1.25)),
    ("gpt-4.1-mini", Price::new(0.4, 1.6, 0.1, 0.4)),
    ("gpt-4.1-nano", Price::new(0.1, 0.4, 0.025, 0.1)),
    ("gpt-4.1", Price::new(2.0, 8.0, 0.5, 2.0)),
    ("gpt-4o-mini", Price::new(0.15, 0.6, 0.075, 0.15)),
    ("gpt-4o", Price::new(2.5, 10.0, 1.25, 2.5)),
    ("o4-mini", Price::new(1.1, 4.4, 0.275, 1.1)),
    ("o3-mini", Price::new(1.1, 4.4, 0.55, 1.1)),
    ("o3", Price::new(2.0, 8.0, 0.5, 2.0)),
    // DeepSeek
    ("deepseek-v4-pro", Price::new(1.32, 3.96, 0.044, 1.32)),
    ("deepseek-flash", Price::new(0.3, 1.2, 0.006, 0.3)),
    ("deepseek-chat", Price::new(0.27, 1.1, 0.07, 0.27)),
    ("deepseek-reasoner", Price::new(0.55, 2.19, 0.14, 0.55)),
    // Google
    ("gemini-3.1-pro", Price::new(2.0, 12.0, 0.2, 2.0)),
    ("gemini-3-pro", Price::new(2.0, 12.0, 0.2, 2.0)),
    ("gemini-3-flash", Price::new(0.5, 3.0, 0.05, 0.5)),
    ("gemini-3.1-flash-lite", Price::new(0.25, 1.5, 0.025, 0.25)),
    ("gemini-2.5-pro", Price::new(1.25, 10.0, 0.125, 1.25)),
    ("gemini-2.5-flash", Price::new(0.3, 2.5, 0.03, 0.3)),
    ("gemini-2.5-flash-lite", Price::new(0.1, 0.4, 0.01, 0.1)),
];

/// The built-in list price of a model, by the longest matching name prefix.
///
/// `claude-sonnet-4-5-20250929`, `anthropic/claude-sonnet-4.5` and `Claude-Sonnet-4-5` all find
/// `claude-sonnet-4`'s row; `gpt-4o-mini-2024-07-18` finds `gpt-4o-mini`, not `gpt-4o`.
pub fn builtin_price(model: &str) -> Option<Price> {
    builtin_row(model).map(|(_, price)| price)
}

/// The built-in row a model finds: its prefix and price.
fn builtin_row(model: &str) -> Option<(&'static str, Price)> {
    let name = model.rsplit('/').next().unwrap_or(model).as_bytes();
    // Only the first bytes can meet a prefix (and the byte after it): they are lower-cased once,
    // on the stack, so pricing an answer allocates nothing.
    let mut start = [0u8; LONGEST_PREFIX + 1];
    let seen = name.len().min(start.len());
    // Dotted Anthropic versions (`claude-opus-4.5`) are spelled with a dash in the table.
    let claude = name.len() >= 7 && name[..7].eq_ignore_ascii_case(b"claude-");
    for (to, &from) in start.iter_mut().zip(&name[..seen]) {
        *to = match from {
            b'.' if claude => b'-',
            b => b.to_ascii_lowercase(),
        };
    }
    BUILTIN
        .iter()
        .filter(|(prefix, _)| matches_prefix(&start[..seen], name.len(), prefix.as_bytes()))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(prefix, price)| (*prefix, *price))
}

/// The longest prefix in [`BUILTIN`].
const LONGEST_PREFIX: usize = {
    let mut longest = 0;
    let mut i = 0;
    while i < BUILTIN.len() {
        if BUILTIN[i].0.len() > longest {
            longest = BUILTIN[i].0.len();
        }
        i += 1;
    }
    longest
};

/// `prefix` matches whole name parts of the name whose normalised first bytes are `start` and
/// whose length is `len`: `gpt-5` matches `gpt-5-2025-08-07` but not `gpt-50`, `o3` matches
/// `o3-2025-04-16` but not `o3x`.
fn matches_prefix(start: &[u8], len: usize, prefix: &[u8]) -> bool {
    if !start.starts_with(prefix) {
        return false;
    }
    len == prefix.len()
        || start
            .get(prefix.len())
            .is_some_and(|b| matches!(b, b'-' | b'@' | b':' | b'[' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`builtin_price`] written the plain way: every byte of the name normalised as it is
    /// compared.
    fn price_by_plain_compare(model: &str) -> Option<Price> {
        let name = model.rsplit('/').next().unwrap_or(model).as_bytes();
        let claude = name.len() >= 7 && name[..7].eq_ignore_ascii_case(b"claude-");
        let norm = |b: u8| match b {
            b'.' if claude => b'-',
            b => b.to_ascii_lowercase(),
        };
        BUILTIN
            .iter()
            .filter(|(prefix, _)| {
                let p = prefix.as_bytes();
                name.len() >= p.len()
                    && name.iter().zip(p).all(|(n, p)| norm(*n) == *p)
                    && name
                        .get(p.len())
                        .is_none_or(|&b| matches!(norm(b), b'-' | b'@' | b':' | b'[' | b'_'))
            })
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, price)| *price)
    }

    proptest::proptest! {
        #[test]
        fn built_in_prices_match_as_the_plain_compare_does(
            name in proptest::collection::vec(
                proptest::sample::select(
                    &["claude-", "Claude-", "sonnet-", "opus-", "haiku-", "4", "5", ".", "-", "3-5-",
                      "gpt-", "GPT-", "4o", "-mini", "o3", "deepseek-", "chat", "x", "anthropic/", "[1m]",
                      "20250929"][..],
                ),
                0..8,
            )
        ) {
            let name = name.concat();
            proptest::prop_assert_eq!(
                builtin_price(&name).map(|p| (p.input, p.output)),
                price_by_plain_compare(&name).map(|p| (p.input, p.output)),
                "{}", name
            );
        }
    }

    fn tokens(input: u64, output: u64, cache_read: u64, cache_write: u64) -> Tokens {
        Tokens::new(input, output, cache_read, cache_write)
    }

    #[test]
    fn cost_is_tokens_times_price_per_million_for_each_kind() {
        let rates = Price::new(3.0, 15.0, 0.3, 3.75)
            .with_cache_write_1h(6.0)
            .rates("m");
        // 1000 × 3 + 200 × 15 + 10000 × 0.3 + 2000 × 3.75 + 500 × 6
        // = 3000 + 3000 + 3000 + 7500 + 3000 µ$ = $0.0195; reasoning is not charged again.
        let t = tokens(1000, 200, 10_000, 2000)
            .with_cache_write_1h(500)
            .with_reasoning(150);
        assert_eq!(rates.cost_nanos(&t), 19_500_000);
        assert!((rates.cost_usd(&t) - 0.0195).abs() < 1e-12);
        assert_eq!(rates.cost_nanos(&tokens(0, 0, 0, 0)), 0);
        // 10000 reads would have cost $3/M as input, and cost $0.30/M.
        assert_eq!(rates.saved_nanos(&t), 27_000_000);
    }

    #[test]
    fn a_rate_left_out_takes_its_default_and_anthropic_writes_cost_more_than_input() {
        let price: Price = serde_yaml::from_str("{input: 2.0, output: 8.0}").expect("valid");
        assert_eq!(price.cache_read, None);
        assert_eq!(
            price.rates("gpt-4o"),
            Rates {
                input: 2.0,
                output: 8.0,
                cache_read: 2.0,
                cache_write_5m: 2.0,
                cache_write_1h: 2.0
            }
        );
        assert_eq!(
            price.rates("anthropic/Claude-Sonnet-4.5"),
            Rates {
                input: 2.0,
                output: 8.0,
                cache_read: 2.0,
                cache_write_5m: 2.5,
                cache_write_1h: 4.0
            }
        );
        let own: Price =
            serde_yaml::from_str("{input: 1, output: 1, cache_write: 9}").expect("valid");
        assert_eq!(own.rates("gpt-x").cache_write_1h, 9.0, "the 5-minute rate");
        assert_eq!(own.rates("claude-x").cache_write_1h, 2.0, "2 × input");
        let t = tokens(0, 0, 0, 1000).with_cache_write_1h(1000);
        assert_eq!(price.rates("claude-x").cost_nanos(&t), 6_500_000);
    }

    #[test]
    fn price_in_the_config_shape_reads_and_rejects_unknown_keys() {
        let price: Price = serde_yaml::from_str(
            "{input: 3.0, output: 15.0, cache_read: 0.3, cache_write: 3.75, cache_write_1h: 6}",
        )
        .expect("valid");
        assert_eq!(
            price,
            Price::new(3.0, 15.0, 0.3, 3.75).with_cache_write_1h(6.0)
        );
        assert!(serde_yaml::from_str::<Price>("{input: 1, output: 2, cahce_read: 3}").is_err());
        assert!(Price::new(-1.0, 1.0, 0.0, 0.0).problem().is_some());
        assert!(Price::new(1.0, 1.0, 0.0, 0.0)
            .with_cache_write_1h(f64::NAN)
            .problem()
            .is_some_and(|p| p.starts_with("price.cache_write_1h:")));
        assert!(Price::new(1.0, 1.0, 0.0, 0.0).problem().is_none());
    }

    #[test]
    fn rates_found_once_per_model_are_the_rates_found_each_time() {
        let own = Price::new(1.0, 1.0, 1.0, 1.0);
        let table = PriceTable::new(
            "prices.yaml".into(),
            vec![PriceRow {
                model: "claude-opus".into(),
                price: Price::new(2.0, 3.0, 0.5, 4.0),
            }],
        );
        let models = [
            "claude-opus-4-1",
            "anthropic/claude-opus-4.1",
            "claude-sonnet-4-5",
            "gpt-4o-mini-2024-07-18",
            "gemini-2.5-flash",
            "my-llama",
        ];
        for _ in 0..2 {
            for model in models {
                let name: Arc<str> = Arc::from(model);
                for price in [None, Some(&own)] {
                    assert_eq!(
                        table.rates_for_kept(price, &name),
                        table.rates_for(price, model),
                        "{model} with {price:?}"
                    );
                }
            }
        }
        let kept = table.found.0.lock().map(|f| f.len()).unwrap_or_default();
        assert_eq!(
            kept,
            models.len(),
            "one entry per model, none per endpoint price"
        );
        assert!(table.clone().found.0.lock().is_ok_and(|f| f.is_empty()));
    }

    #[test]
    fn models_past_the_kept_ones_are_priced_all_the_same() {
        let table = PriceTable::default();
        for i in 0..FOUND_RATES_KEPT {
            table.rates_for_kept(None, &Arc::from(format!("unknown-{i}")));
        }
        let late: Arc<str> = Arc::from("claude-sonnet-4-5");
        assert_eq!(
            table.rates_for_kept(None, &late),
            table.rates_for(None, &late)
        );
        assert!(table.rates_for_kept(None, &late).is_some());
        let kept = table.found.0.lock().map(|f| f.len()).unwrap_or_default();
        assert_eq!(kept, FOUND_RATES_KEPT, "the bound holds");
    }

    #[test]
    fn endpoint_price_wins_over_the_price_file_which_wins_over_the_built_in_table() {
        let own = Price::new(1.0, 1.0, 1.0, 1.0);
        let file = Price::new(2.0, 2.0, 2.0, 2.0);
        let table = PriceTable::new(
            "prices.yaml".into(),
            vec![
                PriceRow {
                    model: "claude-opus".into(),
                    price: file,
                },
                PriceRow {
                    model: "my-llama".into(),
                    price: own,
                },
            ],
        );
        assert_eq!(
            table.lookup(Some(&own), "claude-opus-4-1"),
            Some((own, PriceSource::Endpoint))
        );
        assert_eq!(
            table.lookup(None, "anthropic/claude-opus-4.1"),
            Some((
                file,
                PriceSource::File {
                    row: 1,
                    model: "claude-opus".into()
                }
            )),
            "a file row wins over a longer built-in one"
        );
        assert_eq!(
            PriceTable::default().lookup(None, "claude-opus-4-1"),
            Some((
                Price::new(15.0, 75.0, 1.5, 18.75).with_cache_write_1h(30.0),
                PriceSource::BuiltIn {
                    model: "claude-opus-4"
                }
            ))
        );
        assert_eq!(table.rates_for(None, "my-llama-70b"), Some(own.rates("x")));
        assert_eq!(
            table.rates_for(None, "my-llamas"),
            None,
            "whole name parts only"
        );
        assert_eq!(
            PriceTable::default().rates_for(None, "my-local-llama"),
            None
        );
    }

    #[test]
    fn a_price_file_is_a_list_of_rows_in_yaml_or_json() {
        let yaml = "# my relay's prices\n- model: relay-sonnet\n  input: 2.4\n  output: 12\n  cache_write_1h: 4.8\n- {model: gpt-5.5, input: 4, output: 24, cache_read: 0.4}\n";
        let rows = PriceTable::parse_rows(yaml).expect("valid");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].model, "relay-sonnet");
        assert_eq!(rows[0].price.cache_write_1h, Some(4.8));
        assert_eq!(rows[1].price.cache_read, Some(0.4));
        let json = r#"[{"model": "relay-sonnet", "input": 2.4, "output": 12, "cache_write_1h": 4.8},
                      {"model": "gpt-5.5", "input": 4, "output": 24, "cache_read": 0.4}]"#;
        assert_eq!(PriceTable::parse_rows(json).expect("valid"), rows);
        assert_eq!(PriceTable::parse_rows("").expect("empty"), []);
    }

    #[test]
    fn a_price_file_error_names_the_row_and_the_field() {
        let error = |text: &str| {
            PriceTable::parse_rows(text)
                .expect_err("refused")
                .to_string()
        };
        assert_eq!(
            error("- {model: a, input: 1, output: 2}\n- {model: b, input: 1, output: 2, cache_write_1h: -4}"),
            "row 2 (b): cache_write_1h: must be a number of USD per million tokens, 0 or more"
        );
        assert_eq!(
            error("- {model: a, input: 1, output: \"2\"}"),
            "row 1 (a): output: must be a number of USD per million tokens, 0 or more"
        );
        assert_eq!(
            error("- {model: a, input: 1}"),
            "row 1 (a): output: missing"
        );
        assert_eq!(error("- {input: 1, output: 1}"), "row 1: model: missing");
        assert!(error("- {model: a, input: 1, output: 1, cahce_read: 1}")
            .starts_with("row 1 (a): unknown field `cahce_read` (use model, input, output,"));
        assert_eq!(
            error("- {model: a, input: 1, output: 1}\n- {model: A, input: 2, output: 2}"),
            "row 2 (A): model: also row 1: a model has one row"
        );
        assert!(error("{model: a}").starts_with("must be a list of rows"));
        assert!(error("- [1, 2]").starts_with("row 1: must be a mapping"));
        assert!(error("- {model: a\n").starts_with("is not YAML or JSON"));
    }

    #[test]
    fn built_in_prices_match_by_longest_whole_prefix() {
        let p = |m: &str| builtin_price(m).map(|p| (p.input, p.output));
        assert_eq!(p("claude-sonnet-4-5-20250929"), Some((3.0, 15.0)));
        assert_eq!(p("anthropic/claude-sonnet-4.5"), Some((3.0, 15.0)));
        assert_eq!(p("Claude-Opus-4-5"), Some((5.0, 25.0)));
        assert_eq!(p("claude-opus-4-20250514"), Some((15.0, 75.0)));
        assert_eq!(p("claude-opus-4-1-20250805"), Some((15.0, 75.0)));
        assert_eq!(p("claude-opus-5-5"), Some((4.0, 20.0)));
        assert_eq!(p("claude-opus-5"), Some((5.0, 25.0)));
        assert_eq!(p("claude-3-5-haiku-20241022"), Some((0.8, 4.0)));
        assert_eq!(p("claude-haiku-4-5-20251001"), Some((1.0, 5.0)));
        assert_eq!(p("claude-sonnet-5-5[1m]"), Some((2.0, 10.0)));
        assert_eq!(p("gpt-4o-mini-2024-07-18"), Some((0.15, 0.6)));
        assert_eq!(p("gpt-4o-2024-08-06"), Some((2.5, 10.0)));
        assert_eq!(p("gpt-5-mini"), Some((0.25, 2.0)));
        assert_eq!(p("gpt-5"), Some((1.25, 10.0)));
        assert_eq!(p("gpt-5.4"), Some((2.5, 15.0)));
        assert_eq!(p("gpt-50"), None);
        assert_eq!(p("o3"), Some((2.0, 8.0)));
        assert_eq!(p("o3-mini"), Some((1.1, 4.4)));
        assert_eq!(p("deepseek-chat"), Some((0.27, 1.1)));
        assert_eq!(p("deepseek/deepseek-reasoner"), Some((0.55, 2.19)));
        assert_eq!(p("gemini-2.5-flash-preview-09-2025"), Some((0.3, 2.5)));
        assert_eq!(p("gemini-2.5-flash-lite"), Some((0.1, 0.4)));
        assert_eq!(p("models/gemini-3.1-pro-preview"), Some((2.0, 12.0)));
        assert_eq!(p("gemini-3-flash-preview"), Some((0.5, 3.0)));
        assert_eq!(p("claude"), None);
    }

    #[test]
    fn every_built_in_price_is_usable_and_anthropic_rows_price_both_write_lifetimes() {
        for (name, price) in BUILTIN {
            assert!(price.problem().is_none(), "{name}");
            if name.starts_with("claude") {
                assert_eq!(price.cache_write_1h, Some(price.input * 2.0), "{name}");
            }
            assert_eq!(
                builtin_price(name),
                Some(*price),
                "{name} finds its own row"
            );
        }
    }
}
