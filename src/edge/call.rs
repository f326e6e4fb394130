//! What a client calls, and in which API: judged once, from the method, the path as the router
//! matches it and (for a path no API owns) the headers. The gate's refusals, the request path and
//! the admin routes all read the answer; nothing judges it again.

use crate::translate::Api;
use actix_web::http::header::HeaderMap;
use actix_web::http::Method;

/// What a client's call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `POST /v1/messages`, `/v1/chat/completions` or `/v1/responses`: every endpoint can serve
    /// it, translated when its API is not the client's.
    Generation(Api),
    /// `POST /v1/messages/count_tokens` (Anthropic) or `POST /v1beta/models/{model}:countTokens`
    /// (Gemini): passed to an endpoint of the client's API, estimated by the gateway for one of
    /// another API.
    CountTokens(Api),
    /// `POST /v1/completions`, OpenAI's legacy completions: forwarded unchanged to OpenAI
    /// endpoints; a stream of it ends with `[DONE]`.
    Completions,
    /// `GET /v1/models`: the list in the caller's API (`None` when its headers name neither:
    /// Anthropic's for `anthropic-version` or `x-api-key`, OpenAI's for a bearer token alone).
    ModelList(Option<Api>),
    /// Anything else: forwarded unchanged, only to endpoints of the path's API when it has one.
    Other(Option<Api>),
}

impl Call {
    /// The API every endpoint that takes this call must speak, if one is required.
    pub fn endpoint_api(self) -> Option<Api> {
        match self {
            Call::Generation(_) | Call::CountTokens(_) | Call::ModelList(_) => None,
            Call::Completions => Some(Api::OpenAi),
            Call::Other(api) => api,
        }
    }

    /// The API whose endpoints are asked first: a call that belongs to one API but that others
    /// can stand in for.
    pub fn preferred_api(self) -> Option<Api> {
        match self {
            Call::CountTokens(api) => Some(api),
            _ => None,
        }
    }

    /// How a complete stream of this call ends, when it is known.
    pub fn stream_end(self) -> Option<StreamEnd> {
        match self {
            Call::Generation(Api::Anthropic) => Some(StreamEnd::Last(b"message_stop")),
            Call::Generation(Api::OpenAi) | Call::Completions => Some(StreamEnd::Last(b"[DONE]")),
            // The last event holds the whole answer: its name is far from the last bytes.
            Call::Generation(Api::Responses) => Some(StreamEnd::Named(&[
                b"response.completed",
                b"response.incomplete",
                b"response.failed",
            ])),
            // No end marker: the chunk that says how the answer finished is its last.
            Call::Generation(Api::Gemini) => Some(StreamEnd::Named(&[b"\"finishReason\""])),
            Call::CountTokens(_) | Call::ModelList(_) | Call::Other(_) => None,
        }
    }

    /// The API of the events in a streamed answer to this call from an endpoint speaking
    /// `endpoint`, when the gateway reads them (to hold the stream's start until content, and to
    /// see an error the upstream reports inside it): generations and legacy completions.
    pub fn stream_events(self, endpoint: Api) -> Option<Api> {
        match self {
            Call::Generation(_) => Some(endpoint),
            Call::Completions => Some(Api::OpenAi),
            Call::CountTokens(_) | Call::ModelList(_) | Call::Other(_) => None,
        }
    }

    /// Whether the call asks a model for an answer (a generation or a legacy completion), so
    /// that another model may stand in for it (`fallbacks:`).
    pub fn names_a_model(self) -> bool {
        matches!(self, Call::Generation(_) | Call::Completions)
    }

    /// What an attempt at an endpoint speaking `endpoint` does with this call.
    pub fn route(self, endpoint: Api) -> crate::translate::Route {
        match self {
            Call::Generation(client) => crate::translate::Route::of(client, endpoint),
            Call::CountTokens(_) | Call::Completions | Call::ModelList(_) | Call::Other(_) => {
                crate::translate::Route::Passthrough
            }
        }
    }

    /// The gateway answers this call itself for an endpoint speaking `endpoint`.
    pub fn answered_here(self, endpoint: Api) -> bool {
        matches!(self, Call::CountTokens(api) if api != endpoint)
    }
}

/// How a complete event stream of an API ends, which tells it from one cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The last event contains these bytes (`message_stop`, `[DONE]`).
    Last(&'static [u8]),
    /// An event named one of these came, and the stream ended after a whole event.
    Named(&'static [&'static [u8]]),
}

/// A client's call and the API the client speaks: the shape of every error it gets, the event a
/// complete stream ends with, where its model is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCall {
    pub call: Call,
    pub api: Api,
}

impl ClientCall {
    /// The call a request makes. `path` is the path as the router matches it.
    pub fn of(method: &Method, path: &str, headers: &HeaderMap) -> ClientCall {
        let trimmed = path.trim_end_matches('/');
        let call = match (method == Method::POST, trimmed) {
            (true, "/v1/messages") => Call::Generation(Api::Anthropic),
            (true, "/v1/chat/completions") => Call::Generation(Api::OpenAi),
            (true, "/v1/responses") => Call::Generation(Api::Responses),
            (true, "/v1/messages/count_tokens") => Call::CountTokens(Api::Anthropic),
            (true, "/v1/completions") => Call::Completions,
            (false, "/v1/models") if method == Method::GET => Call::ModelList(caller_api(headers)),
            (false, "/v1beta/models") if method == Method::GET => {
                Call::ModelList(Some(Api::Gemini))
            }
            (true, _) if trimmed.starts_with("/v1beta/models/") => gemini_call(trimmed),
            _ => Call::Other(path_api(trimmed)),
        };
        let api = match call {
            Call::Generation(api)
            | Call::CountTokens(api)
            | Call::ModelList(Some(api))
            | Call::Other(Some(api)) => api,
            Call::Completions => Api::OpenAi,
            Call::ModelList(None) | Call::Other(None) => headers_api(headers),
        };
        ClientCall { call, api }
    }
}

/// A Gemini client's `POST /v1beta/models/{model}:{method}`: a generation, a token count, or
/// anything else, a call only Gemini endpoints take.
fn gemini_call(path: &str) -> Call {
    use crate::translate::{GeminiCall, GeminiMethod};
    match GeminiCall::of_path(path).map(|c| c.method) {
        Some(GeminiMethod::Generate | GeminiMethod::StreamGenerate) => {
            Call::Generation(Api::Gemini)
        }
        Some(GeminiMethod::CountTokens) => Call::CountTokens(Api::Gemini),
        _ => Call::Other(Some(Api::Gemini)),
    }
}

/// The API a path belongs to, when only one API has it (`/v1/` may be left out).
fn path_api(path: &str) -> Option<Api> {
    let path = path.trim_start_matches('/');
    let rest = path.strip_prefix("v1/").unwrap_or(path);
    let first = rest.split('/').next().unwrap_or_default();
    match first {
        "v1beta" => Some(Api::Gemini),
        "messages" | "complete" => Some(Api::Anthropic),
        "responses" => Some(Api::Responses),
        "chat" | "completions" | "embeddings" | "images" | "audio" | "moderations" => {
            Some(Api::OpenAi)
        }
        _ => None,
    }
}

/// The API a caller's headers name: Anthropic's for `anthropic-version` or `x-api-key`, OpenAI's
/// for a bearer token alone.
fn caller_api(headers: &HeaderMap) -> Option<Api> {
    match headers_api(headers) {
        Api::Anthropic => Some(Api::Anthropic),
        _ if headers.contains_key(actix_web::http::header::AUTHORIZATION) => Some(Api::OpenAi),
        _ => None,
    }
}

/// The API of a client whose path says none: Anthropic when it sends `anthropic-version` or
/// `x-api-key`, else OpenAI.
fn headers_api(headers: &HeaderMap) -> Api {
    use crate::upstream::headers::names::{ANTHROPIC_VERSION, X_API_KEY};
    if headers.contains_key(&ANTHROPIC_VERSION) || headers.contains_key(&X_API_KEY) {
        Api::Anthropic
    } else {
        Api::OpenAi
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn of(method: Method, path: &str, anthropic_headers: bool) -> ClientCall {
        let mut headers = HeaderMap::new();
        if anthropic_headers {
            headers.insert(
                HeaderName::from_static("anthropic-version"),
                HeaderValue::from_static("2023-06-01"),
            );
        }
        ClientCall::of(&method, path, &headers)
    }

    #[test]
    fn the_clients_api_follows_the_path_then_the_headers() {
        let api = |path, anthropic| of(Method::GET, path, anthropic).api;
        assert_eq!(api("/v1/messages", false), Api::Anthropic);
        assert_eq!(api("/v1/messages/count_tokens", false), Api::Anthropic);
        assert_eq!(api("/v1/messages/batches", false), Api::Anthropic);
        assert_eq!(api("/v1/complete", false), Api::Anthropic);
        assert_eq!(api("/v1/chat/completions", true), Api::OpenAi);
        assert_eq!(api("/v1/completions", false), Api::OpenAi);
        assert_eq!(api("/v1/embeddings", false), Api::OpenAi);
        assert_eq!(api("/v1/responses", true), Api::Responses);
        assert_eq!(
            of(Method::POST, "/v1/responses", false).call,
            Call::Generation(Api::Responses)
        );
        assert_eq!(
            of(Method::GET, "/v1/responses/resp_1", false).call,
            Call::Other(Some(Api::Responses))
        );
        assert_eq!(api("/v1/models", true), Api::Anthropic);
        assert_eq!(api("/v1/models", false), Api::OpenAi);
        assert_eq!(api("/admin/status", false), Api::OpenAi);
    }

    #[test]
    fn only_a_post_to_a_generation_path_is_a_generation() {
        let call = |method, path| of(method, path, false).call;
        assert_eq!(
            call(Method::POST, "/v1/messages"),
            Call::Generation(Api::Anthropic)
        );
        assert_eq!(
            call(Method::POST, "/v1/chat/completions/"),
            Call::Generation(Api::OpenAi)
        );
        assert_eq!(
            call(Method::POST, "/v1/messages/count_tokens"),
            Call::CountTokens(Api::Anthropic)
        );
        assert_eq!(
            call(Method::POST, "/v1beta/models/gemini-3-pro:countTokens"),
            Call::CountTokens(Api::Gemini)
        );
        assert_eq!(
            call(Method::GET, "/v1/messages"),
            Call::Other(Some(Api::Anthropic))
        );
        assert_eq!(
            call(Method::POST, "/v1/embeddings"),
            Call::Other(Some(Api::OpenAi))
        );
        assert_eq!(
            call(Method::POST, "/v1/messages/batches"),
            Call::Other(Some(Api::Anthropic))
        );
        assert_eq!(call(Method::POST, "/v1/completions"), Call::Completions);
        assert_eq!(call(Method::GET, "/v1/models"), Call::ModelList(None));
        assert_eq!(
            of(Method::GET, "/v1/models", true).call,
            Call::ModelList(Some(Api::Anthropic))
        );
        assert_eq!(call(Method::POST, "/v1/models"), Call::Other(None));
        assert_eq!(call(Method::POST, "/v2/whatever"), Call::Other(None));
        assert_eq!(
            call(
                Method::POST,
                "/v1beta/models/gemini-2.5-pro:streamGenerateContent"
            ),
            Call::Generation(Api::Gemini)
        );
        assert_eq!(
            call(Method::POST, "/v1beta/models/gemini-2.5-pro:embedContent"),
            Call::Other(Some(Api::Gemini))
        );
        assert_eq!(
            call(Method::GET, "/v1beta/models"),
            Call::ModelList(Some(Api::Gemini))
        );
        assert_eq!(of(Method::GET, "/v1beta/models/x", false).api, Api::Gemini);
    }

    #[test]
    fn only_generation_calls_are_translated_and_only_across_apis() {
        use crate::translate::Route;
        let messages = Call::Generation(Api::Anthropic);
        assert_eq!(messages.route(Api::Anthropic), Route::Passthrough);
        assert_ne!(messages.route(Api::OpenAi), Route::Passthrough);
        assert_eq!(
            Call::CountTokens(Api::Anthropic).route(Api::OpenAi),
            Route::Passthrough
        );
        assert_eq!(Call::Completions.route(Api::Anthropic), Route::Passthrough);
        assert_eq!(
            messages.stream_end(),
            Some(StreamEnd::Last(b"message_stop"))
        );
        assert_eq!(
            Call::Completions.stream_end(),
            Some(StreamEnd::Last(b"[DONE]"))
        );
        assert!(matches!(
            Call::Generation(Api::Responses).stream_end(),
            Some(StreamEnd::Named(_))
        ));
        assert_eq!(Call::Other(Some(Api::OpenAi)).stream_end(), None);
    }

    #[test]
    fn a_generation_streams_the_endpoints_events_and_other_calls_are_not_read() {
        assert_eq!(
            Call::Generation(Api::Anthropic).stream_events(Api::Gemini),
            Some(Api::Gemini),
            "a translated stream is read in the upstream's API"
        );
        assert_eq!(
            Call::Completions.stream_events(Api::OpenAi),
            Some(Api::OpenAi)
        );
        assert_eq!(
            Call::CountTokens(Api::Anthropic).stream_events(Api::Anthropic),
            None
        );
        assert_eq!(
            Call::Other(Some(Api::OpenAi)).stream_events(Api::OpenAi),
            None
        );
    }

    #[test]
    fn a_token_count_is_answered_here_only_by_an_endpoint_of_another_api() {
        let anthropic = Call::CountTokens(Api::Anthropic);
        assert!(anthropic.answered_here(Api::OpenAi));
        assert!(anthropic.answered_here(Api::Gemini));
        assert!(!anthropic.answered_here(Api::Anthropic));
        let gemini = Call::CountTokens(Api::Gemini);
        assert!(gemini.answered_here(Api::Anthropic));
        assert!(!gemini.answered_here(Api::Gemini));
        assert_eq!(gemini.preferred_api(), Some(Api::Gemini));
        assert!(!Call::Generation(Api::Anthropic).answered_here(Api::OpenAi));
        assert_eq!(
            Call::Other(Some(Api::OpenAi)).endpoint_api(),
            Some(Api::OpenAi)
        );
        assert_eq!(Call::Generation(Api::OpenAi).endpoint_api(), None);
    }
}
