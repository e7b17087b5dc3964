//! The login path file (~/.mylogin.cnf) against the private server: credentials from it, the
//! group `--login-path` names, read even with --no-defaults (as the mysql client does), skipped
//! with --no-login-paths.

use crate::support;

use support::{Server, ServerOpts, json_ok};

#[cfg(unix)]
#[test]
fn credentials_come_from_the_login_path_file() {
    use std::os::unix::fs::PermissionsExt;
    let s = Server::start(ServerOpts::default());
    s.create_user("lp", "lp secret", "PROCESS");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join(".mylogin.cnf");
    // The password only in group [prod]; [client] names a user the server does not know.
    let text =
        "[client]\nuser = \"clientgroupuser\"\n[prod]\nuser = \"lp\"\npassword = \"lp secret\"\n";
    std::fs::write(
        &file,
        conncheck::testing::connect::loginpath::encrypt(text, b"0123456789ABCDEFGHIJ"),
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let run = |extra: &[&str]| {
        support::conncheck()
            .env("HOME", home.path())
            .args([
                "--no-defaults",
                "-h",
                "127.0.0.1",
                "-P",
                &s.port().to_string(),
            ])
            .args(extra)
            .args(["status", "--format", "json"])
            .output()
            .unwrap()
    };
    let v = json_ok(&run(&["--login-path=prod"]));
    assert!(
        v.to_string().contains("lp@"),
        "connected as lp: {}",
        &v.to_string()[..v.to_string().len().min(400)]
    );
    // Without the group: [client]'s user, refused.
    let out = run(&[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("clientgroupuser"));
    // --no-login-paths: the file is not read at all (the default user is the login name).
    let out = run(&["--login-path=prod", "--no-login-paths"]);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("clientgroupuser"));
}
