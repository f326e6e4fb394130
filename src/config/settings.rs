//! The typed settings the gateway runs with, after validation. `Serialize` gives the view that
//! `switchyard check` prints: durations and sizes in the config's own units, keys redacted.

use super::defaults;
use super::units::{format_duration, format_size};
use crate::translate::Api;
use crate::usage::{Budget, Price, PriceTable};
use crate::Secret;
use serde::{Serialize, Serializer};
use std::path::PathBuf;
use std::time::Duration;

/// The validated configuration the gateway runs with.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub proxy: ProxySettings,
    pub balancer: BalancerSettings,
    pub timeouts: Timeouts,
    pub health: HealthPolicy,
    pub sessions: SessionSettings,
    pub endpoints: Vec<EndpointConfig>,
    pub translate: TranslateSettings,
    pub usage: UsageSettings,
    /// `fallbacks:` in the file's order: the first rule whose pattern matches a model applies.
    #[serde(
        serialize_with = "fallback_rules",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub fallbacks: Vec<FallbackRule>,
    /// The file this came from, when it came from one.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

crate::words! {
    /// Who must present the client key (`proxy.auth_mode`).
    pub enum AuthMode {
        Off = "off",
        Strict = "strict",
        AllExceptHealth = "all_except_health",
        Auto = "auto",
    }
}

/// `proxy:` — the listening socket and client-facing rules.
#[derive(Debug, Clone, Serialize)]
pub struct ProxySettings {
    pub port: u16,
    pub allow_lan_access: bool,
    /// Explicit override that allows LAN access with client auth off.
    #[serde(skip_serializing_if = "is_false")]
    pub allow_lan_without_auth: bool,
    pub auth_mode: AuthMode,
    pub api_key: Secret,
    /// More client keys, each with the name its client's usage is recorded under
    /// (`proxy.client_keys`); a request presenting one is admitted as with `api_key`.
    #[serde(serialize_with = "named_keys", skip_serializing_if = "Vec::is_empty")]
    pub client_keys: Vec<(String, Secret)>,
    pub admin_key: Secret,
    #[serde(serialize_with = "size")]
    pub max_request_body: u64,
    /// The most bytes of request bodies held at once, all requests together.
    #[serde(serialize_with = "size")]
    pub max_request_bodies_total: u64,
    /// Browser origins (`scheme://host[:port]`) that may call the gateway.
    pub cors_origins: Vec<String>,
    /// Host names (lower case, no port) answered besides loopback ones.
    pub allowed_hosts: Vec<String>,
    #[serde(serialize_with = "duration")]
    pub shutdown_grace: Duration,
    pub access_log: bool,
    /// Where auth-failed and operator-disabled states are kept across restarts.
    #[serde(skip_serializing_if = "Option::is_none")]
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

crate::words! {
    /// How the Balancer orders the endpoints it asks (`balancer.strategy`).
    pub enum Strategy {
        Priority = "priority",
        Weighted = "weighted",
        RoundRobin = "round_robin",
        LeastInflight = "least_inflight",
        Latency = "latency",
    }
}

/// `balancer:` — routing and retries.
#[derive(Debug, Clone, Serialize)]
pub struct BalancerSettings {
    pub strategy: Strategy,
    pub max_attempts: u32,
    pub retry_budget: RetryBudgetSettings,
}

/// `balancer.retry_budget:` — retries allowed as a share of recent requests.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RetryBudgetSettings {
    pub ratio: f64,
    pub min_per_second: u32,
    #[serde(serialize_with = "duration")]
    pub window: Duration,
}

/// `timeouts:` — every wait the gateway puts a bound on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Timeouts {
    #[serde(serialize_with = "duration")]
    pub connect: Duration,
    #[serde(serialize_with = "duration")]
    pub first_byte: Duration,
    #[serde(serialize_with = "duration")]
    pub idle: Duration,
    /// How long a streamed answer may take from its head to its first content (the head and
    /// the opening events are held until then); default: `first_byte`.
    #[serde(serialize_with = "duration")]
    pub stream_start: Duration,
    #[serde(serialize_with = "duration")]
    pub request_header: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: defaults::CONNECT,
            first_byte: defaults::FIRST_BYTE,
            idle: defaults::IDLE,
            stream_start: defaults::FIRST_BYTE,
            request_header: defaults::REQUEST_HEADER,
        }
    }
}

/// `health:` — how long each kind of trouble keeps an endpoint out.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HealthPolicy {
    pub failure_threshold: u32,
    #[serde(serialize_with = "duration")]
    pub ejection_base: Duration,
    #[serde(serialize_with = "duration")]
    pub ejection_max: Duration,
    #[serde(serialize_with = "duration")]
    pub cooldown_default: Duration,
    #[serde(serialize_with = "duration")]
    pub cooldown_max: Duration,
    #[serde(serialize_with = "duration")]
    pub quota_cooldown: Duration,
    #[serde(serialize_with = "optional_duration")]
    pub auth_recheck: Option<Duration>,
    /// Probe healthy endpoints (those with a `probe`) this often when they see no traffic.
    #[serde(serialize_with = "optional_duration")]
    pub probe_interval: Option<Duration>,
    /// What a 429 cools: the model it was for (default), or the whole endpoint.
    pub rate_limit_scope: RateLimitScope,
}

crate::words! {
    /// What a rate limit takes out (`health.rate_limit_scope`).
    pub enum RateLimitScope {
        /// The model sent upstream only: providers limit each model on its own.
        Model = "model",
        /// The whole endpoint: relays whose limits are per key.
        Endpoint = "endpoint",
    }
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
            rate_limit_scope: RateLimitScope::Model,
        }
    }
}

/// `sessions:` — sticky routing of one conversation to one endpoint.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SessionSettings {
    pub enabled: bool,
    #[serde(serialize_with = "duration")]
    pub ttl: Duration,
    pub max_entries: usize,
}

crate::words! {
    /// Which credential headers an upstream receives (`endpoints[].auth`).
    pub enum UpstreamAuth {
        Both = "both",
        XApiKey = "x-api-key",
        Bearer = "bearer",
        /// Google's `x-goog-api-key` (the default of `api: gemini`).
        GoogApiKey = "x-goog-api-key",
    }
}

crate::words! {
    /// How an endpoint is tried again after a timed state ends (`endpoints[].probe`).
    pub enum ProbeKind {
        /// Half-open: the next real request is the probe.
        Off = "off",
        /// `GET /v1/models`.
        Models = "models",
        /// A minimal `POST /v1/messages` with `max_tokens: 1`.
        Messages = "messages",
    }
}

/// How requests are translated between the Anthropic and OpenAI APIs (`translate`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TranslateSettings {
    /// `max_tokens` sent to an Anthropic upstream when an OpenAI client sets no limit.
    pub default_max_tokens: u64,
}

impl Default for TranslateSettings {
    fn default() -> Self {
        TranslateSettings {
            default_max_tokens: crate::translate::DEFAULT_MAX_TOKENS,
        }
    }
}

/// One upstream endpoint, validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointConfig {
    pub id: String,
    /// As written, without a trailing slash.
    pub base_url: String,
    /// The path prefix of `base_url`, without a trailing slash (`""` when none).
    #[serde(skip)]
    pub path_prefix: String,
    /// Its scheme, `host[:port]`, credential headers and id, ready to send.
    #[serde(skip)]
    pub wire: super::Wire,
    pub api_key: Secret,
    pub auth: UpstreamAuth,
    pub models: Vec<String>,
    #[serde(serialize_with = "pairs", skip_serializing_if = "Vec::is_empty")]
    pub model_map: Vec<(String, String)>,
    pub weight: f64,
    pub priority: u32,
    pub enabled: bool,
    pub probe: ProbeKind,
    /// The API the upstream speaks (`endpoints[].api`).
    pub api: Api,
    /// The most `max_tokens` the upstream accepts: a translated request asking more is lowered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// USD per million tokens; `None`: the built-in list price of the model, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Price>,
    /// Spending limits per UTC day / month; `None`: no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
}

/// One rule of `fallbacks:`: a request for a model that matches `pattern`, which no endpoint can
/// serve now, is served by the first of `models` that one can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallbackRule {
    pub pattern: String,
    pub models: Vec<String>,
}

impl Config {
    /// The fallback rule for `model`: the first whose pattern matches it, in the file's order.
    pub fn fallback_rule(&self, model: &str) -> Option<&FallbackRule> {
        self.fallbacks
            .iter()
            .find(|rule| super::glob_match(&rule.pattern, model))
    }
}

/// `usage:` — where the usage history is kept and for how long.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageSettings {
    /// `usage.database` as written (`""`: beside the config, `off`: none).
    #[serde(skip)]
    pub database_setting: String,
    /// The history file in force (`None`: history is off).
    #[serde(rename = "database", serialize_with = "database")]
    pub database: Option<PathBuf>,
    #[serde(serialize_with = "duration")]
    pub retention: Duration,
    /// `usage.prices` as written (`""`: no price file).
    #[serde(skip)]
    pub prices_setting: String,
    /// The price file's rows in force (read when the config file is loaded), over the built-in
    /// table; shown as the file's path.
    #[serde(
        rename = "prices",
        serialize_with = "price_file",
        skip_serializing_if = "no_price_file"
    )]
    pub prices: std::sync::Arc<PriceTable>,
}

fn price_file<S: Serializer>(table: &std::sync::Arc<PriceTable>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(table.file().unwrap_or_default())
}

fn no_price_file(table: &std::sync::Arc<PriceTable>) -> bool {
    table.file().is_none()
}

fn database<S: Serializer>(path: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match path {
        Some(path) => s.serialize_str(&path.display().to_string()),
        None => s.serialize_str("off"),
    }
}

impl EndpointConfig {
    /// Whether this endpoint serves `model` (no `models` list: every model).
    pub fn serves(&self, model: &str) -> bool {
        self.models.is_empty()
            || self
                .models
                .iter()
                .any(|pattern| super::glob_match(pattern, model))
    }

    /// The name this endpoint receives for the model a client `asked` for, when its `model_map`
    /// renames it: the first pattern that matches, in the file's order. `None`: the endpoint
    /// receives `asked` as it is. The one model map: the request path, the usage record, the
    /// health actor's per-model cooldowns, the probe and `switchyard init`'s tests all ask it.
    pub fn upstream_model(&self, asked: &str) -> Option<&str> {
        self.model_map
            .iter()
            .find(|(pattern, _)| super::glob_match(pattern, asked))
            .map(|(_, to)| to.as_str())
            .filter(|to| *to != asked)
    }
}

fn duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_duration(*d))
}

fn optional_duration<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&d.map(format_duration).unwrap_or_else(|| "off".to_string()))
}

fn size<S: Serializer>(bytes: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_size(*bytes))
}

fn named_keys<S: Serializer>(keys: &[(String, Secret)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(keys.iter().map(|(name, key)| (name, key)))
}

fn fallback_rules<S: Serializer>(rules: &[FallbackRule], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(rules.iter().map(|rule| (&rule.pattern, &rule.models)))
}

fn pairs<S: Serializer>(pairs: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

fn is_false(value: &bool) -> bool {
    !value
}
