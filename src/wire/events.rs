//! What one event of an API's stream means to the relay: an opening event that carries nothing
//! the client needs yet (Anthropic `message_start` / `ping` / `content_block_start`, a Chat chunk
//! with only the role, Responses `response.created` / `response.in_progress`, a Gemini chunk
//! without parts), the first that carries content (a text, thinking or tool-call delta, or the end
//! of a message), or an error the upstream reports inside a `200` stream, with the status it
//! stands for. An event the gateway does not know is content: it is passed on as it came.

use crate::wire::errors::{error_value, ErrorKind};
use crate::wire::Api;
use serde_json::Value;

/// What one stream event says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meaning {
    /// Opens the stream or keeps it alive; no content yet.
    Opening,
    /// Content, the end of the message, or anything the gateway does not know.
    Content,
    /// The upstream's error.
    Error(StreamError),
}

/// An error an upstream reported inside its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamError {
    /// The status it stands for: 529 for an overloaded upstream, 429 for a rate limit, 500 for a
    /// server error, the status a Gemini or relay error names as its `code`.
    pub status: u16,
    /// What went wrong, in words every API has.
    pub kind: ErrorKind,
    /// The upstream's own word for it (`overloaded_error`, `rate_limit_exceeded`, `UNAVAILABLE`),
    /// letters, digits and `_.-` only: it is shown in logs and `/admin/status`.
    pub word: String,
    /// The upstream's message.
    pub message: String,
}

impl StreamError {
    /// The error as an error body of `api` (an answer's body, not an event), with its status.
    pub fn body(&self, api: Api) -> Vec<u8> {
        let mut words = self.kind.words(&self.message);
        words.status = self.status;
        error_value(api, &words).to_string().into_bytes()
    }
}

/// The meaning of an event named `name` (empty when it has no `event:` field) whose data is
/// `data`, in a stream of `api`.
pub fn meaning(api: Api, name: &str, data: &str) -> Meaning {
    match api {
        Api::Anthropic => anthropic(name, data),
        Api::OpenAi => chat(data),
        Api::Responses => responses(name, data),
        Api::Gemini => gemini(data),
    }
}

/// The error an event of `api` reports, if it reports one: a cheaper question than [`meaning`],
/// asked of every event after content began. `name` and `data` as for [`meaning`].
pub fn error_of(api: Api, name: &str, data: &str) -> Option<StreamError> {
    let named_error = match api {
        Api::Anthropic => name == "error",
        Api::Responses => name == "error" || name == "response.failed",
        Api::OpenAi | Api::Gemini => false,
    };
    // An error object's key as the JSON of an event has it; inside a string it would be escaped.
    if !named_error && !data.contains("\"error\"") {
        return None;
    }
    match meaning(api, name, data) {
        Meaning::Error(error) => Some(error),
        Meaning::Opening | Meaning::Content => None,
    }
}

/// The event's type: its `event:` name, else the `type` its data names.
fn event_type<'a>(name: &'a str, data: &Value) -> std::borrow::Cow<'a, str> {
    if name.is_empty() {
        std::borrow::Cow::Owned(data["type"].as_str().unwrap_or_default().to_string())
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

fn anthropic(name: &str, data: &str) -> Meaning {
    // Named events are told by their name alone: no JSON is read for them.
    let parsed;
    let kind = if name.is_empty() {
        parsed = serde_json::from_str::<Value>(data).unwrap_or_default();
        event_type(name, &parsed)
    } else {
        std::borrow::Cow::Borrowed(name)
    };
    match &*kind {
        "message_start" | "ping" | "content_block_start" => Meaning::Opening,
        "error" => {
            let value = serde_json::from_str::<Value>(data).unwrap_or_default();
            Meaning::Error(read_error(&value["error"]))
        }
        _ => Meaning::Content,
    }
}

/// A Chat Completions chunk (or a legacy completions one, whose choices carry `text`).
fn chat(data: &str) -> Meaning {
    let data = data.trim();
    if data == "[DONE]" {
        return Meaning::Content;
    }
    let Ok(chunk) = serde_json::from_str::<Value>(data) else {
        return Meaning::Content;
    };
    if !chunk["error"].is_null() {
        return Meaning::Error(read_error(&chunk["error"]));
    }
    let Some(choices) = chunk["choices"].as_array() else {
        return Meaning::Content;
    };
    if choices.is_empty() {
        // Azure opens with a chunk of prompt filter results; a usage chunk ends a stream.
        return if chunk["usage"].is_null() {
            Meaning::Opening
        } else {
            Meaning::Content
        };
    }
    let carries = |choice: &Value| {
        let delta = &choice["delta"];
        !choice["finish_reason"].is_null()
            || ["content", "reasoning_content", "reasoning", "refusal"]
                .iter()
                .any(|field| has_text(&delta[field]))
            || has_text(&choice["text"])
            || delta["tool_calls"]
                .as_array()
                .is_some_and(|calls| !calls.is_empty())
            || !delta["function_call"].is_null()
    };
    if choices.iter().any(carries) {
        Meaning::Content
    } else {
        Meaning::Opening
    }
}

fn responses(name: &str, data: &str) -> Meaning {
    let value = serde_json::from_str::<Value>(data).unwrap_or_default();
    match &*event_type(name, &value) {
        "response.created"
        | "response.in_progress"
        | "response.queued"
        | "response.output_item.added"
        | "response.content_part.added"
        | "response.reasoning_summary_part.added" => Meaning::Opening,
        "response.failed" => Meaning::Error(read_error(&value["response"]["error"])),
        "error" => {
            // Responses' error event carries its fields at the top, not under `error`.
            let error = if value["error"].is_object() {
                &value["error"]
            } else {
                &value
            };
            Meaning::Error(read_error(error))
        }
        _ => Meaning::Content,
    }
}

fn gemini(data: &str) -> Meaning {
    let Ok(chunk) = serde_json::from_str::<Value>(data) else {
        return Meaning::Content;
    };
    if !chunk["error"].is_null() {
        return Meaning::Error(read_error(&chunk["error"]));
    }
    if !chunk["promptFeedback"]["blockReason"].is_null() {
        return Meaning::Content;
    }
    let Some(candidates) = chunk["candidates"].as_array() else {
        return Meaning::Content;
    };
    let carries = |candidate: &Value| {
        !candidate["finishReason"].is_null()
            || candidate["content"]["parts"]
                .as_array()
                .is_some_and(|parts| parts.iter().any(part_carries))
    };
    if candidates.iter().any(carries) {
        Meaning::Content
    } else {
        Meaning::Opening
    }
}

/// A Gemini part that is more than an empty text.
fn part_carries(part: &Value) -> bool {
    match part.as_object() {
        Some(fields) => fields.iter().any(|(key, value)| match key.as_str() {
            "text" => has_text(value),
            "thought" | "thoughtSignature" => false,
            _ => true,
        }),
        None => false,
    }
}

fn has_text(value: &Value) -> bool {
    value.as_str().is_some_and(|text| !text.is_empty())
}

/// An error object of any API (`{type, message}`, `{message, type, code}`, `{code, status,
/// message}`) as a [`StreamError`]: a status it names as its `code` first, else the kind its
/// words name, else a server error.
fn read_error(error: &Value) -> StreamError {
    let text = |key: &str| error[key].as_str().unwrap_or_default().to_string();
    let (kind_word, code_word, status_word) = (text("type"), text("code"), text("status"));
    let named = ErrorKind::from_words(&kind_word, &code_word)
        .or_else(|| ErrorKind::from_gemini_status(&status_word));
    let code = error["code"]
        .as_u64()
        .or_else(|| code_word.parse().ok())
        .filter(|code| (400..600).contains(code))
        .map(|code| code as u16);
    let (status, kind) = match (code, named) {
        (Some(status), Some(kind)) => (status, kind),
        (Some(status), None) => (status, ErrorKind::from_status(status)),
        (None, Some(ErrorKind::Overloaded)) => (529, ErrorKind::Overloaded),
        (None, Some(kind)) => (kind.http_status(), kind),
        (None, None) => (500, ErrorKind::Api),
    };
    let word = [&kind_word, &code_word, &status_word]
        .into_iter()
        .find(|w| !w.is_empty())
        .map(|w| tidy_word(w))
        .unwrap_or_else(|| status.to_string());
    let message = match error["message"].as_str() {
        Some(message) => message.chars().take(2000).collect(),
        None if error.is_string() => error.as_str().unwrap_or_default().to_string(),
        None => format!("the upstream reported an error ({word}) in its stream"),
    };
    StreamError {
        status,
        kind,
        word,
        message,
    }
}

/// An upstream's word made safe for a log line: letters, digits and `_.-`, at most 64.
fn tidy_word(word: &str) -> String {
    word.chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c))
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(api: Api, name: &str, data: &str) -> StreamError {
        match meaning(api, name, data) {
            Meaning::Error(error) => error,
            other => panic!("{data}: {other:?}"),
        }
    }

    #[test]
    fn anthropic_opens_with_message_start_ping_and_a_block_start() {
        use Meaning::*;
        for (name, want) in [
            ("message_start", Opening),
            ("ping", Opening),
            ("content_block_start", Opening),
            ("content_block_delta", Content),
            ("content_block_stop", Content),
            ("message_delta", Content),
            ("message_stop", Content),
            ("something_new", Content),
        ] {
            assert_eq!(meaning(Api::Anthropic, name, "{}"), want, "{name}");
        }
        // An event without a name is told by its data's type.
        assert_eq!(
            meaning(Api::Anthropic, "", r#"{"type":"ping"}"#),
            Meaning::Opening
        );
    }

    #[test]
    fn an_anthropic_error_event_stands_for_its_status() {
        let data = |kind: &str| {
            format!(r#"{{"type":"error","error":{{"type":"{kind}","message":"Overloaded"}}}}"#)
        };
        let overloaded = error(Api::Anthropic, "error", &data("overloaded_error"));
        assert_eq!(
            (overloaded.status, overloaded.kind, overloaded.word.as_str()),
            (529, ErrorKind::Overloaded, "overloaded_error")
        );
        assert_eq!(overloaded.message, "Overloaded");
        assert_eq!(
            error(Api::Anthropic, "error", &data("rate_limit_error")).status,
            429
        );
        assert_eq!(
            error(Api::Anthropic, "error", &data("api_error")).status,
            500
        );
        assert_eq!(
            error(Api::Anthropic, "error", &data("invalid_request_error")).status,
            400
        );
        // Garbage in an error event is still an error, of the server.
        assert_eq!(error(Api::Anthropic, "error", "not json").status, 500);
    }

    #[test]
    fn a_chat_chunk_with_only_the_role_opens_and_any_delta_or_end_is_content() {
        let chunk = |delta: &str, finish: &str| {
            format!(r#"{{"choices":[{{"index":0,"delta":{delta},"finish_reason":{finish}}}]}}"#)
        };
        use Meaning::*;
        for (data, want) in [
            (
                chunk(r#"{"role":"assistant","content":""}"#, "null"),
                Opening,
            ),
            (
                chunk(r#"{"role":"assistant","content":null}"#, "null"),
                Opening,
            ),
            (chunk(r#"{"content":"Hi"}"#, "null"), Content),
            (chunk(r#"{"reasoning_content":"hm"}"#, "null"), Content),
            (
                chunk(
                    r#"{"tool_calls":[{"index":0,"id":"c","function":{"name":"f"}}]}"#,
                    "null",
                ),
                Content,
            ),
            (chunk("{}", r#""stop""#), Content),
            (
                r#"{"choices":[],"prompt_filter_results":[]}"#.into(),
                Opening,
            ),
            (
                r#"{"choices":[],"usage":{"prompt_tokens":1}}"#.into(),
                Content,
            ),
            (r#"{"choices":[{"index":0,"text":"Hi"}]}"#.into(), Content),
            ("[DONE]".into(), Content),
            ("not json".into(), Content),
        ] {
            assert_eq!(meaning(Api::OpenAi, "", &data), want, "{data}");
        }
    }

    #[test]
    fn a_chat_error_chunk_names_its_status_in_its_code_or_its_words() {
        let numeric = error(
            Api::OpenAi,
            "",
            r#"{"error":{"message":"busy","type":"overloaded_error","code":529}}"#,
        );
        assert_eq!((numeric.status, numeric.kind), (529, ErrorKind::Overloaded));
        let words = error(
            Api::OpenAi,
            "",
            r#"{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}"#,
        );
        assert_eq!((words.status, words.word.as_str()), (429, "requests"));
        let relay = error(
            Api::OpenAi,
            "",
            r#"{"id":"x","error":{"code":502,"message":"Provider disconnected"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}"#,
        );
        assert_eq!(relay.status, 502);
    }

    #[test]
    fn responses_open_with_created_and_in_progress_and_fail_with_response_failed() {
        assert_eq!(
            meaning(Api::Responses, "response.created", "{}"),
            Meaning::Opening
        );
        assert_eq!(
            meaning(Api::Responses, "response.in_progress", "{}"),
            Meaning::Opening
        );
        assert_eq!(
            meaning(Api::Responses, "response.output_text.delta", "{}"),
            Meaning::Content
        );
        assert_eq!(
            meaning(Api::Responses, "response.completed", "{}"),
            Meaning::Content
        );
        let failed = error(
            Api::Responses,
            "response.failed",
            r#"{"type":"response.failed","response":{"status":"failed","error":{"code":"rate_limit_exceeded","message":"slow"}}}"#,
        );
        assert_eq!(
            (failed.status, failed.word.as_str()),
            (429, "rate_limit_exceeded")
        );
        let server = error(
            Api::Responses,
            "",
            r#"{"type":"response.failed","response":{"error":{"code":"server_error","message":"oops"}}}"#,
        );
        assert_eq!(server.status, 500);
        let event = error(
            Api::Responses,
            "error",
            r#"{"type":"error","code":"server_is_overloaded","message":"busy","param":null}"#,
        );
        assert_eq!(event.status, 529);
    }

    #[test]
    fn a_gemini_chunk_without_parts_opens_and_an_error_chunk_names_its_code() {
        use Meaning::*;
        for (data, want) in [
            (
                r#"{"candidates":[{"content":{"role":"model"},"index":0}]}"#,
                Opening,
            ),
            (
                r#"{"candidates":[{"content":{"role":"model","parts":[{"text":""}]}}]}"#,
                Opening,
            ),
            (
                r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]}}]}"#,
                Content,
            ),
            (
                r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{}}}]}}]}"#,
                Content,
            ),
            (r#"{"candidates":[{"finishReason":"STOP"}]}"#, Content),
            (r#"{"promptFeedback":{"blockReason":"SAFETY"}}"#, Content),
            (r#"{"usageMetadata":{}}"#, Content),
        ] {
            assert_eq!(meaning(Api::Gemini, "", data), want, "{data}");
        }
        let busy = error(
            Api::Gemini,
            "",
            r#"{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"#,
        );
        assert_eq!(
            (busy.status, busy.kind, busy.word.as_str()),
            (503, ErrorKind::Overloaded, "UNAVAILABLE")
        );
    }

    #[test]
    fn only_an_error_is_asked_for_after_content_and_text_about_errors_is_none() {
        let text = r#"{"choices":[{"delta":{"content":"the \"error\": field"}}]}"#;
        assert_eq!(error_of(Api::OpenAi, "", text), None);
        let cut = r#"{"error":{"message":"m","type":"api_error"}}"#;
        assert_eq!(error_of(Api::OpenAi, "", cut).map(|e| e.status), Some(500));
        assert_eq!(
            error_of(Api::Anthropic, "content_block_delta", r#"{"error":1}"#),
            None
        );
        let words = error_of(
            Api::Anthropic,
            "error",
            r#"{"type":"error","error":{"type":"over\u001bloaded_error","message":"x"}}"#,
        );
        assert_eq!(
            words.unwrap().word,
            "overloaded_error",
            "no escape reaches a log"
        );
    }

    #[test]
    fn the_error_body_is_in_the_asked_apis_shape_with_the_status() {
        let error = error(
            Api::Anthropic,
            "error",
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        let anthropic: Value = serde_json::from_slice(&error.body(Api::Anthropic)).unwrap();
        assert_eq!(anthropic["error"]["type"], "overloaded_error");
        let gemini: Value = serde_json::from_slice(&error.body(Api::Gemini)).unwrap();
        assert_eq!(gemini["error"]["code"], 529);
        let chat: Value = serde_json::from_slice(&error.body(Api::OpenAi)).unwrap();
        assert_eq!(chat["error"]["message"], "Overloaded");
    }
}
