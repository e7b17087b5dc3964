//! Terminal injection: any database user controls query texts, user names and database names,
//! and conncheck prints them to the person on call. On a private server, sessions whose query
//! text, user name, database name and program name carry ESC sequences, BEL, NUL, a C1 control
//! (U+009B, the one-byte CSI) and bidi overrides; every human output must reach the terminal
//! without one raw control byte, while the JSON keeps the exact text. Likewise the characters a
//! terminal draws as nothing or as a plain space (zero-width, special spaces, Hangul fillers):
//! `app` and `app` + U+200B never print the same, and a kill plan flags the lookalike.

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
    // Idle sessions of the hostile user in its hostile database: it is the top client.
    let idle: Vec<mysql::Conn> = (0..3)
        .map(|_| idle_with_program(&server, USER, PROGRAM))
        .collect();
    let queries = vec![
        server.background_query(USER, PASSWORD, QUERY),
        server.background_query(NUL_USER, PASSWORD, NUL_QUERY),
    ];
    wait_for_sleeps(&server, 2);
    // The queries must have run for a second or more to count as long with --long-query-threshold 1s.
    let ids: Vec<u64> = queries.iter().map(|q| q.id).collect();
    server.wait_aged_ids(&ids, "Query", 1000);
    Hostile {
        server,
        _queries: queries,
        _idle: idle,
    }
}

/// An idle session of `user` in its database `<user>_db`, with the program name `program`.
fn idle_with_program(server: &Server, user: &str, program: &str) -> mysql::Conn {
    let attrs: HashMap<&str, &str> = [("program_name", program)].into_iter().collect();
    let opts = server
        .opts(user, PASSWORD)
        .db_name(Some(format!("{user}_db")))
        .connect_attrs(Some(attrs));
    let mut c = mysql::Conn::new(opts).expect("the hostile user connects");
    c.query_drop("SELECT 1").unwrap();
    c
}

/// Until `n` statements `SELECT SLEEP(600)...` run.
fn wait_for_sleeps(server: &Server, n: u64) {
    server.wait_until("the hostile queries run", Duration::from_secs(10), |c| {
        let running: Option<u64> = c
            .query_first(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(600)%'",
            )
            .unwrap();
        running == Some(n)
    });
}

fn run(s: &Server, args: &[&str]) -> std::process::Output {
    s.conncheck("root", "").args(args).output().unwrap()
}

/// Every human output (`what`, arguments), as root.
const HUMAN: &[(&str, &[&str])] = &[
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
        "set-timeouts --kill-existing --dry-run",
        &[
            "set-timeouts",
            "--wait-timeout",
            "600s",
            "--kill-existing",
            "--dry-run",
        ],
    ),
    (
        "kill-idle plan",
        &["kill-idle", "--older-than", "0s", "--dry-run"],
    ),
    (
        "kill-long plan",
        &["kill-long", "--longer-than", "0s", "--dry-run"],
    ),
];

/// Runs every [`HUMAN`] output: each is a report (exit 0-3, check's plugin states included, never
/// a usage or connection error) and neither its stdout nor its stderr holds a raw control or
/// invisible character. Their stdout by `what`.
fn human_outputs(s: &Server) -> HashMap<&'static str, String> {
    let mut outputs = HashMap::new();
    for (what, args) in HUMAN {
        let out = run(s, args);
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
        assert_no_invisible(what, &out.stdout);
        assert_no_invisible(&format!("{what} (stderr)"), &out.stderr);
        outputs.insert(*what, String::from_utf8(out.stdout).unwrap());
    }
    outputs
}

#[test]
fn no_human_output_passes_a_control_character_and_json_keeps_the_exact_text() {
    let h = hostile_server();
    let s = &h.server;

    human_outputs(s);

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

/// Two accounts a person cannot tell apart when printed raw: `app`, and `app` followed by a
/// ZERO WIDTH SPACE (issue "Trust under new attacks", item 13).
const PLAIN: &str = "app";
const TWIN: &str = "app\u{200b}";
/// A user (and its database `<user>_db`) with one character of each kind a terminal draws as
/// nothing or as a plain space: Zs (no-break, ideographic, Ogham), Cf (soft hyphen, BOM, a bidi
/// isolate), Zl, Zp, a Hangul filler.
const ODD: &str = "odd\u{a0}\u{ad}\u{3000}\u{2028}\u{3164}\u{feff}\u{2066}\u{1680}";
const ODD_PROGRAM: &str = "prog\u{200d}\u{115f}\u{202f}";
const ODD_QUERY: &str = "SELECT SLEEP(600) /*\u{200b}\u{2029}\u{ffa0}\u{205f}\u{2060}*/";
/// Every invisible character the sessions above carry.
const HIDDEN: &[char] = &[
    '\u{200b}', '\u{a0}', '\u{ad}', '\u{3000}', '\u{2028}', '\u{3164}', '\u{feff}', '\u{2066}',
    '\u{1680}', '\u{200d}', '\u{115f}', '\u{202f}', '\u{2029}', '\u{ffa0}', '\u{205f}', '\u{2060}',
];

/// Fails when `out` holds a raw invisible character (one of [`HIDDEN`], or any other that
/// conncheck's own table knows), or a control character.
fn assert_no_invisible(what: &str, out: &[u8]) {
    assert_terminal_safe(what, out);
    let text = String::from_utf8_lossy(out);
    for c in HIDDEN {
        assert!(
            !text.contains(*c),
            "{what}: raw U+{:04X}:\n{text}",
            *c as u32
        );
    }
    for line in text.lines() {
        assert!(
            conncheck::testing::text::is_safe(&line.replace('\t', " ")),
            "{what}: a raw invisible character in {line:?}"
        );
    }
}

/// The cells of a table row (`│ 1 ┆ app ┆ … │`), trimmed.
fn cells(line: &str) -> Vec<&str> {
    line.trim_matches(|c| c == '│' || c == ' ')
        .split('┆')
        .map(str::trim)
        .collect()
}

#[test]
fn invisible_characters_are_escaped_in_every_human_output_and_lookalikes_differ() {
    let server = Server::start(ServerOpts::default());
    let s = &server;
    // `app` may read the processlist but not kill other accounts' sessions: its kills of the
    // twin are denied, which puts the twin into the result table.
    s.create_user(PLAIN, PASSWORD, "PROCESS");
    s.create_user(TWIN, PASSWORD, "USAGE");
    s.create_user(ODD, PASSWORD, "USAGE");
    let shown = s.client_host();
    let _plain = s.idle_connections(PLAIN, PASSWORD, 2);
    let _twin = s.idle_connections(TWIN, PASSWORD, 2);
    let odd = idle_with_program(s, ODD, ODD_PROGRAM);
    let _busy = s.background_query(ODD, PASSWORD, ODD_QUERY);
    wait_for_sleeps(s, 1);
    let plain_ids = s.ids_of(PLAIN);
    let twin_ids = s.ids_of(TWIN);
    assert_eq!((plain_ids.len(), twin_ids.len()), (2, 2));

    let outputs = human_outputs(s);

    // `app` and `app` + U+200B never print the same: two rows of each in the sessions table.
    let table = &outputs["sessions"];
    let users: Vec<String> = table
        .lines()
        .map(cells)
        .filter(|c| c.len() > 2)
        .map(|c| c[1].to_string())
        .collect();
    assert_eq!(users.iter().filter(|u| *u == PLAIN).count(), 2, "{table}");
    assert_eq!(
        users.iter().filter(|u| *u == r"app\u{200b}").count(),
        2,
        "{table}"
    );
    assert!(
        table.contains(r"odd\xa0\xad\u{3000}\u{2028}\u{3164}\u{feff}\u{2066}\u{1680}"),
        "{table}"
    );
    let full = &outputs["sessions --full"];
    // The whole text, escaped (the cell may wrap it between escapes).
    assert!(
        full.contains(r"SELECT SLEEP(600) /*\u{200b}") && full.contains(r"\u{205f}\u{2060}*/"),
        "{full}"
    );
    for what in ["status", "sessions --group-by user", "diagnose --verbose"] {
        assert!(
            outputs[what].contains(r"app\u{200b}"),
            "{what}:\n{}",
            outputs[what]
        );
    }

    // The watch screen on a terminal (its top clients).
    let mut cmd = s.process("root", "");
    cmd.env("COLUMNS", "200")
        .args(["watch", "--interval", "200ms"]);
    let mut p = rexpect::session::spawn_command(cmd, Some(30_000)).unwrap();
    let mut screen = p.exp_string("Top clients").unwrap();
    screen.push_str(&p.exp_string("History").unwrap());
    p.send("q").unwrap();
    p.flush().unwrap();
    p.exp_eof().unwrap();
    assert!(screen.contains(r"app\u{200b}@"), "{screen:?}");
    for c in HIDDEN {
        assert!(
            !screen.contains(*c),
            "U+{:04X} on the watch screen: {screen:?}",
            *c as u32
        );
    }

    // The kill plan flags the twin, and only the twin among the two.
    let account = format!(r"app\u{{200b}}@{shown}");
    let plan = String::from_utf8(
        run(
            s,
            &[
                "kill-idle",
                "--older-than",
                "0s",
                "--dry-run",
                "--match-user",
                PLAIN,
                "--match-user",
                TWIN,
            ],
        )
        .stdout,
    )
    .unwrap();
    let notes: Vec<&str> = plan.lines().filter(|l| l.starts_with("Note:")).collect();
    assert_eq!(notes.len(), 1, "{plan}");
    assert!(
        notes[0].starts_with(&format!("Note: the account {account} (sessions "))
            && notes[0].ends_with(&format!(
                ") has invisible characters in its name, shown escaped; it only looks like app@{shown}."
            ))
            && twin_ids.iter().all(|id| notes[0].contains(&id.to_string())),
        "{plan}"
    );
    assert!(
        outputs["kill-idle plan"].contains(&account),
        "{}",
        outputs["kill-idle plan"]
    );
    let v = json_ok(&run(
        s,
        &[
            "kill-idle",
            "--older-than",
            "0s",
            "--dry-run",
            "--format",
            "json",
        ],
    ));
    let mut flagged: Vec<u64> = v["names_with_invisible_characters"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    flagged.sort();
    let mut expected: Vec<u64> = twin_ids
        .iter()
        .copied()
        .chain([support::conn_id(&odd)])
        .collect();
    expected.sort();
    assert_eq!(flagged, expected, "{v}");
    // `--match-user app` is the account `app`, not its twin.
    let v = json_ok(&run(
        s,
        &[
            "kill-idle",
            "--older-than",
            "0s",
            "--dry-run",
            "--format",
            "json",
            "--match-user",
            PLAIN,
        ],
    ));
    assert!(
        v["victims"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["user"] == PLAIN),
        "{v}"
    );

    // JSON keeps the exact names, the invisible characters written as \u escapes.
    let out = run(s, &["sessions", "--format", "json"]);
    assert_no_invisible("sessions --format json", &out.stdout);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(r#""user": "app\u200b""#), "{text}");
    let v = json_ok(&out);
    let rows = v["sessions"].as_array().unwrap();
    assert_eq!(rows.iter().filter(|x| x["user"] == TWIN).count(), 2, "{v}");
    assert!(
        rows.iter()
            .any(|x| x["user"] == ODD && x["info"] == ODD_QUERY),
        "{v}"
    );

    // A kill result names the sessions it could not kill: `app` lacks CONNECTION ADMIN.
    let out = s
        .conncheck(PLAIN, PASSWORD)
        .args([
            "kill-idle",
            "--older-than",
            "0s",
            "--yes",
            "--match-user",
            TWIN,
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(17),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_invisible("kill-idle result", &out.stdout);
    assert_no_invisible("kill-idle result (stderr)", &out.stderr);
    let result = String::from_utf8(out.stdout).unwrap();
    let denied: Vec<Vec<&str>> = result
        .lines()
        .map(cells)
        .filter(|c| c.len() == 4 && c[2] == "denied")
        .collect();
    assert_eq!(denied.len(), 2, "{result}");
    assert!(denied.iter().all(|c| c[1] == r"app\u{200b}"), "{result}");
    assert_eq!(
        s.ids_of(TWIN),
        twin_ids,
        "denied: the twin's sessions are still there"
    );
}
