//! [`UsageRecord`]: what one answer used and cost, as the meter ends it and the history keeps it,
//! and who asked for it ([`agent_of`]).

use super::extract::Tokens;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// One answered request, as the request path reports it when the answer has ended.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRecord {
    /// When the answer ended.
    pub at: SystemTime,
    pub endpoint: Arc<str>,
    /// The model the client asked for.
    pub model: Arc<str>,
    /// The model sent upstream (after `model_map`).
    pub upstream_model: Arc<str>,
    /// Who asked: a word of [`agent_of`].
    pub client: Arc<str>,
    /// `None` when the answer carried no usage.
    pub tokens: Option<Tokens>,
    pub status: u16,
    /// Time until the response head arrived.
    pub latency: Duration,
    /// `None` when no price is known (or the tokens are not).
    pub cost_usd: Option<f64>,
    /// What the cache reads saved: what they would have cost as input, less what they cost.
    /// `None` when `cost_usd` is.
    pub cache_saved_usd: Option<f64>,
}

/// The client word of a request that names no agent this list knows.
pub const OTHER_CLIENT: &str = "other";

/// The agent a request's `User-Agent` names, as a word for usage by client: `claude-code`
/// (`claude-cli/…`), `codex` (`codex_cli_rs/…`, `codex_exec/…`), `gemini-cli` (`GeminiCLI/…`,
/// `GeminiCLI-tui/…`), the official SDKs (`anthropic-python`, `anthropic-node`, `openai-python`,
/// `openai-node`, `google-genai`), else `other`. An agent is found before an SDK, as agents
/// append the SDK they are built on. The words are a fixed set, so a client cannot grow the
/// history's keys.
pub fn agent_of(user_agent: Option<&str>) -> &'static str {
    let Some(user_agent) = user_agent else {
        return OTHER_CLIENT;
    };
    // `Product/version` tokens; the SDKs write `Anthropic/Python 0.40.0`.
    let products = || {
        user_agent
            .split_ascii_whitespace()
            .map(|token| token.split_once('/').unwrap_or((token, "")))
    };
    let is = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let starts = |a: &str, prefix: &str| {
        a.get(..prefix.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
    };
    for (product, _) in products() {
        if is(product, "claude-cli") {
            return "claude-code";
        }
        if starts(product, "codex_") {
            return "codex";
        }
        if starts(product, "GeminiCLI") {
            return "gemini-cli";
        }
    }
    for (product, runtime) in products() {
        let node = is(runtime, "JS") || is(runtime, "Node") || is(runtime, "TypeScript");
        match () {
            _ if is(product, "Anthropic") && is(runtime, "Python") => return "anthropic-python",
            _ if is(product, "Anthropic") && node => return "anthropic-node",
            _ if (is(product, "OpenAI") || is(product, "AsyncOpenAI")) && is(runtime, "Python") => {
                return "openai-python"
            }
            _ if is(product, "OpenAI") && node => return "openai-node",
            _ if is(product, "google-genai-sdk") => return "google-genai",
            _ => {}
        }
    }
    OTHER_CLIENT
}

/// Every word [`agent_of`] answers.
const AGENTS: [&str; 9] = [
    "claude-code",
    "codex",
    "gemini-cli",
    "anthropic-python",
    "anthropic-node",
    "openai-python",
    "openai-node",
    "google-genai",
    OTHER_CLIENT,
];

/// [`agent_of`] as a name shared by every request that gives it: made once, not per request.
pub fn shared_agent_of(user_agent: Option<&str>) -> Arc<str> {
    static SHARED: std::sync::OnceLock<[Arc<str>; AGENTS.len()]> = std::sync::OnceLock::new();
    let word = agent_of(user_agent);
    SHARED
        .get_or_init(|| AGENTS.map(Arc::from))
        .iter()
        .find(|shared| ***shared == *word)
        .cloned()
        .unwrap_or_else(|| Arc::from(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_and_sdks_are_told_by_their_user_agents() {
        for (user_agent, agent) in [
            ("claude-cli/2.1.3 (external, cli)", "claude-code"),
            ("codex_cli_rs/0.58.0 (Ubuntu 24.4.0; x86_64) xterm-256color", "codex"),
            ("codex_exec/0.171.0 (Mac OS 26.1.0; arm64) unknown", "codex"),
            ("GeminiCLI/0.1.22 (linux; x64)", "gemini-cli"),
            (
                "GeminiCLI-tui/0.61.0/gemini-3-pro (darwin; arm64) google-genai-sdk/1.30.0 gl-node/v24.1.0",
                "gemini-cli",
            ),
            ("Anthropic/Python 0.75.0", "anthropic-python"),
            ("Anthropic/JS 0.71.0", "anthropic-node"),
            ("OpenAI/Python 2.8.1", "openai-python"),
            ("AsyncOpenAI/Python 2.8.1", "openai-python"),
            ("OpenAI/JS 6.9.0", "openai-node"),
            ("google-genai-sdk/1.52.0 gl-python/3.12.3", "google-genai"),
            ("curl/8.5.0", "other"),
            ("Mozilla/5.0 (X11; Linux x86_64)", "other"),
            ("", "other"),
        ] {
            assert_eq!(agent_of(Some(user_agent)), agent, "{user_agent}");
            assert!(AGENTS.contains(&agent), "{agent} is missing from AGENTS");
            let shared = shared_agent_of(Some(user_agent));
            assert_eq!(&*shared, agent);
            // The same allocation each time.
            assert!(Arc::ptr_eq(&shared, &shared_agent_of(Some(user_agent))));
        }
        assert_eq!(agent_of(None), "other");
    }
}
