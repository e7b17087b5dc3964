//! Retrying a login refused with ERROR 1040 before the greeting, within `--connect-timeout`.
//!
//! Under a retry storm every client the server is refusing holds a connection for the moment of
//! its refusal, the reserved slot (max_connections + 1) included, so an account entitled to that
//! slot is refused before the greeting now and then. The waits come from
//! [`super::backoff::RefusalRetry`] (pure); this file sleeps, tries again, and says how many
//! tries it took. A refusal after the greeting (SQLSTATE 08004) is never retried: the server has
//! judged the account and it may not take the slot.

use std::time::{Duration, Instant};

use super::backoff::{RefusalRetry, ReservedSlot};
use super::options::ConnectOptions;
use crate::exit::{AppError, ErrorKind, Stage};

/// What a login that got in is told: how many tries it took, and after how long.
pub(super) trait GotIn {
    fn got_in(&mut self, tries: u32, after: Duration);
}

/// `attempt` on the main port, with retries after refusals before the greeting (see
/// [`super::open_as`]); each retry gets what is left of `--connect-timeout`.
pub(super) fn open_retrying<C: GotIn>(
    opts: &ConnectOptions,
    slot: ReservedSlot,
    mut attempt: impl FnMut(&ConnectOptions) -> Result<C, AppError>,
) -> Result<C, AppError> {
    let started = Instant::now();
    let retry = RefusalRetry::for_account(slot, opts.connect_timeout);
    let mut tries = 1;
    let mut outcome = attempt(opts);
    loop {
        let refusal = match outcome {
            Ok(mut c) => {
                c.got_in(tries, started.elapsed());
                return Ok(c);
            }
            Err(e) => e,
        };
        let wait = retry
            .filter(|_| refused_before_greeting(&refusal))
            .and_then(|r| r.next(tries, started.elapsed(), random()));
        let Some(wait) = wait else {
            return Err(with_tries(refusal, tries, started.elapsed(), retry));
        };
        std::thread::sleep(wait);
        let mut within = opts.clone();
        within.connect_timeout = opts
            .connect_timeout
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(1));
        tries += 1;
        outcome = attempt(&within);
        if let Err(e) = &outcome
            && e.kind == ErrorKind::Timeout
        {
            // The window ran out during the try: the refusals are the news.
            return Err(with_tries(refusal, tries - 1, started.elapsed(), retry));
        }
    }
}

/// "got in on try N after X": said when a login needed more than one try.
pub(super) fn got_in_note(target: &str, tries: u32, after: Duration) -> Option<String> {
    (tries > 1).then(|| {
        format!(
            "conncheck: note: {target} refused us with ERROR 1040 before its greeting {} time{} (clients being refused hold the reserved slot for moments); got in on try {tries} after {}",
            tries - 1,
            if tries == 2 { "" } else { "s" },
            short(after)
        )
    })
}

/// ERROR 1040 instead of the greeting: every slot, the reserved one too, was taken at that
/// moment; the server has not judged our account yet.
fn refused_before_greeting(e: &AppError) -> bool {
    e.kind == ErrorKind::ServerFull && e.stage == Some(Stage::Greeting)
}

/// The refusal, saying how many tries it took and why no more were made.
fn with_tries(
    mut e: AppError,
    tries: u32,
    elapsed: Duration,
    retry: Option<RefusalRetry>,
) -> AppError {
    if tries > 1 {
        let bound = match retry.and_then(|r| r.max_tries) {
            Some(max) if tries >= max => format!(
                "; at most {max}, since whether this account may take the reserved slot is known only after logging in"
            ),
            _ => String::new(),
        };
        e.message
            .push_str(&format!(" ({tries} tries over {}{bound})", short(elapsed)));
    }
    e
}

fn short(d: Duration) -> String {
    humantime::format_duration(Duration::from_millis(
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
    ))
    .to_string()
}

/// A random number for jitter, from std's randomly keyed hasher (no extra crate).
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::hash::RandomState::new().build_hasher().finish()
}
