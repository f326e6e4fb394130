//! The Balancer actor: orders the endpoints that may serve a request (strategy, model, sticky
//! session) and asks them `IsHealthy` in that order; the first that admits the request gets it.
//! It keeps no copy of any endpoint's health: it asks at the moment of choosing.

pub mod budget;
pub mod plan;
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
use strategy::{Load, SmoothRoundRobin};
use tokio::time::Instant;

/// One endpoint as the Balancer knows it: its config and its actor's address.
#[derive(Clone)]
pub struct Member {
    pub config: Arc<EndpointConfig>,
    pub addr: EndpointAddr,
}

impl AsRef<EndpointConfig> for Member {
    fn as_ref(&self) -> &EndpointConfig {
        &self.config
    }
}

impl Member {
    /// Whether this endpoint serves `model` (no `models` list: every model).
    pub fn serves(&self, model: &str) -> bool {
        self.config.serves(model)
    }
}

/// The Balancer actor.
pub struct Balancer {
    /// Shared with the searches under way, which ask them in their plan's order.
    members: Arc<[Member]>,
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
            members: members.into(),
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
    pub session: Option<sessions::SessionKey>,
    /// This retry follows a transient failure (5xx, timeout, connection error) and so spends the
    /// retry budget. Retries after an endpoint took itself out (401/403, 402, 429) do not: they
    /// cannot pile more load on the endpoint that failed.
    pub budgeted: bool,
    /// Only endpoints whose upstream speaks this API (a path only one API has, such as
    /// `/v1/embeddings`); `None`: any endpoint.
    pub api: Option<crate::translate::Api>,
    /// Endpoints whose upstream speaks this API first (`count_tokens` is Anthropic's: an
    /// endpoint that counts exactly before one the gateway can only estimate for).
    pub prefer: Option<crate::translate::Api>,
    /// This retry follows a rate limit for the request's model only: the session stays bound
    /// to its endpoint for the session's other models.
    pub keep_session: bool,
}

/// The endpoint chosen for an attempt; `claim` goes back with the outcome.
pub struct Selected {
    pub endpoint: Arc<EndpointConfig>,
    pub addr: EndpointAddr,
    pub claim: Claim,
    /// The request's session was bound to this other endpoint, and moved (that one was out or
    /// failed the request).
    pub session_moved_from: Option<String>,
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
    type Result = Selection;

    fn handle(&mut self, msg: SelectEndpoint, _ctx: &mut Self::Context) -> Self::Result {
        let now = Instant::now();
        let retry = !msg.exclude.is_empty();
        if retry {
            if msg.budgeted && !self.budget.try_retry(now) {
                return Selection::Decided(Err(NoEndpoint::RetryBudget));
            }
        } else {
            self.budget.record_request(now);
        }
        let session = msg.session.filter(|_| self.sessions_enabled);
        let bound = session
            .as_ref()
            .and_then(|key| self.sessions.get(key.as_str(), now))
            .unwrap_or_default();
        let wanted = plan::Wanted {
            model: msg.model.as_deref(),
            api: msg.api,
            prefer: msg.prefer,
            exclude: &msg.exclude,
            bound,
        };
        let strategy = self.settings.strategy;
        let plan = match plan::plan(
            &self.members,
            wanted,
            strategy,
            &mut self.rng,
            &mut self.round_robin,
        ) {
            Ok(plan) => plan,
            Err(no) => return Selection::Decided(Err(no)),
        };
        let session_endpoint = plan
            .session_endpoint
            .map(|i| self.members[i].config.id.clone());
        let search = Search {
            members: self.members.clone(),
            sticky: plan.sticky,
            asks: plan.order,
            by_load: plan.by_load.then_some(strategy),
            model: msg.model,
            allow_panic: !retry,
            keep_session: msg.keep_session,
        };
        Selection::Searching {
            search,
            session,
            session_endpoint,
        }
    }
}

/// The Balancer's answer to [`SelectEndpoint`]: decided at once, or a search of the planned
/// endpoints, after which the session's binding is brought up to date. A search runs on the
/// Balancer's context as the one future it spawns (`ResponseActFuture` would box it twice).
pub enum Selection {
    Decided(Result<Selected, NoEndpoint>),
    Searching {
        search: Search,
        session: Option<sessions::SessionKey>,
        session_endpoint: Option<String>,
    },
}

impl actix::dev::MessageResponse<Balancer, SelectEndpoint> for Selection {
    fn handle(
        self,
        ctx: &mut Context<Balancer>,
        tx: Option<actix::dev::OneshotSender<Result<Selected, NoEndpoint>>>,
    ) {
        let send = move |result| {
            if let Some(tx) = tx {
                // The asking request is gone: nothing to tell.
                let _ = tx.send(result);
            }
        };
        match self {
            Selection::Decided(result) => send(result),
            Selection::Searching {
                search,
                session,
                session_endpoint,
            } => {
                ctx.spawn(fut::wrap_future::<_, Balancer>(search.run()).map(
                    move |(mut result, keep_binding), act: &mut Balancer, _ctx| {
                        if let Some(key) = &session {
                            let moved = act.after_search(
                                key.as_str(),
                                &result,
                                keep_binding,
                                session_endpoint.as_deref(),
                            );
                            if let Ok(chosen) = &mut result {
                                chosen.session_moved_from = moved;
                            }
                        }
                        send(result)
                    },
                ));
            }
        }
    }
}

impl Balancer {
    /// Binds the session to the endpoint chosen in place of `own` (the session's endpoint for
    /// this request, if it has one), or unbinds that one when nothing could serve; a binding that
    /// must stay (the endpoint only cools for this model) is left as it is. Answers the endpoint
    /// the session moved off, if it moved.
    fn after_search(
        &mut self,
        key: &str,
        result: &Result<Selected, NoEndpoint>,
        keep: bool,
        own: Option<&str>,
    ) -> Option<String> {
        let now = Instant::now();
        match (result, own) {
            _ if keep => None,
            (Ok(chosen), _) => self.sessions.bind(key, &chosen.endpoint.id, own, now),
            (Err(_), Some(own)) => {
                self.sessions.unbind(key, own);
                None
            }
            (Err(_), None) => None,
        }
    }
}

/// One attempt's search: the planned endpoints, asked in order until one takes the request.
pub struct Search {
    members: Arc<[Member]>,
    /// The session's endpoint, asked first (an index into `members`).
    sticky: Option<usize>,
    /// The others, in the plan's order (indices into `members`).
    asks: Vec<usize>,
    /// Power of two choices by this strategy's cost, over the first two that can serve.
    by_load: Option<Strategy>,
    model: Option<Arc<str>>,
    allow_panic: bool,
    keep_session: bool,
}

impl Search {
    /// The endpoint that took the request, or why none did; and whether the session's binding
    /// stays as it is.
    async fn run(mut self) -> (Result<Selected, NoEndpoint>, bool) {
        // A session moves off its endpoint only when the endpoint itself is out; when just this
        // request's model cools there, the binding stays for the session's other models.
        let mut keep_binding = self.keep_session;
        // The session's endpoint, when it turned the request down: it has its say in why nothing
        // could serve (a rate limit of its own is one).
        let mut refused_sticky: Option<(usize, HealthAnswer)> = None;
        if let Some(sticky) = self.sticky.take() {
            let member = &self.members[sticky];
            let answer = ask(member, true, self.model.clone()).await;
            if let Some(claim) = answer.as_ref().and_then(|a| a.claim) {
                return (Ok(selected(member, claim)), false);
            }
            keep_binding = answer.is_some_and(|a| {
                a.rate_limited_until.is_some() && matches!(a.state, State::Healthy | State::Unknown)
            });
            refused_sticky = answer.map(|a| (sticky, a));
        }
        if let Some(strategy) = self.by_load {
            self.weigh_first_pair(strategy).await;
        }
        // Filled only when an endpoint turns the request down (the usual first one takes it).
        let mut answers: Vec<(&Member, HealthAnswer)> = Vec::new();
        if let Some((sticky, answer)) = refused_sticky {
            answers.push((&self.members[sticky], answer));
        }
        for member in self.asks.iter().map(|&i| &self.members[i]) {
            if let Some(answer) = ask(member, true, self.model.clone()).await {
                if let Some(claim) = answer.claim {
                    return (Ok(selected(member, claim)), keep_binding);
                }
                answers.push((member, answer));
            }
        }
        (self.nothing_claimed(&answers).await, keep_binding)
    }

    /// Power of two choices among the endpoints that can serve: the first two of the random
    /// order that answer selectable are weighed by load and the cheaper goes first. Endpoints
    /// that are out are passed over (and stay behind), so they never make up half a pair.
    async fn weigh_first_pair(&mut self, strategy: Strategy) {
        let mut pair: Vec<(usize, HealthAnswer)> = Vec::with_capacity(2);
        for (i, member) in self.asks.iter().map(|&m| &self.members[m]).enumerate() {
            if let Some(answer) = ask(member, false, self.model.clone()).await {
                if answer.selectable {
                    pair.push((i, answer));
                    if pair.len() == 2 {
                        break;
                    }
                }
            }
        }
        // The pair moves to the front, in draw order; the rest keep theirs.
        for (slot, &(i, _)) in pair.iter().enumerate() {
            let member = self.asks.remove(i);
            self.asks.insert(slot, member);
        }
        if let [(_, a), (_, b)] = pair[..] {
            let (la, lb) = strategy::pair_latencies(a.latency, b.latency);
            let cost = |answer: HealthAnswer, latency: Duration, weight: f64| {
                let load = Load {
                    in_flight: answer.in_flight,
                    latency,
                };
                if strategy == Strategy::Latency {
                    strategy::latency_cost(load, weight)
                } else {
                    strategy::inflight_cost(load, weight)
                }
            };
            let costs = (
                cost(a, la, self.members[self.asks[0]].config.weight),
                cost(b, lb, self.members[self.asks[1]].config.weight),
            );
            strategy::cheaper_of_pair_first(&mut self.asks, costs);
        }
    }

    /// No endpoint took the request: a rate limit every endpoint shares, panic routing to the
    /// soonest-back ejected one (first attempts only), or the states that kept them out.
    async fn nothing_claimed(
        &self,
        answers: &[(&Member, HealthAnswer)],
    ) -> Result<Selected, NoEndpoint> {
        let now = Instant::now();
        let only: Vec<HealthAnswer> = answers.iter().map(|(_, a)| *a).collect();
        if let Some(until) = rate_limited_until(&only) {
            // The upstreams said when: nothing goes to them before that (no panic routing).
            return Err(NoEndpoint::RateLimited {
                retry_after: until.saturating_duration_since(now),
            });
        }
        // Panic routing only to an endpoint that is out on the gateway's own judgement.
        let soonest_ejected = answers
            .iter()
            .filter(|(_, a)| a.state == State::Ejected)
            .filter_map(|(member, a)| a.available_at.map(|t| (t, *member)))
            .min_by_key(|(t, _)| *t);
        if let (true, Some((_, member))) = (self.allow_panic, soonest_ejected) {
            if let Ok(answer) = member.addr.send(ClaimInPanic).await {
                if let Some(claim) = answer.claim {
                    return Ok(selected(member, claim));
                }
            }
        }
        let soonest = answers.iter().filter_map(|(_, a)| a.available_at).min();
        Err(NoEndpoint::NothingSelectable {
            states: answers.iter().map(|(_, a)| a.state).collect(),
            retry_after: soonest.map(|t| t.saturating_duration_since(now)),
        })
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
        session_moved_from: None,
    }
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

/// Reads the sticky sessions' figures.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "sessions::SessionStats")]
pub struct SessionsOfAll;

impl Handler<SessionsOfAll> for Balancer {
    type Result = MessageResult<SessionsOfAll>;

    fn handle(&mut self, _msg: SessionsOfAll, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.sessions.stats(self.sessions_enabled, Instant::now()))
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
        self.members = msg.members.into();
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
    use crate::endpoint::{Disable, RequestAbandoned, RequestFailed};
    use crate::upstream::outcome::UpstreamError;

    /// A Balancer over endpoint actors made from `yaml` (a whole config), and the actors.
    fn balancer_of(yaml: &str) -> (Addr<Balancer>, Vec<Member>) {
        let config = crate::config::parse(yaml, &|_| None).expect("config");
        let members: Vec<Member> = config
            .endpoints
            .iter()
            .map(|e| {
                let endpoint = Arc::new(e.clone());
                let actor = Endpoint::new(endpoint.clone(), config.health, config.timeouts);
                Member {
                    config: endpoint,
                    addr: Arc::new(actor.start()),
                }
            })
            .collect();
        let balancer = Balancer::new(members.clone(), config.balancer.clone(), config.sessions)
            .with_rng(fastrand::Rng::with_seed(3))
            .start();
        (balancer, members)
    }

    async fn choose(balancer: &Addr<Balancer>) -> Result<Selected, NoEndpoint> {
        balancer
            .send(SelectEndpoint::default())
            .await
            .expect("the balancer answers")
    }

    #[actix_rt::test]
    async fn a_rate_limited_endpoint_gets_nothing_until_its_upstreams_time_and_then_comes_back() {
        // The clock is paused: the 30 s cooldown passes in no time.
        tokio::time::pause();
        let (balancer, _members) = balancer_of(
            "endpoints:\n  - {id: a, base_url: 'http://127.0.0.1:9', api_key: k, priority: 1}\n\
             \x20 - {id: b, base_url: 'http://127.0.0.1:9', api_key: k, priority: 2}\n",
        );
        let mut limited = Vec::new();
        for id in ["a", "b"] {
            let chosen = choose(&balancer).await.expect("an endpoint");
            assert_eq!(chosen.endpoint.id, id);
            let error = UpstreamError::from_status(429, Some(Duration::from_secs(30)), false)
                .expect("a failure");
            chosen
                .addr
                .send(RequestFailed {
                    claim: chosen.claim,
                    error,
                    model: None,
                    spent: None,
                })
                .await
                .expect("sent");
            limited.push(chosen.endpoint.id.clone());
        }
        match choose(&balancer).await {
            Err(NoEndpoint::RateLimited { retry_after }) => {
                assert!(
                    retry_after <= Duration::from_secs(30)
                        && retry_after >= Duration::from_secs(29)
                );
            }
            other => panic!(
                "expected a shared rate limit, got {:?}",
                other.map(|s| s.endpoint.id.clone())
            ),
        }
        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(choose(&balancer).await.is_err(), "back before its time");
        tokio::time::advance(Duration::from_secs(2)).await;
        let chosen = choose(&balancer)
            .await
            .expect("back after the upstream's time");
        assert_eq!(chosen.endpoint.id, "a");
    }

    #[actix_rt::test]
    async fn power_of_two_choices_weighs_only_endpoints_that_can_serve() {
        let (balancer, members) = balancer_of(
            "balancer: {strategy: least_inflight}\nendpoints:\n\
             \x20 - {id: out, base_url: 'http://127.0.0.1:9', api_key: k}\n\
             \x20 - {id: busy, base_url: 'http://127.0.0.1:9', api_key: k}\n\
             \x20 - {id: idle, base_url: 'http://127.0.0.1:9', api_key: k}\n",
        );
        members[0].addr.send(Disable).await.expect("disabled");
        // `busy` holds five requests.
        for _ in 0..5 {
            let claim = members[1]
                .addr
                .send(IsHealthy {
                    claim: true,
                    model: None,
                })
                .await
                .expect("answer")
                .claim;
            assert!(claim.is_some());
        }
        // Whatever the draw, the pair is (busy, idle): an endpoint that is out never makes up half
        // a pair and so never hands the request to the busy one behind it.
        for _ in 0..30 {
            let chosen = choose(&balancer).await.expect("an endpoint");
            assert_eq!(chosen.endpoint.id, "idle");
            chosen
                .addr
                .send(RequestAbandoned {
                    claim: chosen.claim,
                })
                .await
                .expect("released");
        }
    }

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
