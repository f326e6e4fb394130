//! The real Codex CLI (`codex exec`) end to end, when it is installed (`codex --version` works, or
//! `SWITCHYARD_TEST_CODEX` names the binary); otherwise each test says why it is skipped and
//! passes. Codex gets a custom provider on its command line (never `~/.codex/config.toml`), a
//! fresh `CODEX_HOME` and no retries. Each scenario takes the base URL: it runs against the mock's
//! Responses API directly, and through the gateway to an endpoint of each API.

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

/// Runs `codex exec PROMPT` in `dir` against the Responses API at `base_url` (Codex adds
/// `/responses`) with `model`, and answers its exit code (-1 when it was killed or timed out), its
/// stdout (the final answer) and its stderr (the transcript).
fn run_codex(base_url: &str, model: &str, prompt: &str, dir: &Path) -> (i32, String, String) {
    let home = temp_dir("codex-home-");
    let provider = format!(
        "model_providers.switchyard={{name=\"switchyard\", base_url=\"{base_url}\", \
         env_key=\"SWITCHYARD_API_KEY\", wire_api=\"responses\", stream_max_retries=0, \
         request_max_retries=0}}"
    );
    let stdout_path = home.path().join("stdout");
    let stderr_path = home.path().join("stderr");
    let mut child = Command::new(codex_program())
        .args([
            "-c",
            "model_provider=switchyard",
            "-c",
            &provider,
            "-m",
            model,
        ])
        .args([
            "exec",
            "--skip-git-repo-check",
            "--dangerously-bypass-approvals-and-sandbox",
            "-C",
        ])
        .arg(dir)
        .arg(prompt)
        .env("CODEX_HOME", home.path())
        .env("SWITCHYARD_API_KEY", API_KEY)
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("spawn codex");
    let deadline = Instant::now() + TIMEOUT;
    let code = loop {
        match child.try_wait().expect("wait for codex") {
            Some(status) => break status.code().unwrap_or(-1),
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            None => {
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
    let (code, stdout, stderr) =
        run_codex(base_url, "claude-sonnet-4-5", "Say hello.", work.path());
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

/// A shell round trip through `base_url` with `model`, whose upstream has Codex run a
/// [`marker_command`]: Codex runs it and its final answer quotes the `marker` it printed.
fn shell_round_trip(base_url: &str, model: &str, marker: &str) {
    let work = temp_dir("codex-work-");
    let prompt = "Run the shell command the tool call names and tell me what it printed.";
    let (code, stdout, stderr) = run_codex(base_url, model, prompt, work.path());
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
    // Only the input grows between two requests of one turn (what keeps the prompt cacheable).
    let without_input = |mut b: Value| {
        b.as_object_mut().expect("an object").remove("input");
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
    shell_round_trip(&format!("{}/v1", mock.url()), "gpt-5.5", &marker);
    check_round_trip_requests(&mock.requests(), &marker);
}

#[test]
fn codex_default_model_runs_the_shell_through_its_code_mode_exec_tool() {
    if !codex_is_installed("codex_default_model_runs_the_shell_through_its_code_mode_exec_tool") {
        return;
    }
    let (command, marker) = marker_command();
    let mock = code_mode_mock(&command);
    shell_round_trip(&format!("{}/v1", mock.url()), CODE_MODE_MODEL, &marker);
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
    shell_round_trip(&format!("{}/v1", gw.url), "gpt-5.5", &marker);
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
    let (code, stdout, stderr) =
        run_codex(&format!("{}/v1", gw.url), "gpt-5.5", prompt, work.path());
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
    let (code, stdout, stderr) =
        run_codex(&format!("{}/v1", gw.url), "gpt-5.5", prompt, work.path());
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
