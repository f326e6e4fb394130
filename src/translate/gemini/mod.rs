//! Google Gemini in the hub: a reader and a writer for requests, whole answers and streams, and
//! the words of the API they share (paths, finish reasons, usage, ids, thought signatures).
//!
//! | Gemini | intermediate form |
//! | --- | --- |
//! | the model and `:streamGenerateContent` in the URL path (see [`gemini_path`]) | the model, stream (never in the body) |
//! | `systemInstruction.parts` | system text |
//! | `contents[]` of role `user` / `model` | user / assistant turns |
//! | `text`, `inlineData` (images, PDFs), `fileData` (images by URI) | text, image, document parts |
//! | `functionCall {id?, name, args}` | tool call (an id made up from its place when absent) |
//! | `functionResponse {id?, name, response: {output} / {error}}` | tool result (paired by name when no id; repeats of one id dropped) |
//! | `thought: true` parts | thinking (a client's are dropped: Gemini CLI never sends them back) |
//! | `thoughtSignature` holding the gateway's carried Anthropic thinking (see `carry`) | thinking blocks, signatures intact |
//! | a Gemini upstream's `thoughtSignature` | a thinking block whose signature is [`SIGNATURE_PREFIX`] + it |
//! | `tools[].functionDeclarations[]` `parametersJsonSchema` / `parameters` (OpenAPI, upper-case types) | tools (JSON Schema, types lower-cased) |
//! | `googleSearch`, `codeExecution`, `urlContext`, other built-in tools | left out (logged) |
//! | `toolConfig.functionCallingConfig` `AUTO` / `ANY` / `NONE`, `allowedFunctionNames` | tool choice |
//! | `generationConfig` `temperature`, `topP`, `topK`, `maxOutputTokens`, `stopSequences` | the same settings (for Messages, `topP` only without a temperature: Claude 4.5 models refuse both) |
//! | `generationConfig.thinkingConfig` `thinkingBudget` / `thinkingLevel` | thinking budget / effort |
//! | `responseMimeType: application/json` with `responseJsonSchema` / `responseSchema` | output format: JSON (schema) |
//! | `finishReason` `STOP` / `MAX_TOKENS` / `SAFETY`…, `usageMetadata` | stop reason, usage (prompt tokens include cached ones; thoughts are output) |
//!
//! A Gemini stream is `data: <GenerateContentResponse>` chunks, no event names and no `[DONE]`:
//! the answer is whole at the chunk with `finishReason`. A tool call comes whole, as one
//! `functionCall` part. Refused with a 400 naming the field: `candidateCount` above 1,
//! `cachedContent` (a prompt the gateway cannot see), audio, video and files by URI that are not
//! images.

mod answer;
mod passthrough;
mod request;
mod schema;
mod stream;
#[cfg(test)]
mod tests;

pub(crate) use answer::{read_answer, write_answer};
pub use passthrough::{
    gemini_retry_delay, gemini_without_carried_thinking, messages_without_gemini_thinking,
};
pub(crate) use request::{read_request, write_request, Prepared};
pub use stream::{StreamReader, StreamWriter};

use super::ir::StopReason;
use super::lazy::Json;
use super::Tokens;
use crate::wire::usage::tokens_of_usage_metadata;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// The path of a Gemini generation request for `model`, appended to an endpoint's `base_url`:
/// `/v1beta/models/{model}:generateContent`, or `:streamGenerateContent?alt=sse` for a stream.
pub fn gemini_path(model: &str, stream: bool) -> String {
    let model = model.strip_prefix("models/").unwrap_or(model);
    if stream {
        format!("/v1beta/models/{model}:streamGenerateContent?alt=sse")
    } else {
        format!("/v1beta/models/{model}:generateContent")
    }
}

/// What a Gemini client's request path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeminiCall {
    /// The model named in the path (`gemini-2.5-pro`, without `models/`).
    pub model: String,
    pub method: GeminiMethod,
}

/// The method after the model in a Gemini path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeminiMethod {
    /// `:generateContent`: one JSON answer.
    Generate,
    /// `:streamGenerateContent`: an SSE answer (with `?alt=sse`).
    StreamGenerate,
    /// `:countTokens`.
    CountTokens,
}

impl GeminiCall {
    /// The call a path names: `…/models/{model}:{method}` under any prefix (`/v1beta`, `/v1`,
    /// a base URL's own path); `None` for any other path.
    pub fn of_path(path: &str) -> Option<GeminiCall> {
        let at = path.rfind("/models/")?;
        let (model, method) = path[at + "/models/".len()..].rsplit_once(':')?;
        let method = match method {
            "generateContent" => GeminiMethod::Generate,
            "streamGenerateContent" => GeminiMethod::StreamGenerate,
            "countTokens" => GeminiMethod::CountTokens,
            _ => return None,
        };
        if model.is_empty() || model.contains('/') {
            return None;
        }
        Some(GeminiCall {
            model: model.to_string(),
            method,
        })
    }

    /// Whether the client asked for an SSE answer.
    pub fn stream(&self) -> bool {
        self.method == GeminiMethod::StreamGenerate
    }
}

/// The `thoughtSignature` Gemini CLI (and Google's documentation) give a call that has none.
pub(crate) const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// What starts the signature of a thinking block that carries a Gemini `thoughtSignature` through
/// a client of another API (a Messages thinking block, a Responses reasoning item): the client
/// gives it back verbatim, and the next request to Gemini puts it back on its part.
pub(crate) const SIGNATURE_PREFIX: &str = "switchyard.gemini.v1:";

/// A Gemini thought signature as the signature of a thinking block.
pub(crate) fn carried_signature(signature: &str) -> String {
    format!("{SIGNATURE_PREFIX}{signature}")
}

/// The Gemini thought signature a thinking block's signature carries, if it carries one.
pub(crate) fn gemini_signature(signature: &str) -> Option<&str> {
    signature.strip_prefix(SIGNATURE_PREFIX)
}

/// A Gemini `finishReason` in the intermediate form; a finished answer that called tools stopped
/// for tool use (Gemini says `STOP`).
pub(crate) fn stop_reason(finish_reason: Option<&str>, had_calls: bool) -> StopReason {
    match finish_reason {
        Some("MAX_TOKENS") => StopReason::MaxTokens,
        Some(
            "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY"
            | "LANGUAGE",
        ) => StopReason::Refusal,
        _ if had_calls => StopReason::ToolUse,
        _ => StopReason::EndTurn,
    }
}

/// The Gemini `finishReason` for a way to stop.
pub(crate) fn finish_word(stop: StopReason) -> &'static str {
    match stop {
        StopReason::MaxTokens | StopReason::ContextWindow => "MAX_TOKENS",
        StopReason::Refusal => "SAFETY",
        StopReason::EndTurn
        | StopReason::ToolUse
        | StopReason::StopSequence
        | StopReason::PauseTurn => "STOP",
    }
}

/// The tokens of a Gemini `usageMetadata`: prompt tokens include cached ones (and the tool-use
/// prompt is input too); thoughts are reasoning, billed as output.
pub(crate) fn read_usage(usage: Json<'_>) -> Tokens {
    tokens_of_usage_metadata(usage.text().as_bytes())
}

/// Gemini's `usageMetadata`: the prompt counts cache reads and writes, the candidates leave out
/// the thoughts (output tokens spent reasoning), and the total is their sum.
pub(crate) fn usage_json(usage: Tokens) -> Value {
    let prompt = usage.prompt();
    let thoughts = usage.reasoning.min(usage.output);
    let mut value = Map::new();
    value.insert("promptTokenCount".into(), json!(prompt));
    if usage.cache_read > 0 {
        value.insert("cachedContentTokenCount".into(), json!(usage.cache_read));
    }
    value.insert(
        "candidatesTokenCount".into(),
        json!(usage.output - thoughts),
    );
    if thoughts > 0 {
        value.insert("thoughtsTokenCount".into(), json!(thoughts));
    }
    value.insert(
        "totalTokenCount".into(),
        json!(prompt.saturating_add(usage.output)),
    );
    Value::Object(value)
}

/// A Gemini `responseId` for another API's answer id.
pub(crate) fn response_id(id: Option<&str>) -> &str {
    match id {
        Some(id) if !id.is_empty() => id,
        _ => "switchyard",
    }
}

/// The bytes a tool call id may hold: ASCII letters and digits, `_` and `-`.
const ID_BYTE: [bool; 256] = {
    let mut allowed = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        allowed[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
        b += 1;
    }
    allowed
};

/// A tool call id other APIs take (Anthropic: `^[a-zA-Z0-9_-]+$`): the id with any other
/// character as `_`, borrowed when it has none.
pub(crate) fn tool_id(id: Cow<'_, str>) -> Cow<'_, str> {
    // Every byte looked up, without a branch per byte: ids are checked twice per call (the call
    // and its result), and nearly all of them pass.
    if !id.is_empty() && id.bytes().fold(true, |ok, b| ok & ID_BYTE[usize::from(b)]) {
        return id;
    }
    let allowed = |c: char| c.is_ascii() && ID_BYTE[c as usize];
    let clean: String = id
        .chars()
        .map(|c| if allowed(c) { c } else { '_' })
        .collect();
    Cow::Owned(if clean.is_empty() {
        "call".to_string()
    } else {
        clean
    })
}

/// An id for the `index`-th call of an answer whose upstream gave the call none: from the answer's
/// id when it has one, else from the call itself, so it is the same each time the answer is read.
pub(crate) fn made_up_call_id(
    answer_id: Option<&str>,
    index: usize,
    name: &str,
    args: &str,
) -> String {
    match answer_id.filter(|id| !id.is_empty()) {
        Some(id) => format!("call_{}_{index}", tool_id(Cow::Borrowed(id))),
        None => {
            let digest = Sha256::digest(format!("{name}\n{args}").as_bytes());
            let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
            format!("call_{hex}_{index}")
        }
    }
}

#[cfg(test)]
mod words {
    use super::*;

    #[test]
    fn the_path_names_the_model_and_whether_it_streams() {
        assert_eq!(
            gemini_path("gemini-2.5-pro", true),
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
        );
        assert_eq!(
            gemini_path("models/gemini-2.5-flash", false),
            "/v1beta/models/gemini-2.5-flash:generateContent"
        );
    }

    #[test]
    fn a_clients_path_gives_its_model_and_method() {
        let call =
            GeminiCall::of_path("/v1beta/models/gemini-3.8-flash:streamGenerateContent").unwrap();
        assert_eq!(call.model, "gemini-3.8-flash");
        assert!(call.stream());
        let call =
            GeminiCall::of_path("/gemini/x/v1/models/claude-sonnet-4-5:generateContent").unwrap();
        assert_eq!(
            (call.model.as_str(), call.method),
            ("claude-sonnet-4-5", GeminiMethod::Generate)
        );
        assert_eq!(
            GeminiCall::of_path("/v1beta/models/m:countTokens")
                .unwrap()
                .method,
            GeminiMethod::CountTokens
        );
        assert_eq!(GeminiCall::of_path("/v1beta/models/m:embedContent"), None);
        assert_eq!(GeminiCall::of_path("/v1beta/models"), None);
        assert_eq!(GeminiCall::of_path("/v1/messages"), None);
    }

    #[test]
    fn usage_counts_cached_tokens_in_the_prompt_and_thoughts_as_output() {
        let text = br#"{"promptTokenCount":2400,"cachedContentTokenCount":1920,"candidatesTokenCount":64,"thoughtsTokenCount":16,"totalTokenCount":2480}"#;
        let usage = read_usage(Json::parse(text).unwrap());
        assert_eq!(usage, Tokens::new(480, 80, 1920, 0).with_reasoning(16));
        let back = usage_json(usage);
        assert_eq!(back, serde_json::from_slice::<Value>(text).unwrap());
        let plain = usage_json(Tokens::new(5, 3, 0, 2));
        assert_eq!(
            plain,
            json!({"promptTokenCount": 7, "candidatesTokenCount": 3, "totalTokenCount": 10})
        );
    }

    #[test]
    fn made_up_call_ids_are_stable_and_valid_anthropic_ids() {
        let a = made_up_call_id(Some("resp/1+x"), 2, "ls", "{}");
        assert_eq!(a, "call_resp_1_x_2");
        let b = made_up_call_id(None, 0, "ls", "{}");
        assert_eq!(b, made_up_call_id(None, 0, "ls", "{}"));
        assert_ne!(b, made_up_call_id(None, 0, "ls", "{\"a\":1}"));
        assert!(matches!(
            tool_id(Cow::Borrowed("toolu_01-x")),
            Cow::Borrowed(_)
        ));
        assert_eq!(tool_id(Cow::Borrowed("a.b c")), "a_b_c");
        assert_eq!(tool_id(Cow::Borrowed("id-\u{e9}~")), "id-__");
        assert_eq!(tool_id(Cow::Borrowed("")), "call");
    }
}
