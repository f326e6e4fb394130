//! Where a request ends: one [`Finish`] per request owns everything that is settled then (the
//! last attempt's report to its endpoint's actor, the usage record and the budget it is charged
//! to, the metrics, the access-log line), and [`Finish::finish`] settles it exactly once. A
//! request dropped before its end (the client went away) is settled by the drop, as
//! `client_closed`.

use super::context::RequestContext;
use super::meter::UsageTap;
use super::report::{Attempt, Ending};
use crate::config::EndpointConfig;
use crate::gateway_error::GatewayError;
use crate::metrics::{Metrics, RequestRecord};
use crate::upstream::outcome::UpstreamError;
use std::sync::Arc;
use std::time::Duration;

/// How a request ended, with what the endpoint's actor and the log line need to know of it.
pub struct End<'a> {
    ending: Ending,
    /// Said after the outcome in the log line.
    detail: Option<&'a str>,
    /// The relayed answer failed: its endpoint is blamed.
    failure: Option<UpstreamError>,
}

impl<'a> End<'a> {
    /// The request ended as `ending` says, and the endpoint that answered (if any) did its part.
    pub fn with(ending: Ending) -> End<'a> {
        End {
            ending,
            detail: None,
            failure: None,
        }
    }

    /// The answer broke off: the client got its API's error event; the endpoint is blamed.
    pub fn broken(failure: UpstreamError, detail: &'a str) -> End<'a> {
        End {
            ending: Ending::Broken,
            detail: Some(detail),
            failure: Some(failure),
        }
    }

    /// Says more than the ending's word.
    pub fn detail(mut self, detail: &'a str) -> End<'a> {
        self.detail = Some(detail);
        self
    }
}

/// A request's end, held by whoever holds the request (the relay, then the answer's body).
pub struct Finish {
    ctx: RequestContext,
    /// The log line is written: `access_log` is on and the log level lets it through.
    log_line: bool,
    metrics: Metrics,
    /// Attempts made.
    attempts: usize,
    /// `endpoint:outcome` per attempt, e.g. `a1b2c3d4:401` (kept only when the line is written).
    attempt_notes: Vec<String>,
    /// Endpoints whose failure moved the request on.
    failed_over: Vec<String>,
    /// `(endpoint, kind)` of every failed attempt, for the metrics.
    failures: Vec<(String, &'static str)>,
    /// The endpoint whose answer the client got.
    endpoint: Option<Arc<EndpointConfig>>,
    status: u16,
    first_byte: Option<Duration>,
    bytes: u64,
    /// Retried once without the thinking blocks another upstream signed.
    rectified: bool,
    /// The request's session moved off this endpoint (it was out, or failed the request).
    session_moved_from: Option<String>,
    /// The fallback model that served the answer, when one did.
    served: Option<Arc<str>>,
    /// The attempt in flight or being relayed: reported when the request ends.
    attempt: Option<Attempt>,
    /// The relayed answer's usage meter.
    usage: Option<UsageTap>,
    done: bool,
}

impl Finish {
    /// The end of the request `ctx` describes; `log_line` when `proxy.access_log` is on.
    pub fn new(ctx: RequestContext, metrics: Metrics, log_line: bool) -> Finish {
        Finish {
            ctx,
            log_line: log_line && log::log_enabled!(target: "switchyard::access", log::Level::Info),
            metrics,
            attempts: 0,
            attempt_notes: Vec::new(),
            failed_over: Vec::new(),
            failures: Vec::new(),
            endpoint: None,
            status: 0,
            first_byte: None,
            bytes: 0,
            rectified: false,
            session_moved_from: None,
            served: None,
            attempt: None,
            usage: None,
            done: false,
        }
    }

    /// The request's facts.
    pub fn ctx(&self) -> &RequestContext {
        &self.ctx
    }

    /// The request's facts, to fill in what its body says.
    pub fn ctx_mut(&mut self) -> &mut RequestContext {
        &mut self.ctx
    }

    /// A new attempt is in flight (one still held, never answered, is given back).
    pub fn attempt_started(&mut self, attempt: Attempt) {
        if let Some(previous) = self.attempt.replace(attempt) {
            previous.abandoned();
        }
    }

    /// The attempt in flight, to record its answer's head.
    pub fn attempt_mut(&mut self) -> Option<&mut Attempt> {
        self.attempt.as_mut()
    }

    /// The attempt in flight, taken out to be reported now (a failure moves the request on).
    pub fn take_attempt(&mut self) -> Option<Attempt> {
        self.attempt.take()
    }

    /// Notes an attempt that reached its endpoint: the status it got, or why it failed.
    pub fn note_attempt(
        &mut self,
        endpoint: &str,
        status: Option<u16>,
        error: Option<&UpstreamError>,
    ) {
        self.attempts += 1;
        if let Some(error) = error {
            self.failures.push((endpoint.to_string(), error.kind()));
        }
        if !self.log_line {
            return;
        }
        let note = match (status, error) {
            (Some(status), _)
            | (None, Some(&UpstreamError::Status { status, .. }))
            | (None, Some(&UpstreamError::InStream { status, .. })) => {
                format!("{endpoint}:{status}")
            }
            (None, Some(UpstreamError::Transport(e))) => format!("{endpoint}:{}", e.label()),
            (None, None) => format!("{endpoint}:-"),
        };
        self.attempt_notes.push(note);
    }

    /// Notes an endpoint passed over because its API cannot carry the request (nothing was sent).
    pub fn note_passed_over(&mut self, endpoint: &str) {
        if let Some(attempt) = self.attempt.take() {
            attempt.abandoned();
        }
        if self.log_line {
            self.attempt_notes
                .push(format!("{endpoint}:untranslatable"));
        }
    }

    /// The request moves on from `endpoint`, which failed it.
    pub fn note_failed_over(&mut self, endpoint: &str) {
        self.failed_over.push(endpoint.to_string());
    }

    /// The request moved on to the fallback model `model`.
    pub fn note_fallback(&mut self, model: &str) {
        if self.log_line {
            self.attempt_notes.push(format!("fallback:{model}"));
        }
    }

    /// The answer the client gets serves `model`, a fallback of the model it asked for.
    pub fn served_by(&mut self, model: Arc<str>) {
        self.served = Some(model);
    }

    /// The thinking rectifier ran for this request.
    pub fn note_rectified(&mut self) {
        self.rectified = true;
    }

    /// The request's session moved off `endpoint` (the first such endpoint is told in the log).
    pub fn note_session_moved(&mut self, endpoint: &str) {
        self.session_moved_from
            .get_or_insert_with(|| endpoint.to_string());
    }

    /// The head of the answer the client gets: who answered, its status, when its head came.
    pub fn answer_started(
        &mut self,
        endpoint: &Arc<EndpointConfig>,
        status: u16,
        latency: Duration,
    ) {
        self.status = status;
        self.endpoint = Some(endpoint.clone());
        self.first_byte = Some(self.ctx.started.elapsed().max(latency));
    }

    /// Meters the relayed answer's usage.
    pub fn meter(&mut self, usage: UsageTap) {
        self.usage = Some(usage);
    }

    /// The gateway answers with `status` itself (the endpoint, if any, is still named).
    pub fn answered_here(&mut self, status: u16, endpoint: Option<&Arc<EndpointConfig>>) {
        self.status = status;
        if let Some(endpoint) = endpoint {
            self.endpoint = Some(endpoint.clone());
        }
    }

    /// Counts answer bytes sent to the client that no upstream sent (the gateway's own).
    pub fn add_bytes(&mut self, n: usize) {
        self.bytes += n as u64;
    }

    /// Counts a relayed chunk of the upstream's answer and lets the usage meter read it.
    pub fn relayed(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len() as u64;
        if let Some(usage) = self.usage.as_mut() {
            usage.feed(chunk);
        }
    }

    /// Ends the request with the gateway's own error, which says whose fault it is.
    pub fn refused(self, error: &GatewayError) {
        self.refused_after(error, None);
    }

    /// Ends the request with the gateway's own error after the relayed answer failed.
    pub fn refused_after(mut self, error: &GatewayError, failure: Option<UpstreamError>) {
        self.status = error.status().as_u16();
        let detail = format!("{} fault", error.fault());
        self.settle(End {
            ending: Ending::Refused(error.kind()),
            detail: Some(&detail),
            failure,
        });
    }

    /// Ends the request: the one place its outcome is reported, its usage recorded and charged,
    /// its metrics counted and its log line written.
    pub fn finish(mut self, end: End<'_>) {
        self.settle(end);
    }

    fn settle(&mut self, end: End<'_>) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        if let Some(failure) = &end.failure {
            let endpoint = self.endpoint_id().unwrap_or_default().to_string();
            self.failures.push((endpoint, failure.kind()));
        }
        // The usage first: its cost goes to the endpoint with the attempt's outcome.
        let usage = match self.usage.take() {
            Some(tap) => tap.finish(self.attempt.as_mut(), self.log_line),
            None => None,
        };
        if let Some(attempt) = self.attempt.take() {
            match end.failure {
                Some(failure) => attempt.failed(failure),
                // A head came and the answer flowed (the client may have left): the endpoint did
                // its part.
                None if attempt.has_answer() => attempt.succeeded(),
                None => attempt.abandoned(),
            }
        }
        let outcome = end.ending.word();
        let duration = self.ctx.started.elapsed();
        let failed_over: Vec<&str> = self.failed_over.iter().map(String::as_str).collect();
        let failures: Vec<(&str, &str)> = self
            .failures
            .iter()
            .map(|(endpoint, kind)| (endpoint.as_str(), *kind))
            .collect();
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
        if !self.log_line {
            return;
        }
        let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
        let ctx = &self.ctx;
        log::info!(
            target: "switchyard::access",
            "{} {} {} model={}{} status={} endpoint={} attempts=[{}] ttfb_ms={} total_ms={} bytes={}{} outcome={}{}{}{}",
            ctx.id.as_str(),
            ctx.method,
            ctx.target.path(),
            ctx.model().map_or("-", |m| &**m),
            self.served
                .as_ref()
                .map(|m| format!(" served={m}"))
                .unwrap_or_default(),
            self.status,
            self.endpoint_id().unwrap_or("-"),
            self.attempt_notes.join(" "),
            self.first_byte.map(ms).unwrap_or_else(|| "-".to_string()),
            ms(duration),
            self.bytes,
            super::meter::log_words(usage.as_ref()),
            outcome,
            if self.rectified { " rectified" } else { "" },
            self.session_moved_from
                .as_deref()
                .map(|from| format!(" session moved from {from}"))
                .unwrap_or_default(),
            end.detail.map(|d| format!(" ({d})")).unwrap_or_default()
        );
    }

    fn endpoint_id(&self) -> Option<&str> {
        self.endpoint.as_ref().map(|e| e.id.as_str())
    }
}

impl Drop for Finish {
    /// A request dropped before its end: the client went away.
    fn drop(&mut self) {
        self.settle(End::with(Ending::ClientClosed));
    }
}
