//! What an upstream's answer says about its limits, read from structure first: rate-limit headers
//! that announce a used-up budget before the 429 comes, error bodies that say the account's money
//! or quota is gone (as opposed to "slow down"), and the 400 that a conversation moved between
//! upstreams gets for its signed `thinking` blocks.

use super::headers::{parse_go_duration, parse_rfc3339};
use actix_web::http::header::{HeaderMap, HeaderName};
use bytes::Bytes;
use serde_json::value::RawValue;
use std::ops::Range;
use std::time::{Duration, SystemTime};

/// One budget's headers: `-limit`, `-remaining` and `-reset`.
struct BudgetHeaders {
    limit: HeaderName,
    remaining: HeaderName,
    reset: HeaderName,
}

/// Anthropic's budgets (`anthropic-ratelimit-{kind}-{limit,remaining,reset}`, the reset in RFC
/// 3339), in [`Kind`] order.
static ANTHROPIC_BUDGETS: [BudgetHeaders; 4] = [
    BudgetHeaders {
        limit: HeaderName::from_static("anthropic-ratelimit-requests-limit"),
        remaining: HeaderName::from_static("anthropic-ratelimit-requests-remaining"),
        reset: HeaderName::from_static("anthropic-ratelimit-requests-reset"),
    },
    BudgetHeaders {
        limit: HeaderName::from_static("anthropic-ratelimit-tokens-limit"),
        remaining: HeaderName::from_static("anthropic-ratelimit-tokens-remaining"),
        reset: HeaderName::from_static("anthropic-ratelimit-tokens-reset"),
    },
    BudgetHeaders {
        limit: HeaderName::from_static("anthropic-ratelimit-input-tokens-limit"),
        remaining: HeaderName::from_static("anthropic-ratelimit-input-tokens-remaining"),
        reset: HeaderName::from_static("anthropic-ratelimit-input-tokens-reset"),
    },
    BudgetHeaders {
        limit: HeaderName::from_static("anthropic-ratelimit-output-tokens-limit"),
        remaining: HeaderName::from_static("anthropic-ratelimit-output-tokens-remaining"),
        reset: HeaderName::from_static("anthropic-ratelimit-output-tokens-reset"),
    },
];
/// OpenAI's budgets (`x-ratelimit-{limit,remaining,reset}-{kind}`, the reset a Go duration such
/// as `6m0s`): requests and tokens.
static OPENAI_BUDGETS: [BudgetHeaders; 2] = [
    BudgetHeaders {
        limit: HeaderName::from_static("x-ratelimit-limit-requests"),
        remaining: HeaderName::from_static("x-ratelimit-remaining-requests"),
        reset: HeaderName::from_static("x-ratelimit-reset-requests"),
    },
    BudgetHeaders {
        limit: HeaderName::from_static("x-ratelimit-limit-tokens"),
        remaining: HeaderName::from_static("x-ratelimit-remaining-tokens"),
        reset: HeaderName::from_static("x-ratelimit-reset-tokens"),
    },
];

/// What one budget of an upstream's rate limits stood at when an answer came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Budget {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// When the budget is whole again.
    pub reset: Option<SystemTime>,
}

/// What an answer's rate-limit headers say: Anthropic's four budgets, or OpenAI's requests and
/// tokens. Made on every answer that carries them: no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimits {
    pub requests: Option<Budget>,
    pub tokens: Option<Budget>,
    pub input_tokens: Option<Budget>,
    pub output_tokens: Option<Budget>,
}

impl RateLimits {
    /// The budgets with their names, in a fixed order.
    pub fn budgets(&self) -> [(&'static str, Option<Budget>); 4] {
        [
            ("requests", self.requests),
            ("tokens", self.tokens),
            ("input_tokens", self.input_tokens),
            ("output_tokens", self.output_tokens),
        ]
    }

    /// How long until the budgets that are used up (remaining 0) are whole again: the latest of
    /// their resets. `None` when nothing is used up, or no reset is given.
    pub fn used_up_wait(&self, now: SystemTime) -> Option<Duration> {
        self.budgets()
            .into_iter()
            .filter_map(|(_, budget)| budget)
            .filter(|b| b.remaining == Some(0))
            .filter_map(|b| b.reset?.duration_since(now).ok())
            .filter(|wait| !wait.is_zero())
            .max()
    }
}

/// The rate limits an answer's headers announce, Anthropic's or OpenAI's; `None` when it names
/// none. A budget is read when its `-remaining` header is there; a value that is no number (or a
/// negative one) is left unknown. Header names are made once, and an answer without rate-limit
/// headers costs one pass over its header names.
pub fn rate_limits(headers: &HeaderMap, now: SystemTime) -> Option<RateLimits> {
    // Most answers name no budget: one pass over their few names spares the look-ups.
    let names_a_budget = headers.keys().any(|name| {
        let name = name.as_str().as_bytes();
        name.starts_with(b"anthropic-ratelimit-") || name.starts_with(b"x-ratelimit-")
    });
    if !names_a_budget {
        return None;
    }
    let text = |name: &HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    // Counts come as integers; a relay may write `0.0`.
    let count = |name: &HeaderName| {
        text(name)
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map(|n| n.min(u64::MAX as f64) as u64)
    };
    let budget = |h: &BudgetHeaders, reset: &dyn Fn(&str) -> Option<SystemTime>| {
        text(&h.remaining)?;
        Some(Budget {
            limit: count(&h.limit),
            remaining: count(&h.remaining),
            reset: text(&h.reset).and_then(reset),
        })
    };
    let anthropic_reset = |v: &str| parse_rfc3339(v);
    let openai_reset = |v: &str| parse_go_duration(v).map(|d| now + d);
    let [requests, tokens, input, output] = &ANTHROPIC_BUDGETS;
    let mut limits = RateLimits {
        requests: budget(requests, &anthropic_reset),
        tokens: budget(tokens, &anthropic_reset),
        input_tokens: budget(input, &anthropic_reset),
        output_tokens: budget(output, &anthropic_reset),
    };
    if limits == RateLimits::default() {
        let [requests, tokens] = &OPENAI_BUDGETS;
        limits.requests = budget(requests, &openai_reset);
        limits.tokens = budget(tokens, &openai_reset);
    }
    (limits != RateLimits::default()).then_some(limits)
}

/// How long until the budgets that a successful answer's headers say are used up (remaining 0)
/// come back: the latest of their resets. `None` when nothing is used up, or no reset is given.
pub fn exhausted_budget_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    rate_limits(headers, now)?.used_up_wait(now)
}

/// Error `type` / `code` values that mean the account's balance, credit or quota is used up.
const QUOTA_KINDS: [&str; 7] = [
    "insufficient_quota",      // OpenAI (HTTP 429)
    "billing_error",           // Anthropic (HTTP 402)
    "insufficient_user_quota", // one-api / new-api relays
    "insufficient_balance",
    "insufficient_credits",
    "payment_required",
    "credit_balance_too_low",
];

/// Phrases that say so without doubt. Words like "billing" or "quota" alone do not: rate-limit
/// messages mention plans and quotas too.
const QUOTA_PHRASES: [&str; 8] = [
    "credit balance is too low",
    "insufficient balance",
    "insufficient credits",
    "exceeded your current quota",
    "quota has been exhausted",
    "you have reached your specified api usage limits",
    "you have reached your specified workspace api usage limits",
    "余额不足",
];

/// Whether an upstream's error answer says the account's money or quota is used up (the endpoint
/// is out for `quota_cooldown`), as opposed to a rate limit (a cooldown until the reset) or a
/// plain client error. Structure decides first: HTTP 402, then the error's `type` / `code`; the
/// message text only for unambiguous phrases.
pub fn quota_exhausted(status: u16, body: &[u8]) -> bool {
    if status == 402 {
        return true;
    }
    if !matches!(status, 400 | 403 | 429) {
        return false;
    }
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let error = json.as_ref().and_then(error_object);
    if let Some(error) = error {
        let kinds: Vec<&str> = ["type", "code"]
            .iter()
            .filter_map(|k| error.get(*k).and_then(|v| v.as_str()))
            .collect();
        if kinds.iter().any(|k| QUOTA_KINDS.contains(k)) {
            return true;
        }
        // A rate-limit type decides nothing alone: relays wrap an exhausted balance in whatever
        // type they use for 429s, and the phrases below are specific enough to win.
        let message = error
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or_default();
        return says_quota(message);
    }
    says_quota(&String::from_utf8_lossy(&body[..body.len().min(64 << 10)]))
}

fn says_quota(text: &str) -> bool {
    let text = text.to_lowercase();
    QUOTA_PHRASES.iter().any(|p| text.contains(p))
}

/// The error object of either API's error body, also when a relay wraps it
/// (`{"error":{…}}`, `{"type":"error","error":{…}}`, `{"details":{"error":{…}}}`).
fn error_object(json: &serde_json::Value) -> Option<&serde_json::Value> {
    let error = json
        .get("error")
        .or_else(|| json.get("details").and_then(|d| d.get("error")))?;
    error.is_object().then_some(error)
}

/// Whether an answer is the 400 an Anthropic upstream gives when a `thinking` block's signature
/// was made by another upstream (`messages.1.content.0: Invalid `signature` in `thinking` block`).
pub fn is_invalid_thinking_signature(status: u16, body: &[u8]) -> bool {
    if status != 400 {
        return false;
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(64 << 10)]).to_lowercase();
    text.contains("signature") && text.contains("thinking")
}

/// The request with the `thinking` and `redacted_thinking` blocks removed from its assistant
/// turns, for one retry on an upstream that cannot verify their signatures. Where the request
/// turns extended thinking on and an assistant turn that used a tool lost its thinking block (the
/// API refuses such a turn while thinking is on), thinking is turned off for this request.
/// `None` when there is nothing to remove or the body is not a Messages request.
///
/// Only those blocks (and `thinking`) are cut out of the client's bytes: everything else, the
/// other blocks included, goes as the client wrote it, so the same conversation is rewritten the
/// same way on each of its requests and a longer one keeps the shorter one's bytes before it.
pub fn without_thinking_blocks(body: &[u8]) -> Option<Bytes> {
    let members = crate::scan::top_level_members(body).ok()?;
    let messages = &members.iter().rev().find(|m| m.key == "messages")?.value;
    let list: Vec<&RawValue> = serde_json::from_slice(&body[messages.clone()]).ok()?;
    let at = |raw: &RawValue| {
        let start = raw.get().as_ptr() as usize - body.as_ptr() as usize;
        start..start + raw.get().len()
    };
    let mut edits: Vec<(Range<usize>, Vec<u8>)> = Vec::new();
    let mut tool_turn_lost_thinking = false;
    for message in list {
        let Ok(message) = serde_json::from_str::<Message<'_>>(message.get()) else {
            continue;
        };
        let Some(content) = message
            .content
            .filter(|_| message.role.as_deref() == Some("assistant"))
        else {
            continue;
        };
        let Ok(blocks) = serde_json::from_str::<Vec<&RawValue>>(content.get()) else {
            continue;
        };
        let mut kept: Vec<&str> = Vec::with_capacity(blocks.len());
        let mut uses_tool = false;
        for block in &blocks {
            let kind = serde_json::from_str::<Block<'_>>(block.get())
                .ok()
                .and_then(|b| b.kind);
            match kind.as_deref() {
                Some("thinking" | "redacted_thinking") => continue,
                Some("tool_use") => uses_tool = true,
                _ => {}
            }
            kept.push(block.get());
        }
        if kept.len() == blocks.len() {
            continue;
        }
        tool_turn_lost_thinking |= uses_tool;
        let text = if kept.is_empty() {
            // A turn that was only thinking: the API refuses an empty assistant turn.
            r#"[{"type":"text","text":"(thinking omitted)"}]"#.to_string()
        } else {
            format!("[{}]", kept.join(","))
        };
        edits.push((at(content), text.into_bytes()));
    }
    if edits.is_empty() {
        return None;
    }
    let thinking_on = |m: &crate::scan::Member<'_>| {
        serde_json::from_slice::<Block<'_>>(&body[m.value.clone()])
            .ok()
            .and_then(|b| b.kind)
            .is_some_and(|kind| kind != "disabled")
    };
    let thinking = members.iter().rev().find(|m| m.key == "thinking");
    if tool_turn_lost_thinking && thinking.is_some_and(thinking_on) {
        for (i, member) in members.iter().enumerate() {
            if member.key == "thinking" {
                edits.push((member_span(body, &members, i)?, Vec::new()));
            }
        }
    }
    edits.sort_by_key(|(range, _)| range.start);
    let mut out = Vec::with_capacity(body.len());
    let mut from = 0;
    for (range, with) in edits {
        out.extend_from_slice(&body[from..range.start]);
        out.extend_from_slice(&with);
        from = range.end;
    }
    out.extend_from_slice(&body[from..]);
    Some(Bytes::from(out))
}

/// What the rectifier reads of a message.
#[derive(serde::Deserialize)]
struct Message<'a> {
    #[serde(default, borrow)]
    role: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    content: Option<&'a RawValue>,
}

/// What the rectifier reads of a content block, or of `thinking`: its type.
#[derive(serde::Deserialize)]
struct Block<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<std::borrow::Cow<'a, str>>,
}

/// The bytes top-level member `i` takes in `body` with the comma that joins it to a neighbour,
/// so that cutting them out leaves the other members as they were.
fn member_span(body: &[u8], members: &[crate::scan::Member<'_>], i: usize) -> Option<Range<usize>> {
    let this = &members[i];
    match (i.checked_sub(1), members.get(i + 1)) {
        (Some(before), _) => Some(members[before].value.end..this.value.end),
        (None, Some(next)) => {
            Some(key_start(body, this.value.start)?..key_start(body, next.value.start)?)
        }
        (None, None) => Some(key_start(body, this.value.start)?..this.value.end),
    }
}

/// Where the key of the member whose value starts at `value` begins (its opening quote).
fn key_start(body: &[u8], value: usize) -> Option<usize> {
    let before = &body[..value];
    let colon = before.iter().rposition(|b| !b.is_ascii_whitespace())?;
    let close = before[..colon]
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())?;
    (body[colon] == b':' && body[close] == b'"').then_some(())?;
    let mut i = close;
    loop {
        i = before[..i].iter().rposition(|b| *b == b'"')?;
        let backslashes = before[..i]
            .iter()
            .rev()
            .take_while(|b| **b == b'\\')
            .count();
        if backslashes % 2 == 0 {
            return Some(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn at(rfc3339: &str) -> SystemTime {
        parse_rfc3339(rfc3339).unwrap()
    }

    #[test]
    fn a_used_up_anthropic_budget_is_seen_before_the_429() {
        let now = at("2026-11-23T10:00:00Z");
        let h = headers(&[
            ("anthropic-ratelimit-requests-remaining", "49"),
            ("anthropic-ratelimit-requests-reset", "2026-11-23T10:00:01Z"),
            ("anthropic-ratelimit-input-tokens-remaining", "0"),
            (
                "anthropic-ratelimit-input-tokens-reset",
                "2026-11-23T10:00:12Z",
            ),
        ]);
        assert_eq!(
            exhausted_budget_wait(&h, now),
            Some(Duration::from_secs(12))
        );
    }

    #[test]
    fn a_used_up_openai_budget_is_seen_with_its_go_duration() {
        let now = SystemTime::now();
        let h = headers(&[
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "6m0s"),
            ("x-ratelimit-remaining-tokens", "0"),
            ("x-ratelimit-reset-tokens", "1.5s"),
        ]);
        assert_eq!(
            exhausted_budget_wait(&h, now),
            Some(Duration::from_secs(360))
        );
    }

    #[test]
    fn every_budget_an_answer_names_is_read_with_its_limit_and_reset() {
        let now = at("2026-11-23T10:00:00Z");
        let h = headers(&[
            ("anthropic-ratelimit-requests-limit", "1000"),
            ("anthropic-ratelimit-requests-remaining", "812"),
            ("anthropic-ratelimit-requests-reset", "2026-11-23T10:00:34Z"),
            ("anthropic-ratelimit-input-tokens-limit", "400000"),
            ("anthropic-ratelimit-input-tokens-remaining", "164000"),
            (
                "anthropic-ratelimit-input-tokens-reset",
                "2026-11-23T10:00:05Z",
            ),
            ("anthropic-ratelimit-output-tokens-remaining", "junk"),
        ]);
        let limits = rate_limits(&h, now).expect("limits");
        assert_eq!(
            limits.requests,
            Some(Budget {
                limit: Some(1000),
                remaining: Some(812),
                reset: Some(at("2026-11-23T10:00:34Z")),
            })
        );
        assert_eq!(limits.input_tokens.and_then(|b| b.remaining), Some(164_000));
        assert_eq!(limits.tokens, None, "no header, no budget");
        let output = limits.output_tokens.expect("named, though unreadable");
        assert_eq!(
            (output.limit, output.remaining, output.reset),
            (None, None, None)
        );
        assert_eq!(limits.used_up_wait(now), None);

        let openai = headers(&[
            ("x-ratelimit-limit-requests", "500"),
            ("x-ratelimit-remaining-requests", "499"),
            ("x-ratelimit-reset-requests", "120ms"),
            ("x-ratelimit-limit-tokens", "30000"),
            ("x-ratelimit-remaining-tokens", "-3"),
            ("x-ratelimit-reset-tokens", "6m0s"),
        ]);
        let limits = rate_limits(&openai, now).expect("limits");
        let requests = limits.requests.expect("requests");
        assert_eq!((requests.limit, requests.remaining), (Some(500), Some(499)));
        assert_eq!(requests.reset, Some(now + Duration::from_millis(120)));
        let tokens = limits.tokens.expect("tokens");
        assert_eq!(tokens.remaining, None, "a negative count is unknown");
        assert_eq!(tokens.reset, Some(now + Duration::from_secs(360)));
        assert_eq!(
            rate_limits(&headers(&[("x-ratelimit-limit-tokens", "9")]), now),
            None
        );
    }

    #[test]
    fn budgets_left_or_without_a_reset_say_nothing() {
        let now = SystemTime::now();
        for h in [
            headers(&[]),
            headers(&[
                ("x-ratelimit-remaining-requests", "3"),
                ("x-ratelimit-reset-requests", "1s"),
            ]),
            headers(&[("anthropic-ratelimit-tokens-remaining", "0")]),
            headers(&[
                ("anthropic-ratelimit-tokens-remaining", "0"),
                ("anthropic-ratelimit-tokens-reset", "1999-01-01T00:00:00Z"),
            ]),
        ] {
            assert_eq!(exhausted_budget_wait(&h, now), None, "{h:?}");
        }
    }

    /// Error bodies as the providers document them, and as relays answer.
    #[test]
    fn quota_is_told_from_rate_limits_by_structure_first() {
        let quota: [(u16, &str); 7] = [
            // OpenAI error codes guide: insufficient_quota comes as a 429.
            (
                429,
                r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#,
            ),
            // Anthropic errors page: 402 billing_error.
            (
                402,
                r#"{"type":"error","error":{"type":"billing_error","message":"Billing error"}}"#,
            ),
            // Anthropic: an empty prepaid balance is a 400 invalid_request_error.
            (
                400,
                r#"{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}}"#,
            ),
            // Anthropic: an organisation's spend limit.
            (
                400,
                r#"{"type":"error","error":{"type":"invalid_request_error","message":"You have reached your specified API usage limits. You will regain access on 2026-12-01 at 00:00 UTC."}}"#,
            ),
            // DeepSeek error codes page: 402 Insufficient Balance.
            (
                402,
                r#"{"error":{"message":"Insufficient Balance","type":"unknown_error","param":null,"code":"invalid_request_error"}}"#,
            ),
            // one-api / new-api relays.
            (
                403,
                r#"{"error":{"message":"user quota is not enough","type":"new_api_error","code":"insufficient_user_quota"}}"#,
            ),
            // A relay wrapping OpenAI's answer.
            (
                429,
                r#"{"message":"OpenAI API error.","details":{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}}"#,
            ),
        ];
        for (status, body) in quota {
            assert!(quota_exhausted(status, body.as_bytes()), "{body}");
        }
        let not_quota: [(u16, &str); 6] = [
            // Anthropic rate limit: its message points to plans and billing pages.
            (
                429,
                r#"{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit for your organization of 50,000 input tokens per minute. Check your plan and billing settings, or try again later."}}"#,
            ),
            // OpenAI rate limit.
            (
                429,
                r#"{"error":{"message":"Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Used 29000, Requested 2000. Please try again in 2s. Visit https://platform.openai.com/account/rate-limits to learn more. You can increase your rate limit by adding a payment method to your account at https://platform.openai.com/account/billing.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}"#,
            ),
            // Anthropic permission error.
            (
                403,
                r#"{"type":"error","error":{"type":"permission_error","message":"Your API key does not have permission to use the specified resource."}}"#,
            ),
            // A plain bad request mentioning billing.
            (
                400,
                r#"{"type":"error","error":{"type":"invalid_request_error","message":"metadata.billing: unexpected field"}}"#,
            ),
            (429, "Too Many Requests"),
            // 5xx are never a quota.
            (500, "insufficient balance"),
        ];
        for (status, body) in not_quota {
            assert!(!quota_exhausted(status, body.as_bytes()), "{body}");
        }
        assert!(quota_exhausted(
            429,
            b"<html>Insufficient balance on this key</html>"
        ));
    }

    #[test]
    fn the_thinking_signature_error_is_recognised() {
        let body = br#"{"type":"error","error":{"type":"invalid_request_error","message":"messages.1.content.0: Invalid `signature` in `thinking` block"},"request_id":"req_011CUdL49e3Fu9bCKbWF6cXD"}"#;
        assert!(is_invalid_thinking_signature(400, body));
        assert!(!is_invalid_thinking_signature(401, body));
        assert!(!is_invalid_thinking_signature(
            400,
            br#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: field required"}}"#
        ));
    }

    #[test]
    fn thinking_blocks_leave_assistant_turns_and_thinking_goes_off_for_tool_turns() {
        let body = br#"{"model":"m","max_tokens":2048,"thinking":{"type":"enabled","budget_tokens":1024},
            "messages":[
              {"role":"user","content":"list files"},
              {"role":"assistant","content":[
                 {"type":"thinking","thinking":"plan","signature":"sig-a"},
                 {"type":"redacted_thinking","data":"xyz"},
                 {"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}}]},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"a b"}]}]}"#;
        let out: serde_json::Value =
            serde_json::from_slice(&without_thinking_blocks(body).unwrap()).unwrap();
        let turn = &out["messages"][1]["content"];
        assert_eq!(turn.as_array().unwrap().len(), 1);
        assert_eq!(turn[0]["type"], "tool_use");
        assert!(out.get("thinking").is_none(), "thinking stays on: {out}");
        assert_eq!(out["messages"][2]["content"][0]["tool_use_id"], "t1");
    }

    #[test]
    fn only_the_thinking_is_cut_out_and_every_other_byte_stays_the_clients() {
        let body = "{\"thinking\" : {\"type\":\"enabled\",\"budget_tokens\":1024},\n \"model\":\"m\",\"messages\":[\n  {\"role\":\"user\",\"content\":\"caf\\u00e9\"},\n  {\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"t\",\"signature\":\"s\"}, {\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"f\",\"input\":{\"n\":123456789012345678901234567890,\"x\":1.50}}]},\n  {\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\",\"content\":\"ok\"}]}]}";
        let out = without_thinking_blocks(body.as_bytes()).expect("rectified");
        let out = std::str::from_utf8(&out).unwrap();
        assert_eq!(
            out,
            "{\"model\":\"m\",\"messages\":[\n  {\"role\":\"user\",\"content\":\"caf\\u00e9\"},\n  {\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"f\",\"input\":{\"n\":123456789012345678901234567890,\"x\":1.50}}]},\n  {\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\",\"content\":\"ok\"}]}]}"
        );
        // `thinking` named twice, the second last: both go.
        let twice = r#"{"model":"m","thinking":{"type":"disabled"},"messages":[{"role":"assistant","content":[{"type":"redacted_thinking","data":"x"},{"type":"tool_use","id":"t","name":"f","input":{}}]}],"thinking":{"type":"enabled","budget_tokens":1024}}"#;
        let out = without_thinking_blocks(twice.as_bytes()).expect("rectified");
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"model":"m","messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]}]}"#
        );
        assert_eq!(
            key_start(br#"{"a":1, "th\"x" : 2}"#, 18),
            Some(8),
            "an escaped quote in a key"
        );
    }

    #[test]
    fn thinking_stays_on_when_no_tool_turn_lost_its_block() {
        let body = br#"{"model":"m","thinking":{"type":"enabled","budget_tokens":1024},
            "messages":[{"role":"user","content":"hi"},
              {"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"text","text":"hello"}]},
              {"role":"user","content":"again"}]}"#;
        let out: serde_json::Value =
            serde_json::from_slice(&without_thinking_blocks(body).unwrap()).unwrap();
        assert_eq!(out["thinking"]["type"], "enabled");
        assert_eq!(out["messages"][1]["content"][0]["text"], "hello");
        let nothing = br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
        assert!(without_thinking_blocks(nothing).is_none());
        assert!(without_thinking_blocks(nothing).is_none());
        assert!(without_thinking_blocks(b"not json").is_none());
    }
}
