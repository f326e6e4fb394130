//! What the request path reports when an attempt or a request ends: the outcome goes to the
//! endpoint's actor (the owner of its health) and one access-log line is written per request.

use crate::config::EndpointConfig;
use crate::endpoint::health::Claim;
use crate::endpoint::{EndpointAddr, RequestAbandoned, RequestFailed, RequestSucceeded};
use crate::metrics::{Metrics, RequestRecord};
use crate::upstream::outcome::UpstreamError;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// One attempt at one endpoint. Exactly one outcome reaches the endpoint's actor: if neither
/// `succeeded` nor `failed` is called (the client went away), dropping it reports `RequestAbandoned`.
pub struct Attempt {
    addr: EndpointAddr,
    claim: Claim,
    status: u16,
    latency: Duration,
    reported: bool,
    /// The model sent upstream.
    model: Option<Arc<str>>,
    /// The answer's rate-limit headers said a budget is used up for this long.
    budget_used_up: Option<Duration>,
}

impl Attempt {
    /// An attempt at sending `model` (the name the upstream receives) to the endpoint at `addr`.
    pub fn new(addr: EndpointAddr, claim: Claim, model: Option<Arc<str>>) -> Self {
        Attempt {
            addr,
            claim,
            status: 0,
            latency: Duration::ZERO,
            reported: false,
            model,
            budget_used_up: None,
        }
    }

    /// The answer said a budget is used up for `wait`: the endpoint rests that model meanwhile.
    pub fn budget_used_up(&mut self, wait: Option<Duration>) {
        self.budget_used_up = wait;
    }

    /// Records the response head: its status and the time it took to arrive.
    pub fn answered(&mut self, status: u16, latency: Duration) {
        self.status = status;
        self.latency = latency;
    }

    /// The endpoint did its part.
    pub fn succeeded(mut self) {
        self.reported = true;
        self.addr.do_send(RequestSucceeded {
            claim: self.claim,
            status: self.status,
            latency: self.latency,
            model: self.model.take(),
            budget_used_up: self.budget_used_up,
        });
    }

    /// The endpoint failed this attempt, for the reason given.
    pub fn failed(mut self, error: UpstreamError) {
        self.reported = true;
        self.addr.do_send(RequestFailed {
            claim: self.claim,
            error,
            model: self.model.take(),
        });
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.reported {
            self.addr.do_send(RequestAbandoned { claim: self.claim });
        }
    }
}

/// How a request ended: the word its access-log line and `switchyard_requests_total{outcome}` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The answer went out whole.
    Ok,
    /// The gateway answered `count_tokens` with its own estimate.
    Estimated,
    /// An upstream's error answer was passed on.
    UpstreamError,
    /// The answer's body broke off (the client got its API's error event).
    Broken,
    /// The client went away before the end.
    ClientClosed,
    /// No endpoint's API can carry the request as it is.
    Untranslatable,
    /// The gateway answered with its own error, of this `x-switchyard-error` kind.
    Refused(&'static str),
}

impl Ending {
    /// The word for logs and metrics.
    pub fn word(self) -> &'static str {
        match self {
            Ending::Ok => "ok",
            Ending::Estimated => "estimated",
            Ending::UpstreamError => "upstream_error",
            Ending::Broken => "broken",
            Ending::ClientClosed => "client_closed",
            Ending::Untranslatable => "untranslatable",
            Ending::Refused(kind) => kind,
        }
    }
}

/// The access-log line and metrics of one request, written when the request (or its stream) ends.
/// It never holds a key or any part of a prompt.
pub struct AccessLog {
    /// The line is written: `access_log` is on and the log level lets it through.
    pub enabled: bool,
    pub metrics: Metrics,
    pub request_id: actix_web::http::header::HeaderValue,
    pub method: actix_web::http::Method,
    /// The request target (its path is logged); cloning one shares its bytes.
    pub target: actix_web::http::Uri,
    pub model: Option<Arc<str>>,
    /// Attempts made.
    pub attempts: usize,
    /// `endpoint:outcome` per attempt, e.g. `a1b2c3d4:401`, `e5f6a7b8:refused` (written only
    /// when the line is).
    pub attempt_notes: Vec<String>,
    /// Endpoints whose failure moved the request on.
    pub failed_over: Vec<String>,
    /// `(endpoint, kind)` of every failed attempt, for the metrics.
    pub failures: Vec<(String, &'static str)>,
    /// The endpoint whose answer the client got.
    pub endpoint: Option<Arc<EndpointConfig>>,
    pub status: u16,
    pub started: Instant,
    pub first_byte: Option<Duration>,
    pub bytes: u64,
    /// The relayed answer's usage meter (none for the gateway's own answers).
    pub usage: Option<super::meter::UsageTap>,
    /// Retried once without the thinking blocks another upstream signed.
    pub rectified: bool,
}

impl AccessLog {
    /// Counts answer body bytes sent to the client.
    pub fn add_bytes(&mut self, n: usize) {
        self.bytes += n as u64;
    }

    /// Counts a relayed chunk and lets the usage meter read it.
    pub fn relayed(&mut self, chunk: &[u8]) {
        self.add_bytes(chunk.len());
        if let Some(usage) = self.usage.as_mut() {
            usage.feed(chunk);
        }
    }

    /// Notes one attempt: the status it got, or why it failed (the error, when it failed).
    pub fn attempt(&mut self, endpoint: &str, status: Option<u16>, error: Option<&UpstreamError>) {
        self.attempts += 1;
        if let Some(error) = error {
            self.failures.push((endpoint.to_string(), error.kind()));
        }
        if !self.enabled {
            return;
        }
        let note = match (status, error) {
            (Some(status), _) | (None, Some(&UpstreamError::Status { status, .. })) => {
                format!("{endpoint}:{status}")
            }
            (None, Some(UpstreamError::Transport(e))) => format!("{endpoint}:{}", e.label()),
            (None, None) => format!("{endpoint}:-"),
        };
        self.attempt_notes.push(note);
    }

    /// Notes an endpoint passed over because its API cannot carry the request (no attempt: nothing
    /// was sent to it).
    pub fn passed_over(&mut self, endpoint: &str) {
        if self.enabled {
            self.attempt_notes
                .push(format!("{endpoint}:untranslatable"));
        }
    }

    /// Notes that the answer's body broke off (the attempt was noted when its head came).
    pub fn stream_failed(&mut self, error: &UpstreamError) {
        let endpoint = self.endpoint_id().unwrap_or_default().to_string();
        self.failures.push((endpoint, error.kind()));
    }

    fn endpoint_id(&self) -> Option<&str> {
        self.endpoint.as_ref().map(|e| e.id.as_str())
    }

    /// Counts the request and writes its line; `detail` says more than `ending`.
    pub fn finish(mut self, ending: Ending, detail: Option<&str>) {
        let outcome = ending.word();
        let usage = self.usage.take().map(super::meter::UsageTap::finish);
        let failed_over: Vec<&str> = self.failed_over.iter().map(String::as_str).collect();
        let failures: Vec<(&str, &str)> = self
            .failures
            .iter()
            .map(|(endpoint, kind)| (endpoint.as_str(), *kind))
            .collect();
        let duration = self.started.elapsed();
        self.metrics.record(&RequestRecord {
            endpoint: self.endpoint_id().unwrap_or("none"),
            status: self.status,
            outcome,
            attempts: self.attempts,
            failed_over_from: &failed_over,
            failures: &failures,
            first_byte: self.first_byte,
            duration,
            bytes: self.bytes,
        });
        if !self.enabled {
            return;
        }
        let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
        log::info!(
            target: "switchyard::access",
            "{} {} {} model={} status={} endpoint={} attempts=[{}] ttfb_ms={} total_ms={} bytes={}{} outcome={}{}{}",
            self.request_id.to_str().unwrap_or("-"),
            self.method,
            self.target.path(),
            self.model.as_deref().unwrap_or("-"),
            self.status,
            self.endpoint_id().unwrap_or("-"),
            self.attempt_notes.join(" "),
            self.first_byte.map(ms).unwrap_or_else(|| "-".to_string()),
            ms(duration),
            self.bytes,
            super::meter::log_words(usage.as_ref()),
            outcome,
            if self.rectified { " rectified" } else { "" },
            detail.map(|d| format!(" ({d})")).unwrap_or_default()
        );
    }
}
