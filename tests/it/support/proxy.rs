//! A TCP proxy between conncheck and a private server that breaks the connection on cue.
//!
//! It forwards MySQL packets (3-byte length, 1-byte sequence, payload) in both directions and
//! watches the client's COM_QUERY packets (0x03 + text). The first query with a `KILL CONNECTION`
//! or `KILL QUERY` statement
//! arms the fault on that connection:
//! * [`Fault::CutAfterReplies`]: the query reaches the server; after `n` reply packets have been
//!   passed back (one OK or ERR per KILL of a multi-statement batch), both sockets are closed;
//! * [`Fault::StallAfterReplies`]: the same, but instead of closing, the proxy stops forwarding
//!   the server's bytes and keeps both sockets open (the client waits until its read timeout);
//! * [`Fault::CutRequest`]: only half of the query packet is passed on, then both sockets are
//!   closed, so the server runs none of it;
//! * [`Fault::HoldAfterReplies`]: after `n` reply packets the proxy holds the server's bytes
//!   (both sockets stay open) until [`Proxy::release`], then passes them on: a batch of KILLs
//!   that is "in flight" for as long as a test needs (to send a signal meanwhile);
//! * [`Fault::HoldKills`]: every query carrying a KILL, on every connection, is held before the
//!   server sees it until [`Proxy::release`] ([`Proxy::held`] counts them): two runs that both
//!   re-checked before either killed.
//!
//! The fault fires once per proxy; later connections are forwarded normally, or refused (closed
//! right after accept) with [`Proxy::refuse_after_fault`]. The proxy stops when dropped.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// What to break once a KILL query comes by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    CutAfterReplies(usize),
    StallAfterReplies(usize),
    CutRequest,
    HoldAfterReplies(usize),
    HoldKills,
}

struct Shared {
    fault: Fault,
    /// The fault has been armed (on some connection).
    armed: AtomicBool,
    /// The fault has fired (the connection was cut or stalled).
    fired: AtomicBool,
    refuse_after_fault: AtomicBool,
    /// A held connection may go on.
    released: AtomicBool,
    stop: AtomicBool,
    /// KILL statements seen client→server, and connections accepted.
    kills: AtomicUsize,
    accepted: AtomicUsize,
    /// KILL queries held by [`Fault::HoldKills`] so far.
    held: AtomicUsize,
    /// Every socket, to close them all on drop.
    sockets: Mutex<Vec<TcpStream>>,
}

pub struct Proxy {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<thread::JoinHandle<()>>,
}

impl Proxy {
    /// Listen on 127.0.0.1 (a free port) and forward to 127.0.0.1:`upstream`.
    pub fn start(upstream: u16, fault: Fault) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy: bind");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let shared = Arc::new(Shared {
            fault,
            armed: AtomicBool::new(false),
            fired: AtomicBool::new(false),
            refuse_after_fault: AtomicBool::new(false),
            released: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            kills: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
            held: AtomicUsize::new(0),
            sockets: Mutex::new(Vec::new()),
        });
        let sh = shared.clone();
        let acceptor = thread::Builder::new()
            .name("proxy-accept".into())
            .spawn(move || accept_loop(listener, upstream, sh))
            .unwrap();
        Proxy {
            port,
            shared,
            acceptor: Some(acceptor),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// After the fault fired, close every new connection at once (the server is "unreachable").
    pub fn refuse_after_fault(&self) {
        self.shared.refuse_after_fault.store(true, Ordering::SeqCst);
    }

    pub fn fired(&self) -> bool {
        self.shared.fired.load(Ordering::SeqCst)
    }

    /// KILL queries held by [`Fault::HoldKills`] (released or not).
    pub fn held(&self) -> usize {
        self.shared.held.load(Ordering::SeqCst)
    }

    /// Let what [`Fault::HoldAfterReplies`] or [`Fault::HoldKills`] holds go on.
    pub fn release(&self) {
        self.shared.released.store(true, Ordering::SeqCst);
    }

    /// KILL statements that went client→server (in the packets passed on whole).
    pub fn kills_seen(&self) -> usize {
        self.shared.kills.load(Ordering::SeqCst)
    }

    /// Connections accepted (refused ones included).
    pub fn connections(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for s in self.shared.sockets.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: TcpListener, upstream: u16, sh: Arc<Shared>) {
    while !sh.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                sh.accepted.fetch_add(1, Ordering::SeqCst);
                if sh.fired.load(Ordering::SeqCst) && sh.refuse_after_fault.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let _ = client.set_nonblocking(false);
                let Ok(server) = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], upstream)))
                else {
                    continue;
                };
                start_pair(client, server, &sh);
            }
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Per connection: whether the fault is armed here, and how many replies may still pass.
struct ConnState {
    armed: bool,
    replies_left: usize,
}

fn start_pair(client: TcpStream, server: TcpStream, sh: &Arc<Shared>) {
    {
        let mut all = sh.sockets.lock().unwrap();
        all.push(client.try_clone().unwrap());
        all.push(server.try_clone().unwrap());
    }
    let state = Arc::new(Mutex::new(ConnState {
        armed: false,
        replies_left: 0,
    }));
    let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (sh1, st1) = (sh.clone(), state.clone());
    thread::spawn(move || client_to_server(client, server, sh1, st1));
    let sh2 = sh.clone();
    thread::spawn(move || server_to_client(s2, c2, sh2, state));
}

fn close(a: &TcpStream, b: &TcpStream) {
    let _ = a.shutdown(Shutdown::Both);
    let _ = b.shutdown(Shutdown::Both);
}

/// Complete packets at the front of `buf` (header included), removed from it.
fn packets(buf: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        if buf.len() < 4 {
            return out;
        }
        let len = buf[0] as usize | (buf[1] as usize) << 8 | (buf[2] as usize) << 16;
        if buf.len() < 4 + len {
            return out;
        }
        out.push(buf.drain(..4 + len).collect());
    }
}

fn kill_count(packet: &[u8]) -> usize {
    if packet.len() < 5 || packet[4] != 0x03 {
        return 0;
    }
    let text = String::from_utf8_lossy(&packet[5..]).to_ascii_uppercase();
    text.matches("KILL CONNECTION ").count() + text.matches("KILL QUERY ").count()
}

fn client_to_server(
    mut client: TcpStream,
    mut server: TcpStream,
    sh: Arc<Shared>,
    st: Arc<Mutex<ConnState>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = match client.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        for p in packets(&mut buf) {
            let kills = kill_count(&p);
            if kills > 0 && sh.fault == Fault::HoldKills {
                sh.held.fetch_add(1, Ordering::SeqCst);
                sh.fired.store(true, Ordering::SeqCst);
                while !sh.released.load(Ordering::SeqCst) && !sh.stop.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(5));
                }
            } else if kills > 0 && !sh.armed.swap(true, Ordering::SeqCst) {
                if sh.fault == Fault::CutRequest {
                    let _ = server.write_all(&p[..p.len() / 2]);
                    sh.fired.store(true, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(50));
                    close(&client, &server);
                    return;
                }
                let mut s = st.lock().unwrap();
                s.armed = true;
                s.replies_left = match sh.fault {
                    Fault::CutAfterReplies(n)
                    | Fault::StallAfterReplies(n)
                    | Fault::HoldAfterReplies(n) => n,
                    Fault::CutRequest | Fault::HoldKills => 0,
                };
            }
            sh.kills.fetch_add(kills, Ordering::SeqCst);
            if server.write_all(&p).is_err() {
                close(&client, &server);
                return;
            }
        }
    }
    close(&client, &server);
}

fn server_to_client(
    mut server: TcpStream,
    mut client: TcpStream,
    sh: Arc<Shared>,
    st: Arc<Mutex<ConnState>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut stalled = false;
    loop {
        let n = match server.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if stalled {
            continue; // swallow everything; the client waits for its timeout
        }
        buf.extend_from_slice(&chunk[..n]);
        for p in packets(&mut buf) {
            let mut s = st.lock().unwrap();
            if s.armed {
                if s.replies_left == 0 {
                    sh.fired.store(true, Ordering::SeqCst);
                    match sh.fault {
                        Fault::HoldAfterReplies(_) => {
                            // Hold until released (or the proxy stops), then pass everything.
                            s.armed = false;
                            drop(s);
                            while !sh.released.load(Ordering::SeqCst)
                                && !sh.stop.load(Ordering::SeqCst)
                            {
                                thread::sleep(Duration::from_millis(5));
                            }
                            if client.write_all(&p).is_err() {
                                close(&client, &server);
                                return;
                            }
                            continue;
                        }
                        Fault::StallAfterReplies(_) => {
                            stalled = true;
                            break;
                        }
                        _ => {
                            close(&client, &server);
                            return;
                        }
                    }
                }
                s.replies_left -= 1;
            }
            drop(s);
            if client.write_all(&p).is_err() {
                close(&client, &server);
                return;
            }
        }
    }
    close(&client, &server);
}
