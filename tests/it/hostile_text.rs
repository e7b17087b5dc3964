//! Terminal injection: any database user controls query texts, user names and database names,
//! and conncheck prints them to the person on call. On a private server, sessions whose query
//! text, user name, database name and program name carry ESC sequences, BEL, NUL, a C1 control
//! (U+009B, the one-byte CSI) and bidi overrides; every human output must reach the terminal
//! without one raw control byte, while the JSON keeps the exact text.

use crate::support;

use std::collections::HashMap;
use std::time::Duration;

use mysql::prelude::Queryable;
use support::{Server, ServerOpts, json_ok};

/// A user name that retitles the terminal window and rings the bell.
const USER: &str = "a\x1b]0;pwned\x07\u{9b}2J\u{202e}";
const PASSWORD: &str = "pw";
/// The query of the report: clears the screen and the scrollback when printed raw.
const QUERY: &str = "SELECT SLEEP(600)/*\x1b[H\x1b[2J\x1b[3J\x07\u{9b}31m\u{202e}evil*/";
/// A second user whose query carries a NUL byte inside a string literal.
const NUL_USER: &str = "n\x1b[31mul";
const NUL_QUERY: &str = "SELECT SLEEP(600), 'x\0y'";
/// The program name (connection attribute) of the hostile sessions.
const PROGRAM: &str = "prog\x1b]2;t\x07";

/// Fails when `out` holds a byte a terminal would act on: below 0x20 except newline and tab,
/// DEL, or the C1 controls as UTF-8 (`\xc2\x80`..`\xc2\x9f`, e.g. `\xc2\x9b` = CSI).
fn assert_terminal_safe(what: &str, out: &[u8]) {
    let text = String::from_utf8_lossy(out);
    for (i, b) in out.iter().enumerate() {
        let bad = (*b < 0x20 && *b != b'\n' && *b != b'\t')
            || *b == 0x7f
            || (*b == 0xc2 && out.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)));
        assert!(!bad, "{what}: raw byte {b:#04x} at {i}:\n{text}");
    }
    for bidi in ['\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}'] {
        assert!(!text.contains(bidi), "{what}: raw bidi override:\n{text}");
    }
}

struct Hostile {
    server: Server,
    _queries: Vec<support::BackgroundQuery>,
    _idle: Vec<mysql::Conn>,
}

fn hostile_server() -> Hostile {
    let server = Server::start(ServerOpts::default());
    // create_user also creates the database `<user>_db`: a database name with the same bytes.
    server.create_user(USER, PASSWORD, "USAGE");
    server.create_user(NUL_USER, PASSWORD, "USAGE");
    let with_program = |user: &str| {
        let attrs: HashMap<&str, &str> = [("program_name", PROGRAM)].into_iter().collect();
        server
            .opts(user, PASSWORD)
            .db_name(Some(format!("{user}_db")))
            .connect_attrs(Some(attrs))
    };
    // Idle sessions of the hostile user in its hostile database: it is the top client.
    let idle: Vec<mysql::Conn> = (0..3)
        .map(|_| {
            let mut c = mysql::Conn::new(with_program(USER)).expect("hostile user connects");
            c.query_drop("SELECT 1").unwrap();
            c
        })
        .collect();
    let queries = vec![
        server.background_query(USER, PASSWORD, QUERY),
        server.background_query(NUL_USER, PASSWORD, NUL_QUERY),
    ];
    server.wait_until("the hostile queries run", Duration::from_secs(10), |c| {
        let n: Option<u64> = c
            .query_first(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(600)%'",
            )
            .unwrap();
        n == Some(2)
    });
    // The queries must have run for a second or more to count as long with --long-query-threshold 1s.
    std::thread::sleep(Duration::from_millis(1100));
    Hostile {
        server,
        _queries: queries,
        _idle: idle,
    }
}

fn run(s: &Server, args: &[&str]) -> std::process::Output {
    s.conncheck("root", "").args(args).output().unwrap()
}

#[test]
fn no_human_output_passes_a_control_character_and_json_keeps_the_exact_text() {
    let h = hostile_server();
    let s = &h.server;

    let human: &[(&str, &[&str])] = &[
        ("sessions", &["sessions"]),
        ("sessions --full", &["sessions", "--full"]),
        (
            "sessions --group-by user",
            &["sessions", "--group-by", "user"],
        ),
        ("sessions --group-by db", &["sessions", "--group-by", "db"]),
        ("status", &["status"]),
        (
            "diagnose --verbose",
            &[
                "diagnose",
                "--sample",
                "0",
                "--verbose",
                "--long-query-threshold",
                "1s",
                "--idle-threshold",
                "1s",
            ],
        ),
        (
            "check (nagios)",
            &[
                "check",
                "--sample",
                "0",
                "--fail-on",
                "warning",
                "--max-long",
                "0",
                "--long-query-threshold",
                "1s",
            ],
        ),
        (
            "watch --count 1",
            &["watch", "--count", "1", "--interval", "200ms"],
        ),
        (
            "set-timeouts --dry-run",
            &["set-timeouts", "--wait-timeout", "600s", "--dry-run"],
        ),
    ];
    for (what, args) in human {
        let out = run(s, args);
        // 0-3: a report (check's plugin states included), never a usage or connection error.
        assert!(
            out.status
                .code()
                .is_some_and(|c| c <= 3 && c != 2 || what.starts_with("check")),
            "{what}: exit {:?}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stdout.len() > 40,
            "{what}: no report\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_terminal_safe(what, &out.stdout);
        assert_terminal_safe(&format!("{what} (stderr)"), &out.stderr);
    }

    // The hostile names are shown, visibly escaped.
    let table = String::from_utf8(run(s, &["sessions"]).stdout).unwrap();
    assert!(table.contains(r"a\e]0;pwned\x07\x9b2J\u{202e}"), "{table}");
    let full = String::from_utf8(run(s, &["sessions", "--full"]).stdout).unwrap();
    assert!(
        full.contains(r"SELECT SLEEP(600)/*\e[H\e[2J\e[3J\x07\x9b31m\u{202e}evil*/"),
        "--full shows the whole text, escaped, never truncated:\n{full}"
    );
    assert!(full.contains(r"'x\0y'"), "{full}");
    let status = String::from_utf8(run(s, &["status"]).stdout).unwrap();
    assert!(
        status.contains(&format!("Server: 127.0.0.1:{} (", s.port()))
            && status.contains(" as root@"),
        "status names the server and the account:\n{status}"
    );
    let diagnose = String::from_utf8(run(s, &["diagnose", "--sample", "0"]).stdout).unwrap();
    assert!(
        diagnose.starts_with(&format!("Server: 127.0.0.1:{} (", s.port()))
            && diagnose.contains(" as root@"),
        "diagnose names the server and the account:\n{diagnose}"
    );
    let nagios = String::from_utf8(
        run(
            s,
            &[
                "check",
                "--sample",
                "0",
                "--fail-on",
                "warning",
                "--max-long",
                "0",
                "--long-query-threshold",
                "1s",
            ],
        )
        .stdout,
    )
    .unwrap();
    assert!(nagios.starts_with("CONNCHECK WARNING - "), "{nagios}");
    assert_eq!(
        nagios.lines().next().unwrap().matches('|').count(),
        1,
        "one status line, perfdata after the only `|`:\n{nagios}"
    );

    // Several targets: the summary table names the top client (the hostile user).
    let multi = s
        .conncheck("root", "")
        .args([
            "status",
            "--url",
            &s.url("root", ""),
            "--url",
            &format!("mysql://root@127.0.0.1:{}/", support::unused_port()),
        ])
        .output()
        .unwrap();
    assert_terminal_safe("status, two targets", &multi.stdout);
    assert!(
        String::from_utf8_lossy(&multi.stdout).contains(r"a\e]0;pwned"),
        "{}",
        String::from_utf8_lossy(&multi.stdout)
    );

    // JSON keeps the exact text (serde escapes the controls as \u001b ...).
    let v = json_ok(&run(s, &["sessions", "--format", "json"]));
    let sessions = v["sessions"].as_array().unwrap();
    let hostile = sessions
        .iter()
        .find(|x| x["info"] == QUERY)
        .unwrap_or_else(|| panic!("the exact query text in JSON: {v}"));
    assert_eq!(hostile["user"], USER);
    assert!(sessions.iter().any(|x| x["info"] == NUL_QUERY), "{v}");
    assert!(
        sessions
            .iter()
            .any(|x| x["db"] == format!("{USER}_db").as_str()),
        "{v}"
    );
    let json_text = String::from_utf8(run(s, &["sessions", "--format", "json"]).stdout).unwrap();
    assert_terminal_safe("sessions --format json", json_text.as_bytes());
    let d = json_ok(&run(
        s,
        &[
            "diagnose",
            "--sample",
            "0",
            "--format",
            "json",
            "--long-query-threshold",
            "1s",
        ],
    ));
    assert!(d.to_string().contains("pwned"), "{d}");
}

/// `watch` on a terminal: the screen shows the hostile user name escaped; no OSC sequence (window
/// title), BEL or C1 control from the server reaches the pseudo-terminal. Our own screen control
/// (clear, home, hide the cursor) is the only ESC in the output.
#[test]
fn watch_on_a_terminal_cannot_be_retitled() {
    let h = hostile_server();
    let mut cmd = h.server.process("root", "");
    cmd.env("COLUMNS", "200")
        .args(["watch", "--interval", "200ms"]);
    let mut p = rexpect::session::spawn_command(cmd, Some(30_000)).unwrap();
    let mut screen = p.exp_string("History").unwrap();
    screen.push_str(&p.exp_string("Top clients").unwrap());
    screen.push_str(&p.exp_string("History").unwrap());
    screen.push_str(&p.exp_string("Top clients").unwrap());
    p.send("q").unwrap();
    p.flush().unwrap();
    p.exp_eof().unwrap();
    assert!(screen.contains(r"a\e]0;pwned\x07"), "{screen:?}");
    for bad in ["\x1b]", "\x07", "\u{9b}", "\u{202e}", "\0"] {
        assert!(
            !screen.contains(bad),
            "{bad:?} reached the terminal: {screen:?}"
        );
    }
    // Ours: home + clear per frame, and once the alternate screen and the hidden cursor.
    let frames = screen.matches("\x1b[1;1H\x1b[2J").count();
    let once = screen.matches("\x1b[?1049h").count() + screen.matches("\x1b[?25l").count();
    let ours = frames + once;
    assert_eq!(
        screen.matches('\x1b').count(),
        2 * frames + once,
        "only our own screen control ({ours} sequences): {screen:?}"
    );
}
