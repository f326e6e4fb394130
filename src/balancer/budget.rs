//! The retry budget: retries (second and later attempts) may add at most `ratio` to the requests
//! of the recent window, plus a small floor per second, so an outage does not multiply upstream load.

use crate::config::RetryBudgetSettings;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// The window is counted in this many slots: memory stays the same at any request rate, and a
/// request leaves the count at most one slot (a twentieth of the window) early.
const SLOTS: u32 = 20;

/// Counts recent first attempts and retries in a sliding window.
#[derive(Debug, Clone)]
pub struct RetryBudget {
    settings: RetryBudgetSettings,
    /// The counts of each slot still in the window, the newest last.
    slots: VecDeque<Slot>,
    /// Sums over `slots`.
    requests: u64,
    retries: u64,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    start: Instant,
    requests: u64,
    retries: u64,
}

impl RetryBudget {
    pub fn new(settings: RetryBudgetSettings) -> Self {
        RetryBudget {
            settings,
            slots: VecDeque::with_capacity(SLOTS as usize + 1),
            requests: 0,
            retries: 0,
        }
    }

    pub fn set_settings(&mut self, settings: RetryBudgetSettings) {
        self.settings = settings;
    }

    /// Drops the slots that began more than a window ago.
    fn forget_old(&mut self, now: Instant) {
        let window = self.settings.window;
        while let Some(slot) = self.slots.front() {
            if now.saturating_duration_since(slot.start) <= window {
                break;
            }
            self.requests -= slot.requests;
            self.retries -= slot.retries;
            self.slots.pop_front();
        }
    }

    /// Counts what happens at `now` in its slot (a new one when the last has ended).
    fn count(&mut self, now: Instant, add: impl FnOnce(&mut Slot)) {
        let length = (self.settings.window / SLOTS).max(Duration::from_millis(1));
        let current = self
            .slots
            .back()
            .is_some_and(|slot| now.saturating_duration_since(slot.start) < length);
        if !current {
            self.slots.push_back(Slot {
                start: now,
                requests: 0,
                retries: 0,
            });
        }
        if let Some(slot) = self.slots.back_mut() {
            add(slot);
        }
    }

    /// Records a request's first attempt.
    pub fn record_request(&mut self, now: Instant) {
        self.forget_old(now);
        self.count(now, |slot| slot.requests += 1);
        self.requests += 1;
    }

    /// Takes one retry from the budget if there is one left.
    pub fn try_retry(&mut self, now: Instant) -> bool {
        self.forget_old(now);
        let floor = f64::from(self.settings.min_per_second) * self.settings.window.as_secs_f64();
        let allowed = (self.requests as f64 * self.settings.ratio).max(floor);
        if (self.retries as f64) < allowed {
            self.count(now, |slot| slot.retries += 1);
            self.retries += 1;
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

    #[test]
    fn memory_stays_the_same_at_any_rate_and_old_requests_leave_the_count() {
        let start = Instant::now();
        let mut b = budget();
        // 200,000 requests over 20 s (10k a second): the window holds about 100,000.
        for i in 0..200_000u64 {
            b.record_request(start + Duration::from_micros(i * 100));
        }
        assert!(b.slots.len() <= SLOTS as usize + 1, "{}", b.slots.len());
        let end = start + Duration::from_secs(20);
        assert!(
            (95_000..=100_000).contains(&b.requests),
            "requests in the last 10 s: {}",
            b.requests
        );
        let granted = (0..30_000).filter(|_| b.try_retry(end)).count() as u64;
        assert_eq!(granted, (b.requests as f64 * 0.2).ceil() as u64);
        // Twenty seconds of silence: everything has left the window, the floor is back.
        let quiet = end + Duration::from_secs(20);
        let granted = (0..100).filter(|_| b.try_retry(quiet)).count();
        assert_eq!(granted, 10);
        assert_eq!(b.slots.len(), 1);
    }
}
