//! Errors of one API in the other's shape: the status stays, the type is the client API's word for
//! the same thing, the upstream's message is kept.

use super::lazy::{Json, Object};
use super::Api;
pub use crate::wire::errors::{error_body, error_event, error_value, ErrorKind};

/// The message and kind inside an error body of any API (`None` when it is not one): Anthropic's
/// and OpenAI's `type` and `code` words, Gemini's google.rpc `status`.
pub(crate) fn read_error(body: &Object<'_>) -> Option<(Option<ErrorKind>, String)> {
    let error = body.get("error")?;
    if let Some(text) = error.as_str() {
        return Some((None, text.into_owned()));
    }
    let fields = error.object().unwrap_or_default();
    let kind = fields.str("type").unwrap_or_default();
    let code = fields.str("code").unwrap_or_default();
    let message = match fields.str("message") {
        Some(message) => message.into_owned(),
        None => error.compact().into_owned(),
    };
    let named = ErrorKind::from_words(&kind, &code).or_else(|| {
        let status = fields.str("status")?;
        ErrorKind::from_gemini_status(&status)
    });
    Some((named, message))
}

/// An upstream's error answer (status and body, of either API) as the client API's error body.
/// The status does not change; the type comes from the status, refined by the upstream's own
/// type where the status alone cannot tell (a 503 that says `rate_limit`, a 400 that says
/// `context_length_exceeded`).
pub fn translate_error(client: Api, status: u16, upstream_body: &[u8]) -> Vec<u8> {
    let parsed = Json::parse(upstream_body).ok().and_then(Json::object);
    let (named, message) = parsed.as_ref().and_then(read_error).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(upstream_body);
        let text = text.trim();
        let message = if text.is_empty() {
            format!("upstream answered {status}")
        } else {
            text.chars().take(2000).collect()
        };
        (None, message)
    });
    let by_status = ErrorKind::from_status(status);
    // The status decides, except where the upstream's own words are more precise.
    let kind = match (by_status, named) {
        (ErrorKind::Api | ErrorKind::InvalidRequest, Some(named)) => named,
        (ErrorKind::Overloaded, Some(ErrorKind::RateLimit)) => ErrorKind::RateLimit,
        _ => by_status,
    };
    // A Gemini client reads the status again in the body's `code`.
    let mut words = kind.words(&message);
    words.status = status;
    error_value(client, &words).to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn parse(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn each_status_gets_the_anthropic_type_for_it() {
        let openai = |t: &str, code: &str| {
            format!(r#"{{"error":{{"message":"m","type":"{t}","code":"{code}"}}}}"#)
        };
        for (status, body, want) in [
            (
                400,
                openai("invalid_request_error", ""),
                "invalid_request_error",
            ),
            (
                401,
                openai("invalid_request_error", "invalid_api_key"),
                "authentication_error",
            ),
            (403, openai("", ""), "permission_error"),
            (
                404,
                openai("invalid_request_error", "model_not_found"),
                "not_found_error",
            ),
            (
                429,
                openai("requests", "rate_limit_exceeded"),
                "rate_limit_error",
            ),
            (500, openai("server_error", ""), "api_error"),
            (503, openai("", ""), "overloaded_error"),
            (502, "<html>bad gateway</html>".to_string(), "api_error"),
        ] {
            let out = parse(&translate_error(Api::Anthropic, status, body.as_bytes()));
            assert_eq!(out["type"], "error");
            assert_eq!(out["error"]["type"], want, "status {status}");
        }
        let html = parse(&translate_error(
            Api::Anthropic,
            502,
            b"<html>bad gateway</html>",
        ));
        assert_eq!(html["error"]["message"], "<html>bad gateway</html>");
    }

    #[test]
    fn each_anthropic_error_gets_the_openai_shape_with_its_message() {
        let body =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let out = parse(&translate_error(Api::OpenAi, 529, body));
        assert_eq!(out["error"]["message"], "Overloaded");
        assert_eq!(out["error"]["type"], "server_error");
        assert_eq!(out["error"]["code"], "overloaded");
        let auth = br#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#;
        let out = parse(&translate_error(Api::OpenAi, 401, auth));
        assert_eq!(out["error"]["code"], "invalid_api_key");
        let limit =
            br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#;
        let out = parse(&translate_error(Api::OpenAi, 429, limit));
        assert_eq!(out["error"]["type"], "rate_limit_error");
    }

    #[test]
    fn an_upstream_word_refines_a_vague_status() {
        let body = br#"{"error":{"message":"too many","type":"rate_limit_error"}}"#;
        let out = parse(&translate_error(Api::Anthropic, 503, body));
        assert_eq!(out["error"]["type"], "rate_limit_error");
        let body = br#"{"error":{"message":"ctx","type":"invalid_request_error","code":"context_length_exceeded"}}"#;
        let out = parse(&translate_error(Api::Anthropic, 400, body));
        assert_eq!(out["error"]["type"], "invalid_request_error");
        let empty = parse(&translate_error(Api::OpenAi, 500, b""));
        assert_eq!(empty["error"]["message"], "upstream answered 500");
    }

    #[test]
    fn error_events_have_each_apis_stream_shape() {
        let a = String::from_utf8(error_event(Api::Anthropic, ErrorKind::Overloaded, "x")).unwrap();
        assert!(a.starts_with("event: error\ndata: {"));
        assert!(a.ends_with("\n\n") && a.contains("overloaded_error"));
        let o = String::from_utf8(error_event(Api::OpenAi, ErrorKind::RateLimit, "x")).unwrap();
        assert!(o.starts_with("data: {\"error\""));
    }
}
