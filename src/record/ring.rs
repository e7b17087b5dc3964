//! The samples of the last few minutes: bounded by age (`--before` plus `--after`) and by count,
//! so that a tiny `--interval` cannot grow memory without bound. Pure.

use std::collections::VecDeque;
use std::time::Duration;

use crate::snapshot::sample::Sample;

/// Never more samples than this, whatever the interval (300 s at 100 ms is 3,000).
pub const MAX_SAMPLES: usize = 36_000;

#[derive(Debug, Clone)]
pub struct Ring {
    max_age_ms: u64,
    max_len: usize,
    samples: VecDeque<Sample>,
}

impl Ring {
    /// A ring for samples `interval` apart kept for `keep`: room for keep / interval samples and
    /// a margin, at most [`MAX_SAMPLES`].
    pub fn new(keep: Duration, interval: Duration) -> Ring {
        let per = interval.as_millis().max(1);
        let n = usize::try_from(keep.as_millis() / per).unwrap_or(usize::MAX);
        Ring {
            max_age_ms: crate::units::millis(keep),
            max_len: n.saturating_add(n / 10 + 2).min(MAX_SAMPLES),
            samples: VecDeque::new(),
        }
    }

    /// Add the newest sample and drop what is too old or too many.
    pub fn push(&mut self, s: Sample) {
        let newest = s.at_ms;
        self.samples.push_back(s);
        while self.samples.len() > self.max_len
            || self
                .samples
                .front()
                .is_some_and(|f| newest.saturating_sub(f.at_ms) > self.max_age_ms)
        {
            self.samples.pop_front();
        }
    }

    /// The samples taken at or after `from_ms`, oldest first.
    pub fn since(&self, from_ms: u64) -> Vec<Sample> {
        self.samples
            .iter()
            .filter(|s| s.at_ms >= from_ms)
            .cloned()
            .collect()
    }

    /// Every sample kept, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Sample> {
        self.samples.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Sample {
        Sample {
            at_ms: ms,
            ..Default::default()
        }
    }

    #[test]
    fn keeps_only_the_window() {
        let mut r = Ring::new(Duration::from_secs(10), Duration::from_secs(1));
        for i in 0..100 {
            r.push(at(i * 1000));
        }
        let kept = r.since(0);
        assert_eq!(kept.first().unwrap().at_ms, 89_000);
        assert_eq!(kept.last().unwrap().at_ms, 99_000);
        assert_eq!(r.since(95_000).len(), 5);
    }

    #[test]
    fn a_burst_of_samples_is_bounded_by_count() {
        let mut r = Ring::new(Duration::from_secs(10), Duration::from_secs(1));
        // Samples far closer than the interval (a clock that stands still) stay bounded.
        for _ in 0..10_000 {
            r.push(at(5));
        }
        assert_eq!(r.samples.len(), r.max_len);
        assert!(r.max_len <= 13);
        let huge = Ring::new(Duration::from_secs(86_400), Duration::from_millis(100));
        assert_eq!(huge.max_len, MAX_SAMPLES);
    }
}
