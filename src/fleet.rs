//! Several targets at once (the fleet) (`status`, `check`, `diagnose` with repeated `--url` or
//! `--targets`).
//!
//! Two stages, bounded apart. Connecting (TCP connect, greeting, login) is waiting, not work: up
//! to [`MAX_CONNECTING`] attempts are in flight at once (fewer when the open-files limit is lower,
//! see [`connecting_limit`]), so a fleet where hundreds of servers never answer costs about one
//! `--connect-timeout`, not one per `--jobs`-th of them. The reads that follow a login run on at
//! most `--jobs` connections at once: a logged-in connection waits for a free job (holding its
//! attempt's place, so sockets stay bounded too). Each target has its own single connection with
//! the usual timeouts. With `--deadline`, the targets not finished by then are reported with the
//! reason (what they were still doing) and the run ends: threads still waiting on a silent server
//! are left to the end of the process. No async runtime: threads parked on sockets cost a little
//! memory, no CPU. Results come back in target order.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::connect::{ConnectOptions, ProcessEnv, Resolver, url};
use crate::exit::{AppError, ErrorKind};

/// At most this many connection attempts in flight at once. Each holds a socket and two parked
/// threads (ours and the login's) until the server answers or `--connect-timeout` passes (its
/// login thread and socket may stay up to `--query-timeout`, the driver's read timeout). 1,024
/// lets 1,000 targets of which 600 never answer finish in one connect timeout (5 s by default),
/// where 256 would take three.
pub const MAX_CONNECTING: usize = 1_024;

/// Descriptors kept free of the fleet's sockets (standard streams, files, the resolver's).
const RESERVED_FDS: u64 = 64;

/// One target as given, resolved to connection options (or the reason it could not be).
#[derive(Clone)]
pub struct Target {
    /// host:port or socket path: safe to print.
    pub label: String,
    pub opts: Result<ConnectOptions, AppError>,
    /// The target as named (`--url` or a `--targets` line; None: the flags), for the connection
    /// options of the commands suggested for it.
    pub source: Option<String>,
}

/// The targets when there are several, None for the usual single target.
///
/// `given` are the targets as named (`None`: the one server the flags describe); `resolver` is
/// asked for only when there are several.
pub fn targets(
    given: &[Option<String>],
    resolver: impl FnOnce() -> Result<Resolver, AppError>,
) -> Result<Option<Vec<Target>>, AppError> {
    if given.len() < 2 {
        return Ok(None);
    }
    let resolver = resolver()?;
    let mut seen = std::collections::HashSet::new();
    Ok(Some(
        given
            .iter()
            .map(|t| {
                let opts = resolver.resolve(t.as_deref(), &ProcessEnv);
                let label = match &opts {
                    Ok(o) => o.target(),
                    Err(_) => t.as_deref().map_or_else(|| "default".into(), url::redact),
                };
                Target {
                    label,
                    opts,
                    source: t.clone(),
                }
            })
            // A server listed twice is read once: its rows, perfdata labels and Prometheus
            // series would otherwise repeat (the exposition format forbids duplicate series).
            .filter(|t| {
                let first = seen.insert(t.label.clone());
                if !first {
                    eprintln!(
                        "conncheck: note: {} is listed more than once: checked once",
                        crate::text::escape(&t.label)
                    );
                }
                first
            })
            .collect(),
    ))
}

/// How much of the fleet runs at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections reading a server at once (`--jobs`).
    pub jobs: usize,
    /// Connection attempts in flight at once ([`connecting_limit`]).
    pub connecting: usize,
    /// Stop waiting after this long (`--deadline`).
    pub deadline: Option<Duration>,
}

impl Limits {
    /// The limits for `targets` targets: `--jobs`, `--deadline`, and as many connection
    /// attempts as the open-files limit allows (raised towards its hard limit when needed).
    pub fn new(jobs: u16, deadline: Option<Duration>, targets: usize) -> Limits {
        let jobs = usize::from(jobs).max(1);
        Limits {
            jobs,
            connecting: connecting_limit(targets, jobs),
            deadline,
        }
    }
}

/// How many connection attempts may be in flight for `targets` targets and `jobs` query jobs:
/// [`MAX_CONNECTING`] at most, and no more than the open-files limit (`ulimit -n`) holds. Every
/// attempt may hold two sockets (one lingering from an attempt that timed out, one new) and every
/// job a connection and its watchdog's duplicate; the soft limit is raised as far as the hard
/// limit allows to make room, else the attempts are fewer. At least one.
pub fn connecting_limit(targets: usize, jobs: usize) -> usize {
    let wanted = MAX_CONNECTING.min(targets).max(1);
    let per_attempt = 2;
    // Jobs, plus as many connections waiting for one.
    let fixed = RESERVED_FDS + 4 * jobs as u64;
    let need = fixed + per_attempt * wanted as u64;
    let Some(available) = raise_open_files(need) else {
        return wanted;
    };
    let fit = available.saturating_sub(fixed) / per_attempt;
    wanted
        .min(usize::try_from(fit).unwrap_or(usize::MAX))
        .max(1)
}

/// Raise the soft open-files limit to `need` (at most the hard limit); the soft limit after it.
/// None when it cannot be read.
fn raise_open_files(need: u64) -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        if lim.rlim_cur < need && lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: need.min(lim.rlim_max),
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = raised.rlim_cur;
            }
        }
    }
    Some(lim.rlim_cur)
}

/// Where a target was when its result was needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Stage {
    /// Waiting for a connection attempt to start.
    Queued = 0,
    Connecting = 1,
    /// Logged in, waiting for a free job.
    Waiting = 2,
    Reading = 3,
}

impl Stage {
    fn of(n: u8) -> Stage {
        match n {
            1 => Stage::Connecting,
            2 => Stage::Waiting,
            3 => Stage::Reading,
            _ => Stage::Queued,
        }
    }

    fn doing(self) -> &'static str {
        match self {
            Stage::Queued => "its connection attempt had not started (all attempts busy)",
            Stage::Connecting => "still connecting",
            Stage::Waiting => "connected, waiting for a free job (--jobs)",
            Stage::Reading => "still reading the server",
        }
    }
}

/// The error of a target not finished when `--deadline` passed.
pub fn unfinished_error(deadline: Duration, doing: &str) -> AppError {
    AppError::new(
        ErrorKind::Timeout,
        format!(
            "not finished within --deadline {}: {doing}",
            humantime::format_duration(deadline)
        ),
    )
    .hint("give the fleet a longer --deadline, or more --jobs when targets waited for a job")
}

/// Run every target: `open` connects (at most `limits.connecting` at once), then `work` reads
/// (at most `limits.jobs` at once); a target whose options did not resolve or whose connection
/// failed goes to `work` with the error, without taking a job. With a deadline, the targets not
/// finished by then get `unfinished` with the reason. Results in target order.
///
/// The threads are not joined when the deadline passes (a login may be parked on a silent server
/// for its whole timeout): what they need is owned, hence the `'static` bounds.
pub fn run_all<C, T, O, W, U>(
    targets: &[Target],
    limits: Limits,
    open: O,
    work: W,
    unfinished: U,
) -> Vec<T>
where
    C: Send + 'static,
    T: Send + 'static,
    O: Fn(&ConnectOptions) -> Result<C, AppError> + Send + Sync + 'static,
    W: Fn(&Target, Result<C, AppError>) -> T + Send + Sync + 'static,
    U: Fn(&Target, &AppError) -> T,
{
    let n = targets.len();
    if n == 0 {
        return Vec::new();
    }
    let started = Instant::now();
    let list: Arc<Vec<Target>> = Arc::new(targets.to_vec());
    let stages: Arc<Vec<AtomicU8>> = Arc::new((0..n).map(|_| AtomicU8::new(0)).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let (open, work) = (Arc::new(open), Arc::new(work));
    let (done_tx, done_rx) = mpsc::channel::<(usize, T)>();
    // The hand-over from connecting to reading: an attempt that logged in waits here for a job.
    let (conn_tx, conn_rx) = mpsc::sync_channel::<(usize, C)>(0);
    let conn_rx = Arc::new(Mutex::new(conn_rx));

    for _ in 0..limits.jobs.min(n) {
        let (list, stages, work, done, rx) = (
            Arc::clone(&list),
            Arc::clone(&stages),
            Arc::clone(&work),
            done_tx.clone(),
            Arc::clone(&conn_rx),
        );
        spawn("fleet-job", move || {
            loop {
                let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                let Ok((i, c)) = next else { break };
                stages[i].store(Stage::Reading as u8, Ordering::SeqCst);
                let r = work(&list[i], Ok(c));
                if done.send((i, r)).is_err() {
                    break;
                }
            }
        });
    }
    for _ in 0..limits.connecting.min(n) {
        let (list, stages, next, open, work, done, hand) = (
            Arc::clone(&list),
            Arc::clone(&stages),
            Arc::clone(&next),
            Arc::clone(&open),
            Arc::clone(&work),
            done_tx.clone(),
            conn_tx.clone(),
        );
        spawn("fleet-connect", move || {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(t) = list.get(i) else { break };
                let opened = match &t.opts {
                    Ok(o) => {
                        stages[i].store(Stage::Connecting as u8, Ordering::SeqCst);
                        open(o)
                    }
                    Err(e) => Err(e.clone()),
                };
                let sent = match opened {
                    Ok(c) => {
                        stages[i].store(Stage::Waiting as u8, Ordering::SeqCst);
                        hand.send((i, c)).is_ok()
                    }
                    Err(e) => done.send((i, work(t, Err(e)))).is_ok(),
                };
                if !sent {
                    break;
                }
            }
        });
    }
    // Only the threads hold the channels now: when every job is gone, a hand-over fails.
    drop((done_tx, conn_tx, conn_rx));

    let end = limits.deadline.map(|d| started + d);
    let mut results: Vec<Option<T>> = std::iter::repeat_with(|| None).take(n).collect();
    let mut left = n;
    while left > 0 {
        let got = match end {
            None => done_rx.recv().ok(),
            Some(end) => done_rx
                .recv_timeout(end.saturating_duration_since(Instant::now()))
                .ok(),
        };
        let Some((i, r)) = got else { break };
        if results[i].replace(r).is_none() {
            left -= 1;
        }
    }
    results
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.unwrap_or_else(|| {
                let stage = Stage::of(stages[i].load(Ordering::SeqCst));
                let e = match limits.deadline {
                    Some(d) if Instant::now() >= started + d => unfinished_error(d, stage.doing()),
                    // Every thread ended without its result: a bug (its panic is on stderr).
                    _ => AppError::new(
                        ErrorKind::Other,
                        format!("internal error: no result ({})", stage.doing()),
                    ),
                };
                unfinished(&targets[i], &e)
            })
        })
        .collect()
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    // A thread that cannot start (the process is out of threads) leaves its share to the others;
    // when none of a kind starts, the targets come back without a result, reported as such.
    let _ = std::thread::Builder::new().name(name.into()).spawn(f);
}

/// A target that produced no report, as an element of the JSON array.
#[derive(Debug, Serialize)]
pub struct Failed {
    pub target: String,
    pub error: ErrorBody,
}

#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub kind: ErrorKind,
    pub exit_code: u8,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Failed {
    pub fn new(target: &str, e: &AppError) -> Failed {
        Failed {
            target: target.to_string(),
            error: ErrorBody {
                kind: e.kind,
                exit_code: e.kind.exit_code(),
                message: e.message.clone(),
                hint: e.hint.clone(),
            },
        }
    }
}

/// A report or the error that prevented it (serialized as one or the other).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Outcome<R> {
    Report(R),
    Failed(Failed),
}

impl<R> Outcome<R> {
    pub fn of(target: &Target, r: Result<R, AppError>) -> Outcome<R> {
        match r {
            Ok(r) => Outcome::Report(r),
            Err(e) => Outcome::Failed(Failed::new(&target.label, &e)),
        }
    }

    /// The exit code of the first failed target (in target order), if any failed.
    pub fn first_failure(outcomes: &[Outcome<R>]) -> Option<u8> {
        outcomes.iter().find_map(|o| match o {
            Outcome::Failed(f) => Some(f.error.exit_code),
            Outcome::Report(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::{SslMode, Transport};
    use std::sync::Condvar;

    fn target(label: &str) -> Target {
        Target {
            label: label.into(),
            opts: Ok(ConnectOptions {
                transport: Transport::Tcp {
                    host: label.into(),
                    port: 3306,
                },
                user: "u".into(),
                password: None,
                database: None,
                ssl_mode: SslMode::Preferred,
                ssl_ca: None,
                ssl_cert: None,
                ssl_key: None,
                connect_timeout: Duration::from_secs(5),
                query_timeout: Duration::from_secs(10),
                admin_port: None,
                server_public_key: None,
                get_server_public_key: false,
            }),
            source: None,
        }
    }

    fn targets(labels: &[&str]) -> Vec<Target> {
        labels.iter().map(|l| target(l)).collect()
    }

    fn host(o: &ConnectOptions) -> String {
        match &o.transport {
            Transport::Tcp { host, .. } => host.clone(),
            Transport::Socket(p) => p.display().to_string(),
        }
    }

    fn limits(jobs: usize, connecting: usize, deadline: Option<Duration>) -> Limits {
        Limits {
            jobs,
            connecting,
            deadline,
        }
    }

    /// A gate threads wait at until the test opens it (bounded: never a hang).
    #[derive(Default)]
    struct Gate {
        open: Mutex<bool>,
        cv: Condvar,
    }

    impl Gate {
        fn wait(&self) {
            let mut open = self.open.lock().unwrap();
            let give_up = Instant::now() + Duration::from_secs(60);
            while !*open && Instant::now() < give_up {
                open = self
                    .cv
                    .wait_timeout(open, Duration::from_millis(50))
                    .unwrap()
                    .0;
            }
        }
        fn open(&self) {
            *self.open.lock().unwrap() = true;
            self.cv.notify_all();
        }
    }

    /// Count how many run at once inside `f`: (now, most).
    #[derive(Default)]
    struct Peak {
        now: AtomicUsize,
        most: AtomicUsize,
        started: AtomicUsize,
    }

    impl Peak {
        /// Enter, wait (bounded) until `together` have entered, leave.
        fn hold_until(&self, together: usize) {
            self.started.fetch_add(1, Ordering::SeqCst);
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            let give_up = Instant::now() + Duration::from_secs(20);
            while self.started.load(Ordering::SeqCst) < together && Instant::now() < give_up {
                std::thread::sleep(Duration::from_millis(1));
            }
            self.now.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// No wall-clock bounds (the machine may be busy): the first targets wait for each other,
    /// which only ends early when they run at the same time.
    #[test]
    fn keeps_order_and_runs_at_most_jobs_reads_at_once() {
        let list = targets(&["t0", "t1", "t2", "t3", "t4", "t5"]);
        let peak = Arc::new(Peak::default());
        let p = Arc::clone(&peak);
        let out = run_all(
            &list,
            limits(3, 6, None),
            |o| Ok(host(o)),
            move |_, c: Result<String, AppError>| {
                p.hold_until(3);
                c.unwrap()
            },
            |_, e| e.message.clone(),
        );
        assert_eq!(out, ["t0", "t1", "t2", "t3", "t4", "t5"]);
        assert_eq!(
            peak.most.load(Ordering::SeqCst),
            3,
            "three at a time, no more"
        );
        assert!(
            run_all(
                &[],
                limits(4, 4, None),
                |o| Ok(host(o)),
                |_, c: Result<String, AppError>| c.unwrap(),
                |_, _| String::new()
            )
            .is_empty()
        );
    }

    /// Connection attempts are concurrent apart from the reads: four attempts in flight with one
    /// job, and never more than the limit.
    #[test]
    fn connection_attempts_run_apart_from_the_jobs() {
        let list = targets(&["a", "b", "c", "d", "e", "f", "g", "h"]);
        let (opening, reading) = (Arc::new(Peak::default()), Arc::new(Peak::default()));
        let (o, r) = (Arc::clone(&opening), Arc::clone(&reading));
        let out = run_all(
            &list,
            limits(1, 4, None),
            move |opts| {
                o.hold_until(4);
                Ok(host(opts))
            },
            move |_, c: Result<String, AppError>| {
                r.hold_until(1);
                c.unwrap()
            },
            |_, e| e.message.clone(),
        );
        assert_eq!(out.len(), 8);
        assert_eq!(opening.most.load(Ordering::SeqCst), 4);
        assert_eq!(reading.most.load(Ordering::SeqCst), 1);
    }

    /// A failed connection is reported through `work` with its error, without a job.
    #[test]
    fn a_failed_connection_goes_to_work_with_its_error() {
        let mut list = targets(&["up", "down"]);
        list.push(Target {
            label: "bad url".into(),
            opts: Err(AppError::usage("not a URL")),
            source: None,
        });
        let out = run_all(
            &list,
            limits(1, 2, None),
            |o| {
                if host(o) == "down" {
                    Err(AppError::new(ErrorKind::Unreachable, "refused"))
                } else {
                    Ok(host(o))
                }
            },
            |t, c: Result<String, AppError>| match c {
                Ok(h) => format!("read {h}"),
                Err(e) => format!("{}: {}", t.label, e.kind.name()),
            },
            |_, e| e.message.clone(),
        );
        assert_eq!(out, ["read up", "down: unreachable", "bad url: usage"]);
    }

    /// At the deadline, every unfinished target gets `unfinished` with what it was still doing;
    /// the finished ones keep their results. Threads still parked are released afterwards.
    #[test]
    fn the_deadline_reports_unfinished_targets_with_the_reason() {
        let gate = Arc::new(Gate::default());
        let (done, reading) = (Arc::new(Gate::default()), Arc::new(Gate::default()));
        let (g1, g2, r1, r2, d1, d2) = (
            Arc::clone(&gate),
            Arc::clone(&gate),
            Arc::clone(&reading),
            Arc::clone(&reading),
            Arc::clone(&done),
            Arc::clone(&done),
        );
        // jobs 1: "done" is read first; then "slow" takes the only job and parks in it; "then"
        // connects only once "slow" is reading (so it waits for the job); "silent" never
        // connects; "refused" fails.
        let list = targets(&["done", "silent", "slow", "then", "refused"]);
        let out = run_all(
            &list,
            limits(1, 5, Some(Duration::from_secs(3))),
            move |o| match host(o).as_str() {
                "silent" => {
                    g1.wait();
                    Err(AppError::new(ErrorKind::Timeout, "no greeting"))
                }
                "refused" => Err(AppError::new(ErrorKind::Unreachable, "refused")),
                "slow" => {
                    d1.wait();
                    Ok("slow".to_string())
                }
                "then" => {
                    r1.wait();
                    Ok("then".to_string())
                }
                h => Ok(h.to_string()),
            },
            move |_, c: Result<String, AppError>| match c {
                Ok(h) if h == "slow" => {
                    r2.open();
                    g2.wait();
                    "read slow".into()
                }
                Ok(h) => {
                    d2.open();
                    format!("read {h}")
                }
                Err(e) => format!("error: {}", e.message),
            },
            |t, e| format!("{} {}: {}", t.label, e.kind.name(), e.message),
        );
        gate.open();
        assert_eq!(out[0], "read done");
        assert_eq!(
            out[1],
            "silent timeout: not finished within --deadline 3s: still connecting"
        );
        assert_eq!(
            out[2],
            "slow timeout: not finished within --deadline 3s: still reading the server"
        );
        assert_eq!(
            out[3],
            "then timeout: not finished within --deadline 3s: connected, waiting for a free job (--jobs)"
        );
        assert_eq!(out[4], "error: refused");
    }

    #[test]
    fn a_target_never_started_by_the_deadline_says_so() {
        let gate = Arc::new(Gate::default());
        let g = Arc::clone(&gate);
        let out = run_all(
            &targets(&["silent", "next"]),
            limits(1, 1, Some(Duration::from_millis(200))),
            move |o| {
                g.wait();
                Ok(host(o))
            },
            |_, c: Result<String, AppError>| c.unwrap(),
            |_, e| e.message.clone(),
        );
        gate.open();
        assert_eq!(
            out,
            [
                "not finished within --deadline 200ms: still connecting",
                "not finished within --deadline 200ms: its connection attempt had not started (all attempts busy)"
            ]
        );
    }

    #[test]
    fn the_open_files_limit_bounds_the_attempts() {
        // Whatever the limit here, never more than asked, never none.
        assert_eq!(connecting_limit(1, 8), 1);
        let n = connecting_limit(5_000, 8);
        assert!((1..=MAX_CONNECTING).contains(&n), "{n}");
    }
}
