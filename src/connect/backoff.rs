//! Delays between connection attempts. Pure: no sleeping and no clock here.
//!
//! * [`Backoff`]: reconnect delays for the commands that keep one connection for a long run
//!   (`watch`, `record`): 1 s, 2 s, 4 s … capped at 30 s.
//! * [`RefusalRetry`]: retrying a login refused with ERROR 1040 before the greeting, within
//!   `--connect-timeout`. Under a retry storm every client the server is refusing holds a
//!   connection for the moment of its own refusal, the reserved slot (max_connections + 1)
//!   included, so an account entitled to that slot is refused too now and then; a few short
//!   jittered waits get it in between them.

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

/// The first wait after a refusal: a refused client holds its slot only for its handshake
/// (about a millisecond on a LAN), so the slot is often free again at once.
const FIRST_WAIT: Duration = Duration::from_millis(10);
/// The longest wait: still several tries a second, so that a free moment is not missed.
const LONGEST_WAIT: Duration = Duration::from_millis(250);
/// How many tries in all when nobody knows whether the account may take the reserved slot
/// (the server tells only after the login): enough to slip in under a storm (about 1.3 s of
/// tries at most), few enough that an account without the privilege does not knock for the
/// whole `--connect-timeout` on a server that is simply full.
pub const TRIES_UNKNOWN_ENTITLEMENT: u32 = 10;

/// Whether our account may take the reserved connection slot (SUPER or CONNECTION_ADMIN,
/// MariaDB CONNECTION ADMIN: https://mariadb.com/kb/en/server-system-variables/#max_connections,
/// https://dev.mysql.com/doc/refman/8.0/en/too-many-connections.html).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservedSlot {
    /// Known only after logging in: the first connection of a run.
    Unknown,
    /// Known from an earlier login of this run, or assumed with `--admin-port`.
    Entitled,
    /// Known from an earlier login of this run: retrying cannot help.
    NotEntitled,
}

/// Retrying a login refused with ERROR 1040 before the greeting.
#[derive(Debug, Clone, Copy)]
pub struct RefusalRetry {
    /// Tries in all, or None for as many as `window` allows.
    pub max_tries: Option<u32>,
    /// `--connect-timeout`: no try starts after it.
    pub window: Duration,
}

impl RefusalRetry {
    /// The retry policy for an account: none when it may not take the reserved slot, a bounded
    /// number of tries when that is not known, as many as the window allows when it may.
    pub fn for_account(slot: ReservedSlot, window: Duration) -> Option<RefusalRetry> {
        let max_tries = match slot {
            ReservedSlot::NotEntitled => return None,
            ReservedSlot::Unknown => Some(TRIES_UNKNOWN_ENTITLEMENT),
            ReservedSlot::Entitled => None,
        };
        Some(RefusalRetry { max_tries, window })
    }

    /// The wait before the next try after `tries` refused ones, `elapsed` since the first
    /// began; None when no try is left or the next would start past the window. `random`
    /// spreads the waits (half the step, plus up to the other half), so that conncheck and the
    /// clients retrying alongside it do not knock in step.
    pub fn next(&self, tries: u32, elapsed: Duration, random: u64) -> Option<Duration> {
        if self.max_tries.is_some_and(|m| tries >= m) {
            return None;
        }
        let step = FIRST_WAIT
            .saturating_mul(1u32 << tries.saturating_sub(1).min(10))
            .min(LONGEST_WAIT);
        let half = step / 2;
        let spread = u64::try_from(half.as_micros()).unwrap_or(u64::MAX);
        let wait = half + Duration::from_micros(random % spread.saturating_add(1));
        (elapsed + wait < self.window).then_some(wait)
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

    #[test]
    fn refusal_waits_grow_with_jitter_and_stay_in_the_window() {
        let window = Duration::from_secs(5);
        let r = RefusalRetry::for_account(ReservedSlot::Entitled, window).unwrap();
        let ms = |d: Duration| d.as_millis();
        // Half the step at least, the whole step at most: 10 ms, 20 ms … 250 ms.
        for (tries, (lo, hi)) in [(1, (5, 10)), (2, (10, 20)), (5, (80, 160)), (9, (125, 250))] {
            let low = r.next(tries, Duration::ZERO, 0).unwrap();
            let high = r.next(tries, Duration::ZERO, u64::MAX - 1).unwrap();
            assert!(ms(low) >= lo && ms(high) <= hi, "{tries}: {low:?} {high:?}");
        }
        assert!(r.next(1000, Duration::ZERO, 7).unwrap() <= LONGEST_WAIT);
        // Never past the window.
        assert_eq!(r.next(3, Duration::from_millis(4990), 0), None);
        assert!(r.next(3, Duration::from_millis(4000), 0).is_some());
    }

    #[test]
    fn tries_are_bounded_unless_the_account_is_known_to_be_entitled() {
        let window = Duration::from_secs(3600);
        assert!(RefusalRetry::for_account(ReservedSlot::NotEntitled, window).is_none());
        let unknown = RefusalRetry::for_account(ReservedSlot::Unknown, window).unwrap();
        let tries = (1..).take_while(|&t| unknown.next(t, Duration::ZERO, 1).is_some());
        assert_eq!(tries.count() + 1, TRIES_UNKNOWN_ENTITLEMENT as usize);
        // The bounded tries fit in well under the default 5s --connect-timeout.
        let worst: Duration = (1..TRIES_UNKNOWN_ENTITLEMENT)
            .map(|t| unknown.next(t, Duration::ZERO, u64::MAX - 1).unwrap())
            .sum();
        assert!(worst < Duration::from_millis(1500), "{worst:?}");
        let known = RefusalRetry::for_account(ReservedSlot::Entitled, window).unwrap();
        assert!(known.next(500, Duration::ZERO, 1).is_some());
    }
}
