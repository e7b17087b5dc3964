//! `conncheck watch`: connection usage over time, one connection for the whole run.
//!
//! Each refresh is one round trip (global status and the processlist, [`read::read_live`]); rates
//! come from the difference between two status readings. On a terminal the screen is redrawn on
//! the alternate screen with the cursor hidden, and `q` or Ctrl-C quits: the terminal is put in
//! raw mode with crossterm (which comfy-table already brings in; its commands need no `events`
//! feature), and a thread reads the keys from stdin. The terminal is given back on every way out:
//! a normal end, an error, a panic (drop) and SIGTERM, SIGHUP or SIGINT (the signal thread restores
//! it, then exits with 128 + the signal number). Otherwise one line per refresh is printed, for
//! logs ([`crate::terminal::Screen`] is the guard). A lost connection is shown and retried with backoff
//! (1 s, 2 s, 4 s … 30 s) instead of ending the run.

use std::collections::{BTreeMap, VecDeque};
use std::io::{IsTerminal, Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use crate::cli::WatchArgs;
use crate::connect::persistent::Reconnect;
use crate::exit::{self, ErrorKind};
use crate::render::{self, Style};
use crate::snapshot::read;
use crate::snapshot::{Session, Snapshot, TrendPoint};
use crate::text::escape;

use super::{Context, live};
use crate::render::watch::{TOP_CLIENTS, frame_with, line, timestamp};
use crate::report::watch::ClientHistory;
use crate::snapshot::sample::Sample;

pub fn run(ctx: &Context, args: &WatchArgs) -> anyhow::Result<u8> {
    let opts = ctx.single_target()?;
    let mut live = live::open(&opts)?;
    let base = live.base();
    let screen = std::io::stdout().is_terminal();
    let terminal = screen.then(|| crate::terminal::Screen::enter(std::io::stdin().is_terminal()));
    let keys = if terminal.as_ref().is_some_and(|t| t.raw) {
        Keys::start()
    } else {
        None
    };
    let mut out = Output {
        screen,
        raw: terminal.as_ref().is_some_and(|t| t.raw),
        style: ctx.style,
    };
    let mut history: VecDeque<u64> = VecDeque::new();
    let mut prev = (base.status.clone(), Instant::now());
    let mut last_frame = String::new();
    let mut done = 0u64;
    // Per-client sparklines: the top clients of each refresh, `window` samples each.
    let mut clients = ClientHistory::new(TOP_CLIENTS, usize::from(args.window));
    // Threads_connected with its time, `window` readings: the trend the forecast is fitted to.
    let started = Instant::now();
    let mut trend: VecDeque<TrendPoint> = VecDeque::new();
    let remember = |trend: &mut VecDeque<TrendPoint>, connected: u64| {
        trend.push_back(TrendPoint {
            at_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            threads_connected: connected,
        });
        while trend.len() > usize::from(args.window) {
            trend.pop_front();
        }
    };
    remember(&mut trend, base.threads_connected());
    if screen {
        history.push_back(base.threads_connected());
        clients.push(&Sample::from_snapshot(base));
        last_frame = frame_with(
            &tick(
                base,
                &base.status,
                base.status.clone(),
                base.sessions.clone(),
                0.0,
            ),
            &history,
            &clients,
            args.interval,
            &opts.target(),
            screen_style(ctx.style),
            SystemTime::now(),
        );
        out.show(&last_frame, None)?;
    }
    loop {
        if args.count.is_some_and(|n| done >= n) {
            break;
        }
        let wait = if live.is_connected() {
            args.interval
        } else {
            live.until_retry(Instant::now())
        };
        if keys.as_ref().is_some_and(|k| k.quit_within(wait)) {
            break;
        }
        if keys.is_none() {
            std::thread::sleep(wait);
        }
        done += 1;
        let now = SystemTime::now();
        match live.parts().map(|(c, base)| read::read_live(c, base)) {
            Some(read) => match read {
                Ok((status, sessions)) => {
                    let at = Instant::now();
                    let dt = at.duration_since(prev.1).as_secs_f64();
                    let mut snap = tick(live.base(), &prev.0, status.clone(), sessions, dt);
                    remember(&mut trend, snap.threads_connected());
                    snap.trend = trend.iter().copied().collect();
                    history.push_back(snap.threads_connected());
                    while history.len() > usize::from(args.window) {
                        history.pop_front();
                    }
                    if screen {
                        clients.push(&Sample::from_snapshot(&snap));
                        last_frame = frame_with(
                            &snap,
                            &history,
                            &clients,
                            args.interval,
                            &opts.target(),
                            screen_style(ctx.style),
                            now,
                        );
                        out.show(&last_frame, None)?;
                    } else {
                        out.line(&line(&timestamp(now), &snap))?;
                    }
                    prev = (status, at);
                }
                Err(e) if e.kind == ErrorKind::Privilege => return Err(e.into()),
                Err(e) => {
                    let retry_in = live.lost(Instant::now());
                    let msg = format!(
                        "connection lost: {}; reconnecting in {}s",
                        escape(&e.message),
                        retry_in.as_secs()
                    );
                    out.note(&last_frame, &timestamp(now), &msg)?;
                }
            },
            None => match live.reconnect(Instant::now()) {
                Reconnect::Reconnected => {
                    let snap = live.base();
                    prev = (snap.status.clone(), Instant::now());
                    // A restart empties the server: the trend before it says nothing now.
                    trend.clear();
                    remember(&mut trend, snap.threads_connected());
                    out.note(
                        &last_frame,
                        &timestamp(now),
                        &format!("reconnected to {}", escape(&opts.target())),
                    )?;
                }
                Reconnect::Failed { error, retry_in } => {
                    let msg = format!(
                        "reconnect failed: {}; next attempt in {}s",
                        escape(&error.message),
                        retry_in.as_secs()
                    );
                    out.note(&last_frame, &timestamp(now), &msg)?;
                }
                Reconnect::NotDue => {}
            },
        }
    }
    drop(keys);
    drop(terminal);
    Ok(exit::OK)
}

/// The snapshot of one refresh: `base` (variables, flavor) with the new sessions, the previous
/// status reading as the first reading and the new one as the second, `dt` seconds apart, so
/// that [`Snapshot::status_rate`] gives the rates. Pure.
pub fn tick(
    base: &Snapshot,
    prev: &BTreeMap<String, String>,
    status: BTreeMap<String, String>,
    sessions: Vec<Session>,
    dt: f64,
) -> Snapshot {
    let mut s = base.clone();
    // The uptime moves on with every refresh (it is a status value, read again each time).
    if let Some(up) = status.get("uptime").and_then(|u| u.trim().parse().ok()) {
        s.server.uptime_s = up;
    }
    s.status = prev.clone();
    s.status_after = Some(status);
    s.sample_s = dt;
    s.sessions = sessions;
    if !crate::report::watch::REFRESH_READS_LOCKS {
        s.transactions.clear();
        s.lock_waits.clear();
    }
    s
}

/// The style of one screen: the terminal's width read again, so that a resized window fits.
fn screen_style(style: Style) -> Style {
    style.with_width(render::terminal_width())
}

/// Where the refreshes go: a redrawn screen or log lines.
struct Output {
    screen: bool,
    /// The terminal is in raw mode: lines need `\r\n`.
    raw: bool,
    style: Style,
}

impl Output {
    fn show(&mut self, frame: &str, note: Option<&str>) -> std::io::Result<()> {
        let mut text = String::from(frame);
        if let Some(n) = note {
            text.push_str(&format!("\n{}\n", self.style.red(n)));
        }
        if self.raw {
            text = text.replace('\n', "\r\n");
        }
        let _drawing = crate::terminal::drawing();
        let mut out = std::io::stdout().lock();
        crossterm::queue!(
            out,
            crossterm::cursor::MoveTo(0, 0),
            crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
        )?;
        out.write_all(text.as_bytes())?;
        out.flush()
    }

    fn line(&mut self, line: &str) -> std::io::Result<()> {
        render::print(line)
    }

    /// A connection event: under the last screen, or as a log line.
    fn note(&mut self, frame: &str, ts: &str, msg: &str) -> std::io::Result<()> {
        if self.screen {
            self.show(frame, Some(&format!("{ts} {msg}")))
        } else {
            self.line(&format!("{ts} {msg}"))
        }
    }
}

/// Keys from a terminal in raw mode, read by a thread (see [`crate::terminal::Screen`]).
struct Keys {
    rx: mpsc::Receiver<u8>,
}

impl Keys {
    fn start() -> Option<Keys> {
        let (tx, rx) = mpsc::channel();
        // The thread blocks on stdin until a key comes; it ends with the process.
        std::thread::Builder::new()
            .name("watch-keys".into())
            .spawn(move || {
                let mut stdin = std::io::stdin();
                let mut b = [0u8; 1];
                while let Ok(1) = stdin.read(&mut b) {
                    if tx.send(b[0]).is_err() {
                        break;
                    }
                }
            })
            .ok()?;
        Some(Keys { rx })
    }

    /// Wait up to `d`; true when `q`, Ctrl-C or Ctrl-D was pressed (raw mode delivers Ctrl-C as
    /// a byte instead of SIGINT).
    fn quit_within(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(b'q' | b'Q' | 3 | 4) => return true,
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => return false,
                // stdin is gone (read error): no more keys, just wait.
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(left);
                    return false;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::{self, session};
    use crate::render::watch::frame;
    use crate::report::status::Rates;
    use crate::report::watch::{cause, extremes};

    #[test]
    fn the_screen_shows_a_sparkline_per_top_client_escaped_and_fitted() {
        let mut base = fixtures::mariadb();
        let long = format!("<script>&\"'\x1b[2J{}", "x".repeat(200));
        let mut clients = ClientHistory::new(TOP_CLIENTS, 10);
        let mut history = VecDeque::new();
        for n in 1..=6u64 {
            let mut sessions: Vec<Session> = (0..n)
                .map(|i| session(i, &long, "10.0.0.9", "Sleep", 5, "", None))
                .collect();
            sessions
                .extend((0..3).map(|i| session(100 + i, "web", "10.0.0.2", "Sleep", 5, "", None)));
            fixtures::with_sessions(&mut base, sessions);
            clients.push(&Sample::from_snapshot(&base));
            history.push_back(n + 3);
        }
        let text = frame_with(
            &base,
            &history,
            &clients,
            Duration::from_secs(1),
            "h:1",
            Style::plain().with_width(80),
            SystemTime::UNIX_EPOCH,
        );
        let lines: Vec<&str> = text.lines().collect();
        let at = lines.iter().position(|l| l.starts_with("History")).unwrap();
        assert!(
            lines[at + 1].contains("▂▃▅▆▇█  6  <script>&\"'\\e[2Jxxx"),
            "{text}"
        );
        assert!(lines[at + 1].ends_with('…'), "{text}");
        assert!(lines[at + 2].ends_with("▅▅▅▅▅▅  3  web@10.0.0.2"), "{text}");
        assert!(
            text.lines()
                .all(|l| crate::render::layout::width_of(l) <= 80),
            "{text}"
        );
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn rates_and_the_log_line() {
        let mut base = fixtures::mariadb();
        fixtures::with_sessions(
            &mut base,
            vec![
                session(1, "app", "10.0.0.1", "Sleep", 35, "", None),
                session(2, "app", "10.0.0.1", "Query", 3, "", Some("SELECT 1")),
            ],
        );
        fixtures::set_status(&mut base, "connections", 1000);
        fixtures::set_status(&mut base, "aborted_connects", 10);
        fixtures::set_status(&mut base, "connection_errors_max_connections", 4);
        let mut now = base.status.clone();
        now.insert("connections".into(), "1005".into());
        now.insert("aborted_connects".into(), "12".into());
        now.insert("connection_errors_max_connections".into(), "4".into());
        now.insert("uptime".into(), (base.server.uptime_s + 2).to_string());
        let snap = tick(&base, &base.status, now, base.sessions.clone(), 2.0);
        assert_eq!(
            snap.server.uptime_s,
            base.server.uptime_s + 2,
            "the uptime moves on"
        );
        let r = Rates::of(&snap);
        assert_eq!(
            (
                r.connections_per_s,
                r.aborted_connects_per_s,
                r.refused_per_s
            ),
            (2.5, 1.0, 0.0)
        );
        assert_eq!(
            line("2026-11-23T19:40:00Z", &snap),
            "2026-11-23T19:40:00Z connected=3/151 (2%) running=2 conn/s=2.5 aborted/s=1.0 refused/s=0.0 sleeping=1 oldest_idle=35s longest_query=3s cause=refused-connections full_in=-"
        );
        let (idle, busy) = extremes(&snap);
        assert_eq!((idle.map(|s| s.id), busy.map(|s| s.id)), (Some(1), Some(2)));
    }

    #[test]
    fn the_cause_line_is_judged_again_at_every_refresh() {
        let mut base = fixtures::mariadb();
        fixtures::with_sessions(&mut base, vec![]);
        let quiet = tick(&base, &base.status, base.status.clone(), Vec::new(), 2.0);
        assert_eq!(cause(&quiet, false), None);
        let history: VecDeque<u64> = [1].into_iter().collect();
        let at = SystemTime::UNIX_EPOCH;
        let screen = |s: &Snapshot| {
            frame(
                s,
                &history,
                Duration::from_secs(2),
                "h:1",
                Style::plain(),
                at,
            )
        };
        assert!(
            screen(&quiet).contains("Cause        none: nothing points to a connection shortage"),
            "{}",
            screen(&quiet)
        );
        // The next refresh reads 140 sessions idle for an hour: the cause line follows.
        let idle: Vec<Session> = (1..=140)
            .map(|i| session(i, "app", "10.0.0.1", "Sleep", 3600 + i, "", None))
            .collect();
        let mut now = base.status.clone();
        now.insert("threads_connected".into(), "141".into());
        let busy = tick(&base, &base.status, now, idle, 2.0);
        let (id, title) = cause(&busy, false).expect("a cause");
        assert!(title.ends_with(" (without lock data)"), "{title}");
        let text = screen(&busy);
        assert!(text.contains(&format!("Cause        {id}: ")), "{text}");
        // The title is wrapped to the width; the words are all there.
        let words = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            words(&text).contains(&words(&format!("Cause {id}: {title} History"))),
            "{text}"
        );
        assert!(line("t", &busy).ends_with(&format!(" cause={id} full_in=-")));
        assert!(!text.contains("Forecast"), "no trend yet: {text}");
        // A trend of one connection every 2 s (30/min): 119 of 151 is full in 64 s.
        let mut rising = busy.clone();
        rising.trend = (0..20)
            .map(|i| TrendPoint {
                at_ms: i * 2000,
                threads_connected: 100 + i,
            })
            .collect();
        assert!(line("t", &rising).ends_with(" full_in=64s"));
        let text = screen(&rising);
        assert!(
            text.contains(
                "Forecast     at +30.0 connections/min the server is full (max_connections 151)\n             in 64 s\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_screen_never_passes_control_characters_through() {
        let mut base = fixtures::mariadb();
        let title = "a\x1b]0;pwned\x07";
        fixtures::with_sessions(
            &mut base,
            vec![
                session(1, title, "10.0.0.1", "Sleep", 35, "", None),
                session(
                    2,
                    "b\u{9b}31m",
                    "h\u{202e}x",
                    "Query",
                    3,
                    "User sleep",
                    Some("SELECT SLEEP(600)/*\x1b[H\x1b[2J\x1b[3J*/"),
                ),
            ],
        );
        let history: VecDeque<u64> = [3, 4].into_iter().collect();
        let text = frame(
            &base,
            &history,
            Duration::from_secs(2),
            "127.0.0.1:3306",
            Style::plain(),
            SystemTime::now(),
        );
        assert!(
            text.chars()
                .all(|c| c == '\n' || crate::text::is_safe(&c.to_string())),
            "{text:?}"
        );
        assert!(text.contains("a\\e]0;pwned\\x07@10.0.0.1"), "{text}");
        assert!(text.contains("Server: 127.0.0.1:3306"), "{text}");
    }
}
