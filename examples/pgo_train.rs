//! The workload a profile-guided build of switchyard learns from (`bench/pgo.sh`):
//! `pgo_train GATEWAY [--rounds N]`. Starts a mock upstream in this process, runs `GATEWAY serve`
//! with a config of four endpoints in front of it (one per upstream API) and sends it every kind
//! of request it serves: each client API into each upstream API, small and 128 KiB bodies, plain
//! and streamed, over several keep-alive connections at once, most of them a Messages request
//! passed through (what Claude Code sends most). Then it stops the gateway with SIGTERM, so that
//! an instrumented build writes its profile as it exits. Exits 1 when an answer was not a 200, so
//! a workload that no longer fits the gateway is noticed (CI runs it against the debug build).

#[path = "../bench/claude_code_body.rs"]
mod claude_code_body;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard::mock::{Behaviour, MockUpstream};

const USAGE: &str = "usage: pgo_train GATEWAY [--rounds N]   (GATEWAY: a switchyard binary)";

/// Connections sending at once.
const CONNECTIONS: usize = 4;
/// Rounds each connection runs by default: about 20 s against an instrumented release build.
const ROUNDS: usize = 150;
/// A 128 KiB body every this many rounds.
const BIG_EVERY: usize = 5;

/// The upstream APIs, each behind an endpoint that serves the models named after it.
const UPSTREAMS: [(&str, &str, &str); 4] = [
    ("anthropic", "", "claude-pass"),
    ("openai", "/v1", "claude-chat"),
    ("responses", "/v1", "claude-resp"),
    ("gemini", "", "claude-gem"),
];

/// The client APIs: how each writes a small request for `model`, plain or streamed.
#[derive(Clone, Copy)]
enum ClientApi {
    Messages,
    Chat,
    Responses,
    Gemini,
}

impl ClientApi {
    const ALL: [ClientApi; 4] = [
        ClientApi::Messages,
        ClientApi::Chat,
        ClientApi::Responses,
        ClientApi::Gemini,
    ];

    fn path(self, model: &str, stream: bool) -> String {
        match self {
            ClientApi::Messages => "/v1/messages".into(),
            ClientApi::Chat => "/v1/chat/completions".into(),
            ClientApi::Responses => "/v1/responses".into(),
            ClientApi::Gemini if stream => {
                format!("/v1beta/models/{model}:streamGenerateContent?alt=sse")
            }
            ClientApi::Gemini => format!("/v1beta/models/{model}:generateContent"),
        }
    }

    fn small_body(self, model: &str, stream: bool) -> String {
        match self {
            // Messages and Chat Completions write a small request alike.
            ClientApi::Messages | ClientApi::Chat => format!(
                r#"{{"model":"{model}","max_tokens":16,"stream":{stream},"messages":[{{"role":"user","content":"hi"}}]}}"#
            ),
            ClientApi::Responses => format!(
                r#"{{"model":"{model}","max_output_tokens":16,"stream":{stream},"input":"hi"}}"#
            ),
            ClientApi::Gemini => {
                r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#.to_string()
            }
        }
    }
}

/// One request of the workload.
struct Case {
    path: String,
    body: bytes::Bytes,
}

/// The requests one round sends, in order.
fn round(big: &[Case], with_big: bool) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |api: ClientApi, model: &str, stream: bool, times: usize| {
        for _ in 0..times {
            cases.push(Case {
                path: api.path(model, stream),
                body: api.small_body(model, stream).into(),
            });
        }
    };
    // A small Messages request passed through: most of what the gateway serves.
    add(ClientApi::Messages, "claude-pass-1", false, 20);
    add(ClientApi::Messages, "claude-pass-1", true, 3);
    for (_, _, model) in &UPSTREAMS[1..] {
        add(ClientApi::Messages, model, false, 2);
        add(ClientApi::Messages, model, true, 1);
    }
    for api in &ClientApi::ALL[1..] {
        for (_, _, model) in &UPSTREAMS {
            add(*api, model, false, 1);
            add(*api, model, true, 1);
        }
    }
    if with_big {
        for case in big {
            cases.push(Case {
                path: case.path.clone(),
                body: case.body.clone(),
            });
        }
    }
    cases
}

/// The 128 KiB Claude Code request to each upstream API, plain and streamed.
fn big_cases() -> Vec<Case> {
    let body = claude_code_body::claude_code_body(128 * 1024);
    let mut cases = Vec::new();
    for (_, _, model) in &UPSTREAMS {
        for stream in [false, true] {
            let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&body) else {
                continue;
            };
            value["model"] = (*model).into();
            value["stream"] = stream.into();
            cases.push(Case {
                path: "/v1/messages".into(),
                body: value.to_string().into(),
            });
        }
    }
    cases
}

fn config(mock_url: &str) -> String {
    // The usage history stays on (beside the config), as in a default setup.
    let mut yaml = String::from("proxy:\n  port: 0\n  access_log: false\nendpoints:\n");
    for (api, suffix, model) in UPSTREAMS {
        yaml.push_str(&format!(
            "  - id: {api}\n    api: {api}\n    base_url: {mock_url}{suffix}\n    api_key: train-key\n    models: [\"{model}*\"]\n"
        ));
    }
    yaml
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(gateway) = args.first().filter(|a| !a.starts_with('-')) else {
        eprintln!("{USAGE}");
        std::process::exit(2)
    };
    let rounds = match args.iter().position(|a| a == "--rounds") {
        None => ROUNDS,
        Some(i) => match args.get(i + 1).and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => {
                eprintln!("{USAGE}");
                std::process::exit(2)
            }
        },
    };
    let mock = MockUpstream::start(Behaviour::default()).expect("the mock upstream starts");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config_path = dir.path().join("train.yaml");
    std::fs::write(&config_path, config(&mock.url())).expect("the config is written");
    let mut child = Command::new(gateway)
        .args(["serve", "--config"])
        .arg(&config_path)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            eprintln!("pgo_train: cannot run {gateway}: {e}");
            std::process::exit(2)
        });
    let mut out = std::io::BufReader::new(child.stdout.take().expect("the gateway's stdout"));
    let mut url = None;
    for _ in 0..5 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(u) = line.trim().strip_prefix("switchyard listening on ") {
            url = Some(u.to_string());
            break;
        }
    }
    let Some(url) = url else {
        eprintln!("pgo_train: {gateway} did not say where it listens");
        let _ = child.kill();
        std::process::exit(1)
    };
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));

    let started = Instant::now();
    let sent = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let big = Arc::new(big_cases());
    let system = actix_rt::System::new();
    system.block_on(async {
        let mut tasks = Vec::new();
        for connection in 0..CONNECTIONS {
            let (url, sent, failed, big) = (url.clone(), sent.clone(), failed.clone(), big.clone());
            tasks.push(actix_rt::spawn(async move {
                // One keep-alive connection per task.
                let client = awc::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .finish();
                for n in 0..rounds {
                    let with_big = (n + connection) % BIG_EVERY == 0;
                    for case in round(&big, with_big) {
                        let answer = client
                            .post(format!("{url}{}", case.path))
                            .insert_header(("content-type", "application/json"))
                            .insert_header(("anthropic-version", "2023-06-01"))
                            .send_body(case.body)
                            .await;
                        sent.fetch_add(1, Ordering::Relaxed);
                        let ok = match answer {
                            Ok(mut response) => {
                                let status = response.status();
                                match response.body().limit(4 << 20).await {
                                    Ok(body) if !status.is_success() => {
                                        let text = String::from_utf8_lossy(body.as_ref());
                                        eprintln!(
                                            "pgo_train: {} answered {status}: {text}",
                                            case.path
                                        );
                                        false
                                    }
                                    Ok(_) => true,
                                    Err(e) => {
                                        eprintln!(
                                            "pgo_train: {}: the answer's body: {e}",
                                            case.path
                                        );
                                        false
                                    }
                                }
                            }
                            Err(e) => {
                                eprintln!("pgo_train: {}: {e}", case.path);
                                false
                            }
                        };
                        if !ok {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
    });

    // SIGTERM: the gateway drains and exits normally, which is when an instrumented build
    // writes its profile.
    #[cfg(unix)]
    {
        let pid = rustix::process::Pid::from_child(&child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    #[cfg(not(unix))]
    let _ = child.kill();
    let status = child.wait();
    let (sent, failed) = (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    println!(
        "pgo_train: {sent} requests in {:.1} s, {failed} not answered with a 200; the gateway exited: {}",
        started.elapsed().as_secs_f64(),
        status.map_or_else(|e| e.to_string(), |s| s.to_string())
    );
    if failed > 0 || sent == 0 {
        std::process::exit(1)
    }
}
