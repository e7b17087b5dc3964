//! A TCP proxy in front of a private server that answers one kind of statement with an error
//! packet of our choosing instead of passing it on: the way to make exactly one statement of a
//! multi-statement action fail (the second `SET GLOBAL` of a settings change) on a real server.
//!
//! It reads the client's packets (3-byte length, sequence number, payload) and forwards them
//! unchanged, except a `COM_QUERY` whose text contains the pattern, which gets `ERR` back.
//! Plain connections only (run the client with `--ssl-mode DISABLED`): it cannot read TLS.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

/// The proxy; it stops accepting when dropped (open connections end with the test process).
pub struct ErrProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    hits: Arc<AtomicUsize>,
}

/// What the proxy answers instead of the server.
#[derive(Clone)]
struct Rule {
    pattern: String,
    code: u16,
    sqlstate: [u8; 5],
    message: String,
}

impl ErrProxy {
    /// Proxy to `127.0.0.1:upstream`; statements containing `pattern` get `ERROR code (sqlstate)
    /// message`.
    pub fn start(
        upstream: u16,
        pattern: &str,
        code: u16,
        sqlstate: &str,
        message: &str,
    ) -> ErrProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the error proxy");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicUsize::new(0));
        let rule = Rule {
            pattern: pattern.to_string(),
            code,
            sqlstate: sqlstate
                .as_bytes()
                .try_into()
                .expect("a 5-character SQLSTATE"),
            message: message.to_string(),
        };
        let (stop2, hits2) = (stop.clone(), hits.clone());
        thread::Builder::new()
            .name("err-proxy".into())
            .spawn(move || {
                for client in listener.incoming() {
                    if stop2.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                        continue;
                    };
                    let (rule, hits) = (rule.clone(), hits2.clone());
                    thread::spawn(move || {
                        let _ = relay(client, server, &rule, &hits);
                    });
                }
            })
            .expect("spawn the error proxy");
        ErrProxy { port, stop, hits }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many statements were answered with the error.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }
}

impl Drop for ErrProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn relay(client: TcpStream, server: TcpStream, rule: &Rule, hits: &AtomicUsize) -> io::Result<()> {
    let mut to_client = client.try_clone()?;
    let mut from_server = server.try_clone()?;
    let down = thread::spawn(move || {
        let _ = io::copy(&mut from_server, &mut to_client);
        let _ = to_client.shutdown(Shutdown::Write);
    });
    let mut from_client = client.try_clone()?;
    let mut reply = client;
    let mut to_server = server;
    loop {
        let mut header = [0u8; 4];
        if from_client.read_exact(&mut header).is_err() {
            break;
        }
        let len =
            usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
        let mut payload = vec![0u8; len];
        from_client.read_exact(&mut payload)?;
        let is_query = header[3] == 0 && payload.first() == Some(&0x03);
        if is_query && String::from_utf8_lossy(&payload[1..]).contains(&rule.pattern) {
            hits.fetch_add(1, Ordering::Relaxed);
            reply.write_all(&err_packet(rule))?;
            continue;
        }
        to_server.write_all(&header)?;
        to_server.write_all(&payload)?;
    }
    let _ = to_server.shutdown(Shutdown::Write);
    let _ = down.join();
    Ok(())
}

/// `ERR_Packet` (protocol 4.1): 0xff, code, `#`, SQLSTATE, message; sequence 1.
fn err_packet(rule: &Rule) -> Vec<u8> {
    let mut payload = vec![0xff];
    payload.extend_from_slice(&rule.code.to_le_bytes());
    payload.push(b'#');
    payload.extend_from_slice(&rule.sqlstate);
    payload.extend_from_slice(rule.message.as_bytes());
    // A packet's length is 3 bytes, little-endian: the low three of the u32.
    let len = u32::try_from(payload.len()).expect("an error packet is small");
    let [b0, b1, b2, _] = len.to_le_bytes();
    let mut packet = vec![b0, b1, b2, 1];
    packet.extend_from_slice(&payload);
    packet
}
