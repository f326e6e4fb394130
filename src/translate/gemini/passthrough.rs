//! What a passthrough request must lose when a conversation moves between a Gemini endpoint and
//! another (failover): the signatures the gateway carried for one API mean nothing to the other,
//! and both refuse a signature they did not make. Also the wait a Gemini 429 asks for.

use super::{SIGNATURE_PREFIX, SKIP_SIGNATURE};
use crate::translate::responses::carry;
use memchr::memmem::Finder;
use serde_json::Value;
use std::sync::LazyLock;
use std::time::Duration;

/// Finds a carried Anthropic signature; built once, as every passthrough request to a Gemini
/// endpoint is searched with it.
static CARRIED_ANTHROPIC: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new(carry::PREFIX.as_bytes()));

/// Finds a Gemini signature; built once, as every passthrough request to an Anthropic endpoint
/// is searched with it.
static GEMINI_SIGNATURE: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new(SIGNATURE_PREFIX.as_bytes()));

/// A Gemini client's request for a Gemini upstream, with every `thoughtSignature` that carries
/// another API's thinking (see `carry`) replaced by the placeholder Gemini documents for calls
/// made elsewhere; `None` when it holds none, which is told without parsing it.
pub fn gemini_without_carried_thinking(body: &[u8]) -> Option<Vec<u8>> {
    CARRIED_ANTHROPIC.find(body)?;
    let mut request: Value = serde_json::from_slice(body).ok()?;
    let mut changed = false;
    for content in request.get_mut("contents")?.as_array_mut()? {
        let Some(parts) = content.get_mut("parts").and_then(Value::as_array_mut) else {
            continue;
        };
        for part in parts {
            if let Some(signature) = part.get_mut("thoughtSignature") {
                if signature.as_str().is_some_and(carry::is_carried) {
                    *signature = Value::from(SKIP_SIGNATURE);
                    changed = true;
                }
            }
        }
    }
    changed.then(|| request.to_string().into_bytes())
}

/// A Messages request for an Anthropic upstream without the thinking blocks that carry a Gemini
/// signature (Claude Code gives them back after a Gemini endpoint answered); `None` when it holds
/// none, which is told without parsing it.
pub fn messages_without_gemini_thinking(body: &[u8]) -> Option<Vec<u8>> {
    GEMINI_SIGNATURE.find(body)?;
    let mut request: Value = serde_json::from_slice(body).ok()?;
    let mut changed = false;
    for message in request.get_mut("messages")?.as_array_mut()? {
        let Some(blocks) = message.get_mut("content").and_then(Value::as_array_mut) else {
            continue;
        };
        let before = blocks.len();
        blocks.retain(|block| {
            let gemini = block["type"] == "thinking"
                && block["signature"]
                    .as_str()
                    .is_some_and(|s| s.starts_with(SIGNATURE_PREFIX));
            !gemini
        });
        changed |= blocks.len() != before;
    }
    changed.then(|| request.to_string().into_bytes())
}

/// How long a Gemini error body asks to wait: its `google.rpc.RetryInfo` `retryDelay` (`"12s"`,
/// `"1.5s"`), else a message's "Please retry in 2.5s."; `None` when it says neither.
pub fn gemini_retry_delay(body: &[u8]) -> Option<Duration> {
    let error: Value = serde_json::from_slice(body).ok()?;
    let error = error.get("error")?;
    let from_details = error
        .get("details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|d| {
            d["@type"]
                .as_str()
                .is_some_and(|t| t.ends_with("google.rpc.RetryInfo"))
        })
        .find_map(|d| seconds(d["retryDelay"].as_str()?));
    from_details.or_else(|| {
        let message = error["message"].as_str()?;
        let (_, after) = message.split_once("retry in ")?;
        let number: String = after
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let rest = &after[number.len()..];
        let secs: f64 = number.parse().ok()?;
        let secs = if rest.starts_with("ms") {
            secs / 1000.0
        } else {
            secs
        };
        Duration::try_from_secs_f64(secs).ok()
    })
}

/// A protobuf `Duration` as JSON writes it: seconds with an `s`.
fn seconds(text: &str) -> Option<Duration> {
    let secs: f64 = text.strip_suffix('s')?.parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn carried_anthropic_thinking_becomes_the_placeholder_for_a_gemini_upstream() {
        let carried = carry::carry(&[carry::thinking_block("t", "sig")]);
        let body = json!({"contents": [
            {"role": "user", "parts": [{"text": "go"}]},
            {"role": "model", "parts": [
                {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": carried},
                {"functionCall": {"name": "g", "args": {}}, "thoughtSignature": "CiQBGemini"}]}]})
        .to_string();
        let out: Value =
            serde_json::from_slice(&gemini_without_carried_thinking(body.as_bytes()).unwrap())
                .unwrap();
        let parts = &out["contents"][1]["parts"];
        assert_eq!(parts[0]["thoughtSignature"], SKIP_SIGNATURE);
        assert_eq!(parts[1]["thoughtSignature"], "CiQBGemini");
        let plain = json!({"contents": []}).to_string();
        assert_eq!(gemini_without_carried_thinking(plain.as_bytes()), None);
    }

    #[test]
    fn thinking_that_carries_a_gemini_signature_is_left_out_for_anthropic() {
        let body = json!({"model": "claude", "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "", "signature": "switchyard.gemini.v1:S"},
                {"type": "thinking", "thinking": "mine", "signature": "EqQB"},
                {"type": "tool_use", "id": "t", "name": "f", "input": {}}]}]})
        .to_string();
        let out: Value =
            serde_json::from_slice(&messages_without_gemini_thinking(body.as_bytes()).unwrap())
                .unwrap();
        let blocks = out["messages"][1]["content"].as_array().unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0]["signature"], "EqQB");
        let plain = json!({"model": "claude", "messages": []}).to_string();
        assert_eq!(messages_without_gemini_thinking(plain.as_bytes()), None);
    }

    #[test]
    fn a_429_says_how_long_to_wait_in_its_details_or_its_message() {
        let retry_info = json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
            "message": "Quota exceeded.", "details": [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s"}]}});
        assert_eq!(
            gemini_retry_delay(retry_info.to_string().as_bytes()),
            Some(Duration::from_secs(12))
        );
        let message = json!({"error": {"code": 429, "message": "Please retry in 2.5s.", "status": "RESOURCE_EXHAUSTED"}});
        assert_eq!(
            gemini_retry_delay(message.to_string().as_bytes()),
            Some(Duration::from_millis(2500))
        );
        let millis = json!({"error": {"message": "Please retry in 750.5ms."}});
        assert_eq!(
            gemini_retry_delay(millis.to_string().as_bytes()),
            Some(Duration::from_micros(750_500))
        );
        assert_eq!(
            gemini_retry_delay(b"{\"error\":{\"message\":\"no\"}}"),
            None
        );
        assert_eq!(gemini_retry_delay(b"not json"), None);
    }
}
