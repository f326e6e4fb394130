//! An endpoint's health as plain code: what each kind of answer does to it, and whether it may
//! take a request now. The clock is passed in, so every transition is tested without sleeping.
//!
//! `enabled` (the operator's or the config's switch) is kept apart from the condition that traffic
//! decides; the state a user reads is derived from both.

use super::model_cooldowns::{ModelCooldown, ModelCooldowns};
use super::rtt::RttEstimate;
use crate::config::{HealthPolicy, RateLimitScope};
use crate::upstream::outcome::Failure;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

crate::words! {
    /// The state words a user reads in `switchyard status`, `/admin/status` and the docs.
    pub enum State {
        Unknown = "unknown",
        Healthy = "healthy",
        CoolingDown = "cooling_down",
        Ejected = "ejected",
        AuthFailed = "auth_failed",
        Disabled = "disabled",
        /// Its budget for the UTC day or month is spent (kept by the actor, not this machine).
        OverBudget = "over_budget",
    }
}

/// What traffic has taught us, apart from the operator's switch.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Condition {
    Unknown,
    Healthy,
    CoolingDown { until: Instant },
    Ejected { until: Instant },
    AuthFailed,
}

/// A change of the state a user reads, returned by the machine for the caller to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: State,
    pub to: State,
}

impl Transition {
    /// The change from `from` to the state now, if there was one.
    fn between(from: State, to: State) -> Option<Transition> {
        (from != to).then_some(Transition { from, to })
    }
}

/// Proof that a request was admitted; handed back with the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// This request is the single trial after a timed state ended.
    pub probe: bool,
}

const LATENCY_WINDOW: usize = 128;

/// One endpoint's health and counters.
#[derive(Debug, Clone)]
pub struct EndpointHealth {
    policy: HealthPolicy,
    condition: Condition,
    enabled: bool,
    consecutive_failures: u32,
    /// Ejections in a row without a long healthy stretch: multiplies the ejection time.
    ejections: u32,
    last_decay: Instant,
    /// Rate limits in a row without a hint: doubles the default cooldown.
    cooldowns: u32,
    probing: bool,
    /// The actor probes on its own when a timed state ends: no real request is the trial.
    active_probe: bool,
    last_probe: Option<Instant>,
    /// When the endpoint last answered anything (for periodic probes of idle endpoints).
    last_answer: Option<Instant>,
    in_flight: u32,
    requests: u64,
    failures: u64,
    last_status: Option<u16>,
    last_error: Option<String>,
    changed_at: Instant,
    rtt: RttEstimate,
    recent_latencies: VecDeque<Duration>,
    /// Models rate-limited on this endpoint (with `rate_limit_scope: model`).
    model_cooldowns: ModelCooldowns,
}

impl EndpointHealth {
    /// A new endpoint: never tried, enabled as the config says.
    pub fn new(policy: HealthPolicy, enabled: bool, now: Instant) -> Self {
        EndpointHealth {
            policy,
            condition: Condition::Unknown,
            enabled,
            consecutive_failures: 0,
            ejections: 0,
            last_decay: now,
            cooldowns: 0,
            probing: false,
            active_probe: false,
            last_probe: None,
            last_answer: None,
            in_flight: 0,
            requests: 0,
            failures: 0,
            last_status: None,
            last_error: None,
            changed_at: now,
            rtt: RttEstimate::default(),
            recent_latencies: VecDeque::with_capacity(LATENCY_WINDOW),
            model_cooldowns: ModelCooldowns::default(),
        }
    }

    /// With active probes, an endpoint whose timed state ended waits for its probe instead of
    /// taking a real request as the trial.
    pub fn set_active_probe(&mut self, active: bool) {
        self.active_probe = active;
    }

    /// Replaces the policy (a reloaded config); the current state stays.
    pub fn set_policy(&mut self, policy: HealthPolicy) {
        self.policy = policy;
    }

    /// The word a user reads.
    pub fn state(&self) -> State {
        if !self.enabled {
            return State::Disabled;
        }
        match self.condition {
            Condition::Unknown => State::Unknown,
            Condition::Healthy => State::Healthy,
            Condition::CoolingDown { .. } => State::CoolingDown,
            Condition::Ejected { .. } => State::Ejected,
            Condition::AuthFailed => State::AuthFailed,
        }
    }

    /// Until when a timed state (`cooling_down`, `ejected`) lasts.
    pub fn until(&self) -> Option<Instant> {
        match self.condition {
            Condition::CoolingDown { until } | Condition::Ejected { until } => Some(until),
            _ => None,
        }
    }

    /// When this endpoint can next take a request, if it is out for a known time only
    /// (`None` for selectable, auth-failed and disabled endpoints).
    pub fn available_at(&self, now: Instant) -> Option<Instant> {
        if !self.enabled {
            return None;
        }
        self.until().filter(|until| *until > now)
    }

    /// Whether a request may be sent here now.
    pub fn is_selectable(&self, now: Instant) -> bool {
        self.enabled
            && match self.condition {
                Condition::Unknown | Condition::Healthy => true,
                Condition::CoolingDown { until } | Condition::Ejected { until } => {
                    now >= until && !self.probing && !self.active_probe
                }
                Condition::AuthFailed => false,
            }
    }

    /// Whether a request for `model` (the name sent upstream) may be sent here now.
    pub fn is_selectable_for(&self, model: Option<&str>, now: Instant) -> bool {
        self.is_selectable(now) && self.model_cooling_until(model, now).is_none()
    }

    /// Until when `model` is rate-limited here, if it is.
    pub fn model_cooling_until(&self, model: Option<&str>, now: Instant) -> Option<Instant> {
        model.and_then(|m| self.model_cooldowns.cooling_until(m, now))
    }

    /// When a request for `model` may be sent here again, if it is out for a rate limit or an
    /// exhausted quota with a known end (an endpoint or a model cooldown). `None` when the
    /// endpoint is selectable for it, or out for a reason of the gateway's own judgement
    /// (`ejected`), or for good (`auth_failed`, `disabled`).
    pub fn rate_limited_until(&self, model: Option<&str>, now: Instant) -> Option<Instant> {
        if !self.enabled {
            return None;
        }
        let endpoint = match self.condition {
            Condition::CoolingDown { until } if until > now => Some(until),
            _ => None,
        };
        let model = self.model_cooling_until(model, now);
        match (endpoint, model) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// The per-model cooldowns in force, for `/admin/status`.
    pub fn model_cooldowns(&self, now: Instant) -> Vec<ModelCooldown> {
        self.model_cooldowns
            .snapshot(now, std::time::SystemTime::now())
    }

    /// A successful answer said a budget is used up until `wait` from now: that model (or, with
    /// `rate_limit_scope: endpoint` or no model, the endpoint) cools until then, before a 429
    /// costs a client a round trip.
    pub fn on_budget_used_up(&mut self, model: Option<&str>, wait: Duration, now: Instant) {
        let wait = wait.min(self.policy.cooldown_max);
        match (self.policy.rate_limit_scope, model) {
            (RateLimitScope::Model, Some(model)) => {
                self.model_cooldowns.cool(model, now + wait, now)
            }
            _ => self.extend_timed(Condition::CoolingDown { until: now + wait }, now),
        }
    }

    /// Admits the actor's own probe: after a timed state ends, or (with `auth_recheck`) when an
    /// auth-failed endpoint is due for a recheck.
    pub fn claim_probe(&mut self, now: Instant) -> Option<Claim> {
        let due = self.next_probe_at().is_some_and(|at| now >= at);
        if !due {
            return None;
        }
        self.probing = true;
        self.last_probe = Some(now);
        self.admit();
        Some(Claim { probe: true })
    }

    /// When the actor should probe next, if it should at all.
    pub fn next_probe_at(&self) -> Option<Instant> {
        if !self.enabled || self.probing {
            return None;
        }
        match self.condition {
            Condition::CoolingDown { until } | Condition::Ejected { until }
                if self.active_probe =>
            {
                Some(until)
            }
            // Periodic probes of an idle healthy endpoint, when asked for: traffic is evidence enough.
            Condition::Healthy | Condition::Unknown if self.active_probe => {
                let interval = self.policy.probe_interval?;
                let since = [self.last_probe, self.last_answer]
                    .into_iter()
                    .flatten()
                    .fold(self.changed_at, Instant::max);
                Some(since + interval)
            }
            Condition::AuthFailed => {
                let recheck = self.policy.auth_recheck?;
                let since = self
                    .last_probe
                    .map_or(self.changed_at, |p| p.max(self.changed_at));
                Some(since + recheck)
            }
            _ => None,
        }
    }

    /// Whether the endpoint could be tried in a pinch: only when it is out on the gateway's own
    /// judgement (`ejected` after transport failures). Never when the upstream said when to come
    /// back (`cooling_down`), nor `auth_failed` or disabled.
    pub fn is_panic_candidate(&self) -> bool {
        self.enabled && matches!(self.condition, Condition::Ejected { .. })
    }

    /// Admits a request if the endpoint is selectable; the first request after a timed state is
    /// the probe, and no other is admitted until it reports.
    pub fn claim(&mut self, model: Option<&str>, now: Instant) -> Option<Claim> {
        if !self.is_selectable_for(model, now) {
            return None;
        }
        let probe = matches!(
            self.condition,
            Condition::CoolingDown { .. } | Condition::Ejected { .. }
        );
        self.probing |= probe;
        self.admit();
        Some(Claim { probe })
    }

    /// Admits a request while nothing is selectable ("panic routing"): only an `ejected` endpoint.
    pub fn claim_in_panic(&mut self) -> Option<Claim> {
        if !self.is_panic_candidate() || self.probing {
            return None;
        }
        self.probing = true;
        self.admit();
        Some(Claim { probe: true })
    }

    fn admit(&mut self) {
        self.in_flight += 1;
        self.requests += 1;
    }

    fn release(&mut self, claim: Claim, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.last_answer = Some(now);
        if claim.probe {
            self.probing = false;
        }
    }

    fn set_condition(&mut self, condition: Condition, now: Instant) {
        if std::mem::discriminant(&condition) != std::mem::discriminant(&self.condition) {
            self.changed_at = now;
        }
        self.condition = condition;
    }

    /// The upstream answered without fault (2xx/3xx, or a client's own 4xx). Returns the change
    /// of state, if any.
    pub fn on_success(
        &mut self,
        claim: Claim,
        status: u16,
        latency: Duration,
        now: Instant,
    ) -> Option<Transition> {
        let from = self.state();
        self.release(claim, now);
        self.last_status = Some(status);
        self.consecutive_failures = 0;
        self.record_latency(latency, now);
        match self.condition {
            // Only a recheck probe brings an auth-failed endpoint back.
            Condition::AuthFailed if !claim.probe => {}
            // A request dispatched before the endpoint went out does not cut the time short;
            // the probe (or any answer once the time is over) brings it back.
            Condition::CoolingDown { until } | Condition::Ejected { until } if now < until => {}
            _ => {
                self.cooldowns = 0;
                self.set_condition(Condition::Healthy, now);
            }
        }
        // The ejection multiplier decays while the endpoint stays healthy.
        if self.ejections > 0 && now.duration_since(self.last_decay) >= self.policy.ejection_base {
            self.ejections -= 1;
            self.last_decay = now;
        }
        Transition::between(from, self.state())
    }

    /// The attempt failed. `status` is the upstream's status (`None` for a transport error),
    /// `jitter` a number in [0, 1) that spreads ejection times. Returns the change of state, if any.
    pub fn on_failure(
        &mut self,
        claim: Claim,
        failure: Failure,
        status: Option<u16>,
        error: String,
        jitter: f64,
        now: Instant,
    ) -> Option<Transition> {
        self.on_failure_for(claim, failure, None, status, error, jitter, now)
    }

    /// [`on_failure`](Self::on_failure) for a request for `model` (the name sent upstream): with
    /// `rate_limit_scope: model`, a rate limit cools that model only.
    #[allow(clippy::too_many_arguments)]
    pub fn on_failure_for(
        &mut self,
        claim: Claim,
        failure: Failure,
        model: Option<&str>,
        status: Option<u16>,
        error: String,
        jitter: f64,
        now: Instant,
    ) -> Option<Transition> {
        let from = self.state();
        // A periodic probe of a working endpoint is one failure like any other; only the trial
        // after a timed state puts the endpoint straight back out.
        let trial = claim.probe
            && matches!(
                self.condition,
                Condition::CoolingDown { .. } | Condition::Ejected { .. }
            );
        self.release(claim, now);
        self.failures += 1;
        self.last_status = status;
        self.last_error = Some(error);
        if self.condition == Condition::AuthFailed {
            return None;
        }
        // A 429 is about this model's limits; a 529 (overloaded) is about the whole upstream.
        if let (
            Failure::RateLimited { retry_after },
            RateLimitScope::Model,
            Some(model),
            Some(429),
        ) = (failure, self.policy.rate_limit_scope, model, status)
        {
            let wait = self.rate_limit_wait(retry_after);
            self.model_cooldowns.cool(model, now + wait, now);
            return Transition::between(from, self.state());
        }
        match failure {
            Failure::Auth => {
                self.set_condition(Condition::AuthFailed, now);
            }
            Failure::RateLimited { retry_after } => {
                let wait = self.rate_limit_wait(retry_after);
                self.extend_timed(Condition::CoolingDown { until: now + wait }, now);
            }
            Failure::Quota => {
                let until = now + self.policy.quota_cooldown;
                self.extend_timed(Condition::CoolingDown { until }, now);
            }
            Failure::Transient => {
                self.consecutive_failures += 1;
                let already_out =
                    matches!(self.condition, Condition::Ejected { until } if until > now);
                if !already_out
                    && (trial || self.consecutive_failures >= self.policy.failure_threshold)
                {
                    self.ejections += 1;
                    self.last_decay = now;
                    let until = now + self.ejection_time(jitter);
                    self.set_condition(Condition::Ejected { until }, now);
                }
            }
        }
        Transition::between(from, self.state())
    }

    /// How long a rate limit lasts: the upstream's hint (capped), else a default that doubles
    /// with each hintless rate limit in a row.
    fn rate_limit_wait(&mut self, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(hint) => hint.min(self.policy.cooldown_max),
            None => {
                let grown = self
                    .policy
                    .cooldown_default
                    .saturating_mul(1 << self.cooldowns.min(16));
                self.cooldowns += 1;
                grown.min(self.policy.cooldown_max)
            }
        }
    }

    /// Envoy's rule: base × ejections in a row, capped, spread by ±10 % jitter (still capped).
    fn ejection_time(&self, jitter: f64) -> Duration {
        let base = self
            .policy
            .ejection_base
            .saturating_mul(self.ejections.max(1))
            .min(self.policy.ejection_max);
        let factor = 0.9 + 0.2 * jitter.clamp(0.0, 1.0);
        base.mul_f64(factor).min(self.policy.ejection_max)
    }

    /// Enters a timed state unless one already runs longer.
    fn extend_timed(&mut self, next: Condition, now: Instant) {
        let next_until = match next {
            Condition::CoolingDown { until } | Condition::Ejected { until } => until,
            _ => now,
        };
        if let Some(current) = self.until() {
            if current > next_until {
                return;
            }
        }
        self.set_condition(next, now);
    }

    /// The request ended without a verdict on the endpoint (the client went away).
    pub fn on_abandoned(&mut self, claim: Claim, now: Instant) {
        self.release(claim, now);
    }

    /// The operator's (or config's) switch on. An auth-failed endpoint gets one chance:
    /// the next request decides.
    pub fn enable(&mut self, now: Instant) {
        self.enabled = true;
        if self.condition == Condition::AuthFailed {
            self.consecutive_failures = 0;
            self.set_condition(Condition::Unknown, now);
        }
    }

    /// The operator's (or config's) switch off.
    pub fn disable(&mut self, now: Instant) {
        if self.enabled {
            self.enabled = false;
            self.changed_at = now;
        }
    }

    /// Clears counters, timed states and `auth_failed`; `disabled` stays until enabled.
    pub fn reset(&mut self, now: Instant) {
        let fresh = EndpointHealth::new(self.policy, self.enabled, now);
        let in_flight = self.in_flight;
        *self = fresh;
        self.in_flight = in_flight;
    }

    /// Marks the endpoint auth-failed without a request (a state restored from the state file).
    pub fn restore_auth_failed(&mut self, now: Instant) {
        self.last_error = Some("key rejected before the last restart".to_string());
        self.set_condition(Condition::AuthFailed, now);
    }

    /// Whether the endpoint is enabled by config or operator.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    fn record_latency(&mut self, latency: Duration, now: Instant) {
        self.rtt.observe(latency, now);
        if self.recent_latencies.len() == LATENCY_WINDOW {
            self.recent_latencies.pop_front();
        }
        self.recent_latencies.push_back(latency);
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }
    pub fn requests(&self) -> u64 {
        self.requests
    }
    pub fn failures(&self) -> u64 {
        self.failures
    }
    pub fn last_status(&self) -> Option<u16> {
        self.last_status
    }
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }
    pub fn changed_at(&self) -> Instant {
        self.changed_at
    }
    /// The peak-EWMA time to first byte at `now` (`None` before the first answer).
    pub fn latency_estimate(&self, now: Instant) -> Option<Duration> {
        self.rtt.current(now)
    }
    /// What the `latency` strategy weighs: the estimate, or a default when unmeasured.
    pub fn latency_cost(&self, now: Instant) -> Duration {
        self.rtt.cost(now)
    }

    /// The `q` quantile (0..=1) of the recent time-to-first-byte samples.
    pub fn latency_quantile(&self, q: f64) -> Option<Duration> {
        if self.recent_latencies.is_empty() {
            return None;
        }
        let mut sorted: Vec<Duration> = self.recent_latencies.iter().copied().collect();
        sorted.sort_unstable();
        let rank = ((sorted.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
        Some(sorted[rank])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::outcome::{classify_status, Verdict};

    const S: Duration = Duration::from_secs(1);

    fn policy() -> HealthPolicy {
        HealthPolicy {
            failure_threshold: 3,
            ejection_base: Duration::from_secs(30),
            ejection_max: Duration::from_secs(300),
            cooldown_default: Duration::from_secs(5),
            cooldown_max: Duration::from_secs(60),
            quota_cooldown: Duration::from_secs(3600),
            auth_recheck: None,
            probe_interval: None,
            rate_limit_scope: crate::config::RateLimitScope::Endpoint,
        }
    }

    fn fresh(now: Instant) -> EndpointHealth {
        EndpointHealth::new(policy(), true, now)
    }

    fn fail(h: &mut EndpointHealth, failure: Failure, now: Instant) {
        let claim = h.claim(None, now).expect("selectable");
        h.on_failure(claim, failure, None, "boom".into(), 0.5, now);
    }

    fn succeed(h: &mut EndpointHealth, now: Instant) {
        let claim = h.claim(None, now).expect("selectable");
        h.on_success(claim, 200, Duration::from_millis(40), now);
    }

    #[test]
    fn statuses_are_classified_by_whose_fault_they_are() {
        assert_eq!(classify_status(200), Verdict::Success);
        assert_eq!(classify_status(304), Verdict::Success);
        for s in [400, 404, 413, 422, 409, 501] {
            assert_eq!(classify_status(s), Verdict::ClientError, "{s}");
        }
        assert_eq!(classify_status(401), Verdict::Failure(Failure::Auth));
        assert_eq!(classify_status(403), Verdict::Failure(Failure::Auth));
        assert_eq!(classify_status(402), Verdict::Failure(Failure::Quota));
        for s in [429, 529] {
            assert!(matches!(
                classify_status(s),
                Verdict::Failure(Failure::RateLimited { .. })
            ));
        }
        for s in [408, 500, 502, 503, 504, 520] {
            assert_eq!(
                classify_status(s),
                Verdict::Failure(Failure::Transient),
                "{s}"
            );
        }
    }

    #[test]
    fn a_new_endpoint_is_unknown_and_selectable_then_healthy_after_a_success() {
        let now = Instant::now();
        let mut h = fresh(now);
        assert_eq!(h.state(), State::Unknown);
        assert!(h.is_selectable(now));
        succeed(&mut h, now);
        assert_eq!(h.state(), State::Healthy);
        assert_eq!(h.requests(), 1);
        assert_eq!(h.in_flight(), 0);
    }

    #[test]
    fn an_auth_failure_takes_the_endpoint_out_until_enabled() {
        let now = Instant::now();
        let mut h = fresh(now);
        fail(&mut h, Failure::Auth, now);
        assert_eq!(h.state(), State::AuthFailed);
        for later in [now + S, now + 3600 * S, now + 86400 * 365 * S] {
            assert!(!h.is_selectable(later));
            assert!(h.claim(None, later).is_none());
        }
        assert!(h.available_at(now).is_none());
        h.enable(now + S);
        assert_eq!(h.state(), State::Unknown);
        assert!(h.is_selectable(now + S));
    }

    #[test]
    fn in_flight_answers_cannot_bring_an_auth_failed_endpoint_back() {
        let now = Instant::now();
        let mut h = fresh(now);
        let early = h.claim(None, now).unwrap();
        let failing = h.claim(None, now).unwrap();
        h.on_failure(failing, Failure::Auth, Some(401), "401".into(), 0.0, now);
        h.on_success(early, 200, S, now);
        assert_eq!(h.state(), State::AuthFailed);
        assert_eq!(h.in_flight(), 0);
        // A late transient failure does not turn it into a timed state either.
        let mut h2 = fresh(now);
        let a = h2.claim(None, now).unwrap();
        let b = h2.claim(None, now).unwrap();
        h2.on_failure(a, Failure::Auth, Some(403), "403".into(), 0.0, now);
        h2.on_failure(b, Failure::Transient, None, "reset".into(), 0.0, now);
        assert_eq!(h2.state(), State::AuthFailed);
    }

    #[test]
    fn rate_limits_cool_down_for_the_hinted_time_capped() {
        let now = Instant::now();
        let mut h = fresh(now);
        fail(
            &mut h,
            Failure::RateLimited {
                retry_after: Some(2 * S),
            },
            now,
        );
        assert_eq!(h.state(), State::CoolingDown);
        assert!(!h.is_selectable(now + S));
        assert_eq!(h.available_at(now), Some(now + 2 * S));
        assert!(h.is_selectable(now + 2 * S));
        let mut h = fresh(now);
        fail(
            &mut h,
            Failure::RateLimited {
                retry_after: Some(3600 * S),
            },
            now,
        );
        assert_eq!(h.until(), Some(now + 60 * S), "capped by cooldown_max");
    }

    #[test]
    fn rate_limits_without_a_hint_grow_from_the_default() {
        let now = Instant::now();
        let mut h = fresh(now);
        let mut t = now;
        let mut waits = Vec::new();
        for _ in 0..6 {
            let claim = h.claim_in_panic().or_else(|| h.claim(None, t)).unwrap();
            h.on_failure(
                claim,
                Failure::RateLimited { retry_after: None },
                Some(429),
                "429".into(),
                0.0,
                t,
            );
            let until = h.until().unwrap();
            waits.push(until - t);
            t = until;
        }
        assert_eq!(waits[..4], [5 * S, 10 * S, 20 * S, 40 * S]);
        assert_eq!(waits[4], 60 * S, "capped");
        // A success after the time is over resets the growth.
        succeed(&mut h, t);
        assert_eq!(h.state(), State::Healthy);
        fail(&mut h, Failure::RateLimited { retry_after: None }, t);
        assert_eq!(h.until(), Some(t + 5 * S));
    }

    #[test]
    fn transient_failures_eject_after_the_threshold_and_one_success_resets_the_count() {
        let now = Instant::now();
        let mut h = fresh(now);
        fail(&mut h, Failure::Transient, now);
        fail(&mut h, Failure::Transient, now);
        succeed(&mut h, now);
        assert_eq!(h.consecutive_failures(), 0);
        fail(&mut h, Failure::Transient, now);
        fail(&mut h, Failure::Transient, now);
        assert_eq!(h.state(), State::Healthy);
        fail(&mut h, Failure::Transient, now);
        assert_eq!(h.state(), State::Ejected);
        // jitter 0.5 → factor 1.0: exactly the base time.
        assert_eq!(h.until(), Some(now + 30 * S));
        assert!(!h.is_selectable(now + 29 * S));
    }

    #[test]
    fn ejection_time_grows_with_consecutive_ejections_and_is_capped_with_jitter_inside_bounds() {
        let now = Instant::now();
        let mut h = fresh(now);
        let mut t = now;
        let mut times = Vec::new();
        for round in 0..12 {
            if round == 0 {
                for _ in 0..3 {
                    fail(&mut h, Failure::Transient, t);
                }
            } else {
                // The probe after the ejection fails.
                let claim = h.claim(None, t).expect("probe admitted");
                assert!(claim.probe);
                h.on_failure(claim, Failure::Transient, Some(503), "503".into(), 0.5, t);
            }
            let until = h.until().unwrap();
            times.push(until - t);
            t = until;
        }
        assert_eq!(times[..4], [30 * S, 60 * S, 90 * S, 120 * S]);
        assert_eq!(*times.last().unwrap(), 300 * S);
        for jitter in [0.0, 0.999] {
            let mut h = fresh(now);
            for _ in 0..3 {
                let c = h.claim(None, now).unwrap();
                h.on_failure(c, Failure::Transient, None, "x".into(), jitter, now);
            }
            let d = h.until().unwrap() - now;
            assert!(d >= 27 * S && d <= 33 * S, "{d:?}");
        }
    }

    #[test]
    fn after_a_timed_state_only_one_probe_is_admitted_and_its_answer_decides() {
        let now = Instant::now();
        let mut h = fresh(now);
        fail(
            &mut h,
            Failure::RateLimited {
                retry_after: Some(S),
            },
            now,
        );
        let later = now + 2 * S;
        let probe = h.claim(None, later).expect("probe");
        assert!(probe.probe);
        assert!(
            h.claim(None, later).is_none(),
            "second request waits for the probe"
        );
        h.on_success(probe, 200, S, later);
        assert_eq!(h.state(), State::Healthy);
        assert!(h.claim(None, later).is_some());

        let mut h = fresh(now);
        fail(
            &mut h,
            Failure::RateLimited {
                retry_after: Some(S),
            },
            now,
        );
        let probe = h.claim(None, later).unwrap();
        h.on_failure(
            probe,
            Failure::RateLimited { retry_after: None },
            Some(429),
            "429".into(),
            0.0,
            later,
        );
        assert_eq!(h.state(), State::CoolingDown);
        assert!(h.until().unwrap() > later);

        // An abandoned probe frees the slot for the next request.
        let mut h = fresh(now);
        fail(
            &mut h,
            Failure::RateLimited {
                retry_after: Some(S),
            },
            now,
        );
        let probe = h.claim(None, later).unwrap();
        h.on_abandoned(probe, later);
        assert!(h.claim(None, later).is_some());
    }

    #[test]
    fn a_success_dispatched_before_a_cooldown_does_not_cut_it_short() {
        let now = Instant::now();
        let mut h = fresh(now);
        let early = h.claim(None, now).unwrap();
        fail(
            &mut h,
            Failure::RateLimited {
                retry_after: Some(10 * S),
            },
            now,
        );
        h.on_success(early, 200, S, now + S);
        assert_eq!(h.state(), State::CoolingDown);
        assert!(!h.is_selectable(now + 2 * S));
    }

    #[test]
    fn quota_exhaustion_keeps_the_endpoint_out_for_the_long_time() {
        let now = Instant::now();
        let mut h = fresh(now);
        fail(&mut h, Failure::Quota, now);
        assert_eq!(h.state(), State::CoolingDown);
        assert_eq!(h.until(), Some(now + 3600 * S));
    }

    #[test]
    fn the_ejection_multiplier_decays_while_healthy() {
        let now = Instant::now();
        let mut h = fresh(now);
        for _ in 0..3 {
            fail(&mut h, Failure::Transient, now);
        }
        let mut t = h.until().unwrap();
        succeed(&mut h, t);
        // Long healthy stretch: several decay steps.
        for _ in 0..4 {
            t += 31 * S;
            succeed(&mut h, t);
        }
        for _ in 0..3 {
            fail(&mut h, Failure::Transient, t);
        }
        assert_eq!(h.until().unwrap() - t, 30 * S, "multiplier back to 1");
    }

    #[test]
    fn disabled_wins_over_everything_and_reset_keeps_it() {
        let now = Instant::now();
        let mut h = fresh(now);
        h.disable(now);
        assert_eq!(h.state(), State::Disabled);
        assert!(h.claim(None, now).is_none());
        assert!(h.claim_in_panic().is_none());
        h.reset(now);
        assert_eq!(h.state(), State::Disabled);
        h.enable(now);
        assert_eq!(h.state(), State::Unknown);
    }

    #[test]
    fn reset_clears_counters_timed_states_and_auth_failed() {
        let now = Instant::now();
        let mut h = fresh(now);
        fail(&mut h, Failure::Auth, now);
        h.reset(now);
        assert_eq!(h.state(), State::Unknown);
        assert_eq!(h.failures(), 0);
        assert_eq!(h.requests(), 0);
        fail(
            &mut h,
            Failure::RateLimited {
                retry_after: Some(100 * S),
            },
            now,
        );
        h.reset(now);
        assert!(h.is_selectable(now));
    }

    #[test]
    fn panic_routing_admits_only_ejected_endpoints_one_at_a_time() {
        let now = Instant::now();
        let mut h = fresh(now);
        assert!(
            h.claim_in_panic().is_none(),
            "a selectable endpoint is not a panic pick"
        );
        fail(
            &mut h,
            Failure::RateLimited {
                retry_after: Some(100 * S),
            },
            now,
        );
        assert!(
            h.claim_in_panic().is_none(),
            "the upstream said when to come back: no panic routing"
        );
        assert_eq!(h.rate_limited_until(None, now), Some(now + 60 * S));
        let mut h = fresh(now);
        for _ in 0..3 {
            fail(&mut h, Failure::Transient, now);
        }
        assert_eq!(h.state(), State::Ejected);
        assert_eq!(h.rate_limited_until(None, now), None);
        let c = h.claim_in_panic().expect("panic claim");
        assert!(h.claim_in_panic().is_none());
        h.on_success(c, 200, S, now);
        let mut auth = fresh(now);
        fail(&mut auth, Failure::Auth, now);
        assert!(auth.claim_in_panic().is_none());
    }

    fn model_policy() -> HealthPolicy {
        HealthPolicy {
            rate_limit_scope: RateLimitScope::Model,
            ..policy()
        }
    }

    #[test]
    fn a_rate_limit_for_one_model_leaves_the_endpoint_to_the_others() {
        let now = Instant::now();
        let mut h = EndpointHealth::new(model_policy(), true, now);
        let c = h.claim(Some("opus"), now).unwrap();
        let change = h.on_failure_for(
            c,
            Failure::RateLimited {
                retry_after: Some(10 * S),
            },
            Some("opus"),
            Some(429),
            "HTTP 429".into(),
            0.5,
            now,
        );
        assert_eq!(change, None, "the endpoint's own state does not change");
        assert_eq!(h.state(), State::Unknown);
        assert!(h.claim(Some("opus"), now).is_none());
        assert_eq!(h.rate_limited_until(Some("opus"), now), Some(now + 10 * S));
        assert!(h.claim(Some("haiku"), now).is_some());
        assert_eq!(h.rate_limited_until(Some("haiku"), now), None);
        assert_eq!(h.model_cooldowns(now)[0].model, "opus");
        assert!(h.claim(Some("opus"), now + 10 * S).is_some(), "on time");
        // Without a model, a rate limit still cools the whole endpoint.
        let mut h = EndpointHealth::new(model_policy(), true, now);
        let c = h.claim(None, now).unwrap();
        h.on_failure_for(
            c,
            Failure::RateLimited { retry_after: None },
            None,
            Some(429),
            "x".into(),
            0.5,
            now,
        );
        assert_eq!(h.state(), State::CoolingDown);
    }

    #[test]
    fn a_used_up_budget_rests_the_model_or_the_endpoint_until_its_reset() {
        let now = Instant::now();
        let mut h = EndpointHealth::new(model_policy(), true, now);
        h.on_budget_used_up(Some("opus"), 30 * S, now);
        assert!(h.claim(Some("opus"), now).is_none());
        assert!(h.claim(Some("haiku"), now).is_some());
        let mut h = fresh(now);
        h.on_budget_used_up(Some("opus"), 30 * S, now);
        assert_eq!(h.state(), State::CoolingDown, "endpoint scope");
        assert_eq!(h.until(), Some(now + 30 * S));
        let mut h = fresh(now);
        h.on_budget_used_up(None, 10_000 * S, now);
        assert_eq!(h.until(), Some(now + 60 * S), "capped by cooldown_max");
        h.reset(now);
        assert!(h.claim(Some("opus"), now).is_some(), "reset ends cooldowns");
    }

    #[test]
    fn a_failed_periodic_probe_counts_as_one_failure() {
        let now = Instant::now();
        let mut h = fresh(now);
        let c = h.claim(None, now).unwrap();
        h.on_success(c, 200, S, now);
        let probe = Claim { probe: true };
        h.in_flight += 1;
        h.on_failure(
            probe,
            Failure::Transient,
            None,
            "probe: refused".into(),
            0.5,
            now,
        );
        assert_eq!(h.state(), State::Healthy, "one failure is not an ejection");
        assert_eq!(h.consecutive_failures(), 1);
        // The trial after a timed state still puts the endpoint straight back out.
        for _ in 0..2 {
            fail(&mut h, Failure::Transient, now);
        }
        assert_eq!(h.state(), State::Ejected);
        let later = h.until().unwrap();
        let trial = h.claim(None, later).unwrap();
        assert!(trial.probe);
        h.on_failure(trial, Failure::Transient, None, "x".into(), 0.5, later);
        assert_eq!(h.state(), State::Ejected);
    }

    #[test]
    fn with_active_probes_only_the_probe_ends_a_timed_state() {
        let now = Instant::now();
        let mut h = fresh(now);
        h.set_active_probe(true);
        fail(
            &mut h,
            Failure::RateLimited {
                retry_after: Some(S),
            },
            now,
        );
        assert_eq!(h.next_probe_at(), Some(now + S));
        let later = now + 2 * S;
        assert!(
            h.claim(None, later).is_none(),
            "real requests wait for the probe"
        );
        assert!(h.claim_probe(now).is_none(), "not due yet");
        let probe = h.claim_probe(later).expect("probe due");
        assert_eq!(h.next_probe_at(), None, "one probe at a time");
        h.on_failure(
            probe,
            Failure::Transient,
            Some(503),
            "503".into(),
            0.5,
            later,
        );
        assert_eq!(h.state(), State::Ejected);
        let until = h.until().unwrap();
        assert_eq!(h.next_probe_at(), Some(until));
        let probe = h.claim_probe(until).unwrap();
        h.on_success(probe, 200, S, until);
        assert_eq!(h.state(), State::Healthy);
        assert!(h.claim(None, until).is_some());
    }

    #[test]
    fn auth_recheck_probes_an_auth_failed_endpoint_rarely() {
        let now = Instant::now();
        let mut policy = policy();
        policy.auth_recheck = Some(Duration::from_secs(3600));
        let mut h = EndpointHealth::new(policy, true, now);
        fail(&mut h, Failure::Auth, now);
        assert_eq!(h.next_probe_at(), Some(now + 3600 * S));
        let t = now + 3600 * S;
        let probe = h.claim_probe(t).unwrap();
        h.on_failure(probe, Failure::Auth, Some(401), "401".into(), 0.0, t);
        assert_eq!(h.state(), State::AuthFailed);
        assert_eq!(
            h.next_probe_at(),
            Some(t + 3600 * S),
            "the next recheck is an interval later"
        );
        let t2 = t + 3600 * S;
        let probe = h.claim_probe(t2).unwrap();
        h.on_success(probe, 200, S, t2);
        assert_eq!(
            h.state(),
            State::Healthy,
            "a rotated key upstream brings it back"
        );
        // Without auth_recheck an auth-failed endpoint is never probed.
        let mut h = fresh(now);
        fail(&mut h, Failure::Auth, now);
        assert_eq!(h.next_probe_at(), None);
    }

    #[test]
    fn periodic_probes_are_off_unless_configured_and_only_for_idle_endpoints() {
        let now = Instant::now();
        let mut h = fresh(now);
        h.set_active_probe(true);
        assert_eq!(h.next_probe_at(), None, "off by default");
        let mut policy = policy();
        policy.probe_interval = Some(Duration::from_secs(600));
        let mut h = EndpointHealth::new(policy, true, now);
        h.set_active_probe(true);
        assert_eq!(h.next_probe_at(), Some(now + 600 * S));
        let probe = h.claim_probe(now + 600 * S).expect("due");
        assert!(probe.probe);
        h.on_success(probe, 200, S, now + 600 * S);
        assert!(h.next_probe_at().unwrap() >= now + 1200 * S);
        let mut h = EndpointHealth::new(policy, true, now);
        assert_eq!(
            h.next_probe_at(),
            None,
            "endpoints without a probe kind are never probed"
        );
        h.set_active_probe(false);
    }

    #[test]
    fn latency_is_tracked_as_peak_ewma_and_quantiles() {
        let now = Instant::now();
        let mut h = fresh(now);
        for ms in [10u64, 20, 30, 40, 1000] {
            let c = h.claim(None, now).unwrap();
            h.on_success(c, 200, Duration::from_millis(ms), now);
        }
        assert_eq!(h.latency_quantile(0.5), Some(Duration::from_millis(30)));
        assert_eq!(h.latency_quantile(0.95), Some(Duration::from_millis(1000)));
        // The last sample was a new peak: the estimate takes it at once.
        assert_eq!(h.latency_estimate(now), Some(Duration::from_millis(1000)));
        h.reset(now);
        assert_eq!(h.latency_estimate(now), None);
        assert_eq!(h.latency_cost(now), super::super::rtt::DEFAULT_RTT);
    }
}
