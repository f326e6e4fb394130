//! The Balancer's choice as plain code: from the members' configs and one attempt's facts, whom
//! to ask `IsHealthy`, in which order. Randomness and the round-robin state come in as arguments,
//! so a test fixes them; nothing here sends a message.

use super::strategy::{self, Candidate, SmoothRoundRobin};
use super::NoEndpoint;
use crate::config::{EndpointConfig, Strategy};
use crate::translate::Api;
use std::sync::Arc;

/// What one attempt of a request asks for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wanted<'a> {
    /// The request's model, when it names one.
    pub model: Option<&'a str>,
    /// Only endpoints whose upstream speaks this API.
    pub api: Option<Api>,
    /// Endpoints whose upstream speaks this API first (the call is theirs; others can only
    /// stand in for them), before the session's endpoint.
    pub prefer: Option<Api>,
    /// Endpoints this request already tried.
    pub exclude: &'a [Arc<str>],
    /// The endpoints the request's session is bound to, most recent first (none without one).
    pub bound: &'a [String],
}

/// Whom to ask, in which order (indices into the member list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The session's endpoint for this request: the first of its endpoints that serves the
    /// model and speaks the path's API, whether or not this request tried it already.
    pub session_endpoint: Option<usize>,
    /// The session's endpoint, asked first (when it can serve and was not tried).
    pub sticky: Option<usize>,
    /// The others, in the strategy's order.
    pub order: Vec<usize>,
    /// `order` is a random draw for power of two choices: the first two endpoints that can take
    /// the request are weighed by their load before anyone is asked to take it.
    pub by_load: bool,
}

/// Plans one attempt: the members that serve the model, speak the path's API and were not tried,
/// ordered by `strategy`, the session's endpoint first. The errors say why none can serve.
pub fn plan<C: AsRef<EndpointConfig>>(
    members: &[C],
    wanted: Wanted<'_>,
    strategy: Strategy,
    rng: &mut fastrand::Rng,
    round_robin: &mut SmoothRoundRobin,
) -> Result<Plan, NoEndpoint> {
    let serving = |m: &EndpointConfig| wanted.model.map_or(true, |model| m.serves(model));
    let speaking = |m: &EndpointConfig| wanted.api.map_or(true, |api| m.api == api);
    let configs = members.iter().map(AsRef::as_ref);
    if !configs.clone().any(serving) {
        return Err(NoEndpoint::UnknownModel {
            model: wanted.model.unwrap_or_default().to_string(),
            served: served_models(members),
        });
    }
    if let (Some(api), false) = (
        wanted.api,
        configs.clone().any(|m| serving(m) && speaking(m)),
    ) {
        return Err(NoEndpoint::WrongApi(api));
    }
    // Walked again by the strategy rather than collected: the order is the plan's one allocation.
    let candidates = configs
        .enumerate()
        .filter(|(_, m)| serving(m) && speaking(m))
        .filter(|(_, m)| !wanted.exclude.iter().any(|id| **id == *m.id))
        .map(|(index, m)| Candidate {
            index,
            priority: m.priority,
            weight: m.weight,
        });
    let mut random = || rng.f64();
    let by_load = matches!(strategy, Strategy::LeastInflight | Strategy::Latency);
    let mut order = match strategy {
        Strategy::Priority => strategy::priority_order(candidates, &mut random),
        Strategy::Weighted => strategy::weighted_order(candidates, &mut random),
        Strategy::RoundRobin => round_robin.order(&candidates.collect::<Vec<_>>()),
        Strategy::LeastInflight | Strategy::Latency => {
            let mut shuffled: Vec<usize> = candidates.map(|c| c.index).collect();
            strategy::shuffle(&mut shuffled, &mut random);
            shuffled
        }
    };
    let speaks = |i: &usize, api: Api| members[*i].as_ref().api == api;
    let preferred = wanted
        .prefer
        .filter(|&api| order.iter().any(|i| speaks(i, api)));
    if let Some(api) = preferred {
        // A stable partition: each side keeps the strategy's order.
        let (mut first, rest): (Vec<usize>, Vec<usize>) =
            order.into_iter().partition(|i| speaks(i, api));
        first.extend(rest);
        order = first;
    }
    // A session's endpoint of another API does not stand before one the call belongs to.
    let session_endpoint = wanted.bound.iter().find_map(|id| {
        let i = members.iter().position(|m| m.as_ref().id == *id)?;
        let m = members[i].as_ref();
        let serves = wanted.model.map_or(true, |model| m.serves(model))
            && wanted.api.map_or(true, |api| m.api == api)
            && preferred.map_or(true, |api| m.api == api);
        serves.then_some(i)
    });
    let sticky = session_endpoint.and_then(|i| {
        let at = order.iter().position(|&j| j == i)?;
        Some(order.remove(at))
    });
    Ok(Plan {
        session_endpoint,
        sticky,
        order,
        by_load,
    })
}

/// Every model any member lists, sorted, once each.
fn served_models<C: AsRef<EndpointConfig>>(members: &[C]) -> Vec<String> {
    let mut served: Vec<String> = members
        .iter()
        .flat_map(|m| m.as_ref().models.iter().cloned())
        .collect();
    served.sort();
    served.dedup();
    served
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    /// Members from endpoint lines of a config (`id`, `priority`, and anything else given).
    fn members(endpoints: &str) -> Vec<Arc<EndpointConfig>> {
        let text = format!("endpoints:\n{endpoints}");
        parse(&text, &|_| None)
            .expect("config")
            .endpoints
            .into_iter()
            .map(Arc::new)
            .collect()
    }

    fn three() -> Vec<Arc<EndpointConfig>> {
        members(
            "  - {id: a, base_url: 'http://127.0.0.1:1', api_key: k, priority: 1, models: [claude-*]}\n\
             \x20 - {id: b, base_url: 'http://127.0.0.1:2', api_key: k, priority: 2}\n\
             \x20 - {id: c, base_url: 'http://127.0.0.1:3', api_key: k, priority: 3, api: openai}\n",
        )
    }

    fn planned(
        members: &[Arc<EndpointConfig>],
        wanted: Wanted<'_>,
        strategy: Strategy,
    ) -> Result<Plan, NoEndpoint> {
        plan(
            members,
            wanted,
            strategy,
            &mut fastrand::Rng::with_seed(7),
            &mut SmoothRoundRobin::default(),
        )
    }

    #[test]
    fn priority_asks_the_lowest_number_first_and_leaves_out_what_was_tried() {
        let m = three();
        let p = planned(&m, Wanted::default(), Strategy::Priority).unwrap();
        assert_eq!(p.order, [0, 1, 2]);
        assert_eq!((p.sticky, p.by_load), (None, false));
        let tried = [Arc::from("a")];
        let wanted = Wanted {
            exclude: &tried,
            ..Wanted::default()
        };
        assert_eq!(
            planned(&m, wanted, Strategy::Priority).unwrap().order,
            [1, 2]
        );
    }

    #[test]
    fn only_endpoints_that_serve_the_model_and_speak_the_api_are_asked() {
        let m = three();
        let wanted = Wanted {
            model: Some("gpt-4o"),
            ..Wanted::default()
        };
        assert_eq!(
            planned(&m, wanted, Strategy::Priority).unwrap().order,
            [1, 2]
        );
        let wanted = Wanted {
            api: Some(Api::OpenAi),
            ..Wanted::default()
        };
        assert_eq!(planned(&m, wanted, Strategy::Priority).unwrap().order, [2]);
    }

    #[test]
    fn a_model_nobody_serves_and_an_api_nobody_speaks_are_told_apart() {
        let m = members(
            "  - {id: a, base_url: 'http://127.0.0.1:1', api_key: k, models: [claude-x, claude-y]}\n",
        );
        let wanted = Wanted {
            model: Some("gpt-9"),
            ..Wanted::default()
        };
        assert_eq!(
            planned(&m, wanted, Strategy::Priority),
            Err(NoEndpoint::UnknownModel {
                model: "gpt-9".into(),
                served: vec!["claude-x".into(), "claude-y".into()],
            })
        );
        let wanted = Wanted {
            model: Some("claude-x"),
            api: Some(Api::OpenAi),
            ..Wanted::default()
        };
        assert_eq!(
            planned(&m, wanted, Strategy::Priority),
            Err(NoEndpoint::WrongApi(Api::OpenAi))
        );
    }

    #[test]
    fn every_endpoint_tried_leaves_an_empty_plan_not_an_error() {
        let m = three();
        let tried: Vec<Arc<str>> = ["a", "b", "c"].into_iter().map(Arc::from).collect();
        let wanted = Wanted {
            exclude: &tried,
            ..Wanted::default()
        };
        let p = planned(&m, wanted, Strategy::Priority).unwrap();
        assert!(p.order.is_empty() && p.sticky.is_none());
    }

    #[test]
    fn the_sessions_endpoint_is_asked_first_unless_it_was_tried() {
        let m = three();
        let (bound_c, bound_a) = (["c".to_string()], ["a".to_string()]);
        let wanted = Wanted {
            bound: &bound_c,
            ..Wanted::default()
        };
        let p = planned(&m, wanted, Strategy::Priority).unwrap();
        assert_eq!((p.sticky, p.order), (Some(2), vec![0, 1]));
        assert_eq!(p.session_endpoint, Some(2));
        let tried = [Arc::from("c")];
        let wanted = Wanted {
            bound: &bound_c,
            exclude: &tried,
            ..Wanted::default()
        };
        let p = planned(&m, wanted, Strategy::Priority).unwrap();
        assert_eq!(p.sticky, None);
        assert_eq!(
            p.session_endpoint,
            Some(2),
            "still the session's, though tried"
        );
        // A session bound to an endpoint that cannot serve the model is not asked.
        let wanted = Wanted {
            bound: &bound_a,
            model: Some("gpt-4o"),
            ..Wanted::default()
        };
        let p = planned(&m, wanted, Strategy::Priority).unwrap();
        assert_eq!((p.sticky, p.session_endpoint), (None, None));
        // The first of the session's endpoints that serves the model is asked.
        let bound = ["a".to_string(), "c".to_string()];
        let wanted = Wanted {
            bound: &bound,
            model: Some("gpt-4o"),
            ..Wanted::default()
        };
        let p = planned(&m, wanted, Strategy::Priority).unwrap();
        assert_eq!((p.sticky, p.order), (Some(2), vec![1]));
    }

    #[test]
    fn load_strategies_draw_a_random_order_to_weigh() {
        let m = three();
        let mut firsts = std::collections::BTreeSet::new();
        let mut rng = fastrand::Rng::with_seed(1);
        for _ in 0..60 {
            let p = plan(
                &m,
                Wanted::default(),
                Strategy::LeastInflight,
                &mut rng,
                &mut SmoothRoundRobin::default(),
            )
            .unwrap();
            assert!(p.by_load);
            let mut sorted = p.order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, [0, 1, 2]);
            firsts.insert(p.order[0]);
        }
        assert_eq!(firsts.len(), 3, "every endpoint is drawn first at times");
    }

    #[test]
    fn round_robin_turns_with_the_state_it_is_given() {
        let m = three();
        let mut rr = SmoothRoundRobin::default();
        let mut rng = fastrand::Rng::with_seed(1);
        let firsts: Vec<usize> = (0..3)
            .map(|_| {
                plan(
                    &m,
                    Wanted::default(),
                    Strategy::RoundRobin,
                    &mut rng,
                    &mut rr,
                )
                .unwrap()
                .order[0]
            })
            .collect();
        assert_eq!(firsts, [0, 1, 2]);
    }

    #[test]
    fn a_call_of_one_api_asks_that_apis_endpoints_first_even_before_the_sessions() {
        let bound_chat = ["chat".to_string()];
        let members = members(
            "  - {id: chat, base_url: 'https://a.example/v1', api_key: k, api: openai, priority: 1}\n  \
             - {id: msgs, base_url: 'https://b.example', api_key: k, priority: 2}\n",
        );
        let wanted = Wanted {
            prefer: Some(Api::Anthropic),
            bound: &bound_chat,
            ..Wanted::default()
        };
        let plan = plan(
            &members,
            wanted,
            Strategy::Priority,
            &mut fastrand::Rng::with_seed(1),
            &mut SmoothRoundRobin::default(),
        )
        .unwrap();
        assert_eq!(plan.sticky, None);
        assert_eq!(
            plan.order,
            vec![1, 0],
            "the anthropic endpoint first, then the other"
        );
        // With no endpoint of the preferred API, the order is the strategy's.
        let only_chat = &members[..1];
        let plan = super::plan(
            only_chat,
            Wanted {
                prefer: Some(Api::Anthropic),
                ..Wanted::default()
            },
            Strategy::Priority,
            &mut fastrand::Rng::with_seed(1),
            &mut SmoothRoundRobin::default(),
        )
        .unwrap();
        assert_eq!(plan.order, vec![0]);
    }
}
