//! Test support: runs the real `switchyard` binary on 127.0.0.1 with a config naming mock
//! upstreams on ephemeral ports, and a client to talk to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub use switchyard::mock::{Behaviour, MockUpstream};

/// A running gateway process, killed when dropped.
pub struct Gateway {
    pub url: String,
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    log_path: PathBuf,
}

impl Gateway {
    /// Starts `switchyard serve` with `yaml` (written to a temporary config file).
    pub fn start(yaml: &str) -> Gateway {
        Self::start_with_env(yaml, &[])
    }

    pub fn start_with_env(yaml: &str, env: &[(&str, &str)]) -> Gateway {
        let dir = tempfile::tempdir().expect("temp dir");
        let config_path = dir.path().join("config.yaml");
        std::fs::write(&config_path, yaml).expect("write config");
        Self::start_in(dir, config_path, env)
    }

    /// Starts the gateway on an existing config file in `dir`.
    pub fn start_in(dir: tempfile::TempDir, config_path: PathBuf, env: &[(&str, &str)]) -> Gateway {
        let log_path = dir
            .path()
            .join(format!("gateway-{}.log", fastrand::u32(..)));
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
        command
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .env("RUST_LOG", "info,switchyard=debug")
            .env_remove("SWITCHYARD_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("spawn switchyard");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("switchyard listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "gateway did not start; its log:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
        };
        Gateway {
            url,
            child,
            dir,
            config_path,
            log_path,
        }
    }

    /// Stops this gateway as a service manager would (SIGTERM, then waiting for it to exit) and
    /// starts a new one on the same config file and state file.
    pub fn restart(mut self) -> Gateway {
        self.signal("TERM");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().ok().flatten().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.wait();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        let config_path = self.config_path.clone();
        drop(self);
        Gateway::start_in(dir, config_path, &[])
    }

    /// Everything the gateway logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// `/admin/status` as JSON.
    pub async fn status(&self) -> serde_json::Value {
        let mut r = client()
            .get(format!("{}/admin/status", self.url))
            .send()
            .await
            .expect("status");
        r.json().limit(1 << 20).await.expect("status json")
    }

    /// Waits until every state change the endpoints reported so far is in the state file: an
    /// operator's action on `id` (enabling an enabled endpoint changes nothing) is answered only
    /// once the file is written, and the supervisor handles the changes reported before it first.
    pub async fn state_saved(&self, id: &str) {
        let answer = client()
            .post(format!("{}/admin/endpoints/{id}/enable", self.url))
            .send()
            .await
            .expect("enable");
        assert_eq!(answer.status(), 200);
    }

    /// The `state` word of endpoint `id`.
    pub async fn state_of(&self, id: &str) -> String {
        let status = self.status().await;
        status["endpoints"]
            .as_array()
            .and_then(|a| a.iter().find(|e| e["id"] == id))
            .map(|e| e["state"].as_str().unwrap_or("").to_string())
            .unwrap_or_else(|| panic!("no endpoint {id} in {status}"))
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test client: generous timeout, no redirects, no decompression.
pub fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .disable_redirects()
        .finish()
}

/// An endpoint entry for a config.
pub fn endpoint(id: &str, url: &str, key: &str, priority: u32) -> String {
    format!("  - id: {id}\n    base_url: {url}\n    api_key: {key}\n    priority: {priority}\n")
}

/// A config with `extra` top-level sections, port 0, and `endpoints`.
pub fn config(extra: &str, endpoints: &[String]) -> String {
    format!(
        "proxy:\n  port: 0\n{extra}endpoints:\n{}",
        endpoints.concat()
    )
}

/// A port on 127.0.0.1 that was free a moment ago, for a gateway the test starts on it (a fixed
/// port in its config). Another process could take it in between; where the test needs a port
/// that refuses connections, `refused_port` holds it.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}

/// A port on 127.0.0.1 where nothing listens (connections are refused). A socket stays bound to
/// it without listening for as long as the test process runs, so no other test can take the port
/// in the meantime.
pub fn refused_port() -> u16 {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().expect("address");
    socket.bind(&any.into()).expect("bind");
    let port = socket
        .local_addr()
        .expect("addr")
        .as_socket()
        .expect("an IP address")
        .port();
    std::mem::forget(socket);
    port
}

/// A mock that accepts key `k` and streams `deltas` text deltas, `interval` apart.
pub fn streaming_mock(deltas: usize, interval: Duration) -> MockUpstream {
    MockUpstream::start(Behaviour {
        key: Some("k".to_string()),
        deltas,
        event_interval: interval,
        ..Behaviour::default()
    })
    .expect("mock")
}

/// A mock that accepts `key`.
pub fn mock(name: &str, key: &str) -> MockUpstream {
    MockUpstream::start(Behaviour {
        name: name.to_string(),
        key: Some(key.to_string()),
        ..Behaviour::default()
    })
    .expect("mock")
}

pub const MESSAGES_BODY: &str = r#"{"model":"claude-3-5-haiku-20241022","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#;
pub const STREAM_BODY: &str = r#"{"model":"claude-3-5-haiku-20241022","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
pub const CHAT_BODY: &str =
    r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#;

/// POSTs `body` to `path` and returns status, headers and the whole body.
pub async fn post(
    url: &str,
    path: &str,
    body: &'static str,
) -> (u16, awc::http::header::HeaderMap, bytes::Bytes) {
    post_owned(url, path, body.to_string()).await
}

/// [`post`] with a body made by the test.
pub async fn post_owned(
    url: &str,
    path: &str,
    body: String,
) -> (u16, awc::http::header::HeaderMap, bytes::Bytes) {
    let mut r = client()
        .post(format!("{url}{path}"))
        .insert_header(("content-type", "application/json"))
        .send_body(body)
        .await
        .expect("request");
    let bytes = r.body().limit(64 << 20).await.expect("body");
    (r.status().as_u16(), r.headers().clone(), bytes)
}

pub fn header(headers: &awc::http::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The status code of an answer read off a raw socket (0 when there was none).
pub fn raw_status(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// GETs `url` and parses the answer as JSON.
pub async fn get_json(url: &str) -> serde_json::Value {
    let mut r = client().get(url).send().await.expect("request");
    r.json().limit(1 << 20).await.expect("json")
}

/// Polls `url` (JSON) until `check` holds (bounded: 10 s).
pub async fn wait_json(
    url: &str,
    what: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let value = get_json(url).await;
        if check(&value) {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}: {value}"
        );
        actix_rt::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A gateway with endpoint `id` at `url` (priority 1) and a healthy mock `backup` (priority 2).
pub fn with_backup(extra: &str, id: &str, url: &str) -> (Gateway, MockUpstream) {
    let backup = mock("backup", "k");
    let gw = Gateway::start(&config(
        extra,
        &[
            endpoint(id, url, "k", 1),
            endpoint("backup", &backup.url(), "k", 2),
        ],
    ));
    (gw, backup)
}
