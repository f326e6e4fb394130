//! The command line: `serve`, `check`, `status`, `usage`, `demo`, and the getting-started
//! commands `init`, `env`, `claude`, `codex`, `gemini` (see [`crate::onboard`]) and `completions`. Every
//! command gives a [`CommandError`] when it stops; [`run`] prints it and turns it into the exit
//! status.

pub mod onboard;
pub mod status;
pub mod usage;

use crate::config::{self, Config, ConfigError, Problem};
use crate::mock::{Behaviour, MockUpstream, OpenAiAnswer, PromptCache};
use crate::onboard::launch::LaunchError;
use crate::onboard::{Agent, Shell};
use crate::server;
use clap::{CommandFactory, Parser, Subcommand};
use std::ffi::OsString;
use std::io::Write;
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
        /// One line per `endpoint`, `model`, `client` (the agent that asked) or `day`.
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
    Claude(AgentArgs),
    /// Run Codex CLI (`codex` on PATH) through the gateway, serving the config meanwhile if none runs.
    Codex(AgentArgs),
    /// Run Gemini CLI (`gemini` on PATH) through the gateway, serving the config meanwhile if none runs.
    Gemini(AgentArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions { shell: clap_complete::Shell },
}

/// The options of `switchyard claude`, `codex` and `gemini`.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Arguments for the agent, after `--`.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<OsString>,
}

/// Why a command stopped. [`run`] prints it after `switchyard: ` and exits with its
/// [`exit_code`](CommandError::exit_code).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The config cannot be found, read or used.
    #[error("config error: {error}{}", init_hint(error))]
    Config {
        #[from]
        error: ConfigError,
    },
    /// A config file that the command reads as text has a problem.
    #[error("config error: {}: {problem}", file.display())]
    ConfigText { file: PathBuf, problem: Problem },
    /// A coding agent cannot be run, or the gateway it would use cannot be.
    #[error(transparent)]
    Launch(#[from] LaunchError),
    /// Anything else that stopped the command: what happened and, where there is one, the way out.
    #[error("{0}")]
    Failed(String),
}

/// The way out when there is no config file yet.
fn init_hint(e: &ConfigError) -> &'static str {
    match e {
        ConfigError::NotFound { .. } => "; `switchyard init` writes one",
        ConfigError::Read { .. } | ConfigError::Invalid { .. } => "",
    }
}

impl CommandError {
    /// The process exit status: 2 for a config error, 127 when the agent `switchyard claude`,
    /// `codex` or `gemini` runs is not installed (as a shell says of a command it cannot find), 1 for anything
    /// else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Config { .. } | CommandError::ConfigText { .. } => EXIT_CONFIG,
            CommandError::Launch(LaunchError::NotInstalled(_)) => 127,
            CommandError::Launch(_) | CommandError::Failed(_) => 1,
        }
    }
}

/// Runs a parsed command line and gives the process exit status.
pub fn run(cli: Cli) -> ExitCode {
    // The demo speaks as `switchyard demo`, every other command as `switchyard`.
    let who = match cli.command {
        Command::Demo { .. } => "switchyard demo",
        _ => "switchyard",
    };
    match run_command(cli.command) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{who}: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Runs one command; `Ok` carries the exit status (0, or the agent's own).
fn run_command(command: Command) -> Result<u8, CommandError> {
    match command {
        Command::Serve { config } => serve(config),
        Command::Check { config } => check(config),
        Command::Status { url, key, json } => status::run(&url, key.as_deref(), json),
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
        Command::Init { config, force } => onboard::init(config, force),
        Command::Env { config, shell } => onboard::env(config, shell),
        Command::Claude(a) => return onboard::launch(Agent::Claude, a.config, a.args),
        Command::Codex(a) => return onboard::launch(Agent::Codex, a.config, a.args),
        Command::Gemini(a) => return onboard::launch(Agent::Gemini, a.config, a.args),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "switchyard",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    }
    .map(|()| 0)
}

fn load(path: Option<PathBuf>) -> Result<Config, ConfigError> {
    let path = config::resolve_config_path(path.as_deref())?;
    config::load_file(&path)
}

/// GETs one of the gateway's own routes, with the admin (or client) key when given; a non-2xx
/// answer is an error that quotes it. Shared by `switchyard status` and `switchyard usage`.
async fn fetch(url: &str, key: Option<&str>) -> Result<bytes::Bytes, String> {
    let client = awc::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .finish();
    let mut request = client.get(url);
    if let Some(key) = key {
        request = request
            .insert_header(("authorization", format!("Bearer {key}")))
            .insert_header(("x-api-key", key));
    }
    let mut response = request
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    let body = response
        .body()
        .limit(64 << 20)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!(
            "{url} answered {}: {}",
            response.status(),
            crate::text::escape_controls(&String::from_utf8_lossy(&body))
        ));
    }
    Ok(body)
}

/// `switchyard serve`: the gateway in the foreground until SIGINT/SIGTERM.
fn serve(path: Option<PathBuf>) -> Result<(), CommandError> {
    let config = load(path)?;
    onboard::warn_placeholder_keys(&config);
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
        // Set by `switchyard claude` and `codex` for the gateway they start: stop when it
        // closes our stdin.
        if std::env::var_os(crate::onboard::launch::STOP_WHEN_STDIN_CLOSES).is_some() {
            crate::onboard::launch::stop_when_stdin_closes();
        }
    });
    result.map_err(|e| CommandError::Failed(e.to_string()))?;
    log::info!("stopped");
    Ok(())
}

/// `switchyard check`: the config in effect, keys redacted, and its warnings.
fn check(path: Option<PathBuf>) -> Result<(), CommandError> {
    let config = load(path)?;
    if let Some(source) = &config.source {
        println!("# {}: valid", source.display());
    }
    print!("{}", config.render_redacted());
    for warning in crate::config::warnings(&config) {
        eprintln!("warning: {warning}");
    }
    Ok(())
}

/// `switchyard demo`: three mock upstreams and a gateway in front of them.
fn demo(port: u16) -> Result<(), CommandError> {
    let start = |name: &str, key: &str| {
        MockUpstream::start(Behaviour {
            name: name.to_string(),
            key: Some(key.to_string()),
            deltas: 8,
            event_interval: std::time::Duration::from_millis(60),
            // As a coding agent's turns do: most of the prompt is read from the cache.
            cache: Some(PromptCache {
                read: 12_000,
                write_5m: 600,
                write_1h: 200,
            }),
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
        cache: Some(PromptCache {
            read: 1024,
            ..PromptCache::default()
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
            return Err(CommandError::Failed(format!(
                "cannot start the mock upstreams: {e}"
            )));
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
    let config = config::parse(&text, &|_| None).map_err(|problem| ConfigError::Invalid {
        file: String::new(),
        problem,
    })?;
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
    result.map_err(|e| {
        CommandError::Failed(format!(
            "cannot start the gateway on port {port}: {e} (try --port 0)"
        ))
    })
}
