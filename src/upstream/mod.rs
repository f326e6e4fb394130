//! The edge towards the upstreams: the HTTP client, TLS, URLs and headers. Used by the request
//! path and by the endpoint actors' probes.

pub mod headers;
pub mod outcome;
pub mod ratelimit;
pub mod redact;

use crate::config::{EndpointConfig, Timeouts};
use actix_web::http::uri::{Parts, PathAndQuery};
use actix_web::http::Uri;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The upstream URL: the endpoint's scheme, host and path prefix, then the request's path and query.
/// Only the path of the request target is used, so an absolute-form target or a `//host/…` path can
/// never send the request anywhere but the chosen endpoint.
pub fn upstream_uri(endpoint: &EndpointConfig, target: &Uri) -> Result<Uri, String> {
    match target.path_and_query() {
        // Without a path prefix the joined path is the target's own, when it starts with one
        // slash: its bytes are shared, not built again per request.
        Some(own)
            if endpoint.path_prefix.is_empty()
                && own.as_str().starts_with('/')
                && !own.as_str().starts_with("//") =>
        {
            endpoint_with(endpoint, own.clone())
        }
        _ => join(endpoint, target.path(), target.query()),
    }
}

/// The endpoint's scheme, host and path prefix joined with `path_and_query` (one slash between).
pub fn endpoint_uri(endpoint: &EndpointConfig, path_and_query: &str) -> Result<Uri, String> {
    join(endpoint, path_and_query, None)
}

/// The upstream URI for `path` (and `query`), built in one buffer.
fn join(endpoint: &EndpointConfig, path: &str, query: Option<&str>) -> Result<Uri, String> {
    let rest = path.trim_start_matches('/');
    let query_len = query.map_or(0, |q| q.len() + 1);
    let mut path_and_query =
        String::with_capacity(endpoint.path_prefix.len() + 1 + rest.len() + query_len);
    path_and_query.push_str(&endpoint.path_prefix);
    path_and_query.push('/');
    path_and_query.push_str(rest);
    if let Some(query) = query {
        path_and_query.push('?');
        path_and_query.push_str(query);
    }
    let path_and_query = PathAndQuery::try_from(path_and_query).map_err(|e| e.to_string())?;
    endpoint_with(endpoint, path_and_query)
}

/// The endpoint's scheme and host with `path_and_query`, made from its parts at once (a builder
/// moves its parts through a `Result` at each step).
fn endpoint_with(endpoint: &EndpointConfig, path_and_query: PathAndQuery) -> Result<Uri, String> {
    let mut parts = Parts::default();
    parts.scheme = Some(endpoint.wire.scheme.clone());
    parts.authority = Some(endpoint.wire.authority.clone());
    parts.path_and_query = Some(path_and_query);
    Uri::from_parts(parts).map_err(|e| e.to_string())
}

/// Builds an upstream client, the one way every client is built (a worker's forwarding client, an
/// endpoint actor's probe client): no redirects followed, no decompression, bounded connects, the
/// same pool and TLS settings. The wait for an answer's head is each request's own to bound (awc's
/// client-wide timeout would box a timer for every request).
pub fn build_client(timeouts: &Timeouts, tls: Arc<rustls::ClientConfig>) -> awc::Client {
    use actix_service::ServiceExt as _;
    type Tcp = actix_tls::connect::Connection<Uri, actix_rt::net::TcpStream>;
    // Every upstream connection without Nagle's delay: a request head, or the last small piece of
    // a body, goes out at once instead of waiting for the peer's delayed ACK.
    let tcp = actix_tls::connect::Connector::new(actix_tls::connect::Resolver::default())
        .service()
        .map(|connection: Tcp| {
            let _ = connection.io_ref().set_nodelay(true);
            connection
        });
    let connector = awc::Connector::new()
        .connector(tcp)
        .rustls_0_23(tls)
        .timeout(timeouts.connect)
        .handshake_timeout(timeouts.connect)
        // LLM streams are long-lived: the default of 100 connections would queue the 101st.
        .limit(0)
        .conn_keep_alive(Duration::from_secs(30))
        .conn_lifetime(Duration::from_secs(300));
    awc::ClientBuilder::new()
        .connector(connector)
        .disable_redirects()
        .no_default_headers()
        .disable_timeout()
        .finish()
}

/// A worker's forwarding client. awc fixes the connect timeout when a client is built, so a reload
/// that changes `timeouts.connect` gets a new client (and a new pool); requests under way keep the
/// one they started with.
pub struct WorkerClient {
    current: std::cell::RefCell<(Duration, awc::Client)>,
    tls: Arc<rustls::ClientConfig>,
}

impl WorkerClient {
    pub fn new(timeouts: &Timeouts, tls: Arc<rustls::ClientConfig>) -> Self {
        WorkerClient {
            current: std::cell::RefCell::new((
                timeouts.connect,
                build_client(timeouts, tls.clone()),
            )),
            tls,
        }
    }

    /// The client for the running config's timeouts (a shared handle: cloning one is cheap).
    pub fn get(&self, timeouts: &Timeouts) -> awc::Client {
        // Only this worker's thread touches it, and never across an await: the borrow is free.
        match self.current.try_borrow_mut() {
            Ok(mut current) => {
                if current.0 != timeouts.connect {
                    *current = (timeouts.connect, build_client(timeouts, self.tls.clone()));
                }
                current.1.clone()
            }
            Err(_) => build_client(timeouts, self.tls.clone()),
        }
    }
}

/// The TLS settings for upstream connections: the Mozilla root set plus the system's trust store
/// (or, when set, the certificates named by `SSL_CERT_FILE` / `SSL_CERT_DIR`, for relays behind a
/// private or corporate CA); HTTP/2 and HTTP/1.1 offered. Built once.
pub fn tls_config() -> Arc<rustls::ClientConfig> {
    static TLS: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    TLS.get_or_init(build_tls_config).clone()
}

fn build_tls_config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        log::warn!("trusted certificates: {error}");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    log::debug!(
        "trusted certificates: Mozilla roots plus {added} from the system ({ignored} unusable)"
    );
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // Start-up only: ring supports the default protocol versions.
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(base: &str) -> EndpointConfig {
        crate::config::parse(
            &format!("endpoints:\n  - base_url: {base}\n    api_key: k\n"),
            &|_| None,
        )
        .unwrap()
        .endpoints
        .remove(0)
    }

    #[test]
    fn base_url_prefix_and_path_join_with_one_slash() {
        let e = endpoint("https://relay.example.com/api/");
        let u = upstream_uri(&e, &"/v1/messages?beta=true".parse().unwrap()).unwrap();
        assert_eq!(
            u.to_string(),
            "https://relay.example.com/api/v1/messages?beta=true"
        );
        let e = endpoint("http://127.0.0.1:9000");
        let u = upstream_uri(&e, &"/v1/chat/completions".parse().unwrap()).unwrap();
        assert_eq!(u.to_string(), "http://127.0.0.1:9000/v1/chat/completions");
    }

    #[test]
    fn the_request_target_can_never_change_the_upstream_host() {
        let e = endpoint("https://relay.example.com");
        for target in [
            "http://evil.example/v1/messages",
            "//evil.example/v1/messages",
            "https://user@evil.example:444/x",
            "/@evil.example/x",
        ] {
            let u = upstream_uri(&e, &target.parse().unwrap()).unwrap();
            assert_eq!(
                u.authority().unwrap().as_str(),
                "relay.example.com",
                "{target}"
            );
            assert_eq!(u.scheme_str(), Some("https"));
        }
    }

    #[test]
    fn a_target_without_a_path_prefix_goes_up_as_the_joined_path_would() {
        let e = endpoint("http://127.0.0.1:9000");
        for target in [
            "/v1/messages",
            "/v1/messages?beta=true",
            "/v1/messages?",
            "//evil.example/v1/messages",
            "http://evil.example/v1/messages?a=b",
            "/v1beta/models/gemini-2.5-pro:generateContent?alt=sse",
            "/v1/messages#fragment",
        ] {
            let target: Uri = target.parse().unwrap();
            let joined = join(&e, target.path(), target.query()).unwrap();
            assert_eq!(upstream_uri(&e, &target).unwrap(), joined, "{target}");
        }
    }
}
