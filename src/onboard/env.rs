//! `switchyard env`: the variables that point Anthropic and OpenAI clients at the gateway, and
//! their lines in each shell's syntax.

use crate::config::{self, AuthMode, Problem};

/// The key clients are given when the gateway asks for none.
pub const PLACEHOLDER_KEY: &str = "switchyard-local";

/// A shell whose syntax `env` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    /// sh, bash, zsh and the like: `export K=V`.
    Sh,
    /// `set -gx K V`.
    Fish,
    /// `$env:K = "V"`.
    Powershell,
}

/// The shell named by `$SHELL` (sh when it names none `env` knows; PowerShell on Windows without it).
pub fn detect_shell(shell_var: Option<&str>) -> Shell {
    let name = shell_var
        .and_then(|s| s.rsplit(['/', '\\']).next())
        .unwrap_or("")
        .to_ascii_lowercase();
    let name = name.trim_end_matches(".exe");
    match name {
        "fish" => Shell::Fish,
        "pwsh" | "powershell" => Shell::Powershell,
        "" if cfg!(windows) => Shell::Powershell,
        _ => Shell::Sh,
    }
}

/// What a client needs to know about the gateway: its port and the key it expects, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    pub port: u16,
    /// The client key when client auth is on.
    pub client_key: Option<String>,
}

impl ClientSettings {
    fn from_config(config: &config::Config) -> Self {
        let on = config.proxy.effective_auth_mode() != AuthMode::Off;
        ClientSettings {
            port: config.proxy.port,
            client_key: on.then(|| config.proxy.api_key.expose().to_string()),
        }
    }

    /// The gateway's loopback base URL, as Anthropic clients take it.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// The client settings of a config text. Only the `proxy` section has to be valid: a shell that
/// lacks the provider keys (`${ANTHROPIC_API_KEY}` unset) can still point its clients at a gateway
/// that another shell runs.
pub fn client_settings(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ClientSettings, Problem> {
    let problem = match config::parse(text, env) {
        Ok(config) => return Ok(ClientSettings::from_config(&config)),
        Err(problem) if problem.field.starts_with("proxy") => return Err(problem),
        Err(problem) => problem,
    };
    let proxy_only = serde_yaml::from_str::<serde_yaml::Value>(text)
        .ok()
        .and_then(|value| {
            let mut doc = serde_yaml::Mapping::new();
            if let Some(proxy) = value.get("proxy") {
                doc.insert("proxy".into(), proxy.clone());
            }
            let mut endpoint = serde_yaml::Mapping::new();
            endpoint.insert("base_url".into(), "http://127.0.0.1:9".into());
            endpoint.insert("api_key".into(), "unused".into());
            doc.insert(
                "endpoints".into(),
                serde_yaml::Value::Sequence(vec![endpoint.into()]),
            );
            serde_yaml::to_string(&doc).ok()
        });
    match proxy_only.map(|text| config::parse(&text, env)) {
        Some(Ok(config)) => Ok(ClientSettings::from_config(&config)),
        _ => Err(problem),
    }
}

/// The variables, in the order they are printed.
pub fn client_vars(settings: &ClientSettings) -> Vec<(&'static str, String)> {
    let base = settings.base_url();
    let key = settings
        .client_key
        .clone()
        .unwrap_or_else(|| PLACEHOLDER_KEY.to_string());
    vec![
        ("ANTHROPIC_BASE_URL", base.clone()),
        ("ANTHROPIC_API_KEY", key.clone()),
        ("OPENAI_BASE_URL", format!("{base}/v1")),
        ("OPENAI_API_KEY", key.clone()),
        // Gemini CLI and Google's SDKs append `/v1beta/…` themselves.
        ("GOOGLE_GEMINI_BASE_URL", base),
        ("GEMINI_API_KEY", key),
    ]
}

/// The variables `switchyard claude` gives Claude Code: those of [`client_vars`], except that the
/// key travels as `ANTHROPIC_AUTH_TOKEN` (sent as `Authorization: Bearer`, which the gateway
/// accepts): interactive Claude Code asks before using an `ANTHROPIC_API_KEY` it finds in its
/// environment, and offers "No" as the default.
pub fn claude_vars(settings: &ClientSettings) -> Vec<(&'static str, String)> {
    client_vars(settings)
        .into_iter()
        .filter(|(name, _)| !matches!(*name, "GOOGLE_GEMINI_BASE_URL" | "GEMINI_API_KEY"))
        .map(|(name, value)| match name {
            "ANTHROPIC_API_KEY" => ("ANTHROPIC_AUTH_TOKEN", value),
            _ => (name, value),
        })
        .collect()
}

/// Provider key variables that agents started by `switchyard claude` or `codex` never get,
/// whether the config names them or not.
pub const PROVIDER_VARIABLES: [&str; 6] = [
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "DEEPSEEK_API_KEY",
    "OPENROUTER_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
];

/// The variables a client started for this gateway must not get: every `${VAR}` the config text
/// expands (keys, URLs, ids; not `usage.database`, a path such as `${HOME}/…`) and the
/// [`PROVIDER_VARIABLES`]. Its own client key it gets under the names of [`client_vars`].
pub fn variables_kept_from_clients(text: &str) -> Vec<String> {
    let mut names: std::collections::BTreeSet<String> =
        PROVIDER_VARIABLES.iter().map(|v| v.to_string()).collect();
    if let Ok(mut doc) = serde_yaml::from_str::<serde_yaml::Value>(text) {
        if let Some(usage) = doc.get_mut("usage").and_then(|u| u.as_mapping_mut()) {
            usage.remove("database");
        }
        referenced_variables(&doc, &mut names);
    }
    names.into_iter().collect()
}

/// Adds the names of the `${NAME}` / `${NAME:-fallback}` references in every string of `value`.
fn referenced_variables(value: &serde_yaml::Value, names: &mut std::collections::BTreeSet<String>) {
    use serde_yaml::Value;
    match value {
        Value::String(text) => {
            let mut rest = text.as_str();
            while let Some(start) = rest.find("${") {
                rest = &rest[start + 2..];
                let end = rest.find(['}', ':']).unwrap_or(rest.len());
                let name = &rest[..end];
                if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    names.insert(name.to_string());
                }
            }
        }
        Value::Sequence(items) => items.iter().for_each(|v| referenced_variables(v, names)),
        Value::Mapping(map) => {
            for (key, value) in map {
                referenced_variables(key, names);
                referenced_variables(value, names);
            }
        }
        Value::Tagged(tagged) => referenced_variables(&tagged.value, names),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The lines that set `vars` in `shell`, one per variable, ready for `eval`.
pub fn render_env(shell: Shell, vars: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (name, value) in vars {
        let line = match shell {
            Shell::Sh => format!("export {name}={}", quote_sh(value)),
            Shell::Fish => format!("set -gx {name} {}", quote_fish(value)),
            Shell::Powershell => format!("$env:{name} = {}", quote_powershell(value)),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn is_plain(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c))
}

/// A POSIX shell word: bare when it needs no quoting, else single-quoted (`'` as `'\''`).
pub(crate) fn quote_sh(value: &str) -> String {
    if is_plain(value) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// A fish word: bare when plain, else single-quoted (fish escapes `\` and `'` inside).
fn quote_fish(value: &str) -> String {
    if is_plain(value) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\\', r"\\").replace('\'', r"\'"))
    }
}

/// A PowerShell double-quoted string: the backtick escapes `` ` ``, `"` and `$`.
fn quote_powershell(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '`' | '"' | '$') {
            out.push('`');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn shells_are_told_apart_by_the_name_in_shell() {
        assert_eq!(detect_shell(Some("/usr/bin/fish")), Shell::Fish);
        assert_eq!(detect_shell(Some("/bin/bash")), Shell::Sh);
        assert_eq!(detect_shell(Some("/bin/zsh")), Shell::Sh);
        assert_eq!(
            detect_shell(Some("/opt/microsoft/powershell/7/pwsh")),
            Shell::Powershell
        );
        assert_eq!(
            detect_shell(Some(r"C:\Program Files\PowerShell\7\pwsh.exe")),
            Shell::Powershell
        );
        assert_eq!(detect_shell(Some("/usr/bin/nu")), Shell::Sh);
    }

    #[test]
    fn without_auth_clients_get_the_placeholder_and_both_base_urls() {
        let settings = client_settings(
            "proxy:\n  port: 9100\nendpoints:\n  - base_url: https://a.example\n    api_key: k\n",
            &no_env,
        )
        .unwrap();
        assert_eq!(
            settings,
            ClientSettings {
                port: 9100,
                client_key: None
            }
        );
        let text = render_env(Shell::Sh, &client_vars(&settings));
        assert_eq!(
            text,
            "export ANTHROPIC_BASE_URL=http://127.0.0.1:9100\n\
             export ANTHROPIC_API_KEY=switchyard-local\n\
             export OPENAI_BASE_URL=http://127.0.0.1:9100/v1\n\
             export OPENAI_API_KEY=switchyard-local\n\
             export GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:9100\n\
             export GEMINI_API_KEY=switchyard-local\n"
        );
    }

    #[test]
    fn claude_gets_the_key_as_a_token_and_no_api_key() {
        let settings = ClientSettings {
            port: 8045,
            client_key: Some("ck".into()),
        };
        let vars = claude_vars(&settings);
        let names: Vec<&str> = vars.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "ANTHROPIC_BASE_URL",
                "ANTHROPIC_AUTH_TOKEN",
                "OPENAI_BASE_URL",
                "OPENAI_API_KEY"
            ]
        );
        assert_eq!(vars[1].1, "ck");
    }

    #[test]
    fn with_auth_on_clients_get_the_client_key_from_its_variable() {
        let text = "proxy:\n  auth_mode: strict\n  api_key: ${CLIENT}\nendpoints:\n  - base_url: https://a.example\n    api_key: k\n";
        let env = |name: &str| (name == "CLIENT").then(|| "client-key-1".to_string());
        let settings = client_settings(text, &env).unwrap();
        assert_eq!(settings.port, 8045);
        assert_eq!(settings.client_key.as_deref(), Some("client-key-1"));
    }

    #[test]
    fn a_shell_without_the_provider_keys_still_gets_its_settings() {
        let text = "proxy:\n  port: 9200\nendpoints:\n  - base_url: https://a.example\n    api_key: ${ANTHROPIC_API_KEY}\n";
        assert_eq!(client_settings(text, &no_env).unwrap().port, 9200);
        let broken =
            "proxy:\n  port: 9200\n  auth_mode: strict\n  api_key: ${CLIENT}\nendpoints: []\n";
        let problem = client_settings(broken, &no_env).unwrap_err();
        assert_eq!(problem.field, "proxy.api_key");
        assert_eq!(problem.line, Some(4));
    }

    #[test]
    fn clients_get_no_variable_the_config_expands_nor_a_known_provider_key() {
        let text = "proxy:\n  api_key: ${CLIENT_KEY}\n  admin_key: \"${ADMIN:-}\"\n\
usage:\n  database: ${HOME}/usage.sqlite\n\
endpoints:\n  - id: relay-${REGION:-eu}\n    base_url: https://relay.example/${RELAY_PATH}\n    api_key: ${RELAY_KEY}\n\
  # - api_key: ${ONLY_IN_A_COMMENT}\n";
        let hidden = variables_kept_from_clients(text);
        for name in [
            "CLIENT_KEY",
            "ADMIN",
            "REGION",
            "RELAY_PATH",
            "RELAY_KEY",
            "ANTHROPIC_API_KEY",
            "DEEPSEEK_API_KEY",
            "OPENROUTER_API_KEY",
            "GEMINI_API_KEY",
            "GOOGLE_API_KEY",
            "OPENAI_API_KEY",
        ] {
            assert!(hidden.iter().any(|h| h == name), "{name} in {hidden:?}");
        }
        assert!(
            !hidden.iter().any(|h| h == "HOME"),
            "a path's variable stays"
        );
        assert!(!hidden.iter().any(|h| h == "ONLY_IN_A_COMMENT"));
        assert_eq!(
            variables_kept_from_clients("{").len(),
            PROVIDER_VARIABLES.len()
        );
    }

    #[test]
    fn awkward_values_survive_each_shells_quoting() {
        let vars = [("K", "a b'c\"d$e`f\\g".to_string())];
        assert_eq!(
            render_env(Shell::Sh, &vars),
            "export K='a b'\\''c\"d$e`f\\g'\n"
        );
        assert_eq!(
            render_env(Shell::Fish, &vars),
            "set -gx K 'a b\\'c\"d$e`f\\\\g'\n"
        );
        assert_eq!(
            render_env(Shell::Powershell, &vars),
            "$env:K = \"a b'c`\"d`$e``f\\g\"\n"
        );
    }
}
