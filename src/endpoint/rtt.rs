//! A peak-EWMA estimate of an endpoint's time to first byte, as tower's `RttEstimate` and
//! Finagle's peak-EWMA balancer keep it: a sample above the estimate is taken at once (a slow
//! endpoint is avoided from its first slow answer); from there the estimate decays towards the
//! latest sample as time passes. An endpoint never measured costs [`DEFAULT_RTT`], not 0, so a
//! fresh or just-reset endpoint does not win every pair until its first answer.

use std::time::Duration;
use tokio::time::Instant;

/// How long the estimate takes to forget a peak (the time constant of the decay).
pub const DECAY: Duration = Duration::from_secs(10);

/// The time to first byte assumed for an endpoint with no measurement yet.
pub const DEFAULT_RTT: Duration = Duration::from_secs(1);

/// The estimate of one endpoint; time is passed in.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RttEstimate {
    measured: Option<Measured>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Measured {
    /// The estimate at `at`, in seconds.
    estimate: f64,
    /// The latest sample, in seconds: what the estimate decays towards.
    latest: f64,
    at: Instant,
}

impl RttEstimate {
    /// Takes a sample: a new peak at once, otherwise the current (decayed) estimate stays and
    /// now decays towards this sample.
    pub fn observe(&mut self, rtt: Duration, now: Instant) {
        let sample = rtt.as_secs_f64();
        let estimate = self
            .current(now)
            .map_or(sample, |c| c.as_secs_f64().max(sample));
        self.measured = Some(Measured {
            estimate,
            latest: sample,
            at: now,
        });
    }

    /// The estimate at `now`, `None` before the first sample.
    pub fn current(&self, now: Instant) -> Option<Duration> {
        let m = self.measured?;
        let elapsed = now.saturating_duration_since(m.at).as_secs_f64();
        let weight = (-elapsed / DECAY.as_secs_f64()).exp();
        let value = m.latest + (m.estimate - m.latest) * weight;
        Some(Duration::from_secs_f64(value.max(0.0)))
    }

    /// What the `latency` strategy weighs: the estimate, or [`DEFAULT_RTT`] when unmeasured.
    pub fn cost(&self, now: Instant) -> Duration {
        self.current(now).unwrap_or(DEFAULT_RTT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn close(a: Duration, b: Duration) -> bool {
        a.abs_diff(b) < Duration::from_micros(10)
    }

    #[test]
    fn an_unmeasured_endpoint_costs_the_default_not_zero() {
        let e = RttEstimate::default();
        assert_eq!(e.current(Instant::now()), None);
        assert_eq!(e.cost(Instant::now()), DEFAULT_RTT);
    }

    #[test]
    fn a_new_peak_is_taken_at_once() {
        let t = Instant::now();
        let mut e = RttEstimate::default();
        e.observe(ms(50), t);
        assert!(close(e.cost(t), ms(50)));
        e.observe(ms(900), t + ms(10));
        assert!(close(e.cost(t + ms(10)), ms(900)));
    }

    #[test]
    fn a_peak_decays_towards_the_latest_sample_with_time_not_with_samples() {
        let t = Instant::now();
        let mut e = RttEstimate::default();
        e.observe(ms(1000), t);
        e.observe(ms(100), t);
        // No time has passed: the peak stands, however many fast samples arrive.
        e.observe(ms(100), t);
        assert!(close(e.cost(t), ms(1000)));
        // One time constant later the distance to the latest sample has shrunk to 1/e.
        let later = e.cost(t + DECAY).as_secs_f64();
        let expected = 0.1 + 0.9 * (-1.0f64).exp();
        assert!((later - expected).abs() < 1e-6, "{later}");
        // Long after, the estimate is the latest sample.
        assert!(close(e.cost(t + DECAY * 20), ms(100)));
    }

    #[test]
    fn a_lower_sample_never_raises_the_estimate() {
        let t = Instant::now();
        let mut e = RttEstimate::default();
        e.observe(ms(800), t);
        let before = e.cost(t + ms(5000));
        e.observe(ms(200), t + ms(5000));
        assert!(close(e.cost(t + ms(5000)), before));
        assert!(e.cost(t + ms(6000)) < before);
    }
}
