//! A test-only HTTP proxy in front of the in-process S3 server that injects faults into
//! chosen requests: a 500 InternalError, a 503 SlowDown, a connection dropped before the
//! request reaches the server, a response cut off half-way, a slow response. Clients
//! reach it as they reach the server (the AWS environment variables with its endpoint);
//! SigV4 signatures stay valid, since the request, Host header included, is passed on
//! byte for byte (only `Connection: close` is added towards the server, so that each
//! response ends where the server closes).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    Pass,
    InternalError,
    SlowDown,
    /// The connection is closed before the request reaches the server.
    Drop,
    /// The server answers; the client gets half the response, then the connection closes.
    CutResponse,
    /// The response comes after this long.
    Slow(Duration),
}

/// Which fault the Nth request (from 0) gets.
pub type Schedule = Box<dyn Fn(usize) -> Fault + Send + Sync>;

pub struct FaultProxy {
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    injected: Arc<Mutex<BTreeMap<Fault, usize>>>,
    schedule: Arc<Mutex<Schedule>>,
}

impl FaultProxy {
    /// A proxy to `upstream` (`host:port`) following `schedule`.
    pub fn start(upstream: String, schedule: Schedule) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let proxy = FaultProxy {
            addr,
            stop: Arc::new(AtomicBool::new(false)),
            requests: Arc::new(AtomicUsize::new(0)),
            injected: Arc::new(Mutex::new(BTreeMap::new())),
            schedule: Arc::new(Mutex::new(schedule)),
        };
        let (stop, requests, injected, schedule) = (
            proxy.stop.clone(),
            proxy.requests.clone(),
            proxy.injected.clone(),
            proxy.schedule.clone(),
        );
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(client) = client else { continue };
                let (upstream, requests, injected, schedule) = (
                    upstream.clone(),
                    requests.clone(),
                    injected.clone(),
                    schedule.clone(),
                );
                std::thread::spawn(move || {
                    let _ = serve(client, &upstream, &requests, &injected, &schedule);
                });
            }
        });
        proxy
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// From now on, follow `schedule` (request numbers keep counting).
    pub fn set_schedule(&self, schedule: Schedule) {
        *self.schedule.lock().expect("schedule") = schedule;
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// Faults injected so far, by kind (passes not counted).
    pub fn injected(&self) -> BTreeMap<Fault, usize> {
        self.injected.lock().expect("counts").clone()
    }

    pub fn injected_total(&self) -> usize {
        self.injected().values().sum()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// One request read off a connection: the head (request line and headers, without the
/// blank line) and the body.
fn read_request(
    reader: &mut BufReader<TcpStream>,
) -> std::io::Result<Option<(Vec<String>, Vec<u8>)>> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            if head.is_empty() {
                continue;
            }
            break;
        }
        head.push(line);
    }
    let header = |name: &str| {
        head.iter().skip(1).find_map(|h| {
            let (k, v) = h.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        // Passed on as it came: the framing stays, the server decodes it.
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            body.extend_from_slice(size_line.as_bytes());
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
            if size == 0 {
                break;
            }
        }
    } else if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(Some((head, body)))
}

fn error_response(status: &str, code: &str) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected by the test proxy</Message></Error>"
    );
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn serve(
    client: TcpStream,
    upstream: &str,
    requests: &AtomicUsize,
    injected: &Mutex<BTreeMap<Fault, usize>>,
    schedule: &Mutex<Schedule>,
) -> std::io::Result<()> {
    let mut writer = client.try_clone()?;
    let mut reader = BufReader::new(client);
    while let Some((head, body)) = read_request(&mut reader)? {
        let n = requests.fetch_add(1, Ordering::Relaxed);
        let fault = (schedule.lock().expect("schedule"))(n);
        if fault != Fault::Pass {
            *injected.lock().expect("counts").entry(fault).or_default() += 1;
        }
        match fault {
            Fault::InternalError => {
                writer.write_all(&error_response(
                    "500 Internal Server Error",
                    "InternalError",
                ))?;
                continue;
            }
            Fault::SlowDown => {
                writer.write_all(&error_response("503 Slow Down", "SlowDown"))?;
                continue;
            }
            Fault::Drop => {
                let _ = writer.shutdown(Shutdown::Both);
                return Ok(());
            }
            Fault::Slow(d) => std::thread::sleep(d),
            Fault::Pass | Fault::CutResponse => {}
        }
        let mut up = TcpStream::connect(upstream)?;
        let mut out = Vec::with_capacity(body.len() + 512);
        for (i, line) in head.iter().enumerate() {
            let is_connection = line
                .split_once(':')
                .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("connection"));
            if i > 0 && is_connection {
                continue;
            }
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"Connection: close\r\n\r\n");
        out.extend_from_slice(&body);
        up.write_all(&out)?;
        let mut response = Vec::new();
        up.read_to_end(&mut response)?;
        if fault == Fault::CutResponse {
            writer.write_all(&response[..response.len() / 2])?;
            let _ = writer.shutdown(Shutdown::Both);
            return Ok(());
        }
        if !is_framed(&response) {
            // The body ends where the connection ends: pass that on.
            writer.write_all(&response)?;
            let _ = writer.shutdown(Shutdown::Both);
            return Ok(());
        }
        // The server said it closes; the client may keep the connection to this proxy.
        let response = strip_connection_close(response);
        writer.write_all(&response)?;
    }
    Ok(())
}

/// Drop a `Connection: close` header from a response head, so the client keeps using
/// its connection to the proxy (the proxy, not the server, decides when it ends).
fn strip_connection_close(response: Vec<u8>) -> Vec<u8> {
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return response;
    };
    let head = String::from_utf8_lossy(&response[..end]);
    let kept: Vec<&str> = head
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    let mut out = kept.join("\r\n").into_bytes();
    out.extend_from_slice(&response[end..]);
    out
}

/// Whether a response says where its body ends (a length or chunks).
fn is_framed(response: &[u8]) -> bool {
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(response.len());
    let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
    head.contains("\r\ncontent-length:") || head.contains("\r\ntransfer-encoding:")
}
