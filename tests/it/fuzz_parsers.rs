//! Property tests ("fuzzing" in `cargo test`) of everything that reads untrusted text: option
//! files, connection URLs, durations / thresholds / sizes, and saved snapshot JSON, which is then
//! judged and rendered. The properties are: never panic, never leak a password, and accepted
//! values mean what they say. Case counts are bounded so the whole file runs in seconds; the
//! open-ended runs are the cargo-fuzz targets in `fuzz/` (see fuzz/README.md).
//!
//! Inputs that once crashed something are kept as plain `#[test]`s at the bottom (and as unit
//! tests next to the fixed code).

use std::path::Path;
use std::time::Duration;

use conncheck::testing::cli::{self, Threshold};
use conncheck::testing::connect::{optfile, url};
use conncheck::testing::diagnose::{Thresholds, fixtures};
use conncheck::testing::filter::SessionFilter;
use conncheck::testing::remedy::plan::{self, Criteria, KillMode, Target};
use conncheck::testing::remedy::settings;
use conncheck::testing::render::{self, Style, nagios, prometheus};
use conncheck::testing::report;
use conncheck::testing::report::check::{self, Limits};
use conncheck::testing::snapshot::{LockKind, LockWait, Session, Snapshot, Transaction};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Enough cases to find the easy crashes every run, few enough for `cargo test`;
/// `CONNCHECK_FUZZ_SCALE=50 cargo test --release --test it fuzz_parsers` for a longer hunt.
fn config(cases: u32) -> Config {
    let scale: u32 = std::env::var("CONNCHECK_FUZZ_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    Config {
        cases: cases.saturating_mul(scale.max(1)),
        // Crashing inputs are kept as explicit tests below, not as regression files.
        failure_persistence: None,
        ..Config::default()
    }
}

const SECRET: &str = "Zq9Pw";

// ---------------------------------------------------------------------------------------------
// Option files

/// Pieces that mean something to the option-file parser.
fn optfile_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("[client]\n".to_string()),
        Just("[conncheck]\n".to_string()),
        Just("[mysqld]\n".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("=".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("\\".to_string()),
        Just("#".to_string()),
        Just(";".to_string()),
        Just("\n".to_string()),
        Just("\r\n".to_string()),
        Just("\r".to_string()),
        Just("!include /nonexistent-conncheck/x.cnf\n".to_string()),
        Just("!includedir /nonexistent-conncheck\n".to_string()),
        Just("!".to_string()),
        Just("password=".to_string()),
        Just("loose-".to_string()),
        Just("user".to_string()),
        Just("port=99999999999999999999\n".to_string()),
        Just("\u{feff}".to_string()),
        Just("\u{fffd}".to_string()),
        Just("é".to_string()),
        Just("\0".to_string()),
        "[a-z_-]{1,8}".prop_map(|s| s),
        any::<String>(),
    ]
}

fn optfile_text() -> impl Strategy<Value = String> {
    prop::collection::vec(optfile_fragment(), 0..30).prop_map(|v| v.concat())
}

fn parse_optfile(text: &str) -> Result<optfile::OptionSet, optfile::OptFileError> {
    let mut set = optfile::OptionSet::default();
    optfile::parse_str(
        text,
        Path::new("/nonexistent-conncheck/my.cnf"),
        &["client", "conncheck"],
        &mut set,
    )?;
    Ok(set)
}

proptest! {
    #![proptest_config(config(500))]

    #[test]
    fn optfile_never_panics_on_structured_garbage(text in optfile_text()) {
        let _ = parse_optfile(&text);
    }

    #[test]
    fn optfile_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_optfile(&String::from_utf8_lossy(&bytes));
    }

    /// A password value never shows up in an error, whatever is around it.
    #[test]
    fn optfile_errors_never_contain_the_password(
        before in optfile_text(),
        after in optfile_text(),
        quote in prop_oneof![Just(""), Just("\""), Just("'")],
        sep in prop_oneof![Just("="), Just(" = "), Just(" "), Just("\t")],
    ) {
        let text = format!("{before}\n[client]\npassword{sep}{quote}{SECRET}{after}");
        if let Err(e) = parse_optfile(&text) {
            prop_assert!(!e.to_string().contains(SECRET), "{e}");
        }
    }

    /// What is written is what is read: `key=value` round-trips for plain values.
    #[test]
    fn optfile_plain_values_round_trip(
        key in "[a-z][a-z_]{0,10}",
        value in "[A-Za-z0-9./:@_-]{0,20}",
    ) {
        let set = parse_optfile(&format!("[client]\n{key} = {value}\n")).unwrap();
        prop_assert_eq!(set.get(&key).and_then(|v| v.value.clone()), Some(value));
    }
}

// ---------------------------------------------------------------------------------------------
// URLs

fn url_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("mysql://".to_string()),
        Just("mariadb://".to_string()),
        Just("://".to_string()),
        Just("@".to_string()),
        Just(":".to_string()),
        Just("/".to_string()),
        Just("?".to_string()),
        Just("&".to_string()),
        Just("=".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("[::1]".to_string()),
        Just("%".to_string()),
        Just("%4".to_string()),
        Just("%40".to_string()),
        Just("%FF".to_string()),
        Just("%C3%A9".to_string()),
        Just("socket=".to_string()),
        Just("password=".to_string()),
        Just("65536".to_string()),
        Just("0".to_string()),
        Just("é".to_string()),
        "[a-z0-9]{1,6}".prop_map(|s| s),
        any::<String>(),
    ]
}

fn url_text() -> impl Strategy<Value = String> {
    prop::collection::vec(url_fragment(), 0..20).prop_map(|v| v.concat())
}

/// Passwords full of the characters that confuse URL parsers.
fn password() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9@:/?#%&=\\[\\]!$'()*+,;~. é_-]{1,16}".prop_map(|p| format!("Zq9{p}"))
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn url_parse_and_redact_never_panic(text in url_text()) {
        let _ = url::parse(&text);
        let _ = url::redact(&text);
    }

    #[test]
    fn url_password_never_in_redact_or_errors(
        user in "[a-z]{0,6}",
        pw in password(),
        tail in url_text(),
        scheme in prop_oneof![Just("mysql://"), Just("mariadb://"), Just("postgres://"), Just("")],
    ) {
        let text = format!("{scheme}{user}:{pw}@db1:3306/shop{tail}");
        let red = url::redact(&text);
        prop_assert!(!red.contains(&pw), "{text} -> {red}");
        match url::parse(&text) {
            Err(e) => prop_assert!(!e.to_string().contains(&pw), "{text}: {e}"),
            Ok(u) => {
                let host = format!("{:?}", u.host);
                prop_assert!(!host.contains(&pw), "{}", host);
            }
        }
    }

    /// A URL built from parts parses back into the same parts.
    #[test]
    fn url_round_trips(
        user in "[a-z][a-z0-9_]{0,8}",
        pw in "[A-Za-z0-9]{1,12}",
        host in "[a-z][a-z0-9-]{0,10}",
        port in 1u16..,
        db in "[a-z_]{1,8}",
    ) {
        let u = url::parse(&format!("mysql://{user}:{pw}@{host}:{port}/{db}")).unwrap();
        prop_assert_eq!(u.user.as_deref(), Some(user.as_str()));
        prop_assert_eq!(u.password.as_deref(), Some(pw.as_str()));
        prop_assert_eq!(u.host.as_deref(), Some(host.as_str()));
        prop_assert_eq!(u.port, Some(port));
        prop_assert_eq!(u.database.as_deref(), Some(db.as_str()));
    }
}

// ---------------------------------------------------------------------------------------------
// Durations, thresholds, sizes

fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
        Just("18446744073709551616".to_string()),
        Just("99999999999999999999999999".to_string()),
        Just("NaN".to_string()),
        Just("inf".to_string()),
        Just("-0".to_string()),
        Just("".to_string()),
        Just(" ".to_string()),
        Just("1e309".to_string()),
        "[0-9]{1,30}".prop_map(|s| s),
    ]
}

fn unit_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("s".to_string()),
        Just("ms".to_string()),
        Just("us".to_string()),
        Just("ns".to_string()),
        Just("m".to_string()),
        Just("h".to_string()),
        Just("d".to_string()),
        Just("w".to_string()),
        Just("y".to_string()),
        Just("%".to_string()),
        Just("K".to_string()),
        Just("M".to_string()),
        Just("G".to_string()),
        Just("T".to_string()),
        Just("é".to_string()),
        Just(" parsecs".to_string()),
        "\\PC{0,3}".prop_map(|s| s),
    ]
}

fn quantity_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (number_text(), unit_text()).prop_map(|(n, u)| format!("{n}{u}")),
        prop::collection::vec((number_text(), unit_text()), 1..4)
            .prop_map(|v| v.into_iter().map(|(n, u)| format!("{n}{u}")).collect()),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn duration_threshold_bytes_never_panic(text in quantity_text()) {
        let _ = cli::parse_duration(&text);
        let _ = cli::parse_threshold(&text);
        let _ = cli::parse_bytes(&text);
    }

    /// Accepted durations are at most ten years, and never negative.
    #[test]
    fn accepted_durations_are_bounded(text in quantity_text()) {
        if let Ok(d) = cli::parse_duration(&text) {
            prop_assert!(d <= Duration::from_secs(10 * 365 * 86_400), "{text} -> {d:?}");
            prop_assert!(!text.trim_start().starts_with('-'), "{text} -> {d:?}");
        }
    }

    #[test]
    fn durations_round_trip(secs in 0u64..=10 * 365 * 86_400, ms in 0u64..1000) {
        prop_assert_eq!(cli::parse_duration(&secs.to_string()), Ok(Duration::from_secs(secs)));
        prop_assert_eq!(cli::parse_duration(&format!("{secs}s")), Ok(Duration::from_secs(secs)));
        prop_assert_eq!(cli::parse_duration(&format!("{ms}ms")), Ok(Duration::from_millis(ms)));
        // What we print (humantime) we read back.
        let d = Duration::from_secs(secs);
        let shown = humantime_format(d);
        prop_assert_eq!(cli::parse_duration(&shown), Ok(d), "{}", shown);
    }

    /// Accepted thresholds are finite percentages within 0–100 % or counts.
    #[test]
    fn accepted_thresholds_are_sane(text in quantity_text()) {
        if let Ok(t) = cli::parse_threshold(&text) {
            match t {
                Threshold::Percent(p) => prop_assert!(p.is_finite() && (0.0..=100.0).contains(&p), "{text}"),
                Threshold::Count(_) => {}
            }
            prop_assert!(!t.connections(u64::MAX).is_nan());
            prop_assert!(!t.connections(0).is_nan());
        }
    }

    #[test]
    fn thresholds_round_trip(n in any::<u64>(), p in 0u32..=100, over in 101u32..=100_000) {
        prop_assert_eq!(cli::parse_threshold(&n.to_string()), Ok(Threshold::Count(n)));
        let t = cli::parse_threshold(&format!("{p}%")).unwrap();
        prop_assert_eq!(t, Threshold::Percent(f64::from(p)));
        prop_assert_eq!(cli::parse_threshold(&t.to_string()), Ok(t));
        let over_text = format!("{over}%");
        prop_assert!(cli::parse_threshold(&over_text).is_err());
    }

    #[test]
    fn bytes_round_trip(n in any::<u32>(), unit in 0usize..5) {
        let (suffix, mult) = [("", 1u64), ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("T", 1 << 40)][unit];
        let want = u64::from(n).checked_mul(mult);
        let got = cli::parse_bytes(&format!("{n}{suffix}"));
        match want {
            Some(w) => prop_assert_eq!(got, Ok(w)),
            None => prop_assert!(got.is_err()),
        }
        prop_assert_eq!(cli::parse_bytes(&u64::MAX.to_string()), Ok(u64::MAX));
    }
}

/// How conncheck prints durations in messages (`1h 2m 3s`).
fn humantime_format(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

// ---------------------------------------------------------------------------------------------
// Snapshots: JSON that deserializes is judged and rendered without panicking

/// Values that have broken number handling elsewhere: overflow, negatives, floats, empties.
fn weird_number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_string()),
        Just("1".to_string()),
        Just(u64::MAX.to_string()),
        Just((u64::MAX - 1).to_string()),
        Just("18446744073709551616".to_string()),
        Just("-1".to_string()),
        Just("".to_string()),
        Just("NaN".to_string()),
        Just("inf".to_string()),
        Just("1e308".to_string()),
        Just("0.5".to_string()),
        Just("ON".to_string()),
        Just("OFF".to_string()),
        Just("é".to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        (0u64..100_000).prop_map(|n| n.to_string()),
    ]
}

fn weird_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(u64::MAX),
        Just(u64::MAX / 1000),
        Just(i64::MAX as u64),
        0u64..100_000,
        any::<u64>(),
    ]
}

fn weird_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(-0.0),
        Just(-1.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::MIN_POSITIVE),
        Just(f64::MAX),
        Just(1e-300),
        0.0f64..100.0,
        any::<f64>(),
    ]
}

fn weird_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("Sleep".to_string()),
        Just("Query".to_string()),
        Just("Killed".to_string()),
        Just("Binlog Dump".to_string()),
        Just("system user".to_string()),
        Just("Waiting for table metadata lock".to_string()),
        Just("10.0.0.1:5000".to_string()),
        Just("[::1]:5000".to_string()),
        Just("[".to_string()),
        Just(":".to_string()),
        Just("localhost".to_string()),
        Just("é".repeat(200)),
        "\\PC{0,12}".prop_map(|s| s),
    ]
}

fn session() -> impl Strategy<Value = Session> {
    (
        (
            weird_u64(),
            weird_text(),
            weird_text(),
            prop::option::of(weird_text()),
        ),
        (
            weird_text(),
            weird_u64(),
            prop::option::of(weird_u64()),
            weird_text(),
        ),
        (
            prop::option::of(weird_text()),
            prop::option::of(weird_u64()),
        ),
    )
        .prop_map(
            |((id, user, host, db), (command, time_s, time_ms, state), (info, query_id))| Session {
                id,
                user,
                host,
                db,
                command,
                time_s,
                time_ms,
                state,
                info,
                info_truncated: false,
                query_id,
                program: None,
                memory_bytes: None,
            },
        )
}

fn transaction() -> impl Strategy<Value = Transaction> {
    (
        weird_u64(),
        weird_text(),
        weird_u64(),
        prop::option::of(weird_u64()),
        weird_u64(),
        weird_u64(),
    )
        .prop_map(
            |(session_id, state, age_s, wait_s, rows_modified, rows_locked)| Transaction {
                trx_id: "1".into(),
                session_id,
                state,
                age_s,
                wait_s,
                rows_modified,
                rows_locked,
                query: None,
                query_truncated: false,
                autocommit_non_locking: false,
            },
        )
}

fn lock_wait() -> impl Strategy<Value = LockWait> {
    (
        prop_oneof![
            Just(LockKind::Row),
            Just(LockKind::Metadata),
            Just(LockKind::Table)
        ],
        weird_u64(),
        prop::option::of(weird_u64()),
        weird_u64(),
    )
        .prop_map(|(kind, waiting_id, blocking_id, wait_s)| LockWait {
            kind,
            waiting_id,
            blocking_id,
            object: Some("shop.t".into()),
            wait_s,
        })
}

/// The names the heuristics read, so that mutations hit them.
fn interesting_name() -> impl Strategy<Value = String> {
    let names: Vec<&'static str> = conncheck::testing::snapshot::sql::VARIABLES
        .iter()
        .chain(conncheck::testing::snapshot::sql::STATUS)
        .copied()
        .collect();
    prop::sample::select(names).prop_map(str::to_string)
}

/// A fixture with its numbers, texts and lists replaced by hostile values.
fn hostile_snapshot() -> impl Strategy<Value = Snapshot> {
    (
        prop::bool::ANY,
        prop::collection::vec((interesting_name(), weird_number_text()), 0..40),
        prop::collection::vec((interesting_name(), weird_number_text()), 0..40),
        prop::option::of(prop::collection::vec(
            (interesting_name(), weird_number_text()),
            0..40,
        )),
        weird_f64(),
        prop::collection::vec(session(), 0..12),
        prop::collection::vec(transaction(), 0..4),
        prop::collection::vec(lock_wait(), 0..4),
        (prop::option::of(weird_u64()), weird_u64(), weird_u64()),
        prop::collection::vec((weird_u64(), weird_u64()), 0..40),
    )
        .prop_map(
            |(
                mysql,
                vars,
                status,
                after,
                sample_s,
                sessions,
                trx,
                waits,
                (mem, cid, uptime),
                trend,
            )| {
                let mut s = if mysql {
                    fixtures::mysql8()
                } else {
                    fixtures::mariadb()
                };
                s.variables.extend(vars);
                s.status.extend(status);
                if let Some(after) = after {
                    let mut m = s.status.clone();
                    m.extend(after);
                    s.status_after = Some(m);
                }
                s.sample_s = sample_s;
                s.sessions = sessions;
                s.transactions = trx;
                s.lock_waits = waits;
                s.host_memory_bytes = mem;
                s.access.connection_id = cid;
                s.server.uptime_s = uptime;
                // Trend readings in any order and size: the forecast fits without panicking.
                s.trend = trend
                    .into_iter()
                    .map(
                        |(at_ms, threads_connected)| conncheck::testing::snapshot::TrendPoint {
                            at_ms,
                            threads_connected,
                        },
                    )
                    .collect();
                s
            },
        )
}

fn thresholds() -> impl Strategy<Value = Thresholds> {
    let threshold = prop_oneof![
        (0.0f64..=1000.0).prop_map(Threshold::Percent),
        weird_u64().prop_map(Threshold::Count),
    ];
    let dur = prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::from_secs(10 * 365 * 86_400)),
        (0u64..100_000).prop_map(Duration::from_millis),
    ];
    (
        dur.clone(),
        dur.clone(),
        dur,
        threshold.clone(),
        threshold,
        prop::option::of(weird_u64()),
    )
        .prop_map(
            |(idle, long_query, trx, warning, critical, server_memory)| Thresholds {
                idle,
                long_query,
                trx,
                warning,
                critical,
                server_memory,
            },
        )
}

/// Everything a snapshot goes through after loading: judgement, every renderer, every plan.
fn judge_and_render(snap: &Snapshot, th: &Thresholds) {
    let style = Style::plain();
    let report = report::diagnose::build(snap, th);
    let _ = render::json(&report);
    let _ = render::diagnose::human(&report, snap, style, true);
    let st = report::status::build(snap, 10);
    let _ = render::status::header(&st, style);
    let _ = render::status::clients_table(&st.clients, style);
    let _ = render::json(&st);
    let _ = render::json(&report::sessions::build(
        snap,
        &SessionFilter::default(),
        None,
        0,
    ));
    let _ = render::watch::line("2026-01-01T00:00:00Z", snap);
    let limits = Limits {
        th: th.clone(),
        max_idle: Some(0),
        max_long: Some(u64::MAX),
        max_idle_trx: Some(1),
        fail_on: None,
        forecast: Some(std::time::Duration::from_secs(1)),
    };
    let checked = check::judge(snap, &limits);
    let _ = nagios::render(&checked);
    let _ = prometheus::render(std::slice::from_ref(&checked), false);
    for (target, threshold) in [(Target::Idle, th.idle), (Target::Long, th.long_query)] {
        let c = Criteria {
            limit: Some(3),
            min_trx_age: Some(th.trx),
            ..Criteria::new(target, KillMode::Connection, threshold)
        };
        let p = plan::plan(snap, &c);
        let _ = p.summary();
        let _ = render::kill::plan_text(&p, snap, style);
    }
    let _ = settings::timeouts(snap, Some(th.idle), Some(th.trx), true);
    let _ = settings::max_connections(snap, 100_000, false, th.server_memory, true);
    let _ = settings::slow_log(snap, true, Some(th.long_query), false);
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn hostile_snapshots_judge_and_render(snap in hostile_snapshot(), th in thresholds()) {
        judge_and_render(&snap, &th);
        // A refused snapshot takes the other branch of every renderer.
        let mut refused = snap.clone();
        refused.refused = Some(conncheck::testing::snapshot::Refusal {
            code: 1040,
            message: String::new(),
            before_greeting: true,
            admin_port_tried: Some(0),
        });
        judge_and_render(&refused, &th);
    }

    /// Whatever deserializes from mutated snapshot JSON is judged and rendered without a panic.
    #[test]
    fn mutated_snapshot_json_loads_or_fails_cleanly(
        mysql in prop::bool::ANY,
        edits in prop::collection::vec((0usize..10_000, json_value()), 1..6),
    ) {
        let mut s = if mysql { fixtures::mysql8() } else { fixtures::mariadb() };
        fixtures::with_sessions(&mut s, vec![
            fixtures::session(5, "app", "10.0.0.1", "Sleep", 900, "", None),
            fixtures::session(6, "app", "10.0.0.1", "Query", 90, "Sending data", Some("SELECT 1")),
        ]);
        s.transactions.push(fixtures::trx(6, "RUNNING", 100, 5, None));
        s.lock_waits.push(fixtures::lock_wait(LockKind::Row, 5, Some(6), 30));
        fixtures::sample(&mut s, 1.0, &[("connections", 1_000_000)]);
        let mut v = serde_json::to_value(&s).unwrap();
        for (at, value) in edits {
            mutate(&mut v, at, value);
        }
        let bytes = serde_json::to_vec(&v).unwrap();
        if let Ok(snap) = serde_json::from_slice::<Snapshot>(&bytes) {
            judge_and_render(&snap, &Thresholds::default());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_loader(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(snap) = serde_json::from_slice::<Snapshot>(&bytes) {
            judge_and_render(&snap, &Thresholds::default());
        }
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{Value, json};
    prop_oneof![
        Just(Value::Null),
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(1e308)),
        Just(json!(-1e308)),
        Just(json!(0.5)),
        Just(json!("")),
        Just(json!("18446744073709551615")),
        Just(json!("-1")),
        Just(json!("NaN")),
        Just(json!(true)),
        Just(json!([])),
        Just(json!({})),
        Just(json!([0, 0, 0])),
        Just(json!([u64::MAX, 65535, 65535])),
        any::<u64>().prop_map(|n| json!(n)),
        "\\PC{0,8}".prop_map(|s| json!(s)),
    ]
}

/// Replace the `at`-th node (in depth-first order, wrapping around) of `v` with `new`.
fn mutate(v: &mut serde_json::Value, at: usize, new: serde_json::Value) {
    fn count(v: &serde_json::Value) -> usize {
        1 + match v {
            serde_json::Value::Array(a) => a.iter().map(count).sum(),
            serde_json::Value::Object(o) => o.values().map(count).sum(),
            _ => 0,
        }
    }
    fn walk(v: &mut serde_json::Value, n: &mut usize, new: &mut Option<serde_json::Value>) {
        if new.is_none() {
            return;
        }
        if *n == 0 {
            *v = new.take().unwrap_or_default();
            return;
        }
        *n -= 1;
        match v {
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| walk(x, n, new)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|x| walk(x, n, new)),
            _ => {}
        }
    }
    let mut n = at % count(v);
    walk(v, &mut n, &mut Some(new));
}

// ---------------------------------------------------------------------------------------------
// Crashing inputs found by the property tests and the cargo-fuzz targets, kept as regressions.

/// Every heuristic must survive a snapshot whose counters are all u64::MAX and whose sample is
/// not a number (a hand-edited or corrupted file).
#[test]
fn regression_extreme_counters_and_non_finite_sample() {
    for sample_s in [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -1.0,
        0.0,
        1e-300,
    ] {
        for base in [fixtures::mariadb(), fixtures::mysql8()] {
            let mut s = base;
            for (k, v) in s.status.iter_mut().chain(s.variables.iter_mut()) {
                if v.bytes().all(|b| b.is_ascii_digit()) && !k.contains("version") {
                    *v = u64::MAX.to_string();
                }
            }
            s.status_after = Some(
                s.status
                    .keys()
                    .map(|k| (k.clone(), "0".to_string()))
                    .collect(),
            );
            s.sample_s = sample_s;
            s.host_memory_bytes = Some(u64::MAX);
            s.sessions = vec![fixtures::session(
                1,
                "app",
                "10.0.0.1",
                "Sleep",
                u64::MAX,
                "",
                None,
            )];
            judge_and_render(&s, &Thresholds::default());
        }
    }
}

/// One hostile snapshot per overflow the property tests found (debug builds panicked with
/// "attempt to add/multiply with overflow"; release builds printed wrapped numbers).
#[test]
fn regression_overflows_found_by_the_property_tests() {
    type Edit = fn(&mut Snapshot);
    let var = |s: &mut Snapshot, k: &str, v: u64| {
        s.variables.insert(k.into(), v.to_string());
    };
    let cases: &[(&str, Edit)] = &[
        ("memory: per-connection buffers sum", |s| {
            s.variables
                .insert("sort_buffer_size".into(), u64::MAX.to_string());
            s.variables
                .insert("join_buffer_size".into(), u64::MAX.to_string());
            s.variables
                .insert("net_buffer_length".into(), u64::MAX.to_string());
        }),
        ("max_connections_capped: descriptors needed", |s| {
            s.variables
                .insert("table_open_cache".into(), u64::MAX.to_string());
            s.variables.insert("open_files_limit".into(), "1024".into());
        }),
        ("max_connections_capped: suggested limit rounding", |s| {
            s.variables
                .insert("max_connections".into(), u64::MAX.to_string());
            s.variables.insert("open_files_limit".into(), "1024".into());
        }),
        ("max_connections_low: peak × 10", |s| {
            s.variables.insert("max_connections".into(), "151".into());
            fixtures::set_status(s, "max_used_connections", u64::MAX);
        }),
        ("max_connections_low: suggestion + 25 %", |s| {
            s.variables
                .insert("max_connections".into(), u64::MAX.to_string());
            fixtures::set_status(s, "max_used_connections", u64::MAX);
        }),
        ("refused_connections: max_connections + 1", |s| {
            s.variables
                .insert("max_connections".into(), u64::MAX.to_string());
            fixtures::set_status(s, "threads_connected", u64::MAX);
            fixtures::sample(s, 1.0, &[("connection_errors_max_connections", 1000)]);
        }),
        ("traffic_spike: running × 2", |s| {
            fixtures::sample(
                s,
                1.0,
                &[("threads_running", u64::MAX), ("connections", 10_000_000)],
            );
        }),
        ("thread_cache: size × 2", |s| {
            s.variables
                .insert("thread_cache_size".into(), (u64::MAX / 2 + 1).to_string());
            fixtures::sample(s, 1.0, &[("threads_created", 1_000_000)]);
        }),
        ("per_user_limit_missing: max_connections 0", |s| {
            s.variables.insert("max_connections".into(), "0".into());
            s.variables
                .insert("max_user_connections".into(), "0".into());
        }),
        ("idle_transactions / kill plan: modified rows sum", |s| {
            let mut a = fixtures::trx(5, "RUNNING", 1000, 0, None);
            let mut b = fixtures::trx(6, "RUNNING", 1000, 0, None);
            a.rows_modified = u64::MAX;
            b.rows_modified = u64::MAX;
            s.transactions = vec![a, b];
        }),
    ];
    for (name, edit) in cases {
        for base in [fixtures::mariadb(), fixtures::mysql8()] {
            let mut s = base;
            let sessions = (5..60)
                .map(|id| fixtures::session(id, "app", "10.0.0.1", "Sleep", 100_000, "", None))
                .collect();
            fixtures::with_sessions(&mut s, sessions);
            var(&mut s, "wait_timeout", 28_800);
            edit(&mut s);
            let th = Thresholds::default();
            let r = std::panic::catch_unwind(|| judge_and_render(&s, &th));
            assert!(r.is_ok(), "{name}");
        }
    }
}
