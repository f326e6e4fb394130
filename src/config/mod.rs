//! Configuration: the YAML file (`raw.rs`) is read, `${VAR}`s are expanded, and every value is
//! checked and turned into the typed settings below. All defaults live in [`defaults`].
//! Every error names the field and, where it can be found, the line.

mod locate;
pub mod raw;
pub mod units;

use crate::Secret;
use raw::{RawConfig, RawEndpoint, RawSize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use units::{format_duration, format_size, parse_duration, parse_size};

/// The defaults of every setting, in one place (`switchyard check` prints the effective values).
pub mod defaults {
    use std::time::Duration;
    pub const PORT: u16 = 8045;
    pub const MAX_ATTEMPTS: u32 = 3;
    pub const MAX_REQUEST_BODY: u64 = 32 << 20;
    pub const CONNECT: Duration = Duration::from_secs(10);
    pub const FIRST_BYTE: Duration = Duration::from_secs(300);
    pub const IDLE: Duration = Duration::from_secs(120);
    pub const REQUEST_HEADER: Duration = Duration::from_secs(5);
    pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
    pub const FAILURE_THRESHOLD: u32 = 3;
    pub const EJECTION_BASE: Duration = Duration::from_secs(30);
    pub const EJECTION_MAX: Duration = Duration::from_secs(300);
    pub const COOLDOWN_DEFAULT: Duration = Duration::from_secs(5);
    pub const COOLDOWN_MAX: Duration = Duration::from_secs(300);
    pub const QUOTA_COOLDOWN: Duration = Duration::from_secs(3600);
    pub const RETRY_BUDGET_RATIO: f64 = 0.2;
    pub const RETRY_BUDGET_MIN_PER_SECOND: u32 = 3;
    pub const RETRY_BUDGET_WINDOW: Duration = Duration::from_secs(10);
    pub const SESSION_TTL: Duration = Duration::from_secs(3600);
    pub const SESSION_MAX_ENTRIES: usize = 10_000;
    pub const WEIGHT: f64 = 1.0;
    pub const PRIORITY: u32 = 1;
}

/// The validated configuration the gateway runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub proxy: ProxySettings,
    pub balancer: BalancerSettings,
    pub timeouts: Timeouts,
    pub health: HealthPolicy,
    pub sessions: SessionSettings,
    pub endpoints: Vec<EndpointConfig>,
    /// The file this came from, when it came from one.
    pub source: Option<PathBuf>,
}

/// Who must present the client key (`proxy.auth_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    Off,
    Strict,
    AllExceptHealth,
    Auto,
}

impl AuthMode {
    /// The word used in the config file and in status answers.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Off => "off",
            AuthMode::Strict => "strict",
            AuthMode::AllExceptHealth => "all_except_health",
            AuthMode::Auto => "auto",
        }
    }
}

/// `proxy:` — the listening socket and client-facing rules.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    pub port: u16,
    pub allow_lan_access: bool,
    /// Explicit override that allows LAN access with client auth off.
    pub allow_lan_without_auth: bool,
    pub auth_mode: AuthMode,
    pub api_key: Secret,
    pub admin_key: Secret,
    pub max_request_body: u64,
    pub cors_origins: Vec<String>,
    pub shutdown_grace: Duration,
    pub access_log: bool,
    /// Where auth-failed and operator-disabled states are kept across restarts.
    pub state_file: Option<PathBuf>,
}

impl ProxySettings {
    /// The auth mode in force: `auto` is `off` on loopback and `all_except_health` on a LAN.
    pub fn effective_auth_mode(&self) -> AuthMode {
        match (self.auth_mode, self.allow_lan_access) {
            (AuthMode::Auto, false) => AuthMode::Off,
            (AuthMode::Auto, true) => AuthMode::AllExceptHealth,
            (mode, _) => mode,
        }
    }
}

/// How the Balancer orders the endpoints it asks (`balancer.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Priority,
    Weighted,
    RoundRobin,
    LeastInflight,
    Latency,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Priority => "priority",
            Strategy::Weighted => "weighted",
            Strategy::RoundRobin => "round_robin",
            Strategy::LeastInflight => "least_inflight",
            Strategy::Latency => "latency",
        }
    }
}

/// `balancer:` — routing and retries.
#[derive(Debug, Clone)]
pub struct BalancerSettings {
    pub strategy: Strategy,
    pub max_attempts: u32,
    pub retry_budget: RetryBudgetSettings,
}

/// `balancer.retry_budget:` — retries allowed as a share of recent requests.
#[derive(Debug, Clone, Copy)]
pub struct RetryBudgetSettings {
    pub ratio: f64,
    pub min_per_second: u32,
    pub window: Duration,
}

/// `timeouts:` — every wait the gateway puts a bound on.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub first_byte: Duration,
    pub idle: Duration,
    pub request_header: Duration,
}

/// `health:` — how long each kind of trouble keeps an endpoint out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthPolicy {
    pub failure_threshold: u32,
    pub ejection_base: Duration,
    pub ejection_max: Duration,
    pub cooldown_default: Duration,
    pub cooldown_max: Duration,
    pub quota_cooldown: Duration,
    pub auth_recheck: Option<Duration>,
    /// Probe healthy endpoints (those with a `probe`) this often when they see no traffic.
    pub probe_interval: Option<Duration>,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            failure_threshold: defaults::FAILURE_THRESHOLD,
            ejection_base: defaults::EJECTION_BASE,
            ejection_max: defaults::EJECTION_MAX,
            cooldown_default: defaults::COOLDOWN_DEFAULT,
            cooldown_max: defaults::COOLDOWN_MAX,
            quota_cooldown: defaults::QUOTA_COOLDOWN,
            auth_recheck: None,
            probe_interval: None,
        }
    }
}

/// `sessions:` — sticky routing of one conversation to one endpoint.
#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    pub enabled: bool,
    pub ttl: Duration,
    pub max_entries: usize,
}

/// Which credential headers an upstream receives (`endpoints[].auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamAuth {
    Both,
    XApiKey,
    Bearer,
}

impl UpstreamAuth {
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamAuth::Both => "both",
            UpstreamAuth::XApiKey => "x-api-key",
            UpstreamAuth::Bearer => "bearer",
        }
    }
}

/// How an endpoint is tried again after a timed state ends (`endpoints[].probe`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    /// Half-open: the next real request is the probe.
    Off,
    /// `GET /v1/models`.
    Models,
    /// A minimal `POST /v1/messages` with `max_tokens: 1`.
    Messages,
}

impl ProbeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Off => "off",
            ProbeKind::Models => "models",
            ProbeKind::Messages => "messages",
        }
    }
}

/// One upstream endpoint, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointConfig {
    pub id: String,
    /// As written, without a trailing slash.
    pub base_url: String,
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]`.
    pub authority: String,
    /// The path prefix of `base_url`, without a trailing slash (`""` when none).
    pub path_prefix: String,
    pub api_key: Secret,
    pub auth: UpstreamAuth,
    pub models: Vec<String>,
    pub model_map: Vec<(String, String)>,
    pub weight: f64,
    pub priority: u32,
    pub enabled: bool,
    pub probe: ProbeKind,
}

/// A config problem: the field it is about, the line where known, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if self.field.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// Everything that can go wrong while finding, reading or checking a config file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read the config file: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no config file found (tried {tried}); pass --config FILE or set SWITCHYARD_CONFIG")]
    NotFound { tried: String },
    #[error("{file}{problem}")]
    Invalid { file: String, problem: Problem },
}

impl ConfigError {
    fn invalid(source: Option<&Path>, problem: Problem) -> Self {
        let file = source
            .map(|p| format!("{}: ", p.display()))
            .unwrap_or_default();
        ConfigError::Invalid { file, problem }
    }
}

/// Finds the config file: `--config`, then `$SWITCHYARD_CONFIG`, `./switchyard.yaml`,
/// `$XDG_CONFIG_HOME/switchyard/config.yaml` (or `~/.config/switchyard/config.yaml`).
pub fn resolve_config_path(explicit: Option<&Path>) -> Result<PathBuf, ConfigError> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    let mut tried = Vec::new();
    if let Some(path) = std::env::var_os("SWITCHYARD_CONFIG").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let mut candidates = vec![PathBuf::from("switchyard.yaml")];
    if let Some(xdg) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        candidates.push(PathBuf::from(xdg).join("switchyard/config.yaml"));
    } else if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        candidates.push(PathBuf::from(home).join(".config/switchyard/config.yaml"));
    }
    for candidate in candidates {
        if candidate.is_file() {
            return Ok(candidate);
        }
        tried.push(candidate.display().to_string());
    }
    Err(ConfigError::NotFound {
        tried: tried.join(", "),
    })
}

/// Reads and validates the config file at `path`, expanding `${VAR}` from the process environment.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut config = parse(&text, &|name| std::env::var(name).ok())
        .map_err(|problem| ConfigError::invalid(Some(path), problem))?;
    config.source = Some(path.to_path_buf());
    if config.proxy.state_file.is_none() {
        config.proxy.state_file = Some(default_state_file(path));
    }
    Ok(config)
}

/// The state file kept beside a config file: `config.yaml` → `config.state.json`.
pub fn default_state_file(config_path: &Path) -> PathBuf {
    let stem = config_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "switchyard".to_string());
    config_path.with_file_name(format!("{stem}.state.json"))
}

/// Parses and validates config text; `env` looks up `${VAR}` values.
pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, Problem> {
    let raw: RawConfig = if text.trim().is_empty() {
        RawConfig::default()
    } else {
        serde_yaml::from_str(text).map_err(|e| problem_from_yaml(&e))?
    };
    Validator { text, env }.config(raw)
}

fn problem_from_yaml(error: &serde_yaml::Error) -> Problem {
    let mut message = error.to_string();
    // serde_yaml appends " at line L column C"; the line is reported separately.
    if let Some(at) = message.rfind(" at line ") {
        message.truncate(at);
    }
    // serde_yaml prefixes the path as "a.b[0]: ..."; keep it as the field.
    let (field, message) = match message.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') && !path.is_empty() && !path.starts_with('`') => {
            (path.to_string(), rest.to_string())
        }
        _ => (String::new(), message),
    };
    Problem {
        field,
        line: error.location().map(|l| l.line()),
        message,
    }
}

struct Validator<'a> {
    text: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Validator<'_> {
    fn problem(&self, field: &str, message: impl Into<String>) -> Problem {
        Problem {
            field: field.to_string(),
            line: locate::line_of(self.text, field),
            message: message.into(),
        }
    }

    fn expand(&self, field: &str, value: &str) -> Result<String, Problem> {
        expand_env(value, self.env).map_err(|m| self.problem(field, m))
    }

    fn duration(
        &self,
        field: &str,
        value: Option<&String>,
        default: Duration,
    ) -> Result<Duration, Problem> {
        match value {
            None => Ok(default),
            Some(text) => parse_duration(text).map_err(|m| self.problem(field, m)),
        }
    }

    fn positive_duration(
        &self,
        field: &str,
        value: Option<&String>,
        default: Duration,
    ) -> Result<Duration, Problem> {
        let d = self.duration(field, value, default)?;
        if d.is_zero() {
            return Err(self.problem(field, "must be longer than 0"));
        }
        Ok(d)
    }

    /// A duration that may be `off` (absent means off too).
    fn optional_duration(
        &self,
        field: &str,
        value: Option<&String>,
    ) -> Result<Option<Duration>, Problem> {
        match value {
            None => Ok(None),
            Some(text) if text.trim() == "off" => Ok(None),
            Some(text) => self
                .positive_duration(field, Some(text), Duration::ZERO)
                .map(Some),
        }
    }

    fn config(&self, raw: RawConfig) -> Result<Config, Problem> {
        let proxy = self.proxy(raw.proxy.unwrap_or_default())?;
        let balancer = self.balancer(raw.balancer.unwrap_or_default())?;
        let t = raw.timeouts.unwrap_or_default();
        let timeouts = Timeouts {
            connect: self.positive_duration(
                "timeouts.connect",
                t.connect.as_ref(),
                defaults::CONNECT,
            )?,
            first_byte: self.positive_duration(
                "timeouts.first_byte",
                t.first_byte.as_ref(),
                defaults::FIRST_BYTE,
            )?,
            idle: self.positive_duration("timeouts.idle", t.idle.as_ref(), defaults::IDLE)?,
            request_header: self.positive_duration(
                "timeouts.request_header",
                t.request_header.as_ref(),
                defaults::REQUEST_HEADER,
            )?,
        };
        let h = raw.health.unwrap_or_default();
        let health = HealthPolicy {
            failure_threshold: match h.failure_threshold {
                Some(0) => {
                    return Err(self.problem("health.failure_threshold", "must be at least 1"))
                }
                Some(n) => n,
                None => defaults::FAILURE_THRESHOLD,
            },
            ejection_base: self.positive_duration(
                "health.ejection_base",
                h.ejection_base.as_ref(),
                defaults::EJECTION_BASE,
            )?,
            ejection_max: self.positive_duration(
                "health.ejection_max",
                h.ejection_max.as_ref(),
                defaults::EJECTION_MAX,
            )?,
            cooldown_default: self.positive_duration(
                "health.cooldown_default",
                h.cooldown_default.as_ref(),
                defaults::COOLDOWN_DEFAULT,
            )?,
            cooldown_max: self.positive_duration(
                "health.cooldown_max",
                h.cooldown_max.as_ref(),
                defaults::COOLDOWN_MAX,
            )?,
            quota_cooldown: self.positive_duration(
                "health.quota_cooldown",
                h.quota_cooldown.as_ref(),
                defaults::QUOTA_COOLDOWN,
            )?,
            auth_recheck: self.optional_duration("health.auth_recheck", h.auth_recheck.as_ref())?,
            probe_interval: self
                .optional_duration("health.probe_interval", h.probe_interval.as_ref())?,
        };
        let s = raw.sessions.unwrap_or_default();
        let sessions = SessionSettings {
            enabled: s.enabled.unwrap_or(true),
            ttl: self.positive_duration("sessions.ttl", s.ttl.as_ref(), defaults::SESSION_TTL)?,
            max_entries: s.max_entries.unwrap_or(defaults::SESSION_MAX_ENTRIES),
        };

        let raw_endpoints = raw.endpoints.unwrap_or_default();
        if raw_endpoints.is_empty() {
            return Err(self.problem("endpoints", "at least one endpoint is required"));
        }
        let mut endpoints = Vec::with_capacity(raw_endpoints.len());
        let mut ids = HashSet::new();
        for (index, raw) in raw_endpoints.into_iter().enumerate() {
            let endpoint = self.endpoint(index, raw)?;
            if !ids.insert(endpoint.id.clone()) {
                return Err(self.problem(
                    &format!("endpoints[{index}].id"),
                    format!("duplicate endpoint id `{}`", endpoint.id),
                ));
            }
            endpoints.push(endpoint);
        }
        Ok(Config {
            proxy,
            balancer,
            timeouts,
            health,
            sessions,
            endpoints,
            source: None,
        })
    }

    fn proxy(&self, p: raw::RawProxy) -> Result<ProxySettings, Problem> {
        let auth_mode = match p.auth_mode.as_deref().map(str::trim) {
            None | Some("auto") => AuthMode::Auto,
            Some("off") => AuthMode::Off,
            Some("strict") => AuthMode::Strict,
            Some("all_except_health") => AuthMode::AllExceptHealth,
            Some(other) => {
                return Err(self.problem(
                    "proxy.auth_mode",
                    format!("unknown mode `{other}` (use off, strict, all_except_health or auto)"),
                ))
            }
        };
        let api_key =
            Secret::new(self.expand("proxy.api_key", p.api_key.as_deref().unwrap_or(""))?);
        let admin_key =
            Secret::new(self.expand("proxy.admin_key", p.admin_key.as_deref().unwrap_or(""))?);
        let max_request_body = match &p.max_request_body {
            None => defaults::MAX_REQUEST_BODY,
            Some(RawSize::Bytes(n)) => *n,
            Some(RawSize::Text(text)) => {
                parse_size(text).map_err(|m| self.problem("proxy.max_request_body", m))?
            }
        };
        if max_request_body == 0 {
            return Err(self.problem("proxy.max_request_body", "must be larger than 0"));
        }
        let settings = ProxySettings {
            port: p.port.unwrap_or(defaults::PORT),
            allow_lan_access: p.allow_lan_access.unwrap_or(false),
            allow_lan_without_auth: p.allow_lan_without_auth.unwrap_or(false),
            auth_mode,
            api_key,
            admin_key,
            max_request_body,
            cors_origins: p.cors_origins.unwrap_or_default(),
            shutdown_grace: self.duration(
                "proxy.shutdown_grace",
                p.shutdown_grace.as_ref(),
                defaults::SHUTDOWN_GRACE,
            )?,
            access_log: p.access_log.unwrap_or(true),
            state_file: p
                .state_file
                .filter(|s| !s.trim().is_empty())
                .map(PathBuf::from),
        };
        let effective = settings.effective_auth_mode();
        if effective != AuthMode::Off && settings.api_key.is_empty() {
            return Err(self.problem(
                "proxy.api_key",
                format!(
                    "client auth is on (auth_mode {}) but api_key is empty: set a key, or set auth_mode: off",
                    effective.as_str()
                ),
            ));
        }
        if settings.allow_lan_access
            && effective == AuthMode::Off
            && !settings.allow_lan_without_auth
        {
            return Err(self.problem(
                "proxy.allow_lan_access",
                "LAN access with client auth off would let anyone on the network spend the upstream keys: \
                 set auth_mode and api_key, or set allow_lan_without_auth: true to accept that",
            ));
        }
        Ok(settings)
    }

    fn balancer(&self, b: raw::RawBalancer) -> Result<BalancerSettings, Problem> {
        let strategy = match b.strategy.as_deref().map(str::trim) {
            None | Some("priority") => Strategy::Priority,
            Some("weighted") => Strategy::Weighted,
            Some("round_robin") => Strategy::RoundRobin,
            Some("least_inflight") => Strategy::LeastInflight,
            Some("latency") => Strategy::Latency,
            Some(other) => {
                return Err(self.problem(
                    "balancer.strategy",
                    format!(
                        "unknown strategy `{other}` (use priority, weighted, round_robin, least_inflight or latency)"
                    ),
                ))
            }
        };
        let max_attempts = b.max_attempts.unwrap_or(defaults::MAX_ATTEMPTS);
        if max_attempts == 0 {
            return Err(self.problem("balancer.max_attempts", "must be at least 1"));
        }
        let rb = b.retry_budget.unwrap_or_default();
        let ratio = rb.ratio.unwrap_or(defaults::RETRY_BUDGET_RATIO);
        if !(0.0..=10.0).contains(&ratio) || ratio.is_nan() {
            return Err(self.problem(
                "balancer.retry_budget.ratio",
                "must be a number from 0 to 10 (0.2 = retries may add 20 % to recent requests)",
            ));
        }
        Ok(BalancerSettings {
            strategy,
            max_attempts,
            retry_budget: RetryBudgetSettings {
                ratio,
                min_per_second: rb
                    .min_per_second
                    .unwrap_or(defaults::RETRY_BUDGET_MIN_PER_SECOND),
                window: self.positive_duration(
                    "balancer.retry_budget.window",
                    rb.window.as_ref(),
                    defaults::RETRY_BUDGET_WINDOW,
                )?,
            },
        })
    }

    fn endpoint(&self, index: usize, raw: RawEndpoint) -> Result<EndpointConfig, Problem> {
        let field = |name: &str| format!("endpoints[{index}].{name}");
        let base_url = match raw.base_url.as_deref().map(str::trim) {
            None | Some("") => return Err(self.problem(&field("base_url"), "missing")),
            Some(url) => self.expand(&field("base_url"), url)?,
        };
        let (scheme, authority, path_prefix) =
            split_base_url(&base_url).map_err(|m| self.problem(&field("base_url"), m))?;
        let api_key = match raw.api_key.as_deref() {
            None => return Err(self.problem(&field("api_key"), "missing")),
            Some(key) => self.expand(&field("api_key"), key.trim())?,
        };
        if api_key.is_empty() {
            return Err(self.problem(&field("api_key"), "is empty"));
        }
        if api_key.chars().any(|c| c.is_control() || c == ' ') {
            return Err(self.problem(
                &field("api_key"),
                "contains spaces or control characters (a stray newline from the environment?)",
            ));
        }
        let base_url = base_url.trim_end_matches('/').to_string();
        let id = match raw.id.as_deref().map(str::trim) {
            Some("") => return Err(self.problem(&field("id"), "is empty")),
            Some(id) => {
                let id = self.expand(&field("id"), id)?;
                if !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                {
                    return Err(self.problem(
                        &field("id"),
                        format!("`{id}` may only use letters, digits, `-`, `_` and `.`"),
                    ));
                }
                id
            }
            None => default_endpoint_id(&base_url, &api_key),
        };
        let auth = match raw.auth.as_deref().map(str::trim) {
            None | Some("both") => UpstreamAuth::Both,
            Some("x-api-key") => UpstreamAuth::XApiKey,
            Some("bearer") => UpstreamAuth::Bearer,
            Some(other) => {
                return Err(self.problem(
                    &field("auth"),
                    format!("unknown value `{other}` (use both, x-api-key or bearer)"),
                ))
            }
        };
        let weight = raw.weight.unwrap_or(defaults::WEIGHT);
        if !weight.is_finite() || weight <= 0.0 {
            return Err(self.problem(&field("weight"), "must be a number above 0"));
        }
        let probe = match raw.probe.as_deref().map(str::trim) {
            None | Some("off") => ProbeKind::Off,
            Some("models") => ProbeKind::Models,
            Some("messages") => ProbeKind::Messages,
            Some(other) => {
                return Err(self.problem(
                    &field("probe"),
                    format!("unknown probe `{other}` (use off, models or messages)"),
                ))
            }
        };
        let models: Vec<String> = raw
            .models
            .unwrap_or_default()
            .into_iter()
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect();
        Ok(EndpointConfig {
            id,
            base_url,
            scheme,
            authority,
            path_prefix,
            api_key: Secret::new(api_key),
            auth,
            models,
            model_map: raw.model_map.unwrap_or_default().into_iter().collect(),
            weight,
            priority: raw.priority.unwrap_or(defaults::PRIORITY),
            enabled: raw.enabled.unwrap_or(true),
            probe,
        })
    }
}

/// The stable default id of an endpoint: the first 8 hex digits of sha256("<base_url>|<api_key>").
pub fn default_endpoint_id(base_url: &str, api_key: &str) -> String {
    let digest = Sha256::digest(format!("{base_url}|{api_key}").as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// Splits `https://host:port/prefix/` into (`https`, `host:port`, `/prefix`).
fn split_base_url(url: &str) -> Result<(String, String, String), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("`{url}` is not a URL: write it as https://host[:port][/prefix]"))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(format!("`{url}`: only http and https are supported"));
    }
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(format!("`{url}` has no host"));
    }
    if authority.contains('@') {
        return Err(format!(
            "`{url}`: credentials in the URL are not supported; use api_key"
        ));
    }
    if path.contains(['?', '#']) {
        return Err(format!(
            "`{url}`: a base URL cannot carry a query or fragment"
        ));
    }
    authority
        .parse::<actix_web::http::uri::Authority>()
        .map_err(|_| format!("`{url}`: `{authority}` is not a valid host[:port]"))?;
    Ok((
        scheme,
        authority.to_string(),
        path.trim_end_matches('/').to_string(),
    ))
}

/// Replaces `${NAME}` (and `${NAME:-fallback}`) with values from `env`.
pub fn expand_env(value: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "`${` without a closing `}`".to_string())?;
        let inner = &after[..end];
        let (name, fallback) = match inner.split_once(":-") {
            Some((name, fallback)) => (name, Some(fallback)),
            None => (inner, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`${{{inner}}}` is not a valid variable reference"));
        }
        match (env(name).filter(|v| !v.is_empty()), fallback) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(f)) => out.push_str(f),
            (None, None) => return Err(format!("environment variable {name} is not set")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

impl Config {
    /// The effective config as YAML, with every key redacted (what `switchyard check` prints).
    pub fn render_redacted(&self) -> String {
        let p = &self.proxy;
        let b = &self.balancer;
        let t = &self.timeouts;
        let h = &self.health;
        let s = &self.sessions;
        let mut out = String::new();
        out.push_str("proxy:\n");
        out.push_str(&format!("  port: {}\n", p.port));
        out.push_str(&format!("  allow_lan_access: {}\n", p.allow_lan_access));
        if p.allow_lan_without_auth {
            out.push_str("  allow_lan_without_auth: true\n");
        }
        out.push_str(&format!(
            "  auth_mode: {}    # in force: {}\n",
            p.auth_mode.as_str(),
            p.effective_auth_mode().as_str()
        ));
        out.push_str(&format!("  api_key: {}\n", p.api_key.redacted()));
        out.push_str(&format!("  admin_key: {}\n", p.admin_key.redacted()));
        out.push_str(&format!(
            "  max_request_body: {}\n",
            format_size(p.max_request_body)
        ));
        out.push_str(&format!("  cors_origins: {:?}\n", p.cors_origins));
        out.push_str(&format!(
            "  shutdown_grace: {}\n",
            format_duration(p.shutdown_grace)
        ));
        out.push_str(&format!("  access_log: {}\n", p.access_log));
        if let Some(file) = &p.state_file {
            out.push_str(&format!("  state_file: {}\n", file.display()));
        }
        out.push_str("balancer:\n");
        out.push_str(&format!("  strategy: {}\n", b.strategy.as_str()));
        out.push_str(&format!("  max_attempts: {}\n", b.max_attempts));
        out.push_str(&format!(
            "  retry_budget: {{ratio: {}, min_per_second: {}, window: {}}}\n",
            b.retry_budget.ratio,
            b.retry_budget.min_per_second,
            format_duration(b.retry_budget.window)
        ));
        out.push_str("timeouts:\n");
        for (name, d) in [
            ("connect", t.connect),
            ("first_byte", t.first_byte),
            ("idle", t.idle),
            ("request_header", t.request_header),
        ] {
            out.push_str(&format!("  {name}: {}\n", format_duration(d)));
        }
        out.push_str("health:\n");
        out.push_str(&format!("  failure_threshold: {}\n", h.failure_threshold));
        for (name, d) in [
            ("ejection_base", h.ejection_base),
            ("ejection_max", h.ejection_max),
            ("cooldown_default", h.cooldown_default),
            ("cooldown_max", h.cooldown_max),
            ("quota_cooldown", h.quota_cooldown),
        ] {
            out.push_str(&format!("  {name}: {}\n", format_duration(d)));
        }
        for (name, d) in [
            ("auth_recheck", h.auth_recheck),
            ("probe_interval", h.probe_interval),
        ] {
            out.push_str(&format!(
                "  {name}: {}\n",
                d.map(format_duration).unwrap_or("off".into())
            ));
        }
        out.push_str("sessions:\n");
        out.push_str(&format!("  enabled: {}\n", s.enabled));
        out.push_str(&format!("  ttl: {}\n", format_duration(s.ttl)));
        out.push_str(&format!("  max_entries: {}\n", s.max_entries));
        out.push_str("endpoints:\n");
        for e in &self.endpoints {
            out.push_str(&format!("  - id: {}\n", e.id));
            out.push_str(&format!("    base_url: {}\n", e.base_url));
            out.push_str(&format!("    api_key: {}\n", e.api_key.redacted()));
            out.push_str(&format!("    auth: {}\n", e.auth.as_str()));
            out.push_str(&format!("    models: {:?}\n", e.models));
            if !e.model_map.is_empty() {
                let pairs: Vec<String> = e
                    .model_map
                    .iter()
                    .map(|(k, v)| format!("{k:?}: {v:?}"))
                    .collect();
                out.push_str(&format!("    model_map: {{{}}}\n", pairs.join(", ")));
            }
            out.push_str(&format!("    weight: {}\n", e.weight));
            out.push_str(&format!("    priority: {}\n", e.priority));
            out.push_str(&format!("    enabled: {}\n", e.enabled));
            out.push_str(&format!("    probe: {}\n", e.probe.as_str()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "RELAY_KEY" => Some("sk-relay-0123456789".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn parse_ok(text: &str) -> Config {
        parse(text, &env).unwrap_or_else(|p| panic!("{p}"))
    }

    fn parse_err(text: &str) -> Problem {
        parse(text, &env).expect_err("config should be refused")
    }

    const MINIMAL: &str = "endpoints:\n  - base_url: https://api.example.com\n    api_key: k1\n";

    #[test]
    fn a_minimal_config_gets_every_default() {
        let c = parse_ok(MINIMAL);
        assert_eq!(c.proxy.port, 8045);
        assert_eq!(c.proxy.effective_auth_mode(), AuthMode::Off);
        assert_eq!(c.balancer.strategy, Strategy::Priority);
        assert_eq!(c.balancer.max_attempts, 3);
        assert_eq!(c.timeouts.first_byte, Duration::from_secs(300));
        assert_eq!(c.proxy.max_request_body, 32 << 20);
        let e = &c.endpoints[0];
        assert_eq!(e.id, default_endpoint_id("https://api.example.com", "k1"));
        assert_eq!(e.auth, UpstreamAuth::Both);
        assert!(e.enabled);
    }

    #[test]
    fn default_id_is_the_first_eight_hex_digits_of_sha256_of_url_and_key() {
        // sha256("https://a|b") computed independently.
        let id = default_endpoint_id("https://a", "b");
        assert_eq!(id.len(), 8);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        let full = Sha256::digest(b"https://a|b");
        assert_eq!(
            id,
            format!(
                "{:02x}{:02x}{:02x}{:02x}",
                full[0], full[1], full[2], full[3]
            )
        );
    }

    #[test]
    fn base_url_with_a_path_prefix_is_split() {
        let c = parse_ok(
            "endpoints:\n  - base_url: https://relay.example.com:8443/api/anthropic/\n    api_key: k\n",
        );
        let e = &c.endpoints[0];
        assert_eq!(e.scheme, "https");
        assert_eq!(e.authority, "relay.example.com:8443");
        assert_eq!(e.path_prefix, "/api/anthropic");
        assert_eq!(e.base_url, "https://relay.example.com:8443/api/anthropic");
    }

    #[test]
    fn environment_variables_expand_and_a_missing_one_is_named() {
        let c =
            parse_ok("endpoints:\n  - base_url: https://r.example\n    api_key: ${RELAY_KEY}\n");
        assert_eq!(c.endpoints[0].api_key.expose(), "sk-relay-0123456789");
        let p = parse_err("endpoints:\n  - base_url: https://r.example\n    api_key: ${NOPE}\n");
        assert_eq!(p.field, "endpoints[0].api_key");
        assert_eq!(p.line, Some(3));
        assert!(p.message.contains("NOPE"), "{p}");
        let p = parse_err("endpoints:\n  - base_url: https://r.example\n    api_key: ${EMPTY}\n");
        assert!(p.message.contains("EMPTY"), "{p}");
        let c = parse_ok(
            "endpoints:\n  - base_url: https://r.example\n    api_key: ${NOPE:-fallback}\n",
        );
        assert_eq!(c.endpoints[0].api_key.expose(), "fallback");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_line() {
        let p = parse_err("proxy:\n  port: 1\n  prot: 2\nendpoints: []\n");
        assert_eq!(p.field, "proxy");
        assert_eq!(p.line, Some(3));
        assert!(p.message.contains("unknown field `prot`"), "{p}");
        let p = parse_err(&format!("{MINIMAL}    wieght: 2\n"));
        assert_eq!(p.field, "endpoints[0]");
        assert!(p.message.contains("wieght"));
    }

    #[test]
    fn missing_fields_name_the_field_and_line() {
        let p = parse_err(
            "endpoints:\n  - base_url: https://a.example\n    api_key: k\n  - id: second\n    api_key: k2\n",
        );
        assert_eq!(p.field, "endpoints[1].base_url");
        assert_eq!(p.line, Some(4));
        assert_eq!(p.to_string(), "line 4: endpoints[1].base_url: missing");
        let p = parse_err("endpoints:\n  - base_url: https://a.example\n");
        assert_eq!(p.field, "endpoints[0].api_key");
    }

    #[test]
    fn bad_yaml_reports_its_line() {
        let p = parse_err("proxy:\n  port: [1,\nendpoints: x\n");
        assert!(p.line.is_some(), "{p}");
        let p = parse_err("proxy:\n  port: 99999\n");
        assert_eq!(p.field, "proxy.port");
        assert_eq!(p.line, Some(2));
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let p = parse_err(
            "endpoints:\n  - id: a\n    base_url: https://x.example\n    api_key: k\n  - id: a\n    base_url: https://y.example\n    api_key: k\n",
        );
        assert_eq!(p.field, "endpoints[1].id");
        assert_eq!(p.line, Some(5));
        // The same url and key twice give the same default id.
        let p = parse_err(&format!(
            "{MINIMAL}  - base_url: https://api.example.com\n    api_key: k1\n"
        ));
        assert!(p.message.contains("duplicate"));
    }

    #[test]
    fn values_out_of_range_are_refused() {
        for (text, field) in [
            ("balancer:\n  max_attempts: 0\n", "balancer.max_attempts"),
            ("balancer:\n  strategy: fastest\n", "balancer.strategy"),
            ("timeouts:\n  idle: 10\n", "timeouts.idle"),
            ("timeouts:\n  connect: 0s\n", "timeouts.connect"),
            ("proxy:\n  auth_mode: maybe\n", "proxy.auth_mode"),
            (
                "proxy:\n  max_request_body: 3 parsecs\n",
                "proxy.max_request_body",
            ),
        ] {
            let p = parse_err(&format!("{text}{MINIMAL}"));
            assert_eq!(p.field, field, "{p}");
            assert_eq!(p.line, Some(2), "{p}");
        }
        for (extra, field) in [
            ("    weight: 0\n", "endpoints[0].weight"),
            ("    auth: basic\n", "endpoints[0].auth"),
            ("    id: 'a b'\n", "endpoints[0].id"),
        ] {
            let p = parse_err(&format!("{MINIMAL}{extra}"));
            assert_eq!(p.field, field, "{p}");
        }
        let p = parse_err("endpoints:\n  - base_url: ftp://x\n    api_key: k\n");
        assert_eq!(p.field, "endpoints[0].base_url");
        let p = parse_err("endpoints: []\n");
        assert_eq!(p.field, "endpoints");
    }

    #[test]
    fn auth_on_with_an_empty_key_is_refused() {
        let p = parse_err(&format!("proxy:\n  auth_mode: strict\n{MINIMAL}"));
        assert_eq!(p.field, "proxy.api_key");
        let p = parse_err(&format!("proxy:\n  allow_lan_access: true\n{MINIMAL}"));
        assert_eq!(p.field, "proxy.api_key");
    }

    #[test]
    fn lan_access_without_auth_needs_the_explicit_override() {
        let p = parse_err(&format!(
            "proxy:\n  allow_lan_access: true\n  auth_mode: off\n{MINIMAL}"
        ));
        assert_eq!(p.field, "proxy.allow_lan_access");
        let c = parse_ok(&format!(
            "proxy:\n  allow_lan_access: true\n  auth_mode: off\n  allow_lan_without_auth: true\n{MINIMAL}"
        ));
        assert_eq!(c.proxy.effective_auth_mode(), AuthMode::Off);
        let c = parse_ok(&format!(
            "proxy:\n  allow_lan_access: true\n  api_key: s3cret\n{MINIMAL}"
        ));
        assert_eq!(c.proxy.effective_auth_mode(), AuthMode::AllExceptHealth);
    }

    #[test]
    fn the_rendered_config_never_shows_a_key() {
        let c = parse_ok(
            "proxy:\n  auth_mode: strict\n  api_key: client-secret-key-123\nendpoints:\n  - base_url: https://r.example\n    api_key: ${RELAY_KEY}\n",
        );
        let text = c.render_redacted();
        assert!(!text.contains("sk-relay-0123456789"));
        assert!(!text.contains("client-secret-key-123"));
        assert!(text.contains("strategy: priority"));
        // The rendered text is itself a valid config (keys aside).
        assert!(serde_yaml::from_str::<serde_yaml::Value>(&text).is_ok());
    }
}
