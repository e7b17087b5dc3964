//! The fleet benchmark's targets (`scripts/bench-fleet.sh`), all in this one process, on
//! 127.0.0.1:
//!   --silent N   listeners that accept and never send a greeting (a hung server, a firewall
//!                that accepts and drops);
//!   --refused N  ports bound but not listening: a connection gets a TCP RST (a stopped server);
//!   --live N     ports that proxy every connection to --upstream PORT (a private mariadbd), so
//!                each is a target of its own that answers.
//! Writes one target URL per line to --out (silent, then refused, then live: the live targets
//! come last, behind every dead one), prints `ready`, and holds everything until its standard
//! input closes.
//!
//!   cargo run --release --example fleet_shape -- --silent 600 --refused 300 --live 100 \
//!       --upstream 3307 --out targets.txt < some-fifo

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{FromRawFd, OwnedFd};
use std::thread;
use std::time::Duration;

struct Args {
    silent: usize,
    refused: usize,
    live: usize,
    upstream: u16,
    user: String,
    out: String,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        silent: 0,
        refused: 0,
        live: 0,
        upstream: 0,
        user: "root".into(),
        out: String::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--silent" => a.silent = num(val()?)?,
            "--refused" => a.refused = num(val()?)?,
            "--live" => a.live = num(val()?)?,
            "--upstream" => a.upstream = val()?.parse().map_err(|e| format!("--upstream: {e}"))?,
            "--user" => a.user = val()?,
            "--out" => a.out = val()?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if a.out.is_empty() || (a.live > 0 && a.upstream == 0) {
        return Err("--out FILE is required, and --upstream PORT with --live".into());
    }
    Ok(a)
}

/// A TCP socket bound to a free port on 127.0.0.1 and never listening: connecting to it gets a
/// reset, and holding it keeps the port from anyone else.
fn refusing_port() -> std::io::Result<(OwnedFd, u16)> {
    // SAFETY: plain socket calls on a descriptor we own (wrapped at once in OwnedFd).
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let owned = OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::sa_family_t::try_from(libc::AF_INET).expect("AF_INET fits");
        addr.sin_addr.s_addr = u32::from(Ipv4Addr::LOCALHOST).to_be();
        let len = libc::socklen_t::try_from(std::mem::size_of::<libc::sockaddr_in>())
            .expect("a sockaddr_in is 16 bytes");
        if libc::bind(fd, (&raw const addr).cast(), len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut len = len;
        if libc::getsockname(fd, (&raw mut addr).cast(), &mut len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok((owned, u16::from_be(addr.sin_port)))
    }
}

fn listener() -> std::io::Result<TcpListener> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
}

fn port(l: &TcpListener) -> u16 {
    l.local_addr().map_or(0, |a| a.port())
}

/// Accept on every silent listener and hold what comes, never writing.
fn serve_silent(listeners: Vec<TcpListener>) {
    for l in &listeners {
        let _ = l.set_nonblocking(true);
    }
    let mut held = Vec::new();
    loop {
        let mut got = false;
        for l in &listeners {
            while let Ok((s, _)) = l.accept() {
                held.push(s);
                got = true;
            }
        }
        if !got {
            thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Copy bytes one way until either side ends, then end both.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

/// Proxy every connection to the upstream server.
fn serve_live(l: TcpListener, upstream: SocketAddr) {
    for client in l.incoming().flatten() {
        let Ok(server) = TcpStream::connect(upstream) else {
            continue;
        };
        let _ = (client.set_nodelay(true), server.set_nodelay(true));
        let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
            continue;
        };
        thread::spawn(move || pipe(client, server));
        thread::spawn(move || pipe(s2, c2));
    }
}

fn main() {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("fleet_shape: {e}");
            std::process::exit(2);
        }
    };
    let fail = |what: &str, e: std::io::Error| -> ! {
        eprintln!("fleet_shape: {what}: {e} (raise `ulimit -n`?)");
        std::process::exit(1);
    };
    let silent: Vec<TcpListener> = (0..a.silent)
        .map(|_| listener().unwrap_or_else(|e| fail("silent listener", e)))
        .collect();
    let refused: Vec<(OwnedFd, u16)> = (0..a.refused)
        .map(|_| refusing_port().unwrap_or_else(|e| fail("refusing port", e)))
        .collect();
    let live: Vec<TcpListener> = (0..a.live)
        .map(|_| listener().unwrap_or_else(|e| fail("live listener", e)))
        .collect();

    let url = |p: u16| format!("mysql://{}@127.0.0.1:{p}/", a.user);
    let mut lines: Vec<String> = Vec::new();
    lines.extend(silent.iter().map(|l| url(port(l))));
    lines.extend(refused.iter().map(|(_, p)| url(*p)));
    lines.extend(live.iter().map(|l| url(port(l))));
    std::fs::write(&a.out, lines.join("\n") + "\n").unwrap_or_else(|e| fail(&a.out, e));

    let upstream = SocketAddr::from((Ipv4Addr::LOCALHOST, a.upstream));
    for l in live {
        thread::spawn(move || serve_live(l, upstream));
    }
    thread::spawn(move || serve_silent(silent));
    println!("ready");
    let _ = std::io::stdout().flush();
    // Hold everything (the refusing ports included) until stdin closes.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(refused);
}
