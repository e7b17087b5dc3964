//! Several targets at once: private servers plus a dead port and a listener that never answers.
//! A dead or silent target is reported with its own error while the others answer (that targets
//! run concurrently is proven without a clock by `fleet`'s unit test), every output format covers
//! every target, `check` exits with the worst state, and no
//! password is ever printed.

use crate::support;

use support::{Server, ServerOpts, SilentListener, json};

const SECRET: &str = "s3cret-pw";

struct Fleet {
    servers: Vec<Server>,
    silent: SilentListener,
    dead_port: u16,
}

impl Fleet {
    fn start() -> Fleet {
        let servers: Vec<Server> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..3)
                .map(|_| scope.spawn(|| Server::start(ServerOpts::default())))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        Fleet {
            servers,
            silent: SilentListener::start(),
            dead_port: support::unused_port(),
        }
    }

    /// `--url` arguments: the servers, then the dead port (with a password), then the silent one.
    fn urls(&self) -> Vec<String> {
        let mut v: Vec<String> = self.servers.iter().map(|s| s.url("root", "")).collect();
        v.push(format!(
            "mysql://root:{SECRET}@127.0.0.1:{}/",
            self.dead_port
        ));
        v.push(format!("mysql://root@127.0.0.1:{}/", self.silent.port));
        v
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        let mut c = support::conncheck();
        c.args(["--no-defaults", "--connect-timeout", "2s"]);
        for u in self.urls() {
            c.args(["--url", &u]);
        }
        c.args(args);
        c.output().unwrap()
    }
}

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn many_servers_concurrently_in_every_format() {
    let fleet = Fleet::start();
    let ports: Vec<String> = fleet
        .servers
        .iter()
        .map(|s| format!("127.0.0.1:{}", s.port()))
        .collect();

    // status: a JSON array in target order; the slow targets cost one timeout, not two.
    let out = fleet.run(&["status", "--format", "json"]);
    assert!(!text(&out).contains(SECRET), "{}", text(&out));
    assert_eq!(
        out.status.code(),
        Some(14),
        "the first failure: unreachable"
    );
    let v = json(&out);
    let arr = v.as_array().expect("an array");
    assert_eq!(arr.len(), 5);
    for (i, port) in ports.iter().enumerate() {
        assert_eq!(&arr[i]["target"], port);
        assert_eq!(arr[i]["connections"]["max_connections"], 200);
    }
    assert_eq!(arr[3]["error"]["kind"], "unreachable");
    assert_eq!(arr[3]["target"], format!("127.0.0.1:{}", fleet.dead_port));
    assert_eq!(arr[4]["error"]["kind"], "timeout");

    // status table: one line per target.
    let out = fleet.run(&["status"]);
    let t = text(&out);
    for port in &ports {
        assert!(t.contains(port.as_str()), "{t}");
    }
    assert!(t.contains("unreachable") && t.contains("timeout"), "{t}");
    assert!(t.contains("top client"), "{t}");

    // check: the worst state is UNKNOWN (no server is in trouble), in the plugin format.
    let out = fleet.run(&["check", "--sample", "0"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(3), "{t}");
    assert!(
        t.starts_with("CONNCHECK UNKNOWN - 5 targets: 2 UNKNOWN, 3 OK | "),
        "{t}"
    );
    assert!(t.contains(&format!("'{} connected'=", ports[0])), "{t}");
    assert!(!t.contains(SECRET));

    // Prometheus: one family each, a target label on every sample.
    let out = fleet.run(&["check", "--sample", "0", "--format", "prometheus"]);
    let t = String::from_utf8_lossy(&out.stdout).into_owned();
    let scrape = prometheus_parse::Scrape::parse(t.lines().map(|l| Ok(l.to_string()))).unwrap();
    let up: Vec<(String, f64)> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "mysql_up")
        .map(|s| {
            let v = match s.value {
                prometheus_parse::Value::Gauge(v) => v,
                _ => panic!("mysql_up is a gauge"),
            };
            (s.labels.get("target").unwrap().to_string(), v)
        })
        .collect();
    assert_eq!(up.len(), 5, "{t}");
    assert_eq!(up.iter().filter(|(_, v)| *v == 1.0).count(), 3);
    assert_eq!(t.matches("# TYPE mysql_up gauge").count(), 1);
    assert!(
        scrape
            .samples
            .iter()
            .all(|s| s.labels.get("target").is_some())
    );

    // diagnose: a summary table with the top finding.
    let out = fleet.run(&["diagnose", "--sample", "0"]);
    let t = text(&out);
    assert!(t.contains("top finding"), "{t}");
    for port in &ports {
        assert!(t.contains(port.as_str()), "{t}");
    }
}

#[test]
fn check_exits_with_the_worst_state() {
    let ok = Server::shared();
    let busy = Server::start(ServerOpts {
        max_connections: 10,
        ..ServerOpts::default()
    });
    busy.create_user("app", "apppw", "USAGE");
    let _idle = busy.idle_connections("app", "apppw", 8);
    let dead = format!("mysql://root@127.0.0.1:{}/", support::unused_port());
    let run = |urls: &[&str]| {
        let mut c = support::conncheck();
        c.args(["--no-defaults", "--connect-timeout", "2s"]);
        for u in urls {
            c.args(["--url", u]);
        }
        c.args(["check", "--sample", "0", "--format", "json"])
            .output()
            .unwrap()
    };
    let (ok_url, busy_url) = (ok.url("root", ""), busy.url("root", ""));
    let out = run(&[&ok_url, &busy_url, &dead]);
    assert_eq!(out.status.code(), Some(2), "CRITICAL beats UNKNOWN");
    let v = json(&out);
    let states: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["OK", "CRITICAL", "UNKNOWN"]);
    assert_eq!(
        run(&[&ok_url, &dead]).status.code(),
        Some(3),
        "UNKNOWN beats OK"
    );
    assert_eq!(run(&[&ok_url, &ok_url]).status.code(), Some(0));

    // A targets file, with comments, gives the same.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fleet.txt");
    std::fs::write(
        &file,
        format!("# the fleet\n{ok_url}\n\n{busy_url}   # the busy one\n"),
    )
    .unwrap();
    support::conncheck()
        .args(["--no-defaults", "--targets", file.to_str().unwrap()])
        .args(["check", "--sample", "0"])
        .assert()
        .code(2)
        .stdout(predicates::str::starts_with(
            "CONNCHECK CRITICAL - 2 targets: 1 CRITICAL, 1 OK",
        ));
}

/// `--deadline`: a target still connecting when it passes (a listener that never greets, with a
/// connect timeout far beyond the deadline) is reported with the reason in every output format,
/// while the live server's result stands; the run ends at the deadline, not at the timeout.
#[test]
fn the_deadline_reports_unfinished_targets_in_every_format() {
    let live = Server::shared();
    let silent = SilentListener::start();
    let silent_label = format!("127.0.0.1:{}", silent.port);
    let live_label = format!("127.0.0.1:{}", live.port());
    let urls = [
        live.url("root", ""),
        format!("mysql://root@127.0.0.1:{}/", silent.port),
    ];
    let reason = "not finished within --deadline 6s: still connecting";
    let run = |args: &[&str]| {
        let mut c = support::conncheck();
        c.args([
            "--no-defaults",
            "--connect-timeout",
            "120s",
            "--deadline",
            "6s",
        ]);
        for u in &urls {
            c.args(["--url", u]);
        }
        c.args(args).output().unwrap()
    };
    // The seven runs at once: each waits out its deadline.
    let formats: [&[&str]; 7] = [
        &["check", "--sample", "0"],
        &["check", "--sample", "0", "--format", "json"],
        &["check", "--sample", "0", "--format", "prometheus"],
        &["status", "--sample", "0"],
        &["status", "--sample", "0", "--format", "json"],
        &["diagnose", "--sample", "0"],
        &["diagnose", "--sample", "0", "--format", "json"],
    ];
    let outs: Vec<std::process::Output> = std::thread::scope(|s| {
        let handles: Vec<_> = formats.iter().map(|a| s.spawn(|| run(a))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let nagios = text(&outs[0]);
    assert_eq!(outs[0].status.code(), Some(3), "{nagios}");
    assert!(
        nagios.starts_with("CONNCHECK UNKNOWN - 2 targets: 1 UNKNOWN, 1 OK"),
        "{nagios}"
    );
    assert!(nagios.contains(reason), "{nagios}");

    let v = json(&outs[1]);
    let arr = v.as_array().unwrap();
    assert_eq!(
        (arr[0]["target"].as_str(), arr[0]["state"].as_str()),
        (Some(live_label.as_str()), Some("OK"))
    );
    assert_eq!(arr[1]["target"], silent_label.as_str());
    assert_eq!(arr[1]["state"], "UNKNOWN");
    assert_eq!(arr[1]["reasons"][0]["id"], "deadline");
    assert!(
        arr[1]["reasons"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with(reason),
        "{}",
        arr[1]
    );

    let prom = String::from_utf8_lossy(&outs[2].stdout).into_owned();
    assert!(
        prom.contains(&format!(
            "conncheck_unknown_reason{{target=\"{silent_label}\",reason=\"deadline\"}} 1"
        )),
        "{prom}"
    );
    assert!(
        prom.contains(&format!("mysql_up{{target=\"{live_label}\"}} 1")),
        "{prom}"
    );
    prometheus_parse::Scrape::parse(prom.lines().map(|l| Ok(l.to_string()))).unwrap();

    for (i, what) in [(3, "status"), (5, "diagnose")] {
        let t = text(&outs[i]);
        assert_eq!(
            outs[i].status.code(),
            Some(15),
            "{what}: the timeout exit code\n{t}"
        );
        assert!(t.contains(reason) && t.contains(&live_label), "{what}: {t}");
    }
    for (i, what) in [(4, "status"), (6, "diagnose")] {
        let v = json(&outs[i]);
        let arr = v.as_array().unwrap();
        assert!(arr[0].get("error").is_none(), "{what}: {}", arr[0]);
        assert_eq!(arr[1]["error"]["kind"], "timeout", "{what}");
        assert!(
            arr[1]["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(reason),
            "{what}: {}",
            arr[1]
        );
    }
}
