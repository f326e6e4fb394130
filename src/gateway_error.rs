//! Errors the gateway itself answers with, in the shape of the API the client called, and always
//! marked `x-switchyard-error: <kind>` so a user can tell them from an upstream's answers. Each
//! says whose fault it is ([`GatewayError::fault`]). Used by the request path, the admin routes
//! and the server's gate alike.

use crate::translate::Api;
use crate::upstream::outcome::TransportError;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use std::time::Duration;

/// The header that marks an answer the gateway produced itself.
pub const ERROR_HEADER: &str = "x-switchyard-error";

/// An answer the gateway gives on its own, and whose fault it is.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    #[error(
        "request body is larger than the gateway's limit of {limit} bytes (proxy.max_request_body)"
    )]
    BodyTooLarge { limit: u64 },
    /// Bodies held for requests in progress already fill `proxy.max_request_bodies_total`.
    #[error("the gateway already holds its limit of {} of request bodies (proxy.max_request_bodies_total); retry in a moment", crate::config::units::format_size(*limit))]
    BodiesFull { limit: u64 },
    #[error("could not read the request body: {0}")]
    BadRequestBody(String),
    #[error("the request path cannot be forwarded: {0}")]
    BadPath(String),
    #[error("the request's model cannot be read with certainty: {0}; this gateway routes by model, so send one JSON object with one string `model`")]
    UnreadableModel(String),
    #[error("the request body stopped arriving for longer than {idle:?} (timeouts.idle)")]
    BodyTimeout { idle: Duration },
    #[error("{0} is not supported by this gateway")]
    Unsupported(String),
    #[error("the Responses API is served over HTTP here, not over a WebSocket; send the request as a POST")]
    UpgradeRequired,
    #[error("no upstream endpoint can take this request: {message}")]
    NoEndpoint {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Every endpoint that could serve is rate-limited with an end its upstream gave.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: Duration,
    },
    #[error("{0}")]
    UnknownModel(String),
    /// Every endpoint tried failed without an answer (each with its reason), and none is left.
    #[error("no endpoint answered: {}", list_failures(failures))]
    UpstreamUnreachable {
        failures: Vec<(String, TransportError)>,
        retry_after: Option<Duration>,
    },
    /// The upstream answered, but its answer could not be read whole to be translated.
    #[error("the upstream's answer cannot be translated: {0}")]
    BadAnswer(String),
    #[error("the gateway's retry budget is exhausted (too many retries across recent requests); try again shortly")]
    RetryBudget,
    #[error("switchyard rejected the request: {0}")]
    Unauthorized(String),
    #[error("admin route needs proxy.admin_key: {0}")]
    AdminUnauthorized(String),
    /// A browser request refused by the `Host`/`Origin` rules.
    #[error("switchyard refused the request: {0}")]
    Forbidden(crate::edge::browser::BrowserRefusal),
    #[error("{0}")]
    NotFound(String),
    #[error("internal gateway error: {0}")]
    Internal(String),
}

crate::words! {
    /// Whose fault an answer of the gateway is (pingora's `ErrorSource`).
    pub enum Fault {
        /// The request itself (too large, unreadable, unauthorised, unknown model …).
        Client = "client",
        /// The upstreams: none could take it, or none answered.
        Upstream = "upstream",
        /// The gateway's own limits or a fault of its own.
        Gateway = "gateway",
    }
}

fn list_failures(failures: &[(String, TransportError)]) -> String {
    let parts: Vec<String> = failures
        .iter()
        .map(|(endpoint, error)| format!("{endpoint}: {error}"))
        .collect();
    parts.join("; ")
}

impl GatewayError {
    /// The value of `x-switchyard-error`.
    pub fn kind(&self) -> &'static str {
        match self {
            GatewayError::BodyTooLarge { .. } => "body_too_large",
            GatewayError::BodiesFull { .. } => "request_bodies_full",
            GatewayError::BadRequestBody(_) => "bad_request_body",
            GatewayError::BadPath(_) => "bad_path",
            GatewayError::UnreadableModel(_) => "unreadable_model",
            GatewayError::BodyTimeout { .. } => "request_timeout",
            GatewayError::Unsupported(_) => "unsupported",
            GatewayError::UpgradeRequired => "upgrade_required",
            GatewayError::NoEndpoint { .. } => "no_endpoint",
            GatewayError::RateLimited { .. } => "rate_limited",
            GatewayError::UnknownModel(_) => "unknown_model",
            GatewayError::UpstreamUnreachable { .. } => "upstream_unreachable",
            GatewayError::BadAnswer(_) => "bad_answer",
            GatewayError::RetryBudget => "retry_budget",
            GatewayError::Unauthorized(_) => "auth",
            GatewayError::AdminUnauthorized(_) => "admin_auth",
            GatewayError::Forbidden(refusal) => refusal.kind(),
            GatewayError::NotFound(_) => "not_found",
            GatewayError::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::BadRequestBody(_)
            | GatewayError::BadPath(_)
            | GatewayError::UnreadableModel(_) => StatusCode::BAD_REQUEST,
            GatewayError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            GatewayError::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
            // Codex falls back from its WebSocket to HTTP at once on a 426.
            GatewayError::UpgradeRequired => StatusCode::UPGRADE_REQUIRED,
            GatewayError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            GatewayError::NoEndpoint { .. }
            | GatewayError::UpstreamUnreachable { .. }
            | GatewayError::BodiesFull { .. }
            | GatewayError::RetryBudget => StatusCode::SERVICE_UNAVAILABLE,
            GatewayError::UnknownModel(_) | GatewayError::NotFound(_) => StatusCode::NOT_FOUND,
            GatewayError::Unauthorized(_) | GatewayError::AdminUnauthorized(_) => {
                StatusCode::UNAUTHORIZED
            }
            GatewayError::Forbidden(_) => StatusCode::FORBIDDEN,
            GatewayError::BadAnswer(_) => StatusCode::BAD_GATEWAY,
            GatewayError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn anthropic_type(&self) -> &'static str {
        match self {
            GatewayError::BodyTooLarge { .. } => "request_too_large",
            GatewayError::BadRequestBody(_)
            | GatewayError::BadPath(_)
            | GatewayError::UnreadableModel(_)
            | GatewayError::BodyTimeout { .. }
            | GatewayError::Unsupported(_)
            | GatewayError::UpgradeRequired => "invalid_request_error",
            GatewayError::RateLimited { .. } => "rate_limit_error",
            GatewayError::NoEndpoint { .. }
            | GatewayError::UpstreamUnreachable { .. }
            | GatewayError::BodiesFull { .. }
            | GatewayError::RetryBudget => "overloaded_error",
            GatewayError::UnknownModel(_) | GatewayError::NotFound(_) => "not_found_error",
            GatewayError::Unauthorized(_) | GatewayError::AdminUnauthorized(_) => {
                "authentication_error"
            }
            GatewayError::Forbidden(_) => "permission_error",
            GatewayError::BadAnswer(_) | GatewayError::Internal(_) => "api_error",
        }
    }

    /// Follows [`fault`](Self::fault): the client's mistakes are invalid requests (bad keys
    /// authentication errors), everything else a server error.
    fn openai_type(&self) -> &'static str {
        match (self, self.fault()) {
            (GatewayError::Unauthorized(_) | GatewayError::AdminUnauthorized(_), _) => {
                "authentication_error"
            }
            (GatewayError::RateLimited { .. }, _) => "rate_limit_error",
            (_, Fault::Client) => "invalid_request_error",
            (_, Fault::Upstream | Fault::Gateway) => "server_error",
        }
    }

    /// Whose fault the answer is: the client's request, the upstreams', or the gateway's own.
    pub fn fault(&self) -> Fault {
        match self {
            GatewayError::BodyTooLarge { .. }
            | GatewayError::BadRequestBody(_)
            | GatewayError::BadPath(_)
            | GatewayError::UnreadableModel(_)
            | GatewayError::BodyTimeout { .. }
            | GatewayError::Unsupported(_)
            | GatewayError::UpgradeRequired
            | GatewayError::UnknownModel(_)
            | GatewayError::Unauthorized(_)
            | GatewayError::AdminUnauthorized(_)
            | GatewayError::Forbidden(_)
            | GatewayError::NotFound(_) => Fault::Client,
            GatewayError::NoEndpoint { .. }
            | GatewayError::RateLimited { .. }
            | GatewayError::UpstreamUnreachable { .. }
            | GatewayError::BadAnswer(_) => Fault::Upstream,
            GatewayError::BodiesFull { .. }
            | GatewayError::RetryBudget
            | GatewayError::Internal(_) => Fault::Gateway,
        }
    }

    /// When an endpoint is known to come back, for `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            GatewayError::NoEndpoint { retry_after, .. }
            | GatewayError::UpstreamUnreachable { retry_after, .. } => *retry_after,
            GatewayError::RateLimited { retry_after, .. } => Some(*retry_after),
            // Bodies are held for one request's time: a second is a fair wait.
            GatewayError::BodiesFull { .. } => Some(Duration::from_secs(1)),
            _ => None,
        }
    }

    /// The JSON body in the client's API shape.
    pub fn body(&self, api: Api) -> serde_json::Value {
        let message = format!("switchyard: {self}");
        let words = crate::wire::errors::ErrorWords {
            anthropic_type: self.anthropic_type(),
            openai_type: self.openai_type(),
            code: self.kind(),
            message: &message,
            status: self.status().as_u16(),
        };
        crate::wire::errors::error_value(api, &words)
    }

    /// The whole answer: status, `x-switchyard-error`, `Retry-After` where known, JSON body.
    pub fn response(&self, api: Api) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status());
        builder.insert_header((
            HeaderName::from_static(ERROR_HEADER),
            HeaderValue::from_static(self.kind()),
        ));
        if let Some(wait) = self.retry_after() {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            builder.insert_header(("retry-after", secs.max(1).to_string()));
        }
        if matches!(
            self,
            GatewayError::BodyTimeout { .. }
                | GatewayError::Unsupported(_)
                | GatewayError::UpgradeRequired
        ) {
            // The rest of the request (a stalled body, a tunnel) is never read: close after.
            builder.force_close();
        }
        let mut body = self.body(api);
        if let (Api::Gemini, Some(wait)) = (api, self.retry_after()) {
            // Gemini clients read the wait from google.rpc.RetryInfo, not from Retry-After.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            body["error"]["details"] = serde_json::json!([{
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": format!("{}s", secs.max(1)),
            }]);
        }
        builder.json(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_each_apis_error_shape() {
        let e = GatewayError::NoEndpoint {
            message: "3 endpoints: 2 auth_failed, 1 disabled".into(),
            retry_after: None,
        };
        let a = e.body(Api::Anthropic);
        assert_eq!(a["type"], "error");
        assert_eq!(a["error"]["type"], "overloaded_error");
        assert!(a["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2 auth_failed"));
        let o = e.body(Api::OpenAi);
        assert_eq!(o["error"]["type"], "server_error");
        assert_eq!(o["error"]["code"], "no_endpoint");
        assert!(o["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1 disabled"));
    }

    #[test]
    fn unreachable_lists_each_endpoint_with_its_reason_and_blames_the_upstreams() {
        let e = GatewayError::UpstreamUnreachable {
            failures: vec![
                ("one".into(), TransportError::Refused),
                (
                    "two".into(),
                    TransportError::FirstByteTimeout(Duration::from_secs(3)),
                ),
            ],
            retry_after: Some(Duration::from_millis(1500)),
        };
        assert_eq!(
            e.to_string(),
            "no endpoint answered: one: connection refused; two: no response head within 3s (timeouts.first_byte)"
        );
        assert_eq!(e.fault(), Fault::Upstream);
        let response = e.response(Api::OpenAi);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get("retry-after").unwrap(), "2");
        assert_eq!(GatewayError::RetryBudget.fault(), Fault::Gateway);
        assert_eq!(GatewayError::BadPath("x".into()).fault(), Fault::Client);
    }
}
