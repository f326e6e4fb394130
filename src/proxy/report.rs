//! What the request path reports: an attempt's outcome goes to the endpoint's actor (the owner of
//! its health), and a request ends with an [`Ending`]. A failed attempt is reported where the
//! next step is decided; the last one by [`super::finish::Finish`].

use crate::endpoint::health::Claim;
use crate::endpoint::{EndpointAddr, RequestAbandoned, RequestFailed, RequestSucceeded};
use crate::upstream::outcome::UpstreamError;
use crate::upstream::ratelimit::RateLimits;
use crate::usage::Spent;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// One attempt at one endpoint. Each of its reports consumes it, so exactly one outcome reaches
/// the endpoint's actor; the request's [`super::finish::Finish`] holds it until one does.
pub struct Attempt {
    addr: EndpointAddr,
    claim: Claim,
    status: u16,
    latency: Duration,
    /// The model sent upstream.
    model: Option<Arc<str>>,
    /// The answer's rate-limit headers said a budget is used up for this long.
    budget_used_up: Option<Duration>,
    /// What the answer's rate-limit headers said.
    limits: Option<RateLimits>,
    /// What the answer cost, charged to the endpoint's budget with the attempt's outcome (one
    /// message per request, not two).
    spent: Option<Spent>,
}

impl Attempt {
    /// An attempt at sending `model` (the name the upstream receives) to the endpoint at `addr`.
    pub fn new(addr: EndpointAddr, claim: Claim, model: Option<Arc<str>>) -> Self {
        Attempt {
            addr,
            claim,
            status: 0,
            latency: Duration::ZERO,
            model,
            budget_used_up: None,
            limits: None,
            spent: None,
        }
    }

    /// The answer cost this: its outcome's report charges it.
    pub fn charge(&mut self, spent: Spent) {
        self.spent = Some(spent);
    }

    /// What the answer's rate-limit headers said: the endpoint keeps it, and rests the model
    /// while a budget is used up.
    pub fn limits_seen(&mut self, limits: Option<RateLimits>, now: SystemTime) {
        self.budget_used_up = limits.and_then(|l| l.used_up_wait(now));
        self.limits = limits;
    }

    /// Records the response head: its status and the time it took to arrive.
    pub fn answered(&mut self, status: u16, latency: Duration) {
        self.status = status;
        self.latency = latency;
    }

    /// Whether the upstream's answer head arrived.
    pub fn has_answer(&self) -> bool {
        self.status != 0
    }

    /// The endpoint did its part.
    pub fn succeeded(self) {
        self.addr.do_send(RequestSucceeded {
            claim: self.claim,
            status: self.status,
            latency: self.latency,
            model: self.model,
            budget_used_up: self.budget_used_up,
            limits: self.limits,
            spent: self.spent,
        });
    }

    /// The endpoint failed this attempt, for the reason given.
    pub fn failed(self, error: UpstreamError) {
        self.addr.do_send(RequestFailed {
            claim: self.claim,
            error,
            model: self.model,
            spent: self.spent,
        });
    }

    /// The attempt ended before its endpoint could answer (the client went away, nothing was
    /// sent): the claim is given back, and nothing is said of the endpoint.
    pub fn abandoned(self) {
        self.addr.do_send(RequestAbandoned { claim: self.claim });
        if let Some(spent) = self.spent {
            self.addr.do_send(spent);
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
