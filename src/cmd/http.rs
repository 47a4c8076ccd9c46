//! The HTTP/1.1 request-head parser of `dubstage preview --serve`, and the
//! helpers that judge a request (Host, byte ranges, percent-encoding).
//!
//! Pure functions over bytes and strings, using only `std`, so that the fuzz
//! target `fuzz/fuzz_targets/http.rs` can include this file as it is.
//! Everything here is bounded: [`MAX_HEAD`] bytes, [`MAX_HEADERS`] header
//! lines, no request bodies (RFC 9112).

/// The largest request head accepted (request line and header lines), bytes.
pub const MAX_HEAD: usize = 16 * 1024;
/// The most header lines accepted.
pub const MAX_HEADERS: usize = 64;

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The request target as sent (origin form, `/...`).
    pub target: String,
    /// The `Host` header (exactly one is required by RFC 9112 §3.2).
    pub host: String,
    /// The `Range` header, if any.
    pub range: Option<String>,
}

/// Why a request head is refused, with the status to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `"400 Bad Request"`, `"431 Request Header Fields Too Large"`, ...
    pub status: &'static str,
    /// A short reason for the body.
    pub reason: &'static str,
}

const fn refuse(status: &'static str, reason: &'static str) -> Refusal {
    Refusal { status, reason }
}

/// The length of the head (through the blank line ending it) if `buf` holds a
/// whole one. Accepts CRLF or bare LF line ends.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(p) = buf[i..].iter().position(|&b| b == b'\n') {
        let nl = i + p;
        let next = nl + 1;
        if buf.get(next) == Some(&b'\n') {
            return Some(next + 1);
        }
        if buf.get(next) == Some(&b'\r') && buf.get(next + 1) == Some(&b'\n') {
            return Some(next + 2);
        }
        i = next;
    }
    None
}

/// Parses a request head (`buf` up to and including the blank line, as
/// [`head_end`] finds it). Only `GET` and `HEAD` without a body are served.
pub fn parse_head(buf: &[u8]) -> Result<Head, Refusal> {
    if buf.len() > MAX_HEAD {
        return Err(refuse(
            "431 Request Header Fields Too Large",
            "request head too large",
        ));
    }
    let text = std::str::from_utf8(buf).map_err(|_| refuse("400 Bad Request", "not UTF-8"))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refuse("400 Bad Request", "malformed request line"));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(refuse("400 Bad Request", "malformed method"));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(refuse(
            "505 HTTP Version Not Supported",
            "only HTTP/1.0 and 1.1",
        ));
    }
    if !target.starts_with('/') || target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(refuse("400 Bad Request", "malformed request target"));
    }
    let mut host = None;
    let mut range = None;
    let mut count = 0;
    for line in lines {
        if line.is_empty() {
            break;
        }
        count += 1;
        if count > MAX_HEADERS {
            return Err(refuse(
                "431 Request Header Fields Too Large",
                "too many header lines",
            ));
        }
        if line.starts_with([' ', '\t']) {
            // obsolete line folding (RFC 9112 §5.2): refused
            return Err(refuse("400 Bad Request", "folded header line"));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(refuse("400 Bad Request", "malformed header line"));
        };
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(refuse("400 Bad Request", "malformed header name"));
        }
        let value = value.trim_matches([' ', '\t']);
        if value.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f) {
            return Err(refuse("400 Bad Request", "control character in a header"));
        }
        if name.eq_ignore_ascii_case("host") {
            if host.is_some() {
                return Err(refuse("400 Bad Request", "more than one Host"));
            }
            host = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("range") {
            if range.is_some() {
                return Err(refuse("400 Bad Request", "more than one Range"));
            }
            range = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            || (name.eq_ignore_ascii_case("content-length") && value != "0")
        {
            return Err(refuse(
                "413 Content Too Large",
                "request bodies are not accepted",
            ));
        }
    }
    let Some(host) = host else {
        return Err(refuse("400 Bad Request", "no Host header"));
    };
    Ok(Head {
        method: method.to_string(),
        target: target.to_string(),
        host,
        range,
    })
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Does a `Host` header name this server? `bound` is the listening socket's
/// IP literal as it appears in a URL (`127.0.0.1`, `[::1]`) and `port` its port.
/// Accepted: the bound address, `localhost` when bound to loopback, and, when
/// `any_ip` (the user bound an unspecified address such as `0.0.0.0`), any IP
/// literal; always with the bound port. A DNS name other than `localhost` is
/// never accepted, which defeats DNS rebinding (a page on another site that
/// makes its own name resolve to this machine).
pub fn host_ok(host: &str, bound: &str, port: u16, loopback: bool, any_ip: bool) -> bool {
    let Some((name, p)) = host.rsplit_once(':') else {
        return false;
    };
    if p != port.to_string() {
        return false;
    }
    let name = name.to_ascii_lowercase();
    if name == bound.to_ascii_lowercase() {
        return true;
    }
    if name == "localhost" {
        return loopback;
    }
    if any_ip {
        let literal = name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .unwrap_or(&name);
        return literal.parse::<std::net::IpAddr>().is_ok();
    }
    false
}

/// Percent-decodes a path (RFC 3986 §2.1); `None` for a malformed escape or
/// a result that is not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            if !h.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A `Range` header judged against a file of `size` bytes (RFC 9110 §14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// Serve the whole file (no range, or one this server ignores: several ranges).
    Whole,
    /// Serve bytes `from..=to`.
    Part { from: u64, to: u64 },
    /// 416: the range cannot be satisfied.
    Unsatisfiable,
}

/// Judges a `Range` header value. A single `bytes=` range is honoured; several
/// ranges, or another unit, get the whole file (allowed by RFC 9110 §14.2).
pub fn parse_range(value: Option<&str>, size: u64) -> Range {
    let Some(r) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return Range::Whole;
    };
    if r.contains(',') {
        return Range::Whole;
    }
    let Some((a, b)) = r.split_once('-') else {
        return Range::Unsatisfiable;
    };
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let parsed = match (a.trim(), b.trim()) {
        ("", n) => num(n)
            .filter(|&n| n > 0)
            .map(|n| (size.saturating_sub(n), size.saturating_sub(1))),
        (a, "") => num(a).map(|a| (a, size.saturating_sub(1))),
        (a, b) => num(a).zip(num(b)),
    };
    match parsed {
        Some((a, b)) if a <= b && a < size => Range::Part {
            from: a,
            to: b.min(size - 1),
        },
        _ => Range::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_parse_and_bounds_hold() {
        let h = parse_head(
            b"GET /tok/index.html HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nRange: bytes=0-9\r\n\r\n",
        )
        .unwrap();
        assert_eq!(h.method, "GET");
        assert_eq!(h.target, "/tok/index.html");
        assert_eq!(h.host, "127.0.0.1:8000");
        assert_eq!(h.range.as_deref(), Some("bytes=0-9"));
        let no_host = parse_head(b"GET / HTTP/1.1\r\n\r\n").unwrap_err();
        assert_eq!(no_host.status, "400 Bad Request");
        let two = parse_head(b"GET / HTTP/1.1\r\nHost: a:1\r\nHost: b:1\r\n\r\n").unwrap_err();
        assert_eq!(two.reason, "more than one Host");
        let mut many = b"GET / HTTP/1.1\r\nHost: a:1\r\n".to_vec();
        for i in 0..MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(
            parse_head(&many).unwrap_err().status,
            "431 Request Header Fields Too Large"
        );
        let body = parse_head(b"GET / HTTP/1.1\r\nHost: a:1\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(body.unwrap_err().status, "413 Content Too Large");
        assert!(parse_head(b"GET http://x/ HTTP/1.1\r\nHost: a:1\r\n\r\n").is_err());
        assert!(parse_head(b"GET / HTTP/2\r\nHost: a:1\r\n\r\n").is_err());
        assert!(parse_head(b"GET  / HTTP/1.1\r\nHost: a:1\r\n\r\n").is_err());
        assert!(parse_head(b"GET / HTTP/1.1\r\nHost: a:1\r\n folded\r\n\r\n").is_err());
    }

    #[test]
    fn head_end_finds_the_blank_line() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY"), Some(27));
        assert_eq!(head_end(b"GET / HTTP/1.1\nHost: x\n\n"), Some(24));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
    }

    #[test]
    fn only_this_servers_names_are_accepted() {
        assert!(host_ok("127.0.0.1:8000", "127.0.0.1", 8000, true, false));
        assert!(host_ok("localhost:8000", "127.0.0.1", 8000, true, false));
        assert!(host_ok("LOCALHOST:8000", "127.0.0.1", 8000, true, false));
        assert!(host_ok("[::1]:8000", "[::1]", 8000, true, false));
        assert!(!host_ok("127.0.0.1:8001", "127.0.0.1", 8000, true, false));
        assert!(!host_ok("127.0.0.1", "127.0.0.1", 8000, true, false));
        assert!(!host_ok(
            "evil.example:8000",
            "127.0.0.1",
            8000,
            true,
            false
        ));
        assert!(!host_ok(
            "localhost.evil.example:8000",
            "127.0.0.1",
            8000,
            true,
            false
        ));
        assert!(!host_ok(
            "localhost:8000",
            "192.168.1.5",
            8000,
            false,
            false
        ));
        assert!(host_ok("192.168.1.5:8000", "0.0.0.0", 8000, false, true));
        assert!(!host_ok(
            "rebind.example:8000",
            "0.0.0.0",
            8000,
            false,
            true
        ));
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range(None, 100), Range::Whole);
        assert_eq!(
            parse_range(Some("bytes=0-9"), 100),
            Range::Part { from: 0, to: 9 }
        );
        assert_eq!(
            parse_range(Some("bytes=90-"), 100),
            Range::Part { from: 90, to: 99 }
        );
        assert_eq!(
            parse_range(Some("bytes=-10"), 100),
            Range::Part { from: 90, to: 99 }
        );
        assert_eq!(
            parse_range(Some("bytes=50-1000"), 100),
            Range::Part { from: 50, to: 99 }
        );
        assert_eq!(parse_range(Some("bytes=100-"), 100), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=9-0"), 100), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 100), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=+1-2"), 100), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), Range::Whole);
        assert_eq!(parse_range(Some("bytes=0-"), 0), Range::Unsatisfiable);
    }

    #[test]
    fn percent_decoding_refuses_malformed_escapes() {
        assert_eq!(percent_decode("/a%20b").as_deref(), Some("/a b"));
        assert_eq!(percent_decode("/%zz"), None);
        assert_eq!(percent_decode("/%+1"), None);
        assert_eq!(percent_decode("/%4"), None);
        assert_eq!(percent_decode("/%ff"), None);
    }
}
