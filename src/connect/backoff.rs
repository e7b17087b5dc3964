//! Reconnect delays for the commands that keep one connection for a long run (`watch`,
//! `record`): 1 s, 2 s, 4 s … capped at 30 s. Pure: no sleeping here.

use std::time::Duration;

/// The longest wait between reconnect attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Reconnect delays: 1 s, 2 s, 4 s … capped at 30 s.
#[derive(Debug, Default)]
pub struct Backoff {
    attempts: u32,
}

impl Backoff {
    /// The delay before the next attempt, without counting it.
    pub fn peek(&self) -> Duration {
        Duration::from_secs(1u64 << self.attempts.min(5)).min(MAX_BACKOFF)
    }

    /// The delay before the next attempt.
    pub fn delay(&mut self) -> Duration {
        let d = self.peek();
        self.attempts = self.attempts.saturating_add(1);
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_thirty_seconds() {
        let mut b = Backoff::default();
        let delays: Vec<u64> = (0..8).map(|_| b.delay().as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30, 30]);
    }
}
