//! The command line: `serve`, `check`, `status`, `demo`, and the getting-started commands
//! `init`, `env`, `claude` and `completions` (see [`crate::onboard`]).

pub mod usage;

use crate::config::{self, Config, ConfigError};
use crate::mock::{Behaviour, MockUpstream, OpenAiAnswer};
use crate::onboard::{self, Shell};
use crate::server;
use crate::text::escape_controls;
use clap::{CommandFactory, Parser, Subcommand};
use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

pub use crate::config::EXIT_CONFIG;

/// `switchyard --version`: the crate version and the git commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SWITCHYARD_GIT_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "switchyard",
    version = VERSION,
    about = "One local base URL for every LLM client; failover across upstream endpoints"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway in the foreground until SIGINT/SIGTERM.
    Serve {
        /// Config file (default: $SWITCHYARD_CONFIG, ./switchyard.yaml, ~/.config/switchyard/config.yaml).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Validate the config and print it in effect, keys redacted.
    Check {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Show the running gateway's endpoints as a table (reads /admin/status).
    Status {
        /// The gateway's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8045")]
        url: String,
        /// Admin or client key, when the gateway asks for one.
        #[arg(long, env = "SWITCHYARD_ADMIN_KEY", hide_env_values = true)]
        key: Option<String>,
        /// Print the raw JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Tokens and cost from the running gateway's usage history (reads /admin/usage).
    Usage {
        /// The gateway's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8045")]
        url: String,
        /// Admin or client key, when the gateway asks for one.
        #[arg(long, env = "SWITCHYARD_ADMIN_KEY", hide_env_values = true)]
        key: Option<String>,
        /// Start of the window: `24h`, `7d` or an RFC 3339 date/time.
        #[arg(long, default_value = "24h")]
        since: String,
        /// One line per `endpoint`, `model` or `day`.
        #[arg(long, default_value = "endpoint")]
        by: String,
        /// Print the raw JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Start three mock upstreams (one OpenAI-format) and a gateway in front of them: a try-out with no keys.
    Demo {
        /// Port of the demo gateway (0: any free port).
        #[arg(long, default_value_t = 8045)]
        port: u16,
    },
    /// Write a starter config with one endpoint per provider key found in the environment.
    Init {
        /// Where to write (default: $XDG_CONFIG_HOME/switchyard/config.yaml or ~/.config/switchyard/config.yaml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Replace an existing file (the old one is kept as FILE.bak).
        #[arg(long)]
        force: bool,
    },
    /// Print the lines that point Anthropic and OpenAI clients at this gateway: eval "$(switchyard env)".
    Env {
        #[arg(long)]
        config: Option<PathBuf>,
        /// The syntax to print (default: from $SHELL).
        #[arg(long, value_enum)]
        shell: Option<Shell>,
    },
    /// Run Claude Code (`claude` on PATH) through the gateway, serving the config meanwhile if none runs.
    Claude {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Arguments for Claude Code, after `--`.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "CLAUDE_ARGS"
        )]
        args: Vec<OsString>,
    },
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions { shell: clap_complete::Shell },
}

/// Runs a parsed command line and gives the process exit status.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve { config } => serve(config),
        Command::Check { config } => check(config),
        Command::Status { url, key, json } => status(&url, key.as_deref(), json),
        Command::Demo { port } => demo(port),
        Command::Usage {
            url,
            key,
            since,
            by,
            json,
        } => usage::run(&usage::UsageCommand {
            url,
            key,
            since,
            by,
            json,
        }),
        Command::Init { config, force } => onboard::commands::init(config, force),
        Command::Env { config, shell } => onboard::commands::env(config, shell),
        Command::Claude { config, args } => onboard::commands::claude(config, args),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "switchyard",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
    }
}

fn load(path: Option<PathBuf>) -> Result<Config, ConfigError> {
    let path = config::resolve_config_path(path.as_deref())?;
    config::load_file(&path)
}

fn config_failure(e: &ConfigError) -> ExitCode {
    onboard::commands::config_error_failure(e)
}

fn serve(path: Option<PathBuf>) -> ExitCode {
    let config = match load(path) {
        Ok(c) => c,
        Err(e) => return config_failure(&e),
    };
    onboard::commands::warn_placeholder_keys(&config);
    if !config.endpoints.iter().any(|e| e.enabled) {
        log::warn!("every endpoint is disabled: requests get 503 until one is enabled");
    }
    let source = config
        .source
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let endpoints = config.endpoints.len();
    let mode = config.proxy.effective_auth_mode().as_str();
    for warning in crate::config::warnings(&config) {
        log::warn!("{warning}");
    }
    let result = server::run(config, move |addrs| {
        let first = addrs.first().map(|a| a.to_string()).unwrap_or_default();
        log::info!("config {source}: {endpoints} endpoint(s), client auth {mode}");
        println!("switchyard listening on http://{first}");
        let _ = std::io::stdout().flush();
        // Set by `switchyard claude` for the gateway it starts: stop when it closes our stdin.
        if std::env::var_os(onboard::claude::STOP_WHEN_STDIN_CLOSES).is_some() {
            onboard::claude::stop_when_stdin_closes();
        }
    });
    match result {
        Ok(()) => {
            log::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("switchyard: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check(path: Option<PathBuf>) -> ExitCode {
    match load(path) {
        Ok(config) => {
            if let Some(source) = &config.source {
                println!("# {}: valid", source.display());
            }
            print!("{}", config.render_redacted());
            for warning in crate::config::warnings(&config) {
                eprintln!("warning: {warning}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => config_failure(&e),
    }
}

fn status(url: &str, key: Option<&str>, json: bool) -> ExitCode {
    let url = format!("{}/admin/status", url.trim_end_matches('/'));
    let fetched = actix_rt::System::new().block_on(usage::fetch(&url, key));
    let body = match fetched {
        Ok(body) => body,
        Err(e) => {
            eprintln!("switchyard: {e}");
            return ExitCode::FAILURE;
        }
    };
    if json {
        println!("{}", String::from_utf8_lossy(&body));
        return ExitCode::SUCCESS;
    }
    let report: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("switchyard: {url} did not answer JSON: {e}");
            return ExitCode::FAILURE;
        }
    };
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    print!("{}", render_status_table(&report, colour));
    ExitCode::SUCCESS
}

/// The `switchyard status` table.
pub fn render_status_table(report: &serde_json::Value, colour: bool) -> String {
    // Every text below came from the gateway's answer, which quotes model names, upstream error
    // text and other values from outside: shown with control characters escaped.
    let text = |v: &serde_json::Value, missing: &str| {
        escape_controls(v.as_str().unwrap_or(missing)).into_owned()
    };
    let mut out = String::new();
    out.push_str(&format!(
        "switchyard {}  up {}  auth {}  strategy {}  listening {}\n",
        text(&report["version"], "?"),
        human_duration(report["uptime_s"].as_u64().unwrap_or(0)),
        text(&report["auth_mode"], "?"),
        text(&report["strategy"], "?"),
        report["listen"]
            .as_array()
            .map(|a| a
                .iter()
                .filter_map(|v| v.as_str())
                .map(|v| escape_controls(v).into_owned())
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default(),
    ));
    if let Some(error) = report["config_error"].as_str() {
        out.push_str(&format!(
            "config reload failed (running the previous config): {}\n",
            escape_controls(error)
        ));
    }
    let header = [
        "ID", "STATE", "REQS", "FAILS", "INFL", "LAST", "P50ms", "P95ms", "WHY", "BASE URL",
    ];
    let mut rows: Vec<[String; 10]> = Vec::new();
    for e in report["endpoints"].as_array().into_iter().flatten() {
        let state = text(&e["state"], "?");
        let mut why = text(&e["last_error"], "");
        if let Some(secs) = e["retry_in_s"].as_f64() {
            why = format!("back in {secs:.0}s; {why}");
        }
        let cooling: Vec<String> = e["model_cooldowns"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                format!(
                    "{} {:.0}s",
                    text(&c["model"], "?"),
                    c["retry_in_s"].as_f64().unwrap_or(0.0)
                )
            })
            .collect();
        if !cooling.is_empty() {
            // Per-model rate limits: the endpoint serves other models meanwhile.
            why = format!("limited: {}; {why}", cooling.join(", "));
        }
        if why.chars().count() > 60 {
            why = why.chars().take(59).collect::<String>() + "…";
        }
        let ms =
            |v: &serde_json::Value| v.as_f64().map(|x| format!("{x:.0}")).unwrap_or("-".into());
        rows.push([
            text(&e["id"], "?"),
            state,
            e["requests"].as_u64().unwrap_or(0).to_string(),
            e["failures"].as_u64().unwrap_or(0).to_string(),
            e["in_flight"].as_u64().unwrap_or(0).to_string(),
            e["last_status"]
                .as_u64()
                .map(|s| s.to_string())
                .unwrap_or("-".into()),
            ms(&e["latency_p50_ms"]),
            ms(&e["latency_p95_ms"]),
            if why.is_empty() { "-".into() } else { why },
            text(&e["base_url"], ""),
        ]);
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>, out: &mut String| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(visible_len(cell));
            text.push_str(cell);
            if i + 1 < cells.len() {
                text.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header.iter().map(|h| h.to_string()).collect(), &mut out);
    for row in rows {
        let mut cells: Vec<String> = row.to_vec();
        if colour {
            cells[1] = paint(&cells[1]);
        }
        line(cells, &mut out);
    }
    out
}

fn visible_len(text: &str) -> usize {
    let mut n = 0;
    let mut in_escape = false;
    for c in text.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => n += 1,
        }
    }
    n
}

fn paint(state: &str) -> String {
    let code = match state {
        "healthy" => "32",
        "unknown" => "37",
        "cooling_down" => "33",
        "ejected" => "35",
        "auth_failed" => "31",
        "disabled" => "90",
        "over_budget" => "91",
        _ => return state.to_string(),
    };
    format!("\x1b[{code}m{state}\x1b[0m")
}

fn human_duration(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn demo(port: u16) -> ExitCode {
    let start = |name: &str, key: &str| {
        MockUpstream::start(Behaviour {
            name: name.to_string(),
            key: Some(key.to_string()),
            deltas: 8,
            event_interval: std::time::Duration::from_millis(60),
            ..Behaviour::default()
        })
    };
    // An OpenAI-format upstream (think DeepSeek): it reasons first, as DeepSeek's reasoner does.
    let openai = MockUpstream::start(Behaviour {
        name: "demo-openai".to_string(),
        key: Some("demo-key-openai".to_string()),
        deltas: 8,
        event_interval: std::time::Duration::from_millis(60),
        openai: Some(OpenAiAnswer {
            reasoning: Some("The user greets me; a short greeting back will do.".to_string()),
            ..OpenAiAnswer::default()
        }),
        ..Behaviour::default()
    });
    let (primary, backup, openai) = match (
        start("demo-primary", "the-real-primary-key"),
        start("demo-backup", "demo-key-backup"),
        openai,
    ) {
        (Ok(p), Ok(b), Ok(o)) => (p, b, o),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            eprintln!("switchyard demo: cannot start the mock upstreams: {e}");
            return ExitCode::FAILURE;
        }
    };
    let text = format!(
        "proxy:\n  port: {port}\n  auth_mode: off\nhealth:\n  ejection_base: 5s\nendpoints:\n  \
         - id: demo-primary\n    base_url: {}\n    api_key: demo-key-rejected\n    priority: 1\n  \
         - id: demo-backup\n    base_url: {}\n    api_key: demo-key-backup\n    priority: 2\n    \
         budget: {{daily_usd: 1}}\n  \
         - id: demo-openai\n    api: openai\n    base_url: {}/v1\n    api_key: demo-key-openai\n    \
         priority: 0\n    models: [deepseek-chat, deepseek-reasoner]\n",
        primary.url(),
        backup.url(),
        openai.url()
    );
    let config = match config::parse(&text, &|_| None) {
        Ok(c) => c,
        Err(p) => {
            eprintln!("switchyard demo: {p}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let (primary_url, backup_url, openai_url) = (primary.url(), backup.url(), openai.url());
    let result = server::run(config, move |addrs| {
        let base = format!(
            "http://{}",
            addrs.first().map(|a| a.to_string()).unwrap_or_default()
        );
        println!("switchyard demo: a gateway in front of three mock upstreams on loopback; no real keys are used.\n");
        println!("  demo-primary  {primary_url}  priority 1; it rejects the gateway's key, so the first request fails over");
        println!("  demo-backup   {backup_url}  priority 2; healthy");
        println!("  demo-openai   {openai_url}/v1  api: openai, serves deepseek-chat and deepseek-reasoner;");
        println!("                Anthropic requests for those models are translated to Chat Completions and back\n");
        println!("  base URL   {base}");
        println!(
            "  try        curl -s {base}/v1/messages -H 'content-type: application/json' \\\n             \
             -d '{{\"model\":\"claude-3-5-haiku-20241022\",\"max_tokens\":64,\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}]}}'"
        );
        println!("  stream     add \"stream\":true to the JSON above and curl -N");
        println!("  translate  the same with \"model\":\"deepseek-chat\": an Anthropic answer (thinking, then text)");
        println!("             from the OpenAI-format upstream; OpenAI clients of claude-* models get the other way");
        println!("  page       {base}/admin   (live status, tokens and cost; switchyard usage --url {base})");
        println!("  status     {base}/admin/status   or   switchyard status --url {base}");
        println!("  clients    ANTHROPIC_BASE_URL={base} ANTHROPIC_API_KEY=demo claude");
        println!("             OpenAI SDK: base_url=\"{base}/v1\", api_key=\"demo\"\n");
        println!("Ctrl-C stops the demo.");
        let _ = std::io::stdout().flush();
    });
    drop((primary, backup, openai));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "switchyard demo: cannot start the gateway on port {port}: {e} (try --port 0)"
            );
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_upstreams_and_clients_reaches_the_terminal_escaped() {
        let hostile = "\u{1b}]0;PWNED\u{7}\u{1b}[2J\r\nINJECTED";
        let report = serde_json::json!({
            "version": "0.1.0", "uptime_s": 1, "auth_mode": "off", "strategy": "priority", "listen": [],
            "config_error": hostile,
            "endpoints": [
                {"id": "a", "state": "healthy", "requests": 1, "failures": 1, "last_status": 500,
                 "last_error": hostile, "base_url": "https://a.example",
                 "model_cooldowns": [{"model": hostile, "retry_in_s": 3.0}]}
            ]
        });
        for colour in [false, true] {
            let table = render_status_table(&report, colour);
            let raw_escape = table.match_indices('\x1b').any(|(i, _)| {
                !table[i..].starts_with("\x1b[3") && !table[i..].starts_with("\x1b[0m")
            });
            assert!(!raw_escape, "{table:?}");
            assert!(
                !table.contains('\r') && !table.contains('\u{7}'),
                "{table:?}"
            );
            assert!(table.lines().all(|l| !l.starts_with("INJECTED")), "{table}");
        }
    }

    #[test]
    fn the_status_table_lines_up_and_colours_only_when_asked() {
        let report = serde_json::json!({
            "version": "0.1.0", "uptime_s": 30, "auth_mode": "off", "strategy": "priority", "listen": ["127.0.0.1:8045"],
            "config_error": null,
            "endpoints": [
                {"id": "a", "state": "healthy", "requests": 10, "failures": 0, "in_flight": 1, "last_status": 200,
                 "latency_p50_ms": 12.3, "latency_p95_ms": 40.0, "last_error": null, "base_url": "https://a.example"},
                {"id": "bbbbbbbb", "state": "auth_failed", "requests": 1, "failures": 1, "in_flight": 0, "last_status": 401,
                 "latency_p50_ms": null, "latency_p95_ms": null, "last_error": "HTTP 401", "base_url": "https://b.example"},
                {"id": "c", "state": "healthy", "requests": 3, "failures": 1, "in_flight": 0, "last_status": 429,
                 "latency_p50_ms": 5.0, "latency_p95_ms": 5.0, "last_error": "HTTP 429", "base_url": "https://c.example",
                 "model_cooldowns": [{"model": "opus", "until": "2026-11-23T10:00:12Z", "retry_in_s": 12.0}]}
            ]
        });
        let plain = render_status_table(&report, false);
        assert!(!plain.contains('\x1b'));
        let lines: Vec<&str> = plain.lines().collect();
        assert!(lines[1].starts_with("ID"));
        let col = lines[1].find("STATE").unwrap();
        assert_eq!(&lines[2][col..col + 7], "healthy");
        assert_eq!(&lines[3][col..col + 11], "auth_failed");
        assert!(lines[4].contains("limited: opus 12s"), "{}", lines[4]);
        let coloured = render_status_table(&report, true);
        assert!(coloured.contains("\x1b[31mauth_failed\x1b[0m"));
    }
}
