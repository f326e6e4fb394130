//! What changes around a translated request besides its body: the upstream path, and the
//! client headers that belong to the other API.

use super::Api;

/// The `accept-encoding` a translated request carries: the translator reads the answer's bytes
/// as they come, so they must not be compressed.
pub const TRANSLATED_ACCEPT_ENCODING: &str = "identity";

/// Whether a client's request header stays out of a request translated for `upstream`, besides
/// what every forwarded request drops: the client API's own headers (`anthropic-*` such as
/// `anthropic-beta` and `anthropic-version` for an OpenAI upstream; `openai-*` for an Anthropic
/// one; Google's `x-goog-*` and Gemini CLI's `x-gemini-*` for any other), and `accept-encoding`,
/// which [`TRANSLATED_ACCEPT_ENCODING`] replaces.
pub fn is_foreign_header(upstream: Api, name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    if name == "accept-encoding" || name == "content-length" {
        return true;
    }
    let google = name.starts_with("x-goog-") || name.starts_with("x-gemini-");
    match upstream {
        Api::OpenAi | Api::Responses => name.starts_with("anthropic-") || google,
        Api::Anthropic => name.starts_with("openai-") || google,
        Api::Gemini => name.starts_with("anthropic-") || name.starts_with("openai-"),
    }
}

/// The path and query to append to an endpoint's `base_url` for a client request to
/// `client_path` (`query` without `?`). A translated generation request goes to the endpoint API's
/// generation path with no query (Claude Code's `?beta=true` means nothing to an OpenAI upstream);
/// other requests to an `openai` endpoint lose their `/v1` (its base URL already ends in it). A
/// translated request for a `gemini` endpoint goes to [`super::gemini_path`] instead, which names
/// the model.
pub fn upstream_path(endpoint: Api, client_path: &str, query: &str, translated: bool) -> String {
    if translated {
        return endpoint.generation_path().to_string();
    }
    let path = match endpoint {
        Api::OpenAi | Api::Responses => match client_path.strip_prefix("/v1") {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
            _ => client_path,
        },
        Api::Anthropic | Api::Gemini => client_path,
    };
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_other_apis_headers_stay_behind() {
        assert!(is_foreign_header(Api::OpenAi, "anthropic-beta"));
        assert!(is_foreign_header(Api::OpenAi, "Anthropic-Version"));
        assert!(!is_foreign_header(Api::OpenAi, "x-request-id"));
        assert!(is_foreign_header(Api::Anthropic, "openai-organization"));
        assert!(!is_foreign_header(Api::Anthropic, "anthropic-beta"));
        assert!(is_foreign_header(Api::Anthropic, "accept-encoding"));
    }

    #[test]
    fn paths_follow_the_endpoints_api() {
        assert_eq!(
            upstream_path(Api::OpenAi, "/v1/messages", "beta=true", true),
            "/chat/completions"
        );
        assert_eq!(
            upstream_path(Api::Anthropic, "/v1/chat/completions", "", true),
            "/v1/messages"
        );
        assert_eq!(
            upstream_path(Api::OpenAi, "/v1/embeddings", "a=1", false),
            "/embeddings?a=1"
        );
        assert_eq!(
            upstream_path(Api::OpenAi, "/v1x/models", "", false),
            "/v1x/models"
        );
        assert_eq!(
            upstream_path(Api::Anthropic, "/v1/messages", "beta=true", false),
            "/v1/messages?beta=true"
        );
    }
}
