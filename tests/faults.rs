//! Faults the gateway must survive: upstreams that reset, answer garbage or close pooled
//! connections; clients that disconnect mid-stream or send their headers byte by byte; and many
//! streams at once. Loopback only; every loop is bounded.

mod common;

use common::*;
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A raw TCP upstream on 127.0.0.1 that runs `serve` for every connection (in its own thread).
fn raw_upstream<F, Fut>(serve: F) -> u16
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let serve = std::rc::Rc::new(serve);
            while let Ok((socket, _)) = listener.accept().await {
                let serve = serve.clone();
                tokio::task::spawn_local(async move { serve(socket).await });
            }
        });
    });
    port
}

/// Reads one request head (and discards a small body).
async fn read_request(socket: &mut tokio::net::TcpStream) -> bool {
    let mut buf = vec![0u8; 65536];
    let mut seen = Vec::new();
    loop {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => {
                seen.extend_from_slice(&buf[..n]);
                if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while seen.len() < end + 4 + length {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return false,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    return true;
                }
            }
        }
    }
}

const MESSAGE_START: &str = "event: message_start\ndata: {\"type\":\"message_start\"}\n\n";
const TEXT_DELTA: &str = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n";

/// An upstream that answers a `200` stream of `events`, then resets the connection (RST).
fn resetting_upstream(events: &'static str) -> u16 {
    raw_upstream(move |mut socket| async move {
        if !read_request(&mut socket).await {
            return;
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{events}\r\n",
            events.len()
        );
        let _ = socket.write_all(head.as_bytes()).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        // RST instead of FIN.
        let _ = socket.set_zero_linger();
        drop(socket);
    })
}

#[actix_rt::test]
async fn an_upstream_that_resets_before_any_content_fails_over_unseen() {
    let port = resetting_upstream(MESSAGE_START);
    let (gw, backup) = with_backup("", "resets", &format!("http://127.0.0.1:{port}"));
    let (status, headers, body) = post(&gw.url, "/v1/messages", STREAM_BODY).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("backup")
    );
    let text = String::from_utf8_lossy(&body);
    assert_eq!(text.matches("event: message_start").count(), 1, "{text}");
    assert!(!text.contains("event: error"), "{text}");
    assert_eq!(backup.hits(), 1);
    assert_eq!(gw.status().await["endpoints"][0]["failures"], 1);
}

#[actix_rt::test]
async fn an_upstream_that_resets_mid_stream_ends_the_clients_stream_with_an_error_event() {
    let port = resetting_upstream(concat!(
        "event: message_start\ndata: {\"type\":\"message_start\"}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"
    ));
    let (gw, backup) = with_backup("", "resets", &format!("http://127.0.0.1:{port}"));
    let (status, headers, body) = post(&gw.url, "/v1/messages", STREAM_BODY).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("resets")
    );
    let text = String::from_utf8_lossy(&body);
    assert!(text.starts_with(MESSAGE_START), "{text}");
    assert!(text.contains(TEXT_DELTA), "{text}");
    assert!(text.contains("event: error"), "{text}");
    assert_eq!(backup.hits(), 0);
    assert_eq!(gw.status().await["endpoints"][0]["failures"], 1);
}

#[actix_rt::test]
async fn an_upstream_answering_garbage_is_a_failure_and_the_request_fails_over() {
    let port = raw_upstream(|mut socket| async move {
        if read_request(&mut socket).await {
            let _ = socket
                .write_all(b"SSH-2.0-OpenSSH_9.2\r\nthis is not http\r\n\r\n")
                .await;
        }
    });
    let (gw, _backup) = with_backup("", "garbage", &format!("http://127.0.0.1:{port}"));
    let (status, headers, _) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("backup")
    );
    let garbage = &gw.status().await["endpoints"][0];
    assert_eq!(garbage["failures"], 1);
    assert!(
        garbage["last_error"]
            .as_str()
            .unwrap()
            .contains("response head"),
        "{garbage}"
    );
}

#[actix_rt::test]
async fn a_pooled_connection_the_upstream_closed_is_not_held_against_it() {
    // Answers one request per connection with keep-alive, then closes it shortly after,
    // as an upstream with a short keep-alive timeout does.
    let port = raw_upstream(|mut socket| async move {
        if read_request(&mut socket).await {
            let body = r#"{"type":"message","content":[]}"#;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let gw = Gateway::start(&config(
        "",
        &[endpoint(
            "closes",
            &format!("http://127.0.0.1:{port}"),
            "k",
            1,
        )],
    ));
    for _ in 0..5 {
        let (status, _, _) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
        assert_eq!(status, 200);
        // Let the upstream close the idle connection the gateway keeps in its pool.
        actix_rt::time::sleep(Duration::from_millis(150)).await;
    }
    let s = &gw.status().await["endpoints"][0];
    assert_eq!(s["failures"], 0, "{s}");
    assert_eq!(s["state"], "healthy");
}

#[actix_rt::test]
async fn a_client_leaving_mid_stream_cancels_the_upstream_request_and_blames_nobody() {
    let up = streaming_mock(50, Duration::from_millis(100));
    let gw = Gateway::start(&config("", &[endpoint("up", &up.url(), "k", 1)]));
    {
        let mut r = client()
            .post(format!("{}/v1/messages", gw.url))
            .send_body(STREAM_BODY)
            .await
            .unwrap();
        let first = r.next().await.unwrap().unwrap();
        assert!(first.starts_with(b"event: message_start"));
        // The response (and its connection) is dropped here.
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while up.streams_cancelled() == 0 {
        assert!(
            Instant::now() < deadline,
            "the upstream stream was not cancelled"
        );
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(up.event_times().len() < 20, "the upstream stopped sending");
    let s = &gw.status().await["endpoints"][0];
    assert_eq!(s["in_flight"], 0);
    assert_eq!(s["failures"], 0);
    assert_eq!(s["state"], "healthy");
    assert!(gw.logs().contains("outcome=client_closed"));
}

#[actix_rt::test]
async fn a_client_sending_its_head_byte_by_byte_is_cut_off_without_harming_others() {
    let up = mock("up", "k");
    let gw = Gateway::start(&config(
        "timeouts:\n  request_header: 1s\n",
        &[endpoint("up", &up.url(), "k", 1)],
    ));
    let addr = gw.url.trim_start_matches("http://").to_string();
    let slow = actix_rt::spawn(async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let started = Instant::now();
        for byte in b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
            .iter()
            .cycle()
            .take(100)
        {
            if s.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            let mut probe = [0u8; 1024];
            match tokio::time::timeout(Duration::from_millis(1), s.read(&mut probe)).await {
                Ok(Ok(_)) | Ok(Err(_)) => break,
                Err(_) => {}
            }
        }
        started.elapsed()
    });
    // Others are served meanwhile.
    for _ in 0..5 {
        assert_eq!(post(&gw.url, "/v1/messages", MESSAGES_BODY).await.0, 200);
    }
    let lasted = slow.await.unwrap();
    assert!(
        lasted < Duration::from_secs(4),
        "the slow client was cut off after {lasted:?}"
    );
    assert_eq!(up.hits(), 5, "the slow request never reached the upstream");
}

#[actix_rt::test]
async fn a_thousand_concurrent_streams_complete_with_every_byte() {
    let up = streaming_mock(5, Duration::from_millis(20));
    let gw = Gateway::start(&config("", &[endpoint("up", &up.url(), "k", 1)]));
    let mut direct = client()
        .post(format!("{}/v1/messages", up.url()))
        .insert_header(("x-api-key", "k"))
        .send_body(STREAM_BODY)
        .await
        .unwrap();
    let expected = direct.body().await.unwrap();
    let many = awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .connector(awc::Connector::new().limit(0))
        .finish();
    let started = Instant::now();
    let bodies: Vec<Result<bytes::Bytes, String>> = futures_util::stream::iter(0..1000)
        .map(|_| {
            let many = many.clone();
            let url = gw.url.clone();
            async move {
                let mut r = many
                    .post(format!("{url}/v1/messages"))
                    .send_body(STREAM_BODY)
                    .await
                    .map_err(|e| e.to_string())?;
                r.body().limit(1 << 20).await.map_err(|e| e.to_string())
            }
        })
        .buffer_unordered(1000)
        .collect()
        .await;
    let complete = bodies
        .iter()
        .filter(|b| b.as_ref().is_ok_and(|b| *b == expected))
        .count();
    let errors: Vec<&String> = bodies
        .iter()
        .filter_map(|b| b.as_ref().err())
        .take(3)
        .collect();
    assert_eq!(complete, 1000, "errors: {errors:?}");
    println!(
        "1000 concurrent streams through the gateway in {:?}",
        started.elapsed()
    );
    assert_eq!(gw.status().await["endpoints"][0]["in_flight"], 0);
}

#[actix_rt::test]
async fn compressed_bodies_and_repeated_headers_pass_through_untouched() {
    // Not real gzip: the gateway must neither decode nor re-encode, so any bytes do.
    const BODY: &[u8] = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xff\x00binary\x00\xfe";
    let port = raw_upstream(|mut socket| async move {
        if read_request(&mut socket).await {
            let mut answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n\
                 set-cookie: a=1\r\nset-cookie: b=2\r\ncontent-length: {}\r\n\r\n",
                BODY.len()
            )
            .into_bytes();
            answer.extend_from_slice(BODY);
            let _ = socket.write_all(&answer).await;
        }
    });
    let gw = Gateway::start(&config(
        "",
        &[endpoint("gz", &format!("http://127.0.0.1:{port}"), "k", 1)],
    ));
    let mut r = client()
        .post(format!("{}/v1/messages", gw.url))
        .insert_header(("accept-encoding", "gzip"))
        .send_body(MESSAGES_BODY)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(r.headers(), "content-encoding").as_deref(),
        Some("gzip")
    );
    assert_eq!(
        header(r.headers(), "content-length").as_deref(),
        Some(BODY.len().to_string().as_str())
    );
    let cookies: Vec<&str> = r
        .headers()
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    let body = r.body().await.unwrap();
    assert_eq!(&body[..], BODY, "bytes pass as they came");
}

/// A CA and a `localhost` certificate it signed, as PEM files in `dir`; returns the CA file.
fn test_pki(dir: &std::path::Path) -> (std::path::PathBuf, Vec<u8>, Vec<u8>) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    (ca_file, leaf.der().to_vec(), leaf_key.serialize_der())
}

/// An HTTPS upstream on 127.0.0.1 (name `localhost`) that answers every request with a small JSON.
fn tls_upstream(
    cert: Vec<u8>,
    key: Vec<u8>,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> u16 {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    raw_upstream(move |socket| {
        let acceptor = acceptor.clone();
        let hits = hits.clone();
        async move {
            let Ok(mut tls) = acceptor.accept(socket).await else {
                return;
            };
            let mut buf = vec![0u8; 65536];
            let mut seen = Vec::new();
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = r#"{"type":"message","content":[{"type":"text","text":"over tls"}]}"#;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.write_all(answer.as_bytes()).await;
            let _ = tls.shutdown().await;
        }
    })
}

#[actix_rt::test]
async fn https_upstreams_are_verified_and_a_private_ca_can_be_trusted_with_ssl_cert_file() {
    let pki = tempfile::tempdir().unwrap();
    let (ca_file, cert, key) = test_pki(pki.path());
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let port = tls_upstream(cert, key, hits.clone());
    let yaml = config(
        "",
        &[endpoint(
            "tls",
            &format!("https://localhost:{port}"),
            "k",
            1,
        )],
    );

    // Unknown CA: the handshake is refused and the request never reaches the upstream.
    let gw = Gateway::start(&yaml);
    let (status, headers, _) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_eq!(status, 503);
    assert_eq!(
        header(&headers, "x-switchyard-error").as_deref(),
        Some("upstream_unreachable")
    );
    let error = gw.status().await["endpoints"][0]["last_error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("certificate"), "{error}");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    drop(gw);

    // Trusted through SSL_CERT_FILE: served over TLS.
    let ca = ca_file.display().to_string();
    let gw = Gateway::start_with_env(&yaml, &[("SSL_CERT_FILE", ca.as_str())]);
    let (status, _, body) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("over tls"));
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// Sends `body` to `/v1/messages` over a raw connection (`connection: close`) and returns the
/// answer's head (lowercased) and its body bytes as they came, framing included; `on_first`
/// runs once the body's first `first_len` bytes have come.
async fn raw_exchange(url: &str, first_len: usize, on_first: impl FnOnce()) -> (String, Vec<u8>) {
    let addr = url.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{MESSAGES_BODY}",
        MESSAGES_BODY.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 65536];
    let mut on_first = Some(on_first);
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buf))
            .await
            .expect("the gateway kept the client waiting")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            if seen.len() >= end + 4 + first_len {
                if let Some(run) = on_first.take() {
                    run();
                }
            }
        }
    }
    let end = seen
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an answer head");
    let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
    (head, seen[end + 4..].to_vec())
}

const ECHOED_KEY: &str = "sk-echoed-upstream-key-0123456789";

/// A gateway with one endpoint at the upstream on `port`, whose key is `ECHOED_KEY` (long enough
/// to be searched for in every answer).
fn gateway_with_key(port: u16) -> Gateway {
    Gateway::start(&config(
        "",
        &[endpoint(
            "up",
            &format!("http://127.0.0.1:{port}"),
            ECHOED_KEY,
            1,
        )],
    ))
}

#[actix_rt::test]
async fn a_plain_answer_that_came_whole_keeps_a_length_and_one_echoing_the_key_its_new_length() {
    for echo in [false, true] {
        let body = if echo {
            format!(
                r#"{{"type":"message","content":[{{"type":"text","text":"key {ECHOED_KEY} ok"}}]}}"#
            )
        } else {
            r#"{"type":"message","content":[{"type":"text","text":"plain"}]}"#.to_string()
        };
        let sent = body.clone();
        let port = raw_upstream(move |mut socket| {
            let body = sent.clone();
            async move {
                if read_request(&mut socket).await {
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                }
            }
        });
        let gw = gateway_with_key(port);
        let (head, got) = raw_exchange(&gw.url, 0, || {}).await;
        let expected = body.replace(ECHOED_KEY, "[redacted]");
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(!head.contains("transfer-encoding"), "echo {echo}: {head}");
        assert!(
            head.contains(&format!("content-length: {}", expected.len())),
            "echo {echo}: {head}"
        );
        assert_eq!(String::from_utf8_lossy(&got), expected);
        let s = &gw.status().await["endpoints"][0];
        assert_eq!(s["failures"], 0, "{s}");
    }
}

#[actix_rt::test]
async fn a_plain_answer_still_coming_when_its_head_came_is_relayed_as_it_comes() {
    // The upstream sends its head and the body's first half, and the second half only once the
    // client has the first: a gateway that waited for the whole body would never answer.
    let (first, second) = (
        r#"{"type":"message","content":["#,
        r#"{"type":"text","text":"late"}]}"#,
    );
    let client_has_first = std::sync::Arc::new(tokio::sync::Notify::new());
    let notified = client_has_first.clone();
    let port = raw_upstream(move |mut socket| {
        let notified = notified.clone();
        async move {
            if read_request(&mut socket).await {
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{first}",
                    first.len() + second.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                notified.notified().await;
                let _ = socket.write_all(second.as_bytes()).await;
            }
        }
    });
    let gw = gateway_with_key(port);
    let (head, got) = raw_exchange(&gw.url, first.len(), || client_has_first.notify_one()).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let text = String::from_utf8_lossy(&got);
    let whole = format!("{first}{second}");
    assert!(
        text.contains(first) && text.contains(second) && text.ends_with("0\r\n\r\n")
            || text == whole,
        "{text}"
    );
    assert_eq!(gw.status().await["endpoints"][0]["failures"], 0);
}

/// An upstream that answers `content-length: 100` with 12 bytes, then closes: at once, or (with
/// `close_when`) once that is notified.
fn short_upstream(close_when: Option<std::sync::Arc<tokio::sync::Notify>>) -> u16 {
    raw_upstream(move |mut socket| {
        let close_when = close_when.clone();
        async move {
            if read_request(&mut socket).await {
                let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"type\":\"mes";
                let _ = socket.write_all(answer.as_bytes()).await;
                if let Some(close_when) = close_when {
                    close_when.notified().await;
                }
            }
        }
    })
}

/// Waits until the endpoint shows the cut answer as its one failure.
async fn assert_cut_held_against_the_endpoint(gw: &Gateway) {
    let s = wait_json(
        &format!("{}/admin/status", gw.url),
        "the cut answer held against the endpoint",
        |s| s["endpoints"][0]["failures"] == 1,
    )
    .await;
    let error = s["endpoints"][0]["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains("12 of 100") || error.contains("reset"),
        "{error}"
    );
}

#[actix_rt::test]
async fn a_plain_answer_broken_off_with_its_head_fails_over_unseen() {
    // The 12 bytes and the close come together. When the gateway's first look at the body sees
    // the close (before its own head goes out), nothing has reached the client and the request
    // fails over; when the close comes a moment later, the 200 has gone out and is cut, as in the
    // next test. Either way the client gets an answer it can tell apart, never nothing.
    let port = short_upstream(None);
    let backup = mock("backup", "k");
    let gw = Gateway::start(&config(
        "",
        &[
            endpoint("up", &format!("http://127.0.0.1:{port}"), ECHOED_KEY, 1),
            endpoint("backup", &backup.url(), "k", 2),
        ],
    ));
    let (head, got) = raw_exchange(&gw.url, 0, || {}).await;
    let text = String::from_utf8_lossy(&got);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    if head.contains("x-switchyard-endpoint: backup") {
        assert!(head.contains("x-switchyard-attempts: 2"), "{head}");
        let answer: serde_json::Value = serde_json::from_slice(&got).expect("a whole answer");
        assert_eq!(answer["type"], "message", "{text}");
        assert!(!text.contains("{\"type\":\"mes\""), "{text}");
    } else {
        assert!(head.contains("x-switchyard-endpoint: up"), "{head}");
        assert!(!text.ends_with("0\r\n\r\n"), "{head}\n\n{text}");
    }
    assert_cut_held_against_the_endpoint(&gw).await;
}

#[actix_rt::test]
async fn a_plain_answer_broken_off_after_its_head_went_out_is_cut_for_the_client() {
    let close = std::sync::Arc::new(tokio::sync::Notify::new());
    let port = short_upstream(Some(close.clone()));
    let gw = gateway_with_key(port);
    // The upstream closes once the client has the head and the first bytes.
    let (head, got) = raw_exchange(&gw.url, 1, || close.notify_one()).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    // The key is searched for, so the body is chunked; a cut one lacks its last chunk.
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    let text = String::from_utf8_lossy(&got);
    // (The last `s` may be held back: it could start the key.)
    assert!(text.contains("{\"type\":\"me"), "{text}");
    assert!(!text.ends_with("0\r\n\r\n"), "{text}");
    assert_cut_held_against_the_endpoint(&gw).await;
}
