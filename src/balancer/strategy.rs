//! Selection strategies as plain functions: each turns the eligible endpoints into the order in
//! which the Balancer asks them `IsHealthy`. Randomness comes in as a closure, so tests can fix it.

use crate::endpoint::rtt::DEFAULT_RTT;
use std::time::Duration;

/// What a strategy knows of an endpoint before asking it anything (from the config).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Position in the Balancer's member list.
    pub index: usize,
    pub priority: u32,
    pub weight: f64,
}

/// What an endpoint reported of its load (for `least_inflight` and `latency`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    pub in_flight: u32,
    /// The peak-EWMA time to first byte (a default when unmeasured).
    pub latency: Duration,
}

/// Weighted random order without replacement (Efraimidis–Spirakis keys: u^(1/w), largest first).
pub fn weighted_order(
    candidates: impl Iterator<Item = Candidate>,
    random: &mut dyn FnMut() -> f64,
) -> Vec<usize> {
    let mut order = Vec::new();
    extend_weighted(&mut order, candidates, random);
    order
}

/// [`weighted_order`], appended to `order`; the keys are kept beside it only while sorting.
fn extend_weighted(
    order: &mut Vec<usize>,
    candidates: impl Iterator<Item = Candidate>,
    random: &mut dyn FnMut() -> f64,
) {
    let mut keyed: Vec<(f64, usize)> = candidates
        .map(|c| {
            let u = random().clamp(f64::MIN_POSITIVE, 1.0);
            (u.powf(1.0 / c.weight), c.index)
        })
        .collect();
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
    order.extend(keyed.into_iter().map(|(_, i)| i));
}

/// Tiers by priority number (lower first); inside a tier, weighted random order. The order is the
/// one allocation when each tier has one endpoint.
pub fn priority_order(
    candidates: impl Iterator<Item = Candidate> + Clone,
    random: &mut dyn FnMut() -> f64,
) -> Vec<usize> {
    let mut order = Vec::with_capacity(candidates.clone().count());
    let mut above: Option<u32> = None;
    // Each pass takes the lowest tier above the last one taken.
    while let Some(tier) = candidates
        .clone()
        .map(|c| c.priority)
        .filter(|p| above.map_or(true, |above| *p > above))
        .min()
    {
        above = Some(tier);
        let members = candidates.clone().filter(|c| c.priority == tier);
        let mut two = members.clone().take(2);
        match (two.next(), two.next()) {
            (Some(one), None) => order.push(one.index),
            _ => extend_weighted(&mut order, members, random),
        }
    }
    order
}

/// nginx's smooth weighted round robin: over a cycle every endpoint is first in proportion to its
/// weight, spread evenly. The rest follow in descending current weight.
#[derive(Debug, Default, Clone)]
pub struct SmoothRoundRobin {
    /// Current weight per member index.
    current: Vec<f64>,
}

impl SmoothRoundRobin {
    pub fn order(&mut self, candidates: &[Candidate]) -> Vec<usize> {
        if let Some(max) = candidates.iter().map(|c| c.index).max() {
            if self.current.len() <= max {
                self.current.resize(max + 1, 0.0);
            }
        }
        let total: f64 = candidates.iter().map(|c| c.weight).sum();
        for c in candidates {
            self.current[c.index] += c.weight;
        }
        let mut order: Vec<usize> = candidates.iter().map(|c| c.index).collect();
        order.sort_by(|a, b| self.current[*b].total_cmp(&self.current[*a]).then(a.cmp(b)));
        if let Some(first) = order.first() {
            self.current[*first] -= total;
        }
        order
    }
}

/// Power of two choices (Mitzenmacher; tower's `p2c`), second half: `order` is a random order
/// (see [`shuffle`]) and `costs` the loads of its first two, the only ones asked; the cheaper of
/// the pair goes first, a tie keeps the draw, the rest stay in random order behind them.
pub fn cheaper_of_pair_first<T>(order: &mut [T], costs: (f64, f64)) {
    if order.len() >= 2 && costs.1 < costs.0 {
        order.swap(0, 1);
    }
}

/// Shuffles `items` in place (Fisher–Yates) with the given source of randomness.
pub fn shuffle(items: &mut [usize], random: &mut dyn FnMut() -> f64) {
    for i in (1..items.len()).rev() {
        let j = ((random() * (i + 1) as f64) as usize).min(i);
        items.swap(i, j);
    }
}

/// `least_inflight` cost: requests in flight, lower weight counts as busier.
pub fn inflight_cost(load: Load, weight: f64) -> f64 {
    f64::from(load.in_flight) / weight
}

/// `latency` cost (peak-EWMA as in Finagle and linkerd): the time-to-first-byte estimate
/// (a default for the unmeasured, never 0) × (in flight + 1), lower weight counting as slower.
pub fn latency_cost(load: Load, weight: f64) -> f64 {
    load.latency.as_secs_f64() * f64::from(load.in_flight + 1) / weight
}

/// The latencies a pair is weighed with. An endpoint not measured yet counts as the measured
/// one of its pair: not as 0 (it would win every pair until its first answer) and not as a fixed
/// default (one above a slow endpoint's estimate would starve it of the request that measures
/// it). With neither measured, both count as [`DEFAULT_RTT`].
pub fn pair_latencies(a: Option<Duration>, b: Option<Duration>) -> (Duration, Duration) {
    let a_or = a.or(b).unwrap_or(DEFAULT_RTT);
    let b_or = b.or(a).unwrap_or(DEFAULT_RTT);
    (a_or, b_or)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unmeasured_endpoint_weighs_as_its_measured_partner() {
        let ms = Duration::from_millis;
        assert_eq!(pair_latencies(None, Some(ms(200))), (ms(200), ms(200)));
        assert_eq!(pair_latencies(Some(ms(3)), None), (ms(3), ms(3)));
        assert_eq!(pair_latencies(Some(ms(3)), Some(ms(9))), (ms(3), ms(9)));
        assert_eq!(pair_latencies(None, None), (DEFAULT_RTT, DEFAULT_RTT));
    }

    fn cands(spec: &[(u32, f64)]) -> Vec<Candidate> {
        spec.iter()
            .enumerate()
            .map(|(index, &(priority, weight))| Candidate {
                index,
                priority,
                weight,
            })
            .collect()
    }

    fn rng(seed: u64) -> impl FnMut() -> f64 {
        let mut r = fastrand::Rng::with_seed(seed);
        move || r.f64()
    }

    #[test]
    fn priority_tries_the_lowest_number_first_and_every_tier_in_turn() {
        let c = cands(&[(2, 1.0), (1, 1.0), (3, 1.0), (1, 1.0)]);
        let mut random = rng(1);
        for _ in 0..50 {
            let order = priority_order(c.iter().copied(), &mut random);
            assert_eq!(order.len(), 4);
            assert!(order[..2].contains(&1) && order[..2].contains(&3));
            assert_eq!(order[2..], [0, 2]);
        }
    }

    #[test]
    fn weights_inside_a_tier_share_first_place_within_tolerance() {
        let c = cands(&[(1, 3.0), (1, 1.0), (2, 100.0)]);
        let mut random = rng(7);
        let n = 20_000;
        let firsts = (0..n)
            .filter(|_| priority_order(c.iter().copied(), &mut random)[0] == 0)
            .count();
        let share = firsts as f64 / n as f64;
        assert!((share - 0.75).abs() < 0.02, "{share}");
    }

    #[test]
    fn weighted_order_follows_the_weights() {
        let c = cands(&[(1, 1.0), (1, 2.0), (1, 7.0)]);
        let mut random = rng(3);
        let mut counts = [0usize; 3];
        let n = 30_000;
        for _ in 0..n {
            counts[weighted_order(c.iter().copied(), &mut random)[0]] += 1;
        }
        for (i, expected) in [0.1, 0.2, 0.7].iter().enumerate() {
            let share = counts[i] as f64 / n as f64;
            assert!((share - expected).abs() < 0.02, "{i}: {share}");
        }
    }

    #[test]
    fn smooth_round_robin_gives_nginx_sequence() {
        // nginx's documented example: weights 5, 1, 1 → a a b a c a a.
        let c = cands(&[(1, 5.0), (1, 1.0), (1, 1.0)]);
        let mut rr = SmoothRoundRobin::default();
        let firsts: Vec<usize> = (0..7).map(|_| rr.order(&c)[0]).collect();
        assert_eq!(firsts, [0, 0, 1, 0, 2, 0, 0]);
        let mut rr = SmoothRoundRobin::default();
        let c = cands(&[(1, 1.0), (1, 1.0), (1, 1.0)]);
        let firsts: Vec<usize> = (0..6).map(|_| rr.order(&c)[0]).collect();
        assert_eq!(firsts, [0, 1, 2, 0, 1, 2]);
    }

    /// What the Balancer does for `least_inflight` and `latency`: shuffle, then compare the pair.
    fn two_choices(c: &[Candidate], random: &mut dyn FnMut() -> f64, cost: &[f64]) -> Vec<usize> {
        let mut order: Vec<usize> = c.iter().map(|c| c.index).collect();
        shuffle(&mut order, random);
        let costs = (cost[order[0]], cost[order[1]]);
        cheaper_of_pair_first(&mut order, costs);
        order
    }

    #[test]
    fn two_choices_puts_the_cheaper_of_the_pair_first() {
        let c = cands(&[(1, 1.0), (1, 1.0), (1, 1.0), (1, 1.0)]);
        let in_flight = [5.0, 0.0, 9.0, 3.0];
        let mut random = rng(11);
        let mut firsts = [0usize; 4];
        for _ in 0..4000 {
            let order = two_choices(&c, &mut random, &in_flight);
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, [0, 1, 2, 3], "every candidate once");
            assert!(in_flight[order[0]] <= in_flight[order[1]]);
            firsts[order[0]] += 1;
        }
        // The busiest is never first (it loses every pair); the idlest is first most often.
        assert_eq!(firsts[2], 0);
        assert!(firsts[1] > firsts[3] && firsts[3] > firsts[0], "{firsts:?}");
    }

    #[test]
    fn a_tie_keeps_the_draw_and_a_single_candidate_stays() {
        let mut order = [7, 3, 5];
        cheaper_of_pair_first(&mut order, (1.0, 1.0));
        assert_eq!(order, [7, 3, 5]);
        cheaper_of_pair_first(&mut order, (2.0, 1.0));
        assert_eq!(order, [3, 7, 5]);
        let mut one = [4];
        cheaper_of_pair_first(&mut one, (1.0, 0.0));
        assert_eq!(one, [4]);
    }

    #[test]
    fn latency_cost_prefers_fast_idle_endpoints_and_an_unmeasured_one_is_not_free() {
        let load = |in_flight, ms| Load {
            in_flight,
            latency: Duration::from_millis(ms),
        };
        let fast = load(0, 50);
        let slow = load(0, 500);
        let busy_fast = load(20, 50);
        let unmeasured = load(0, crate::endpoint::rtt::DEFAULT_RTT.as_millis() as u64);
        assert!(latency_cost(fast, 1.0) < latency_cost(slow, 1.0));
        assert!(latency_cost(busy_fast, 1.0) > latency_cost(slow, 1.0));
        assert!(latency_cost(unmeasured, 1.0) > 0.0);
        assert!(latency_cost(fast, 1.0) < latency_cost(unmeasured, 1.0));
        assert!(inflight_cost(load(2, 0), 2.0) < inflight_cost(load(2, 0), 1.0));
    }
}
