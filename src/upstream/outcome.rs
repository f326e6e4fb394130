//! What an attempt at an upstream came to, classified once where it happens: a status the
//! endpoint is to blame for ([`UpstreamError::Status`], with its [`Failure`] class), or no usable
//! answer at all ([`TransportError`]). The request path and the probes build these; the endpoint
//! actor, the access log, `/admin/status` and the metrics only read them.

use crate::config::Timeouts;
use awc::error::{ConnectError, SendRequestError};
use std::time::Duration;

/// What kind of trouble an attempt ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 401/403: the upstream rejected the key.
    Auth,
    /// 429/529: rate limited or overloaded, possibly with a time to come back.
    RateLimited { retry_after: Option<Duration> },
    /// 402 or an exhausted balance: out for a long time.
    Quota,
    /// Connect error, timeout, 408, 5xx, a broken stream.
    Transient,
}

/// How the request path treats an upstream status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 1xx–3xx: the endpoint works.
    Success,
    /// A 4xx caused by the request itself: returned as is, never retried, not held against the endpoint.
    ClientError,
    /// The endpoint's fault: report it and try another endpoint while nothing has reached the client.
    Failure(Failure),
}

/// Classifies an upstream status code.
pub fn classify_status(status: u16) -> Verdict {
    match status {
        401 | 403 => Verdict::Failure(Failure::Auth),
        402 => Verdict::Failure(Failure::Quota),
        429 | 529 => Verdict::Failure(Failure::RateLimited { retry_after: None }),
        408 => Verdict::Failure(Failure::Transient),
        // 501 and 505 say the request cannot be served anywhere; pass them through.
        501 | 505 => Verdict::ClientError,
        500..=599 => Verdict::Failure(Failure::Transient),
        400..=499 => Verdict::ClientError,
        _ => Verdict::Success,
    }
}

/// Why no usable answer came from an upstream: before its response head, or while its body came.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("no connection within {0:?} (timeouts.connect)")]
    ConnectTimeout(Duration),
    #[error("connection refused")]
    Refused,
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("no response head within {0:?} (timeouts.first_byte)")]
    FirstByteTimeout(Duration),
    #[error("connection broke while sending: {0}")]
    Send(String),
    #[error("invalid or cut response head: {0}")]
    BadResponseHead(String),
    #[error("no data from upstream for {0:?} (timeouts.idle)")]
    IdleTimeout(Duration),
    #[error("upstream closed the connection after {received} of {length} bytes")]
    CutShort { received: u64, length: u64 },
    #[error("upstream closed the stream before its final event")]
    StreamUnfinished,
    /// A streamed answer ended before its first content: nothing useful reached the gateway.
    #[error("upstream closed the stream before any content")]
    NoContent,
    #[error("no content within {0:?} of the stream's start (timeouts.stream_start)")]
    StreamStartTimeout(Duration),
    #[error("the answer broke off: {0}")]
    Reset(String),
    /// The answer could not be turned into the client's API part way through (an event too
    /// large, an error event, a stream that ended early): the translator said why.
    #[error("the translated answer ended early: {0}")]
    TranslationCut(String),
    #[error("{0}")]
    Other(String),
}

impl TransportError {
    /// Classifies an awc send error; `timeouts` name the bound that was hit.
    pub fn from_send(error: &SendRequestError, timeouts: &Timeouts) -> TransportError {
        match error {
            SendRequestError::Connect(ConnectError::Timeout) => {
                TransportError::ConnectTimeout(timeouts.connect)
            }
            SendRequestError::Connect(ConnectError::Io(e))
                if e.kind() == std::io::ErrorKind::ConnectionRefused =>
            {
                TransportError::Refused
            }
            SendRequestError::Connect(ConnectError::Io(e))
                if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) =>
            {
                TransportError::Tls(e.to_string())
            }
            SendRequestError::Connect(e) => TransportError::Connect(e.to_string()),
            SendRequestError::Timeout => TransportError::FirstByteTimeout(timeouts.first_byte),
            SendRequestError::Send(e) => TransportError::Send(e.to_string()),
            SendRequestError::Response(e) => TransportError::BadResponseHead(e.to_string()),
            other => TransportError::Other(other.to_string()),
        }
    }

    /// The short word of the access log's `attempts=[id:word]`.
    pub fn label(&self) -> &'static str {
        match self {
            TransportError::ConnectTimeout(_) => "connect-timeout",
            TransportError::Refused => "refused",
            TransportError::Tls(_) | TransportError::Connect(_) => "connect",
            TransportError::FirstByteTimeout(_) => "timeout",
            TransportError::Send(_) => "broken",
            TransportError::BadResponseHead(_) => "bad-response",
            TransportError::IdleTimeout(_) => "idle-timeout",
            TransportError::StreamStartTimeout(_) => "start-timeout",
            TransportError::CutShort { .. }
            | TransportError::StreamUnfinished
            | TransportError::NoContent
            | TransportError::Reset(_)
            | TransportError::TranslationCut(_) => "cut",
            TransportError::Other(_) => "error",
        }
    }
}

/// An attempt the endpoint failed: the one type that travels from where it happened to the
/// endpoint's actor (`RequestFailed`), the access log, `/admin/status` and the metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// An answer whose status puts the fault on the endpoint; `failure` is its final class (an
    /// exhausted quota found in the body, a rate limit with its hint).
    #[error("HTTP {status}{}", quota_note(failure))]
    Status { status: u16, failure: Failure },
    /// A `200` stream whose upstream reported an error inside it: classified as the status the
    /// error stands for (`word` is the upstream's own word for it, safe for a log line).
    #[error(
        "{word} event in the stream (counted as HTTP {status}{})",
        quota_note(failure)
    )]
    InStream {
        status: u16,
        failure: Failure,
        word: String,
    },
}

fn quota_note(failure: &Failure) -> &'static str {
    match failure {
        Failure::Quota => " (quota or balance exhausted)",
        _ => "",
    }
}

impl UpstreamError {
    /// Classifies a failed status once: `quota_exhausted` when the body said so (for a 403 or
    /// 429), `retry_after` the upstream's hint for a rate limit. `None` when the status is not
    /// the endpoint's fault.
    pub fn from_status(
        status: u16,
        retry_after: Option<Duration>,
        quota_exhausted: bool,
    ) -> Option<UpstreamError> {
        // An exhausted balance is the endpoint's state whatever the status (Anthropic answers an
        // empty prepaid balance with a 400).
        if quota_exhausted && (400..500).contains(&status) {
            return Some(UpstreamError::Status {
                status,
                failure: Failure::Quota,
            });
        }
        let Verdict::Failure(class) = classify_status(status) else {
            return None;
        };
        let failure = match class {
            Failure::RateLimited { .. } => Failure::RateLimited { retry_after },
            other => other,
        };
        Some(UpstreamError::Status { status, failure })
    }

    /// The same failure, told by an error event inside a stream rather than by the status.
    pub fn in_stream(self, word: &str) -> UpstreamError {
        match self {
            UpstreamError::Status { status, failure } => UpstreamError::InStream {
                status,
                failure,
                word: word.to_string(),
            },
            other => other,
        }
    }

    /// What the health machine is told: a transport error is transient.
    pub fn failure(&self) -> Failure {
        match self {
            UpstreamError::Transport(_) => Failure::Transient,
            UpstreamError::Status { failure, .. } | UpstreamError::InStream { failure, .. } => {
                *failure
            }
        }
    }

    /// The upstream's status (or the one its in-stream error stands for), when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            UpstreamError::Transport(_) => None,
            UpstreamError::Status { status, .. } | UpstreamError::InStream { status, .. } => {
                Some(*status)
            }
        }
    }

    /// The metrics label: the transport word, or the class of the status.
    pub fn kind(&self) -> &'static str {
        match self {
            UpstreamError::Transport(e) => e.label(),
            UpstreamError::Status { failure, .. } | UpstreamError::InStream { failure, .. } => {
                match failure {
                    Failure::Auth => "auth",
                    Failure::RateLimited { .. } => "rate_limited",
                    Failure::Quota => "quota",
                    Failure::Transient => "server_error",
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_is_classified_once_with_its_hint_and_the_bodys_quota_words() {
        let wait = Some(Duration::from_secs(7));
        assert_eq!(UpstreamError::from_status(200, None, false), None);
        assert_eq!(UpstreamError::from_status(400, None, false), None);
        // Anthropic answers an empty prepaid balance with a 400: the endpoint is out of money.
        let empty = UpstreamError::from_status(400, None, true).unwrap();
        assert_eq!(empty.failure(), Failure::Quota);
        assert_eq!(
            UpstreamError::from_status(500, None, true)
                .unwrap()
                .failure(),
            Failure::Transient
        );
        let limited = UpstreamError::from_status(429, wait, false).unwrap();
        assert_eq!(
            limited.failure(),
            Failure::RateLimited { retry_after: wait }
        );
        assert_eq!(limited.to_string(), "HTTP 429");
        let broke = UpstreamError::from_status(429, wait, true).unwrap();
        assert_eq!(broke.failure(), Failure::Quota);
        assert_eq!(broke.to_string(), "HTTP 429 (quota or balance exhausted)");
        assert_eq!(broke.kind(), "quota");
        let payment = UpstreamError::from_status(402, None, false).unwrap();
        assert_eq!(payment.failure(), Failure::Quota);
        assert_eq!(payment.to_string(), "HTTP 402 (quota or balance exhausted)");
        // Quota words in a 5xx body do not make it a quota failure.
        let down = UpstreamError::from_status(503, None, true).unwrap();
        assert_eq!(
            (down.failure(), down.status()),
            (Failure::Transient, Some(503))
        );
    }

    #[test]
    fn an_error_inside_a_stream_counts_as_the_status_it_stands_for() {
        let overloaded = UpstreamError::from_status(529, None, false)
            .unwrap()
            .in_stream("overloaded_error");
        assert_eq!(overloaded.status(), Some(529));
        assert_eq!(
            overloaded.failure(),
            Failure::RateLimited { retry_after: None }
        );
        assert_eq!(overloaded.kind(), "rate_limited");
        assert_eq!(
            overloaded.to_string(),
            "overloaded_error event in the stream (counted as HTTP 529)"
        );
        let cut = UpstreamError::from(TransportError::NoContent).in_stream("x");
        assert_eq!((cut.kind(), cut.status()), ("cut", None));
    }

    #[test]
    fn a_transport_error_is_transient_and_keeps_its_access_log_word() {
        let refused = UpstreamError::from(TransportError::Refused);
        assert_eq!(refused.failure(), Failure::Transient);
        assert_eq!(refused.status(), None);
        assert_eq!(
            (refused.kind(), refused.to_string()),
            ("refused", "connection refused".into())
        );
        let slow = TransportError::ConnectTimeout(Duration::from_secs(10));
        assert_eq!(
            slow.to_string(),
            "no connection within 10s (timeouts.connect)"
        );
        assert_eq!(slow.label(), "connect-timeout");
    }
}
