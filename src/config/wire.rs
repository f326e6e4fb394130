//! What the request path sends for an endpoint on every request, made once when the config is
//! read: the parsed scheme and host of its URL, its credential headers and its id as a header.

use super::UpstreamAuth;
use actix_web::http::header::HeaderValue;
use actix_web::http::uri::{Authority, Scheme};
use std::sync::Arc;

/// An endpoint's ready-made request parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wire {
    pub scheme: Scheme,
    pub authority: Authority,
    /// The `host` header: the URL's host, and its port unless it is the scheme's own.
    pub host: HeaderValue,
    /// `x-api-key: KEY`, when the endpoint's `auth` sends it (marked sensitive).
    pub x_api_key: Option<HeaderValue>,
    /// `authorization: Bearer KEY`, when the endpoint's `auth` sends it (marked sensitive).
    pub authorization: Option<HeaderValue>,
    /// `x-goog-api-key: KEY`, when the endpoint's `auth` sends it (marked sensitive).
    pub x_goog_api_key: Option<HeaderValue>,
    /// The endpoint's id as the value of `x-switchyard-endpoint`.
    pub id: HeaderValue,
    /// The endpoint's id, shared without a copy by the usage records of its answers and by the
    /// list of endpoints a request tried.
    pub shared_id: Arc<str>,
    /// A searcher for the key in answers (the redactor's), built once; `None` for a key too
    /// short to be searched for.
    pub key_finder: Option<KeyFinder>,
}

/// Keys shorter than this are not searched for in answers: they are no secret, and replacing
/// every occurrence of a two-letter string would mangle the answer.
pub const MIN_SEARCHED_KEY: usize = 8;

/// A shared, ready-made searcher for one endpoint's key. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct KeyFinder(Arc<memchr::memmem::Finder<'static>>);

impl KeyFinder {
    /// A searcher for `key`, or `None` when the key is shorter than [`MIN_SEARCHED_KEY`].
    pub fn new(key: &str) -> Option<KeyFinder> {
        (key.len() >= MIN_SEARCHED_KEY).then(|| {
            KeyFinder(Arc::new(
                memchr::memmem::Finder::new(key.as_bytes()).into_owned(),
            ))
        })
    }

    /// The searcher.
    pub fn finder(&self) -> &memchr::memmem::Finder<'static> {
        &self.0
    }
}

impl PartialEq for KeyFinder {
    fn eq(&self, other: &Self) -> bool {
        self.0.needle() == other.0.needle()
    }
}

impl Eq for KeyFinder {}

impl std::fmt::Debug for KeyFinder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyFinder(..)")
    }
}

impl Wire {
    /// The parts for an endpoint whose URL starts `scheme://authority` (both already checked),
    /// with `key` sent as `auth` says, and `id` (letters, digits, `-`, `_`, `.`). A refusal names
    /// the endpoint's field and what is wrong with it.
    pub fn new(
        scheme: &str,
        authority: &str,
        key: &str,
        auth: UpstreamAuth,
        id: &str,
    ) -> Result<Wire, (&'static str, &'static str)> {
        const NOT_A_HEADER: &str = "contains characters an HTTP header cannot carry";
        let scheme = scheme
            .parse::<Scheme>()
            .map_err(|_| ("base_url", "only http and https are supported"))?;
        let authority = authority
            .parse::<Authority>()
            .map_err(|_| ("base_url", "has an invalid host[:port]"))?;
        let host = match (authority.port_u16(), scheme.as_str()) {
            (None, _) | (Some(80), "http") | (Some(443), "https") => {
                HeaderValue::from_str(authority.host())
            }
            (Some(port), _) => HeaderValue::from_str(&format!("{}:{port}", authority.host())),
        }
        .map_err(|_| ("base_url", "has an invalid host[:port]"))?;
        let secret = |text: &str| {
            let mut value = HeaderValue::from_str(text).map_err(|_| ("api_key", NOT_A_HEADER))?;
            value.set_sensitive(true);
            Ok::<_, (&'static str, &'static str)>(value)
        };
        let x_api_key = match auth {
            UpstreamAuth::Both | UpstreamAuth::XApiKey => Some(secret(key)?),
            UpstreamAuth::Bearer | UpstreamAuth::GoogApiKey => None,
        };
        let authorization = match auth {
            UpstreamAuth::Both | UpstreamAuth::Bearer => Some(secret(&format!("Bearer {key}"))?),
            UpstreamAuth::XApiKey | UpstreamAuth::GoogApiKey => None,
        };
        let x_goog_api_key = match auth {
            UpstreamAuth::GoogApiKey => Some(secret(key)?),
            _ => None,
        };
        let shared_id = Arc::from(id);
        let id = HeaderValue::from_str(id).map_err(|_| ("id", NOT_A_HEADER))?;
        Ok(Wire {
            scheme,
            authority,
            host,
            x_api_key,
            authorization,
            x_goog_api_key,
            id,
            shared_id,
            key_finder: KeyFinder::new(key),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_follow_auth_and_are_marked_sensitive() {
        let both = Wire::new(
            "https",
            "relay.example.com:8443",
            "sk-1",
            UpstreamAuth::Both,
            "a",
        )
        .unwrap();
        assert_eq!(both.x_api_key.as_ref().unwrap(), "sk-1");
        assert_eq!(both.authorization.as_ref().unwrap(), "Bearer sk-1");
        assert!(both.x_api_key.as_ref().unwrap().is_sensitive());
        assert!(both.authorization.as_ref().unwrap().is_sensitive());
        assert_eq!(both.authority.as_str(), "relay.example.com:8443");
        assert_eq!(both.scheme.as_str(), "https");
        assert_eq!(both.id, "a");
        assert_eq!(both.host, "relay.example.com:8443");
        let bearer = Wire::new("http", "h", "k", UpstreamAuth::Bearer, "b").unwrap();
        assert!(bearer.x_api_key.is_none() && bearer.authorization.is_some());
        let x = Wire::new("http", "h", "k", UpstreamAuth::XApiKey, "c").unwrap();
        assert!(x.x_api_key.is_some() && x.authorization.is_none());
    }

    #[test]
    fn the_host_header_leaves_out_the_schemes_own_port() {
        let host = |scheme, authority| Wire::new(scheme, authority, "k", UpstreamAuth::Both, "a");
        assert_eq!(
            host("https", "api.example.com:443").unwrap().host,
            "api.example.com"
        );
        assert_eq!(host("http", "127.0.0.1:80").unwrap().host, "127.0.0.1");
        assert_eq!(host("http", "127.0.0.1:443").unwrap().host, "127.0.0.1:443");
        assert_eq!(host("http", "[::1]:8080").unwrap().host, "[::1]:8080");
        assert_eq!(
            host("https", "relay.example.com").unwrap().host,
            "relay.example.com"
        );
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let wire = Wire::new("http", "h", "sk-secret-9", UpstreamAuth::Both, "a").unwrap();
        assert!(!format!("{wire:?}").contains("sk-secret-9"));
    }

    #[test]
    fn a_key_that_cannot_be_a_header_is_refused() {
        assert_eq!(
            Wire::new("http", "h", "k\u{7f}", UpstreamAuth::Both, "a")
                .unwrap_err()
                .0,
            "api_key"
        );
    }
}
