//! The coding agents `switchyard` runs through the gateway, and what each is given to find it:
//! Claude Code reads the gateway's address and key from its environment; Codex CLI ignores
//! `OPENAI_BASE_URL` and takes a custom provider on its command line instead (`-c`, so the user's
//! `~/.codex/config.toml` is never edited); Gemini CLI reads its address and key from its
//! environment but its auth type only from a settings file, so it gets a home of its own (see
//! [`super::gemini_home`]). What they share (finding or serving the gateway, running the agent,
//! passing its exit status on) is in [`super::launch`].

use super::env::{claude_vars, ClientSettings, PLACEHOLDER_KEY};
use std::ffi::OsString;
use std::path::Path;

/// A coding agent that `switchyard <program>` runs through the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agent {
    /// Claude Code (`claude`), an Anthropic Messages client.
    Claude,
    /// Codex CLI (`codex`), an OpenAI Responses client.
    Codex,
    /// Gemini CLI (`gemini`), a Gemini API client.
    Gemini,
}

/// The id of the provider `switchyard codex` gives Codex (`-c model_provider=switchyard`).
pub const CODEX_PROVIDER: &str = "switchyard";

/// The variable that holds the gateway's client key for Codex: the provider's `env_key`.
pub const CODEX_KEY_VARIABLE: &str = "SWITCHYARD_API_KEY";

/// How an agent is started: the arguments before the user's own, and the variables it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The agent's own flags that point it at the gateway, then the user's arguments.
    pub args: Vec<OsString>,
    /// Set in the agent's environment, after the provider keys were removed from it.
    pub env: Vec<(&'static str, OsString)>,
}

impl Agent {
    /// The program looked for on `PATH`.
    pub const fn program(self) -> &'static str {
        match self {
            Agent::Claude => "claude",
            Agent::Codex => "codex",
            Agent::Gemini => "gemini",
        }
    }

    /// Its name, as people know it.
    pub const fn name(self) -> &'static str {
        match self {
            Agent::Claude => "Claude Code",
            Agent::Codex => "Codex CLI",
            Agent::Gemini => "Gemini CLI",
        }
    }

    /// The command that installs it, for the error that says it is missing.
    pub const fn install_hint(self) -> &'static str {
        match self {
            Agent::Claude => "npm install -g @anthropic-ai/claude-code",
            Agent::Codex => "npm install -g @openai/codex",
            Agent::Gemini => "npm install -g @google/gemini-cli",
        }
    }

    /// Whether the agent is run with a private home of its own (a [`super::gemini_home::GeminiHome`]).
    pub const fn needs_private_home(self) -> bool {
        matches!(self, Agent::Gemini)
    }

    /// How to start the agent so that it uses the gateway `settings` describes, with the user's
    /// `args` after anything of its own. A client key travels only in the environment, never on
    /// the command line (where other users could read it). `home` is the private home made for
    /// an agent that [needs one](Agent::needs_private_home).
    pub fn invocation(
        self,
        settings: &ClientSettings,
        args: &[OsString],
        home: Option<&Path>,
    ) -> Invocation {
        match self {
            Agent::Claude => Invocation {
                args: args.to_vec(),
                env: claude_vars(settings)
                    .into_iter()
                    .map(|(name, value)| (name, value.into()))
                    .collect(),
            },
            Agent::Codex => Invocation {
                args: codex_provider_flags(settings)
                    .into_iter()
                    .map(OsString::from)
                    .chain(args.iter().cloned())
                    .collect(),
                env: settings
                    .client_key
                    .iter()
                    .map(|key| (CODEX_KEY_VARIABLE, key.into()))
                    .collect(),
            },
            Agent::Gemini => Invocation {
                args: args.to_vec(),
                env: gemini_vars(settings, home),
            },
        }
    }
}

/// What Gemini CLI gets: the gateway as its base URL (the SDK appends `/v1beta/models/…`), the
/// client key as `GEMINI_API_KEY` (a placeholder when client auth is off: Gemini CLI stops, exit
/// 41, on an empty key), a trusted workspace (else `-p` stops, exit 55), and `GEMINI_CLI_HOME`.
pub fn gemini_vars(
    settings: &ClientSettings,
    home: Option<&Path>,
) -> Vec<(&'static str, OsString)> {
    let key = settings.client_key.as_deref().unwrap_or(PLACEHOLDER_KEY);
    let mut vars = vec![
        ("GOOGLE_GEMINI_BASE_URL", settings.base_url().into()),
        ("GEMINI_API_KEY", key.into()),
        ("GEMINI_CLI_TRUST_WORKSPACE", "true".into()),
    ];
    vars.extend(home.map(|home| ("GEMINI_CLI_HOME", home.as_os_str().to_owned())));
    vars
}

/// Codex's flags for the provider that is the gateway: its Responses API at `<base>/v1`. With
/// client auth on, the provider names [`CODEX_KEY_VARIABLE`] as its `env_key` (Codex then sends
/// it as `Authorization: Bearer`); without, it names none, since Codex fails at once when the
/// variable it names is unset, and sends no key when there is no `env_key`.
pub fn codex_provider_flags(settings: &ClientSettings) -> [String; 4] {
    let key = match settings.client_key {
        Some(_) => format!(", env_key=\"{CODEX_KEY_VARIABLE}\""),
        None => String::new(),
    };
    [
        "-c".to_string(),
        format!("model_provider={CODEX_PROVIDER}"),
        "-c".to_string(),
        format!(
            "model_providers.{CODEX_PROVIDER}={{name=\"{CODEX_PROVIDER}\", base_url=\"{}/v1\"{key}, \
             wire_api=\"responses\"}}",
            settings.base_url()
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(client_key: Option<&str>) -> ClientSettings {
        ClientSettings {
            port: 9100,
            client_key: client_key.map(str::to_string),
        }
    }

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn codex_gets_the_gateway_as_a_responses_provider_then_the_users_arguments() {
        let invocation = Agent::Codex.invocation(
            &settings(Some("client-key-1")),
            &args(&["-m", "gpt-5.5", "exec", "hi"]),
            None,
        );
        assert_eq!(
            invocation.args,
            args(&[
                "-c",
                "model_provider=switchyard",
                "-c",
                "model_providers.switchyard={name=\"switchyard\", base_url=\"http://127.0.0.1:9100/v1\", \
                 env_key=\"SWITCHYARD_API_KEY\", wire_api=\"responses\"}",
                "-m",
                "gpt-5.5",
                "exec",
                "hi",
            ])
        );
        assert_eq!(
            invocation.env,
            [("SWITCHYARD_API_KEY", OsString::from("client-key-1"))]
        );
        assert!(
            !invocation
                .args
                .iter()
                .any(|a| a.to_string_lossy().contains("client-key-1")),
            "the key is never on the command line"
        );
    }

    #[test]
    fn codex_without_client_auth_names_no_key_variable() {
        let invocation = Agent::Codex.invocation(&settings(None), &[], None);
        assert_eq!(invocation.args.len(), 4);
        assert!(!invocation.args[3].to_string_lossy().contains("env_key"));
        assert!(invocation.env.is_empty());
    }

    #[test]
    fn claude_gets_its_variables_and_the_users_arguments_alone() {
        let s = settings(Some("ck"));
        let invocation = Agent::Claude.invocation(&s, &args(&["-p", "say hi"]), None);
        assert_eq!(invocation.args, args(&["-p", "say hi"]));
        let expected: Vec<(&str, OsString)> = claude_vars(&s)
            .into_iter()
            .map(|(name, value)| (name, value.into()))
            .collect();
        assert_eq!(invocation.env, expected);
    }

    #[test]
    fn gemini_gets_the_gateway_its_key_a_trusted_workspace_and_its_home() {
        let home = Path::new("/tmp/switchyard-gemini-0123");
        let invocation = Agent::Gemini.invocation(
            &settings(Some("ck")),
            &args(&["-p", "say hi", "--yolo"]),
            Some(home),
        );
        assert_eq!(invocation.args, args(&["-p", "say hi", "--yolo"]));
        let env: Vec<(&str, OsString)> = [
            ("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9100"),
            ("GEMINI_API_KEY", "ck"),
            ("GEMINI_CLI_TRUST_WORKSPACE", "true"),
            ("GEMINI_CLI_HOME", "/tmp/switchyard-gemini-0123"),
        ]
        .into_iter()
        .map(|(name, value)| (name, value.into()))
        .collect();
        assert_eq!(invocation.env, env);
    }

    #[test]
    fn gemini_without_client_auth_gets_the_placeholder_key_never_an_empty_one() {
        let invocation = Agent::Gemini.invocation(&settings(None), &[], None);
        assert!(invocation
            .env
            .contains(&("GEMINI_API_KEY", OsString::from(PLACEHOLDER_KEY))));
        assert!(!invocation
            .env
            .iter()
            .any(|(name, _)| *name == "GEMINI_CLI_HOME"));
    }
}
