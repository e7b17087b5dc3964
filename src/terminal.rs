//! The one handler for SIGINT, SIGTERM and SIGHUP, and the one guard that gives the terminal
//! back (cursor, raw mode, alternate screen, the terminal modes a prompt changed).
//!
//! Nothing is installed until something needs it: the first [`Screen`] (`watch`), [`prompt`]
//! (every dialoguer question) or [`defer`] (a kill batch) starts one thread that waits for the
//! three signals (signal-hook's self-pipe: nothing runs in the signal handler itself). What a
//! signal does then depends on the moment:
//!
//! - **Normally** it gives the terminal back, prints what the guard in charge says (a prompt:
//!   "nothing was killed") and exits with 128 + the signal number (130 for Ctrl-C, 143 for
//!   SIGTERM, 129 for SIGHUP: the shell's convention, [`crate::exit::CODES`]).
//! - **Inside [`defer`]** (a kill batch between its audit-log plan record and its result) the
//!   first signal only sets a flag, [`interrupted`]: the owner stops sending new work, settles
//!   what is in flight, records every outcome and returns its own exit code. A second signal
//!   aborts at once as above, after the owner's `on_abort` (which records "interrupted").
//!
//! The terminal is written to with plain `write(2)` on the descriptor, never through Rust's
//! stdout/stderr locks: the main thread may hold them (blocked on a full pipe) when a signal
//! comes, and giving the terminal back must never wait on it. This module does not decide what
//! a command prints or which exit code a finished run gets; it only carries the signal there.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::exit::{AppError, ErrorKind};

/// One of the signals conncheck handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal(i32);

/// The signals by name, for tests (the handler builds them from the numbers it receives).
#[cfg(test)]
impl Signal {
    pub const INT: Signal = Signal(SIGINT);
    pub const TERM: Signal = Signal(SIGTERM);
    pub const HUP: Signal = Signal(SIGHUP);
}

impl Signal {
    /// `SIGTERM`: the name the audit log and the messages use.
    pub fn name(self) -> &'static str {
        match self.0 {
            SIGINT => "SIGINT",
            SIGTERM => "SIGTERM",
            SIGHUP => "SIGHUP",
            _ => "signal",
        }
    }

    /// 128 + the signal number: how a process ended by this signal exits.
    pub fn exit_code(self) -> u8 {
        u8::try_from(128 + self.0).unwrap_or(crate::exit::ERROR)
    }
}

// What the terminal guards changed, and so what [`give_back`] undoes: one bit each.
const CURSOR_STDOUT: u8 = 1;
const CURSOR_STDERR: u8 = 2;
const ALTERNATE_SCREEN: u8 = 4;
const RAW_MODE: u8 = 8;
const TERMIOS: u8 = 16;
const EVERYTHING: u8 = 0xff;

// The escape sequences crossterm sends for cursor::Show and LeaveAlternateScreen (DEC private
// modes 25 and 1049, https://invisible-island.net/xterm/ctlseqs/ctlseqs.html).
/// Shows the cursor again.
pub const SHOW_CURSOR: &str = "\x1b[?25h";
const HIDE_CURSOR: &str = "\x1b[?25l";
const LEAVE_ALTERNATE_SCREEN: &str = "\x1b[?1049l";
const ENTER_ALTERNATE_SCREEN: &str = "\x1b[?1049h";

static CHANGED: AtomicU8 = AtomicU8::new(0);
/// The terminal modes of standard input before a prompt changed them (echo, canonical input).
static SAVED_TERMIOS: Mutex<Option<libc::termios>> = Mutex::new(None);

const NORMAL: u8 = 0;
const DEFERRED: u8 = 1;
static MODE: AtomicU8 = AtomicU8::new(NORMAL);
/// The first signal received inside the current [`defer`] (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// The first signal the process got (since the last [`defer`]), recorded in the signal handler
/// itself: at a prompt the terminal library turns ANY signal into a second, raised SIGINT (its
/// interrupted `poll` looks like Ctrl-C to it), and the iterator hands pending signals over by
/// number, so SIGINT would come first. This keeps the real one.
static FIRST: AtomicI32 = AtomicI32::new(0);
/// What the guard in charge wants said when a signal ends the run.
static ABORT_NOTE: Mutex<Option<String>> = Mutex::new(None);
/// What the owner of [`defer`] runs before the process ends on a second signal.
type AbortHook = Box<dyn Fn(Signal) + Send>;
static ON_ABORT: Mutex<Option<AbortHook>> = Mutex::new(None);
/// Held while a screen is drawn, so that no frame lands after the terminal was given back.
static DRAWING: Mutex<()> = Mutex::new(());

/// Start the signal thread, once. Best effort: without it signals keep their default action
/// (the process ends; a prompt may leave the cursor hidden, as before).
fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return;
        };
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            // SAFETY: the action only does one atomic compare-and-swap, which is
            // async-signal-safe; it allocates, locks and prints nothing.
            let _ = unsafe {
                signal_hook::low_level::register(sig, move || {
                    let _ = FIRST.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
                })
            };
        }
        let _ = std::thread::Builder::new()
            .name("conncheck-signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    on_signal(Signal(sig));
                }
            });
    });
}

fn on_signal(sig: Signal) {
    let first = match FIRST.load(Ordering::SeqCst) {
        0 => sig,
        n => Signal(n),
    };
    let deferred = MODE.load(Ordering::SeqCst) == DEFERRED;
    if deferred
        && RECEIVED
            .compare_exchange(0, first.0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    {
        let note = lock_bounded(&ABORT_NOTE).and_then(|n| n.clone());
        write_fd(
            2,
            &format!(
                "\nconncheck: {} received: {}; a second signal stops at once\n",
                first.name(),
                note.as_deref().unwrap_or("stopping")
            ),
        );
        return;
    }
    // Outside a deferral the first signal ends the run, whatever came after it.
    abort(if deferred { sig } else { first });
}

/// End the run now: terminal back, the owner's last words, the note, exit 128 + signal.
fn abort(sig: Signal) -> ! {
    // A frame being drawn finishes first (bounded: a terminal that does not read must not keep
    // us from exiting).
    let _drawing = lock_bounded(&DRAWING);
    give_back(EVERYTHING);
    let deferred = MODE.load(Ordering::SeqCst) == DEFERRED;
    if let Some(hook) = lock_bounded(&ON_ABORT)
        && let Some(hook) = hook.as_ref()
    {
        hook(sig);
    }
    let note = lock_bounded(&ABORT_NOTE).and_then(|n| n.clone());
    match (deferred, note) {
        (true, _) => write_fd(
            2,
            &format!(
                "conncheck: a second signal ({}): stopped at once; the KILLs already sent may or may not have taken effect: check with `conncheck sessions`\n",
                sig.name()
            ),
        ),
        (false, Some(note)) => write_fd(
            2,
            &format!("\nconncheck: interrupted ({}): {note}\n", sig.name()),
        ),
        (false, None) => {}
    }
    std::process::exit(i32::from(sig.exit_code()))
}

/// Take `m` if it comes free within a moment; None when its holder is stuck.
fn lock_bounded<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    let until = Instant::now() + Duration::from_millis(500);
    loop {
        match m.try_lock() {
            Ok(g) => return Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => return Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) if Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => return None,
        }
    }
}

/// `write(2)` all of `s` to `fd`, ignoring errors (the terminal may be gone).
fn write_fd(fd: i32, s: &str) {
    let mut bytes = s.as_bytes();
    while !bytes.is_empty() {
        // SAFETY: a plain write of initialized bytes to a descriptor we do not own or close.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            return;
        }
        bytes = &bytes[usize::try_from(n).unwrap_or(bytes.len())..];
    }
}

/// Undo what the guards changed among `mask` (each thing once; never fails: the terminal may
/// be gone).
fn give_back(mask: u8) {
    let changed = CHANGED.fetch_and(!mask, Ordering::SeqCst) & mask;
    if changed & TERMIOS != 0
        && let Some(saved) = lock_bounded(&SAVED_TERMIOS).and_then(|mut s| s.take())
    {
        // SAFETY: restores modes read by tcgetattr from the same descriptor.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &saved);
        }
    }
    if changed & RAW_MODE != 0 {
        let _ = crossterm::terminal::disable_raw_mode();
    }
    if changed & CURSOR_STDERR != 0 {
        write_fd(2, SHOW_CURSOR);
    }
    if changed & (CURSOR_STDOUT | ALTERNATE_SCREEN) != 0 {
        let mut s = String::new();
        if changed & CURSOR_STDOUT != 0 {
            s.push_str(SHOW_CURSOR);
        }
        if changed & ALTERNATE_SCREEN != 0 {
            s.push_str(LEAVE_ALTERNATE_SCREEN);
        }
        write_fd(1, &s);
    }
}

fn set_note(note: Option<String>) {
    if let Some(mut n) = lock_bounded(&ABORT_NOTE) {
        *n = note;
    }
}

/// The terminal as `watch` borrows it: alternate screen, hidden cursor and, when keys can be
/// read, raw mode. Given back on drop (also when unwinding from a panic) and on a signal.
pub struct Screen {
    /// Raw mode is on: lines need `\r\n`, and Ctrl-C arrives as a key.
    pub raw: bool,
}

impl Screen {
    /// Take over standard output's terminal; `keys`: also put it in raw mode to read keys.
    pub fn enter(keys: bool) -> Screen {
        install();
        let raw = keys && crossterm::terminal::enable_raw_mode().is_ok();
        CHANGED.fetch_or(
            CURSOR_STDOUT | ALTERNATE_SCREEN | if raw { RAW_MODE } else { 0 },
            Ordering::SeqCst,
        );
        write_fd(1, &format!("{ENTER_ALTERNATE_SCREEN}{HIDE_CURSOR}"));
        Screen { raw }
    }
}

/// Hold this while writing a frame to a [`Screen`]: a signal then gives the terminal back after
/// the frame, never before it.
pub fn drawing() -> MutexGuard<'static, ()> {
    DRAWING.lock().unwrap_or_else(|p| p.into_inner())
}

impl Drop for Screen {
    fn drop(&mut self) {
        give_back(CURSOR_STDOUT | ALTERNATE_SCREEN | RAW_MODE);
    }
}

/// Around one question on the terminal (dialoguer): the prompt hides the cursor on standard
/// error and switches the terminal's modes while it reads a key or a password. On drop, and on
/// a signal while it waits, the cursor is shown and the modes read before it are restored; a
/// signal also prints `note` ("nothing was killed") and exits with 128 + the signal.
pub struct Prompt {
    _private: (),
}

/// Guard one prompt; `note` says what a signal at this prompt means for the run.
pub fn prompt(note: &str) -> Prompt {
    install();
    if std::io::stdin().is_terminal() {
        let mut t = std::mem::MaybeUninit::<libc::termios>::uninit();
        // SAFETY: tcgetattr fills the struct when it returns 0; only then is it read.
        if unsafe { libc::tcgetattr(0, t.as_mut_ptr()) } == 0
            && let Some(mut saved) = lock_bounded(&SAVED_TERMIOS)
        {
            // SAFETY: tcgetattr returned 0 above, so it initialised `t`.
            *saved = Some(unsafe { t.assume_init() });
            CHANGED.fetch_or(TERMIOS, Ordering::SeqCst);
        }
    }
    CHANGED.fetch_or(CURSOR_STDERR, Ordering::SeqCst);
    set_note(Some(note.to_string()));
    Prompt { _private: () }
}

impl Prompt {
    /// The prompt failed because Ctrl-C was read as a key: the terminal library has sent us
    /// SIGINT, and the signal thread ends the run (terminal back, note, exit 130). Wait for it
    /// so that nothing else is printed meanwhile; should it not come, give the terminal back and
    /// return the error that exits 130 the same way.
    pub fn interrupted(self) -> AppError {
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(self);
        AppError::new(ErrorKind::Interrupted, "interrupted at the prompt (SIGINT)")
    }
}

impl Drop for Prompt {
    fn drop(&mut self) {
        set_note(None);
        give_back(CURSOR_STDERR | TERMIOS);
    }
}

/// Whether a dialoguer error is Ctrl-C at the prompt (the terminal library reads it as a key in
/// raw mode and reports it as an interrupted read).
pub fn is_ctrl_c(e: &dialoguer::Error) -> bool {
    matches!(e, dialoguer::Error::IO(io) if io.kind() == std::io::ErrorKind::Interrupted)
}

/// While alive, a first SIGINT, SIGTERM or SIGHUP only sets [`interrupted`] (and prints that
/// `doing` is being finished); a second one runs `on_abort` and ends the process at once.
pub struct Deferred {
    _private: (),
}

/// Defer signals around work that must be wound down rather than cut (see [`Deferred`]).
pub fn defer(doing: &str, on_abort: impl Fn(Signal) + Send + 'static) -> Deferred {
    install();
    if let Some(mut h) = lock_bounded(&ON_ABORT) {
        *h = Some(Box::new(on_abort));
    }
    set_note(Some(doing.to_string()));
    RECEIVED.store(0, Ordering::SeqCst);
    FIRST.store(0, Ordering::SeqCst);
    MODE.store(DEFERRED, Ordering::SeqCst);
    Deferred { _private: () }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        MODE.store(NORMAL, Ordering::SeqCst);
        set_note(None);
        if let Some(mut h) = lock_bounded(&ON_ABORT) {
            *h = None;
        }
    }
}

/// The first signal received inside the current (or last) [`defer`], if any.
pub fn interrupted() -> Option<Signal> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        n => Some(Signal(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_have_their_names_and_shell_exit_codes() {
        assert_eq!(
            (Signal::INT.name(), Signal::INT.exit_code()),
            ("SIGINT", 130)
        );
        assert_eq!(
            (Signal::TERM.name(), Signal::TERM.exit_code()),
            ("SIGTERM", 143)
        );
        assert_eq!(
            (Signal::HUP.name(), Signal::HUP.exit_code()),
            ("SIGHUP", 129)
        );
    }
}
