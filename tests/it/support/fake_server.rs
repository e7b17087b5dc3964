//! Fake MySQL servers on 127.0.0.1 for connection-fault tests: each accepts any number of
//! connections and misbehaves in one chosen way. Stopped on drop (accepted connections are
//! closed when their threads notice the stop flag, at the latest after their current step).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How the fake server behaves on each connection.
#[derive(Clone, Debug)]
pub enum Behavior {
    /// Accept and never send a byte (a server out of threads).
    Silent,
    /// Send these bytes, then hold the connection open without another word.
    Garbage(Vec<u8>),
    /// Send a valid MariaDB greeting, then close (a server that crashes during login).
    GreetingThenClose,
    /// Send a bare ERROR packet instead of the greeting, as a server with every slot (the reserved
    /// one too) taken does for 1040, then close.
    ErrorBeforeGreeting { code: u16, message: String },
    /// Switch the login to MariaDB's `parsec` plugin and send its salt: the driver (mysql 28.0)
    /// panics on it (`gen_data(..).unwrap()` on a 20-byte nonce), so this exercises the path of a
    /// panic while connecting.
    ParsecSalt,
    /// Proxy to a real server on `upstream`; once the client has sent `after_queries` COM_QUERY
    /// packets, forward the server's bytes one at a time, `every` apart (a trickling server).
    Trickle {
        upstream: u16,
        after_queries: usize,
        every: Duration,
    },
    /// Offer `caching_sha2_password` (no TLS) and answer the scramble with "perform full
    /// authentication" (`0x01 0x04`), as a MySQL 8 server whose cache does not hold the account
    /// does, or any fake server that wants the password. A client that then requests the public
    /// key (`0x02`) gets `key` (PEM); whatever it sends last is answered with ERROR 1045. Every
    /// client packet after the greeting is kept in `received`, in order.
    CachingSha2FullAuth { key: Vec<u8>, received: Received },
    /// Refuse the first `refusals` connections with a bare ERROR 1040 instead of the greeting (a
    /// server whose every slot, the reserved one too, is taken at that moment), then proxy the
    /// following ones to the real server on `upstream`. `seen` counts the connections.
    RefuseThenProxy {
        refusals: usize,
        upstream: u16,
        seen: Arc<AtomicUsize>,
    },
    /// Send a greeting, read the login and refuse it with ERROR 1040 and SQLSTATE 08004, as a
    /// full server does to an account that may not take the reserved slot.
    TooManyAfterLogin,
}

/// The client packets a [`Behavior::CachingSha2FullAuth`] server received.
pub type Received = Arc<Mutex<Vec<Vec<u8>>>>;

pub struct FakeServer {
    pub port: u16,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    pub fn start(behavior: Behavior) -> FakeServer {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (stop2, accepted2) = (Arc::clone(&stop), Arc::clone(&accepted));
        let thread = thread::Builder::new()
            .name(format!("fake-server-{port}"))
            .spawn(move || {
                while !stop2.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            accepted2.fetch_add(1, Ordering::SeqCst);
                            let (b, s) = (behavior.clone(), Arc::clone(&stop2));
                            thread::spawn(move || serve(stream, &b, &s));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
            .expect("spawn fake server");
        FakeServer {
            port,
            accepted,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut s: TcpStream, b: &Behavior, stop: &AtomicBool) {
    let _ = s.set_nonblocking(false);
    match b {
        Behavior::Silent => hold(&s, stop),
        Behavior::Garbage(bytes) => {
            let _ = s.write_all(bytes);
            hold(&s, stop);
        }
        Behavior::GreetingThenClose => {
            let _ = s.write_all(&packet(0, &greeting(b"mysql_native_password")));
            let _ = s.flush();
            let _ = s.shutdown(Shutdown::Both);
        }
        Behavior::ParsecSalt => {
            // Greeting → handshake response → switch to parsec → empty packet → salt.
            let _ = s.write_all(&packet(0, &greeting(b"mysql_native_password")));
            if let Some(seq) = read_packet(&mut s) {
                let mut switch = b"\xfeparsec\0".to_vec();
                switch.extend_from_slice(b"0123456789abcdefghij\0");
                let _ = s.write_all(&packet(seq.wrapping_add(1), &switch));
                if let Some(seq) = read_packet(&mut s) {
                    let mut salt = b"P\x03".to_vec();
                    salt.extend_from_slice(&[7u8; 18]);
                    let _ = s.write_all(&packet(seq.wrapping_add(1), &salt));
                }
            }
            hold(&s, stop);
        }
        Behavior::ErrorBeforeGreeting { code, message } => error_before_greeting(s, *code, message),
        Behavior::RefuseThenProxy {
            refusals,
            upstream,
            seen,
        } => {
            if seen.fetch_add(1, Ordering::SeqCst) < *refusals {
                error_before_greeting(s, 1040, "Too many connections");
            } else {
                trickle(s, *upstream, usize::MAX, Duration::ZERO, stop);
            }
        }
        Behavior::TooManyAfterLogin => {
            let _ = s.write_all(&packet(0, &greeting(b"mysql_native_password")));
            if let Some(seq) = read_packet(&mut s) {
                let mut refusal = vec![0xff];
                refusal.extend_from_slice(&1040u16.to_le_bytes());
                refusal.extend_from_slice(b"#08004Too many connections");
                let _ = s.write_all(&packet(seq.wrapping_add(1), &refusal));
            }
            let _ = s.flush();
            let _ = s.shutdown(Shutdown::Both);
        }
        Behavior::Trickle {
            upstream,
            after_queries,
            every,
        } => trickle(s, *upstream, *after_queries, *every, stop),
        Behavior::CachingSha2FullAuth { key, received } => {
            caching_sha2_full_auth(&mut s, key, received);
        }
    }
}

fn caching_sha2_full_auth(s: &mut TcpStream, key: &[u8], received: &Mutex<Vec<Vec<u8>>>) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let keep = |p: &[u8]| received.lock().unwrap().push(p.to_vec());
    let _ = s.write_all(&packet(0, &greeting(b"caching_sha2_password")));
    // The handshake response with the scramble; then "perform full authentication".
    let Some((seq, response)) = read_payload(s) else {
        return;
    };
    keep(&response);
    let _ = s.write_all(&packet(seq.wrapping_add(1), &[0x01, 0x04]));
    // A client that refuses closes here.
    let Some((seq, first)) = read_payload(s) else {
        return;
    };
    keep(&first);
    let seq = if first == [0x02] {
        let mut answer = vec![0x01];
        answer.extend_from_slice(key);
        let _ = s.write_all(&packet(seq.wrapping_add(1), &answer));
        let Some((seq, encrypted)) = read_payload(s) else {
            return;
        };
        keep(&encrypted);
        seq
    } else {
        seq
    };
    let mut denied = vec![0xff];
    denied.extend_from_slice(&1045u16.to_le_bytes());
    denied.extend_from_slice(
        b"#28000Access denied for user 'root'@'localhost' (using password: YES)",
    );
    let _ = s.write_all(&packet(seq.wrapping_add(1), &denied));
    let _ = s.flush();
    let _ = s.shutdown(Shutdown::Both);
}

/// Read one client packet: its sequence number and payload.
fn read_payload(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut header = [0u8; 4];
    s.read_exact(&mut header).ok()?;
    let len = usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    Some((header[3], body))
}

fn error_before_greeting(mut s: TcpStream, code: u16, message: &str) {
    let mut payload = vec![0xff];
    payload.extend_from_slice(&code.to_le_bytes());
    payload.extend_from_slice(message.as_bytes());
    let _ = s.write_all(&packet(0, &payload));
    let _ = s.flush();
    let _ = s.shutdown(Shutdown::Both);
}

/// Keep the connection open, reading and dropping whatever the client sends, until it closes or
/// the server stops.
fn hold(s: &TcpStream, stop: &AtomicBool) {
    let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = [0u8; 1024];
    let mut s = s;
    while !stop.load(Ordering::Relaxed) {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

/// Read one client packet; its sequence number.
fn read_packet(s: &mut TcpStream) -> Option<u8> {
    read_payload(s).map(|(seq, _)| seq)
}

fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap().to_le_bytes();
    let mut p = vec![len[0], len[1], len[2], seq];
    p.extend_from_slice(payload);
    p
}

/// A protocol-10 greeting as MariaDB 10.11 sends it (no TLS), offering `plugin`.
fn greeting(plugin: &[u8]) -> Vec<u8> {
    let mut g = vec![0x0a];
    g.extend_from_slice(b"5.5.5-10.11.0-MariaDB-fake\0");
    g.extend_from_slice(&7u32.to_le_bytes());
    g.extend_from_slice(b"abcdefgh\0");
    // Lower capabilities: everything but SSL (0x0800).
    g.extend_from_slice(&0xF7FFu16.to_le_bytes());
    g.push(0x21);
    g.extend_from_slice(&0x0002u16.to_le_bytes());
    // Upper: MULTI_STATEMENTS, MULTI_RESULTS, PLUGIN_AUTH.
    g.extend_from_slice(&0x000Bu16.to_le_bytes());
    g.push(21);
    g.extend_from_slice(&[0u8; 10]);
    g.extend_from_slice(b"ijklmnopqrst\0");
    g.extend_from_slice(plugin);
    g.push(0);
    g
}

fn trickle(client: TcpStream, upstream: u16, after: usize, every: Duration, stop: &AtomicBool) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
        return;
    };
    let queries = Arc::new(AtomicUsize::new(0));
    // Client → server: whole, counting COM_QUERY packets (sequence 0, command byte 0x03).
    let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let q = Arc::clone(&queries);
    thread::spawn(move || {
        let mut pending: Vec<u8> = Vec::new();
        let mut buf = [0u8; 16384];
        loop {
            let n = match c_in.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            pending.extend_from_slice(&buf[..n]);
            while pending.len() >= 5 {
                let len = usize::from(pending[0])
                    | usize::from(pending[1]) << 8
                    | usize::from(pending[2]) << 16;
                if pending.len() < 4 + len {
                    break;
                }
                if pending[3] == 0 && pending[4] == 0x03 {
                    q.fetch_add(1, Ordering::SeqCst);
                }
                pending.drain(..4 + len);
            }
            if s_out.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = s_out.shutdown(Shutdown::Both);
    });
    // Server → client: whole until the client has sent `after` queries, then byte by byte.
    let (mut s_in, mut c_out) = (server, client);
    let mut buf = [0u8; 16384];
    while !stop.load(Ordering::Relaxed) {
        let n = match s_in.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut ok = true;
        for (i, byte) in buf[..n].iter().enumerate() {
            if queries.load(Ordering::SeqCst) < after {
                ok = c_out.write_all(&buf[i..n]).is_ok();
                break;
            }
            if stop.load(Ordering::Relaxed) || c_out.write_all(&[*byte]).is_err() {
                ok = false;
                break;
            }
            thread::sleep(every);
        }
        if !ok {
            break;
        }
    }
    let _ = c_out.shutdown(Shutdown::Both);
}
