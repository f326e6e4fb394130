//! The getting-started commands `init`, `env`, `claude`, `codex` and `gemini`: the I/O (files, the
//! environment, processes) around the decisions in [`crate::onboard`].

use super::CommandError;
use crate::config::{self, Config, ConfigError};
use crate::files;
use crate::instance;
use crate::onboard::env::{
    client_settings, client_vars, detect_shell, quote_sh, render_env, variables_kept_from_clients,
    ClientSettings, Shell, PLACEHOLDER_KEY,
};
use crate::onboard::gemini_home::{self, GeminiHome};
use crate::onboard::init::{self, ApiKeySupport};
use crate::onboard::launch::{self, LaunchError, OnPort, ServedGateway};
use crate::onboard::Agent;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

fn real_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// `--config FILE` as the next command needs it: empty when the lookup finds `path` anyway.
fn config_flag(path: &Path) -> String {
    match config::resolve_config_path(None) {
        Ok(found) if same_file(&found, path) => String::new(),
        _ => format!(" --config {}", quote_sh(&path.display().to_string())),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// `switchyard init`: writes the starter config, never over an existing file without `force`.
pub fn init(path: Option<PathBuf>, force: bool) -> Result<(), CommandError> {
    let explicit = path
        .as_ref()
        .map(|p| format!(" --config {}", quote_sh(&p.display().to_string())))
        .unwrap_or_default();
    let Some(path) = path.or_else(|| init::default_config_path(&real_env)) else {
        return Err(CommandError::Failed(
            "neither XDG_CONFIG_HOME nor HOME is set; pass --config FILE".to_string(),
        ));
    };
    if path.exists() && !force {
        return Err(CommandError::Failed(format!(
            "{} already exists; it was left as it is. `switchyard init{explicit} --force` \
             replaces it (the old file is kept as {}).",
            path.display(),
            backup_path(&path).display()
        )));
    }
    let starter = init::starter_config(&real_env, init::api_key_support()).map_err(|problem| {
        CommandError::Failed(format!(
            "the starter config does not pass its own check ({problem}); please report this"
        ))
    })?;
    for (var, reason) in &starter.ignored {
        eprintln!("switchyard: {var} {reason}; left out");
    }
    let backup = write_config(&path, &starter.text)
        .map_err(|e| CommandError::Failed(format!("cannot write {}: {e}", path.display())))?;
    let flag = config_flag(&path);
    if starter.found.is_empty() {
        println!(
            "Wrote {} with no usable endpoint: none of ANTHROPIC_API_KEY, OPENAI_API_KEY, \
             DEEPSEEK_API_KEY, OPENROUTER_API_KEY, GEMINI_API_KEY, GOOGLE_API_KEY is set.",
            path.display()
        );
        println!("Its comments say what to add. Next:");
        println!("  export ANTHROPIC_API_KEY=...   # or one of the others");
        println!("  switchyard init --force{flag}");
        println!("No key? `switchyard demo` tries the gateway against local mock upstreams.");
    } else {
        let names: Vec<String> = starter
            .found
            .iter()
            .map(|f| format!("{} (${{{}}})", f.provider.id, f.env_var))
            .collect();
        println!(
            "Wrote {} with {} endpoint{}: {}.",
            path.display(),
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            names.join(", ")
        );
        if starter.api_support == ApiKeySupport::NotYet
            && starter
                .found
                .iter()
                .any(|f| f.provider.api != init::Api::Anthropic)
        {
            println!("This build cannot translate yet: the endpoints of other APIs are written disabled, with their `# api:` line ready to uncomment.");
        }
        for id in &starter.offered {
            println!("The file also offers the endpoint `{id}`, commented out; its comment says when to uncomment it.");
        }
        println!("Keys stay in the environment: the file names the variables, so export them where the gateway runs.");
        println!("Next:");
        println!("  switchyard claude{flag}                # Claude Code through the gateway");
        println!("  switchyard codex{flag}                 # or Codex CLI");
        println!("  switchyard gemini{flag}                # or Gemini CLI");
        println!(
            "  switchyard serve{flag}                 # or run the gateway, and in another shell:"
        );
        println!(
            "  eval \"$(switchyard env{flag})\"         # point Anthropic, OpenAI and Gemini clients at it"
        );
    }
    if let Some(backup) = backup {
        println!("The previous file is kept as {}.", backup.display());
    }
    Ok(())
}

fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(OsString::from).unwrap_or_default();
    name.push(".bak");
    path.with_file_name(name)
}

/// Writes `text` to `path` (0600 when new, else with the mode of the file it replaces), creating
/// the missing parent folders (0700) and keeping an existing file as `<path>.bak` (0600, written
/// in place of whatever was there, never through a link); gives that backup's path.
fn write_config(path: &Path, text: &str) -> std::io::Result<Option<PathBuf>> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        files::create_private_dir_all(parent)?;
    }
    let backup = match std::fs::read(path) {
        Ok(old) => {
            let backup = backup_path(path);
            files::write_new_private(&backup, &old)?;
            Some(backup)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    files::replace(path, text.as_bytes(), files::Permissions::KeepExisting)?;
    Ok(backup)
}

fn read_config_text(path: Option<PathBuf>) -> Result<(PathBuf, String), ConfigError> {
    let path = config::resolve_config_path(path.as_deref())?;
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    Ok((path, text))
}

/// `switchyard env`: the client lines for the configured gateway in the shell's syntax.
/// With no config file anywhere (only `switchyard demo` runs, say) the defaults apply: port 8045
/// and no client auth.
pub fn env(path: Option<PathBuf>, shell: Option<Shell>) -> Result<(), CommandError> {
    let explicit = path.is_some();
    let settings = match read_config_text(path) {
        Ok((file, text)) => client_settings(&text, &real_env)
            .map_err(|problem| CommandError::ConfigText { file, problem })?,
        Err(ConfigError::NotFound { .. }) if !explicit => {
            eprintln!(
                "switchyard: no config file found; these lines are for the defaults (port {}, no client auth). \
                 `switchyard init` writes a config.",
                config::defaults::PORT
            );
            ClientSettings {
                port: config::defaults::PORT,
                client_key: None,
            }
        }
        Err(e) => return Err(e.into()),
    };
    let shell = shell.unwrap_or_else(|| detect_shell(std::env::var("SHELL").ok().as_deref()));
    print!("{}", render_env(shell, &client_vars(&settings)));
    Ok(())
}

/// Endpoints whose key is the placeholder `switchyard env` hands to clients: the variable was
/// overwritten by `eval "$(switchyard env)"` in this shell, and the upstream will refuse it.
pub fn placeholder_keyed(config: &Config) -> Vec<&str> {
    config
        .endpoints
        .iter()
        .filter(|e| e.api_key.expose() == PLACEHOLDER_KEY)
        .map(|e| e.id.as_str())
        .collect()
}

/// Warns about [`placeholder_keyed`] endpoints.
pub fn warn_placeholder_keys(config: &Config) {
    let ids = placeholder_keyed(config);
    if !ids.is_empty() {
        log::warn!(
            "endpoint(s) {} get the key `{PLACEHOLDER_KEY}`, the placeholder `switchyard env` gives clients: \
             this shell's provider variable was overwritten by `eval \"$(switchyard env)\"`; \
             run the gateway from a shell that has the real key",
            ids.join(", ")
        );
    }
}

/// `switchyard claude`, `codex` and `gemini`: the agent through the configured gateway, serving
/// it meanwhile if needed. Gives the agent's own exit status, to be passed on.
pub fn launch(
    agent: Agent,
    path: Option<PathBuf>,
    args: Vec<OsString>,
) -> Result<u8, CommandError> {
    let (path, text) = read_config_text(path)?;
    let mut settings =
        client_settings(&text, &real_env).map_err(|problem| CommandError::ConfigText {
            file: path.clone(),
            problem,
        })?;
    let Some(program) = launch::find_on_path(agent.program(), std::env::var_os("PATH").as_deref())
    else {
        return Err(LaunchError::NotInstalled(agent).into());
    };
    let hidden = variables_kept_from_clients(&text);
    let home = if agent.needs_private_home() {
        Some(gemini_home()?)
    } else {
        None
    };
    let served = find_or_serve(agent, &path, &mut settings)?;
    let invocation = agent.invocation(&settings, &args, home.as_ref().map(GeminiHome::path));
    let result = launch::run_agent(&program, agent, &invocation, &hidden);
    if let Some(gateway) = served {
        gateway.stop();
    }
    drop(home);
    match result {
        Ok(status) => Ok(launch::exit_code_of(status)),
        Err(e) => Err(CommandError::Failed(format!(
            "{e} ({} installs with `{}`)",
            agent.name(),
            agent.install_hint()
        ))),
    }
}

/// The private home Gemini CLI runs in (see [`crate::onboard::gemini_home`]), made in the
/// temporary folder from the user's own Gemini folder, and a warning when in the folder where
/// Gemini CLI runs a workspace settings file would override the auth type it is given.
fn gemini_home() -> Result<GeminiHome, CommandError> {
    let user_dir = gemini_home::user_gemini_dir(
        std::env::var_os("GEMINI_CLI_HOME").map(PathBuf::from),
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from),
    );
    let (home, problem) =
        GeminiHome::create(&std::env::temp_dir(), user_dir.as_deref()).map_err(|e| {
            CommandError::Failed(format!(
                "cannot make a private home for Gemini CLI in {}: {e}",
                std::env::temp_dir().display()
            ))
        })?;
    if let Some(problem) = problem {
        log::warn!("{problem}");
    }
    // Workspace settings outrank the user's: run from a folder whose .gemini/settings.json (the
    // user's own, when that folder is the home) selects another auth type, Gemini CLI stops
    // with "Invalid auth method selected".
    let workspace = Path::new(gemini_home::GEMINI_DIR).join(gemini_home::SETTINGS_FILE);
    if let Ok(text) = std::fs::read_to_string(&workspace) {
        match gemini_home::selected_auth_type(&text) {
            Some(auth) if auth != gemini_home::AUTH_TYPE => log::warn!(
                "{} in this folder selects the auth type `{auth}`, which outranks the `{}`                  switchyard gives Gemini CLI; run it from another folder if it stops with                  \"Invalid auth method selected\"",
                workspace.display(),
                gemini_home::AUTH_TYPE
            ),
            _ => {}
        }
    }
    Ok(home)
}

/// The gateway `agent` is to use: the one on `settings.port` once it proves it serves the config
/// at `path` and takes this shell's client key (`None`: nothing to stop afterwards), else one
/// started here, whose port `settings` then holds.
fn find_or_serve(
    agent: Agent,
    path: &Path,
    settings: &mut ClientSettings,
) -> Result<Option<ServedGateway>, CommandError> {
    let name = agent.name();
    match launch::probe_gateway(settings.port, &instance::instance_file(path)) {
        OnPort::Switchyard => {
            if let Err(why) = launch::check_client_key(settings) {
                return Err(LaunchError::KeyRefused {
                    port: settings.port,
                    why,
                    config: path.display().to_string(),
                }
                .into());
            }
            eprintln!(
                "switchyard: {name} uses the gateway already running at {}",
                settings.base_url()
            );
            Ok(None)
        }
        OnPort::SomethingElse(why) => Err(LaunchError::PortTaken {
            port: settings.port,
            why,
            config: path.display().to_string(),
        }
        .into()),
        OnPort::Nothing => {
            let config = config::load_file(path)?;
            warn_placeholder_keys(&config);
            if !config.endpoints.iter().any(|e| e.enabled) {
                return Err(CommandError::Failed(format!(
                    "every endpoint in {} is disabled, so {name} would get nothing but errors. \
                     Export a provider key (e.g. ANTHROPIC_API_KEY) and run `switchyard init --force`, \
                     or try `switchyard demo`.",
                    path.display()
                )));
            }
            let gateway = ServedGateway::start(path, agent, config.proxy.shutdown_grace)?;
            settings.port = gateway.port;
            eprintln!(
                "switchyard: serving {} at {} while {name} runs (log: {})",
                path.display(),
                settings.base_url(),
                gateway.log.display()
            );
            Ok(Some(gateway))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_keyed_with_the_client_placeholder_is_named() {
        let text = "endpoints:\n  - id: real\n    base_url: https://a.example\n    api_key: ${A}\n  - id: clobbered\n    base_url: https://b.example\n    api_key: ${B}\n";
        let env = |name: &str| match name {
            "A" => Some("sk-real".to_string()),
            "B" => Some(PLACEHOLDER_KEY.to_string()),
            _ => None,
        };
        let config = config::parse(text, &env).unwrap();
        assert_eq!(placeholder_keyed(&config), ["clobbered"]);
    }

    #[test]
    fn a_config_the_lookup_would_not_find_is_named_in_the_next_command() {
        let flag = config_flag(Path::new("/nonexistent/dir/my config.yaml"));
        assert_eq!(flag, " --config '/nonexistent/dir/my config.yaml'");
    }
}
