//! The real Codex CLI (`codex exec`) end to end, when it is installed (`codex --version` works, or
//! `SWITCHYARD_TEST_CODEX` names the binary); otherwise each test says why it is skipped and
//! passes. Codex gets a custom provider on its command line (never `~/.codex/config.toml`), a
//! fresh `CODEX_HOME` and no retries. Each scenario takes the way Codex is started: it runs against
//! the mock's Responses API directly, through the gateway to an endpoint of each API, and as
//! `switchyard codex` does it.

mod common;

use common::{Behaviour, Gateway, MockUpstream};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use switchyard::mock::responses::{CACHED_TOKENS, ENCRYPTED_PREFIX, INPUT_TOKENS};
use switchyard::mock::{OpenAiAnswer, SeenRequest};

/// The key Codex sends as `Authorization: Bearer` (read from `SWITCHYARD_API_KEY`).
const API_KEY: &str = "sk-codex-e2e";

/// How long one `codex exec` may take; a plain turn takes well under a second on loopback.
const TIMEOUT: Duration = Duration::from_secs(90);

/// The `codex` binary: `$SWITCHYARD_TEST_CODEX`, or `codex` on the PATH.
fn codex_program() -> String {
    std::env::var("SWITCHYARD_TEST_CODEX").unwrap_or_else(|_| "codex".into())
}

/// `true` when Codex can run here; else prints why `test` is skipped.
fn codex_is_installed(test: &str) -> bool {
    let program = codex_program();
    let why = match Command::new(&program).arg("--version").output() {
        Ok(out) if out.status.success() => return true,
        Ok(out) => format!(
            "`{program} --version` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => format!("`{program}` cannot be run ({e}); `npm install -g @openai/codex`"),
    };
    eprintln!("{test}: skipped, {why}");
    false
}

/// A directory under the target's temporary folder (Codex refuses to make its helper links under
/// /tmp and says so on every run).
fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("a temporary directory")
}

/// How a test starts Codex.
#[derive(Clone, Copy)]
enum Launch<'a> {
    /// `codex` itself, given a provider at this Responses API base URL (Codex adds `/responses`)
    /// whose key is [`API_KEY`].
    Direct(&'a str),
    /// `switchyard codex --config CONFIG --`, with `bin` (holding `codex`) first on its PATH: the
    /// provider, its URL and its key are switchyard's to give.
    Switchyard { config: &'a Path, bin: &'a Path },
}

impl Launch<'_> {
    /// The command up to Codex's own arguments, the provider given.
    fn command(self) -> Command {
        match self {
            Launch::Direct(base_url) => {
                let provider = format!(
                    "model_providers.switchyard={{name=\"switchyard\", base_url=\"{base_url}\", \
                     env_key=\"SWITCHYARD_API_KEY\", wire_api=\"responses\", stream_max_retries=0, \
                     request_max_retries=0}}"
                );
                let mut command = Command::new(codex_program());
                command
                    .args(["-c", "model_provider=switchyard", "-c", &provider])
                    .env("SWITCHYARD_API_KEY", API_KEY);
                command
            }
            Launch::Switchyard { config, bin } => {
                let path = std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(
                    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
                ))
                .expect("a PATH");
                let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
                command
                    .args(["codex", "--config"])
                    .arg(config)
                    .args([
                        "--",
                        "-c",
                        "model_providers.switchyard.stream_max_retries=0",
                        "-c",
                        "model_providers.switchyard.request_max_retries=0",
                    ])
                    .env("PATH", path)
                    .env_remove("SWITCHYARD_CONFIG");
                command
            }
        }
    }
}

/// Runs `codex exec PROMPT` in `dir`, started as `launch` says, with `model`, and answers its exit
/// code (-1 when it was killed or timed out), its stdout (the final answer) and its stderr (the
/// transcript).
fn run_codex(launch: Launch, model: &str, prompt: &str, dir: &Path) -> (i32, String, String) {
    let home = temp_dir("codex-home-");
    let stdout_path = home.path().join("stdout");
    let stderr_path = home.path().join("stderr");
    let mut command = launch.command();
    command
        .args(["-m", model])
        .args([
            "exec",
            "--skip-git-repo-check",
            "--dangerously-bypass-approvals-and-sandbox",
            "-C",
        ])
        .arg(dir)
        .arg(prompt)
        .env("CODEX_HOME", home.path())
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"));
    #[cfg(unix)]
    {
        // A group of its own, so that a timeout ends Codex even when switchyard started it.
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let mut child = command.spawn().expect("spawn codex");
    let deadline = Instant::now() + TIMEOUT;
    let code = loop {
        match child.try_wait().expect("wait for codex") {
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
    if Instant::now() >= deadline {
        stderr.push_str(&format!("\n(killed after {TIMEOUT:?})"));
    }
    (code, read(&stdout_path), stderr)
}

fn body(request: &SeenRequest) -> Value {
    serde_json::from_slice(&request.body).expect("a JSON request body")
}

/// What Codex shows as "tokens used" for one answer of the mock with `output_tokens`: the input
/// less its cached part, plus the output.
fn tokens_shown(output_tokens: usize) -> usize {
    INPUT_TOKENS - CACHED_TOKENS + output_tokens
}

/// The reasoning the mocks below send; Codex prints its summary when it asks for one.
const REASONING: &str = "Checking what to say.";

/// A mock that reasons and then answers with its text, accepting only [`API_KEY`].
fn plain_mock() -> MockUpstream {
    MockUpstream::start(Behaviour {
        name: "codex-mock".into(),
        key: Some(API_KEY.into()),
        openai: Some(OpenAiAnswer {
            reasoning: Some(REASONING.into()),
            ..OpenAiAnswer::default()
        }),
        ..Behaviour::default()
    })
    .expect("mock")
}

/// A mock that reasons, has Codex call tool `name` with `arguments`, and then quotes the output.
fn tool_mock(name: &str, arguments: String) -> MockUpstream {
    MockUpstream::start(Behaviour {
        name: "codex-mock".into(),
        key: Some(API_KEY.into()),
        openai: Some(OpenAiAnswer {
            reasoning: Some(REASONING.into()),
            tool_calls: vec![(name.into(), arguments)],
            argument_pieces: 3,
        }),
        ..Behaviour::default()
    })
    .expect("mock")
}

/// A mock that has Codex run `command` with its shell tool (`exec_command`).
fn shell_mock(command: &str) -> MockUpstream {
    tool_mock(
        "exec_command",
        serde_json::json!({ "cmd": command }).to_string(),
    )
}

/// A mock that has a code-mode model run `command` the way those models do: a `custom` `exec`
/// call whose JavaScript calls the shell tool.
fn code_mode_mock(command: &str) -> MockUpstream {
    let command = serde_json::to_string(command).expect("a JS string");
    tool_mock(
        "exec",
        format!("const r = await tools.exec_command({{cmd: {command}}});\ntext(r);\n"),
    )
}

/// One plain turn through `base_url`, with a model Codex does not know (so it sends its fallback
/// request: namespace tools, `reasoning.summary: "auto"`). Checks what Codex printed.
fn plain_turn(base_url: &str) {
    let work = temp_dir("codex-work-");
    let (code, stdout, stderr) = run_codex(
        Launch::Direct(base_url),
        "claude-sonnet-4-5",
        "Say hello.",
        work.path(),
    );
    assert_eq!(code, 0, "codex failed:\n{stderr}");
    assert_eq!(
        stdout.trim(),
        "Hello from codex-mock: word1 word2",
        "{stderr}"
    );
    assert!(
        stderr.contains(REASONING),
        "no reasoning summary:\n{stderr}"
    );
    let words = REASONING.split_whitespace().count();
    let tokens = format!("tokens used\n{}", tokens_shown(words + 3));
    assert!(stderr.contains(&tokens), "no `{tokens}`:\n{stderr}");
}

/// What a Responses upstream received for [`plain_turn`]: one streamed, unstored request with
/// Codex's key, asking for encrypted reasoning, whose last input item is the prompt.
fn check_plain_turn_request(seen: &[SeenRequest]) {
    assert_eq!(seen.len(), 1, "one request, no retries");
    let request = &seen[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v1/responses")
    );
    let bearer = format!("Bearer {API_KEY}");
    assert_eq!(request.header("authorization"), Some(bearer.as_str()));
    let b = body(request);
    assert_eq!(b["model"], "claude-sonnet-4-5");
    assert_eq!(b["stream"], true);
    assert_eq!(b["store"], false);
    assert_eq!(
        b["include"],
        serde_json::json!(["reasoning.encrypted_content"])
    );
    assert_eq!(b["reasoning"]["summary"], "auto");
    assert_eq!(b["prompt_cache_key"].as_str(), request.header("session-id"));
    let last = b["input"].as_array().and_then(|i| i.last()).expect("input");
    assert_eq!(last["role"], "user");
    assert_eq!(last["content"][0]["text"], "Say hello.");
}

/// A shell command and what it prints, which only a shell can have computed:
/// `echo MARKER-$((n+1))` and `MARKER-{n+1}` for a random `n`.
fn marker_command() -> (String, String) {
    let n = fastrand::u32(1000..1_000_000);
    (
        format!("echo MARKER-$(({n}+1))"),
        format!("MARKER-{}", n + 1),
    )
}

/// A shell round trip started as `launch` says, with `model`, whose upstream has Codex run a
/// [`marker_command`]: Codex runs it and its final answer quotes the `marker` it printed.
fn shell_round_trip(launch: Launch, model: &str, marker: &str) {
    let work = temp_dir("codex-work-");
    let prompt = "Run the shell command the tool call names and tell me what it printed.";
    let (code, stdout, stderr) = run_codex(launch, model, prompt, work.path());
    assert_eq!(code, 0, "codex failed:\n{stderr}");
    assert!(
        stdout.contains(marker),
        "no {marker} in the answer:\n{stdout}\n{stderr}"
    );
}

/// What a Responses upstream received for [`shell_round_trip`]: two requests, the second the
/// first's input with the reasoning item (its `encrypted_content` as the mock gave it), the
/// `function_call` and the shell's `function_call_output` (with the marker) appended.
fn check_round_trip_requests(seen: &[SeenRequest], marker: &str) {
    assert_eq!(seen.len(), 2, "two requests, no retries");
    let (first, second) = (body(&seen[0]), body(&seen[1]));
    let before = first["input"].as_array().expect("input");
    let after = second["input"].as_array().expect("input");
    assert_eq!(after.len(), before.len() + 3);
    assert_eq!(
        &after[..before.len()],
        before.as_slice(),
        "the history is replayed unchanged"
    );
    let [reasoning, call, output] = &after[before.len()..] else {
        panic!("not reasoning, call and output: {:#}", second["input"]);
    };
    assert_eq!(reasoning["type"], "reasoning");
    assert_eq!(reasoning["id"], "rs_mock_1");
    assert_eq!(
        reasoning["encrypted_content"],
        format!("{ENCRYPTED_PREFIX}rs_mock_1")
    );
    assert_eq!(call["type"], "function_call");
    assert_eq!(call["name"], "exec_command");
    assert_eq!(call["call_id"], "call_mock_1_0");
    assert_eq!(output["type"], "function_call_output");
    assert_eq!(output["call_id"], "call_mock_1_0");
    let text = output["output"].as_str().expect("the output as a string");
    assert!(
        text.contains(marker),
        "no {marker} in the tool output: {text}"
    );
    // Both requests belong to one turn of one session.
    for id in ["session_id", "turn_id"] {
        assert_eq!(
            first["client_metadata"][id], second["client_metadata"][id],
            "{id}"
        );
    }
    // Only the input grows between two requests of one turn (what keeps the prompt cacheable).
    // Codex's client metadata is not part of the prompt: it adds the git workspaces of the turn
    // to it once it has read them, which may fall between the two requests.
    let without_input = |mut b: Value| {
        let body = b.as_object_mut().expect("an object");
        body.remove("input");
        body.remove("client_metadata");
        b
    };
    assert_eq!(without_input(first), without_input(second));
}

/// Codex's default model, one of those that reach the shell only through JavaScript run by a
/// `custom` tool `exec`, offered in an `additional_tools` input item instead of `tools`.
const CODE_MODE_MODEL: &str = "gpt-6.2-sol";

/// What a Responses upstream received for a code-mode round trip: the tools in the first input
/// item, then the `custom_tool_call` `exec` and its output (a list of text parts, the marker among
/// them) appended to the history.
fn check_code_mode_requests(seen: &[SeenRequest], marker: &str) {
    assert_eq!(seen.len(), 2, "two requests, no retries");
    let (first, second) = (body(&seen[0]), body(&seen[1]));
    assert!(first.get("tools").is_none());
    assert_eq!(first["input"][0]["type"], "additional_tools");
    let before = first["input"].as_array().expect("input");
    let after = second["input"].as_array().expect("input");
    assert_eq!(&after[..before.len()], before.as_slice());
    let [reasoning, call, output] = &after[before.len()..] else {
        panic!("not reasoning, call and output: {:#}", second["input"]);
    };
    assert_eq!(
        reasoning["encrypted_content"],
        format!("{ENCRYPTED_PREFIX}rs_mock_1")
    );
    assert_eq!(call["type"], "custom_tool_call");
    assert_eq!(call["name"], "exec");
    assert_eq!(output["type"], "custom_tool_call_output");
    assert_eq!(output["call_id"], call["call_id"]);
    let text: String = output["output"]
        .as_array()
        .expect("the output as text parts")
        .iter()
        .filter_map(|part| part["text"].as_str())
        .collect();
    assert!(
        text.contains(marker),
        "no {marker} in the tool output: {text}"
    );
}

#[test]
fn codex_completes_a_plain_turn_against_the_responses_mock() {
    if !codex_is_installed("codex_completes_a_plain_turn_against_the_responses_mock") {
        return;
    }
    let mock = plain_mock();
    plain_turn(&format!("{}/v1", mock.url()));
    check_plain_turn_request(&mock.requests());
}

#[test]
fn codex_shell_round_trip_quotes_the_echoed_marker_and_replays_the_reasoning() {
    if !codex_is_installed(
        "codex_shell_round_trip_quotes_the_echoed_marker_and_replays_the_reasoning",
    ) {
        return;
    }
    let (command, marker) = marker_command();
    let mock = shell_mock(&command);
    shell_round_trip(
        Launch::Direct(&format!("{}/v1", mock.url())),
        "gpt-5.5",
        &marker,
    );
    check_round_trip_requests(&mock.requests(), &marker);
}

#[test]
fn codex_default_model_runs_the_shell_through_its_code_mode_exec_tool() {
    if !codex_is_installed("codex_default_model_runs_the_shell_through_its_code_mode_exec_tool") {
        return;
    }
    let (command, marker) = marker_command();
    let mock = code_mode_mock(&command);
    shell_round_trip(
        Launch::Direct(&format!("{}/v1", mock.url())),
        CODE_MODE_MODEL,
        &marker,
    );
    check_code_mode_requests(&mock.requests(), &marker);
}

/// A gateway whose one endpoint speaks `api` at `base_url`, with the key the mocks accept.
fn gateway_to(api: &str, base_url: &str) -> Gateway {
    Gateway::start(&common::config(
        "",
        &[format!(
            "  - id: up\n    api: {api}\n    base_url: {base_url}\n    api_key: {API_KEY}\n"
        )],
    ))
}

#[test]
fn codex_through_the_gateway_to_a_responses_endpoint_is_a_passthrough() {
    if !codex_is_installed("codex_through_the_gateway_to_a_responses_endpoint_is_a_passthrough") {
        return;
    }
    let (command, marker) = marker_command();
    let mock = shell_mock(&command);
    let gw = gateway_to("responses", &format!("{}/v1", mock.url()));
    shell_round_trip(
        Launch::Direct(&format!("{}/v1", gw.url)),
        "gpt-5.5",
        &marker,
    );
    check_round_trip_requests(&mock.requests(), &marker);
}

/// A shell round trip through the gateway to an endpoint of another API, whose mock calls
/// `exec_command` and then answers the tool's output with its own text: Codex ran the command,
/// and the upstream's second request carries the marker in the API's own tool-result form.
fn translated_round_trip(api: &str, base_url: impl Fn(&MockUpstream) -> String) {
    let (command, marker) = marker_command();
    let mock = shell_mock(&command);
    let gw = gateway_to(api, &base_url(&mock));
    let work = temp_dir("codex-work-");
    let prompt = "Run the shell command the tool call names and tell me what it printed.";
    let (code, stdout, stderr) = run_codex(
        Launch::Direct(&format!("{}/v1", gw.url)),
        "gpt-5.5",
        prompt,
        work.path(),
    );
    assert_eq!(code, 0, "codex failed:\n{stderr}");
    assert!(
        stdout.contains("Hello from codex-mock"),
        "{stdout}\n{stderr}"
    );
    let seen = mock.requests();
    assert_eq!(seen.len(), 2, "two requests, no retries");
    let second = body(&seen[1]);
    let messages = second["messages"].as_array().expect("messages");
    let result = match api {
        "openai" => messages
            .iter()
            .find(|m| m["role"] == "tool")
            .map(|m| m["content"].to_string()),
        _ => messages
            .iter()
            .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
            .find(|b| b["type"] == "tool_result")
            .map(|b| b["content"].to_string()),
    };
    let result = result.unwrap_or_else(|| panic!("no tool result in {second:#}"));
    assert!(result.contains(&marker), "no {marker} in {result}");
    // Tools the upstream cannot run are left out; Codex's shell tool is there.
    let tools = second["tools"].to_string();
    assert!(tools.contains("exec_command"), "{tools}");
    assert!(!tools.contains("web_search"), "{tools}");
}

#[test]
fn codex_through_the_gateway_to_a_chat_endpoint_runs_the_shell() {
    if !codex_is_installed("codex_through_the_gateway_to_a_chat_endpoint_runs_the_shell") {
        return;
    }
    translated_round_trip("openai", |mock| format!("{}/v1", mock.url()));
}

#[test]
fn codex_through_the_gateway_to_an_anthropic_endpoint_runs_the_shell() {
    if !codex_is_installed("codex_through_the_gateway_to_an_anthropic_endpoint_runs_the_shell") {
        return;
    }
    translated_round_trip("anthropic", |mock| mock.url());
}

#[test]
fn codex_through_the_gateway_to_an_anthropic_endpoint_with_thinking_replays_the_signed_thinking() {
    if !codex_is_installed(
        "codex_through_the_gateway_to_an_anthropic_endpoint_with_thinking_replays_the_signed_thinking",
    ) {
        return;
    }
    // The mock thinks (signed) before its tool call when the request turns thinking on, and
    // refuses a tool-use turn replayed without its thinking or with another signature.
    let (command, marker) = marker_command();
    let mock = shell_mock(&command);
    let gw = gateway_to("anthropic", &mock.url());
    let work = temp_dir("codex-work-");
    let prompt = "Run the shell command the tool call names and tell me what it printed.";
    // gpt-5.5 asks for reasoning effort, which the gateway turns into Anthropic thinking.
    let (code, stdout, stderr) = run_codex(
        Launch::Direct(&format!("{}/v1", gw.url)),
        "gpt-5.5",
        prompt,
        work.path(),
    );
    assert_eq!(code, 0, "codex failed:\n{stdout}\n{stderr}");
    let seen = mock.requests();
    assert_eq!(seen.len(), 2, "two requests, no retries");
    let (first, second) = (body(&seen[0]), body(&seen[1]));
    assert_eq!(first["thinking"]["type"], "enabled", "{first:#}");
    let turn = second["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "assistant"))
        .cloned()
        .expect("the tool-use turn replayed");
    assert_eq!(turn["content"][0]["type"], "thinking", "{turn:#}");
    assert_eq!(turn["content"][0]["thinking"], REASONING);
    assert_eq!(
        turn["content"][0]["signature"],
        switchyard::mock::mock_signature(REASONING)
    );
    assert!(second.to_string().contains(&marker));
}

/// A directory holding `codex`: a link to the Codex this test run uses, for `switchyard codex` to
/// find on its PATH whatever `SWITCHYARD_TEST_CODEX` names.
#[cfg(unix)]
fn codex_on_a_path_of_its_own() -> tempfile::TempDir {
    let program = codex_program();
    let target = if program.contains('/') {
        std::path::PathBuf::from(program)
    } else {
        switchyard::onboard::launch::find_on_path(&program, std::env::var_os("PATH").as_deref())
            .expect("codex runs, so it is on PATH")
    };
    let bin = temp_dir("codex-bin-");
    std::os::unix::fs::symlink(target, bin.path().join("codex")).expect("a link to codex");
    bin
}

/// `switchyard codex` serves a config (client auth on, a port of the gateway's choosing) whose
/// endpoint is the mock's Responses API, and gives Codex the provider and key to reach it: Codex
/// runs the mock's shell call, and the upstream sees the whole round trip passed through.
#[cfg(unix)]
#[test]
fn switchyard_codex_serves_the_config_and_codex_completes_a_shell_round_trip() {
    if !codex_is_installed(
        "switchyard_codex_serves_the_config_and_codex_completes_a_shell_round_trip",
    ) {
        return;
    }
    let (command, marker) = marker_command();
    let mock = shell_mock(&command);
    let dir = temp_dir("codex-config-");
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "proxy:\n  port: 0\n  auth_mode: strict\n  api_key: codex-client-key\n  shutdown_grace: 2s\n\
             endpoints:\n  - id: up\n    api: responses\n    base_url: {}/v1\n    api_key: {API_KEY}\n",
            mock.url()
        ),
    )
    .expect("the config");
    let bin = codex_on_a_path_of_its_own();
    let launch = Launch::Switchyard {
        config: &config,
        bin: bin.path(),
    };
    shell_round_trip(launch, "gpt-5.5", &marker);
    let seen = mock.requests();
    check_round_trip_requests(&seen, &marker);
    let bearer = format!("Bearer {API_KEY}");
    assert_eq!(seen[0].header("authorization"), Some(bearer.as_str()));
    let log = std::fs::read_to_string(dir.path().join("config.codex.log")).unwrap_or_default();
    assert!(
        log.contains("POST /v1/responses"),
        "the gateway served it:\n{log}"
    );
}

#[test]
fn codex_through_the_gateway_to_a_gemini_endpoint_completes_a_plain_turn() {
    if !codex_is_installed("codex_through_the_gateway_to_a_gemini_endpoint_completes_a_plain_turn")
    {
        return;
    }
    let mock = plain_mock();
    let gw = gateway_to("gemini", &mock.url());
    let work = temp_dir("codex-work-");
    let (code, stdout, stderr) = run_codex(
        Launch::Direct(&format!("{}/v1", gw.url)),
        "gemini-2.5-pro",
        "Say hello.",
        work.path(),
    );
    assert_eq!(code, 0, "codex failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("Hello from codex-mock"),
        "{stdout}\n{stderr}"
    );
    let seen = mock.requests();
    assert_eq!(seen.len(), 1, "one request, no retries");
    assert_eq!(
        seen[0].path,
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent"
    );
    let sent = body(&seen[0]);
    assert!(sent["contents"].is_array(), "{sent:#}");
    assert!(
        sent.get("model").is_none(),
        "the model is in the path: {sent:#}"
    );
}

/// Codex names its session in three headers and in the body's `prompt_cache_key`, the same id in
/// all four and in both requests of a turn: the gateway keeps the turn on one of two endpoints
/// that otherwise take turns, so the second request finds the first one's prompt cache.
#[test]
fn codex_keeps_a_conversation_on_the_endpoint_that_served_its_first_request() {
    if !codex_is_installed(
        "codex_keeps_a_conversation_on_the_endpoint_that_served_its_first_request",
    ) {
        return;
    }
    let (command, marker) = marker_command();
    let (one, two) = (shell_mock(&command), shell_mock(&command));
    let endpoint = |id: &str, mock: &MockUpstream| {
        format!(
            "  - id: {id}\n    api: responses\n    base_url: {}/v1\n    api_key: {API_KEY}\n",
            mock.url()
        )
    };
    let gw = Gateway::start(&common::config(
        "balancer:\n  strategy: round_robin\n",
        &[endpoint("one", &one), endpoint("two", &two)],
    ));
    shell_round_trip(
        Launch::Direct(&format!("{}/v1", gw.url)),
        "gpt-5.5",
        &marker,
    );
    let (seen, idle) = match (one.requests(), two.requests()) {
        (seen, idle) if idle.is_empty() => (seen, idle),
        (idle, seen) => (seen, idle),
    };
    assert!(idle.is_empty(), "both endpoints served the turn");
    check_round_trip_requests(&seen, &marker);
    let session = seen[0].header("session-id").expect("a session-id header");
    for request in &seen {
        for name in ["session-id", "thread-id", "x-client-request-id"] {
            assert_eq!(request.header(name), Some(session), "{name}");
        }
        assert_eq!(body(request)["prompt_cache_key"].as_str(), Some(session));
    }
}
