//! The mock upstream on its own: `cargo run --example mock -- [PORT] [--key KEY] [--status N]
//! [--delay-ms N] [--deltas N] [--interval-ms N] [--openai] [--tool-call NAME JSON]
//! [--header NAME VALUE] [--name NAME] [--stream-fault FAULT]`. Answers
//! Anthropic `/v1/messages`, OpenAI `/v1/chat/completions`, the OpenAI Responses API
//! (`/v1/responses`) and the Gemini API (`/v1beta/models/…`), the last two refusing what the real
//! APIs refuse, plain and streamed, until Ctrl-C.
//! `--openai` makes its Chat Completions answers reason first (as DeepSeek does) and send a usage
//! chunk when asked, its Responses answers start with a reasoning item and its Gemini answers with
//! a thought (when the request asks for thoughts); `--tool-call Bash '{"command":"ls"}'` adds a
//! tool call to the answers of all four APIs, made until the conversation ends in a tool result.
//! For Codex CLI: `--openai --tool-call exec_command '{"cmd":"echo MARKER-1"}'`, with the base URL
//! `http://127.0.0.1:PORT/v1`. For Gemini CLI: `--openai --tool-call run_shell_command
//! '{"command":"echo MARKER-1"}'`, with `GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:PORT` (and the
//! settings of tests/gemini.rs); `--key` is then checked against `x-goog-api-key` or `?key=`.
//! `--header NAME VALUE` adds a header to every successful answer (rate-limit headers, say);
//! `--name` names the mock in its answers' text, to tell two apart.
//! `--stream-fault` makes every streamed answer fail after its `200` head:
//! `error-before-content[:STATUS]` (the opening events, then the API's error event; 529, an
//! `overloaded_error`, unless a status is given), `close-after-head`, `error-after-content[:STATUS]`,
//! `keep-alives` (one per `--interval-ms`, never content) or `stall-after-content`.

use std::time::Duration;
use switchyard::mock::{Behaviour, MockUpstream, OpenAiAnswer, StreamFault};

const USAGE: &str = "usage: mock [PORT] [--key KEY] [--status N] [--delay-ms N] [--deltas N] [--interval-ms N] [--openai] [--tool-call NAME JSON] [--header NAME VALUE] [--name NAME] [--stream-fault error-before-content[:STATUS]|close-after-head|error-after-content[:STATUS]|keep-alives|stall-after-content]";

fn main() {
    let mut args = std::env::args().skip(1);
    let mut port = 0u16;
    let mut b = Behaviour {
        name: "mock".into(),
        ..Behaviour::default()
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match arg.as_str() {
            "--key" => b.key = Some(value()),
            "--name" => b.name = value(),
            "--status" => b.status = value().parse().ok(),
            "--delay-ms" => b.head_delay = Duration::from_millis(value().parse().unwrap_or(0)),
            "--deltas" => b.deltas = value().parse().unwrap_or(3),
            "--interval-ms" => {
                b.event_interval = Duration::from_millis(value().parse().unwrap_or(0))
            }
            "--openai" => {
                b.openai.get_or_insert_with(OpenAiAnswer::default).reasoning =
                    Some("Thinking it over.".into())
            }
            "--header" => {
                let name = value();
                let header_value = value();
                b.headers.push((name, header_value));
            }
            "--tool-call" => {
                let name = value();
                let arguments = value();
                b.openai
                    .get_or_insert_with(OpenAiAnswer::default)
                    .tool_calls
                    .push((name, arguments));
            }
            "--stream-fault" => {
                let word = value();
                b.stream_fault = Some(StreamFault::from_word(&word).unwrap_or_else(|| {
                    eprintln!("mock: unknown stream fault `{word}`\n{USAGE}");
                    std::process::exit(2)
                }))
            }
            other => {
                port = other.parse().unwrap_or_else(|_| {
                    eprintln!("{USAGE}");
                    std::process::exit(2)
                })
            }
        }
    }
    let mock = match MockUpstream::start_on(port, b) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("mock: {e}");
            std::process::exit(1)
        }
    };
    println!("mock upstream on {}", mock.url());
    loop {
        std::thread::park();
    }
}
