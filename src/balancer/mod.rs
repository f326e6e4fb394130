//! The Balancer actor: orders the endpoints that may serve a request (strategy, model, sticky
//! session) and asks them `IsHealthy` in that order; the first that admits the request gets it.
//! It keeps no copy of any endpoint's health: it asks at the moment of choosing.

pub mod budget;
pub mod sessions;
pub mod strategy;

use crate::config::{BalancerSettings, EndpointConfig, SessionSettings, Strategy};
use crate::endpoint::health::{Claim, State};
use crate::endpoint::{
    ClaimInPanic, Endpoint, EndpointAddr, EndpointSnapshot, HealthAnswer, IsHealthy, Snapshot,
};
use actix::prelude::*;
use budget::RetryBudget;
use sessions::SessionTable;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use strategy::{Candidate, Load, SmoothRoundRobin};
use tokio::time::Instant;

/// One endpoint as the Balancer knows it: its config and its actor's address.
#[derive(Clone)]
pub struct Member {
    pub config: Arc<EndpointConfig>,
    pub addr: EndpointAddr,
}

impl Member {
    /// Whether this endpoint serves `model` (no `models` list: every model).
    pub fn serves(&self, model: &str) -> bool {
        self.config.serves(model)
    }
}

/// The Balancer actor.
pub struct Balancer {
    members: Vec<Member>,
    settings: BalancerSettings,
    round_robin: SmoothRoundRobin,
    budget: RetryBudget,
    sessions: SessionTable,
    sessions_enabled: bool,
    /// The one source of randomness of every strategy (a seeded one in tests).
    rng: fastrand::Rng,
}

impl Balancer {
    pub fn new(
        members: Vec<Member>,
        settings: BalancerSettings,
        sessions: SessionSettings,
    ) -> Self {
        Balancer {
            members,
            budget: RetryBudget::new(settings.retry_budget),
            settings,
            round_robin: SmoothRoundRobin::default(),
            sessions: SessionTable::new(sessions.ttl, sessions.max_entries),
            sessions_enabled: sessions.enabled,
            rng: fastrand::Rng::new(),
        }
    }

    /// The same Balancer drawing from `rng` (tests fix the seed).
    pub fn with_rng(mut self, rng: fastrand::Rng) -> Self {
        self.rng = rng;
        self
    }
}

impl Actor for Balancer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
    }
}

/// Asks for an endpoint for one attempt of a request.
#[derive(Message, Debug, Clone, Default)]
#[rtype(result = "Result<Selected, NoEndpoint>")]
pub struct SelectEndpoint {
    /// The request's model, when it names one.
    pub model: Option<Arc<str>>,
    /// Endpoints this request already tried.
    pub exclude: Vec<Arc<str>>,
    /// The sticky-session key, when the request carries one.
    pub session: Option<String>,
    /// This retry follows a transient failure (5xx, timeout, connection error) and so spends the
    /// retry budget. Retries after an endpoint took itself out (401/403, 402, 429) do not: they
    /// cannot pile more load on the endpoint that failed.
    pub budgeted: bool,
    /// Only endpoints whose upstream speaks this API (a path only one API has, such as
    /// `/v1/embeddings`); `None`: any endpoint.
    pub api: Option<crate::translate::Api>,
    /// This retry follows a rate limit for the request's model only: the session stays bound
    /// to its endpoint for the session's other models.
    pub keep_session: bool,
}

/// The endpoint chosen for an attempt; `claim` goes back with the outcome.
pub struct Selected {
    pub endpoint: Arc<EndpointConfig>,
    pub addr: EndpointAddr,
    pub claim: Claim,
}

/// Why no endpoint could be chosen for an attempt: a sentence a user can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NoEndpoint {
    /// Every endpoint that could serve is out (or already tried); `states` are their words.
    #[error("{}", describe_states(states))]
    NothingSelectable {
        states: Vec<State>,
        /// When the first endpoint that is out for a known time comes back.
        retry_after: Option<Duration>,
    },
    /// Every endpoint that could serve is rate-limited (or out of quota) with an end the upstream
    /// gave, or out for good: nothing may go upstream before `retry_after`.
    #[error("every endpoint that can serve this request is rate-limited by its upstream; the first comes back in {}s", retry_after.as_secs().max(1))]
    RateLimited { retry_after: Duration },
    /// No endpoint serves the requested model.
    #[error("no endpoint serves model `{model}`; served: {}", served_list(served))]
    UnknownModel { model: String, served: Vec<String> },
    /// The path belongs to one API and no endpoint that serves the model speaks it.
    #[error("no endpoint speaks the {0} API this path belongs to")]
    WrongApi(crate::translate::Api),
    /// Retries are over budget right now.
    #[error("retry budget exhausted: too many retries across recent requests")]
    RetryBudget,
    /// The Balancer actor did not answer.
    #[error("the balancer did not answer ({0})")]
    BalancerGone(String),
}

impl NoEndpoint {
    /// When an endpoint is known to come back.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            NoEndpoint::NothingSelectable { retry_after, .. } => *retry_after,
            NoEndpoint::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

fn served_list(served: &[String]) -> String {
    if served.is_empty() {
        "none".to_string()
    } else {
        served.join(", ")
    }
}

impl Handler<SelectEndpoint> for Balancer {
    type Result = ResponseActFuture<Self, Result<Selected, NoEndpoint>>;

    fn handle(&mut self, msg: SelectEndpoint, _ctx: &mut Self::Context) -> Self::Result {
        let now = Instant::now();
        let retry = !msg.exclude.is_empty();
        if retry {
            if msg.budgeted && !self.budget.try_retry(now) {
                return Box::pin(fut::ready(Err(NoEndpoint::RetryBudget)));
            }
        } else {
            self.budget.record_request(now);
        }

        // One pass: the endpoints that serve the model, of those the ones that speak the path's
        // API, of those the ones not tried yet.
        let (mut serves_model, mut speaks_api) = (false, false);
        let candidates: Vec<Candidate> = self
            .members
            .iter()
            .enumerate()
            .filter(|(_, m)| match msg.model.as_deref() {
                Some(model) => m.serves(model),
                None => true,
            })
            .inspect(|_| serves_model = true)
            .filter(|(_, m)| match msg.api {
                Some(api) => m.config.api == api,
                None => true,
            })
            .inspect(|_| speaks_api = true)
            .filter(|(_, m)| !msg.exclude.iter().any(|id| **id == *m.config.id))
            .map(|(index, m)| Candidate {
                index,
                priority: m.config.priority,
                weight: m.config.weight,
            })
            .collect();
        if !serves_model {
            let served = served_models(&self.members);
            let model = msg.model.as_deref().unwrap_or_default().to_string();
            return Box::pin(fut::ready(Err(NoEndpoint::UnknownModel { model, served })));
        }
        if let (Some(api), false) = (msg.api, speaks_api) {
            return Box::pin(fut::ready(Err(NoEndpoint::WrongApi(api))));
        }

        let rng = &mut self.rng;
        let mut random = || rng.f64();
        let strategy = self.settings.strategy;
        let mut order = match strategy {
            Strategy::Priority => strategy::priority_order(&candidates, &mut random),
            Strategy::Weighted => strategy::weighted_order(&candidates, &mut random),
            Strategy::RoundRobin => self.round_robin.order(&candidates),
            Strategy::LeastInflight | Strategy::Latency => {
                // Power of two choices: a random order; the search compares its first two.
                let mut shuffled: Vec<usize> = candidates.iter().map(|c| c.index).collect();
                strategy::shuffle(&mut shuffled, &mut random);
                shuffled
            }
        };
        let session = msg.session.filter(|_| self.sessions_enabled);
        let mut sticky = None;
        if let Some(key) = &session {
            if let Some(bound) = self.sessions.get(key, now) {
                if let Some(pos) = order
                    .iter()
                    .position(|&i| self.members[i].config.id == bound)
                {
                    sticky = Some(order.remove(pos));
                }
            }
        }
        let asks: Vec<Member> = order.iter().map(|&i| self.members[i].clone()).collect();
        let sticky = sticky.map(|i| self.members[i].clone());
        let allow_panic = !retry;
        let keep_session = msg.keep_session;
        let model = msg.model.clone();

        let search = async move {
            // A session moves off its endpoint only when the endpoint itself is out; when just
            // this request's model cools there, the binding stays for the session's other models.
            let mut keep_binding = keep_session;
            if let Some(member) = sticky {
                let answer = ask(&member, true, model.clone()).await;
                if let Some(claim) = answer.as_ref().and_then(|a| a.claim) {
                    return (Ok(selected(&member, claim)), false);
                }
                keep_binding = answer.is_some_and(|a| {
                    a.rate_limited_until.is_some()
                        && matches!(a.state, State::Healthy | State::Unknown)
                });
            }
            let mut asks = asks;
            if matches!(strategy, Strategy::LeastInflight | Strategy::Latency) && asks.len() >= 2 {
                let (first, second) = (
                    ask(&asks[0], false, model.clone()).await,
                    ask(&asks[1], false, model.clone()).await,
                );
                let (la, lb) = strategy::pair_latencies(
                    first.as_ref().and_then(|a| a.latency),
                    second.as_ref().and_then(|a| a.latency),
                );
                let cost =
                    |answer: Option<HealthAnswer>, latency: Duration, weight: f64| match answer {
                        None => f64::INFINITY,
                        Some(answer) => {
                            let load = Load {
                                in_flight: answer.in_flight,
                                latency,
                            };
                            if strategy == Strategy::Latency {
                                strategy::latency_cost(load, weight)
                            } else {
                                strategy::inflight_cost(load, weight)
                            }
                        }
                    };
                let costs = (
                    cost(first, la, asks[0].config.weight),
                    cost(second, lb, asks[1].config.weight),
                );
                strategy::cheaper_of_pair_first(&mut asks, costs);
            }
            // Filled only when an endpoint turns the request down (the usual first one takes it).
            let mut answers: Vec<(usize, HealthAnswer)> = Vec::new();
            for (i, member) in asks.iter().enumerate() {
                if let Some(answer) = ask(member, true, model.clone()).await {
                    if let Some(claim) = answer.claim {
                        return (Ok(selected(member, claim)), keep_binding);
                    }
                    answers.push((i, answer));
                }
            }
            let now = Instant::now();
            let only: Vec<HealthAnswer> = answers.iter().map(|(_, a)| *a).collect();
            if let Some(until) = rate_limited_until(&only) {
                // The upstreams said when: nothing goes to them before that (no panic routing).
                let retry_after = until.saturating_duration_since(now);
                return (Err(NoEndpoint::RateLimited { retry_after }), keep_binding);
            }
            // Panic routing only to an endpoint that is out on the gateway's own judgement.
            let soonest_ejected = answers
                .iter()
                .filter(|(_, a)| a.state == State::Ejected)
                .filter_map(|(i, a)| a.available_at.map(|t| (t, *i)))
                .min();
            if allow_panic {
                if let Some((_, i)) = soonest_ejected {
                    let member = &asks[i];
                    if let Ok(answer) = member.addr.send(ClaimInPanic).await {
                        if let Some(claim) = answer.claim {
                            return (Ok(selected(member, claim)), keep_binding);
                        }
                    }
                }
            }
            let soonest = answers.iter().filter_map(|(_, a)| a.available_at).min();
            let error = NoEndpoint::NothingSelectable {
                states: answers.iter().map(|(_, a)| a.state).collect(),
                retry_after: soonest.map(|t| t.saturating_duration_since(now)),
            };
            (Err(error), keep_binding)
        };

        Box::pin(
            search
                .into_actor(self)
                .map(move |(result, keep_binding), act, _ctx| {
                    if let Some(key) = &session {
                        match &result {
                            Ok(_) if keep_binding => {}
                            Ok(chosen) => {
                                act.sessions.bind(key, &chosen.endpoint.id, Instant::now())
                            }
                            Err(_) if keep_binding => {}
                            Err(_) => {
                                if let Some(bound) =
                                    act.sessions.get(key, Instant::now()).map(str::to_string)
                                {
                                    act.sessions.unbind_endpoint(&bound);
                                }
                            }
                        }
                    }
                    result
                }),
        )
    }
}

async fn ask(member: &Member, claim: bool, model: Option<Arc<str>>) -> Option<HealthAnswer> {
    match member.addr.send(IsHealthy { claim, model }).await {
        Ok(answer) => Some(answer),
        Err(e) => {
            // A supervised actor restarts; one that does not answer is skipped, but never silently.
            log::error!(
                "endpoint {}: its actor did not answer ({e}); skipped for this request",
                member.config.id
            );
            None
        }
    }
}

/// When nothing could be claimed: the time the first endpoint comes back, if every endpoint that
/// answered is either rate-limited with a known end or out for good (`auth_failed`, disabled) and
/// at least one is rate-limited. Then nothing may go upstream before that time.
pub fn rate_limited_until(answers: &[HealthAnswer]) -> Option<Instant> {
    let mut soonest: Option<Instant> = None;
    for answer in answers {
        match answer.rate_limited_until {
            Some(until) => soonest = Some(soonest.map_or(until, |s| s.min(until))),
            None if matches!(answer.state, State::AuthFailed | State::Disabled) => {}
            None => return None,
        }
    }
    soonest
}

fn selected(member: &Member, claim: Claim) -> Selected {
    Selected {
        endpoint: member.config.clone(),
        addr: member.addr.clone(),
        claim,
    }
}

fn served_models(members: &[Member]) -> Vec<String> {
    let mut served: Vec<String> = members
        .iter()
        .flat_map(|m| m.config.models.iter().cloned())
        .collect();
    served.sort();
    served.dedup();
    served
}

/// "3 endpoints: 2 auth_failed, 1 disabled".
pub fn describe_states(states: &[State]) -> String {
    if states.is_empty() {
        return "no endpoint left to try".to_string();
    }
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for state in states {
        *counts.entry(state.as_str()).or_default() += 1;
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(state, n)| format!("{n} {state}"))
        .collect();
    let noun = if states.len() == 1 {
        "endpoint"
    } else {
        "endpoints"
    };
    format!("{} {noun}: {}", states.len(), parts.join(", "))
}

/// Reads every endpoint's status, in config order.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Vec<EndpointSnapshot>")]
pub struct StatusOfAll;

impl Handler<StatusOfAll> for Balancer {
    type Result = ResponseFuture<Vec<EndpointSnapshot>>;

    fn handle(&mut self, _msg: StatusOfAll, _ctx: &mut Self::Context) -> Self::Result {
        let addrs: Vec<EndpointAddr> = self.members.iter().map(|m| m.addr.clone()).collect();
        Box::pin(async move {
            let mut out = Vec::with_capacity(addrs.len());
            for addr in addrs {
                if let Ok(snapshot) = addr.send(Snapshot).await {
                    out.push(snapshot);
                }
            }
            out
        })
    }
}

/// Finds an endpoint's actor by id.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Option<Addr<Endpoint>>")]
pub struct FindEndpoint {
    pub id: String,
}

impl Handler<FindEndpoint> for Balancer {
    type Result = Option<Addr<Endpoint>>;

    fn handle(&mut self, msg: FindEndpoint, _ctx: &mut Self::Context) -> Self::Result {
        self.members
            .iter()
            .find(|m| m.config.id == msg.id)
            .map(|m| Addr::clone(&m.addr))
    }
}

/// Replaces the members and settings (a reloaded config). Requests already routed are unaffected.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetMembers {
    pub members: Vec<Member>,
    pub settings: BalancerSettings,
    pub sessions: SessionSettings,
}

impl Handler<SetMembers> for Balancer {
    type Result = ();

    fn handle(&mut self, msg: SetMembers, _ctx: &mut Self::Context) {
        let kept: Vec<String> = msg.members.iter().map(|m| m.config.id.clone()).collect();
        for gone in self.members.iter().filter(|m| !kept.contains(&m.config.id)) {
            self.sessions.unbind_endpoint(&gone.config.id);
        }
        if msg.settings.strategy != self.settings.strategy
            || msg.members.len() != self.members.len()
        {
            self.round_robin = SmoothRoundRobin::default();
        }
        self.members = msg.members;
        self.budget.set_settings(msg.settings.retry_budget);
        self.settings = msg.settings;
        self.sessions
            .set_limits(msg.sessions.ttl, msg.sessions.max_entries);
        self.sessions_enabled = msg.sessions.enabled;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(state: State, rate_limited_until: Option<Instant>) -> HealthAnswer {
        HealthAnswer {
            claim: None,
            selectable: false,
            state,
            available_at: rate_limited_until,
            in_flight: 0,
            latency: None,
            rate_limited_until,
        }
    }

    #[test]
    fn nothing_goes_upstream_when_every_endpoint_is_rate_limited_or_out_for_good() {
        let now = Instant::now();
        let s = Duration::from_secs(1);
        let answers = [
            answer(State::CoolingDown, Some(now + 9 * s)),
            answer(State::Healthy, Some(now + 4 * s)),
            answer(State::AuthFailed, None),
            answer(State::Disabled, None),
        ];
        assert_eq!(rate_limited_until(&answers), Some(now + 4 * s));
        // An ejected (the gateway's own guess) or probing endpoint leaves room for panic routing.
        let mut mixed = answers.to_vec();
        mixed.push(answer(State::Ejected, None));
        assert_eq!(rate_limited_until(&mixed), None);
        assert_eq!(
            rate_limited_until(&answers[2..]),
            None,
            "nothing rate-limited"
        );
        assert_eq!(rate_limited_until(&[]), None);
    }

    #[test]
    fn states_are_summed_up_for_the_no_endpoint_message() {
        assert_eq!(
            describe_states(&[State::AuthFailed, State::Disabled, State::AuthFailed]),
            "3 endpoints: 2 auth_failed, 1 disabled"
        );
        assert_eq!(describe_states(&[State::Ejected]), "1 endpoint: 1 ejected");
        assert_eq!(describe_states(&[]), "no endpoint left to try");
    }

    #[test]
    fn no_endpoint_says_why_in_a_sentence_and_keeps_its_retry_time() {
        let out = NoEndpoint::NothingSelectable {
            states: vec![State::CoolingDown, State::Disabled],
            retry_after: Some(Duration::from_secs(9)),
        };
        assert_eq!(out.to_string(), "2 endpoints: 1 cooling_down, 1 disabled");
        assert_eq!(out.retry_after(), Some(Duration::from_secs(9)));
        let unknown = NoEndpoint::UnknownModel {
            model: "gpt-9".into(),
            served: vec![],
        };
        assert_eq!(
            unknown.to_string(),
            "no endpoint serves model `gpt-9`; served: none"
        );
        assert_eq!(unknown.retry_after(), None);
    }
}
