//! Unit tests of `connect::options` (kept beside it, out of the way of its code).

use super::*;
use std::collections::HashMap;

struct FakeEnv(HashMap<&'static str, &'static str>);
impl Env for FakeEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| v.to_string())
    }
}

fn args() -> ConnFlags {
    ConnFlags {
        no_defaults: true,
        connect_timeout: Duration::from_secs(5),
        query_timeout: Duration::from_secs(10),
        jobs: 8,
        ..ConnFlags::default()
    }
}

fn resolve(
    a: &ConnFlags,
    env: &[(&'static str, &'static str)],
    target: Option<&str>,
) -> ConnectOptions {
    let env = FakeEnv(env.iter().cloned().collect());
    Resolver::new(a, &env, None)
        .unwrap()
        .resolve(target, &env)
        .unwrap()
}

#[test]
fn localhost_means_socket_and_ip_means_tcp() {
    let mut a = args();
    a.socket = Some("/tmp/x.sock".into());
    assert_eq!(
        resolve(&a, &[], None).transport,
        Transport::Socket("/tmp/x.sock".into())
    );
    a.host = Some("127.0.0.1".into());
    a.port = Some(3307);
    assert_eq!(
        resolve(&a, &[], None).transport,
        Transport::Tcp {
            host: "127.0.0.1".into(),
            port: 3307
        }
    );
    a.host = Some("localhost".into());
    a.protocol = Some(Protocol::Tcp);
    assert_eq!(
        resolve(&a, &[], None).transport,
        Transport::Tcp {
            host: "127.0.0.1".into(),
            port: 3307
        }
    );
}

#[test]
fn environment_is_below_flags() {
    let mut a = args();
    let env = [
        ("MYSQL_HOST", "db1"),
        ("MYSQL_TCP_PORT", "3310"),
        ("MYSQL_PWD", "s3cret"),
        ("USER", "alice"),
    ];
    let o = resolve(&a, &env, None);
    assert_eq!(
        o.transport,
        Transport::Tcp {
            host: "db1".into(),
            port: 3310
        }
    );
    assert_eq!(o.user, "alice");
    assert_eq!(o.password, Some(Secret("s3cret".into())));
    a.host = Some("db2".into());
    a.user = Some("bob".into());
    let o = resolve(&a, &env, None);
    assert_eq!(
        o.transport,
        Transport::Tcp {
            host: "db2".into(),
            port: 3310
        }
    );
    assert_eq!(o.user, "bob");
}

#[test]
fn url_is_between_files_and_flags() {
    let mut a = args();
    let o = resolve(
        &a,
        &[("MYSQL_PWD", "env")],
        Some("mysql://app:p%40ss@db3:3308/shop"),
    );
    assert_eq!(
        o.transport,
        Transport::Tcp {
            host: "db3".into(),
            port: 3308
        }
    );
    assert_eq!(o.user, "app");
    assert_eq!(o.password, Some(Secret("p@ss".into())));
    assert_eq!(o.database.as_deref(), Some("shop"));
    a.port = Some(4000);
    let o = resolve(&a, &[], Some("mysql://app@db3:3308/"));
    assert_eq!(
        o.transport,
        Transport::Tcp {
            host: "db3".into(),
            port: 4000
        }
    );
}

#[test]
fn bare_targets() {
    let a = args();
    assert_eq!(
        resolve(&a, &[], Some("db9:3311")).transport,
        Transport::Tcp {
            host: "db9".into(),
            port: 3311
        }
    );
    assert_eq!(
        resolve(&a, &[], Some("[::1]:3311")).transport,
        Transport::Tcp {
            host: "::1".into(),
            port: 3311
        }
    );
    let env = FakeEnv(HashMap::new());
    let r = Resolver::new(&a, &env, None).unwrap();
    assert!(r.resolve(Some("db:99999"), &env).is_err());
    assert!(r.resolve(Some("mysql://u:secretpw@h:0/"), &env).is_err());
    let e = r
        .resolve(Some("mysql://u:secretpw@h:xx/"), &env)
        .unwrap_err();
    assert!(!e.message.contains("secretpw"), "{}", e.message);
}

#[test]
fn a_url_without_scheme_is_refused_without_echoing_the_password() {
    let a = args();
    let env = FakeEnv(HashMap::new());
    let r = Resolver::new(&a, &env, None).unwrap();
    for t in [
        "lab:SECRET@127.0.0.1:3306",
        "lab:SECRET",
        "lab:SECRET:x",
        "[::1]:SECRET",
    ] {
        let e = r.resolve(Some(t), &env).unwrap_err();
        assert_eq!(e.kind, crate::exit::ErrorKind::Usage, "{t}");
        assert!(!e.message.contains("SECRET"), "{t}: {}", e.message);
    }
    let e = r.resolve(Some("db:99999"), &env).unwrap_err();
    assert!(e.message.contains("db:99999"), "{}", e.message);
}

#[test]
fn a_url_password_on_the_command_line_warns_but_not_from_the_environment() {
    let mut a = args();
    a.url = vec!["mysql://u:pw@h/".into()];
    let none = FakeEnv(HashMap::new());
    let r = Resolver::new(&a, &none, None).unwrap();
    assert!(r.warnings.iter().any(|w| w.contains("--url")));
    let env = FakeEnv(HashMap::from([("CONNCHECK_URL", "mysql://u:pw@h/")]));
    let r = Resolver::new(&a, &env, None).unwrap();
    assert!(!r.warnings.iter().any(|w| w.contains("--url")));
}

#[test]
fn password_on_command_line_warns_and_never_debug_prints() {
    let mut a = args();
    a.password = Some(Some("hunter2".into()));
    let env = FakeEnv(HashMap::new());
    let r = Resolver::new(&a, &env, None).unwrap();
    assert!(r.warnings.iter().any(|w| w.contains("command line")));
    let o = r.resolve(None, &env).unwrap();
    assert!(!format!("{o:?}").contains("hunter2"));
    assert!(!format!("{r:?}").contains("hunter2"));
}

/// A login path file in a fresh directory, mode `mode`; the env pointing at it.
fn login_file(text: &str, mode: u32) -> (tempfile::TempDir, &'static str) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join(".mylogin.cnf");
    std::fs::write(&f, super::loginpath::encrypt(text, b"abcdefghijklmnopqrst")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let home: &'static str = Box::leak(dir.path().display().to_string().into_boxed_str());
    (dir, home)
}

#[test]
fn login_paths_as_the_mysql_client_reads_them() {
    let text =
        "[client]\nuser=\"lpuser\"\npassword=\"lp pw\"\n[prod]\nhost=\"prodhost\"\nport=3399\n";
    let (_dir, home) = login_file(text, 0o600);
    // --no-defaults still reads it (MySQL: "the .mylogin.cnf file is read in all cases").
    let a = args();
    let o = resolve(&a, &[("HOME", home)], None);
    assert_eq!(o.user, "lpuser");
    assert_eq!(o.password.as_ref().map(|p| p.0.as_str()), Some("lp pw"));
    assert_ne!(
        o.transport,
        Transport::Tcp {
            host: "prodhost".into(),
            port: 3399
        }
    );
    // --login-path=prod adds that group.
    let mut a = args();
    a.login_path = Some("prod".into());
    let o = resolve(&a, &[("HOME", home)], None);
    assert_eq!(
        o.transport,
        Transport::Tcp {
            host: "prodhost".into(),
            port: 3399
        }
    );
    // It is read after --defaults-file, so its values win; flags still win over it.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("my.cnf");
    std::fs::write(&f, "[client]\nuser=fileuser\n").unwrap();
    let mut a = args();
    a.no_defaults = false;
    a.defaults_file = Some(f);
    assert_eq!(resolve(&a, &[("HOME", home)], None).user, "lpuser");
    a.user = Some("flaguser".into());
    assert_eq!(resolve(&a, &[("HOME", home)], None).user, "flaguser");
    // --no-login-paths skips it.
    let mut a = args();
    a.no_login_paths = true;
    assert_ne!(resolve(&a, &[("HOME", home)], None).user, "lpuser");
}

#[cfg(unix)]
#[test]
fn a_login_path_file_others_can_read_is_ignored() {
    let (_dir, home) = login_file("[client]\nuser=lpuser\n", 0o644);
    let a = args();
    let env = FakeEnv(HashMap::from([("HOME", home)]));
    let r = Resolver::new(&a, &env, None).unwrap();
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("should be readable/writable only by current user")),
        "{:?}",
        r.warnings
    );
    assert_ne!(r.resolve(None, &env).unwrap().user, "lpuser");
}

#[test]
fn a_corrupt_login_path_file_warns_or_fails_when_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("login.cnf");
    std::fs::write(
        &f,
        b"\0\0\0\0abcdefghijklmnopqrst\x10\0\0\0garbage-garbage!",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let path: &'static str = Box::leak(f.display().to_string().into_boxed_str());
    let env = FakeEnv(HashMap::from([("MYSQL_TEST_LOGIN_FILE", path)]));
    let r = Resolver::new(&args(), &env, None).unwrap();
    assert!(
        r.warnings.iter().any(|w| w.contains("login path file")),
        "{:?}",
        r.warnings
    );
    let mut a = args();
    a.login_path = Some("prod".into());
    let e = Resolver::new(&a, &env, None).unwrap_err();
    assert!(e.message.contains("login path file"), "{}", e.message);
}

#[test]
fn mariadb_client_groups_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("my.cnf");
    std::fs::write(
        &f,
        "[client-server]\nport=3311\n[client-mariadb]\nuser=mdbuser\n",
    )
    .unwrap();
    let mut a = args();
    a.no_defaults = false;
    a.defaults_file = Some(f);
    a.host = Some("127.0.0.1".into());
    let o = resolve(&a, &[], None);
    assert_eq!(o.user, "mdbuser");
    assert!(matches!(o.transport, Transport::Tcp { port: 3311, .. }));
}

#[test]
fn option_files_are_below_flags_and_above_env() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("my.cnf");
    std::fs::write(&f, "[client]\nhost=filehost\nport=3320\nuser=fileuser\n[conncheck]\nuser=ccuser\n[mysqld]\nport=1\n").unwrap();
    let mut a = args();
    a.no_defaults = false;
    a.defaults_file = Some(f);
    let o = resolve(&a, &[("MYSQL_HOST", "envhost")], None);
    assert_eq!(
        o.transport,
        Transport::Tcp {
            host: "filehost".into(),
            port: 3320
        }
    );
    assert_eq!(o.user, "ccuser");
    a.user = Some("flaguser".into());
    assert_eq!(resolve(&a, &[], None).user, "flaguser");
}

#[test]
fn targets_and_urls_agree_on_ports() {
    // One port parser: a sign is no more a port in a targets line than in a URL.
    assert!(split_host_port("127.0.0.1:+1041").is_err());
    assert!(crate::connect::url::parse("mysql://127.0.0.1:+1041").is_err());
    assert_eq!(
        split_host_port("127.0.0.1:1041").unwrap(),
        ("127.0.0.1".to_string(), Some(1041))
    );
    assert_eq!(
        split_host_port("[::1]:3307").unwrap(),
        ("::1".to_string(), Some(3307))
    );
    assert_eq!(split_host_port("::1").unwrap(), ("::1".to_string(), None));
}

/// The server public key options, from flags and option files as the mysql client reads them.
#[test]
fn server_public_key_options() {
    let dir = tempfile::tempdir().unwrap();
    let with_file = |text: &str| {
        let f = dir.path().join("key.cnf");
        std::fs::write(&f, text).unwrap();
        let mut a = args();
        a.no_defaults = false;
        a.no_login_paths = true;
        a.defaults_file = Some(f);
        a
    };
    let o = resolve(&args(), &[], None);
    assert_eq!(
        (o.server_public_key, o.get_server_public_key),
        (None, false)
    );
    let o = resolve(
        &with_file("[client]\nserver-public-key-path=/k.pem\nget-server-public-key\n"),
        &[],
        None,
    );
    assert_eq!(o.server_public_key, Some("/k.pem".into()));
    assert!(o.get_server_public_key);
    for (text, want) in [
        ("[client]\nget_server_public_key=1\n", true),
        ("[client]\nget-server-public-key=OFF\n", false),
        ("[client]\nloose-get-server-public-key=true\n", true),
        (
            "[client]\nget-server-public-key\nskip-get-server-public-key\n",
            false,
        ),
    ] {
        assert_eq!(
            resolve(&with_file(text), &[], None).get_server_public_key,
            want,
            "{text}"
        );
    }
    let env = FakeEnv(Default::default());
    let e = Resolver::new(
        &with_file("[client]\nget-server-public-key=maybe\n"),
        &env,
        None,
    )
    .unwrap_err();
    assert_eq!(e.kind, crate::exit::ErrorKind::Usage);
    // The flags win over the files.
    let mut a = with_file("[client]\nserver-public-key-path=/k.pem\n");
    a.server_public_key_path = Some("/flag.pem".into());
    a.get_server_public_key = true;
    let o = resolve(&a, &[], None);
    assert_eq!(o.server_public_key, Some("/flag.pem".into()));
    assert!(o.get_server_public_key);
}
