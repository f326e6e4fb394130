//! The command line: config errors exit 2 naming field and line; `check` redacts keys; `demo` works.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn switchyard(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    command.args(args).env_remove("SWITCHYARD_CONFIG");
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("run switchyard");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn with_config(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, text).unwrap();
    (dir, path.display().to_string())
}

#[test]
fn config_errors_exit_2_naming_the_field_and_line() {
    let cases = [
        (
            "proxy:\n  port: 8045\n  prot: 1\nendpoints:\n  - base_url: https://a.example\n    api_key: k\n",
            "line 3: proxy: unknown field `prot`",
        ),
        (
            "endpoints:\n  - base_url: https://a.example\n    api_key: k\n  - api_key: k2\n",
            "line 4: endpoints[1].base_url: missing",
        ),
        ("proxy: [1,\n  2\nendpoints:\n", "line "),
        (
            "endpoints:\n  - base_url: https://a.example\n    api_key: ${SWITCHYARD_TEST_UNSET_VAR}\n",
            "line 3: endpoints[0].api_key: environment variable SWITCHYARD_TEST_UNSET_VAR is not set",
        ),
        (
            "balancer:\n  strategy: fastest\nendpoints:\n  - base_url: https://a.example\n    api_key: k\n",
            "line 2: balancer.strategy: unknown strategy `fastest`",
        ),
    ];
    for (text, expected) in cases {
        let (_dir, path) = with_config(text);
        for command in ["check", "serve"] {
            let (code, _, stderr) = switchyard(&[command, "--config", &path], &[]);
            assert_eq!(code, 2, "{command}: {stderr}");
            assert!(
                stderr.contains(expected),
                "{command}: expected `{expected}` in: {stderr}"
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
    let (code, _, stderr) = switchyard(&["check", "--config", "/nonexistent/switchyard.yaml"], &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("/nonexistent/switchyard.yaml"), "{stderr}");
}

#[test]
fn check_prints_the_effective_config_with_keys_redacted() {
    let (_dir, path) = with_config(
        "proxy:\n  auth_mode: strict\n  api_key: ${CLIENT_KEY}\nendpoints:\n  - base_url: https://relay.example.com/api\n    api_key: ${RELAY_KEY}\n",
    );
    let (code, stdout, stderr) = switchyard(
        &["check", "--config", &path],
        &[
            ("CLIENT_KEY", "client-key-0123456789"),
            ("RELAY_KEY", "sk-relay-secret-abcdefgh"),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("valid"));
    assert!(stdout.contains("base_url: https://relay.example.com/api"));
    assert!(
        stdout.contains("first_byte: 5m"),
        "defaults are printed: {stdout}"
    );
    assert!(
        !stdout.contains("sk-relay-secret") && !stdout.contains("client-key-0123"),
        "{stdout}"
    );
}

#[test]
fn the_config_is_found_through_switchyard_config() {
    let (_dir, path) = with_config("endpoints:\n  - base_url: https://a.example\n    api_key: k\n");
    let (code, stdout, _) = switchyard(&["check"], &[("SWITCHYARD_CONFIG", &path)]);
    assert_eq!(code, 0);
    assert!(stdout.contains(&path));
}

#[actix_rt::test]
async fn demo_serves_a_keyless_try_out_and_shows_the_rejected_endpoint() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["demo", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.trim().strip_prefix("base URL") {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("demo prints its base URL");
    let (status, headers, body) = common::post(&base, "/v1/messages", common::MESSAGES_BODY).await;
    assert_eq!(status, 200);
    assert_eq!(
        common::header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("demo-backup")
    );
    assert!(String::from_utf8_lossy(&body).contains("Hello from demo-backup"));
    let status: serde_json::Value = common::get_json(&format!("{base}/admin/status")).await;
    assert_eq!(status["endpoints"][0]["state"], "auth_failed");
    // The OpenAI-format mock answers deepseek-chat, translated into Messages.
    let (status, headers, body) = common::post(
        &base,
        "/v1/messages",
        r#"{"model":"deepseek-chat","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}"#,
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        common::header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("demo-openai")
    );
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["type"], "message");
    assert_eq!(answer["content"][0]["type"], "thinking");
    assert!(answer["content"][1]["text"]
        .as_str()
        .unwrap()
        .contains("demo-openai"));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn the_sample_config_is_valid() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/config.sample.yaml");
    let (code, stdout, stderr) = switchyard(&["check", "--config", sample], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("id: relay-claude"));
}
