//! Spending limits per endpoint: the spend in the current UTC day and month, and whether a limit is
//! reached (`over_budget` until the window ends). Plain code with the clock passed in; the
//! endpoint's actor holds one `BudgetTracker` and feeds it each answer's cost.

use super::clock::{self, DAY_MS};
use super::price::{nanos_to_usd, usd_to_nanos};
use serde::{Deserialize, Serialize};
use std::time::SystemTime;

/// `endpoints[].budget`: USD an endpoint may spend per UTC day and per UTC month (either or both).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_usd: Option<f64>,
}

impl Budget {
    /// Why this budget cannot be used, if it cannot (negative or not a number).
    pub fn problem(&self) -> Option<String> {
        [
            ("daily_usd", self.daily_usd),
            ("monthly_usd", self.monthly_usd),
        ]
        .iter()
        .find_map(|(name, value)| match value {
            Some(v) if !v.is_finite() || *v < 0.0 => Some(format!(
                "budget.{name}: must be a number of USD, 0 or more (got {v})"
            )),
            _ => None,
        })
    }

    /// True when neither limit is set.
    pub fn is_unlimited(&self) -> bool {
        self.daily_usd.is_none() && self.monthly_usd.is_none()
    }
}

/// Fact for an endpoint's actor: one of its answers cost `usd` (ended at `at`). The actor adds it
/// to its [`BudgetTracker`] and moves to `over_budget` when `add` reports a reached limit.
#[derive(actix::Message, Debug, Clone, Copy, PartialEq)]
#[rtype(result = "()")]
pub struct Spent {
    pub usd: f64,
    pub at: SystemTime,
}

/// Which window's limit was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    Day,
    Month,
}

/// A reached limit: no traffic until `until` (the end of the window; the later one if both).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OverBudget {
    pub window: Window,
    pub limit_usd: f64,
    pub spent_usd: f64,
    pub until: SystemTime,
}

/// What `/admin/status` can show of an endpoint's budget.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetSnapshot {
    pub daily_usd: Option<f64>,
    pub monthly_usd: Option<f64>,
    pub spent_today_usd: f64,
    pub spent_month_usd: f64,
    /// Unix time (seconds) when the reached limit's window ends; `None` while under budget.
    pub over_budget_until: Option<f64>,
    /// The spend before this start could not be read from the usage history (it is off, or
    /// could not be read): the figures above count only what was spent since.
    pub spend_unknown: bool,
}

/// One endpoint's spend in the current UTC day and month, against its budget.
#[derive(Debug, Clone)]
pub struct BudgetTracker {
    budget: Budget,
    day_start: i64,
    day_nanos: i64,
    month_start: i64,
    month_nanos: i64,
    /// The usage history's spend has been added (see [`seed`](Self::seed)).
    seeded: bool,
}

impl BudgetTracker {
    /// Nothing spent yet in the windows that hold `now`, and the spend before unknown until
    /// [`seed`](Self::seed) says what the history has.
    pub fn new(budget: Budget, now: SystemTime) -> Self {
        let ms = clock::unix_ms(now);
        BudgetTracker {
            budget,
            day_start: clock::day_start(ms),
            day_nanos: 0,
            month_start: clock::month_start(ms),
            month_nanos: 0,
            seeded: false,
        }
    }

    /// The budget in force.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// A new budget from a reloaded config. A raised limit lifts `over_budget` at once; the spend
    /// is kept.
    pub fn set_budget(&mut self, budget: Budget) {
        self.budget = budget;
    }

    /// Spend read from the usage history at start (0 for an endpoint the history has no cost
    /// of). Spend counted since start is not lost: each window keeps the larger of the two. Until
    /// this is called the tracker says its spend is unknown.
    pub fn seed(&mut self, today_usd: f64, month_usd: f64, now: SystemTime) {
        self.roll(now);
        self.day_nanos = self.day_nanos.max(usd_to_nanos(today_usd));
        self.month_nanos = self.month_nanos.max(usd_to_nanos(month_usd));
        self.seeded = true;
    }

    /// False until the history's spend was added: the figures count only what was spent since
    /// start.
    pub fn spend_known(&self) -> bool {
        self.seeded
    }

    /// Counts an answer's cost. Returns the limit this cost reached, only when it was under
    /// budget before (the caller logs the change and moves the endpoint to `over_budget`).
    pub fn add(&mut self, usd: f64, now: SystemTime) -> Option<OverBudget> {
        let before = self.over_budget(now);
        self.roll(now);
        let nanos = usd_to_nanos(usd).max(0);
        self.day_nanos = self.day_nanos.saturating_add(nanos);
        self.month_nanos = self.month_nanos.saturating_add(nanos);
        match before {
            Some(_) => None,
            None => self.over_budget(now),
        }
    }

    /// The reached limit, if any, at `now`. A new day or month starts from nothing.
    pub fn over_budget(&self, now: SystemTime) -> Option<OverBudget> {
        if self.budget.daily_usd.is_none() && self.budget.monthly_usd.is_none() {
            return None;
        }
        let ms = clock::unix_ms(now);
        let (today, month) = self.spent_nanos(ms);
        let day_over = self
            .budget
            .daily_usd
            .filter(|limit| today >= usd_to_nanos(*limit))
            .map(|limit| OverBudget {
                window: Window::Day,
                limit_usd: limit,
                spent_usd: nanos_to_usd(today),
                until: clock::system_time(clock::day_start(ms) + DAY_MS),
            });
        let month_over = self
            .budget
            .monthly_usd
            .filter(|limit| month >= usd_to_nanos(*limit))
            .map(|limit| OverBudget {
                window: Window::Month,
                limit_usd: limit,
                spent_usd: nanos_to_usd(month),
                until: clock::system_time(clock::next_month_start(ms)),
            });
        // The month's end is never before the day's end.
        month_over.or(day_over)
    }

    /// USD spent today and this month (UTC), as of `now`.
    pub fn spent_usd(&self, now: SystemTime) -> (f64, f64) {
        let (today, month) = self.spent_nanos(clock::unix_ms(now));
        (nanos_to_usd(today), nanos_to_usd(month))
    }

    /// What `/admin/status` shows.
    pub fn snapshot(&self, now: SystemTime) -> BudgetSnapshot {
        let (today, month) = self.spent_usd(now);
        BudgetSnapshot {
            daily_usd: self.budget.daily_usd,
            monthly_usd: self.budget.monthly_usd,
            spent_today_usd: today,
            spent_month_usd: month,
            over_budget_until: self
                .over_budget(now)
                .map(|o| clock::unix_ms(o.until) as f64 / 1000.0),
            spend_unknown: !self.seeded,
        }
    }

    fn spent_nanos(&self, ms: i64) -> (i64, i64) {
        if clock::day_start(ms) == self.day_start {
            // The day and the month are always set together: the same day is the same month.
            return (self.day_nanos, self.month_nanos);
        }
        let month = if clock::month_start(ms) == self.month_start {
            self.month_nanos
        } else {
            0
        };
        (0, month)
    }

    fn roll(&mut self, now: SystemTime) {
        let ms = clock::unix_ms(now);
        if clock::day_start(ms) == self.day_start {
            return;
        }
        let (today, month) = self.spent_nanos(ms);
        self.day_start = clock::day_start(ms);
        self.month_start = clock::month_start(ms);
        self.day_nanos = today;
        self.month_nanos = month;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::clock::{format_rfc3339, parse_time, system_time, unix_ms};

    fn at(text: &str) -> SystemTime {
        system_time(parse_time(text, 0).expect("valid time"))
    }

    fn daily(limit: f64) -> Budget {
        Budget {
            daily_usd: Some(limit),
            monthly_usd: None,
        }
    }

    #[test]
    fn reaching_the_daily_limit_is_over_budget_until_utc_midnight() {
        let mut t = BudgetTracker::new(daily(1.0), at("2026-11-23T10:00:00Z"));
        assert_eq!(t.add(0.6, at("2026-11-23T10:00:00Z")), None);
        let over = t
            .add(0.4, at("2026-11-23T11:00:00Z"))
            .expect("1.0 reaches a 1.0 limit");
        assert_eq!(over.window, Window::Day);
        assert_eq!(over.limit_usd, 1.0);
        assert!((over.spent_usd - 1.0).abs() < 1e-9);
        assert_eq!(format_rfc3339(unix_ms(over.until)), "2026-11-24T00:00:00Z");
        // Still over a second before midnight; a further cost reports no new crossing.
        assert!(t.over_budget(at("2026-11-23T23:59:59Z")).is_some());
        assert_eq!(t.add(0.1, at("2026-11-23T12:00:00Z")), None);
        // The new day starts from nothing.
        assert_eq!(t.over_budget(at("2026-11-24T00:00:00Z")), None);
        assert_eq!(t.spent_usd(at("2026-11-24T00:00:00Z")).0, 0.0);
    }

    #[test]
    fn monthly_limit_lasts_until_the_first_of_next_month_and_wins_over_the_day() {
        let budget = Budget {
            daily_usd: Some(5.0),
            monthly_usd: Some(20.0),
        };
        let mut t = BudgetTracker::new(budget, at("2026-11-01T00:00:00Z"));
        for day in 1..=3 {
            let now = at(&format!("2026-11-{day:02}T09:00:00Z"));
            assert_eq!(t.add(4.99, now), None, "day {day}");
        }
        t.add(4.99, at("2026-11-04T09:00:00Z"));
        let over = t
            .add(5.0, at("2026-11-05T09:00:00Z"))
            .expect("24.96 reaches 20 (and 5 reaches 5)");
        assert_eq!(over.window, Window::Month);
        assert_eq!(format_rfc3339(unix_ms(over.until)), "2026-12-01T00:00:00Z");
        // The next day's fresh daily allowance does not lift the monthly limit.
        assert!(t.over_budget(at("2026-11-30T23:00:00Z")).is_some());
        assert_eq!(t.over_budget(at("2026-12-01T00:00:00Z")), None);
    }

    #[test]
    fn raising_the_budget_lifts_over_budget_and_keeps_the_spend() {
        let now = at("2026-11-23T10:00:00Z");
        let mut t = BudgetTracker::new(daily(1.0), now);
        assert!(t.add(1.5, now).is_some());
        t.set_budget(daily(2.0));
        assert_eq!(t.over_budget(now), None);
        assert!((t.spent_usd(now).0 - 1.5).abs() < 1e-9);
        assert!(t.add(0.5, now).is_some());
        t.set_budget(Budget::default());
        assert_eq!(t.over_budget(now), None);
    }

    #[test]
    fn seeding_from_history_keeps_the_larger_spend_of_each_window() {
        let now = at("2026-11-23T10:00:00Z");
        let mut t = BudgetTracker::new(
            Budget {
                daily_usd: Some(3.0),
                monthly_usd: Some(50.0),
            },
            now,
        );
        t.add(0.5, now);
        assert!(
            t.snapshot(now).spend_unknown,
            "not yet read from the history"
        );
        t.seed(2.0, 49.0, now);
        assert!(!t.snapshot(now).spend_unknown);
        assert_eq!(t.spent_usd(now), (2.0, 49.0));
        assert_eq!(t.over_budget(now), None);
        t.seed(0.1, 50.0, now);
        assert_eq!(t.over_budget(now).map(|o| o.window), Some(Window::Month));
        let snap = t.snapshot(now);
        assert_eq!(snap.spent_today_usd, 2.0);
        assert_eq!(
            snap.over_budget_until,
            Some(unix_ms(at("2026-12-01T00:00:00Z")) as f64 / 1000.0)
        );
    }

    #[test]
    fn no_budget_is_never_over_and_a_zero_budget_always_is() {
        let now = at("2026-11-23T10:00:00Z");
        let mut t = BudgetTracker::new(Budget::default(), now);
        assert_eq!(t.add(1e6, now), None);
        let zero = BudgetTracker::new(daily(0.0), now);
        assert!(zero.over_budget(now).is_some());
    }

    #[test]
    fn budget_reads_from_config_shape() {
        let b: Budget = serde_yaml::from_str("{daily_usd: 5.0, monthly_usd: 100}").expect("valid");
        assert_eq!(
            b,
            Budget {
                daily_usd: Some(5.0),
                monthly_usd: Some(100.0)
            }
        );
        let b: Budget = serde_yaml::from_str("{monthly_usd: 1}").expect("valid");
        assert_eq!(b.daily_usd, None);
        assert!(serde_yaml::from_str::<Budget>("{weekly_usd: 1}").is_err());
        assert!(Budget {
            daily_usd: Some(-1.0),
            monthly_usd: None
        }
        .problem()
        .is_some());
    }
}
