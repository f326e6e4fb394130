//! `switchyard init`: which provider keys the environment holds, and the commented starter config
//! with one endpoint per key (keys as `${VAR}` references, never values).

use crate::config;
use std::path::PathBuf;

/// The API an upstream speaks (the endpoint's `api` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Anthropic,
    OpenAi,
    Gemini,
}

impl Api {
    /// The endpoint's `api:` line and its comment; `None` for the default, Anthropic.
    fn line(self) -> Option<(&'static str, &'static str)> {
        match self {
            Api::Anthropic => None,
            Api::OpenAi => Some((
                "openai",
                "speaks OpenAI's API: Anthropic requests are translated",
            )),
            Api::Gemini => Some((
                "gemini",
                "speaks the Gemini API: other clients' requests are translated",
            )),
        }
    }
}

/// A provider `init` knows: the variable holding its key and the endpoint written for it.
#[derive(Debug)]
pub struct Provider {
    /// The endpoint id written to the config.
    pub id: &'static str,
    /// The environment variables that may hold the key, the first set one taken.
    pub env_vars: &'static [&'static str],
    pub base_url: &'static str,
    pub api: Api,
    /// Lower is tried first.
    pub priority: u32,
    /// The client models this endpoint takes (empty: every model).
    models: &'static [&'static str],
    /// Client model glob → the model sent upstream. Patterns are disjoint, so order never matters.
    model_map: &'static [(&'static str, &'static str)],
    /// The comment line above the endpoint.
    about: &'static str,
    /// Commented-out lines written after the endpoint: another endpoint for the same key, offered
    /// for the user to take up (the file keeps one endpoint per key found).
    offer: Option<Offer>,
}

/// An endpoint `init` writes commented out after a provider's own, for the user to take up.
#[derive(Debug)]
pub struct Offer {
    /// The id it would have.
    pub id: &'static str,
    /// Its commented lines, with the comment that says what it is for.
    text: &'static str,
}

/// The providers `init` looks for, in the order they are written (by priority): Anthropic first
/// (Claude Code's own API), then OpenRouter (the same Claude models), DeepSeek, Gemini, and OpenAI,
/// which also takes every model the others do not claim.
pub const PROVIDERS: [Provider; 5] = [
    Provider {
        id: "anthropic",
        env_vars: &["ANTHROPIC_API_KEY"],
        base_url: "https://api.anthropic.com",
        api: Api::Anthropic,
        priority: 1,
        models: &["claude-*"],
        model_map: &[],
        about: "Anthropic: Claude models, for Claude Code and for OpenAI clients that ask for one.",
        offer: None,
    },
    Provider {
        id: "openrouter",
        env_vars: &["OPENROUTER_API_KEY"],
        base_url: "https://openrouter.ai/api/v1",
        api: Api::OpenAi,
        priority: 2,
        models: &["claude-*", "*/*"],
        model_map: &[
            ("claude-*haiku*", "anthropic/claude-haiku-4.5"),
            ("claude-*opus*", "anthropic/claude-opus-4.1"),
            ("claude-*sonnet*", "anthropic/claude-sonnet-4.5"),
        ],
        about: "OpenRouter: Claude models under OpenRouter's names, and any vendor/model id.",
        offer: None,
    },
    Provider {
        id: "deepseek",
        env_vars: &["DEEPSEEK_API_KEY"],
        base_url: "https://api.deepseek.com/v1",
        api: Api::OpenAi,
        priority: 3,
        models: &["claude-*", "deepseek-*"],
        model_map: &[("claude-*", "deepseek-chat")],
        about: "DeepSeek: answers Claude Code's requests with DeepSeek's own model.",
        offer: None,
    },
    Provider {
        id: "gemini",
        // Gemini CLI reads GEMINI_API_KEY; Google's SDKs also read GOOGLE_API_KEY.
        env_vars: &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
        base_url: "https://generativelanguage.googleapis.com",
        api: Api::Gemini,
        priority: 4,
        models: &["gemini-*", "claude-*"],
        model_map: &[
            ("claude-*haiku*", "gemini-3.8-flash"),
            ("claude-*opus*", "gemini-3.1-pro-preview"),
            ("claude-*sonnet*", "gemini-3.1-pro-preview"),
        ],
        about: "Gemini (AI Studio key): Gemini models for Gemini CLI and every other client, and Claude requests under Gemini's names.",
        offer: None,
    },
    Provider {
        id: "openai",
        env_vars: &["OPENAI_API_KEY"],
        base_url: "https://api.openai.com/v1",
        api: Api::OpenAi,
        priority: 5,
        models: &[],
        model_map: &[
            ("claude-*haiku*", "gpt-5-mini"),
            ("claude-*opus*", "gpt-5"),
            ("claude-*sonnet*", "gpt-5"),
        ],
        about: "OpenAI: every model the endpoints above do not take, and Claude requests last.",
        offer: Some(RESPONSES_OFFER),
    },
];

/// Offered to an `OPENAI_API_KEY` user: OpenAI's Responses API for the models that only it serves
/// (OpenAI's Chat Completions, which the `openai` endpoint speaks, refuses them), tried first for
/// those models.
pub const RESPONSES_OFFER: Offer = Offer {
    id: "openai-responses",
    text: r#"  # Models only OpenAI's Responses API serves (the -pro and -codex models, deep
  # research): uncomment to send them there, untranslated. Codex CLI speaks this API too:
  # `switchyard codex` runs it through the gateway.
  # - id: openai-responses
  #   base_url: https://api.openai.com/v1
  #   api_key: ${OPENAI_API_KEY}
  #   api: responses                   # OpenAI's Responses API, at base_url + /responses
  #   priority: 0                      # before the other endpoints, for the models it takes
  #   models: ["gpt-*-pro*", "o1-pro*", "o3-pro*", "*codex*", "*deep-research*"]
"#,
};

/// Whether this build's config accepts the endpoint key `api` (set once translation exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeySupport {
    Accepted,
    /// `api: openai` endpoints are written with that line commented out, and disabled.
    NotYet,
}

/// A provider whose key the environment holds, and the variable that holds it.
#[derive(Debug, Clone, Copy)]
pub struct Found {
    pub provider: &'static Provider,
    pub env_var: &'static str,
}

impl Found {
    /// `provider` with its key taken from its first variable (for rendering every provider).
    pub fn first(provider: &'static Provider) -> Found {
        Found {
            provider,
            env_var: provider.env_vars[0],
        }
    }
}

/// What `init` found and the config it renders.
#[derive(Debug)]
pub struct StarterConfig {
    pub text: String,
    /// The providers whose key was found, in the order written.
    pub found: Vec<Found>,
    /// The ids of the endpoints written commented out, offered to be taken up.
    pub offered: Vec<&'static str>,
    /// Variables that are set but unusable as a key, with the reason.
    pub ignored: Vec<(&'static str, &'static str)>,
    pub api_support: ApiKeySupport,
}

/// Where `init` writes without `--config`: the last place the config lookup tries,
/// `$XDG_CONFIG_HOME/switchyard/config.yaml`, else `~/.config/switchyard/config.yaml`.
pub fn default_config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let non_empty = |name: &str| env(name).filter(|v| !v.is_empty());
    if let Some(xdg) = non_empty("XDG_CONFIG_HOME") {
        return Some(PathBuf::from(xdg).join("switchyard/config.yaml"));
    }
    non_empty("HOME").map(|home| PathBuf::from(home).join(".config/switchyard/config.yaml"))
}

/// Why a set variable cannot serve as a key, or `None` when it can.
fn unusable_key(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        Some("is empty")
    } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("contains spaces or control characters")
    } else {
        None
    }
}

/// Whether this build's config validation accepts `api: openai` on an endpoint.
pub fn api_key_support() -> ApiKeySupport {
    let probe = "endpoints:\n  - base_url: https://a.example/v1\n    api_key: k\n    api: openai\n";
    match config::parse(probe, &|_| None) {
        Ok(_) => ApiKeySupport::Accepted,
        Err(_) => ApiKeySupport::NotYet,
    }
}

/// The starter config for the keys `env` holds, checked the way `switchyard check` would check it
/// in that same environment. An `Err` is a bug in the template, never the user's doing.
pub fn starter_config(
    env: &dyn Fn(&str) -> Option<String>,
    api_support: ApiKeySupport,
) -> Result<StarterConfig, config::Problem> {
    let mut found = Vec::new();
    let mut ignored = Vec::new();
    for provider in &PROVIDERS {
        for &env_var in provider.env_vars {
            match env(env_var).map(|value| unusable_key(&value)) {
                None => continue,
                Some(None) => found.push(Found { provider, env_var }),
                Some(Some(reason)) => {
                    ignored.push((env_var, reason));
                    continue;
                }
            }
            break;
        }
    }
    let text = render_starter_config(&found, api_support);
    config::parse(&text, env)?;
    let offered = found
        .iter()
        .filter_map(|f| offered(f.provider, api_support))
        .map(|offer| offer.id)
        .collect();
    Ok(StarterConfig {
        text,
        found,
        offered,
        ignored,
        api_support,
    })
}

/// What is offered beside `provider`'s endpoint. An offer names an API too: a build that cannot
/// translate could not take it up.
fn offered(provider: &Provider, api_support: ApiKeySupport) -> Option<&Offer> {
    provider
        .offer
        .as_ref()
        .filter(|_| api_support == ApiKeySupport::Accepted)
}

const HEADER: &str = "\
# switchyard config, written by `switchyard init`.
# `switchyard check` validates it and prints what is in force; README.md and config.sample.yaml
# describe every key. Provider keys stay in your environment: `${VAR}` is read when the gateway
# starts and no key is ever written here. Durations are written 500ms, 10s, 5m.

proxy:
  port: 8045                 # Anthropic clients: http://127.0.0.1:8045, OpenAI clients: http://127.0.0.1:8045/v1
  allow_lan_access: false    # true: listen on every interface (then clients must present api_key)
  auth_mode: auto            # off | strict | all_except_health | auto (off while only loopback listens)
  # api_key: ${SWITCHYARD_API_KEY}   # the key clients present once auth is on

balancer:
  strategy: priority         # the healthy endpoint with the lowest priority that takes the model answers
  max_attempts: 3            # endpoints tried for one request before the client sees an error

endpoints:
";

// Begun on the first line: a line continuation (`\` at a line's end) would eat the indent.
const NO_KEY: &str =
    "  # No provider key was found in the environment (ANTHROPIC_API_KEY, OPENAI_API_KEY,
  # DEEPSEEK_API_KEY, OPENROUTER_API_KEY, GEMINI_API_KEY or GOOGLE_API_KEY), so the one
  # endpoint below is switched off.
  # To add yours: export one of those variables and run `switchyard init --force`, which writes
  # one endpoint per key found. Or edit this endpoint: `api_key: ${ANTHROPIC_API_KEY}` and
  # `enabled: true`. No key at all? `switchyard demo` runs the gateway against local mocks.
  - id: anthropic
    base_url: https://api.anthropic.com
    api_key: ${ANTHROPIC_API_KEY:-none}
    priority: 1
    models: [\"claude-*\"]
    enabled: false
";

const MORE: &str = "
  # One more item per relay or spare key, for example:
  # - id: relay
  #   base_url: https://relay.example.com/api   # an Anthropic-style relay, path prefix allowed
  #   api_key: ${RELAY_KEY}
  #   priority: 5
";

/// One line with its comment, the comments of a block lined up.
fn commented(out: &mut String, line: &str, comment: &str) {
    out.push_str(&format!("{line:<38} # {comment}\n"));
}

/// The config text for the providers found (pure; `starter_config` checks it).
pub fn render_starter_config(found: &[Found], api_support: ApiKeySupport) -> String {
    let mut out = String::from(HEADER);
    if found.is_empty() {
        out.push_str(NO_KEY);
        return out;
    }
    for (
        n,
        &Found {
            provider: p,
            env_var,
        },
    ) in found.iter().enumerate()
    {
        if n > 0 {
            out.push('\n');
        }
        out.push_str(&format!("  # {}\n", p.about));
        out.push_str(&format!("  - id: {}\n", p.id));
        out.push_str(&format!("    base_url: {}\n", p.base_url));
        out.push_str(&format!("    api_key: ${{{env_var}}}\n"));
        let line = p.api.line();
        let disabled = line.is_some() && api_support == ApiKeySupport::NotYet;
        match line {
            None => {}
            Some((api, _)) if disabled => commented(
                &mut out,
                &format!("    # api: {api}"),
                "uncomment once `switchyard check` accepts `api` (translation)",
            ),
            Some((api, about)) => commented(&mut out, &format!("    api: {api}"), about),
        }
        commented(
            &mut out,
            &format!("    priority: {}", p.priority),
            "lower is tried first",
        );
        if !p.models.is_empty() {
            let list: Vec<String> = p.models.iter().map(|m| format!("\"{m}\"")).collect();
            commented(
                &mut out,
                &format!("    models: [{}]", list.join(", ")),
                "the client models it takes (absent: every model)",
            );
        }
        if !p.model_map.is_empty() {
            commented(
                &mut out,
                "    model_map:",
                "client model → model sent upstream (examples: edit freely)",
            );
            for (from, to) in p.model_map {
                out.push_str(&format!("      \"{from}\": {to}\n"));
            }
        }
        if disabled {
            commented(
                &mut out,
                "    enabled: false",
                "drop this line when api is uncommented",
            );
        }
        if let Some(offer) = offered(p, api_support) {
            out.push('\n');
            out.push_str(offer.text);
        }
    }
    out.push_str(MORE);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_provider() -> Vec<Found> {
        PROVIDERS.iter().map(Found::first).collect()
    }

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    const ALL: &[(&str, &str)] = &[
        ("ANTHROPIC_API_KEY", "sk-ant-secret-0001"),
        ("OPENAI_API_KEY", "sk-openai-secret-0002"),
        ("DEEPSEEK_API_KEY", "sk-deepseek-secret-0003"),
        ("OPENROUTER_API_KEY", "sk-or-secret-0004"),
        ("GEMINI_API_KEY", "AIza-gemini-secret-0005"),
    ];

    #[test]
    fn each_key_found_becomes_one_endpoint_in_priority_order() {
        for support in [ApiKeySupport::Accepted, ApiKeySupport::NotYet] {
            let env = env_of(ALL);
            let Ok(starter) = starter_config(&env, support) else {
                // The template must parse whenever the build accepts the form it was written in.
                assert_eq!(support, ApiKeySupport::Accepted);
                assert_eq!(api_key_support(), ApiKeySupport::NotYet);
                continue;
            };
            let config = config::parse(&starter.text, &env).unwrap();
            let ids: Vec<&str> = config.endpoints.iter().map(|e| e.id.as_str()).collect();
            assert_eq!(
                ids,
                ["anthropic", "openrouter", "deepseek", "gemini", "openai"]
            );
            let priorities: Vec<u32> = config.endpoints.iter().map(|e| e.priority).collect();
            assert_eq!(priorities, [1, 2, 3, 4, 5]);
            assert_eq!(
                config.endpoints[0].api_key.expose(),
                "sk-ant-secret-0001",
                "the key comes from the environment"
            );
            assert_eq!(config.endpoints[0].models, ["claude-*"]);
            assert!(config.endpoints[4].models.is_empty());
            for (_, value) in ALL {
                assert!(!starter.text.contains(value), "a key value was written");
            }
            let openai_enabled = support == ApiKeySupport::Accepted;
            assert!(config.endpoints[0].enabled);
            assert!(config.endpoints[1..]
                .iter()
                .all(|e| e.enabled == openai_enabled));
        }
    }

    #[test]
    fn only_the_keys_present_are_written() {
        let env = env_of(&[("DEEPSEEK_API_KEY", "sk-d")]);
        let starter = starter_config(&env, api_key_support()).unwrap();
        assert_eq!(starter.found.len(), 1);
        assert_eq!(starter.found[0].provider.id, "deepseek");
        assert!(starter.text.contains("api_key: ${DEEPSEEK_API_KEY}\n"));
        assert!(!starter.text.contains("ANTHROPIC_API_KEY}"));
        assert!(starter.text.contains("\"claude-*\": deepseek-chat"));
    }

    #[test]
    fn model_maps_send_claude_code_models_to_each_providers_own() {
        let env = env_of(ALL);
        let config = config::parse(
            &render_starter_config(&every_provider(), api_key_support()),
            &env,
        )
        .unwrap();
        let by_id = |id: &str| {
            config
                .endpoints
                .iter()
                .find(|e| e.id == id)
                .unwrap()
                .clone()
        };
        let cases = [
            ("openai", "claude-haiku-4-5-20251001", Some("gpt-5-mini")),
            ("openai", "claude-sonnet-4-5-20250929", Some("gpt-5")),
            ("openai", "claude-opus-4-1-20250805", Some("gpt-5")),
            ("openai", "gpt-4o", None),
            (
                "openrouter",
                "claude-3-5-haiku-20241022",
                Some("anthropic/claude-haiku-4.5"),
            ),
            (
                "openrouter",
                "claude-sonnet-4-5",
                Some("anthropic/claude-sonnet-4.5"),
            ),
            ("deepseek", "claude-sonnet-4-5", Some("deepseek-chat")),
            ("gemini", "claude-haiku-4-5", Some("gemini-3.8-flash")),
            ("gemini", "claude-opus-4-5", Some("gemini-3.1-pro-preview")),
            ("gemini", "gemini-2.5-pro", None),
            ("anthropic", "claude-sonnet-4-5", None),
        ];
        for (id, asked, sent) in cases {
            let endpoint = by_id(id);
            assert_eq!(endpoint.upstream_model(asked), sent, "{id} {asked}");
        }
        let serves = |id: &str, model: &str| by_id(id).serves(model);
        assert!(serves("openrouter", "openai/gpt-5") && !serves("openrouter", "gpt-5"));
        assert!(!serves("anthropic", "gpt-5") && serves("openai", "gpt-5"));
        assert!(serves("deepseek", "deepseek-reasoner") && !serves("deepseek", "gpt-5"));
        assert!(serves("gemini", "gemini-3.5-flash-lite") && !serves("gemini", "gpt-5"));
        // A Gemini model goes to the Gemini endpoint before OpenAI's, which takes every model.
        let first_for = |model: &str| {
            let first = config.endpoints.iter().filter(|e| e.serves(model));
            first.min_by_key(|e| e.priority).map(|e| e.id.clone())
        };
        assert_eq!(first_for("gemini-3.8-flash").as_deref(), Some("gemini"));
        assert_eq!(first_for("gpt-5").as_deref(), Some("openai"));
        assert_eq!(
            config
                .endpoints
                .iter()
                .find(|e| e.id == "gemini")
                .unwrap()
                .api,
            crate::wire::Api::Gemini
        );
    }

    /// `text` with the commented lines of the offered endpoint `id` uncommented.
    fn take_up_offer(text: &str, id: &str) -> String {
        let first = format!("  # - id: {id}");
        let mut inside = false;
        let mut out = String::new();
        for line in text.lines() {
            inside = line == first || (inside && line.starts_with("  #   "));
            if inside {
                out.push_str("  ");
                out.push_str(&line[4..]);
            } else {
                out.push_str(line);
            }
            out.push('\n');
        }
        out
    }

    #[test]
    fn an_openai_key_is_offered_a_responses_endpoint_for_the_models_only_that_api_serves() {
        let env = env_of(ALL);
        let starter = starter_config(&env, ApiKeySupport::Accepted).unwrap();
        assert_eq!(starter.offered, [RESPONSES_OFFER.id]);
        // Offered, not written: one endpoint per key found.
        let as_written = config::parse(&starter.text, &env).unwrap();
        assert!(as_written
            .endpoints
            .iter()
            .all(|e| e.id != RESPONSES_OFFER.id));
        let taken_up = take_up_offer(&starter.text, RESPONSES_OFFER.id);
        let config = config::parse(&taken_up, &env).unwrap();
        assert!(config::warnings(&config).is_empty());
        let offer = config
            .endpoints
            .iter()
            .find(|e| e.id == RESPONSES_OFFER.id)
            .expect("the offered endpoint, once uncommented");
        assert_eq!(offer.api, crate::wire::Api::Responses);
        assert_eq!(offer.base_url, "https://api.openai.com/v1");
        assert_eq!(offer.api_key.expose(), "sk-openai-secret-0002");
        assert!(offer.enabled);
        for model in [
            "gpt-5-pro",
            "gpt-5.1-codex-max",
            "o3-pro-2025-06-10",
            "o3-deep-research",
        ] {
            assert!(offer.serves(model), "{model}");
            let first = config
                .endpoints
                .iter()
                .filter(|e| e.serves(model))
                .min_by_key(|e| e.priority)
                .unwrap();
            assert_eq!(first.id, RESPONSES_OFFER.id, "{model} goes there first");
        }
        for model in ["gpt-5", "claude-sonnet-4-5", "deepseek-chat"] {
            assert!(!offer.serves(model), "{model}");
        }
        // Without an OpenAI key, or where the build cannot translate, nothing is offered.
        let others = env_of(&[("ANTHROPIC_API_KEY", "sk-a"), ("DEEPSEEK_API_KEY", "sk-d")]);
        let starter = starter_config(&others, ApiKeySupport::Accepted).unwrap();
        assert!(starter.offered.is_empty());
        assert!(!starter.text.contains(RESPONSES_OFFER.id));
        let text = render_starter_config(&every_provider(), ApiKeySupport::NotYet);
        assert!(!text.contains(RESPONSES_OFFER.id));
    }

    #[test]
    fn with_no_key_the_config_still_checks_and_says_what_to_add() {
        let env = env_of(&[]);
        let starter = starter_config(&env, api_key_support()).unwrap();
        assert!(starter.found.is_empty());
        let config = config::parse(&starter.text, &env).unwrap();
        assert_eq!(config.endpoints.len(), 1);
        assert!(!config.endpoints[0].enabled);
        assert!(starter.text.contains("switchyard init --force"));
        assert!(
            starter
                .text
                .contains("endpoints:\n  # No provider key was found"),
            "indented as the endpoint below it"
        );
        assert!(starter.text.contains("switchyard demo"));
    }

    #[test]
    fn a_gemini_key_is_read_from_gemini_api_key_else_google_api_key() {
        let key_line = |pairs: &'static [(&'static str, &'static str)]| {
            let starter = starter_config(&env_of(pairs), ApiKeySupport::Accepted).unwrap();
            let ids: Vec<&str> = starter.found.iter().map(|f| f.provider.id).collect();
            assert_eq!(ids, ["gemini"], "one endpoint per provider");
            let line = starter
                .text
                .lines()
                .find(|l| l.starts_with("    api_key: ${"));
            (line.unwrap().trim().to_string(), starter.ignored)
        };
        let (line, _) = key_line(&[("GOOGLE_API_KEY", "AIza-g")]);
        assert_eq!(line, "api_key: ${GOOGLE_API_KEY}");
        let (line, _) = key_line(&[("GOOGLE_API_KEY", "AIza-g"), ("GEMINI_API_KEY", "AIza-m")]);
        assert_eq!(line, "api_key: ${GEMINI_API_KEY}");
        let (line, ignored) = key_line(&[("GEMINI_API_KEY", ""), ("GOOGLE_API_KEY", "AIza-g")]);
        assert_eq!(line, "api_key: ${GOOGLE_API_KEY}");
        assert_eq!(ignored, [("GEMINI_API_KEY", "is empty")]);
        let starter = starter_config(
            &env_of(&[("GEMINI_API_KEY", "AIza-m")]),
            ApiKeySupport::Accepted,
        );
        let text = starter.unwrap().text;
        assert!(text.contains("\n    api: gemini "), "{text}");
        assert!(
            text.contains("\"claude-*sonnet*\": gemini-3.1-pro-preview"),
            "{text}"
        );
    }

    #[test]
    fn a_key_with_a_stray_newline_or_empty_value_is_left_out_with_a_reason() {
        let env = env_of(&[
            ("ANTHROPIC_API_KEY", "sk-ant\n"),
            ("OPENAI_API_KEY", ""),
            ("DEEPSEEK_API_KEY", "sk-d"),
        ]);
        let starter = starter_config(&env, api_key_support()).unwrap();
        assert_eq!(starter.found.len(), 1);
        assert_eq!(
            starter.ignored,
            [
                ("ANTHROPIC_API_KEY", "contains spaces or control characters"),
                ("OPENAI_API_KEY", "is empty")
            ]
        );
    }

    #[test]
    fn the_default_path_is_the_last_place_the_lookup_tries() {
        let env = env_of(&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")]);
        assert_eq!(
            default_config_path(&env),
            Some(PathBuf::from("/x/switchyard/config.yaml"))
        );
        let env = env_of(&[("XDG_CONFIG_HOME", ""), ("HOME", "/h")]);
        assert_eq!(
            default_config_path(&env),
            Some(PathBuf::from("/h/.config/switchyard/config.yaml"))
        );
        assert_eq!(default_config_path(&env_of(&[])), None);
    }
}
