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
/// the prompt and discards input typed before that, so give it a moment.
pub fn answer(p: &mut PtySession, question: &str, key: &str) {
    p.exp_string(question).unwrap();
    p.exp_string("[y/N]").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    p.send(key).unwrap();
    p.flush().unwrap();
}

/// The exit code of the process behind `p`.
pub fn exit_code(p: &PtySession) -> i32 {
    match p.process().wait().unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("{other:?}"),
    }
}
