//! `conncheck check` against private MariaDB servers: every path to each monitoring-plugin state
//! (OK, WARNING and CRITICAL from usage, CRITICAL from refusals during the sample and from our
//! own refusal, UNKNOWN from a dead port and from bad flags), the exact Nagios line and perfdata
//! syntax, and the Prometheus output read by a real parser.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use regex::Regex;
use support::{Server, ServerOpts, json};

/// One perfdata item: `'label'=value[UOM];[warn];[crit];[min];[max]`.
const PERF_ITEM: &str = r"'[^'=]+'=(-?[0-9]+(\.[0-9]+)?|U)(%|s|c)?;(@?[0-9]+(\.[0-9]+)?(:[0-9]+)?)?;([0-9]+(\.[0-9]+)?)?;([0-9]+(\.[0-9]+)?)?;([0-9]+(\.[0-9]+)?)?";

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn small_server() -> Server {
    let s = Server::start(ServerOpts {
        max_connections: 10,
        ..ServerOpts::default()
    });
    s.create_user("app", "apppw", "USAGE");
    s
}

/// The first line split into state, summary and perfdata, with the syntax checked.
fn plugin_line(text: &str) -> (String, String, String) {
    let line = text.lines().next().expect("a first line");
    let re = Regex::new(&format!(
        r"^CONNCHECK (OK|WARNING|CRITICAL|UNKNOWN) - ([^|]+?)(?: \| ((?:{PERF_ITEM})(?: {PERF_ITEM})*))?$"
    ))
    .unwrap();
    let caps = re
        .captures(line)
        .unwrap_or_else(|| panic!("not a plugin line: {line}"));
    (
        caps[1].to_string(),
        caps[2].to_string(),
        caps.get(3)
            .map_or(String::new(), |m| m.as_str().to_string()),
    )
}

#[test]
fn ok_with_the_exact_perfdata_labels() {
    let s = Server::shared();
    let out = s
        .conncheck("root", "")
        .args(["check", "--sample", "0"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let (state, summary, perf) = plugin_line(&text);
    assert_eq!(state, "OK");
    assert!(
        Regex::new(r"^\d+ of 200 connections \(\d+%\), \d+ running, \d+ sleeping$")
            .unwrap()
            .is_match(&summary),
        "{summary}"
    );
    let labels: Vec<&str> = Regex::new(r"'([^']+)'=")
        .unwrap()
        .captures_iter(&perf)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    assert_eq!(
        labels,
        [
            "connected",
            "running",
            "usage",
            "max_used",
            "refused",
            "sleeping",
            "oldest_idle",
            "longest_query"
        ]
    );
    // 80 % / 90 % of 200: alert at 160 / 180 connections, i.e. above 159 / 179 for a plugin.
    assert!(
        Regex::new(r"^'connected'=\d+;159;179;0;200 ")
            .unwrap()
            .is_match(&perf),
        "warn/crit/max: {perf}"
    );
    assert!(perf.contains("'usage'="), "{perf}");
    assert!(
        Regex::new(r"'usage'=[0-9.]+%;80;90;0;100")
            .unwrap()
            .is_match(&perf)
    );
    assert!(
        Regex::new(r"'refused'=\d+c;;;0;").unwrap().is_match(&perf),
        "{perf}"
    );
    assert_eq!(text.lines().count(), 1, "no long output when OK: {text}");
}

#[test]
fn warning_then_critical_from_usage() {
    let s = small_server();
    // 7 idle + conncheck itself = 8 of 10 = 80 %.
    let mut conns = s.idle_connections("app", "apppw", 7);
    let out = s
        .conncheck("root", "")
        .args(["check", "--sample", "0"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let (state, summary, _) = plugin_line(&text);
    assert_eq!(state, "WARNING");
    // The plugin line names the verdict's cause: 7 pooled connections hold the slots.
    assert_eq!(
        summary,
        "8 of 10 connections in use (80%), warning threshold 80%; cause: pool-oversized"
    );
    assert!(text.contains("\nWARNING: 8 of 10 connections"), "{text}");

    // Absolute thresholds.
    s.conncheck("root", "")
        .args([
            "check",
            "--sample",
            "0",
            "--warning",
            "20",
            "--critical",
            "30",
        ])
        .assert()
        .code(0);

    conns.extend(s.idle_connections("app", "apppw", 1));
    let out = s
        .conncheck("root", "")
        .args(["check", "--sample", "0", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v = json(&out);
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["state"], "CRITICAL");
    assert_eq!(v["exit_code"], 2);
    assert_eq!(v["reasons"][0]["id"], "usage");
    assert_eq!(v["reasons"][0]["state"], "CRITICAL");
    assert_eq!(v["cause"], "pool-oversized");
    assert_eq!(v["metrics"]["threads_connected"], 9);
    assert_eq!(v["metrics"]["max_connections"], 10);
    assert_eq!(v["metrics"]["sleeping"], 8);
    assert!(v["findings"].is_array());
}

#[test]
fn idle_session_limits_and_fail_on() {
    let s = small_server();
    let _conns = s.idle_connections("app", "apppw", 3);
    // Idle past --idle-threshold 1s, by the server's clock.
    let ids: Vec<u64> = _conns.iter().map(support::conn_id).collect();
    s.wait_aged_ids(&ids, "Sleep", 1000);
    let run = |extra: &[&str]| {
        let mut args = vec!["check", "--sample", "0", "--idle-threshold", "1s"];
        args.extend_from_slice(extra);
        s.conncheck("root", "").args(&args).output().unwrap()
    };
    assert_eq!(run(&["--max-idle", "3"]).status.code(), Some(0));
    let out = run(&["--max-idle", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("3 sessions idle for 1s or more (--max-idle 2)"));
    assert_eq!(run(&["--max-idle", "1"]).status.code(), Some(2));
}

#[test]
fn critical_when_connections_are_refused_during_the_sample() {
    let s = small_server();
    s.create_user("ops", "opspw", "PROCESS, CONNECTION ADMIN");
    // Every ordinary slot taken: conncheck gets in through the reserved slot, the app does not.
    let _full = s.idle_connections("app", "apppw", 10);
    let opts = s.opts("app", "apppw");
    let knocker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(600));
        let mut refused = 0;
        for _ in 0..5 {
            if mysql::Conn::new(opts.clone()).is_err() {
                refused += 1;
            }
            std::thread::sleep(Duration::from_millis(150));
        }
        refused
    });
    // Usage thresholds out of reach, so that only the refusals can make it critical.
    let out = s
        .conncheck("ops", "opspw")
        .args([
            "check",
            "--sample",
            "2s",
            "--warning",
            "99999",
            "--critical",
            "100000",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(knocker.join().unwrap() > 0, "the app logins were refused");
    let v = json(&out);
    assert_eq!(out.status.code(), Some(2), "{v}");
    assert_eq!(v["state"], "CRITICAL");
    assert_eq!(v["reasons"][0]["id"], "refused-during-sample", "{v}");
    assert!(v["metrics"]["refused_during_sample"].as_u64().unwrap() > 0);

    // The same in the plugin format.
    let out = s
        .conncheck("ops", "opspw")
        .args(["check", "--sample", "0"])
        .output()
        .unwrap();
    let (state, summary, _) = plugin_line(&stdout(&out));
    assert_eq!((state.as_str(), out.status.code()), ("CRITICAL", Some(2)));
    assert!(summary.contains("11 of 10 connections"), "{summary}");

    // With the reserved slot taken too, our own refusal is CRITICAL (not UNKNOWN).
    let _admin = s.connect("ops", "opspw").unwrap();
    let out = s
        .conncheck("ops", "opspw")
        .args(["check", "--sample", "0"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    let (state, summary, perf) = plugin_line(&text);
    assert_eq!(state, "CRITICAL");
    assert!(
        summary.contains("refused conncheck with ERROR 1040"),
        "{summary}"
    );
    assert!(perf.is_empty(), "nothing could be measured");
}

#[test]
fn unknown_from_a_dead_port_and_from_bad_flags() {
    let port = support::unused_port().to_string();
    let out = support::conncheck()
        .args([
            "--no-defaults",
            "-h",
            "127.0.0.1",
            "-P",
            &port,
            "-u",
            "root",
        ])
        .args(["check", "--connect-timeout", "2s"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    let (state, summary, perf) = plugin_line(&text);
    assert_eq!(state, "UNKNOWN");
    assert!(summary.contains(&port), "{summary}");
    assert!(perf.is_empty());
    assert!(text.contains("\nUNKNOWN: "), "reason with its hint: {text}");

    for bad in [
        vec!["check", "--bogus"],
        vec!["check", "--warning", "lots"],
        vec!["check", "--format", "xml"],
        vec!["check", "--sample", "-1s"],
        vec!["check", "--forecast", "0"],
        vec!["check", "--forecast", "15m", "--forecast-window", "1s"],
        vec!["check", "--forecast-window", "30s"],
    ] {
        let out = support::conncheck().args(&bad).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{bad:?}");
        assert!(!out.stderr.is_empty(), "{bad:?} explains itself");
    }
}

#[test]
fn prometheus_output_parses() {
    let s = Server::shared();
    let out = s
        .conncheck("root", "")
        .args(["check", "--sample", "0", "--format", "prometheus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert_valid_exposition(&text);
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let value = |name: &str| -> f64 {
        let sample = scrape
            .samples
            .iter()
            .find(|x| x.metric == name)
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"));
        match sample.value {
            prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => panic!("{name}: unexpected type"),
        }
    };
    assert_eq!(value("mysql_up"), 1.0);
    assert_eq!(value("mysql_global_variables_max_connections"), 200.0);
    assert!(value("mysql_global_status_threads_connected") >= 1.0);
    assert_eq!(value("conncheck_check_state"), 0.0);
    let ratio = value("conncheck_usage_ratio");
    assert!(ratio > 0.0 && ratio < 1.0);
    let errors = scrape
        .samples
        .iter()
        .find(|x| x.metric == "mysql_global_status_connection_errors_total")
        .expect("connection errors");
    assert_eq!(errors.labels.get("error"), Some("max_connection"));
    assert!(matches!(errors.value, prometheus_parse::Value::Counter(_)));
    assert!(
        scrape
            .docs
            .contains_key("mysql_global_status_threads_connected"),
        "HELP lines"
    );
}

/// A strict check of the text format, line by line, on top of the (lenient) parser: every line
/// is a HELP, a TYPE or a sample of the family announced just before it; every family is
/// announced once; label values are properly quoted and escaped.
pub fn assert_valid_exposition(text: &str) {
    let name = r"[a-zA-Z_:][a-zA-Z0-9_:]*";
    let help = Regex::new(&format!(r"^# HELP ({name}) (\S.*)$")).unwrap();
    let typ = Regex::new(&format!(
        r"^# TYPE ({name}) (counter|gauge|untyped|summary|histogram)$"
    ))
    .unwrap();
    let sample = Regex::new(&format!(
        r#"^({name})(\{{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\}})? (-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|NaN|[+-]Inf)$"#
    ))
    .unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut current = String::new();
    assert!(text.ends_with('\n'), "ends with a newline");
    for line in text.lines() {
        if let Some(c) = help.captures(line) {
            assert!(seen.insert(c[1].to_string()), "{} announced twice", &c[1]);
            current = c[1].to_string();
        } else if let Some(c) = typ.captures(line) {
            assert_eq!(&c[1], current, "TYPE right after its HELP: {line}");
        } else if let Some(c) = sample.captures(line) {
            assert_eq!(&c[1], current, "sample under its own family: {line}");
            assert!(
                matches!(
                    prometheus_parse::LineInfo::parse(line),
                    prometheus_parse::LineInfo::Sample { .. }
                ),
                "{line}"
            );
        } else {
            panic!("not exposition format: {line:?}\n{text}");
        }
    }
}

/// Two independent row-lock pile-ups (two `lock-pileup` findings) on a server listed twice, next
/// to a dead target: every Prometheus series (name and label set) appears once, the finding
/// series counts 2, and the Nagios perfdata labels are not repeated.
#[test]
fn prometheus_has_one_series_per_label_set() {
    use mysql::prelude::Queryable;
    let s = Server::start(ServerOpts {
        extra_args: vec!["--innodb-lock-wait-timeout=300".into()],
        ..ServerOpts::default()
    });
    s.create_user("piles", "pw", "USAGE");
    s.sql("CREATE TABLE piles_db.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB");
    s.sql("INSERT INTO piles_db.t VALUES (1, 0), (2, 0)");
    let mut blockers = Vec::new();
    let mut waiters = Vec::new();
    for row in [1, 2] {
        let mut b = s.connect("piles", "pw").unwrap();
        b.query_drop("BEGIN").unwrap();
        b.query_drop(format!("UPDATE piles_db.t SET v = v + 1 WHERE id = {row}"))
            .unwrap();
        blockers.push(b);
        for i in 0..4 {
            waiters.push(s.background_query(
                "piles",
                "pw",
                &format!("UPDATE piles_db.t SET v = v + {i} WHERE id = {row}"),
            ));
        }
    }
    // Three waiters behind each blocker make a pile-up. MariaDB 10.11 sometimes leaves one
    // waiting UPDATE out of INNODB_TRX for many seconds (seen here: in the processlist as
    // `Updating`, no transaction row), so each row gets four and the test waits for three.
    s.wait_until(
        "3 row-lock waiters behind each blocker",
        Duration::from_secs(20),
        |c| {
            [1, 2].iter().all(|row| {
                let n: Option<u64> = c
                    .query_first(format!(
                        "SELECT COUNT(*) FROM information_schema.INNODB_TRX \
                     WHERE trx_state = 'LOCK WAIT' AND trx_query LIKE '%piles_db.t%id = {row}'"
                    ))
                    .unwrap();
                n >= Some(3)
            })
        },
    );
    std::thread::sleep(Duration::from_millis(1100));

    let url = s.url("root", "");
    let dead = format!("mysql://root@127.0.0.1:{}/", support::unused_port());
    let run = |format: &str| {
        support::conncheck()
            .args(["check", "--sample", "0", "--trx-threshold", "1s"])
            .args(["--format", format, "--connect-timeout", "2s"])
            .args(["--url", &url, "--url", &dead, "--url", &url])
            .output()
            .unwrap()
    };
    let out = run("prometheus");
    let text = stdout(&out);
    assert_valid_exposition(&text);
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let mut series = std::collections::HashSet::new();
    for sample in &scrape.samples {
        let mut labels: Vec<(String, String)> = sample
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labels.sort();
        assert!(
            series.insert((sample.metric.clone(), labels.clone())),
            "duplicate series {} {labels:?}:\n{text}",
            sample.metric
        );
    }
    let target = format!("127.0.0.1:{}", s.port());
    let piles: Vec<_> = scrape
        .samples
        .iter()
        .filter(|x| {
            x.metric == "conncheck_finding"
                && x.labels.get("id") == Some("lock-pileup")
                && x.labels.get("target") == Some(target.as_str())
        })
        .collect();
    assert_eq!(piles.len(), 1, "{text}");
    assert!(
        matches!(piles[0].value, prometheus_parse::Value::Gauge(v) if v == 2.0),
        "two pile-ups count 2:\n{text}"
    );
    let up: Vec<_> = scrape
        .samples
        .iter()
        .filter(|x| x.metric == "mysql_up")
        .collect();
    assert_eq!(
        up.len(),
        2,
        "the server once, the dead target once:\n{text}"
    );
    assert!(
        !text.contains("120.80000000000001") && !text.contains("0000000001"),
        "no floating-point noise:\n{text}"
    );

    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "note: {target} is listed more than once: checked once"
        )),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nagios = stdout(&run("nagios"));
    let perf = nagios.lines().next().unwrap().split_once(" | ").unwrap().1;
    let labels: Vec<&str> = perf
        .split(' ')
        .filter_map(|item| item.split_once("'=").map(|(l, _)| l))
        .collect();
    let unique: std::collections::HashSet<&&str> = labels.iter().collect();
    assert_eq!(labels.len(), unique.len(), "{nagios}");
    assert!(!labels.is_empty(), "{nagios}");
    drop(waiters);
    drop(blockers);
}

/// A leak that opens a connection every `every` until stopped, holding them all.
struct Leak {
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<(Vec<mysql::Conn>, Vec<Instant>)>>,
}

impl Leak {
    fn start(s: &Server, every: Duration) -> Leak {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let opts = s.opts("app", "apppw");
        let handle = thread::spawn(move || {
            let mut held = Vec::new();
            let mut opened = Vec::new();
            let start = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                held.push(mysql::Conn::new(opts.clone()).expect("leaked connection"));
                opened.push(Instant::now());
                let due = every * u32::try_from(held.len()).unwrap();
                thread::sleep(due.saturating_sub(start.elapsed()));
            }
            (held, opened)
        });
        Leak {
            stop,
            handle: Some(handle),
        }
    }

    /// The connections held, and when each was opened.
    fn stop(mut self) -> (Vec<mysql::Conn>, Vec<Instant>) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().unwrap().join().unwrap()
    }
}

/// `check --forecast 15m` as root over a `window`, in `format`.
fn forecast_check(s: &Server, window: &str, format: &str) -> std::process::Output {
    s.conncheck("root", "")
        .args(["check", "--forecast", "15m", "--forecast-window", window])
        .args(["--format", format])
        .output()
        .unwrap()
}

/// Issue 15: `check --forecast` fits the trend over its window. A steady leak of 4 connections a
/// second (240/min) on a server with max_connections 300 is WARNING with a finite time to full
/// close to what the leak really needs; a flat server has no time to full and stays OK.
#[test]
fn the_forecast_warns_before_a_steady_leak_fills_the_server() {
    let s = Server::start(ServerOpts {
        max_connections: 300,
        ..ServerOpts::default()
    });
    s.create_user("app", "apppw", "USAGE");
    let _flat = s.idle_connections("app", "apppw", 20);

    // Flat: 20 idle connections and nothing else.
    let out = forecast_check(&s, "6s", "json");
    let v = json(&out);
    assert_eq!(v["state"], "OK", "{v}");
    let f = &v["forecast"];
    assert!(
        f["full_in_s"].is_null(),
        "a flat line has no time to full: {f}"
    );
    assert!(f["rate_per_min"].as_f64().unwrap().abs() < 10.0, "{f}");
    assert_eq!(f["trend"], "flat");
    assert!(
        f["points"].as_u64().unwrap() >= 20,
        "about 30 readings: {f}"
    );
    assert_eq!(v["forecast_horizon_s"], 900);
    let out = forecast_check(&s, "6s", "nagios");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let (_, _, perf) = plugin_line(&text);
    assert!(
        perf.contains("'time_to_full'=U;@0:900;;0;"),
        "undetermined without a rising trend: {perf}"
    );
    let out = forecast_check(&s, "5s", "prometheus");
    let text = stdout(&out);
    assert_valid_exposition(&text);
    assert!(
        text.contains("\nconncheck_forecast_full_in_seconds +Inf\n"),
        "{text}"
    );

    // A steady leak.
    let leak = Leak::start(&s, Duration::from_millis(250));
    thread::sleep(Duration::from_secs(1));
    let checked = Instant::now();
    let out = forecast_check(&s, "8s", "json");
    let window = checked.elapsed();
    let (held, opened) = leak.stop();
    // The leak's real pace during the check (a loaded machine may slow it below 4/s).
    let during = opened
        .iter()
        .filter(|t| t.duration_since(checked) <= window)
        .filter(|t| **t >= checked)
        .count();
    let real_per_s = during as f64 / window.as_secs_f64();
    let v = json(&out);
    assert_eq!(v["state"], "WARNING", "{v}");
    let reason = v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "forecast")
        .unwrap_or_else(|| panic!("a forecast reason: {}", v["reasons"]));
    assert!(
        reason["message"]
            .as_str()
            .unwrap()
            .contains("connections/min the server is full"),
        "{reason}"
    );
    let f = &v["forecast"];
    assert_eq!(f["trend"], "rising", "{f}");
    let rate = f["rate_per_min"].as_f64().unwrap();
    assert!(
        (rate / 60.0 - real_per_s).abs() <= 0.3 * real_per_s,
        "the fitted rate follows the leak's real {real_per_s:.2}/s: {f} ({} held)",
        held.len()
    );
    let connected = f["connected"].as_f64().unwrap();
    let full = f["full_in_s"].as_f64().expect("a finite time to full");
    let expected = (300.0 - connected) / (rate / 60.0);
    assert!(
        (full - expected).abs() < 1.0,
        "time to full follows from the rate: {full} vs {expected}"
    );
    // And roughly right against the leak itself: what is left at its real pace.
    let real = (300.0 - connected) / real_per_s;
    assert!(
        full > real * 0.7 && full < real * 1.4,
        "{full} s against a real {real:.1} s"
    );
    drop(held);
}
