//! The real Gemini CLI (`gemini -p`) end to end, when it is installed (`gemini --version` works,
//! or `SWITCHYARD_TEST_GEMINI` names the binary); otherwise each test says why it is skipped and
//! passes. Each run gets the setup of /work/research/gemini/FINDINGS.md: a fresh home
//! (`GEMINI_CLI_HOME` and `HOME`) whose settings.json selects `gemini-api-key` auth,
//! `GOOGLE_GEMINI_BASE_URL`, `GEMINI_API_KEY`, a trusted workspace, and a `TMPDIR` of its own, so
//! nothing lands in the real ~/.gemini and the CLI's `gemini-client-error-*.json` reports are
//! deleted with the run.
//!
//! The scenarios ([`plain_turn`], [`shell_round_trip`]) take the base URL Gemini CLI is given and
//! check only what the CLI did; the `check_*` functions check what a Gemini upstream received. To
//! run a scenario through the gateway, start a `Gateway` whose endpoint is a mock of any API and
//! pass `gw.url`, then check that mock's requests in its own API's terms. The last test runs the
//! CLI as `switchyard gemini` does, from a home whose settings select another auth type.

mod common;

use common::{Behaviour, MockUpstream};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use switchyard::mock::gemini::{call_signature, GeminiKey};
use switchyard::mock::{OpenAiAnswer, SeenRequest};

/// The key Gemini CLI sends as `x-goog-api-key` (read from `GEMINI_API_KEY`).
const API_KEY: &str = "gemini-e2e-key";

/// How long one `gemini -p` may take; a round trip takes about 5 s on loopback. Longer means the
/// CLI is retrying (it retries a 5xx for minutes).
const TIMEOUT: Duration = Duration::from_secs(90);

/// The name of the mocks below: their answers start "Hello from gemini-mock" or
/// "gemini-mock read the tool output".
const MOCK_NAME: &str = "gemini-mock";

/// The thinking the mocks send (a `thought: true` part, when the CLI asks for thoughts).
const REASONING: &str = "Checking what to run.";

/// The shell tool of Gemini CLI.
const SHELL_TOOL: &str = "run_shell_command";

/// The `gemini` binary: `$SWITCHYARD_TEST_GEMINI`, or `gemini` on the PATH.
fn gemini_program() -> String {
    std::env::var("SWITCHYARD_TEST_GEMINI").unwrap_or_else(|_| "gemini".into())
}

/// A directory under the target's temporary folder.
fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("a temporary directory")
}

/// A home of its own for one run of Gemini CLI: settings that pick API-key auth, a work
/// directory, and a `TMPDIR`.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let dir = temp_dir("gemini-home-");
        for sub in [".gemini", "work", "tmp"] {
            std::fs::create_dir(dir.path().join(sub)).expect("a directory of the home");
        }
        // Without it a non-interactive run with a base URL exits 41 ("Invalid auth method").
        std::fs::write(
            dir.path().join(".gemini/settings.json"),
            r#"{"security":{"auth":{"selectedType":"gemini-api-key"}}}"#,
        )
        .expect("settings.json");
        Home { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn work(&self) -> std::path::PathBuf {
        self.path().join("work")
    }

    fn tmp(&self) -> std::path::PathBuf {
        self.path().join("tmp")
    }

    /// `gemini ARGS` with this home for everything the CLI writes, and nothing of the caller's
    /// Gemini or Google environment.
    fn command(&self) -> Command {
        self.command_of(&gemini_program())
    }

    /// The same for `program` (`switchyard gemini` runs Gemini CLI in its environment).
    fn command_of(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .current_dir(self.work())
            .env("HOME", self.path())
            .env("GEMINI_CLI_HOME", self.path())
            .env("TMPDIR", self.tmp())
            .stdin(Stdio::null());
        for name in [
            "GEMINI_MODEL",
            "GOOGLE_API_KEY",
            "GOOGLE_GENAI_API_VERSION",
            "GOOGLE_GENAI_USE_VERTEXAI",
            "GOOGLE_CLOUD_PROJECT",
            "GOOGLE_CLOUD_LOCATION",
            "GEMINI_API_KEY_AUTH_MECHANISM",
            "GEMINI_CLI_CUSTOM_HEADERS",
            "GEMINI_CLI_SYSTEM_SETTINGS_PATH",
            "GEMINI_CLI_SYSTEM_DEFAULTS_PATH",
        ] {
            command.env_remove(name);
        }
        command
    }

    /// The error reports the CLI wrote for API errors (into this home's `TMPDIR`).
    fn error_reports(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.tmp()) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("gemini-client-error-")
            })
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .collect()
    }
}

/// `true` when Gemini CLI can run here; else prints why `test` is skipped. Even `--version`
/// writes into the home, so it runs in one of its own too.
fn gemini_is_installed(test: &str) -> bool {
    let program = gemini_program();
    let home = Home::new();
    let why = match home.command().arg("--version").output() {
        Ok(out) if out.status.success() => return true,
        Ok(out) => format!(
            "`{program} --version` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => format!("`{program}` cannot be run ({e}); `npm install -g @google/gemini-cli`"),
    };
    eprintln!("{test}: skipped, {why}");
    false
}

/// What one run of Gemini CLI did.
struct Run {
    /// The exit code (-1 when it was killed or timed out).
    code: i32,
    /// The final answer (`-o text`).
    stdout: String,
    /// Warnings and errors.
    stderr: String,
    /// The `gemini-client-error-*.json` reports the run wrote (into its own `TMPDIR`).
    error_reports: Vec<String>,
}

impl Run {
    /// Everything the run said, for a failed assertion.
    fn transcript(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}\n--- error reports\n{}",
            self.code,
            self.stdout,
            self.stderr,
            self.error_reports.join("\n")
        )
    }
}

/// Runs `gemini -p PROMPT --yolo -o text [-m MODEL]` against `base_url` with [`API_KEY`], in a
/// home of its own, killed after [`TIMEOUT`].
fn run_gemini(base_url: &str, model: Option<&str>, prompt: &str) -> Run {
    let home = Home::new();
    let mut command = home.command();
    command
        .args(["-p", prompt, "--yolo", "-o", "text"])
        .args(model.map(|m| ["-m", m]).into_iter().flatten())
        .env("GOOGLE_GEMINI_BASE_URL", base_url)
        .env("GEMINI_API_KEY", API_KEY)
        .env("GEMINI_CLI_TRUST_WORKSPACE", "true");
    run_in(&home, command)
}

/// Runs `command` (built by `home`) with its output in `home`, killed after [`TIMEOUT`].
fn run_in(home: &Home, mut command: Command) -> Run {
    let stdout_path = home.path().join("stdout");
    let stderr_path = home.path().join("stderr");
    command
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"));
    #[cfg(unix)]
    {
        // A group of its own, so that a timeout also ends the shells the CLI started.
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let mut child = command.spawn().expect("spawn gemini");
    let deadline = Instant::now() + TIMEOUT;
    let code = loop {
        match child.try_wait().expect("wait for gemini") {
            Some(status) => break status.code().unwrap_or(-1),
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            None => {
                #[cfg(unix)]
                let _ = rustix::process::kill_process_group(
                    rustix::process::Pid::from_child(&child),
                    rustix::process::Signal::KILL,
                );
                let _ = child.kill();
                let _ = child.wait();
                break -1;
            }
        }
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let mut stderr = read(&stderr_path);
    if code == -1 {
        stderr.push_str(&format!("\n(killed after {TIMEOUT:?})"));
    }
    Run {
        code,
        stdout: read(&stdout_path),
        stderr,
        error_reports: home.error_reports(),
    }
}

/// A mock of the Gemini API that accepts only [`API_KEY`] and thinks before it answers; with a
/// `command`, it has Gemini CLI run it with its shell tool, then quotes the output.
fn gemini_mock(command: Option<&str>) -> MockUpstream {
    let tool_calls = command
        .map(|c| {
            let arguments = serde_json::json!({"command": c, "description": "Print the marker."});
            (SHELL_TOOL.to_string(), arguments.to_string())
        })
        .into_iter()
        .collect();
    MockUpstream::start(Behaviour {
        name: MOCK_NAME.into(),
        key: Some(API_KEY.into()),
        openai: Some(OpenAiAnswer {
            reasoning: Some(REASONING.into()),
            tool_calls,
            argument_pieces: 1,
        }),
        ..Behaviour::default()
    })
    .expect("mock")
}

/// A shell command and what it prints, which only a shell can have computed: `awk` printing
/// `MARKER-{n+1}` for a random `n`. (Gemini CLI refuses `$(…)` and `$((…))` in commands.)
fn marker_command() -> (String, String) {
    let n = fastrand::u32(1000..1_000_000);
    (
        format!("awk 'BEGIN {{ print \"MARKER-\" {n}+1 }}'"),
        format!("MARKER-{}", n + 1),
    )
}

/// One plain prompt through `base_url` (with `model`, or in auto mode with the router call):
/// the CLI exits 0, without errors, and prints an answer containing `expected`.
fn plain_turn(base_url: &str, model: Option<&str>, expected: &str) {
    let run = run_gemini(base_url, model, "Say hello.");
    assert_eq!(run.code, 0, "gemini failed:\n{}", run.transcript());
    assert!(run.error_reports.is_empty(), "{}", run.transcript());
    assert!(
        run.stdout.contains(expected),
        "no `{expected}` in the answer:\n{}",
        run.transcript()
    );
}

/// A shell round trip through `base_url` whose upstream has Gemini CLI run a [`marker_command`]:
/// the CLI runs it, exits 0 without errors, and its final answer contains `expected` (the marker,
/// when the upstream quotes the tool's output as the Gemini mock does).
fn shell_round_trip(base_url: &str, model: Option<&str>, expected: &str) {
    let prompt = "Run the shell command the tool call names and tell me what it printed.";
    let run = run_gemini(base_url, model, prompt);
    assert_eq!(run.code, 0, "gemini failed:\n{}", run.transcript());
    assert!(run.error_reports.is_empty(), "{}", run.transcript());
    assert!(
        run.stdout.contains(expected),
        "no `{expected}` in the answer:\n{}",
        run.transcript()
    );
}

fn body(request: &SeenRequest) -> Value {
    request.json()
}

/// The model a request's path names, and its method: `("gemini-2.5-pro", "generateContent")`.
fn model_and_method(request: &SeenRequest) -> (String, String) {
    let last = request.path.rsplit('/').next().unwrap_or_default();
    let (model, method) = last.split_once(':').expect("a model method path");
    (model.to_string(), method.to_string())
}

/// Splits what a Gemini upstream received into the router calls (structured output on
/// `:generateContent`) and the model calls (`:streamGenerateContent?alt=sse`), checking that
/// every request carried [`API_KEY`] in `x-goog-api-key`.
fn router_and_main(seen: &[SeenRequest]) -> (Vec<&SeenRequest>, Vec<&SeenRequest>) {
    for request in seen {
        assert_eq!(
            request.gemini_key(),
            Some(GeminiKey::Header(API_KEY.into())),
            "{}",
            request.path
        );
        assert!(
            request.path.starts_with("/v1beta/models/"),
            "{}",
            request.path
        );
    }
    let (router, main): (Vec<&SeenRequest>, Vec<&SeenRequest>) = seen
        .iter()
        .partition(|r| body(r)["generationConfig"]["responseMimeType"] == "application/json");
    for request in &router {
        assert_eq!(model_and_method(request).1, "generateContent");
        let schema = &body(request)["generationConfig"]["responseJsonSchema"];
        assert!(
            schema["properties"]["complexity_score"].is_object(),
            "{schema}"
        );
    }
    for request in &main {
        assert_eq!(model_and_method(request).1, "streamGenerateContent");
        assert_eq!(request.query, "alt=sse");
    }
    (router, main)
}

/// The text of the last user content of a request.
fn last_user_text(request: &Value) -> String {
    let contents = request["contents"].as_array().expect("contents");
    let last = contents.last().expect("a content");
    assert_eq!(last["role"], "user");
    last["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .filter_map(|p| p["text"].as_str())
        .collect()
}

/// What a Gemini upstream received for [`plain_turn`]: in auto mode (`model` `None`) one router
/// call first, then one model call on `model` (or the model the router chose), ending with the
/// prompt, asking for thoughts.
fn check_plain_turn_requests(seen: &[SeenRequest], model: Option<&str>) {
    let (router, main) = router_and_main(seen);
    assert_eq!(router.len(), usize::from(model.is_none()), "router calls");
    assert_eq!(main.len(), 1, "one model call, no retries");
    if let Some(model) = model {
        assert_eq!(model_and_method(main[0]).0, model);
    }
    let request = body(main[0]);
    assert!(last_user_text(&request).ends_with("Say hello."));
    assert_eq!(
        request["generationConfig"]["thinkingConfig"]["includeThoughts"],
        true
    );
    if let Some(router) = router.first() {
        assert!(last_user_text(&body(router)).ends_with("Say hello."));
    }
}

/// What a Gemini upstream received for [`shell_round_trip`]: the router call in auto mode (once,
/// not again after the tool ran), then two model calls on one model. The second is the first's
/// contents plus the model's call as the mock sent it (its `thoughtSignature` echoed, its
/// thought dropped) and a `functionResponse` of the same name and id whose output holds `marker`.
fn check_round_trip_requests(seen: &[SeenRequest], model: Option<&str>, marker: &str) {
    let (router, main) = router_and_main(seen);
    assert_eq!(router.len(), usize::from(model.is_none()), "router calls");
    assert_eq!(main.len(), 2, "two model calls, no retries");
    let (first_model, _) = model_and_method(main[0]);
    assert_eq!(model_and_method(main[1]).0, first_model);
    if let Some(model) = model {
        assert_eq!(first_model, model);
    }
    let (first, second) = (body(main[0]), body(main[1]));
    let declared = first["tools"].to_string();
    assert!(declared.contains(SHELL_TOOL), "{declared}");
    let before = first["contents"].as_array().expect("contents");
    let after = second["contents"].as_array().expect("contents");
    assert_eq!(after.len(), before.len() + 2, "{second:#}");
    assert_eq!(
        &after[..before.len()],
        before.as_slice(),
        "the history is replayed unchanged"
    );
    let (turn, result) = (&after[before.len()], &after[before.len() + 1]);
    assert_eq!(turn["role"], "model");
    let parts = turn["parts"].as_array().expect("parts");
    assert_eq!(parts.len(), 1, "the thought is not sent back: {turn:#}");
    let call = &parts[0];
    assert_eq!(call["functionCall"]["name"], SHELL_TOOL);
    assert_eq!(
        call["thoughtSignature"],
        call_signature(SHELL_TOOL),
        "the signature is echoed"
    );
    assert_eq!(result["role"], "user");
    let response = &result["parts"][0]["functionResponse"];
    assert_eq!(response["name"], SHELL_TOOL);
    assert_eq!(response["id"], call["functionCall"]["id"]);
    let output = response["response"]["output"].as_str().expect("an output");
    assert!(
        output.contains(marker),
        "no {marker} in the output: {output}"
    );
    // Only the contents grow between two requests of one turn.
    let without_contents = |mut b: Value| {
        b.as_object_mut().expect("an object").remove("contents");
        b
    };
    assert_eq!(without_contents(first), without_contents(second));
}

#[test]
fn gemini_cli_completes_a_plain_turn_after_its_router_call() {
    if !gemini_is_installed("gemini_cli_completes_a_plain_turn_after_its_router_call") {
        return;
    }
    let mock = gemini_mock(None);
    plain_turn(&mock.url(), None, "Hello from gemini-mock: word1 word2");
    check_plain_turn_requests(&mock.requests(), None);
}

#[test]
fn gemini_cli_completes_a_plain_turn_on_the_model_it_is_given() {
    if !gemini_is_installed("gemini_cli_completes_a_plain_turn_on_the_model_it_is_given") {
        return;
    }
    let mock = gemini_mock(None);
    plain_turn(
        &mock.url(),
        Some("gemini-2.5-pro"),
        "Hello from gemini-mock: word1 word2",
    );
    check_plain_turn_requests(&mock.requests(), Some("gemini-2.5-pro"));
}

#[test]
fn gemini_cli_shell_round_trip_quotes_the_marker_and_echoes_the_signature() {
    if !gemini_is_installed(
        "gemini_cli_shell_round_trip_quotes_the_marker_and_echoes_the_signature",
    ) {
        return;
    }
    let (command, marker) = marker_command();
    let mock = gemini_mock(Some(&command));
    shell_round_trip(&mock.url(), None, &marker);
    check_round_trip_requests(&mock.requests(), None, &marker);
}

#[test]
fn gemini_cli_shell_round_trip_on_the_model_it_is_given() {
    if !gemini_is_installed("gemini_cli_shell_round_trip_on_the_model_it_is_given") {
        return;
    }
    let (command, marker) = marker_command();
    let mock = gemini_mock(Some(&command));
    shell_round_trip(&mock.url(), Some("gemini-2.5-pro"), &marker);
    check_round_trip_requests(&mock.requests(), Some("gemini-2.5-pro"), &marker);
}

/// A refused request ends the run at once with the upstream's error, and the report the CLI
/// writes about it stays in the run's own `TMPDIR`.
#[test]
fn gemini_cli_stops_at_a_400_and_keeps_its_error_report_in_its_own_tmpdir() {
    if !gemini_is_installed(
        "gemini_cli_stops_at_a_400_and_keeps_its_error_report_in_its_own_tmpdir",
    ) {
        return;
    }
    let mock = gemini_mock(None);
    mock.update(|b| {
        b.status = Some(400);
        b.error_message = Some("MOCK-400 refused on purpose".into());
    });
    let run = run_gemini(&mock.url(), Some("gemini-2.5-pro"), "Say hello.");
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr.contains("MOCK-400 refused on purpose"),
        "{}",
        run.transcript()
    );
    assert_eq!(run.error_reports.len(), 1, "{}", run.transcript());
    assert_eq!(mock.requests().len(), 1, "a 400 is not retried");
}

/// A gateway whose one endpoint speaks `api` at `base_url`, with the key the mocks accept.
fn gateway_to(api: &str, base_url: &str) -> common::Gateway {
    common::Gateway::start(&common::config(
        "",
        &[format!(
            "  - id: up\n    api: {api}\n    base_url: {base_url}\n    api_key: {API_KEY}\n"
        )],
    ))
}

#[test]
fn gemini_cli_through_the_gateway_to_a_gemini_endpoint_is_a_passthrough() {
    if !gemini_is_installed("gemini_cli_through_the_gateway_to_a_gemini_endpoint_is_a_passthrough")
    {
        return;
    }
    let (command, marker) = marker_command();
    let mock = gemini_mock(Some(&command));
    let gw = gateway_to("gemini", &mock.url());
    shell_round_trip(&gw.url, Some("gemini-2.5-pro"), &marker);
    check_round_trip_requests(&mock.requests(), Some("gemini-2.5-pro"), &marker);
}

/// A shell round trip through the gateway to an endpoint of another API whose mock calls the
/// shell tool and then answers the tool's output with its own text: the CLI ran the command, and
/// the upstream's second request carries the marker as that API's tool result.
fn translated_round_trip(api: &str, base_url: impl Fn(&MockUpstream) -> String) {
    let (command, marker) = marker_command();
    let mock = gemini_mock(Some(&command));
    let gw = gateway_to(api, &base_url(&mock));
    shell_round_trip(&gw.url, Some("gemini-2.5-pro"), MOCK_NAME);
    let seen = mock.requests();
    let calls: Vec<Value> = seen.iter().map(body).collect();
    let last = calls.last().expect("requests");
    assert!(
        last.to_string().contains(&marker),
        "no {marker} in the last request: {last:#}"
    );
    let tools = calls[0]["tools"].to_string();
    assert!(tools.contains(SHELL_TOOL), "{tools}");
}

#[test]
fn gemini_cli_through_the_gateway_to_an_anthropic_endpoint_runs_the_shell() {
    if !gemini_is_installed(
        "gemini_cli_through_the_gateway_to_an_anthropic_endpoint_runs_the_shell",
    ) {
        return;
    }
    translated_round_trip("anthropic", |mock| mock.url());
}

#[test]
fn gemini_cli_through_the_gateway_to_a_chat_endpoint_runs_the_shell() {
    if !gemini_is_installed("gemini_cli_through_the_gateway_to_a_chat_endpoint_runs_the_shell") {
        return;
    }
    translated_round_trip("openai", |mock| format!("{}/v1", mock.url()));
}

#[test]
fn gemini_cli_through_the_gateway_to_a_responses_endpoint_runs_the_shell() {
    if !gemini_is_installed("gemini_cli_through_the_gateway_to_a_responses_endpoint_runs_the_shell")
    {
        return;
    }
    translated_round_trip("responses", |mock| format!("{}/v1", mock.url()));
}

/// The user's own settings in the `switchyard gemini` test: the Google login selected (with which
/// a run against a base URL stops, exit 41), and a setting of their own.
const USER_SETTINGS: &str = r#"{
  // signed in with Google
  "security": {"auth": {"selectedType": "oauth-personal"}},
  "general": {"vimMode": true}
}
"#;

#[test]
fn switchyard_gemini_runs_gemini_cli_through_the_gateway_it_serves_without_touching_its_settings() {
    if !gemini_is_installed(
        "switchyard_gemini_runs_gemini_cli_through_the_gateway_it_serves_without_touching_its_settings",
    ) {
        return;
    }
    let (command, marker) = marker_command();
    let mock = gemini_mock(Some(&command));
    let home = Home::new();
    let settings_path = home.path().join(".gemini/settings.json");
    std::fs::write(&settings_path, USER_SETTINGS).expect("the user's settings");
    // The gateway is served on a port of its own choosing and asks clients for no key:
    // Gemini CLI gets a placeholder, and the mock gets its own key from the endpoint.
    let config = home.path().join("switchyard.yaml");
    std::fs::write(
        &config,
        common::config(
            "  shutdown_grace: 2s\n",
            &[format!(
                "  - id: up\n    api: gemini\n    base_url: {}\n    api_key: {API_KEY}\n",
                mock.url()
            )],
        ),
    )
    .expect("config");
    let mut switchyard = home.command_of(env!("CARGO_BIN_EXE_switchyard"));
    switchyard
        .args(["gemini", "--config"])
        .arg(&config)
        .args([
            "--",
            "-p",
            "Run the shell command the tool call names and tell me what it printed.",
            "--yolo",
            "-o",
            "text",
            "-m",
            "gemini-2.5-pro",
        ])
        .env_remove("SWITCHYARD_CONFIG")
        .env_remove("GEMINI_API_KEY")
        .env_remove("GOOGLE_GEMINI_BASE_URL")
        .env_remove("GEMINI_CLI_TRUST_WORKSPACE");
    let run = run_in(&home, switchyard);
    assert_eq!(
        run.code,
        0,
        "switchyard gemini failed:\n{}",
        run.transcript()
    );
    assert!(run.error_reports.is_empty(), "{}", run.transcript());
    assert!(
        run.stdout.contains(&marker),
        "no `{marker}` in the answer:\n{}",
        run.transcript()
    );
    assert!(
        run.stderr.contains("while Gemini CLI runs"),
        "{}",
        run.transcript()
    );
    check_round_trip_requests(&mock.requests(), Some("gemini-2.5-pro"), &marker);
    assert_eq!(
        std::fs::read_to_string(&settings_path).expect("the user's settings"),
        USER_SETTINGS,
        "the user's settings are not edited"
    );
    let left: Vec<String> = std::fs::read_dir(home.tmp())
        .expect("TMPDIR")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("switchyard-gemini-"))
        .collect();
    assert!(left.is_empty(), "the private home is removed: {left:?}");
}

#[test]
fn gemini_cli_through_the_gateway_to_an_anthropic_endpoint_with_its_router_call() {
    if !gemini_is_installed(
        "gemini_cli_through_the_gateway_to_an_anthropic_endpoint_with_its_router_call",
    ) {
        return;
    }
    // No `-m`: the CLI first asks its router model, a structured-output call the gateway sends
    // to the Anthropic endpoint as one forced tool, whose input comes back as the JSON text.
    let mock = gemini_mock(None);
    let gw = gateway_to("anthropic", &mock.url());
    plain_turn(&gw.url, None, MOCK_NAME);
    let seen = mock.requests();
    assert_eq!(seen.len(), 2, "the router call once, then the model call");
    let router = body(&seen[0]);
    assert_eq!(router["tool_choice"]["type"], "tool", "{router:#}");
    let schema = &router["tools"][0]["input_schema"];
    assert_eq!(
        schema["properties"]["complexity_score"]["type"], "integer",
        "{router:#}"
    );
}

/// Gemini CLI names no session, but every request of a conversation begins with the same first
/// content: the gateway keeps the round trip on one of two endpoints that otherwise take turns,
/// so the second request finds the first one's prompt cache.
#[test]
fn gemini_cli_keeps_a_conversation_on_the_endpoint_that_served_its_first_request() {
    if !gemini_is_installed(
        "gemini_cli_keeps_a_conversation_on_the_endpoint_that_served_its_first_request",
    ) {
        return;
    }
    let (command, marker) = marker_command();
    let (one, two) = (gemini_mock(Some(&command)), gemini_mock(Some(&command)));
    let endpoint = |id: &str, mock: &MockUpstream| {
        format!(
            "  - id: {id}\n    api: gemini\n    base_url: {}\n    api_key: {API_KEY}\n",
            mock.url()
        )
    };
    let gw = common::Gateway::start(&common::config(
        "balancer:\n  strategy: round_robin\n",
        &[endpoint("one", &one), endpoint("two", &two)],
    ));
    shell_round_trip(&gw.url, Some("gemini-2.5-pro"), &marker);
    let (seen, idle) = match (one.requests(), two.requests()) {
        (seen, idle) if idle.is_empty() => (seen, idle),
        (idle, seen) => (seen, idle),
    };
    assert!(idle.is_empty(), "both endpoints served the conversation");
    check_round_trip_requests(&seen, Some("gemini-2.5-pro"), &marker);
}
