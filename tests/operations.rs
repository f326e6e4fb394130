//! Operating a long-running gateway: hot reload (SIGHUP and file watch), invalid reloads, reloads
//! under load, graceful drain on SIGTERM and the second signal.

mod common;

use common::*;
use futures_util::StreamExt;
use std::time::{Duration, Instant};

/// Polls `/admin/status` until `check` holds (bounded: 10 s).
async fn wait_for(
    gw: &Gateway,
    what: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = gw.status().await;
        if check(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {status}"
        );
        actix_rt::time::sleep(Duration::from_millis(25)).await;
    }
}

fn ids(status: &serde_json::Value) -> Vec<String> {
    status["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// Waits for the process to exit (bounded), returning its exit code.
fn wait_exit(gw: &mut Gateway, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = gw.child.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[actix_rt::test]
async fn sighup_reload_adds_and_removes_endpoints_and_keeps_the_state_of_the_rest() {
    let a = mock("a", "k");
    let b = mock("b", "k");
    let c = mock("c", "k");
    let gw = Gateway::start(&config(
        "balancer:\n  strategy: round_robin\n",
        &[
            endpoint("a", &a.url(), "k", 1),
            endpoint("b", &b.url(), "k", 1),
        ],
    ));
    for _ in 0..4 {
        assert_eq!(post(&gw.url, "/v1/messages", MESSAGES_BODY).await.0, 200);
    }
    let a_requests = gw.status().await["endpoints"][0]["requests"]
        .as_u64()
        .unwrap();
    assert_eq!(a_requests, 2);
    std::fs::write(
        &gw.config_path,
        config(
            "balancer:\n  strategy: round_robin\n",
            &[
                endpoint("a", &a.url(), "k", 1),
                endpoint("c", &c.url(), "k", 1),
            ],
        ),
    )
    .unwrap();
    gw.signal("HUP");
    let status = wait_for(&gw, "the new endpoint list", |s| ids(s) == ["a", "c"]).await;
    assert_eq!(
        status["endpoints"][0]["requests"], a_requests,
        "a kept its actor and counters"
    );
    assert!(status["config_error"].is_null());
    let b_hits = b.hits();
    for _ in 0..6 {
        assert_eq!(post(&gw.url, "/v1/messages", MESSAGES_BODY).await.0, 200);
    }
    assert_eq!(b.hits(), b_hits, "a removed endpoint gets no new request");
    assert_eq!(c.hits(), 3);
}

#[actix_rt::test]
async fn an_invalid_reload_keeps_the_running_config_and_shows_the_error() {
    let a = mock("a", "k");
    let good = config("", &[endpoint("a", &a.url(), "k", 1)]);
    let gw = Gateway::start(&good);
    std::fs::write(
        &gw.config_path,
        format!("{good}  - id: broken\n    api_key: k\n"),
    )
    .unwrap();
    gw.signal("HUP");
    let status = wait_for(&gw, "config_error", |s| !s["config_error"].is_null()).await;
    let error = status["config_error"].as_str().unwrap();
    assert!(
        error.contains("endpoints[1].base_url") && error.contains("line 8"),
        "{error}"
    );
    assert_eq!(
        post(&gw.url, "/v1/messages", MESSAGES_BODY).await.0,
        200,
        "still serving"
    );
    assert_eq!(ids(&gw.status().await), ["a"]);
    std::fs::write(&gw.config_path, &good).unwrap();
    gw.signal("HUP");
    wait_for(&gw, "config_error cleared", |s| s["config_error"].is_null()).await;
}

#[actix_rt::test]
async fn an_edited_config_file_is_reloaded_without_a_signal() {
    let a = mock("a", "k");
    let b = mock("b", "k");
    let gw = Gateway::start(&config("", &[endpoint("a", &a.url(), "k", 1)]));
    // Editors often write a new file and rename it over the old one.
    let tmp = gw.config_path.with_extension("yaml.tmp");
    std::fs::write(
        &tmp,
        config(
            "",
            &[
                endpoint("a", &a.url(), "k", 2),
                endpoint("b", &b.url(), "k", 1),
            ],
        ),
    )
    .unwrap();
    std::fs::rename(&tmp, &gw.config_path).unwrap();
    wait_for(&gw, "the watched file to be reloaded", |s| {
        ids(s) == ["a", "b"]
    })
    .await;
    let (_, headers, _) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("b"),
        "new priorities apply"
    );
}

#[actix_rt::test]
async fn ten_reloads_during_steady_load_lose_no_request() {
    let a = MockUpstream::start(Behaviour {
        key: Some("k".into()),
        head_delay: Duration::from_millis(10),
        ..Behaviour::default()
    })
    .unwrap();
    let b = MockUpstream::start(Behaviour {
        key: Some("k".into()),
        head_delay: Duration::from_millis(10),
        ..Behaviour::default()
    })
    .unwrap();
    let with_b = config(
        "",
        &[
            endpoint("a", &a.url(), "k", 1),
            endpoint("b", &b.url(), "k", 1),
        ],
    );
    let without_b = config("", &[endpoint("a", &a.url(), "k", 1)]);
    let gw = Gateway::start(&with_b);
    let url = gw.url.clone();
    let load = actix_rt::spawn(async move {
        futures_util::stream::iter(0..400)
            .map(|i| {
                let url = url.clone();
                let body = if i % 2 == 0 {
                    MESSAGES_BODY
                } else {
                    STREAM_BODY
                };
                async move { post(&url, "/v1/messages", body).await.0 }
            })
            .buffer_unordered(20)
            .collect::<Vec<u16>>()
            .await
    });
    for i in 0..10 {
        actix_rt::time::sleep(Duration::from_millis(40)).await;
        std::fs::write(
            &gw.config_path,
            if i % 2 == 0 { &without_b } else { &with_b },
        )
        .unwrap();
        gw.signal("HUP");
    }
    let statuses = load.await.unwrap();
    let failed: Vec<&u16> = statuses.iter().filter(|s| **s != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {failed:?}",
        failed.len(),
        statuses.len()
    );
    assert_eq!(a.hits() + b.hits(), 400);
    assert!(
        gw.logs().matches("config reloaded").count() >= 5,
        "reloads happened"
    );
}

#[actix_rt::test]
async fn sigterm_lets_open_streams_finish_then_exits_0() {
    let up = streaming_mock(10, Duration::from_millis(100));
    let mut gw = Gateway::start(&config("", &[endpoint("up", &up.url(), "k", 1)]));
    let streaming_client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .connector(awc::Connector::new().limit(0))
        .finish();
    let url = gw.url.clone();
    let streams = actix_rt::spawn(async move {
        futures_util::stream::iter(0..100)
            .map(|_| {
                let client = streaming_client.clone();
                let url = url.clone();
                async move {
                    let mut r = client
                        .post(format!("{url}/v1/messages"))
                        .send_body(STREAM_BODY)
                        .await
                        .map_err(|e| e.to_string())?;
                    let body = r.body().limit(1 << 20).await.map_err(|e| e.to_string())?;
                    Ok::<String, String>(String::from_utf8_lossy(&body).into_owned())
                }
            })
            .buffer_unordered(100)
            .collect::<Vec<_>>()
            .await
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while up.hits() < 100 {
        assert!(
            Instant::now() < deadline,
            "only {} streams started",
            up.hits()
        );
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    gw.signal("TERM");
    // New connections are refused while the open ones finish.
    actix_rt::time::sleep(Duration::from_millis(200)).await;
    let refused = client().get(format!("{}/healthz", gw.url)).send().await;
    assert!(refused.is_err(), "the listener is closed after SIGTERM");
    let bodies = streams.await.unwrap();
    for body in &bodies {
        let body = body.as_ref().expect("stream completed");
        assert!(
            body.contains("event: message_stop") && !body.contains("event: error"),
            "{body}"
        );
    }
    assert_eq!(bodies.len(), 100);
    assert_eq!(
        wait_exit(&mut gw, Duration::from_secs(15)),
        Some(0),
        "clean exit"
    );
}

#[actix_rt::test]
async fn a_second_stop_signal_exits_at_once() {
    let up = MockUpstream::start(Behaviour {
        hang: true,
        ..Behaviour::default()
    })
    .unwrap();
    let mut gw = Gateway::start(&config("", &[endpoint("up", &up.url(), "k", 1)]));
    let url = gw.url.clone();
    let _open = actix_rt::spawn(async move { post(&url, "/v1/messages", MESSAGES_BODY).await });
    let deadline = Instant::now() + Duration::from_secs(5);
    while up.hits() < 1 {
        assert!(Instant::now() < deadline);
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    gw.signal("TERM");
    assert_eq!(
        wait_exit(&mut gw, Duration::from_millis(500)),
        None,
        "the first signal waits for the open request"
    );
    gw.signal("INT");
    assert_eq!(wait_exit(&mut gw, Duration::from_secs(3)), Some(1));
}

#[actix_rt::test]
async fn a_new_client_key_takes_effect_on_reload() {
    let up = mock("up", "k");
    let yaml = |key: &str| {
        config(
            &format!("  auth_mode: strict\n  api_key: {key}\n"),
            &[endpoint("up", &up.url(), "k", 1)],
        )
    };
    let gw = Gateway::start(&yaml("old-client-key"));
    let call = |key: &'static str| {
        let url = format!("{}/v1/messages", gw.url);
        async move {
            client()
                .post(url)
                .insert_header(("x-api-key", key))
                .send_body(MESSAGES_BODY)
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(call("old-client-key").await, 200);
    std::fs::write(&gw.config_path, yaml("new-client-key")).unwrap();
    gw.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while call("new-client-key").await != 200 {
        assert!(Instant::now() < deadline, "the new key never took effect");
        actix_rt::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(call("old-client-key").await, 401);
}

/// A listener on 127.0.0.1 whose accept queue is full: a connection to it is never completed
/// (the kernel drops the SYNs), so only a connect timeout ends the wait.
fn silent_listener() -> (socket2::Socket, std::net::TcpStream, String) {
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    listener.bind(&any.into()).unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    // The one connection the queue holds.
    let filler = std::net::TcpStream::connect(addr).unwrap();
    (listener, filler, format!("http://{addr}"))
}

#[actix_rt::test]
async fn a_new_connect_timeout_takes_effect_on_reload() {
    let (_listener, _filler, silent) = silent_listener();
    let yaml = |connect: &str, marker: bool| {
        let mut endpoints = vec![endpoint("silent", &silent, "k", 1)];
        if marker {
            // Serves no model the test asks for: it only shows that the reload happened.
            endpoints.push(
                "  - id: marker\n    base_url: http://127.0.0.1:9\n    api_key: k\n    models: [none-such]\n"
                    .to_string(),
            );
        }
        config(
            &format!("timeouts:\n  connect: {connect}\n  first_byte: 60s\n"),
            &endpoints,
        )
    };
    let gw = Gateway::start(&yaml("30s", false));
    std::fs::write(&gw.config_path, yaml("300ms", true)).unwrap();
    gw.signal("HUP");
    wait_for(&gw, "the reload", |s| {
        ids(s).contains(&"marker".to_string())
    })
    .await;
    let started = Instant::now();
    let (status, _, body) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    let took = started.elapsed();
    assert!(status >= 500, "{status}: {body:?}");
    assert!(
        String::from_utf8_lossy(&body).contains("timeouts.connect"),
        "{body:?}"
    );
    // The connect timeout the gateway started with was 30 s.
    assert!(
        took < Duration::from_secs(10),
        "the request waited {took:?}"
    );
}
