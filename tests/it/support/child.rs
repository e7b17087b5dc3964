//! Waiting for a conncheck started in the background, with a bound: a command that does not end
//! in time is a hang, which is a failure of its own.

use std::io::Read;
use std::process::{Child, Output};
use std::time::{Duration, Instant};

/// Wait for `child` at most `limit` (then kill it and fail: that is a hang). Its output and how
/// long it took.
pub fn finish(mut child: Child, limit: Duration) -> (Output, Duration) {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("conncheck still running after {limit:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = start.elapsed();
    let status = child.wait().unwrap();
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    (
        Output {
            status,
            stdout,
            stderr,
        },
        took,
    )
}
