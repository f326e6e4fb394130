//! Anthropic thinking carried through a Responses client.
//!
//! Anthropic needs the thinking blocks of a tool-use turn back, signatures intact, when thinking is
//! on. A Responses client keeps only items, so each block travels as a `reasoning` item whose
//! `encrypted_content` is [`PREFIX`] and the base64 of the blocks' JSON: opaque to the client, which
//! replays it as it came, and recognised here when the next request is read. Nothing else is ever
//! sent in that form, and an upstream of another API never sees it.

use crate::translate::ir::Part;
use crate::translate::lazy::Text;
use serde_json::{json, Value};
use std::borrow::Cow;

/// What starts an `encrypted_content` the gateway made.
pub(crate) const PREFIX: &str = "switchyard.anthropic.v1:";

/// Anthropic thinking blocks as an `encrypted_content`.
pub(crate) fn carry(blocks: &[Value]) -> String {
    let json = Value::Array(blocks.to_vec()).to_string();
    let mut out = String::with_capacity(PREFIX.len() + json.len() * 4 / 3 + 4);
    out.push_str(PREFIX);
    encode_base64(json.as_bytes(), &mut out);
    out
}

/// A thinking block as Anthropic writes it.
pub(crate) fn thinking_block(text: &str, signature: &str) -> Value {
    json!({"type": "thinking", "thinking": text, "signature": signature})
}

/// A redacted thinking block as Anthropic writes it.
pub(crate) fn redacted_block(data: &str) -> Value {
    json!({"type": "redacted_thinking", "data": data})
}

/// Whether an `encrypted_content` is one the gateway made.
pub(crate) fn is_carried(encrypted: &str) -> bool {
    encrypted.starts_with(PREFIX)
}

/// A Responses request for a `responses` upstream without the reasoning items whose thinking the
/// gateway carried from an Anthropic upstream (that upstream would refuse them); `None` when it
/// holds none, which is told without parsing it.
pub fn without_carried_reasoning(body: &[u8]) -> Option<Vec<u8>> {
    memchr::memmem::find(body, PREFIX.as_bytes())?;
    let mut request: Value = serde_json::from_slice(body).ok()?;
    let input = request.get_mut("input")?.as_array_mut()?;
    let before = input.len();
    input.retain(|item| {
        let carried = item["type"] == "reasoning"
            && item["encrypted_content"].as_str().is_some_and(is_carried);
        !carried
    });
    (input.len() != before).then(|| request.to_string().into_bytes())
}

/// The thinking blocks an `encrypted_content` the gateway made carries; `None` when it is not one
/// (or was changed on the way).
pub(crate) fn restore(encrypted: &str) -> Option<Vec<Part<'static>>> {
    let bytes = decode_base64(encrypted.strip_prefix(PREFIX)?)?;
    let blocks: Vec<Value> = serde_json::from_slice(&bytes).ok()?;
    let text = |block: &Value, key: &str| block[key].as_str().map(|s| Cow::Owned(s.to_string()));
    let thinking = |block: &Value| {
        block["thinking"]
            .as_str()
            .map(|s| Text::from(s.to_string()))
    };
    blocks
        .iter()
        .map(|block| match block["type"].as_str()? {
            "thinking" => Some(Part::Thinking {
                text: thinking(block)?,
                signature: Some(text(block, "signature")?),
            }),
            "redacted_thinking" => Some(Part::RedactedThinking(text(block, "data")?)),
            _ => None,
        })
        .collect()
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64, padded.
fn encode_base64(bytes: &[u8], out: &mut String) {
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut n, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|a| *a == c)? as u32;
        n = n << 6 | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((n >> bits) as u8);
            n &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carried_reasoning_is_left_out_for_a_responses_upstream_and_the_rest_kept() {
        let carried = carry(&[thinking_block("thought", "sig")]);
        let body = json!({"model": "m", "input": [
            {"type": "message", "role": "user", "content": "hi"},
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": carried},
            {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "gAAA-openai"},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        ]})
        .to_string();
        let out: Value =
            serde_json::from_slice(&without_carried_reasoning(body.as_bytes()).unwrap()).unwrap();
        let ids: Vec<&str> = out["input"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap_or(i["type"].as_str().unwrap()))
            .collect();
        assert_eq!(ids, ["message", "rs_2", "function_call"]);
        let plain = json!({"model": "m", "input": "hi"}).to_string();
        assert_eq!(without_carried_reasoning(plain.as_bytes()), None);
    }

    #[test]
    fn base64_round_trips_every_length() {
        let data: Vec<u8> = (0..=255u8).collect();
        for len in 0..40 {
            let mut text = String::new();
            encode_base64(&data[..len], &mut text);
            assert_eq!(text.len() % 4, 0);
            assert_eq!(decode_base64(&text).unwrap(), &data[..len]);
        }
        let mut text = String::new();
        encode_base64(b"Man", &mut text);
        assert_eq!(text, "TWFu");
        text.clear();
        encode_base64(b"Ma", &mut text);
        assert_eq!(text, "TWE=");
        assert!(decode_base64("TW?u").is_none());
    }

    #[test]
    fn carried_thinking_comes_back_as_it_went_and_anything_else_does_not() {
        let carried = carry(&[thinking_block("hm", "sig"), redacted_block("opaque")]);
        assert!(is_carried(&carried));
        let parts = restore(&carried).unwrap();
        assert!(
            matches!(&parts[0], Part::Thinking { text, signature: Some(s) } if text == "hm" && s == "sig")
        );
        assert!(matches!(&parts[1], Part::RedactedThinking(d) if d == "opaque"));
        assert!(restore("gAAAAABopenai-encrypted").is_none());
        assert!(restore(&format!("{PREFIX}bm90IGpzb24=")).is_none());
    }
}
