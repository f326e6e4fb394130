//! Errors in each API's shape: the one place an error body or an error event is written, for the
//! gateway's own errors, translated upstream errors and streams that end in an error alike.

use crate::wire::sse::{data_event, named_event};
use crate::wire::Api;
use serde_json::{json, Value};

/// What went wrong, in words both APIs have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    Authentication,
    Billing,
    Permission,
    NotFound,
    RequestTooLarge,
    RateLimit,
    Api,
    Overloaded,
}

impl ErrorKind {
    /// The kind an HTTP status means in either API.
    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            401 => ErrorKind::Authentication,
            402 => ErrorKind::Billing,
            403 => ErrorKind::Permission,
            404 => ErrorKind::NotFound,
            413 => ErrorKind::RequestTooLarge,
            429 => ErrorKind::RateLimit,
            503 | 529 => ErrorKind::Overloaded,
            400..=499 => ErrorKind::InvalidRequest,
            _ => ErrorKind::Api,
        }
    }

    /// Anthropic's `error.type`.
    pub fn anthropic_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::Billing => "billing_error",
            ErrorKind::Permission => "permission_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::RequestTooLarge => "request_too_large",
            ErrorKind::RateLimit => "rate_limit_error",
            ErrorKind::Api => "api_error",
            ErrorKind::Overloaded => "overloaded_error",
        }
    }

    /// OpenAI's `error.type` and `error.code`.
    pub fn openai_type_and_code(self) -> (&'static str, &'static str) {
        match self {
            ErrorKind::InvalidRequest => ("invalid_request_error", "invalid_request_error"),
            ErrorKind::Authentication => ("authentication_error", "invalid_api_key"),
            ErrorKind::Billing => ("insufficient_quota", "insufficient_quota"),
            ErrorKind::Permission => ("permission_error", "permission_denied"),
            ErrorKind::NotFound => ("invalid_request_error", "model_not_found"),
            ErrorKind::RequestTooLarge => ("invalid_request_error", "request_too_large"),
            ErrorKind::RateLimit => ("rate_limit_error", "rate_limit_exceeded"),
            ErrorKind::Api => ("server_error", "server_error"),
            ErrorKind::Overloaded => ("server_error", "overloaded"),
        }
    }

    /// The HTTP status a gateway error of this kind is answered with where the kind alone decides
    /// (a Gemini error body repeats it as `error.code`).
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::InvalidRequest => 400,
            ErrorKind::Authentication => 401,
            ErrorKind::Billing => 402,
            ErrorKind::Permission => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::RequestTooLarge => 413,
            ErrorKind::RateLimit => 429,
            ErrorKind::Api => 500,
            ErrorKind::Overloaded => 503,
        }
    }

    /// The kind a Gemini (google.rpc) `error.status` names, when it names one.
    pub fn from_gemini_status(status: &str) -> Option<ErrorKind> {
        Some(match status {
            "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => {
                ErrorKind::InvalidRequest
            }
            "UNAUTHENTICATED" => ErrorKind::Authentication,
            "PERMISSION_DENIED" => ErrorKind::Permission,
            "NOT_FOUND" => ErrorKind::NotFound,
            "RESOURCE_EXHAUSTED" => ErrorKind::RateLimit,
            "UNAVAILABLE" => ErrorKind::Overloaded,
            "INTERNAL" | "UNKNOWN" | "DATA_LOSS" | "DEADLINE_EXCEEDED" | "UNIMPLEMENTED" => {
                ErrorKind::Api
            }
            _ => return None,
        })
    }

    /// The kind an error object's `type` (and OpenAI `code`) names, when it names one.
    pub fn from_words(kind: &str, code: &str) -> Option<ErrorKind> {
        let word = |w: &str| kind.contains(w) || code.contains(w);
        Some(if word("overloaded") {
            ErrorKind::Overloaded
        } else if word("rate_limit") {
            ErrorKind::RateLimit
        } else if word("insufficient_quota") || word("billing") {
            ErrorKind::Billing
        } else if word("authentication") || word("invalid_api_key") {
            ErrorKind::Authentication
        } else if word("permission") {
            ErrorKind::Permission
        } else if word("not_found") {
            ErrorKind::NotFound
        } else if word("too_large") {
            ErrorKind::RequestTooLarge
        } else if word("invalid_request") || word("context_length") {
            ErrorKind::InvalidRequest
        } else if word("server_error") || word("api_error") || word("internal") {
            ErrorKind::Api
        } else {
            return None;
        })
    }
}

impl ErrorKind {
    /// This kind's words, with `message`.
    pub fn words(self, message: &str) -> ErrorWords<'_> {
        let (openai_type, code) = self.openai_type_and_code();
        ErrorWords {
            anthropic_type: self.anthropic_type(),
            openai_type,
            code,
            message,
            status: self.http_status(),
        }
    }
}

/// What an error says, in each API's words.
#[derive(Debug, Clone, Copy)]
pub struct ErrorWords<'a> {
    /// Anthropic's `error.type`.
    pub anthropic_type: &'a str,
    /// OpenAI's `error.type`.
    pub openai_type: &'a str,
    /// OpenAI's `error.code`.
    pub code: &'a str,
    pub message: &'a str,
    /// The HTTP status the error is (or would be) answered with: Gemini's `error.code`.
    pub status: u16,
}

/// The google.rpc status word Gemini gives with an HTTP status (`RESOURCE_EXHAUSTED` for 429).
pub fn gemini_status(http_status: u16) -> &'static str {
    match http_status {
        400 | 413 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 | 529 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        400..=499 => "FAILED_PRECONDITION",
        _ => "INTERNAL",
    }
}

/// The error object of `api`: Anthropic `{"type":"error","error":{type, message}}`, OpenAI
/// `{"error":{message, type, param, code}}`, Gemini `{"error":{code, message, status}}`.
pub fn error_value(api: Api, words: &ErrorWords<'_>) -> Value {
    match api {
        Api::Anthropic => json!({
            "type": "error",
            "error": {"type": words.anthropic_type, "message": words.message},
        }),
        Api::OpenAi | Api::Responses => json!({
            "error": {
                "message": words.message,
                "type": words.openai_type,
                "param": null,
                "code": words.code,
            },
        }),
        Api::Gemini => json!({
            "error": {
                "code": words.status,
                "message": words.message,
                "status": gemini_status(words.status),
            },
        }),
    }
}

/// An error body of `api`'s shape.
pub fn error_body(api: Api, kind: ErrorKind, message: &str) -> Vec<u8> {
    error_value(api, &kind.words(message))
        .to_string()
        .into_bytes()
}

/// The SSE event that ends a stream of `api` that failed midway (Anthropic `event: error`,
/// Chat Completions and Gemini a `data:` chunk holding the error, Responses `response.failed`).
pub fn error_event_of(api: Api, words: &ErrorWords<'_>) -> Vec<u8> {
    match api {
        Api::Anthropic => named_event("error", &error_value(api, words)),
        Api::OpenAi | Api::Gemini => data_event(&error_value(api, words)),
        Api::Responses => named_event(
            "response.failed",
            &json!({"type": "response.failed", "response": {
                "id": "resp_failed", "object": "response", "status": "failed",
                "error": {"code": words.code, "message": words.message}, "output": [],
            }}),
        ),
    }
}

/// [`error_event_of`] for a kind both APIs have.
pub fn error_event(api: Api, kind: ErrorKind, message: &str) -> Vec<u8> {
    error_event_of(api, &kind.words(message))
}
