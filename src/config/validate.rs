//! The validator: every raw value is checked, defaulted and turned into the typed settings.
//! Every refusal names its field, and [`locate`](super::locate) finds its line.

use super::defaults;
use super::error::Problem;
use super::expand::expand_env;
use super::glob::glob_match;
use super::load::resolve_database;
use super::locate;
use super::raw::{self, RawConfig, RawEndpoint, RawSize};
use super::settings::*;
use super::units::{format_size, parse_duration, parse_size};
use super::wire::Wire;
use crate::translate::Api;
use crate::usage::{Budget, Price};
use crate::words::Words;
use crate::Secret;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

/// Checks raw config values against the text they came from (for line numbers).
pub(super) struct Validator<'a> {
    pub(super) text: &'a str,
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
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

    /// One of an enum's words; absent gives `default`, an unknown word names the choices.
    fn word<T: Words>(
        &self,
        field: &str,
        value: Option<&str>,
        default: T,
        noun: &str,
    ) -> Result<T, Problem> {
        match value.map(str::trim) {
            None => Ok(default),
            Some(word) => T::from_word(word).ok_or_else(|| {
                self.problem(
                    field,
                    format!("unknown {noun} `{word}` (use {})", T::choices()),
                )
            }),
        }
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

    pub(super) fn config(&self, raw: RawConfig) -> Result<Config, Problem> {
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
            stream_start: Duration::ZERO,
            request_header: self.positive_duration(
                "timeouts.request_header",
                t.request_header.as_ref(),
                defaults::REQUEST_HEADER,
            )?,
        };
        // The stream's start is bounded like the head it follows, unless told otherwise.
        let timeouts = Timeouts {
            stream_start: self.positive_duration(
                "timeouts.stream_start",
                t.stream_start.as_ref(),
                timeouts.first_byte,
            )?,
            ..timeouts
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
            rate_limit_scope: self.word(
                "health.rate_limit_scope",
                h.rate_limit_scope.as_deref(),
                RateLimitScope::Model,
                "rate-limit scope",
            )?,
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
        let t = raw.translate.unwrap_or_default();
        let translate = TranslateSettings {
            default_max_tokens: match t.default_max_tokens {
                Some(0) => {
                    return Err(self.problem("translate.default_max_tokens", "must be above 0"))
                }
                Some(n) => n,
                None => crate::translate::DEFAULT_MAX_TOKENS,
            },
        };
        let usage = self.usage(raw.usage.unwrap_or_default())?;
        let fallbacks = self.fallbacks(raw.fallbacks, &endpoints)?;
        Ok(Config {
            proxy,
            balancer,
            timeouts,
            health,
            sessions,
            endpoints,
            translate,
            usage,
            fallbacks,
            source: None,
        })
    }

    /// `proxy.cors_origins`: each an origin as a browser sends it, `http(s)://host[:port]`, so
    /// that the exact match can succeed (a trailing `/` or a path never would).
    fn cors_origins(&self, origins: Vec<String>) -> Result<Vec<String>, Problem> {
        for (i, origin) in origins.iter().enumerate() {
            let rest = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            let well_formed = rest.is_some_and(|authority| {
                !authority.is_empty() && !authority.contains(['/', '?', '#', ' ', '@'])
            });
            if !well_formed {
                return Err(self.problem(
                    &format!("proxy.cors_origins[{i}]"),
                    format!(
                        "{origin:?} is not an origin: write it as a browser sends it,                          scheme://host[:port] with no path or trailing slash, e.g. http://localhost:3000"
                    ),
                ));
            }
        }
        Ok(origins)
    }

    /// `proxy.allowed_hosts`: bare host names, compared without case and with any port.
    fn allowed_hosts(&self, hosts: Vec<String>) -> Result<Vec<String>, Problem> {
        hosts
            .into_iter()
            .enumerate()
            .map(|(i, host)| {
                let name = host.trim().trim_end_matches('.').to_ascii_lowercase();
                let bracketed = name.starts_with('[') && name.ends_with(']');
                let bare = !name.is_empty()
                    && !name.contains(['/', '@', ' ', '?', '#'])
                    && (bracketed || !name.contains(':'));
                if bare {
                    Ok(name)
                } else {
                    Err(self.problem(
                        &format!("proxy.allowed_hosts[{i}]"),
                        format!(
                            "{host:?} is not a host name: write the name alone, without scheme or                              port (any port is accepted), e.g. gw.lan"
                        ),
                    ))
                }
            })
            .collect()
    }

    fn proxy(&self, p: raw::RawProxy) -> Result<ProxySettings, Problem> {
        let auth_mode = self.word(
            "proxy.auth_mode",
            p.auth_mode.as_deref(),
            AuthMode::Auto,
            "mode",
        )?;
        let api_key =
            Secret::new(self.expand("proxy.api_key", p.api_key.as_deref().unwrap_or(""))?);
        let admin_key =
            Secret::new(self.expand("proxy.admin_key", p.admin_key.as_deref().unwrap_or(""))?);
        let client_keys = self.client_keys(p.client_keys)?;
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
        let max_request_bodies_total = match &p.max_request_bodies_total {
            None => defaults::MAX_REQUEST_BODIES_TOTAL.max(max_request_body),
            Some(RawSize::Bytes(n)) => *n,
            Some(RawSize::Text(text)) => {
                parse_size(text).map_err(|m| self.problem("proxy.max_request_bodies_total", m))?
            }
        };
        if max_request_bodies_total < max_request_body {
            return Err(self.problem(
                "proxy.max_request_bodies_total",
                format!(
                    "must be at least proxy.max_request_body ({}), or no body of that size could ever be held",
                    format_size(max_request_body)
                ),
            ));
        }
        let settings = ProxySettings {
            port: p.port.unwrap_or(defaults::PORT),
            allow_lan_access: p.allow_lan_access.unwrap_or(false),
            allow_lan_without_auth: p.allow_lan_without_auth.unwrap_or(false),
            auth_mode,
            api_key,
            client_keys,
            admin_key,
            max_request_body,
            max_request_bodies_total,
            cors_origins: self.cors_origins(p.cors_origins.unwrap_or_default())?,
            allowed_hosts: self.allowed_hosts(p.allowed_hosts.unwrap_or_default())?,
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
        let strategy = self.word(
            "balancer.strategy",
            b.strategy.as_deref(),
            Strategy::Priority,
            "strategy",
        )?;
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

    fn usage(&self, u: raw::RawUsage) -> Result<UsageSettings, Problem> {
        let setting = match u.database.as_deref() {
            None => String::new(),
            Some(text) => self.expand("usage.database", text.trim())?,
        };
        let prices_setting = match u.prices.as_deref() {
            None => String::new(),
            Some(text) => self.expand("usage.prices", text.trim())?,
        };
        Ok(UsageSettings {
            database: resolve_database(&setting, None),
            database_setting: setting,
            prices_setting,
            prices: Default::default(),
            retention: self.positive_duration(
                "usage.retention",
                u.retention.as_ref(),
                defaults::USAGE_RETENTION,
            )?,
        })
    }

    /// A price or budget's own complaint (`price.input: …`), named by its full field.
    fn money_problem(&self, index: usize, complaint: String) -> Problem {
        let (name, message) = complaint
            .split_once(": ")
            .map(|(n, m)| (n.to_string(), m.to_string()))
            .unwrap_or_else(|| (String::new(), complaint.clone()));
        self.problem(&format!("endpoints[{index}].{name}"), message)
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
        let api = self.word(&field("api"), raw.api.as_deref(), Api::Anthropic, "api")?;
        // An OpenAI-compatible upstream takes its key as a bearer token only.
        let default_auth = match api {
            Api::Anthropic => UpstreamAuth::Both,
            Api::OpenAi | Api::Responses => UpstreamAuth::Bearer,
            Api::Gemini => UpstreamAuth::GoogApiKey,
        };
        let auth = self.word(&field("auth"), raw.auth.as_deref(), default_auth, "value")?;
        if raw.max_tokens == Some(0) {
            return Err(self.problem(&field("max_tokens"), "must be above 0"));
        }
        let max_tokens = raw.max_tokens;
        let weight = raw.weight.unwrap_or(defaults::WEIGHT);
        if !weight.is_finite() || weight <= 0.0 {
            return Err(self.problem(&field("weight"), "must be a number above 0"));
        }
        let probe = self.word(
            &field("probe"),
            raw.probe.as_deref(),
            ProbeKind::Off,
            "probe",
        )?;
        let models: Vec<String> = raw
            .models
            .unwrap_or_default()
            .into_iter()
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect();
        if let Some(problem) = raw.price.as_ref().and_then(Price::problem) {
            return Err(self.money_problem(index, problem));
        }
        if let Some(problem) = raw.budget.as_ref().and_then(Budget::problem) {
            return Err(self.money_problem(index, problem));
        }
        let wire = Wire::new(&scheme, &authority, &api_key, auth, &id)
            .map_err(|(name, message)| self.problem(&field(name), message))?;
        Ok(EndpointConfig {
            wire,
            id,
            base_url,
            path_prefix,
            api_key: Secret::new(api_key),
            auth,
            models,
            model_map: self.model_map(&field("model_map"), raw.model_map)?,
            weight,
            priority: raw.priority.unwrap_or(defaults::PRIORITY),
            enabled: raw.enabled.unwrap_or(true),
            probe,
            api,
            max_tokens,
            price: raw.price,
            budget: raw.budget.filter(|b| !b.is_unlimited()),
        })
    }
}

impl Validator<'_> {
    /// `model_map` in the file's order, every pattern and name a string.
    /// `proxy.client_keys`: a name (which the client's usage is recorded under) for each key.
    fn client_keys(
        &self,
        raw: Option<serde_yaml::Mapping>,
    ) -> Result<Vec<(String, Secret)>, Problem> {
        let mut out: Vec<(String, Secret)> = Vec::new();
        for (name, key) in raw.unwrap_or_default() {
            let Some(name) = name.as_str().map(str::trim) else {
                return Err(self.problem(
                    "proxy.client_keys",
                    "each entry maps a client's name to its key, e.g. `laptop: ${LAPTOP_KEY}`",
                ));
            };
            let field = format!("proxy.client_keys.{name}");
            let word = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
            if name.is_empty() || name.len() > 64 || !name.chars().all(word) {
                return Err(self.problem(
                    &field,
                    "a client's name is 1 to 64 letters, digits, `.`, `_` or `-` (usage by client shows it)",
                ));
            }
            let Some(key) = key.as_str() else {
                return Err(self.problem(&field, "must be the client's key, a string"));
            };
            let key = self.expand(&field, key.trim())?;
            if key.is_empty() {
                return Err(self.problem(&field, "is empty"));
            }
            if key.chars().any(|c| c.is_control() || c == ' ') {
                return Err(self.problem(&field, "contains spaces or control characters"));
            }
            if let Some((other, _)) = out.iter().find(|(n, k)| n == name || k.expose() == key) {
                return Err(self.problem(
                    &field,
                    format!("the same name or key as proxy.client_keys.{other}: each client has its own"),
                ));
            }
            out.push((name.to_string(), Secret::new(key)));
        }
        Ok(out)
    }

    fn model_map(
        &self,
        field: &str,
        raw: Option<serde_yaml::Mapping>,
    ) -> Result<Vec<(String, String)>, Problem> {
        let mut out = Vec::new();
        for (from, to) in raw.unwrap_or_default() {
            match (from.as_str(), to.as_str()) {
                (Some(from), Some(to)) if !from.trim().is_empty() && !to.trim().is_empty() => {
                    out.push((from.trim().to_string(), to.trim().to_string()))
                }
                _ => {
                    return Err(self.problem(
                        field,
                        "each entry maps a model pattern to a model name, both non-empty strings",
                    ))
                }
            }
        }
        Ok(out)
    }
}

impl Validator<'_> {
    /// `fallbacks:` in the file's order: each pattern maps to the models tried in its place, one
    /// model or a list, each a model some endpoint serves.
    fn fallbacks(
        &self,
        raw: Option<serde_yaml::Mapping>,
        endpoints: &[EndpointConfig],
    ) -> Result<Vec<FallbackRule>, Problem> {
        let mut rules = Vec::new();
        for (pattern, models) in raw.unwrap_or_default() {
            let Some(pattern) = pattern.as_str().map(str::trim).filter(|p| !p.is_empty()) else {
                return Err(self.problem(
                    "fallbacks",
                    "each entry maps a model pattern (a non-empty string) to the models tried in its place",
                ));
            };
            let problem = |message: String| Problem {
                field: format!("fallbacks.{pattern}"),
                line: locate::line_of_key(self.text, "fallbacks", pattern),
                message,
            };
            let names: Vec<&serde_yaml::Value> = match &models {
                serde_yaml::Value::Sequence(list) => list.iter().collect(),
                one => vec![one],
            };
            let mut models = Vec::with_capacity(names.len());
            for name in names {
                let Some(model) = name.as_str().map(str::trim).filter(|m| !m.is_empty()) else {
                    return Err(problem(
                        "write the models tried in its place as a list of model names, e.g. [claude-sonnet-4-5]".into(),
                    ));
                };
                if model.contains('*') {
                    return Err(problem(format!(
                        "`{model}` is a pattern: a fallback names the one model to ask for"
                    )));
                }
                if !endpoints.iter().any(|e| e.serves(model)) {
                    return Err(problem(format!(
                        "no endpoint serves `{model}`: add it to an endpoint's `models`, or take it out of the list"
                    )));
                }
                models.push(model.to_string());
            }
            if models.is_empty() {
                return Err(problem("names no model to try in its place".into()));
            }
            rules.push(FallbackRule {
                pattern: pattern.to_string(),
                models,
            });
        }
        Ok(rules)
    }
}

/// What `check` and `serve` warn about in a config that loads: `model_map` patterns that an
/// earlier pattern of the same map already matches (the first match wins, so they never apply).
pub fn warnings(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for (index, endpoint) in config.endpoints.iter().enumerate() {
        for (j, (later, _)) in endpoint.model_map.iter().enumerate() {
            if let Some((earlier, _)) = endpoint.model_map[..j]
                .iter()
                .find(|(earlier, _)| glob_match(earlier, later))
            {
                out.push(format!(
                    "endpoints[{index}].model_map: `{later}` never applies: the earlier `{earlier}` matches first (the first matching pattern wins; put the narrower one first)"
                ));
            }
        }
    }
    for (j, later) in config.fallbacks.iter().enumerate() {
        if let Some(earlier) = config.fallbacks[..j]
            .iter()
            .find(|earlier| glob_match(&earlier.pattern, &later.pattern))
        {
            out.push(format!(
                "fallbacks: `{}` never applies: the earlier `{}` matches first (the first matching pattern wins; put the narrower one first)",
                later.pattern, earlier.pattern
            ));
        }
    }
    out
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
