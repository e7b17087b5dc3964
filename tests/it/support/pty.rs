//! Driving conncheck's real confirmation prompt through a pseudo-terminal (rexpect).

use std::time::Duration;

use rexpect::process::WaitStatus;
use rexpect::session::PtySession;

use super::Server;

/// conncheck logged in as `user` on `s`, with `args`, on a pseudo-terminal.
pub fn pty(s: &Server, user: &str, password: &str, args: &[&str]) -> PtySession {
    let mut cmd = s.process(user, password);
    cmd.args(args);
    rexpect::session::spawn_command(cmd, Some(30_000)).unwrap()
}

/// Wait for the prompt, then answer. The terminal library switches to raw mode after printing
/// the prompt and discards input typed before that: wait until the terminal is in raw mode.
pub fn answer(p: &mut PtySession, question: &str, key: &str) {
    p.exp_string(question).unwrap();
    p.exp_string("[y/N]").unwrap();
    wait_reading_keys(p);
    p.send(key).unwrap();
    p.flush().unwrap();
}

/// Wait (bounded) until the program on the pseudo-terminal reads single keys: canonical mode
/// off (`ICANON`), as the prompt sets it right before it reads. On Linux the master side reports
/// the terminal's modes.
pub fn wait_reading_keys(p: &PtySession) {
    use std::os::fd::AsRawFd;
    let master = p.process().get_file_handle().unwrap();
    let start = std::time::Instant::now();
    loop {
        let mut t = std::mem::MaybeUninit::<libc::termios>::uninit();
        // SAFETY: tcgetattr only writes the struct it is given, on a descriptor we own.
        let filled = unsafe { libc::tcgetattr(master.as_raw_fd(), t.as_mut_ptr()) } == 0;
        // SAFETY: tcgetattr returned 0, so it filled the struct.
        if filled && unsafe { t.assume_init() }.c_lflag & libc::ICANON == 0 {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the prompt never read keys (the terminal stayed in canonical mode)"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The exit code of the process behind `p`.
pub fn exit_code(p: &PtySession) -> i32 {
    match p.process().wait().unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("{other:?}"),
    }
}

/// The cursor-show sequence (DEC private mode 25) a guarded prompt must leave behind.
pub const SHOW_CURSOR: &str = "\x1b[?25h";
/// dialoguer hides the cursor right before it reads the answer key.
pub const HIDE_CURSOR: &str = "\x1b[?25l";

/// Wait for the prompt and the moment it reads its key (the cursor is hidden then), without a
/// pause: whether the key arrives just before the terminal switches to raw mode (the line
/// discipline sends SIGINT) or after (the terminal library reads it and raises SIGINT), the
/// outcome is the same.
pub fn at_prompt(p: &mut PtySession, question: &str) {
    p.exp_string(question).unwrap();
    p.exp_string("[y/N]").unwrap();
    p.exp_string(HIDE_CURSOR).unwrap();
}

/// The way the process behind `p` ended: its exit code, or the signal that killed it.
pub fn ended(p: &PtySession) -> Result<i32, String> {
    match p.process().wait().unwrap() {
        WaitStatus::Exited(_, code) => Ok(code),
        other => Err(format!("{other:?}")),
    }
}
