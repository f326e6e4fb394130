//! The config file as written: serde structs that mirror the YAML one to one. Every field is
//! optional here so that defaults live in one place (`defaults.rs`) and validation in `validate.rs`.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub proxy: Option<RawProxy>,
    pub balancer: Option<RawBalancer>,
    pub timeouts: Option<RawTimeouts>,
    pub health: Option<RawHealth>,
    pub sessions: Option<RawSessions>,
    pub endpoints: Option<Vec<RawEndpoint>>,
    pub translate: Option<RawTranslate>,
    pub usage: Option<RawUsage>,
    /// Kept in the file's order: the first pattern that matches wins.
    pub fallbacks: Option<serde_yaml::Mapping>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProxy {
    pub port: Option<u16>,
    pub allow_lan_access: Option<bool>,
    pub allow_lan_without_auth: Option<bool>,
    pub auth_mode: Option<String>,
    pub api_key: Option<String>,
    /// Kept in the file's order.
    pub client_keys: Option<serde_yaml::Mapping>,
    pub admin_key: Option<String>,
    pub max_request_body: Option<RawSize>,
    pub max_request_bodies_total: Option<RawSize>,
    pub cors_origins: Option<Vec<String>>,
    pub allowed_hosts: Option<Vec<String>>,
    pub shutdown_grace: Option<String>,
    pub access_log: Option<bool>,
    pub state_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBalancer {
    pub strategy: Option<String>,
    pub max_attempts: Option<u32>,
    pub retry_budget: Option<RawRetryBudget>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetryBudget {
    pub ratio: Option<f64>,
    pub min_per_second: Option<u32>,
    pub window: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    pub connect: Option<String>,
    pub first_byte: Option<String>,
    pub idle: Option<String>,
    pub stream_start: Option<String>,
    pub request_header: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    pub failure_threshold: Option<u32>,
    pub ejection_base: Option<String>,
    pub ejection_max: Option<String>,
    pub cooldown_default: Option<String>,
    pub cooldown_max: Option<String>,
    pub quota_cooldown: Option<String>,
    pub auth_recheck: Option<String>,
    pub probe_interval: Option<String>,
    pub rate_limit_scope: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSessions {
    pub enabled: Option<bool>,
    pub ttl: Option<String>,
    pub max_entries: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEndpoint {
    pub id: Option<String>,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub auth: Option<String>,
    pub models: Option<Vec<String>>,
    /// Kept in the file's order: the first pattern that matches wins.
    pub model_map: Option<serde_yaml::Mapping>,
    pub weight: Option<f64>,
    pub priority: Option<u32>,
    pub enabled: Option<bool>,
    pub probe: Option<String>,
    pub api: Option<String>,
    pub max_tokens: Option<u64>,
    pub price: Option<crate::usage::Price>,
    pub budget: Option<crate::usage::Budget>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTranslate {
    pub default_max_tokens: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUsage {
    pub database: Option<String>,
    pub retention: Option<String>,
    pub prices: Option<String>,
}

/// A byte size: a plain number of bytes, or a string such as `32MiB`, `512KiB`, `1GiB`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawSize {
    Bytes(u64),
    Text(String),
}
