//! The relay's decisions as plain functions: after each attempt, relay the answer, retry on
//! another endpoint, or give up; and, when nothing is left, what the client gets.
//!
//! The rule for "nothing left" (README, "How failover works"): the last attempt decides. If it got
//! an upstream answer (a 401, 429, 5xx …), that answer is passed on as it came, with
//! `x-switchyard-endpoint` and `x-switchyard-attempts`. If it got no answer (every endpoint it
//! reached failed at the transport level), or no endpoint could be tried at all, the client gets
//! the gateway's own 503 in its API's shape, naming what happened to each endpoint, with
//! `Retry-After` when an endpoint is known to come back.

use crate::balancer::NoEndpoint;
use crate::upstream::outcome::{Failure, UpstreamError};

/// What the relay does after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The answer is the client's: stream it back.
    Relay,
    /// Ask the Balancer for another endpoint; `budgeted` when the retry spends the retry budget
    /// (after a transient failure: it could pile load on struggling upstreams).
    Retry { budgeted: bool },
    /// Attempts are used up: nothing left (see [`last_resort`]).
    GiveUp,
}

/// The next step after an attempt that failed with `failed` (`None`: it did not fail), when
/// `attempts` endpoints were tried and `max_attempts` may be.
pub fn next_step(failed: Option<&UpstreamError>, attempts: usize, max_attempts: usize) -> Step {
    match failed {
        None => Step::Relay,
        Some(_) if attempts >= max_attempts => Step::GiveUp,
        Some(error) => Step::Retry {
            budgeted: error.failure() == Failure::Transient,
        },
    }
}

/// Whether a request moves on to a fallback model when the Balancer has no endpoint for the
/// model it is on: when every endpoint that could serve that model is out for it (rate-limited,
/// over budget, cooling down, ejected or already tried) or none serves it at all; not when retries
/// are over budget, the path's API is missing, or the Balancer did not answer.
pub fn falls_back(no: &NoEndpoint) -> bool {
    match no {
        NoEndpoint::NothingSelectable { .. }
        | NoEndpoint::RateLimited { .. }
        | NoEndpoint::UnknownModel { .. } => true,
        NoEndpoint::WrongApi(_) | NoEndpoint::RetryBudget | NoEndpoint::BalancerGone(_) => false,
    }
}

/// What the client gets when nothing is left to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastResort {
    /// The last attempt's upstream answer, as it came.
    PassOnAnswer,
    /// 503 `upstream_unreachable`, naming each endpoint's transport failure.
    Unreachable,
    /// 503 `no_endpoint` (or the Balancer's reason: unknown model, retry budget).
    NoEndpoint,
}

/// The one rule for "nothing left": the last attempt decides.
pub fn last_resort(last_attempt_answered: bool, transport_failures: bool) -> LastResort {
    match (last_attempt_answered, transport_failures) {
        (true, _) => LastResort::PassOnAnswer,
        (false, true) => LastResort::Unreachable,
        (false, false) => LastResort::NoEndpoint,
    }
}

/// Whether a translation refusal is what the client gets once the Balancer has nothing more to
/// offer: only when nothing went upstream and every endpoint that could serve was tried (passed
/// over or refused). An endpoint that could take the request but is out for now (cooling down,
/// ejected, rate-limited) makes it the gateway's 503 or 429 instead, with `Retry-After`.
pub fn refusal_stands(nothing_sent: bool, no: &NoEndpoint) -> bool {
    nothing_sent && matches!(no, NoEndpoint::NothingSelectable { states, .. } if states.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::health::State;
    use crate::upstream::outcome::TransportError;

    #[test]
    fn a_refusal_stands_only_when_every_endpoint_was_tried_and_nothing_sent() {
        let all_tried = NoEndpoint::NothingSelectable {
            states: vec![],
            retry_after: None,
        };
        assert!(refusal_stands(true, &all_tried));
        assert!(!refusal_stands(false, &all_tried), "an upstream answered");
        let one_out = NoEndpoint::NothingSelectable {
            states: vec![State::CoolingDown],
            retry_after: Some(std::time::Duration::from_secs(3)),
        };
        assert!(!refusal_stands(true, &one_out));
        let limited = NoEndpoint::RateLimited {
            retry_after: std::time::Duration::from_secs(3),
        };
        assert!(!refusal_stands(true, &limited));
    }
    use std::time::Duration;

    fn status(code: u16) -> Option<UpstreamError> {
        UpstreamError::from_status(code, Some(Duration::from_secs(5)), false)
    }

    #[test]
    fn every_row_of_the_retry_table() {
        let refused = Some(UpstreamError::Transport(TransportError::Refused));
        let quota = UpstreamError::from_status(429, None, true);
        let rows: [(Option<UpstreamError>, usize, usize, Step); 14] = [
            // A good answer or a client's own 4xx is relayed, whatever the count.
            (None, 1, 3, Step::Relay),
            (None, 3, 3, Step::Relay),
            // Transport failures and 5xx/408 are transient: a retry spends the budget.
            (refused.clone(), 1, 3, Step::Retry { budgeted: true }),
            (status(503), 1, 3, Step::Retry { budgeted: true }),
            (status(408), 2, 3, Step::Retry { budgeted: true }),
            // An endpoint that took itself out (auth, quota, rate limit) moves on for free.
            (status(401), 1, 3, Step::Retry { budgeted: false }),
            (status(403), 1, 3, Step::Retry { budgeted: false }),
            (status(402), 1, 3, Step::Retry { budgeted: false }),
            (status(429), 2, 3, Step::Retry { budgeted: false }),
            (status(529), 1, 2, Step::Retry { budgeted: false }),
            (quota, 1, 3, Step::Retry { budgeted: false }),
            // The last allowed attempt failed: give up, answered or not.
            (refused, 3, 3, Step::GiveUp),
            (status(500), 3, 3, Step::GiveUp),
            (status(401), 1, 1, Step::GiveUp),
        ];
        for (failed, attempts, max, expected) in rows {
            assert_eq!(
                next_step(failed.as_ref(), attempts, max),
                expected,
                "{failed:?} after {attempts} of {max}"
            );
        }
    }

    #[test]
    fn a_model_no_endpoint_can_serve_now_falls_back_and_a_busy_gateway_does_not() {
        let out = |states| NoEndpoint::NothingSelectable {
            states,
            retry_after: None,
        };
        assert!(falls_back(&out(vec![State::OverBudget, State::Ejected])));
        assert!(falls_back(&out(vec![])), "every endpoint already tried");
        assert!(falls_back(&NoEndpoint::RateLimited {
            retry_after: Duration::from_secs(2400)
        }));
        assert!(falls_back(&NoEndpoint::UnknownModel {
            model: "claude-opus-4-5".into(),
            served: vec![]
        }));
        assert!(!falls_back(&NoEndpoint::RetryBudget));
        assert!(!falls_back(&NoEndpoint::BalancerGone("stopped".into())));
        assert!(!falls_back(&NoEndpoint::WrongApi(
            crate::translate::Api::OpenAi
        )));
    }

    #[test]
    fn nothing_left_is_decided_by_the_last_attempt() {
        // The last attempt got an answer: pass it on, even if earlier ones failed to connect.
        assert_eq!(last_resort(true, false), LastResort::PassOnAnswer);
        assert_eq!(last_resort(true, true), LastResort::PassOnAnswer);
        // It got none: the gateway's 503 naming the transport failures.
        assert_eq!(last_resort(false, true), LastResort::Unreachable);
        // Nothing could be tried at all.
        assert_eq!(last_resort(false, false), LastResort::NoEndpoint);
    }
}
