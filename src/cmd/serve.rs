//! `dubstage preview --serve`: serves a preview package over HTTP/1.1 to the
//! reviewer's browser, bounded in every way a slow or hostile client could
//! stretch it.
//!
//! - Loopback only (`127.0.0.1` on a random free port) unless the user names
//!   another address; then the output says who can reach it.
//! - A random 128-bit token is the first path segment of every URL
//!   (`http://127.0.0.1:PORT/TOKEN/`, printed like Jupyter's): the page's
//!   relative URLs carry it, and nothing is served without it.
//! - The `Host` header must name this server (its address, or `localhost` on a
//!   loopback bind): another site's page cannot reach the package by making its
//!   own DNS name resolve to 127.0.0.1 (DNS rebinding).
//! - One thread reads request heads from every open connection without
//!   blocking, each within [`HEAD_DEADLINE`] and [`http::MAX_HEAD`] bytes, at
//!   most [`MAX_PENDING`] at once (the oldest is dropped to make room). Whole
//!   heads go to a pool of [`WORKERS`] threads through a queue of
//!   [`QUEUE`]; when it is full the client gets a 503 at once. Idle or slow
//!   connections therefore cannot starve a normal request.
//! - Responses are written with a [`WRITE_TIMEOUT`] per write and a
//!   [`BODY_DEADLINE`] for the whole body; errors from `accept` (too many open
//!   files) back off instead of spinning.
//! - Only GET and HEAD, only regular files inside the package (no `..`, no
//!   dot files, symlinks must stay inside), only the file types a package
//!   holds; every response carries a Content-Security-Policy,
//!   `X-Content-Type-Options: nosniff`, `Cross-Origin-Resource-Policy:
//!   same-origin` and `Referrer-Policy: no-referrer`.

use super::http::{self, Head, Range, Refusal};
use dubstage_core::{Error, Result};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// Where `--serve` listens when no address is given: loopback, a free port.
pub const DEFAULT_ADDR: &str = "127.0.0.1:0";
/// Threads that answer requests.
pub const WORKERS: usize = 8;
/// Whole request heads waiting for a worker.
pub const QUEUE: usize = 64;
/// Connections whose head is still being read.
pub const MAX_PENDING: usize = 512;
/// Time a client has to send its whole request head.
pub const HEAD_DEADLINE: Duration = Duration::from_secs(10);
/// Time one write may block (a client that stops reading).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(20);
/// Time a whole response body may take.
pub const BODY_DEADLINE: Duration = Duration::from_secs(300);

/// The security headers sent with every response. The policy is the page's
/// own (`www/index.html` repeats it in a meta tag), plus `frame-ancestors`,
/// which only a header can carry.
pub const SECURITY_HEADERS: &str = "Content-Security-Policy: default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n\
X-Content-Type-Options: nosniff\r\n\
Cross-Origin-Resource-Policy: same-origin\r\n\
Referrer-Policy: no-referrer\r\n";

/// What the server tells its caller once it listens.
#[derive(Debug, Clone)]
pub struct Ready {
    /// The URL to open (with the token).
    pub url: String,
    /// Who can reach it, one sentence.
    pub reach: String,
}

/// A random token: 128 bits from the operating system, as 32 hex digits.
pub fn token() -> String {
    let mut b = [0u8; 16];
    let from_os = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    if from_os.is_err() {
        // No /dev/urandom (Windows): std's per-process random SipHash keys.
        use std::hash::{BuildHasher, Hasher};
        for half in b.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            half.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

struct Site {
    root: PathBuf,
    token: String,
    bound: String,
    port: u16,
    loopback: bool,
    any_ip: bool,
}

enum Job {
    Serve(TcpStream, Head),
    Refuse(TcpStream, Refusal),
}

/// Serves `root` (a preview package) until the process ends; `on_ready` gets
/// the URL once the socket listens.
pub fn serve(root: &Path, addr: &str, on_ready: impl FnOnce(&Ready)) -> Result<()> {
    let root = root.canonicalize().map_err(|e| Error::io(root, e))?;
    let listener = TcpListener::bind(addr)
        .map_err(|e| Error::Invalid(format!("cannot listen on {addr}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::Invalid(format!("{addr}: {e}")))?;
    let ip = local.ip();
    let bound = match ip {
        std::net::IpAddr::V4(v) => v.to_string(),
        std::net::IpAddr::V6(v) => format!("[{v}]"),
    };
    let site = Arc::new(Site {
        root,
        token: token(),
        bound: bound.clone(),
        port: local.port(),
        loopback: ip.is_loopback() || ip.is_unspecified(),
        any_ip: ip.is_unspecified(),
    });
    let shown = if ip.is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        bound.clone()
    };
    let url = format!("http://{shown}:{}/{}/", site.port, site.token);
    let reach = if ip.is_loopback() {
        "only programs on this computer can connect (loopback), and only with the token in the URL"
            .to_string()
    } else if ip.is_unspecified() {
        format!(
            "listening on every network interface ({local}): ANYONE who can reach this computer on port {} and has the URL (token included) can hear the package; use this computer's address in place of 127.0.0.1 from other machines",
            site.port
        )
    } else {
        format!(
            "listening on {local}, which other machines can reach: ANYONE on that network who has the URL (token included) can hear the package"
        )
    };
    on_ready(&Ready { url, reach });

    let (tx, rx) = mpsc::sync_channel::<Job>(QUEUE);
    let rx = Arc::new(Mutex::new(rx));
    for _ in 0..WORKERS {
        let rx = Arc::clone(&rx);
        let site = Arc::clone(&site);
        std::thread::Builder::new()
            .name("serve".into())
            .spawn(move || {
                loop {
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => answer(job, &site),
                        Err(_) => return,
                    }
                }
            })
            .map_err(|e| Error::Invalid(format!("cannot start the server's threads: {e}")))?;
    }
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::Invalid(format!("{local}: {e}")))?;
    read_heads(&listener, &tx);
    Ok(())
}

struct Pending {
    stream: TcpStream,
    buf: Vec<u8>,
    deadline: Instant,
}

/// The acceptor: takes new connections and reads their heads without
/// blocking; hands whole heads (or refusals) to the workers. Never returns.
fn read_heads(listener: &TcpListener, tx: &mpsc::SyncSender<Job>) {
    let mut pending: Vec<Pending> = Vec::new();
    let mut backoff = Duration::from_millis(5);
    let mut idle = Duration::from_millis(1);
    let mut chunk = vec![0u8; 4096];
    loop {
        let mut busy = false;
        loop {
            match listener.accept() {
                Ok((s, _)) => {
                    busy = true;
                    backoff = Duration::from_millis(5);
                    if s.set_nonblocking(true).is_err() {
                        continue;
                    }
                    if pending.len() >= MAX_PENDING {
                        pending.remove(0);
                    }
                    pending.push(Pending {
                        stream: s,
                        buf: Vec::new(),
                        deadline: Instant::now() + HEAD_DEADLINE,
                    });
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    // Out of file descriptors, most likely: free the oldest
                    // waiting connection and wait before trying again.
                    if !pending.is_empty() {
                        pending.remove(0);
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    break;
                }
            }
        }
        let now = Instant::now();
        let mut i = 0;
        while i < pending.len() {
            let p = &mut pending[i];
            let outcome = match p.stream.read(&mut chunk) {
                Ok(0) => Outcome::Close,
                Ok(n) => {
                    busy = true;
                    let from = p.buf.len().saturating_sub(3);
                    p.buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = http::head_end(&p.buf[from..]).map(|e| e + from) {
                        Outcome::Head(http::parse_head(&p.buf[..end]))
                    } else if p.buf.len() > http::MAX_HEAD {
                        Outcome::Head(Err(Refusal {
                            status: "431 Request Header Fields Too Large",
                            reason: "request head too large",
                        }))
                    } else {
                        Outcome::Wait
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock && now >= p.deadline => {
                    Outcome::Head(Err(Refusal {
                        status: "408 Request Timeout",
                        reason: "the request head took too long",
                    }))
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                    Outcome::Wait
                }
                Err(_) => Outcome::Close,
            };
            match outcome {
                Outcome::Wait => i += 1,
                Outcome::Close => {
                    pending.remove(i);
                }
                Outcome::Head(h) => {
                    let p = pending.remove(i);
                    let job = match h {
                        Ok(h) => Job::Serve(p.stream, h),
                        Err(r) => Job::Refuse(p.stream, r),
                    };
                    if let Err(mpsc::TrySendError::Full(job)) = tx.try_send(job) {
                        // Every worker is busy and the queue is full: say so at
                        // once, without blocking (a non-blocking write; dropped
                        // if it cannot go out).
                        let (Job::Serve(mut s, _) | Job::Refuse(mut s, _)) = job;
                        let _ = s.write_all(
                            simple_head("503 Service Unavailable", 0, "Retry-After: 1\r\n")
                                .as_bytes(),
                        );
                    }
                }
            }
        }
        if busy {
            idle = Duration::from_millis(1);
        } else {
            std::thread::sleep(idle);
            idle = (idle * 2).min(Duration::from_millis(20));
        }
    }
}

enum Outcome {
    Wait,
    Close,
    Head(std::result::Result<Head, Refusal>),
}

/// A response head with the security headers, `Connection: close` and `extra`
/// (each line ending in CRLF).
fn simple_head(status: &str, len: u64, extra: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Length: {len}\r\nCache-Control: no-cache\r\nConnection: close\r\n{SECURITY_HEADERS}{extra}\r\n"
    )
}

/// Answers one request on a worker thread.
fn answer(job: Job, site: &Site) {
    let (mut s, result) = match job {
        Job::Serve(s, h) => (s, Ok(h)),
        Job::Refuse(s, r) => (s, Err(r)),
    };
    if s.set_nonblocking(false).is_err()
        || s.set_write_timeout(Some(WRITE_TIMEOUT)).is_err()
        || s.set_read_timeout(Some(WRITE_TIMEOUT)).is_err()
    {
        return;
    }
    let _ = match result {
        Ok(h) => respond(&mut s, &h, site),
        Err(r) => text(&mut s, r.status, r.reason, false),
    };
    let _ = s.flush();
    let _ = s.shutdown(std::net::Shutdown::Write);
}

fn text(s: &mut TcpStream, status: &str, body: &str, head_only: bool) -> std::io::Result<()> {
    let body = format!("{body}\n");
    let mut out = simple_head(
        status,
        body.len() as u64,
        "Content-Type: text/plain; charset=utf-8\r\n",
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    s.write_all(&out)
}

fn respond(s: &mut TcpStream, h: &Head, site: &Site) -> std::io::Result<()> {
    if !http::host_ok(&h.host, &site.bound, site.port, site.loopback, site.any_ip) {
        return text(
            s,
            "403 Forbidden",
            "this server answers only to its own address",
            false,
        );
    }
    if h.method != "GET" && h.method != "HEAD" {
        return s.write_all(
            simple_head("405 Method Not Allowed", 0, "Allow: GET, HEAD\r\n").as_bytes(),
        );
    }
    let head_only = h.method == "HEAD";
    let path = h.target.split(['?', '#']).next().unwrap_or("");
    let Some(rest) = path
        .strip_prefix('/')
        .and_then(|p| p.strip_prefix(site.token.as_str()))
    else {
        return text(s, "404 Not Found", "not found", head_only);
    };
    if rest.is_empty() {
        // `/TOKEN` without the slash: the page's relative URLs need it.
        return s.write_all(
            simple_head(
                "301 Moved Permanently",
                0,
                &format!("Location: /{}/\r\n", site.token),
            )
            .as_bytes(),
        );
    }
    if !rest.starts_with('/') {
        return text(s, "404 Not Found", "not found", head_only);
    }
    let Some(file) = resolve_request(&site.root, rest) else {
        return text(s, "404 Not Found", "not found", head_only);
    };
    let Some(ctype) = content_type(&file) else {
        return text(s, "404 Not Found", "not found", head_only);
    };
    let mut f = std::fs::File::open(&file)?;
    let size = f.metadata()?.len();
    let (status, from, len, extra) = match http::parse_range(h.range.as_deref(), size) {
        Range::Whole => ("200 OK", 0, size, String::new()),
        Range::Part { from, to } => (
            "206 Partial Content",
            from,
            to - from + 1,
            format!("Content-Range: bytes {from}-{to}/{size}\r\n"),
        ),
        Range::Unsatisfiable => {
            return s.write_all(
                simple_head(
                    "416 Range Not Satisfiable",
                    0,
                    &format!("Content-Range: bytes */{size}\r\n"),
                )
                .as_bytes(),
            );
        }
    };
    let head = simple_head(
        status,
        len,
        &format!("Content-Type: {ctype}\r\nAccept-Ranges: bytes\r\n{extra}"),
    );
    s.write_all(head.as_bytes())?;
    if head_only {
        return Ok(());
    }
    f.seek(SeekFrom::Start(from))?;
    let deadline = Instant::now() + BODY_DEADLINE;
    let mut left = len;
    let mut buf = vec![0u8; 64 * 1024];
    while left > 0 {
        if Instant::now() >= deadline {
            return Err(std::io::Error::new(ErrorKind::TimedOut, "body deadline"));
        }
        let want = (left as usize).min(buf.len());
        let n = f.read(&mut buf[..want])?;
        if n == 0 {
            break;
        }
        s.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// The content type of a package file, `None` for a type a package does not
/// hold (such a file is not served).
pub fn content_type(path: &Path) -> Option<&'static str> {
    Some(match path.extension().and_then(|e| e.to_str())? {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "md" => "text/markdown; charset=utf-8",
        "pcm" | "bin" | "f32" => "application/octet-stream",
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "mov" => "video/quicktime",
        _ => return None,
    })
}

/// The file a request path (below the token) names, or `None` when it must
/// not be served. The path is percent-decoded; any `..`, `.`, empty, dot-file
/// or backslash segment is refused, and the resolved path (symlinks followed)
/// must be a regular file under `root`.
pub fn resolve_request(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next()?;
    let path = http::percent_decode(path)?;
    let rel = path.strip_prefix('/')?;
    let rel = if rel.is_empty() || rel.ends_with('/') {
        format!("{rel}index.html")
    } else {
        rel.to_string()
    };
    let mut p = root.to_path_buf();
    for seg in rel.split('/') {
        if seg.is_empty()
            || seg == "."
            || seg == ".."
            || seg.contains(['\\', '\0', ':'])
            || seg.starts_with('.')
        {
            return None;
        }
        p.push(seg);
    }
    let real = p.canonicalize().ok()?;
    (real.starts_with(root) && real.is_file()).then_some(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_never_leave_the_package() {
        let dir = std::env::temp_dir().join(format!("dubstage-serve-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("audio/dx")).unwrap();
        std::fs::write(dir.join("index.html"), "x").unwrap();
        std::fs::write(dir.join("audio/dx/000000.pcm"), "x").unwrap();
        let root = dir.canonicalize().unwrap();
        assert_eq!(resolve_request(&root, "/"), Some(root.join("index.html")));
        assert_eq!(
            resolve_request(&root, "/audio/dx/000000.pcm?x=1"),
            Some(root.join("audio/dx/000000.pcm"))
        );
        for bad in [
            "/../etc/passwd",
            "/audio/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/audio/%2e%2e/%2e%2e/etc/passwd",
            "/audio%2f..%2f..%2fetc/passwd",
            "//etc/passwd",
            "/audio\\..\\x",
            "/.hidden",
            "etc/passwd",
            "/nope.html",
            "/audio",
            "/%zz",
        ] {
            assert_eq!(resolve_request(&root, bad), None, "{bad}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc", dir.join("link")).unwrap();
            assert_eq!(resolve_request(&root, "/link/passwd"), None);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_package_file_types_have_a_type() {
        for ok in [
            "a.html",
            "a.js",
            "a.wasm",
            "audio/x/000001.pcm",
            "irs/1-x.f32",
            "v.webm",
        ] {
            assert!(content_type(Path::new(ok)).is_some(), "{ok}");
        }
        for no in ["id_ed25519", "a.toml", "a.wav", "a.sh", "a.svg", "a"] {
            assert!(content_type(Path::new(no)).is_none(), "{no}");
        }
    }

    #[test]
    fn tokens_are_random_hex() {
        let (a, b) = (token(), token());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
