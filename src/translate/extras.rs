//! Claude Code's side calls answered by the gateway: a token-count estimate for Messages requests,
//! and the models list in either API's shape.

use super::lazy::Json;
use super::{Api, Refusal};
use serde_json::{json, Value};

/// Tokens charged per image: Anthropic's figure for an image of about 1.15 megapixels.
const IMAGE_TOKENS: u64 = 1600;
/// Framing tokens per message (role and separators).
const MESSAGE_TOKENS: u64 = 4;

/// An estimate of a Messages request's input tokens, for `POST /v1/messages/count_tokens` when no
/// upstream can count. Method: the text of `system`, every text, thinking and tool-result block,
/// every tool call's input and every tool's name, description and schema (as compact JSON) is
/// measured as ASCII characters / 4 plus one token per other character (a CJK character is about
/// one token); each message adds 4 and each image 1600. Adding content never lowers the count.
pub fn estimate_input_tokens(request: &Value) -> u64 {
    let text = serde_json::to_vec(request).unwrap_or_default();
    Json::parse(&text).map_or(0, tokens_of)
}

/// The answer to a client's token count, estimated by the gateway: Anthropic's
/// `{"input_tokens": n}` for a `count_tokens` body, Gemini's `{"totalTokens": n}` for a
/// `:countTokens` body (its `contents`, or the whole `generateContentRequest`), read through the
/// hub as a Messages request so both APIs are measured alike. `model` is the one a Gemini client's
/// path names. Refused when the body is not JSON or its content cannot be read.
pub fn count_tokens_answer(client: Api, body: &[u8], model: &str) -> Result<Vec<u8>, Refusal> {
    let request = Json::parse(body).map_err(|e| Refusal::NotJson(e.to_string()))?;
    if client != Api::Gemini {
        let answer = json!({"input_tokens": tokens_of(request)});
        return Ok(answer.to_string().into_bytes());
    }
    let inner = request
        .object()
        .map(|o| o.field("generateContentRequest"))
        .filter(|inner| !inner.is_null())
        .map(Json::compact);
    let gemini = inner.as_deref().map_or(body, str::as_bytes);
    let messages =
        super::translate_gemini_request(Api::Anthropic, gemini, model, false, &Default::default())?;
    let request = Json::parse(&messages.body).map_err(|e| Refusal::NotJson(e.to_string()))?;
    let answer = json!({"totalTokens": tokens_of(request)});
    Ok(answer.to_string().into_bytes())
}

/// [`estimate_input_tokens`] of a request.
fn tokens_of(request: Json<'_>) -> u64 {
    let request = request.object().unwrap_or_default();
    let mut meter = Meter::default();
    meter.content(request.field("system"));
    let mut messages = 0;
    if let Some(list) = request.field("messages").array() {
        for message in list {
            messages += 1;
            meter.content(message.get("content"));
        }
    }
    if let Some(tools) = request.field("tools").array() {
        for tool in tools {
            let tool = tool.object().unwrap_or_default();
            meter.text(&tool.str("name").unwrap_or_default());
            meter.text(&tool.str("description").unwrap_or_default());
            let schema = tool.field("input_schema");
            if !schema.is_null() {
                meter.text(&schema.compact());
            }
        }
    }
    meter
        .ascii
        .div_ceil(4)
        .saturating_add(meter.other)
        .saturating_add(meter.images.saturating_mul(IMAGE_TOKENS))
        .saturating_add(messages * MESSAGE_TOKENS)
}

#[derive(Default)]
struct Meter {
    ascii: u64,
    other: u64,
    images: u64,
}

impl Meter {
    fn text(&mut self, text: &str) {
        for c in text.chars() {
            if c.is_ascii() {
                self.ascii += 1;
            } else {
                self.other += 1;
            }
        }
    }

    fn content(&mut self, content: Json<'_>) {
        if let Some(text) = content.as_str() {
            return self.text(&text);
        }
        for block in content.array().unwrap_or_default() {
            let block = block.object().unwrap_or_default();
            match block.str("type").unwrap_or_default().as_ref() {
                "image" | "document" => self.images += 1,
                "tool_use" => {
                    self.text(&block.str("name").unwrap_or_default());
                    self.text(&block.field("input").compact());
                }
                "tool_result" => self.content(block.field("content")),
                "thinking" => self.text(&block.str("thinking").unwrap_or_default()),
                _ => self.text(&block.str("text").unwrap_or_default()),
            }
        }
    }
}

/// `GET /v1/models` (Gemini: `GET /v1beta/models`) in the caller's shape, listing `models` in
/// order.
pub fn models_list(api: Api, models: &[String]) -> Value {
    match api {
        Api::Anthropic => {
            let data: Vec<Value> = models
                .iter()
                .map(|m| json!({"type": "model", "id": m, "display_name": m, "created_at": "1970-01-01T00:00:00Z"}))
                .collect();
            json!({
                "data": data,
                "has_more": false,
                "first_id": models.first(),
                "last_id": models.last(),
            })
        }
        Api::OpenAi | Api::Responses => {
            let data: Vec<Value> = models
                .iter()
                .map(
                    |m| json!({"id": m, "object": "model", "created": 0, "owned_by": "switchyard"}),
                )
                .collect();
            json!({"object": "list", "data": data})
        }
        Api::Gemini => {
            let data: Vec<Value> = models
                .iter()
                .map(|m| {
                    json!({"name": format!("models/{m}"), "displayName": m,
                    "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"]})
                })
                .collect();
            json!({"models": data})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> Value {
        json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": text}]})
    }

    #[test]
    fn the_estimate_is_sane_for_english_and_cjk() {
        let english = "The quick brown fox jumps over the lazy dog. ".repeat(100);
        let n = estimate_input_tokens(&request(&english));
        // 4500 characters of English is about 1000 tokens by any tokenizer.
        assert!((900..=1300).contains(&n), "{n}");
        assert_eq!(estimate_input_tokens(&request("你好世界")), 4 + 4);
        assert_eq!(estimate_input_tokens(&json!({})), 0);
    }

    #[test]
    fn adding_anything_never_lowers_the_estimate() {
        let base = request("hello there");
        let mut with_system = base.clone();
        with_system["system"] = json!("be brief");
        let mut with_tool = base.clone();
        with_tool["tools"] =
            json!([{"name": "bash", "description": "run", "input_schema": {"type": "object"}}]);
        let mut with_image = base.clone();
        with_image["messages"][0]["content"] = json!([{"type": "text", "text": "hello there"}, {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}]);
        let b = estimate_input_tokens(&base);
        for bigger in [&with_system, &with_tool, &with_image] {
            assert!(estimate_input_tokens(bigger) > b);
        }
        let mut last = 0;
        for n in 0..200 {
            let e = estimate_input_tokens(&request(&"ab c".repeat(n)));
            assert!(e >= last);
            last = e;
        }
    }

    #[test]
    fn the_answer_is_read_from_the_body_and_a_body_that_is_not_json_is_refused() {
        let body = request("你好世界").to_string();
        let count = |api, body: &[u8]| count_tokens_answer(api, body, "m");
        let answer: Value =
            serde_json::from_slice(&count(Api::Anthropic, body.as_bytes()).unwrap()).unwrap();
        assert_eq!(answer, json!({"input_tokens": 8}));
        assert!(count(Api::Anthropic, b"{\"messages\":").is_err());
        assert!(count(Api::Gemini, b"{\"contents\":").is_err());
    }

    #[test]
    fn a_gemini_count_measures_the_same_content_as_a_messages_count() {
        let count = |api, body: Value| -> Value {
            let answer = count_tokens_answer(api, body.to_string().as_bytes(), "m").unwrap();
            serde_json::from_slice(&answer).unwrap()
        };
        let contents = json!([{"role": "user", "parts": [{"text": "你好世界"}]}]);
        let direct = count(Api::Gemini, json!({"contents": contents}));
        assert_eq!(direct, json!({"totalTokens": 8}));
        let wrapped =
            json!({"generateContentRequest": {"model": "models/m", "contents": contents}});
        assert_eq!(count(Api::Gemini, wrapped), direct);
        // A system instruction and a tool are counted too.
        let fuller = json!({
            "contents": contents,
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "tools": [{"functionDeclarations": [{"name": "run", "description": "Runs a command",
                "parametersJsonSchema": {"type": "object"}}]}],
        });
        let fuller = count(Api::Gemini, fuller)["totalTokens"].as_u64().unwrap();
        assert!(fuller > 8 + 6, "{fuller}");
    }

    #[test]
    fn models_are_listed_in_each_apis_shape() {
        let models = vec!["a".to_string(), "b".to_string()];
        let a = models_list(Api::Anthropic, &models);
        assert_eq!(a["data"][1]["id"], "b");
        assert_eq!(a["data"][0]["type"], "model");
        assert_eq!(a["first_id"], "a");
        assert_eq!(a["has_more"], false);
        let o = models_list(Api::OpenAi, &models);
        assert_eq!(o["object"], "list");
        assert_eq!(o["data"][0]["object"], "model");
    }
}
