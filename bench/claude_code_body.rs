//! A request body shaped like one Claude Code sends to `/v1/messages`, built deterministically for
//! the benchmark (included by `examples/bench.rs`): system text blocks with `cache_control`, about
//! twenty tools with JSON Schema inputs, a conversation of user text, assistant `tool_use` blocks and
//! user `tool_result` blocks carrying file contents, `metadata.user_id`, `max_tokens`, no `stream`.
//! Top-level keys come in the order Claude Code writes them, so `metadata` and `max_tokens` follow
//! the long `messages` and `tools` arrays.

use serde_json::{json, Value};

const PROSE: [&str; 12] = [
    "Use this tool when the task needs it, and prefer the dedicated tool over a shell command.",
    "Always read a file before editing it, and keep the surrounding indentation exactly as it is.",
    "When several independent calls are needed, send them in one message so they run in parallel.",
    "Paths must be absolute; relative paths are resolved against the working directory of the session.",
    "Output longer than the limit is truncated, and the truncation is reported at the end of the result.",
    "Never commit changes unless the user asks for it explicitly, and never push to a remote on your own.",
    "Quote paths that contain spaces, and avoid interactive commands that wait for input from a terminal.",
    "Results are sorted by modification time, most recent first, and limited to the first matches found.",
    "Keep the answer short: the user reads it in a terminal, so one or two sentences are usually enough.",
    "If the request is ambiguous, ask a clarifying question instead of guessing what the user wanted.",
    "Track multi-step work with the todo list so that progress is visible and nothing is forgotten.",
    "Run the project's linters and tests after a change, and fix what they report before finishing.",
];

const IDENTS: [&str; 16] = [
    "request", "endpoint", "balancer", "config", "health", "session", "upstream", "answer",
    "attempt", "budget", "retry", "stream", "header", "metrics", "status", "router",
];

/// Deterministic word choice (xorshift; the same body on every run).
struct Words(u64);

impl Words {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as usize
    }

    fn prose(&mut self, sentences: usize) -> String {
        let mut text = String::new();
        for i in 0..sentences {
            if i > 0 {
                text.push(if i % 5 == 0 { '\n' } else { ' ' });
            }
            text.push_str(PROSE[self.next() % PROSE.len()]);
        }
        text
    }

    fn ident(&mut self) -> &'static str {
        IDENTS[self.next() % IDENTS.len()]
    }

    /// File contents the way Claude Code's Read tool returns them: numbered lines of source.
    fn file(&mut self, lines: usize) -> String {
        let mut text = String::new();
        for n in 1..=lines {
            let (a, b, c) = (self.ident(), self.ident(), self.ident());
            let line = match self.next() % 6 {
                0 => format!(
                    "pub fn {a}_{b}(&self, {c}: &{}) -> Result<(), Error> {{",
                    cap(c)
                ),
                1 => format!("    let {a} = self.{b}.get(&{c}).cloned().unwrap_or_default();"),
                2 => format!("    // The {a} decides which {b} answers when the {c} is busy."),
                3 => format!("    if {a}.is_empty() {{ return Err(Error::{}); }}", cap(b)),
                4 => format!("        {a}: {}::new({b}, \"{c}\"),", cap(a)),
                _ => "    }".to_string(),
            };
            text.push_str(&format!("{n:>6}\u{2192}{line}\n"));
        }
        text
    }
}

fn cap(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn schema(properties: &[(&str, Value)], required: &[&str]) -> Value {
    let props: serde_json::Map<String, Value> = properties
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    json!({
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": false,
        "$schema": "http://json-schema.org/draft-07/schema#",
    })
}

fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

fn number(description: &str) -> Value {
    json!({"type": "number", "description": description})
}

fn boolean(description: &str) -> Value {
    json!({"type": "boolean", "description": description})
}

fn tools(words: &mut Words) -> Vec<Value> {
    let todo_item = json!({
        "type": "object",
        "properties": {
            "content": {"type": "string", "minLength": 1},
            "status": {"type": "string", "enum": ["pending", "in_progress", "completed"]},
            "activeForm": {"type": "string", "minLength": 1},
        },
        "required": ["content", "status", "activeForm"],
        "additionalProperties": false,
    });
    let edit = json!({
        "type": "object",
        "properties": {
            "old_string": string("The text to replace"),
            "new_string": string("The text to replace it with"),
            "replace_all": {"type": "boolean", "default": false, "description": "Replace all occurrences of old_string (default false)."},
        },
        "required": ["old_string", "new_string"],
        "additionalProperties": false,
    });
    let specs: Vec<(&str, usize, Value)> = vec![
        ("Task", 30, schema(&[("description", string("A short (3-5 word) description of the task")), ("prompt", string("The task for the agent to perform")), ("subagent_type", string("The type of specialized agent to use for this task"))], &["description", "prompt", "subagent_type"])),
        ("Bash", 45, schema(&[("command", string("The command to execute")), ("timeout", number("Optional timeout in milliseconds (max 600000)")), ("description", string("Clear, concise description of what this command does in 5-10 words")), ("run_in_background", boolean("Set to true to run this command in the background"))], &["command"])),
        ("Glob", 8, schema(&[("pattern", string("The glob pattern to match files against")), ("path", string("The directory to search in. Defaults to the current working directory."))], &["pattern"])),
        ("Grep", 14, schema(&[("pattern", string("The regular expression pattern to search for in file contents")), ("path", string("File or directory to search in")), ("glob", string("Glob pattern to filter files (e.g. \"*.js\")")), ("output_mode", json!({"type": "string", "enum": ["content", "files_with_matches", "count"], "description": "Output mode"})), ("-B", number("Number of lines to show before each match")), ("-A", number("Number of lines to show after each match")), ("-n", boolean("Show line numbers in output")), ("-i", boolean("Case insensitive search")), ("type", string("File type to search")), ("head_limit", number("Limit output to first N lines/entries")), ("multiline", boolean("Enable multiline mode"))], &["pattern"])),
        ("LS", 5, schema(&[("path", string("The absolute path to the directory to list (must be absolute, not relative)")), ("ignore", json!({"type": "array", "items": {"type": "string"}, "description": "List of glob patterns to ignore"}))], &["path"])),
        ("ExitPlanMode", 6, schema(&[("plan", string("The plan you came up with, that you want to run by the user for approval."))], &["plan"])),
        ("Read", 12, schema(&[("file_path", string("The absolute path to the file to read")), ("offset", number("The line number to start reading from")), ("limit", number("The number of lines to read"))], &["file_path"])),
        ("Edit", 10, schema(&[("file_path", string("The absolute path to the file to modify")), ("old_string", string("The text to replace")), ("new_string", string("The text to replace it with (must be different from old_string)")), ("replace_all", json!({"type": "boolean", "default": false, "description": "Replace all occurrences of old_string (default false)"}))], &["file_path", "old_string", "new_string"])),
        ("MultiEdit", 14, schema(&[("file_path", string("The absolute path to the file to modify")), ("edits", json!({"type": "array", "items": edit, "minItems": 1, "description": "Array of edit operations to perform sequentially on the file"}))], &["file_path", "edits"])),
        ("Write", 8, schema(&[("file_path", string("The absolute path to the file to write (must be absolute, not relative)")), ("content", string("The content to write to the file"))], &["file_path", "content"])),
        ("NotebookEdit", 7, schema(&[("notebook_path", string("The absolute path to the Jupyter notebook file to edit")), ("cell_id", string("The ID of the cell to edit")), ("new_source", string("The new source for the cell")), ("cell_type", json!({"type": "string", "enum": ["code", "markdown"]})), ("edit_mode", json!({"type": "string", "enum": ["replace", "insert", "delete"]}))], &["notebook_path", "new_source"])),
        ("WebFetch", 10, schema(&[("url", json!({"type": "string", "format": "uri", "description": "The URL to fetch content from"})), ("prompt", string("The prompt to run on the fetched content"))], &["url", "prompt"])),
        ("TodoWrite", 40, schema(&[("todos", json!({"type": "array", "items": todo_item, "description": "The updated todo list"}))], &["todos"])),
        ("WebSearch", 6, schema(&[("query", json!({"type": "string", "minLength": 2, "description": "The search query to use"})), ("allowed_domains", json!({"type": "array", "items": {"type": "string"}})), ("blocked_domains", json!({"type": "array", "items": {"type": "string"}}))], &["query"])),
        ("BashOutput", 4, schema(&[("bash_id", string("The ID of the background shell to retrieve output from")), ("filter", string("Optional regular expression to filter the output lines"))], &["bash_id"])),
        ("KillShell", 3, schema(&[("shell_id", string("The ID of the background shell to kill"))], &["shell_id"])),
        ("SlashCommand", 6, schema(&[("command", string("The slash command to execute with its arguments"))], &["command"])),
        ("mcp__ide__getDiagnostics", 2, schema(&[("uri", string("Optional file URI to get diagnostics for"))], &[])),
        ("mcp__ide__executeCode", 3, schema(&[("code", string("The code to be executed on the kernel."))], &["code"])),
        ("mcp__github__search_issues", 4, schema(&[("q", string("Search query using GitHub issues search syntax")), ("sort", json!({"type": "string", "enum": ["comments", "reactions", "created", "updated"]})), ("per_page", json!({"type": "number", "minimum": 1, "maximum": 100}))], &["q"])),
    ];
    specs
        .into_iter()
        .map(|(name, sentences, input_schema)| {
            json!({"name": name, "description": words.prose(sentences), "input_schema": input_schema})
        })
        .collect()
}

fn tool_input(name: &str, turn: usize, words: &mut Words) -> Value {
    let path = format!(
        "/home/dev/project/src/{}/{}.rs",
        words.ident(),
        words.ident()
    );
    match name {
        "Bash" => {
            json!({"command": "cargo test --locked --lib 2>&1 | tail -40", "description": "Run the library tests"})
        }
        "Grep" => {
            json!({"pattern": format!("fn {}_", words.ident()), "path": "/home/dev/project/src", "output_mode": "content", "-n": true})
        }
        "Glob" => json!({"pattern": "src/**/*.rs"}),
        "Edit" => {
            json!({"file_path": path, "old_string": words.prose(1), "new_string": words.prose(1)})
        }
        "TodoWrite" => json!({"todos": [
            {"content": "Read the request path", "status": "completed", "activeForm": "Reading the request path"},
            {"content": format!("Fix the {} handling", words.ident()), "status": "in_progress", "activeForm": "Fixing it"},
            {"content": "Run the tests", "status": "pending", "activeForm": "Running the tests"},
        ]}),
        _ => json!({"file_path": path, "offset": turn * 40 + 1, "limit": 400}),
    }
}

/// The body, padded inside the last tool result to exactly `size` bytes (when `size` is larger than
/// the body without padding).
pub fn claude_code_body(size: usize) -> String {
    let mut words = Words(0x9e37_79b9_7f4a_7c15);
    let system = json!([
        {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": words.prose(90), "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": format!("<env>\nWorking directory: /home/dev/project\nIs directory a git repo: Yes\nPlatform: linux\nToday's date: 2025-06-01\n</env>\n{}", words.prose(6))},
    ]);
    let tools = tools(&mut words);
    let mut messages = vec![json!({"role": "user", "content": [
        {"type": "text", "text": "<system-reminder>\nAs you answer the user's questions, you can use the following context.\n</system-reminder>"},
        {"type": "text", "text": "The gateway answers 502 when the first endpoint is slow. Find out why and fix it.", "cache_control": {"type": "ephemeral"}},
    ]})];
    let cycle = [
        "Read",
        "Grep",
        "Read",
        "Edit",
        "Bash",
        "TodoWrite",
        "Glob",
        "Read",
    ];
    let head = |messages: &Vec<Value>| {
        format!(
            "{{\"model\":\"claude-sonnet-4-20250514\",\"messages\":{},\"temperature\":1,\"system\":{},\"tools\":{},\"metadata\":{{\"user_id\":\"user_5f1c0a2b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a_account_0d9a6c4e-2b1f-4e8a-9c7d-3f5b1a2e4c6d_session_7e3b2a1c-9d8f-4a6b-8c5e-1f2d3c4b5a69\"}},\"max_tokens\":32000}}",
            serde_json::to_string(messages).unwrap_or_default(),
            system,
            serde_json::to_string(&tools).unwrap_or_default()
        )
    };
    let mut turn = 0;
    // Whole turns while they fit, leaving room for the padding's own result block.
    loop {
        let name = cycle[turn % cycle.len()];
        let id = format!(
            "toolu_01{:022x}",
            words.next() as u128 * 7919 + turn as u128
        );
        let result = match name {
            "Read" => words.file(60),
            "Bash" => format!(
                "running 48 tests\n{}test result: ok. 48 passed; 0 failed\n",
                "test proxy::tests::forwards_the_body ... ok\n".repeat(48)
            ),
            _ => words.file(12),
        };
        let mut next = messages.clone();
        next.push(json!({"role": "assistant", "content": [
            {"type": "text", "text": words.prose(2)},
            {"type": "tool_use", "id": id, "name": name, "input": tool_input(name, turn, &mut words)},
        ]}));
        next.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": id, "content": result},
        ]}));
        if head(&next).len() + 512 > size || turn > 10_000 {
            break;
        }
        messages = next;
        turn += 1;
    }
    // The last turn carries the padding: ASCII, so one character is one byte.
    let id = "toolu_01padding0000000000000";
    messages.push(json!({"role": "assistant", "content": [
        {"type": "tool_use", "id": id, "name": "Read", "input": {"file_path": "/home/dev/project/README.md"}},
    ]}));
    messages.push(json!({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": id, "content": ""},
    ]}));
    let missing = size.saturating_sub(head(&messages).len());
    let filler: String = "# switchyard\nA local gateway for LLM APIs.\n"
        .chars()
        .cycle()
        .take(missing)
        .collect::<String>()
        .replace('\n', " ");
    if let Some(last) = messages.last_mut() {
        last["content"][0]["content"] = Value::String(filler);
    }
    head(&messages)
}
