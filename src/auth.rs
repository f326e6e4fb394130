//! Client auth: which routes need the gateway's key, which headers may carry it, and a comparison
//! that takes the same time whatever the key's content or length.

use crate::config::AuthMode;
use crate::Secret;
use actix_web::http::header::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The headers a client key may come in, in the order they are reported.
pub const KEY_HEADERS: [&str; 3] = ["authorization", "x-api-key", "x-goog-api-key"];

/// The query parameter a Gemini client may send its key in (`?key=KEY`). It is never forwarded.
pub const KEY_PARAMETER: &str = "key";

/// The values of the `key` query parameter, decoded (none when the query cannot be read).
pub fn query_keys(query: &str) -> Vec<String> {
    if !query.split('&').any(|pair| pair.starts_with("key=")) {
        return Vec::new();
    }
    actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
        .map(|pairs| {
            pairs
                .into_inner()
                .into_iter()
                .filter(|(name, value)| name == KEY_PARAMETER && !value.is_empty())
                .map(|(_, value)| value)
                .collect()
        })
        .unwrap_or_default()
}

/// `query` without its `key` parameters, as it goes upstream; `None` when it has none.
pub fn without_query_key(query: &str) -> Option<String> {
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| pair.split('=').next() != Some(KEY_PARAMETER))
        .collect();
    (kept.len() != query.split('&').count()).then(|| kept.join("&"))
}

/// Whether a request to this route must present the client key under `mode` (already effective).
pub fn key_required(mode: AuthMode, is_health_route: bool) -> bool {
    match mode {
        AuthMode::Off | AuthMode::Auto => false,
        AuthMode::Strict => true,
        AuthMode::AllExceptHealth => !is_health_route,
    }
}

/// Every credential the request presents, with the header it came in. `Authorization` loses one
/// `Bearer ` prefix (any case); without it the whole value is the key.
pub fn presented_credentials(headers: &HeaderMap) -> Vec<(&'static str, &str)> {
    let mut out = Vec::new();
    let names = [
        actix_web::http::header::AUTHORIZATION,
        crate::upstream::headers::names::X_API_KEY,
        crate::upstream::headers::names::X_GOOG_API_KEY,
    ];
    for (name, header) in KEY_HEADERS.into_iter().zip(&names) {
        for value in headers.get_all(header) {
            let Ok(text) = value.to_str() else { continue };
            let text = text.trim();
            let key = if name == "authorization" {
                match text.get(..7) {
                    Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => {
                        text[7..].trim_start()
                    }
                    _ => text,
                }
            } else {
                text
            };
            if !key.is_empty() {
                out.push((name, key));
            }
        }
    }
    out
}

/// Compares fixed-size digests in constant time, so neither the content nor the length of the
/// expected key shows in the time a wrong guess takes.
pub fn key_matches(expected: &Secret, presented: &str) -> bool {
    if expected.is_empty() {
        return false;
    }
    let a = Sha256::digest(expected.expose().as_bytes());
    let b = Sha256::digest(presented.as_bytes());
    a.ct_eq(&b).into()
}

/// Admits the request if any presented credential matches `expected` (so a stale `Authorization`
/// cannot shadow a correct `x-api-key`). On refusal, says which headers were seen (names only).
pub fn check_key(expected: &Secret, headers: &HeaderMap, query: &str) -> Result<(), String> {
    let mut presented = presented_credentials(headers);
    let from_query = query_keys(query);
    presented.extend(from_query.iter().map(|key| ("?key=", key.as_str())));
    // Compare every candidate, not stopping at the first match, so timing does not tell which matched.
    let mut admitted = false;
    for (_, key) in &presented {
        admitted |= key_matches(expected, key);
    }
    if admitted {
        return Ok(());
    }
    if presented.is_empty() {
        return Err(
            "no key presented; send it as `Authorization: Bearer KEY`, `x-api-key: KEY`, `x-goog-api-key: KEY` or `?key=KEY` \
             (this is the gateway's own check, proxy.api_key, not an upstream's answer)"
                .to_string(),
        );
    }
    let mut seen: Vec<&str> = presented.iter().map(|(name, _)| *name).collect();
    seen.dedup();
    Err(format!(
        "the key does not match proxy.api_key (headers seen: {}; this is the gateway's own check, not an upstream's answer)",
        seen.join(", ")
    ))
}

/// The name of the client key (`proxy.client_keys`) the request presents, if any. Every presented
/// credential is compared with every key, so the time taken does not tell which one matched.
pub fn client_key_name<'a>(
    keys: &'a [(String, Secret)],
    headers: &HeaderMap,
    query: &str,
) -> Option<&'a str> {
    if keys.is_empty() {
        return None;
    }
    let mut presented = presented_credentials(headers);
    let from_query = query_keys(query);
    presented.extend(from_query.iter().map(|key| ("?key=", key.as_str())));
    let mut found = None;
    for (name, key) in keys {
        let mut matched = false;
        for (_, candidate) in &presented {
            matched |= key_matches(key, candidate);
        }
        if matched && found.is_none() {
            found = Some(name.as_str());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    fn key() -> Secret {
        Secret::new("right-key".into())
    }

    #[test]
    fn a_client_key_names_its_client_in_any_header_or_the_query() {
        let keys = vec![
            ("laptop".to_string(), Secret::new("laptop-key".into())),
            ("ci".to_string(), Secret::new("ci-key".into())),
        ];
        let name = |headers: HeaderMap, query: &str| client_key_name(&keys, &headers, query);
        assert_eq!(name(h(&[("x-api-key", "ci-key")]), ""), Some("ci"));
        assert_eq!(
            name(
                h(&[
                    ("authorization", "Bearer stale"),
                    ("x-goog-api-key", "laptop-key")
                ]),
                ""
            ),
            Some("laptop")
        );
        assert_eq!(name(h(&[]), "alt=sse&key=ci-key"), Some("ci"));
        assert_eq!(name(h(&[("x-api-key", "right-key")]), ""), None);
        assert_eq!(name(h(&[]), ""), None);
        assert_eq!(
            client_key_name(&[], &h(&[("x-api-key", "ci-key")]), ""),
            None
        );
    }

    #[test]
    fn every_header_form_is_accepted() {
        for headers in [
            h(&[("authorization", "Bearer right-key")]),
            h(&[("authorization", "bearer right-key")]),
            h(&[("authorization", "right-key")]),
            h(&[("x-api-key", "right-key")]),
            h(&[("x-goog-api-key", "right-key")]),
        ] {
            assert!(check_key(&key(), &headers, "").is_ok(), "{headers:?}");
        }
    }

    #[test]
    fn a_wrong_authorization_does_not_shadow_a_right_x_api_key() {
        let headers = h(&[
            ("authorization", "Bearer stale"),
            ("x-api-key", "right-key"),
        ]);
        assert!(check_key(&key(), &headers, "").is_ok());
        let headers = h(&[("x-api-key", "stale"), ("x-api-key", "right-key")]);
        assert!(check_key(&key(), &headers, "").is_ok());
    }

    #[test]
    fn wrong_or_missing_keys_are_refused_naming_only_the_headers() {
        let err = check_key(&key(), &h(&[("authorization", "Bearer wrong-key")]), "").unwrap_err();
        assert!(
            err.contains("authorization") && !err.contains("wrong-key"),
            "{err}"
        );
        let err = check_key(&key(), &h(&[]), "").unwrap_err();
        assert!(err.contains("no key presented"));
        // "Bearer<key>" without a space is the whole value, which does not match.
        assert!(check_key(&key(), &h(&[("authorization", "Bearerright-key")]), "").is_err());
        // An empty expected key never matches anything.
        assert!(!key_matches(&Secret::default(), ""));
    }

    #[test]
    fn a_gemini_client_may_send_its_key_as_a_query_parameter_which_never_goes_on() {
        assert!(check_key(&key(), &h(&[]), "alt=sse&key=right-key").is_ok());
        assert!(check_key(&key(), &h(&[]), "key=right%2Dkey").is_ok());
        let err = check_key(&key(), &h(&[]), "key=wrong").unwrap_err();
        assert!(err.contains("?key=") && !err.contains("wrong"), "{err}");
        assert!(check_key(&key(), &h(&[]), "monkey=right-key").is_err());
        assert_eq!(
            without_query_key("alt=sse&key=right-key").as_deref(),
            Some("alt=sse")
        );
        assert_eq!(without_query_key("key=a&key=b").as_deref(), Some(""));
        assert_eq!(without_query_key("alt=sse"), None);
    }

    #[test]
    fn the_health_route_is_exempt_only_in_all_except_health() {
        assert!(!key_required(AuthMode::Off, false));
        assert!(key_required(AuthMode::Strict, true));
        assert!(!key_required(AuthMode::AllExceptHealth, true));
        assert!(key_required(AuthMode::AllExceptHealth, false));
    }
}
