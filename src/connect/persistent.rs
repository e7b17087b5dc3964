//! The one connection a long run keeps (`watch`, `record`): opened once at start (an error there
//! ends the run), given up when it fails, and opened again after [`Backoff`]'s delays (1 s, 2 s,
//! 4 s … 30 s) until it comes back. Each opening also reads what the run builds on (`B`: for the
//! commands, the snapshot of the server as it is now: a restart may have changed its version,
//! its variables and our connection id).
//!
//! Only the timing and the bookkeeping live here; what opening means is the `open` function the
//! caller gives (it sees the base of the previous opening, e.g. to know whether the account may
//! take the server's reserved slot), so the backoff is tested without a server. Never two
//! connections at once: the old one is dropped before a new one is opened.

use std::time::{Duration, Instant};

use super::backoff::Backoff;
use crate::exit::AppError;

/// Opens a connection `C` and reads its base `B`, given the base of the previous opening (None
/// the first time).
pub type Open<C, B> = Box<dyn FnMut(Option<&B>) -> Result<(C, B), AppError>>;

/// A connection that is re-opened when lost.
pub struct Persistent<C, B> {
    open: Open<C, B>,
    conn: Option<C>,
    base: B,
    backoff: Backoff,
    retry_at: Instant,
}

/// What [`Persistent::reconnect`] did.
#[derive(Debug)]
pub enum Reconnect {
    /// Still connected, or the next attempt is not due yet.
    NotDue,
    /// Connected again (the base was read again).
    Reconnected,
    /// The attempt failed; the next one is `retry_in` from now.
    Failed { error: AppError, retry_in: Duration },
}

impl<C, B> Persistent<C, B> {
    /// Open the first connection; its error is the caller's to report.
    pub fn open(mut open: Open<C, B>) -> Result<Persistent<C, B>, AppError> {
        let (conn, base) = open(None)?;
        Ok(Persistent {
            open,
            conn: Some(conn),
            base,
            backoff: Backoff::default(),
            retry_at: Instant::now(),
        })
    }

    /// The connection, when there is one.
    pub fn conn(&mut self) -> Option<&mut C> {
        self.conn.as_mut()
    }

    /// The connection and the base read when it was opened.
    pub fn parts(&mut self) -> Option<(&mut C, &B)> {
        Some((self.conn.as_mut()?, &self.base))
    }

    /// What the last opening read.
    pub fn base(&self) -> &B {
        &self.base
    }

    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// The connection failed: drop it. Returns the delay before the first attempt to reopen it
    /// (the backoff starts over at 1 s).
    pub fn lost(&mut self, now: Instant) -> Duration {
        self.conn = None;
        self.backoff = Backoff::default();
        let d = self.backoff.delay();
        self.retry_at = now + d;
        d
    }

    /// How long until the next attempt to reopen (zero when connected or due).
    pub fn until_retry(&self, now: Instant) -> Duration {
        if self.conn.is_some() {
            Duration::ZERO
        } else {
            self.retry_at.saturating_duration_since(now)
        }
    }

    /// Reopen the connection when it is lost and an attempt is due at `now`.
    pub fn reconnect(&mut self, now: Instant) -> Reconnect {
        if self.conn.is_some() || now < self.retry_at {
            return Reconnect::NotDue;
        }
        match (self.open)(Some(&self.base)) {
            Ok((conn, base)) => {
                self.conn = Some(conn);
                self.base = base;
                self.backoff = Backoff::default();
                Reconnect::Reconnected
            }
            Err(error) => {
                let retry_in = self.backoff.delay();
                self.retry_at = now + retry_in;
                Reconnect::Failed { error, retry_in }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::ErrorKind;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A connection that opens when `up` says so; each opening's base is its number, and each
    /// attempt after the first sees the base of the last opening.
    fn fake(up: Rc<RefCell<bool>>) -> Open<&'static str, u32> {
        let mut n = 0;
        Box::new(move |prev: Option<&u32>| {
            assert_eq!(prev.is_none(), n == 0, "attempt {n}: {prev:?}");
            assert!(prev.is_none_or(|p| *p >= 1));
            n += 1;
            if *up.borrow() {
                Ok(("conn", n))
            } else {
                Err(AppError::new(ErrorKind::Unreachable, "nothing listens"))
            }
        })
    }

    #[test]
    fn the_first_error_is_returned() {
        let up = Rc::new(RefCell::new(false));
        let e = Persistent::open(fake(up)).err().expect("an error");
        assert_eq!(e.kind, ErrorKind::Unreachable);
    }

    #[test]
    fn a_lost_connection_is_reopened_after_the_backoff() {
        let up = Rc::new(RefCell::new(true));
        let mut p = Persistent::open(fake(Rc::clone(&up))).unwrap();
        assert_eq!(*p.base(), 1);
        let t0 = Instant::now();
        assert!(matches!(p.reconnect(t0), Reconnect::NotDue), "connected");
        *up.borrow_mut() = false;
        assert_eq!(p.lost(t0), Duration::from_secs(1));
        assert!(!p.is_connected() && p.conn().is_none());
        assert_eq!(p.until_retry(t0), Duration::from_secs(1));
        assert!(matches!(p.reconnect(t0), Reconnect::NotDue));
        // Each failed attempt doubles the wait: 2 s, 4 s, 8 s, 16 s, then 30 s.
        let mut now = t0 + Duration::from_secs(1);
        let mut waits = Vec::new();
        for _ in 0..6 {
            match p.reconnect(now) {
                Reconnect::Failed { retry_in, .. } => {
                    waits.push(retry_in.as_secs());
                    assert!(matches!(
                        p.reconnect(now + retry_in - Duration::from_millis(1)),
                        Reconnect::NotDue
                    ));
                    now += retry_in;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(waits, [2, 4, 8, 16, 30, 30]);
        *up.borrow_mut() = true;
        assert!(matches!(p.reconnect(now), Reconnect::Reconnected));
        assert_eq!(*p.base(), 8, "the base is read again with the connection");
        assert!(p.parts().is_some());
        // Lost again: the backoff starts over at 1 s.
        assert_eq!(p.lost(now), Duration::from_secs(1));
    }
}
