//! The endpoint's budget, held by its actor: each answer's cost arrives as [`Spent`], the spend of
//! earlier runs as [`SeedSpend`]; while a limit is reached the endpoint is `over_budget`, takes no
//! new request (not even in panic routing) and lets those in flight finish. `reset` leaves it
//! alone; a raised limit in a reloaded config lifts it.

use super::health::State;
use super::{Endpoint, EndpointSnapshot, HealthAnswer};
use crate::usage::{clock, Budget, OverBudget, Spent, Window};
use actix::prelude::*;
use std::time::SystemTime;
use tokio::time::Instant;

/// The endpoint's spend in the current UTC day and month as the usage history has it (at start,
/// or when a reload adds the endpoint). Each window keeps the larger of this and what was counted.
#[derive(Message, Debug, Clone, Copy, PartialEq)]
#[rtype(result = "()")]
pub struct SeedSpend {
    pub today_usd: f64,
    pub month_usd: f64,
}

impl Endpoint {
    /// The reached limit, unless a stronger state (disabled, auth failed) already keeps the
    /// endpoint out: that one is what the operator must act on first.
    pub(super) fn over_budget(&self, now: SystemTime) -> Option<OverBudget> {
        match self.health.state() {
            State::Disabled | State::AuthFailed => None,
            _ => self.budget.over_budget(now),
        }
    }

    /// The answer to `IsHealthy` / `ClaimInPanic` while over budget: no claim.
    pub(super) fn budget_answer(&self, now: Instant) -> Option<HealthAnswer> {
        let over = self.over_budget(SystemTime::now())?;
        Some(HealthAnswer {
            claim: None,
            selectable: false,
            state: State::OverBudget,
            available_at: Some(instant_of(over.until, now)),
            ..super::answer(&self.health, None, None, now)
        })
    }

    /// Puts the budget into a snapshot (and the state word, while it is reached).
    pub(super) fn add_budget(&self, snapshot: &mut EndpointSnapshot) {
        let now = SystemTime::now();
        if self.budget.budget().is_unlimited() {
            return;
        }
        snapshot.budget = Some(self.budget.snapshot(now));
        if let Some(over) = self.over_budget(now) {
            let until_ms = clock::unix_ms(over.until);
            let left = over.until.duration_since(now).unwrap_or_default();
            snapshot.state = State::OverBudget;
            snapshot.selectable = false;
            snapshot.until = Some(until_ms as f64 / 1000.0);
            snapshot.retry_in_s = Some((left.as_secs_f64() * 10.0).ceil() / 10.0);
        }
    }

    /// A budget from a reloaded config; logs when that lifts or imposes `over_budget`.
    pub(super) fn set_budget(&mut self, budget: Budget) {
        let now = SystemTime::now();
        let before = self.over_budget(now).is_some();
        self.budget.set_budget(budget);
        let after = self.over_budget(now);
        match (before, after) {
            (true, None) => log::info!(
                "endpoint {}: over_budget -> {} (budget raised)",
                self.config.id,
                self.health.state()
            ),
            (false, Some(over)) => self.log_over_budget(&over),
            _ => {}
        }
    }

    fn log_over_budget(&self, over: &OverBudget) {
        log::warn!(
            "endpoint {}: {} -> over_budget until {} (spent ${:.4} of ${:.4} this {})",
            self.config.id,
            self.health.state(),
            clock::format_rfc3339(clock::unix_ms(over.until)),
            over.spent_usd,
            over.limit_usd,
            match over.window {
                Window::Day => "UTC day",
                Window::Month => "UTC month",
            }
        );
    }
}

/// The monotonic instant of a wall-clock time (now when it is past).
fn instant_of(at: SystemTime, now: Instant) -> Instant {
    now + at.duration_since(SystemTime::now()).unwrap_or_default()
}

impl Endpoint {
    /// Adds an answer's cost to the budget (it comes with the attempt's outcome, or alone).
    pub(super) fn charge(&mut self, spent: Spent) {
        let blocked = matches!(self.health.state(), State::Disabled | State::AuthFailed);
        if let Some(over) = self.budget.add(spent.usd, spent.at) {
            if !blocked {
                self.log_over_budget(&over);
            }
        }
    }
}

impl Handler<Spent> for Endpoint {
    type Result = ();

    fn handle(&mut self, msg: Spent, _ctx: &mut Self::Context) {
        self.charge(msg);
    }
}

impl Handler<SeedSpend> for Endpoint {
    type Result = ();

    fn handle(&mut self, msg: SeedSpend, _ctx: &mut Self::Context) {
        let now = SystemTime::now();
        self.budget.seed(msg.today_usd, msg.month_usd, now);
        if let Some(over) = self.over_budget(now) {
            self.log_over_budget(&over);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse, HealthPolicy, Timeouts};
    use crate::endpoint::{IsHealthy, Reconfigure, RequestSucceeded, Reset, Snapshot};
    use std::sync::Arc;
    use std::time::Duration;

    fn config(budget: &str) -> Arc<crate::config::EndpointConfig> {
        let text = format!(
            "endpoints:\n  - id: e\n    base_url: http://127.0.0.1:9\n    api_key: k\n    budget: {budget}\n"
        );
        Arc::new(parse(&text, &|_| None).unwrap().endpoints.remove(0))
    }

    fn timeouts() -> Timeouts {
        Timeouts::default()
    }

    #[actix_rt::test]
    async fn an_answers_cost_comes_with_its_outcome_and_is_charged_once() {
        let addr = Endpoint::new(
            config("{daily_usd: 1.0}"),
            HealthPolicy::default(),
            timeouts(),
        )
        .start();
        let ask = IsHealthy {
            claim: true,
            model: None,
        };
        let charge = |usd: f64| {
            let claim = addr.send(ask.clone());
            async move { (claim.await.unwrap().claim, usd) }
        };
        let (claim, usd) = charge(0.6).await;
        let spent = Some(Spent {
            usd,
            at: SystemTime::now(),
        });
        addr.send(RequestSucceeded {
            claim: claim.expect("under budget"),
            status: 200,
            latency: Duration::from_millis(5),
            model: None,
            budget_used_up: None,
            limits: None,
            spent,
        })
        .await
        .unwrap();
        let snapshot = addr.send(Snapshot).await.unwrap();
        assert_eq!(snapshot.state, State::Healthy);
        let budget = snapshot.budget.expect("a budget is shown");
        assert!((budget.spent_today_usd - 0.6).abs() < 1e-9, "{budget:?}");
        // A stream cut after content still cost what it used: its failure carries it.
        let (claim, usd) = charge(0.5).await;
        addr.send(crate::endpoint::RequestFailed {
            claim: claim.expect("under budget"),
            error: crate::upstream::outcome::UpstreamError::from_status(500, None, false)
                .expect("a 500 is the endpoint's failure"),
            model: None,
            spent: Some(Spent {
                usd,
                at: SystemTime::now(),
            }),
        })
        .await
        .unwrap();
        let snapshot = addr.send(Snapshot).await.unwrap();
        assert_eq!(snapshot.state, State::OverBudget);
    }

    #[actix_rt::test]
    async fn a_spent_budget_takes_the_endpoint_out_but_lets_its_request_in_flight_finish() {
        let addr = Endpoint::new(
            config("{daily_usd: 1.0}"),
            HealthPolicy::default(),
            timeouts(),
        )
        .start();
        let claim = addr
            .send(IsHealthy {
                claim: true,
                model: None,
            })
            .await
            .unwrap()
            .claim;
        let claim = claim.expect("under budget: admitted");
        addr.send(Spent {
            usd: 1.0,
            at: SystemTime::now(),
        })
        .await
        .unwrap();
        let answer = addr
            .send(IsHealthy {
                claim: true,
                model: None,
            })
            .await
            .unwrap();
        assert_eq!(
            (answer.claim.is_none(), answer.selectable, answer.state),
            (true, false, State::OverBudget)
        );
        assert!(answer.available_at.is_some());
        let panic = addr.send(crate::endpoint::ClaimInPanic).await.unwrap();
        assert!(panic.claim.is_none(), "panic routing never picks it");
        // The request admitted before the limit still ends normally.
        addr.send(RequestSucceeded {
            claim,
            status: 200,
            latency: Duration::from_millis(5),
            model: None,
            budget_used_up: None,
            limits: None,
            spent: None,
        })
        .await
        .unwrap();
        let snapshot = addr.send(Snapshot).await.unwrap();
        assert_eq!((snapshot.state, snapshot.in_flight), (State::OverBudget, 0));
        let budget = snapshot.budget.expect("a budget is shown");
        assert_eq!((budget.daily_usd, budget.spent_today_usd), (Some(1.0), 1.0));
        assert!(snapshot.until.is_some() && budget.over_budget_until.is_some());
    }

    #[actix_rt::test]
    async fn reset_keeps_over_budget_and_a_raised_budget_lifts_it() {
        let addr = Endpoint::new(
            config("{monthly_usd: 2.0}"),
            HealthPolicy::default(),
            timeouts(),
        )
        .start();
        addr.send(SeedSpend {
            today_usd: 0.5,
            month_usd: 2.5,
        })
        .await
        .unwrap();
        assert_eq!(
            addr.send(Snapshot).await.unwrap().state,
            State::OverBudget,
            "spend from the history counts"
        );
        let after_reset = addr.send(Reset).await.unwrap();
        assert_eq!(after_reset.state, State::OverBudget);
        addr.send(Reconfigure {
            config: config("{monthly_usd: 10.0}"),
            policy: HealthPolicy::default(),
            timeouts: timeouts(),
        })
        .await
        .unwrap();
        let answer = addr
            .send(IsHealthy {
                claim: true,
                model: None,
            })
            .await
            .unwrap();
        assert!(answer.claim.is_some() && answer.state != State::OverBudget);
    }
}
