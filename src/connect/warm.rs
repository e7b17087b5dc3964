//! The driver's one slow first step, taken early on another thread.
//!
//! On its first login the driver (mysql_common's `HandshakePacket::server_version_parsed` and
//! `maria_db_server_version_parsed`) compiles two regexes with Unicode digit classes: 1.8 ms of
//! CPU (measured with perf at 10,000 sessions, BENCHMARKS.md "Fourth pass"), on the login's
//! critical path. Started before the command line is parsed, they compile on the other core
//! while clap and the option files are read, and the login finds them ready (the driver's
//! `LazyLock` makes a login that gets there first wait for the same compilation, never run it
//! twice).

use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::packets::HandshakePacket;

/// Compile the driver's version regexes on a thread of their own. Nothing waits for it: a
/// command that never logs in exits without it.
pub fn start() {
    let _ = std::thread::Builder::new()
        .name("warm-up".into())
        .spawn(|| {
            let g = greeting();
            let _ = (
                g.server_version_parsed(),
                g.maria_db_server_version_parsed(),
            );
        });
}

/// A server greeting with a MariaDB version, for the driver's parsers to read.
fn greeting() -> HandshakePacket<'static> {
    HandshakePacket::new(
        10,
        &b"10.11.0-MariaDB"[..],
        0,
        [0; 8],
        None::<&[u8]>,
        CapabilityFlags::empty(),
        0,
        StatusFlags::empty(),
        None::<&[u8]>,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The greeting is one the driver's parsers match, so the warm-up runs the very code a
    /// login runs.
    #[test]
    fn the_warm_up_greeting_parses_as_mariadb() {
        let g = greeting();
        assert_eq!(g.server_version_parsed(), Some((10, 11, 0)));
        assert_eq!(g.maria_db_server_version_parsed(), Some((10, 11, 0)));
        start();
    }
}
