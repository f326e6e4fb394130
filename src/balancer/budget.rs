//! The retry budget: retries (second and later attempts) may add at most `ratio` to the requests
//! of the recent window, plus a small floor per second, so an outage does not multiply upstream load.

use crate::config::RetryBudgetSettings;
use std::collections::VecDeque;
use tokio::time::Instant;

/// Counts recent first attempts and retries in a sliding window.
#[derive(Debug, Clone)]
pub struct RetryBudget {
    settings: RetryBudgetSettings,
    requests: VecDeque<Instant>,
    retries: VecDeque<Instant>,
}

impl RetryBudget {
    pub fn new(settings: RetryBudgetSettings) -> Self {
        RetryBudget {
            settings,
            requests: VecDeque::new(),
            retries: VecDeque::new(),
        }
    }

    pub fn set_settings(&mut self, settings: RetryBudgetSettings) {
        self.settings = settings;
    }

    fn forget_old(&mut self, now: Instant) {
        let window = self.settings.window;
        for queue in [&mut self.requests, &mut self.retries] {
            while queue
                .front()
                .is_some_and(|t| now.duration_since(*t) > window)
            {
                queue.pop_front();
            }
        }
    }

    /// Records a request's first attempt.
    pub fn record_request(&mut self, now: Instant) {
        self.forget_old(now);
        self.requests.push_back(now);
    }

    /// Takes one retry from the budget if there is one left.
    pub fn try_retry(&mut self, now: Instant) -> bool {
        self.forget_old(now);
        let floor = f64::from(self.settings.min_per_second) * self.settings.window.as_secs_f64();
        let allowed = (self.requests.len() as f64 * self.settings.ratio).max(floor);
        if (self.retries.len() as f64) < allowed {
            self.retries.push_back(now);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn budget() -> RetryBudget {
        RetryBudget::new(RetryBudgetSettings {
            ratio: 0.2,
            min_per_second: 1,
            window: Duration::from_secs(10),
        })
    }

    #[test]
    fn retries_are_capped_at_the_ratio_of_recent_requests() {
        let now = Instant::now();
        let mut b = budget();
        for _ in 0..1000 {
            b.record_request(now);
        }
        let granted = (0..1000).filter(|_| b.try_retry(now)).count();
        assert_eq!(granted, 200);
    }

    #[test]
    fn a_floor_allows_a_few_retries_when_traffic_is_light() {
        let now = Instant::now();
        let mut b = budget();
        b.record_request(now);
        let granted = (0..100).filter(|_| b.try_retry(now)).count();
        assert_eq!(granted, 10, "1 per second over a 10 s window");
    }

    #[test]
    fn the_window_slides() {
        let now = Instant::now();
        let mut b = budget();
        let granted = (0..100).filter(|_| b.try_retry(now)).count();
        assert_eq!(granted, 10);
        let later = now + Duration::from_secs(11);
        assert!(b.try_retry(later));
    }
}
