//! The Endpoint actor: the one owner of an upstream endpoint's health. Everything else asks it
//! (`IsHealthy`) or tells it what happened (`RequestSucceeded`, `RequestFailed`, …); nobody holds a
//! copy of its state that could go stale.

mod budget;
pub mod health;
pub mod limits_seen;
pub mod model_cooldowns;
pub mod probe;
pub mod rtt;
mod snapshot;

pub use budget::SeedSpend;
pub use snapshot::EndpointSnapshot;

use crate::config::{EndpointConfig, HealthPolicy, ProbeKind, RateLimitScope, Timeouts};
use crate::upstream::outcome::{TransportError, UpstreamError};
use crate::usage::BudgetTracker;
use actix::prelude::*;
use health::{Claim, EndpointHealth, State, Transition};
use limits_seen::LimitsSeen;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Tells the state file (or anyone else) that an endpoint's durable state changed.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct DurableStateChanged {
    pub id: String,
    pub auth_failed: bool,
    pub operator_disabled: bool,
}

/// Answered once every [`DurableStateChanged`] reported so far is in the state file (at once
/// without one). An operator's action waits for it, so that a stop right after cannot lose it.
/// The supervisor answers it; the admin routes hold only a `Recipient<StateSaved>`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StateSaved;

/// An endpoint actor's address as the request path passes it around. actix makes a new sender
/// (two allocations) for every clone of an `Addr`, and one request hands the address on several
/// times (the Balancer's answer, the attempt, the answer's meter): this handle clones by count.
pub type EndpointAddr = std::sync::Arc<Addr<Endpoint>>;

/// An upstream endpoint actor.
pub struct Endpoint {
    config: Arc<EndpointConfig>,
    timeouts: Timeouts,
    health: EndpointHealth,
    /// The next probe, when one is scheduled.
    probe_timer: Option<(Instant, SpawnHandle)>,
    /// Built on first use, on this actor's thread (awc clients are not `Send`).
    probe_client: Option<awc::Client>,
    /// Disabled by an operator (admin route), as opposed to `enabled: false` in the config.
    operator_disabled: bool,
    on_durable_change: Option<Recipient<DurableStateChanged>>,
    /// How often the supervisor restarted this actor.
    restarts: u32,
    /// Spend in the current UTC day and month against `config.budget` (see `budget.rs`).
    budget: BudgetTracker,
    /// The rate limits the upstream's latest answers announced.
    limits_seen: LimitsSeen,
    /// Whether rate limits are kept per model.
    rate_limit_scope: RateLimitScope,
}

impl Endpoint {
    /// A new endpoint actor for `config`, in state `unknown` (or `disabled`).
    pub fn new(config: Arc<EndpointConfig>, policy: HealthPolicy, timeouts: Timeouts) -> Self {
        let mut health = EndpointHealth::new(policy, config.enabled, Instant::now());
        health.set_active_probe(config.probe != ProbeKind::Off);
        Endpoint {
            timeouts,
            health,
            probe_timer: None,
            probe_client: None,
            operator_disabled: false,
            on_durable_change: None,
            restarts: 0,
            budget: BudgetTracker::new(
                config.budget.unwrap_or_default(),
                std::time::SystemTime::now(),
            ),
            limits_seen: LimitsSeen::default(),
            rate_limit_scope: policy.rate_limit_scope,
            config,
        }
    }

    /// Where durable changes (auth failure, operator enable/disable) are reported.
    pub fn with_durable_state(
        mut self,
        recipient: Recipient<DurableStateChanged>,
        auth_failed: bool,
        operator_disabled: bool,
    ) -> Self {
        let now = Instant::now();
        if auth_failed {
            self.health.restore_auth_failed(now);
        }
        if operator_disabled {
            self.operator_disabled = true;
            self.health.disable(now);
        }
        self.on_durable_change = Some(recipient);
        self
    }

    fn report_durable(&self, before: (bool, bool)) {
        let after = (
            self.health.state() == State::AuthFailed,
            self.operator_disabled,
        );
        if before != after {
            if let Some(recipient) = &self.on_durable_change {
                recipient.do_send(DurableStateChanged {
                    id: self.config.id.clone(),
                    auth_failed: after.0,
                    operator_disabled: after.1,
                });
            }
        }
    }

    fn durable(&self) -> (bool, bool) {
        (
            self.health.state() == State::AuthFailed,
            self.operator_disabled,
        )
    }

    fn snapshot(&self) -> EndpointSnapshot {
        let mut snapshot = EndpointSnapshot::of(&self.config, &self.health, Instant::now());
        snapshot.actor_restarts = self.restarts;
        snapshot.rate_limits = self.limits_seen.snapshot(std::time::SystemTime::now());
        self.add_budget(&mut snapshot);
        snapshot
    }

    /// Records a failed attempt (a request's or a probe's, `context` saying which) and logs a
    /// change of state. The error arrives classified: nothing is judged again here.
    fn record_failure(
        &mut self,
        claim: Claim,
        error: &UpstreamError,
        model: Option<&str>,
        context: &str,
    ) {
        let durable = self.durable();
        let now = Instant::now();
        let cooled_before = self.health.model_cooling_until(model, now);
        let change = self.health.on_failure_for(
            claim,
            error.failure(),
            model,
            error.status(),
            format!("{context}{error}"),
            fastrand::f64(),
            now,
        );
        if let Some(until) = self.health.model_cooling_until(model, now) {
            if cooled_before != Some(until) {
                log::warn!(
                    "endpoint {}: {} rate-limited for {:.1}s; other models still use it",
                    self.config.id,
                    model.unwrap_or_default(),
                    (until - now).as_secs_f64()
                );
            }
        }
        if let Some(Transition { from, to }) = change {
            let until = self
                .health
                .available_at(now)
                .map(|t| format!(" for {:.1}s", (t - now).as_secs_f64()))
                .unwrap_or_default();
            log::warn!(
                "endpoint {}: {from} -> {to}{until} ({})",
                self.config.id,
                self.health.last_error().unwrap_or("")
            );
        }
        self.report_durable(durable);
    }

    /// Records a good answer (a request's or a probe's) and logs a change of state.
    fn record_success(&mut self, claim: Claim, status: u16, latency: Duration) {
        let durable = self.durable();
        let change = self
            .health
            .on_success(claim, status, latency, Instant::now());
        if let Some(Transition { from, to }) = change {
            log::info!("endpoint {}: {from} -> {to}", self.config.id);
        }
        self.report_durable(durable);
    }

    /// Runs a handler's work. A panic in it is caught and logged, and the actor stops so that its
    /// supervisor restarts it with the state it had: one endpoint's bug never takes the gateway's
    /// worker down, nor makes the endpoint vanish from routing.
    fn guarded<R>(
        &mut self,
        ctx: &mut Context<Self>,
        what: &str,
        work: impl FnOnce(&mut Self, &mut Context<Self>) -> R,
    ) -> Option<R> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(self, ctx))) {
            Ok(result) => Some(result),
            Err(panic) => {
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".to_string());
                log::error!(
                    "endpoint {}: handling {what} panicked ({why}); restarting the actor with its last state",
                    self.config.id
                );
                ctx.stop();
                None
            }
        }
    }

    /// Keeps one timer for the next probe the health state asks for.
    fn schedule_probe(&mut self, ctx: &mut Context<Self>) {
        let next = self.health.next_probe_at();
        if let Some((at, handle)) = self.probe_timer {
            if Some(at) == next {
                return;
            }
            ctx.cancel_future(handle);
            self.probe_timer = None;
        }
        if let Some(at) = next {
            let delay = at.saturating_duration_since(Instant::now());
            let handle = ctx.run_later(delay, |act, ctx| {
                act.probe_timer = None;
                act.run_probe(ctx);
            });
            self.probe_timer = Some((at, handle));
        }
    }

    fn run_probe(&mut self, ctx: &mut Context<Self>) {
        let Some(claim) = self.health.claim_probe(Instant::now()) else {
            self.schedule_probe(ctx);
            return;
        };
        let kind = match self.config.probe {
            // An auth recheck without a configured probe asks for the model list: free of charge.
            ProbeKind::Off => ProbeKind::Models,
            kind => kind,
        };
        let client = self
            .probe_client
            .get_or_insert_with(|| {
                crate::upstream::build_client(&self.timeouts, crate::upstream::tls_config())
            })
            .clone();
        let config = self.config.clone();
        let timeouts = Timeouts {
            first_byte: self.timeouts.first_byte.min(Duration::from_secs(60)),
            ..self.timeouts
        };
        log::info!("endpoint {}: probing ({})", config.id, kind.as_str());
        let probe = async move { probe::send(&client, &config, kind, &timeouts).await };
        ctx.spawn(probe.into_actor(self).map(move |result, act, ctx| {
            match result {
                Ok(r) => match UpstreamError::from_status(r.status, r.retry_after, false) {
                    Some(error) => act.record_failure(claim, &error, None, "probe: "),
                    None => match r.not_an_answer {
                        // A relay's 200 with an error body must not bring the endpoint back.
                        Some(reason) => {
                            let error = UpstreamError::Transport(TransportError::Other(reason));
                            act.record_failure(claim, &error, None, "probe: ")
                        }
                        None => act.record_success(claim, r.status, r.latency),
                    },
                },
                Err(e) => act.record_failure(claim, &UpstreamError::Transport(e), None, "probe: "),
            }
            act.schedule_probe(ctx);
        }));
    }
}

impl Actor for Endpoint {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Every request asks once; a small mailbox would make busy requests wait for each other.
        ctx.set_mailbox_capacity(4096);
        self.probe_timer = None;
        self.schedule_probe(ctx);
    }
}

impl actix::Supervised for Endpoint {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        self.restarts += 1;
        log::warn!(
            "endpoint {}: actor restarted; its health state is kept",
            self.config.id
        );
    }
}

/// Asks whether the endpoint can take a request now. With `claim`, a yes also admits the request
/// (counts it in flight and, after a timed state, makes it the single probe), so the answer cannot go
/// stale between the question and the dispatch.
#[derive(Message, Debug, Clone)]
#[rtype(result = "HealthAnswer")]
pub struct IsHealthy {
    pub claim: bool,
    /// The client's model, when the request names one: a model cooling down here is refused.
    pub model: Option<Arc<str>>,
}

/// Admits a request although the endpoint is out for a known time: used only when no endpoint is
/// selectable ("panic routing"). Never admits an auth-failed or disabled endpoint.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "HealthAnswer")]
pub struct ClaimInPanic;

/// The endpoint's answer to `IsHealthy`.
#[derive(Debug, Clone, Copy)]
pub struct HealthAnswer {
    /// Set when the request was admitted.
    pub claim: Option<Claim>,
    pub selectable: bool,
    pub state: State,
    pub available_at: Option<Instant>,
    pub in_flight: u32,
    /// The peak-EWMA time to first byte; `None` before the first answer.
    pub latency: Option<Duration>,
    /// When the endpoint can take this request's model again, if it is out for a rate limit or
    /// quota whose end the upstream gave.
    pub rate_limited_until: Option<Instant>,
}

/// The upstream answered without the endpoint being at fault.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct RequestSucceeded {
    pub claim: Claim,
    pub status: u16,
    /// Time to the response head.
    pub latency: Duration,
    /// The model sent upstream.
    pub model: Option<Arc<str>>,
    /// The answer's rate-limit headers said a budget is used up for this long.
    pub budget_used_up: Option<Duration>,
    /// What the answer's rate-limit headers said, if it had any.
    pub limits: Option<crate::upstream::ratelimit::RateLimits>,
    /// What the answer cost, for the endpoint's budget.
    pub spent: Option<crate::usage::Spent>,
}

/// The attempt failed, for the reason the request path found (classified there, not here).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct RequestFailed {
    pub claim: Claim,
    pub error: UpstreamError,
    /// The model sent upstream: with `rate_limit_scope: model`, a 429 cools this model only.
    pub model: Option<Arc<str>>,
    /// What the answer cost before it failed (a stream cut after content), for the budget.
    pub spent: Option<crate::usage::Spent>,
}

/// The request ended with no verdict on the endpoint (the client went away).
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct RequestAbandoned {
    pub claim: Claim,
}

/// Reads the endpoint's status.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "EndpointSnapshot")]
pub struct Snapshot;

/// Operator: take the endpoint back into service (an auth-failed one gets one chance).
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "EndpointSnapshot")]
pub struct Enable;

/// Operator: take the endpoint out of service.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "EndpointSnapshot")]
pub struct Disable;

/// Operator: clear counters, timed states and `auth_failed`.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "EndpointSnapshot")]
pub struct Reset;

/// A reloaded config for this same endpoint id (weight, models, policy…); health stays.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct Reconfigure {
    pub config: Arc<EndpointConfig>,
    pub policy: HealthPolicy,
    pub timeouts: Timeouts,
}

impl Handler<IsHealthy> for Endpoint {
    type Result = MessageResult<IsHealthy>;

    fn handle(&mut self, msg: IsHealthy, ctx: &mut Self::Context) -> Self::Result {
        let work = self.guarded(ctx, "IsHealthy", move |act, _ctx| {
            let now = Instant::now();
            if let Some(out) = act.budget_answer(now) {
                return MessageResult(out);
            }
            let Endpoint { config, health, .. } = act;
            let model = msg
                .model
                .as_deref()
                .map(|m| config.upstream_model(m).unwrap_or(m));
            let claim = if msg.claim {
                health.claim(model, now)
            } else {
                None
            };
            MessageResult(answer(health, claim, model, now))
        });
        work.unwrap_or_else(|| MessageResult(answer(&self.health, None, None, Instant::now())))
    }
}

impl Handler<ClaimInPanic> for Endpoint {
    type Result = MessageResult<ClaimInPanic>;

    fn handle(&mut self, _msg: ClaimInPanic, ctx: &mut Self::Context) -> Self::Result {
        let work = self.guarded(ctx, "ClaimInPanic", move |act, _ctx| {
            let now = Instant::now();
            // Panic routing never spends money the operator has not allowed.
            if let Some(out) = act.budget_answer(now) {
                return MessageResult(out);
            }
            let claim = act.health.claim_in_panic();
            if claim.is_some() {
                log::warn!(
                    "endpoint {}: no endpoint is selectable; trying this {} one anyway (panic routing)",
                    act.config.id,
                    act.health.state().as_str()
                );
            }
            MessageResult(answer(&act.health, claim, None, now))
        });
        work.unwrap_or_else(|| MessageResult(answer(&self.health, None, None, Instant::now())))
    }
}

fn answer(
    health: &EndpointHealth,
    claim: Option<Claim>,
    model: Option<&str>,
    now: Instant,
) -> HealthAnswer {
    HealthAnswer {
        claim,
        selectable: health.is_selectable_for(model, now),
        rate_limited_until: health.rate_limited_until(model, now),
        state: health.state(),
        available_at: health.available_at(now),
        in_flight: health.in_flight(),
        latency: health.latency_estimate(now),
    }
}

impl Handler<RequestSucceeded> for Endpoint {
    type Result = ();

    fn handle(&mut self, msg: RequestSucceeded, ctx: &mut Self::Context) {
        let work = self.guarded(ctx, "RequestSucceeded", move |act, ctx| {
            act.record_success(msg.claim, msg.status, msg.latency);
            if let Some(spent) = msg.spent {
                act.charge(spent);
            }
            if let Some(limits) = msg.limits {
                let by_model = act.rate_limit_scope == RateLimitScope::Model;
                act.limits_seen.record(
                    msg.model.as_deref(),
                    by_model,
                    limits,
                    std::time::SystemTime::now(),
                );
            }
            if let Some(wait) = msg.budget_used_up {
                log::warn!(
                    "endpoint {}: the upstream says its budget{} is used up; resting it for {:.1}s before a 429",
                    act.config.id,
                    msg.model.as_deref().map(|m| format!(" for {m}")).unwrap_or_default(),
                    wait.as_secs_f64()
                );
                act.health
                    .on_budget_used_up(msg.model.as_deref(), wait, Instant::now());
            }
            act.schedule_probe(ctx);
        });
        let _ = work;
    }
}

impl Handler<RequestFailed> for Endpoint {
    type Result = ();

    fn handle(&mut self, msg: RequestFailed, ctx: &mut Self::Context) {
        let work = self.guarded(ctx, "RequestFailed", move |act, ctx| {
            act.record_failure(msg.claim, &msg.error, msg.model.as_deref(), "");
            if let Some(spent) = msg.spent {
                act.charge(spent);
            }
            act.schedule_probe(ctx);
        });
        let _ = work;
    }
}

impl Handler<RequestAbandoned> for Endpoint {
    type Result = ();

    fn handle(&mut self, msg: RequestAbandoned, ctx: &mut Self::Context) {
        let work = self.guarded(ctx, "RequestAbandoned", move |act, ctx| {
            act.health.on_abandoned(msg.claim, Instant::now());
            act.schedule_probe(ctx);
        });
        let _ = work;
    }
}

impl Handler<Snapshot> for Endpoint {
    type Result = MessageResult<Snapshot>;

    fn handle(&mut self, _msg: Snapshot, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.snapshot())
    }
}

impl Handler<Enable> for Endpoint {
    type Result = MessageResult<Enable>;

    fn handle(&mut self, _msg: Enable, ctx: &mut Self::Context) -> Self::Result {
        let work = self.guarded(ctx, "Enable", move |act, ctx| {
            let durable = act.durable();
            act.operator_disabled = false;
            act.health.enable(Instant::now());
            log::info!("endpoint {}: enabled by operator", act.config.id);
            act.report_durable(durable);
            act.schedule_probe(ctx);
            MessageResult(act.snapshot())
        });
        work.unwrap_or_else(|| MessageResult(self.snapshot()))
    }
}

impl Handler<Disable> for Endpoint {
    type Result = MessageResult<Disable>;

    fn handle(&mut self, _msg: Disable, ctx: &mut Self::Context) -> Self::Result {
        let work = self.guarded(ctx, "Disable", move |act, ctx| {
            let durable = act.durable();
            act.operator_disabled = true;
            act.health.disable(Instant::now());
            log::info!("endpoint {}: disabled by operator", act.config.id);
            act.report_durable(durable);
            act.schedule_probe(ctx);
            MessageResult(act.snapshot())
        });
        work.unwrap_or_else(|| MessageResult(self.snapshot()))
    }
}

impl Handler<Reset> for Endpoint {
    type Result = MessageResult<Reset>;

    fn handle(&mut self, _msg: Reset, ctx: &mut Self::Context) -> Self::Result {
        let work = self.guarded(ctx, "Reset", move |act, ctx| {
            let durable = act.durable();
            act.health.reset(Instant::now());
            act.limits_seen.clear();
            log::info!("endpoint {}: reset by operator", act.config.id);
            act.report_durable(durable);
            act.schedule_probe(ctx);
            MessageResult(act.snapshot())
        });
        work.unwrap_or_else(|| MessageResult(self.snapshot()))
    }
}

impl Handler<Reconfigure> for Endpoint {
    type Result = ();

    fn handle(&mut self, msg: Reconfigure, ctx: &mut Self::Context) {
        let work = self.guarded(ctx, "Reconfigure", move |act, ctx| {
            let now = Instant::now();
            if msg.config.enabled != act.config.enabled && !act.operator_disabled {
                if msg.config.enabled {
                    act.health.enable(now);
                } else {
                    act.health.disable(now);
                }
            }
            if msg.policy.rate_limit_scope != act.rate_limit_scope {
                // Limits kept per model no longer answer for the endpoint, nor the other way.
                act.limits_seen.clear();
                act.rate_limit_scope = msg.policy.rate_limit_scope;
            }
            act.health.set_policy(msg.policy);
            act.health
                .set_active_probe(msg.config.probe != ProbeKind::Off);
            if msg.timeouts != act.timeouts {
                // The probe client carries the old connect timeout: the next probe builds a new one.
                act.probe_client = None;
            }
            act.timeouts = msg.timeouts;
            act.set_budget(msg.config.budget.unwrap_or_default());
            act.config = msg.config;
            act.schedule_probe(ctx);
        });
        let _ = work;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    /// Stops the actor, as a crash of its task would.
    #[derive(Message)]
    #[rtype(result = "()")]
    struct StopForTest;

    impl Handler<StopForTest> for Endpoint {
        type Result = ();
        fn handle(&mut self, _msg: StopForTest, ctx: &mut Self::Context) {
            ctx.stop();
        }
    }

    /// Panics inside a handler, as a bug in the health code would.
    #[derive(Message)]
    #[rtype(result = "()")]
    struct PanicForTest;

    impl Handler<PanicForTest> for Endpoint {
        type Result = ();
        fn handle(&mut self, _msg: PanicForTest, ctx: &mut Self::Context) {
            let _ = self.guarded(ctx, "PanicForTest", |_, _| -> () {
                panic!("a bug in a handler")
            });
        }
    }

    #[actix_rt::test]
    async fn a_panicking_handler_restarts_the_actor_with_its_state_and_the_thread_lives_on() {
        let config = endpoint_config();
        let addr = actix::Supervisor::start(move |_| {
            Endpoint::new(config, HealthPolicy::default(), timeouts())
        });
        let claim = addr
            .send(IsHealthy {
                claim: true,
                model: None,
            })
            .await
            .unwrap()
            .claim
            .unwrap();
        addr.send(RequestFailed {
            claim,
            error: UpstreamError::from_status(401, None, false).unwrap(),
            model: None,
            spent: None,
        })
        .await
        .unwrap();
        addr.send(PanicForTest).await.unwrap();
        // This test runs on the actor's own thread: reaching here means the panic did not unwind it.
        let snapshot = addr.send(Snapshot).await.expect("the actor answers again");
        assert_eq!(snapshot.actor_restarts, 1, "the supervisor restarted it");
        assert_eq!(
            snapshot.state,
            State::AuthFailed,
            "an auth_failed endpoint stays auth_failed"
        );
        addr.send(PanicForTest).await.unwrap();
        let snapshot = addr.send(Snapshot).await.unwrap();
        assert_eq!(snapshot.actor_restarts, 2);
    }

    fn endpoint_config() -> Arc<EndpointConfig> {
        let c = parse(
            "endpoints:\n  - id: e\n    base_url: http://127.0.0.1:9\n    api_key: k\n",
            &|_| None,
        )
        .unwrap();
        Arc::new(c.endpoints[0].clone())
    }

    fn timeouts() -> Timeouts {
        Timeouts::default()
    }

    #[actix_rt::test]
    async fn a_stopped_endpoint_actor_is_restarted_at_the_same_address_with_its_state() {
        let config = endpoint_config();
        let addr = actix::Supervisor::start(move |_| {
            Endpoint::new(config, HealthPolicy::default(), timeouts())
        });
        let claim = addr
            .send(IsHealthy {
                claim: true,
                model: None,
            })
            .await
            .unwrap()
            .claim
            .unwrap();
        addr.send(RequestFailed {
            claim,
            error: UpstreamError::from_status(401, None, false).unwrap(),
            model: None,
            spent: None,
        })
        .await
        .unwrap();
        addr.send(StopForTest).await.unwrap();
        let snapshot = addr
            .send(Snapshot)
            .await
            .expect("the address still answers");
        assert_eq!(snapshot.actor_restarts, 1);
        assert_eq!(
            snapshot.state,
            State::AuthFailed,
            "health survives the restart"
        );
        let answer = addr
            .send(IsHealthy {
                claim: true,
                model: None,
            })
            .await
            .unwrap();
        assert!(answer.claim.is_none());
    }

    #[test]
    fn a_snapshot_after_a_cooldown_ended_says_selectable_in_the_machines_own_words() {
        let config = endpoint_config();
        let now = Instant::now();
        let mut health = EndpointHealth::new(HealthPolicy::default(), true, now);
        let claim = health.claim(None, now).unwrap();
        let retry_after = Some(Duration::from_secs(2));
        let change = health.on_failure(
            claim,
            crate::upstream::outcome::Failure::RateLimited { retry_after },
            Some(429),
            "HTTP 429".into(),
            0.5,
            now,
        );
        assert_eq!(
            change,
            Some(Transition {
                from: State::Unknown,
                to: State::CoolingDown
            })
        );
        let during = EndpointSnapshot::of(&config, &health, now + Duration::from_secs(1));
        assert_eq!(
            (during.state, during.selectable),
            (State::CoolingDown, false)
        );
        // The cooldown is over: still the word `cooling_down` until the next answer, but selectable.
        let after = EndpointSnapshot::of(&config, &health, now + Duration::from_secs(3));
        assert_eq!((after.state, after.selectable), (State::CoolingDown, true));
    }

    #[actix_rt::test]
    async fn the_answer_to_is_healthy_claims_only_when_asked_to() {
        let addr = Endpoint::new(endpoint_config(), HealthPolicy::default(), timeouts()).start();
        let look = addr
            .send(IsHealthy {
                claim: false,
                model: None,
            })
            .await
            .unwrap();
        assert!(look.selectable && look.claim.is_none() && look.in_flight == 0);
        let take = addr
            .send(IsHealthy {
                claim: true,
                model: None,
            })
            .await
            .unwrap();
        assert!(take.claim.is_some());
        assert_eq!(addr.send(Snapshot).await.unwrap().in_flight, 1);
        addr.send(RequestAbandoned {
            claim: take.claim.unwrap(),
        })
        .await
        .unwrap();
        assert_eq!(addr.send(Snapshot).await.unwrap().in_flight, 0);
    }
}
