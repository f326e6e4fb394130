//! What tokens cost: an endpoint's own `price`, else a built-in list price for well-known models,
//! else unknown. Costs are computed in nano-dollars (whole numbers) so that sums are exact.

use super::extract::Tokens;
use serde::{Deserialize, Serialize};

/// `endpoints[].price`: USD per million tokens of each kind. A cache kind left out is charged at
/// the input price.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
}

impl Price {
    /// A price with all four kinds given.
    pub const fn new(input: f64, output: f64, cache_read: f64, cache_write: f64) -> Self {
        Price {
            input,
            output,
            cache_read: Some(cache_read),
            cache_write: Some(cache_write),
        }
    }

    /// What `tokens` cost at this price, in nano-dollars (1e-9 USD).
    pub fn cost_nanos(&self, tokens: &Tokens) -> i64 {
        // USD per million tokens = 1000 nano-dollars per token.
        let nanos = tokens.input as f64 * self.input
            + tokens.output as f64 * self.output
            + tokens.cache_read as f64 * self.cache_read.unwrap_or(self.input)
            + tokens.cache_write as f64 * self.cache_write.unwrap_or(self.input);
        (nanos * 1000.0).round() as i64
    }

    /// What `tokens` cost at this price, in USD.
    pub fn cost_usd(&self, tokens: &Tokens) -> f64 {
        nanos_to_usd(self.cost_nanos(tokens))
    }

    /// Why this price cannot be used, if it cannot (negative or not a number).
    pub fn problem(&self) -> Option<String> {
        let kinds = [
            ("input", Some(self.input)),
            ("output", Some(self.output)),
            ("cache_read", self.cache_read),
            ("cache_write", self.cache_write),
        ];
        kinds.iter().find_map(|(name, value)| match value {
            Some(v) if !v.is_finite() || *v < 0.0 => Some(format!(
                "price.{name}: must be a number of USD per million tokens, 0 or more (got {v})"
            )),
            _ => None,
        })
    }
}

/// Nano-dollars as USD.
pub fn nanos_to_usd(nanos: i64) -> f64 {
    nanos as f64 / 1e9
}

/// USD as nano-dollars (rounded).
pub fn usd_to_nanos(usd: f64) -> i64 {
    (usd * 1e9).round() as i64
}

/// The price for a request: the endpoint's own, else the built-in one for the model sent upstream.
pub fn price_for(endpoint_price: Option<&Price>, upstream_model: &str) -> Option<Price> {
    endpoint_price
        .copied()
        .or_else(|| builtin_price(upstream_model))
}

/// The cost of one answer in USD, when both its tokens and a price are known.
pub fn cost_usd(
    endpoint_price: Option<&Price>,
    upstream_model: &str,
    tokens: Option<&Tokens>,
) -> Option<f64> {
    let tokens = tokens?;
    price_for(endpoint_price, upstream_model).map(|p| p.cost_usd(tokens))
}

/// The date the built-in list prices were taken.
pub const BUILTIN_PRICES_TAKEN: &str = "2026-11-23";

/// List prices (USD per million tokens: input, output, cache read, cache write) of well-known
/// models, matched by the longest name prefix after lower-casing and dropping a `provider/` part.
///
/// Taken 2026-11-23 from:
/// - Anthropic: platform.claude.com/docs/en/about-claude/pricing and the per-model overview pages
///   (platform.claude.com/docs/*/models/*/overview). Cache write is the 5-minute rate. Haiku 5.5
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
const BUILTIN: &[(&str, Price)] = &[
    // Anthropic
    ("claude-fable-5-1", Price::new(10.0, 50.0, 0.25, 12.5)),
    ("claude-mythos-5-1", Price::new(10.0, 50.0, 0.25, 12.5)),
    ("claude-fable-5", Price::new(10.0, 50.0, 1.0, 12.5)),
    ("claude-mythos-5", Price::new(10.0, 50.0, 1.0, 12.5)),
    ("claude-opus-5-5", Price::new(4.0, 20.0, 0.2, 5.0)),
    ("claude-opus-5", Price::new(5.0, 25.0, 0.5, 6.25)),
    ("claude-opus-4-8", Price::new(5.0, 25.0, 0.5, 6.25)),
    ("claude-opus-4-7", Price::new(5.0, 25.0, 0.5, 6.25)),
    ("claude-opus-4-6", Price::new(5.0, 25.0, 0.5, 6.25)),
    ("claude-opus-4-5", Price::new(5.0, 25.0, 0.5, 6.25)),
    ("claude-opus-4", Price::new(15.0, 75.0, 1.5, 18.75)),
    ("claude-3-opus", Price::new(15.0, 75.0, 1.5, 18.75)),
    ("claude-sonnet-5-5", Price::new(2.0, 10.0, 0.1, 2.5)),
    ("claude-sonnet-5", Price::new(2.0, 10.0, 0.2, 2.5)),
    ("claude-sonnet-4", Price::new(3.0, 15.0, 0.3, 3.75)),
    ("claude-3-7-sonnet", Price::new(3.0, 15.0, 0.3, 3.75)),
    ("claude-3-5-sonnet", Price::new(3.0, 15.0, 0.3, 3.75)),
    ("claude-haiku-5-5", Price::new(0.1, 0.5, 0.01, 0.125)),
    ("claude-haiku-4-5", Price::new(1.0, 5.0, 0.1, 1.25)),
    ("claude-3-5-haiku", Price::new(0.8, 4.0, 0.08, 1.0)),
    ("claude-3-haiku", Price::new(0.25, 1.25, 0.03, 0.3)),
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
];

/// The built-in list price of a model, by the longest matching name prefix.
///
/// `claude-sonnet-4-5-20250929`, `anthropic/claude-sonnet-4.5` and `Claude-Sonnet-4-5` all find
/// `claude-sonnet-4`'s row; `gpt-4o-mini-2024-07-18` finds `gpt-4o-mini`, not `gpt-4o`.
pub fn builtin_price(model: &str) -> Option<Price> {
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
        .map(|(_, price)| *price)
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
        let price = Price::new(3.0, 15.0, 0.3, 3.75);
        // 1000 × 3 + 200 × 15 + 10000 × 0.3 + 2000 × 3.75 = 3000 + 3000 + 3000 + 7500 µ$ = $0.0165
        assert_eq!(
            price.cost_nanos(&tokens(1000, 200, 10_000, 2000)),
            16_500_000
        );
        assert!((price.cost_usd(&tokens(1000, 200, 10_000, 2000)) - 0.0165).abs() < 1e-12);
        assert_eq!(price.cost_nanos(&tokens(0, 0, 0, 0)), 0);
    }

    #[test]
    fn a_cache_kind_left_out_is_charged_at_the_input_price() {
        let price: Price = serde_yaml::from_str("{input: 2.0, output: 8.0}").expect("valid");
        assert_eq!(price.cache_read, None);
        assert_eq!(price.cost_nanos(&tokens(0, 0, 1000, 1000)), 4_000_000);
    }

    #[test]
    fn price_in_the_config_shape_reads_and_rejects_unknown_keys() {
        let price: Price =
            serde_yaml::from_str("{input: 3.0, output: 15.0, cache_read: 0.3, cache_write: 3.75}")
                .expect("valid");
        assert_eq!(price, Price::new(3.0, 15.0, 0.3, 3.75));
        assert!(serde_yaml::from_str::<Price>("{input: 1, output: 2, cahce_read: 3}").is_err());
        assert!(Price::new(-1.0, 1.0, 0.0, 0.0).problem().is_some());
        assert!(Price::new(1.0, 1.0, 0.0, 0.0).problem().is_none());
    }

    #[test]
    fn endpoint_price_wins_over_the_built_in_one() {
        let own = Price::new(1.0, 1.0, 1.0, 1.0);
        assert_eq!(price_for(Some(&own), "claude-opus-4-1"), Some(own));
        assert_eq!(
            price_for(None, "claude-opus-4-1"),
            Some(Price::new(15.0, 75.0, 1.5, 18.75))
        );
    }

    #[test]
    fn unknown_model_without_endpoint_price_has_no_cost() {
        assert_eq!(price_for(None, "my-local-llama"), None);
        assert_eq!(
            cost_usd(None, "my-local-llama", Some(&tokens(1, 1, 0, 0))),
            None
        );
        assert_eq!(cost_usd(None, "gpt-4o", None), None);
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
        assert_eq!(p("claude"), None);
    }

    #[test]
    fn every_built_in_price_is_usable() {
        for (name, price) in BUILTIN {
            assert!(price.problem().is_none(), "{name}");
            assert_eq!(
                builtin_price(name),
                Some(*price),
                "{name} finds its own row"
            );
        }
    }
}
