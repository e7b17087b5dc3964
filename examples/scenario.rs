//! Reproduce the situations behind ERROR 1040 on a server you own (the demo and the benchmark
//! use it): leaked idle connections, an idle transaction with sessions queued on its row lock,
//! long queries. It holds everything until it is killed or its standard input closes.
//!
//!   cargo run --example scenario -- --url mysql://root@127.0.0.1:3306/ --idle 1000
//!   cargo run --example scenario -- --socket /tmp/x.sock --user app --password app \
//!       --idle 36 --stagger 200ms --idle-trx --lock-waiters 3 --long-query
//!   (benchmark shapes) --idle-trx-n 2000   (2,000 sessions asleep inside a transaction)
//!                      --mdl-waiters 500   (an ALTER waiting for the idle transaction's
//!                                           metadata lock, 499 queries queued behind it)
//!
//! Prints `ready` on stdout once every connection is in place.

use std::io::Read;
use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder};

struct Args {
    base: OptsBuilder,
    idle: usize,
    stagger: Duration,
    idle_trx: bool,
    lock_waiters: usize,
    idle_trx_n: usize,
    mdl_waiters: usize,
    long_query: bool,
    table: String,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        base: OptsBuilder::new().prefer_socket(false),
        idle: 0,
        stagger: Duration::ZERO,
        idle_trx: false,
        lock_waiters: 0,
        idle_trx_n: 0,
        mdl_waiters: 0,
        long_query: false,
        table: "conncheck_scenario.t".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => {
                let o = Opts::from_url(&val()?).map_err(|e| e.to_string())?;
                a.base = OptsBuilder::from_opts(o).prefer_socket(false);
            }
            "--socket" => a.base = a.base.socket(Some(val()?)),
            "--user" => a.base = a.base.user(Some(val()?)),
            "--password" => a.base = a.base.pass(Some(val()?)),
            "--idle" => a.idle = val()?.parse().map_err(|e| format!("--idle: {e}"))?,
            "--stagger" => {
                a.stagger = humantime::parse_duration(&val()?).map_err(|e| e.to_string())?
            }
            "--idle-trx" => a.idle_trx = true,
            "--lock-waiters" => {
                a.lock_waiters = val()?.parse().map_err(|e| format!("--lock-waiters: {e}"))?
            }
            "--idle-trx-n" => {
                a.idle_trx_n = val()?.parse().map_err(|e| format!("--idle-trx-n: {e}"))?
            }
            "--mdl-waiters" => {
                a.mdl_waiters = val()?.parse().map_err(|e| format!("--mdl-waiters: {e}"))?
            }
            "--long-query" => a.long_query = true,
            "--table" => a.table = val()?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
}

fn connect(a: &Args) -> Conn {
    Conn::new(a.base.clone()).unwrap_or_else(|e| {
        eprintln!("scenario: cannot connect: {e}");
        std::process::exit(1)
    })
}

fn main() {
    let a = parse().unwrap_or_else(|e| {
        eprintln!("scenario: {e}");
        std::process::exit(2)
    });
    let mut held: Vec<Conn> = Vec::with_capacity(a.idle + 2);
    for i in 0..a.idle {
        let mut c = connect(&a);
        c.query_drop("SELECT 1").expect("select");
        held.push(c);
        if !a.stagger.is_zero() && i + 1 < a.idle {
            std::thread::sleep(a.stagger);
        }
    }
    let mut threads = Vec::new();
    if a.idle_trx || a.lock_waiters > 0 || a.idle_trx_n > 0 || a.mdl_waiters > 0 {
        let mut setup = connect(&a);
        let db = a.table.split('.').next().unwrap_or("conncheck_scenario");
        setup
            .query_drop(format!("CREATE DATABASE IF NOT EXISTS {db}"))
            .expect("create db");
        setup
            .query_drop(format!(
                "CREATE TABLE IF NOT EXISTS {} (id INT PRIMARY KEY, qty INT)",
                a.table
            ))
            .expect("create table");
        setup
            .query_drop(format!("INSERT IGNORE INTO {} VALUES (1, 0)", a.table))
            .expect("insert");
        let mut trx = connect(&a);
        trx.query_drop("BEGIN").expect("begin");
        trx.query_drop(format!("UPDATE {} SET qty = qty + 1 WHERE id = 1", a.table))
            .expect("update");
        held.push(trx);
        if a.idle_trx_n > 0 {
            let many = format!("{db}.idle_trx");
            setup
                .query_drop(format!(
                    "CREATE TABLE IF NOT EXISTS {many} (id INT PRIMARY KEY)"
                ))
                .expect("create table");
            // Each its own row: open transactions that block nobody.
            for i in 0..a.idle_trx_n {
                let mut c = connect(&a);
                c.query_drop("BEGIN").expect("begin");
                c.query_drop(format!("INSERT INTO {many} VALUES ({i})"))
                    .expect("insert");
                held.push(c);
            }
        }
        if a.mdl_waiters > 0 {
            // The ALTER first (it waits for the idle transaction's metadata lock), then the
            // queries that queue behind its exclusive request.
            let mut alter = connect(&a);
            let sql = format!("ALTER TABLE {} ADD COLUMN w INT", a.table);
            threads.push(std::thread::spawn(move || {
                let _ = alter.query_drop("SET SESSION lock_wait_timeout = 3600");
                let _ = alter.query_drop(sql);
            }));
            std::thread::sleep(Duration::from_millis(300));
            for _ in 1..a.mdl_waiters {
                let mut c = connect(&a);
                let sql = format!("SELECT * FROM {} WHERE id = 1", a.table);
                threads.push(std::thread::spawn(move || {
                    let _ = c.query_drop("SET SESSION lock_wait_timeout = 3600");
                    let _ = c.query_drop(sql);
                }));
            }
        }
        for _ in 0..a.lock_waiters {
            let mut c = connect(&a);
            let sql = format!("UPDATE {} SET qty = qty + 1 WHERE id = 1", a.table);
            threads.push(std::thread::spawn(move || {
                // Waits on the row lock until innodb_lock_wait_timeout or until killed.
                let _ = c.query_drop("SET SESSION innodb_lock_wait_timeout = 3600");
                let _ = c.query_drop(sql);
            }));
        }
    }
    if a.long_query {
        let mut c = connect(&a);
        threads.push(std::thread::spawn(move || {
            let _ = c.query_drop("SELECT SLEEP(3600)");
        }));
    }
    println!("ready");
    // Hold until stdin closes (or the process is killed).
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    std::process::exit(0);
}
