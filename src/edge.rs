//! Edge rules: what the gate in front of every route decides from the request target, judged on
//! the path as the router will match it, so that no spelling of a path (percent-encoding, doubled
//! slashes, case, a trailing slash, dot segments) can reach a handler by another door.

use std::borrow::Cow;

/// Where a request target leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// The router sends it into the `/admin` scope: gated as an admin route.
    Admin,
    /// Decodes to a path under `/admin`, but the router would not send it to the admin routes
    /// (`//admin/…`, `/ADMIN/…`, `/admin%2Fstatus`): answered 404, never forwarded.
    AdminLookalike,
    /// `/healthz`.
    Health,
    /// `/metrics`.
    Metrics,
    /// Anything else: the proxy.
    Forward,
}

pub mod browser;
pub mod call;

/// Who the gate found a request to come from: the name of the client key it presented
/// (`proxy.client_keys`). The gate puts it in the request's extensions; usage by client reads it.
#[derive(Debug, Clone)]
pub struct ClientName(pub std::sync::Arc<str>);

/// `x-request-id`: the client's, or one the gateway made.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// A request's id: the client's `x-request-id` when it sent a usable one (1–128 visible ASCII
/// characters, spaces around it trimmed), else a new one (`sy-` and 16 hex digits). Every answer
/// carries it and the access log names it.
pub fn request_id(headers: &actix_web::http::header::HeaderMap) -> RequestId {
    use actix_web::http::header::HeaderValue;
    let sent = headers.get(&crate::upstream::headers::names::X_REQUEST_ID);
    if let Some((value, text)) = sent.and_then(|v| Some((v, v.to_str().ok()?))) {
        let id = text.trim();
        if !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()) {
            if id.len() == text.len() {
                // The client's own value: its bytes are shared, not copied.
                return RequestId::Sent(value.clone());
            }
            if let Ok(value) = HeaderValue::from_str(id) {
                return RequestId::Sent(value);
            }
        }
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n = fastrand::u64(..);
    let mut id = *b"sy-0000000000000000";
    for (i, digit) in id[3..].iter_mut().enumerate() {
        *digit = HEX[((n >> (60 - 4 * i)) & 0xf) as usize];
    }
    RequestId::Made(id)
}

/// A request's id ([`request_id`]): the client's header value, or the gateway's own kept inline,
/// so that the answer's header is the only copy made of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestId {
    /// The client's `x-request-id`, trimmed.
    Sent(actix_web::http::header::HeaderValue),
    /// One the gateway made: `sy-` and 16 hex digits.
    Made([u8; 19]),
}

impl RequestId {
    /// The id as the access log writes it.
    pub fn as_str(&self) -> &str {
        match self {
            // Only visible ASCII is taken from a client.
            RequestId::Sent(value) => value.to_str().unwrap_or("-"),
            RequestId::Made(id) => std::str::from_utf8(id).unwrap_or("-"),
        }
    }

    /// The id as the answer's `x-request-id` header.
    pub fn header_value(&self) -> actix_web::http::header::HeaderValue {
        use actix_web::http::header::HeaderValue;
        match self {
            RequestId::Sent(value) => value.clone(),
            RequestId::Made(id) => {
                HeaderValue::from_bytes(id).unwrap_or(HeaderValue::from_static("sy-0"))
            }
        }
    }
}

/// Why a target is refused before routing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetRefusal {
    #[error(
        "the path has a `.` or `..` segment (raw or percent-encoded); send the path without them"
    )]
    DotSegment,
}

/// Where the target whose router path is `router_path` leads. `router_path` is the path as actix's
/// router matches it (`HttpRequest::match_info().as_str()`: percent-decoded except `%`, `/`, `+`).
pub fn destination(router_path: &str) -> Result<Destination, TargetRefusal> {
    let decoded = percent_decode(router_path);
    // A path without `%` decodes to itself: one look is enough.
    let decoded_differs = matches!(decoded, Cow::Owned(_));
    if has_dot_segment(router_path) || (decoded_differs && has_dot_segment(&decoded)) {
        return Err(TargetRefusal::DotSegment);
    }
    if router_path == "/admin" || router_path.starts_with("/admin/") {
        return Ok(Destination::Admin);
    }
    if is_under_admin(&decoded) {
        return Ok(Destination::AdminLookalike);
    }
    Ok(match router_path {
        "/healthz" => Destination::Health,
        "/metrics" => Destination::Metrics,
        _ => Destination::Forward,
    })
}

/// Whether a fully decoded path, with runs of slashes folded and case ignored, is `/admin` or lies
/// under it. Reads the path once, without copying it.
fn is_under_admin(decoded: &str) -> bool {
    let mut previous = None;
    let mut folded = decoded
        .chars()
        .map(|c| {
            if c == '\\' {
                '/'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .filter(move |&c| {
            let keep = !(c == '/' && previous == Some('/'));
            previous = Some(c);
            keep
        });
    "/admin".chars().all(|want| folded.next() == Some(want))
        && matches!(folded.next(), None | Some('/'))
}

/// Whether any segment, split on `/` (and `\`, which some servers treat alike), is `.` or `..`.
fn has_dot_segment(path: &str) -> bool {
    // Split as bytes: a char pattern decodes the path char by char.
    path.as_bytes()
        .split(|&b| b == b'/' || b == b'\\')
        .any(|s| s == b"." || s == b"..")
}

/// Decodes every `%XX` once (invalid escapes stay as they are); bytes that are not UTF-8 are
/// replaced, which cannot turn a non-admin path into an admin one. A path without `%` is borrowed.
fn percent_decode(path: &str) -> Cow<'_, str> {
    if !path.contains('%') {
        return Cow::Borrowed(path);
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            ) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_routes_are_admin_however_the_router_reaches_them() {
        // actix's router has already decoded `%61` to `a`; `/admin/status/` still enters the scope.
        for p in [
            "/admin",
            "/admin/",
            "/admin/status",
            "/admin/status/",
            "/admin//status",
        ] {
            assert_eq!(destination(p), Ok(Destination::Admin), "{p}");
        }
    }

    #[test]
    fn admin_lookalikes_the_router_would_forward_are_caught() {
        for p in [
            "//admin/status",
            "/ADMIN/status",
            "/Admin",
            "/admin%2Fstatus",
            "/admin%2fendpoints%2Fa%2Fdisable",
            "/%2Fadmin/status",
            "/\\admin/status",
            "///admin",
        ] {
            assert_eq!(destination(p), Ok(Destination::AdminLookalike), "{p}");
        }
    }

    #[test]
    fn other_paths_are_forwarded_and_gateway_routes_named() {
        assert_eq!(destination("/healthz"), Ok(Destination::Health));
        assert_eq!(destination("/metrics"), Ok(Destination::Metrics));
        for p in [
            "/v1/messages",
            "/administrator",
            "/v1/admin/x",
            "/",
            "/adminx/y",
        ] {
            assert_eq!(destination(p), Ok(Destination::Forward), "{p}");
        }
    }

    #[test]
    fn dot_segments_are_refused_raw_or_encoded() {
        for p in [
            "/../secret",
            "/v1/../../secret/x",
            "/v1/./messages",
            "/v1/..",
            "/v1/%2e%2e/x",
            "/v1/%2E%2e%2Fsecret",
            "/v1/..%2Fsecret",
            "/v1/..\\secret",
        ] {
            assert_eq!(destination(p), Err(TargetRefusal::DotSegment), "{p}");
        }
        for p in ["/v1/files/.hidden", "/v1/a..b", "/v1/...", "/v1/x."] {
            assert!(destination(p).is_ok(), "{p}");
        }
    }

    #[test]
    fn dot_segments_are_found_as_the_char_split_finds_them() {
        let by_chars = |path: &str| path.split(['/', '\\']).any(|s| s == "." || s == "..");
        for p in [
            "",
            "/",
            ".",
            "..",
            "...",
            "/.",
            "/..",
            "\\..",
            "/v1/./x",
            "/v1/../x",
            "/v1/..\\x",
            "/v1/.x",
            "/v1/x.",
            "/v1/a..b",
            "/é/../x",
            "/é.",
            "//..//",
            "/v1/messages",
        ] {
            assert_eq!(has_dot_segment(p), by_chars(p), "{p:?}");
        }
    }

    #[test]
    fn percent_decoding_is_one_level_and_tolerates_bad_escapes() {
        assert_eq!(percent_decode("/%61dmin"), "/admin");
        assert_eq!(percent_decode("/%2561"), "/%61");
        assert_eq!(percent_decode("/%zz%4"), "/%zz%4");
        assert_eq!(percent_decode("%"), "%");
    }

    /// The folding `is_under_admin` does without a copy, written the plain way: lower-case,
    /// `\\` as `/`, runs of `/` as one, then compared.
    fn under_admin_by_copy(decoded: &str) -> bool {
        let mut folded = String::new();
        for c in decoded.chars() {
            let c = if c == '\\' { '/' } else { c };
            if !(c == '/' && folded.ends_with('/')) {
                folded.push(c.to_ascii_lowercase());
            }
        }
        folded == "/admin" || folded.starts_with("/admin/")
    }

    #[test]
    fn admin_folding_reads_lookalikes_as_admin() {
        for p in [
            "/admin",
            "//ADMIN",
            "\\admin\\x",
            "/Admin//",
            "///admin///status",
        ] {
            assert!(is_under_admin(p), "{p}");
        }
        for p in ["", "/", "/admi", "/adminx", "/v1/admin", "/admin\u{e9}"] {
            assert!(!is_under_admin(p), "{p}");
        }
    }

    proptest::proptest! {
        #[test]
        fn admin_folding_answers_as_the_copying_fold(pieces in proptest::collection::vec(
            proptest::sample::select(&["/", "\\", "//", "admin", "ADMIN", "Admin", "admi", "n", "x", "\u{e9}"][..]),
            0..7,
        )) {
            let path = pieces.concat();
            proptest::prop_assert_eq!(is_under_admin(&path), under_admin_by_copy(&path), "{}", path);
        }
    }

    #[test]
    fn a_request_id_is_the_clients_trimmed_or_a_new_one() {
        use actix_web::http::header::{HeaderMap, HeaderValue};
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                crate::upstream::headers::names::X_REQUEST_ID,
                HeaderValue::from_static(value),
            );
            request_id(&headers)
        };
        assert_eq!(with("abc-1").as_str(), "abc-1");
        assert_eq!(with("abc-1").header_value(), "abc-1");
        assert_eq!(with("  abc-2 ").as_str(), "abc-2");
        for unusable in ["", "a b", &"x".repeat(129)] {
            let mut headers = HeaderMap::new();
            headers.insert(
                crate::upstream::headers::names::X_REQUEST_ID,
                HeaderValue::from_str(unusable).unwrap(),
            );
            let made = request_id(&headers);
            assert!(matches!(made, RequestId::Made(_)), "{unusable:?}");
        }
        let made = request_id(&HeaderMap::new());
        let text = made.as_str();
        assert!(text.starts_with("sy-") && text.len() == 19, "{text}");
        assert!(text[3..].bytes().all(|b| b.is_ascii_hexdigit()), "{text}");
        assert_eq!(made.header_value(), text);
    }
}
