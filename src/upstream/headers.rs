//! Which headers cross the gateway, in each direction, and how rate-limit hints are read.

use crate::config::EndpointConfig;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Headers that belong to one connection, never forwarded (RFC 9110 §7.6.1), and those the
/// connection to the other side sets itself (framing, `host`). The check runs for every header of
/// every request and answer, so the name is told by its length first and then compared once.
fn is_hop_or_framing(name: &str) -> bool {
    is_hop_or_framing_bytes(name.as_bytes())
}

/// [`is_hop_or_framing`] on the name's bytes (lower case).
fn is_hop_or_framing_bytes(name: &[u8]) -> bool {
    match name.len() {
        2 => name == b"te",
        4 => name == b"host",
        6 => name == b"expect",
        7 => name == b"trailer" || name == b"upgrade",
        10 => name == b"connection" || name == b"keep-alive",
        14 => name == b"content-length",
        16 => name == b"proxy-connection",
        17 => name == b"transfer-encoding",
        18 => name == b"proxy-authenticate",
        19 => name == b"proxy-authorization",
        _ => false,
    }
}

/// [`is_hop_or_framing`] for a name in any case (a `Connection` token), lower-cased on the stack.
fn is_hop_or_framing_any_case(name: &[u8]) -> bool {
    let mut lower = [0u8; 24];
    let Some(buffer) = lower.get_mut(..name.len()) else {
        return false; // longer than any of those names
    };
    buffer.copy_from_slice(name);
    buffer.make_ascii_lowercase();
    is_hop_or_framing_bytes(buffer)
}

/// The client's own credentials: never sent upstream.
fn is_client_credential(name: &str) -> bool {
    match name.len() {
        9 => name == "x-api-key",
        13 => name == "authorization",
        14 => name == "x-goog-api-key",
        _ => false,
    }
}

/// What a browser says about the page that sent a request, and the cookies it holds for this
/// host (which any other local web app may have set, cookies not being scoped by port): none of
/// it is the upstream's business.
fn is_browser_context(name: &str) -> bool {
    match name.len() {
        6 => name == "origin" || name == "cookie",
        7 => name == "referer",
        _ => name.starts_with("sec-fetch-"),
    }
}

/// Header names the request path looks up on every request, made once: looking a header up by a
/// `&str` that is not one of HTTP's standard names builds (and allocates) a `HeaderName` each time.
pub mod names {
    use actix_web::http::header::HeaderName;

    pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
    pub const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
    pub const X_GOOG_API_KEY: HeaderName = HeaderName::from_static("x-goog-api-key");
    pub const ANTHROPIC_VERSION: HeaderName = HeaderName::from_static("anthropic-version");
    pub const X_CLAUDE_CODE_SESSION_ID: HeaderName =
        HeaderName::from_static("x-claude-code-session-id");
    pub const X_SESSION_ID: HeaderName = HeaderName::from_static("x-session-id");
    pub const SESSION_ID: HeaderName = HeaderName::from_static("session-id");
    pub const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");
}

/// The values of a message's `Connection` headers, whose tokens name more hop-by-hop headers.
type Connection<'a> = std::slice::Iter<'a, HeaderValue>;

/// The `Connection` values whose tokens name a header not dropped anyway; none (so no header is
/// compared with them) in the usual case, `keep-alive`.
fn connection(headers: &HeaderMap) -> Connection<'_> {
    let values = headers.get_all(actix_web::http::header::CONNECTION);
    let names_more = values.clone().any(|v| {
        // The value nearly every answer and keep-alive request carries, told at once.
        if v.as_bytes().eq_ignore_ascii_case(b"keep-alive") {
            return false;
        }
        // A value that is not visible ASCII names nothing; one that is has no other whitespace
        // than spaces and tabs, so trimming those bytes trims the token as text.
        v.to_str().is_ok()
            && v.as_bytes().split(|&b| b == b',').any(|token| {
                let token = token.trim_ascii();
                !token.is_empty() && !is_hop_or_framing_any_case(token)
            })
    });
    if names_more {
        values
    } else {
        [].iter()
    }
}

/// Whether a header must not be copied: hop-by-hop, framing, or named in `Connection` (its
/// tokens compared without case; header names are already lower case).
fn is_dropped(name: &HeaderName, connection: Connection<'_>) -> bool {
    let n = name.as_str();
    is_hop_or_framing(n)
        || connection.filter_map(|v| v.to_str().ok()).any(|text| {
            text.split(',')
                .any(|token| token.trim().eq_ignore_ascii_case(n))
        })
}

/// The headers an upstream receives: the client's minus hop-by-hop, framing, credential and
/// browser-context headers, plus the endpoint's own credentials and `anthropic-version` when the
/// client sent none. Repeated headers keep all their values.
pub fn upstream_headers(client: &HeaderMap, endpoint: &EndpointConfig) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(client.len() + 4);
    write_upstream_headers(client, endpoint, &mut out);
    out
}

/// [`upstream_headers`], written into `out` (the upstream request's own, empty map, so that no
/// second map is made per request).
pub fn write_upstream_headers(client: &HeaderMap, endpoint: &EndpointConfig, out: &mut HeaderMap) {
    let named = connection(client);
    out.reserve(client.len() + 4);
    // Whether the client sent these, seen on the way rather than looked up again afterwards.
    let (mut sent_version, mut sent_encoding) = (false, false);
    for (name, value) in client.iter() {
        let text = name.as_str();
        if is_dropped(name, named.clone()) || is_client_credential(text) || is_browser_context(text)
        {
            continue;
        }
        let forwarded = match sent_by_clients(text) {
            Some(known) => {
                sent_version |= *known == names::ANTHROPIC_VERSION;
                known.clone()
            }
            None => {
                sent_encoding |= *name == actix_web::http::header::ACCEPT_ENCODING;
                name.clone()
            }
        };
        out.append(forwarded, value.clone());
    }
    // Made when the config was read (`config::Wire`): the key and host are not formatted per
    // request. Appended, not inserted: none of these names can be in `out` yet (the client's
    // host and credentials were dropped, and the two defaults go only where the client sent
    // none), and an append skips the replaced value an insert hands back.
    out.append(actix_web::http::header::HOST, endpoint.wire.host.clone());
    if let Some(value) = &endpoint.wire.x_api_key {
        out.append(names::X_API_KEY, value.clone());
    }
    if let Some(value) = &endpoint.wire.authorization {
        out.append(actix_web::http::header::AUTHORIZATION, value.clone());
    }
    if let Some(value) = &endpoint.wire.x_goog_api_key {
        out.append(names::X_GOOG_API_KEY, value.clone());
    }
    if !sent_version {
        out.append(
            names::ANTHROPIC_VERSION,
            HeaderValue::from_static("2023-06-01"),
        );
    }
    // awc adds this to a request that has none, parsing the value anew each time: the same
    // header, made once.
    if !sent_encoding {
        out.append(
            actix_web::http::header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
    }
}

/// The entry of [`SENT_BY_CLIENTS`] named `name`, if any: told by the name's length first, so that
/// a header is compared with at most three names, not twenty (the indices are held to the table
/// by a unit test).
fn sent_by_clients(name: &str) -> Option<&'static HeaderName> {
    let candidates: &[usize] = match name.len() {
        5 => &[3],
        10 => &[17, 18],
        11 => &[14],
        14 => &[1, 7, 16],
        16 => &[5, 6],
        17 => &[0, 19],
        19 => &[10, 12, 15],
        23 => &[9],
        24 => &[4],
        25 => &[13],
        27 => &[8, 11],
        41 => &[2],
        _ => return None,
    };
    candidates
        .iter()
        .filter_map(|&i| SENT_BY_CLIENTS.get(i))
        .find(|known| known.as_str() == name)
}

/// Headers LLM clients send on every request (Claude Code, the Anthropic and OpenAI SDKs, Codex
/// CLI, Gemini CLI) that are not among HTTP's standard names.
static SENT_BY_CLIENTS: [HeaderName; 20] = [
    names::ANTHROPIC_VERSION,
    HeaderName::from_static("anthropic-beta"),
    HeaderName::from_static("anthropic-dangerous-direct-browser-access"),
    HeaderName::from_static("x-app"),
    names::X_CLAUDE_CODE_SESSION_ID,
    HeaderName::from_static("x-stainless-arch"),
    HeaderName::from_static("x-stainless-lang"),
    HeaderName::from_static("x-stainless-os"),
    HeaderName::from_static("x-stainless-package-version"),
    HeaderName::from_static("x-stainless-retry-count"),
    HeaderName::from_static("x-stainless-runtime"),
    HeaderName::from_static("x-stainless-runtime-version"),
    HeaderName::from_static("x-stainless-timeout"),
    HeaderName::from_static("x-stainless-helper-method"),
    HeaderName::from_static("openai-beta"),
    HeaderName::from_static("openai-organization"),
    HeaderName::from_static("openai-project"),
    HeaderName::from_static("originator"),
    HeaderName::from_static("session_id"),
    HeaderName::from_static("x-goog-api-client"),
];

/// The upstream answer's headers that reach the client: all but hop-by-hop and framing.
pub fn downstream_headers(
    upstream: &HeaderMap,
) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
    let named = connection(upstream);
    upstream
        .iter()
        .filter(move |(name, _)| !is_dropped(name, named.clone()))
}

/// How long the upstream asks us to wait, from `Retry-After` (seconds or HTTP-date), else the
/// latest of `anthropic-ratelimit-*-reset` (RFC 3339) and `x-ratelimit-reset-*` (`6m0s`, `20ms`).
pub fn retry_hint(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(value) = headers.get("retry-after").and_then(|v| v.to_str().ok()) {
        let value = value.trim();
        if let Ok(secs) = value.parse::<f64>() {
            if secs.is_finite() && secs >= 0.0 {
                return Some(Duration::from_secs_f64(secs.min(1e9)));
            }
        }
        if let Ok(at) = httpdate::parse_http_date(value) {
            return Some(at.duration_since(now).unwrap_or(Duration::ZERO));
        }
    }
    let mut hint: Option<Duration> = None;
    for (name, value) in headers.iter() {
        let name = name.as_str();
        let Ok(text) = value.to_str() else { continue };
        let wait = if name.starts_with("anthropic-ratelimit-") && name.ends_with("-reset") {
            parse_rfc3339(text.trim()).map(|at| at.duration_since(now).unwrap_or(Duration::ZERO))
        } else if name.starts_with("x-ratelimit-reset") {
            parse_go_duration(text.trim())
        } else {
            None
        };
        if let Some(wait) = wait {
            hint = Some(hint.map_or(wait, |h| h.max(wait)));
        }
    }
    hint
}

/// Parses `2024-05-01T12:00:30Z` or with `.fff` and `±HH:MM`.
pub(crate) fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &text[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(frac.len());
        let padded = format!("{:0<9}", &frac[..digits.min(9)]);
        nanos = padded.parse().ok()?;
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 => {
            let sign = match &rest[..1] {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            sign * (rest.get(1..3)?.parse::<i64>().ok()? * 3600
                + rest.get(4..6)?.parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

/// Parses Go-style durations as OpenAI sends them: `1s`, `6m0s`, `20ms`, `1h2m3.5s`.
pub(crate) fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..n_end].parse().ok()?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..u_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[u_end..];
    }
    (total.is_finite() && total >= 0.0).then(|| Duration::from_secs_f64(total.min(1e9)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    fn endpoint(auth: &str) -> EndpointConfig {
        let text = format!(
            "endpoints:\n  - base_url: https://up.example\n    api_key: sk-upstream\n    auth: {auth}\n"
        );
        parse(&text, &|_| None).unwrap().endpoints.remove(0)
    }

    /// The name a client's header goes upstream under, as the request path picks it.
    fn forwarded_name(name: &HeaderName) -> HeaderName {
        sent_by_clients(name.as_str()).unwrap_or(name).clone()
    }

    /// The matchers as first written, plain lists compared name by name: the length-first ones
    /// must answer as these do.
    mod plain {
        pub fn is_hop_or_framing(name: &str) -> bool {
            matches!(
                name,
                "connection"
                    | "keep-alive"
                    | "proxy-connection"
                    | "proxy-authenticate"
                    | "proxy-authorization"
                    | "te"
                    | "trailer"
                    | "transfer-encoding"
                    | "upgrade"
                    | "host"
                    | "content-length"
                    | "expect"
            )
        }

        pub fn is_client_credential(name: &str) -> bool {
            matches!(name, "authorization" | "x-api-key" | "x-goog-api-key")
        }

        pub fn is_browser_context(name: &str) -> bool {
            matches!(name, "origin" | "referer" | "cookie") || name.starts_with("sec-fetch-")
        }

        pub fn sent_by_clients(name: &str) -> Option<&'static str> {
            super::SENT_BY_CLIENTS
                .iter()
                .map(|known| known.as_str())
                .find(|known| *known == name)
        }
    }

    /// Every name the matchers know, each one byte off (changed at every place, one short, one
    /// long), in upper case, and the empty name.
    fn probe_names() -> Vec<String> {
        let mut known: Vec<String> = [
            "connection",
            "keep-alive",
            "proxy-connection",
            "proxy-authenticate",
            "proxy-authorization",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "host",
            "content-length",
            "expect",
            "authorization",
            "x-api-key",
            "x-goog-api-key",
            "origin",
            "referer",
            "cookie",
            "sec-fetch-site",
            "sec-fetch-",
            "sec-fetch",
            "content-type",
            "accept-encoding",
        ]
        .iter()
        .map(|n| n.to_string())
        .collect();
        known.extend(SENT_BY_CLIENTS.iter().map(|n| n.as_str().to_string()));
        let mut probes = vec![String::new()];
        for name in &known {
            probes.push(name.clone());
            probes.push(name.to_ascii_uppercase());
            probes.push(name[..name.len() - 1].to_string());
            probes.push(format!("{name}x"));
            for at in 0..name.len() {
                let mut bytes = name.clone().into_bytes();
                bytes[at] = if bytes[at] == b'x' { b'y' } else { b'x' };
                probes.push(String::from_utf8(bytes).unwrap());
            }
        }
        probes
    }

    #[test]
    fn the_length_first_matchers_answer_as_the_plain_lists_do() {
        for name in probe_names() {
            let n = name.as_str();
            assert_eq!(is_hop_or_framing(n), plain::is_hop_or_framing(n), "{n:?}");
            assert_eq!(
                is_hop_or_framing_any_case(n.as_bytes()),
                plain::is_hop_or_framing(&n.to_ascii_lowercase()),
                "{n:?}"
            );
            assert_eq!(
                is_client_credential(n),
                plain::is_client_credential(n),
                "{n:?}"
            );
            assert_eq!(is_browser_context(n), plain::is_browser_context(n), "{n:?}");
            assert_eq!(
                sent_by_clients(n).map(|known| known.as_str()),
                plain::sent_by_clients(n),
                "{n:?}"
            );
        }
        // Every entry of the table is found under its own name.
        for known in &SENT_BY_CLIENTS {
            assert!(std::ptr::eq(
                sent_by_clients(known.as_str()).unwrap(),
                known
            ));
        }
    }

    #[test]
    fn a_connection_header_names_more_only_with_a_token_not_dropped_anyway() {
        for (value, names_more) in [
            ("keep-alive", false),
            ("Keep-Alive", false),
            ("close", true),
            (" Keep-Alive , UPGRADE ,", false),
            ("", false),
            (",,", false),
            ("keep-alive, x-hop", true),
            ("X-Hop", true),
            ("keep-alive,\tte", false),
        ] {
            let h = headers(&[("connection", value)]);
            assert_eq!(connection(&h).count() > 0, names_more, "{value:?}");
        }
        // A value that is not text names nothing.
        let mut h = HeaderMap::new();
        h.append(
            actix_web::http::header::CONNECTION,
            HeaderValue::from_bytes(b"x-hop, \xff").unwrap(),
        );
        assert_eq!(connection(&h).count(), 0);
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn every_header_a_client_sends_goes_upstream_under_its_own_name() {
        let client = headers(&[
            ("anthropic-version", "2023-06-01"),
            ("anthropic-beta", "claude-code-20250219"),
            ("x-app", "cli"),
            ("x-stainless-lang", "js"),
            ("session_id", "s-1"),
            ("x-custom-thing", "kept"),
            ("content-type", "application/json"),
        ]);
        let out = upstream_headers(&client, &endpoint("both"));
        for (name, value) in client.iter() {
            assert_eq!(out.get(name), Some(value), "{name}");
        }
        assert_eq!(forwarded_name(&HeaderName::from_static("x-app")), "x-app");
        assert_eq!(
            forwarded_name(&HeaderName::from_static("x-unknown")),
            "x-unknown"
        );
    }

    #[test]
    fn an_upstream_is_asked_for_identity_unless_the_client_named_an_encoding() {
        let out = upstream_headers(&HeaderMap::new(), &endpoint("both"));
        assert_eq!(out.get("accept-encoding").unwrap(), "identity");
        let client = headers(&[("accept-encoding", "gzip")]);
        let out = upstream_headers(&client, &endpoint("both"));
        assert_eq!(out.get("accept-encoding").unwrap(), "gzip");
        assert_eq!(out.get_all("accept-encoding").count(), 1);
    }

    #[test]
    fn what_a_browser_says_about_the_page_never_goes_upstream() {
        let client = headers(&[
            ("origin", "http://127.0.0.1:8045"),
            ("referer", "http://127.0.0.1:8045/admin"),
            ("sec-fetch-site", "same-origin"),
            ("sec-fetch-mode", "cors"),
            ("sec-fetch-dest", "empty"),
            ("cookie", "session=another-local-app"),
            ("content-type", "application/json"),
        ]);
        let out = upstream_headers(&client, &endpoint("both"));
        let names: Vec<&str> = out.keys().map(|n| n.as_str()).collect();
        for gone in [
            "origin",
            "referer",
            "sec-fetch-site",
            "sec-fetch-mode",
            "cookie",
        ] {
            assert!(!names.contains(&gone), "{gone} went upstream: {names:?}");
        }
        assert!(names.contains(&"content-type"));
    }

    #[test]
    fn upstream_gets_its_own_credentials_and_never_the_clients() {
        let client = headers(&[
            ("authorization", "Bearer client-key"),
            ("x-api-key", "client-key"),
            ("x-goog-api-key", "client-key"),
            ("content-type", "application/json"),
        ]);
        let out = upstream_headers(&client, &endpoint("both"));
        assert_eq!(out.get("x-api-key").unwrap(), "sk-upstream");
        assert_eq!(out.get("authorization").unwrap(), "Bearer sk-upstream");
        assert!(out.get("x-goog-api-key").is_none());
        assert_eq!(out.get("anthropic-version").unwrap(), "2023-06-01");
        assert_eq!(out.get("content-type").unwrap(), "application/json");
        let joined: String = out.iter().map(|(_, v)| v.to_str().unwrap_or("")).collect();
        assert!(!joined.contains("client-key"));

        let out = upstream_headers(&client, &endpoint("x-api-key"));
        assert!(out.get("authorization").is_none());
        let out = upstream_headers(&client, &endpoint("bearer"));
        assert!(out.get("x-api-key").is_none());
    }

    #[test]
    fn the_clients_anthropic_version_and_repeated_headers_are_kept() {
        let client = headers(&[
            ("anthropic-version", "2024-01-01"),
            ("anthropic-beta", "a"),
            ("anthropic-beta", "b"),
        ]);
        let out = upstream_headers(&client, &endpoint("both"));
        assert_eq!(out.get("anthropic-version").unwrap(), "2024-01-01");
        let betas: Vec<_> = out.get_all("anthropic-beta").collect();
        assert_eq!(betas.len(), 2);
    }

    #[test]
    fn hop_by_hop_and_connection_named_headers_are_dropped_both_ways() {
        let h = headers(&[
            ("connection", "keep-alive, x-secret-hop"),
            ("keep-alive", "timeout=5"),
            ("x-secret-hop", "1"),
            ("transfer-encoding", "chunked"),
            ("host", "127.0.0.1:8045"),
            ("content-length", "10"),
            ("x-kept", "yes"),
        ]);
        let out = upstream_headers(&h, &endpoint("both"));
        for gone in [
            "connection",
            "keep-alive",
            "x-secret-hop",
            "transfer-encoding",
            "content-length",
        ] {
            assert!(out.get(gone).is_none(), "{gone}");
        }
        let host: Vec<_> = out.get_all("host").collect();
        assert_eq!(
            host,
            [&endpoint("both").wire.host],
            "the endpoint's own host only"
        );
        assert!(out.get("x-kept").is_some());
        let down: Vec<&str> = downstream_headers(&h).map(|(n, _)| n.as_str()).collect();
        assert_eq!(down, ["x-kept"]);
        // Only hop-by-hop tokens (any case): nothing more is dropped. A second `Connection`
        // header, or an upper-case token, still names a header.
        let plain = headers(&[("connection", "Keep-Alive, UPGRADE"), ("x-kept", "yes")]);
        let down: Vec<&str> = downstream_headers(&plain)
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(down, ["x-kept"]);
        let mut two = headers(&[
            ("connection", "keep-alive"),
            ("x-hop", "1"),
            ("x-kept", "yes"),
        ]);
        two.append(
            actix_web::http::header::CONNECTION,
            HeaderValue::from_static("X-Hop"),
        );
        let down: Vec<&str> = downstream_headers(&two).map(|(n, _)| n.as_str()).collect();
        assert_eq!(down, ["x-kept"]);
        assert!(upstream_headers(&two, &endpoint("both"))
            .get("x-hop")
            .is_none());
    }

    #[test]
    fn retry_after_is_read_in_both_forms_and_from_rate_limit_resets() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_hint(&headers(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            retry_hint(&headers(&[("retry-after", &date)]), now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(
            retry_hint(&headers(&[("retry-after", &past)]), now),
            Some(Duration::ZERO)
        );
        // 1_700_000_000 = 2023-11-14T22:13:20Z
        let h = headers(&[("anthropic-ratelimit-requests-reset", "2023-11-14T22:13:50Z")]);
        assert_eq!(retry_hint(&h, now), Some(Duration::from_secs(30)));
        let h = headers(&[(
            "anthropic-ratelimit-tokens-reset",
            "2023-11-14T23:13:50+01:00",
        )]);
        assert_eq!(retry_hint(&h, now), Some(Duration::from_secs(30)));
        let h = headers(&[
            ("x-ratelimit-reset-requests", "1m30s"),
            ("x-ratelimit-reset-tokens", "20ms"),
        ]);
        assert_eq!(retry_hint(&h, now), Some(Duration::from_secs(90)));
        assert_eq!(retry_hint(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_hint(&headers(&[]), now), None);
    }
}
