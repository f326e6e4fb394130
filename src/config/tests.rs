//! The config loader's rules, one test per rule.

use super::*;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    assert_eq!(c.proxy.max_request_bodies_total, 256 << 20);
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
    assert_eq!(e.wire.scheme.as_str(), "https");
    assert_eq!(e.wire.authority.as_str(), "relay.example.com:8443");
    assert_eq!(e.path_prefix, "/api/anthropic");
    assert_eq!(e.base_url, "https://relay.example.com:8443/api/anthropic");
}

#[test]
fn environment_variables_expand_and_a_missing_one_is_named() {
    let c = parse_ok("endpoints:\n  - base_url: https://r.example\n    api_key: ${RELAY_KEY}\n");
    assert_eq!(c.endpoints[0].api_key.expose(), "sk-relay-0123456789");
    let p = parse_err("endpoints:\n  - base_url: https://r.example\n    api_key: ${NOPE}\n");
    assert_eq!(p.field, "endpoints[0].api_key");
    assert_eq!(p.line, Some(3));
    assert!(p.message.contains("NOPE"), "{p}");
    let p = parse_err("endpoints:\n  - base_url: https://r.example\n    api_key: ${EMPTY}\n");
    assert!(p.message.contains("EMPTY"), "{p}");
    let c =
        parse_ok("endpoints:\n  - base_url: https://r.example\n    api_key: ${NOPE:-fallback}\n");
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
        (
            "proxy:\n  max_request_bodies_total: 1MiB\n",
            "proxy.max_request_bodies_total",
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

#[test]
fn an_endpoint_speaks_an_api_and_openai_ones_take_a_bearer_key() {
    let c = parse_ok(
        "endpoints:\n  - base_url: https://api.anthropic.com\n    api_key: k1\n  \
         - base_url: https://api.deepseek.com/v1\n    api_key: k2\n    api: openai\n  \
         - base_url: https://openrouter.ai/api/v1\n    api_key: k3\n    api: openai\n    auth: both\n",
    );
    assert_eq!(c.endpoints[0].api, crate::translate::Api::Anthropic);
    assert_eq!(c.endpoints[0].auth, UpstreamAuth::Both);
    assert_eq!(c.endpoints[1].api, crate::translate::Api::OpenAi);
    assert_eq!(c.endpoints[1].auth, UpstreamAuth::Bearer);
    assert_eq!(
        c.endpoints[2].auth,
        UpstreamAuth::Both,
        "an explicit auth stays"
    );
    assert_eq!(
        c.translate.default_max_tokens,
        crate::translate::DEFAULT_MAX_TOKENS
    );
    let shown = c.render_redacted();
    assert!(shown.contains("api: openai"), "{shown}");
    assert!(shown.contains("default_max_tokens: 8192"), "{shown}");

    let p = parse_err(
        "endpoints:\n  - base_url: https://a.example.com\n    api_key: k\n    api: OpenAI\n",
    );
    assert_eq!(p.field, "endpoints[0].api");
    assert_eq!(p.line, Some(4));
    assert!(
        p.message.contains("anthropic, openai, responses or gemini"),
        "{}",
        p.message
    );

    let p = parse_err(&format!("translate:\n  default_max_tokens: 0\n{MINIMAL}"));
    assert_eq!(p.field, "translate.default_max_tokens");
    assert_eq!(p.line, Some(2));
    let c = parse_ok(&format!(
        "translate:\n  default_max_tokens: 4096\n{MINIMAL}"
    ));
    assert_eq!(c.translate.default_max_tokens, 4096);
    assert_eq!(c.endpoints[0].max_tokens, None);
    let c = parse_ok(&format!("{MINIMAL}    max_tokens: 8192\n"));
    assert_eq!(c.endpoints[0].max_tokens, Some(8192));
    assert!(c.render_redacted().contains("max_tokens: 8192"));
    let p = parse_err(&format!("{MINIMAL}    max_tokens: 0\n"));
    assert_eq!(p.field, "endpoints[0].max_tokens");
    assert_eq!(p.line, Some(4));
}

#[test]
fn price_budget_and_usage_are_read_and_shown_by_check() {
    let c = parse_ok(
        "endpoints:\n  - id: a\n    base_url: https://a.example\n    api_key: k\n    price: {input: 3.0, output: 15.0, cache_read: 0.3}\n    budget: {daily_usd: 5}\nusage:\n  database: off\n  retention: 30d\n",
    );
    let e = &c.endpoints[0];
    assert_eq!(e.price.map(|p| (p.input, p.cache_write)), Some((3.0, None)));
    assert_eq!(e.budget.and_then(|b| b.daily_usd), Some(5.0));
    assert_eq!(c.usage.database, None);
    assert_eq!(c.usage.retention, Duration::from_secs(30 * 86_400));
    let shown = c.render_redacted();
    assert!(
        shown.contains("price:") && shown.contains("daily_usd: 5"),
        "{shown}"
    );
    assert!(
        shown.contains("database: off") && shown.contains("retention: 30d"),
        "{shown}"
    );
}

#[test]
fn usage_defaults_to_a_file_beside_the_config_kept_90_days() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sy.yaml");
    std::fs::write(&path, MINIMAL).unwrap();
    let c = load_file(&path).unwrap();
    assert_eq!(
        c.usage.database,
        Some(dir.path().join("sy.yaml.usage.sqlite"))
    );
    assert_eq!(c.usage.retention, Duration::from_secs(90 * 86_400));
    assert_eq!(parse_ok(MINIMAL).endpoints[0].budget, None);
}

#[test]
fn client_keys_name_their_clients_are_shown_redacted_and_a_bad_one_names_its_field() {
    let c = parse_ok(&format!(
        "proxy:\n  api_key: shared-key\n  client_keys:\n    laptop: laptop-secret-key-1\n    ci-runner: ${{RELAY_KEY}}\n{MINIMAL}"
    ));
    let names: Vec<&str> = c
        .proxy
        .client_keys
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(names, ["laptop", "ci-runner"]);
    assert_eq!(c.proxy.client_keys[0].1.expose(), "laptop-secret-key-1");
    let shown = c.render_redacted();
    assert!(
        shown.contains("client_keys:") && !shown.contains("laptop-secret-key-1"),
        "{shown}"
    );
    for (yaml, field, line) in [
        ("    bad name: k\n", "proxy.client_keys.bad name", 3),
        ("    a: \"\"\n", "proxy.client_keys.a", 3),
        ("    a: k1\n    b: k1\n", "proxy.client_keys.b", 4),
        ("    a: [k]\n", "proxy.client_keys.a", 3),
    ] {
        let p = parse_err(&format!("proxy:\n  client_keys:\n{yaml}{MINIMAL}"));
        assert_eq!(
            (p.field.as_str(), p.line),
            (field, Some(line)),
            "{yaml}: {p}"
        );
    }
}

#[test]
fn a_price_file_overrides_the_built_in_table_and_check_says_where_each_price_comes_from() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sy.yaml");
    std::fs::write(
        dir.path().join("prices.yaml"),
        "- {model: relay-sonnet, input: 2.4, output: 12}\n- {model: claude-opus-4, input: 1, output: 2}\n",
    )
    .unwrap();
    std::fs::write(
        &path,
        "usage:\n  prices: prices.yaml\nendpoints:\n  \
         - id: relay\n    base_url: https://r.example\n    api_key: k\n    \
           models: [claude-sonnet-4-5, claude-opus-4-1, \"gpt-*\", llama-3]\n    \
           model_map: {claude-sonnet-4-5: relay-sonnet}\n  \
         - id: own\n    base_url: https://o.example\n    api_key: k\n    \
           price: {input: 3, output: 15}\n",
    )
    .unwrap();
    let c = load_file(&path).unwrap();
    let shown_file = dir.path().join("prices.yaml").display().to_string();
    assert_eq!(c.usage.prices.file(), Some(shown_file.as_str()));
    assert_eq!(c.usage.prices.rows().len(), 2);
    let shown = c.render_redacted();
    for line in [
        format!("#   relay: relay-sonnet: price file row 1 (relay-sonnet) of {shown_file}: 2.4 / 12 / 2.4 / 2.4 / 2.4"),
        format!("#   relay: claude-opus-4-1: price file row 2 (claude-opus-4) of {shown_file}: 1 / 2 / 1 / 1.25 / 2"),
        "#   relay: llama-3: no price known: unpriced".to_string(),
        format!("#   relay: any other model: the price file {shown_file}, then the built-in table, else unpriced"),
        "#   own: any other model: its own price".to_string(),
    ] {
        assert!(shown.contains(&line), "{line}\nnot in:\n{shown}");
    }
    assert!(shown.contains(&format!("prices: {shown_file}")), "{shown}");
    assert!(serde_yaml::from_str::<serde_yaml::Value>(&shown).is_ok());
    let plain = parse_ok(MINIMAL).render_redacted();
    assert!(
        plain.contains("any other model: the built-in table, else unpriced"),
        "{plain}"
    );
}

#[test]
fn a_bad_price_file_is_refused_whole_naming_the_file_row_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sy.yaml");
    let prices = dir.path().join("my prices.json");
    std::fs::write(
        &prices,
        r#"[{"model": "a", "input": 1, "output": 2}, {"model": "b", "input": 1, "output": 2, "cache_write_1h": -1}]"#,
    )
    .unwrap();
    std::fs::write(
        &path,
        format!("{MINIMAL}usage:\n  prices: \"{}\"\n", prices.display()),
    )
    .unwrap();
    let error = load_file(&path).unwrap_err().to_string();
    assert!(
        error.contains(&format!(
            "line 5: usage.prices: {}: row 2 (b): cache_write_1h: must be a number",
            prices.display()
        )),
        "{error}"
    );
    std::fs::remove_file(&prices).unwrap();
    let error = load_file(&path).unwrap_err().to_string();
    assert!(
        error.contains("usage.prices: cannot read the price file"),
        "{error}"
    );
}

#[test]
fn a_bad_price_budget_or_retention_names_its_field_and_line() {
    let p = parse_err(
        "endpoints:\n  - base_url: https://a.example\n    api_key: k\n    price: {input: -1, output: 2}\n",
    );
    assert_eq!(
        (p.field.as_str(), p.line),
        ("endpoints[0].price.input", Some(4))
    );
    let p = parse_err(
        "endpoints:\n  - base_url: https://a.example\n    api_key: k\n  - base_url: https://b.example\n    api_key: k\n    budget:\n      monthly_usd: -5\n",
    );
    assert_eq!(
        (p.field.as_str(), p.line),
        ("endpoints[1].budget.monthly_usd", Some(7))
    );
    let p = parse_err(&format!("{MINIMAL}usage:\n  retention: soon\n"));
    assert_eq!((p.field.as_str(), p.line), ("usage.retention", Some(5)));
    let p = parse_err(&format!("{MINIMAL}usage:\n  databse: x\n"));
    assert!(p.message.contains("unknown field"), "{p}");
}

#[test]
fn model_map_keeps_the_files_order_and_warns_about_shadowed_patterns() {
    let c = parse(
        "health:\n  rate_limit_scope: endpoint\nendpoints:\n  - base_url: https://r.example\n    api_key: k\n    model_map: {\"claude-*\": a, \"claude-3-5-haiku*\": b, \"gpt-4o\": c}\n",
        &|_| None,
    )
    .unwrap();
    let map: Vec<(&str, &str)> = c.endpoints[0]
        .model_map
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        map,
        [
            ("claude-*", "a"),
            ("claude-3-5-haiku*", "b"),
            ("gpt-4o", "c")
        ]
    );
    assert_eq!(c.health.rate_limit_scope, RateLimitScope::Endpoint);
    let warnings = super::warnings(&c);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("`claude-3-5-haiku*` never applies"));
    let c = parse(
        "endpoints:\n  - base_url: https://r.example\n    api_key: k\n    model_map: {\"claude-3-5-haiku*\": b, \"claude-*\": a}\n",
        &|_| None,
    )
    .unwrap();
    assert!(super::warnings(&c).is_empty());
    assert_eq!(c.health.rate_limit_scope, RateLimitScope::Model);
    for bad in ["{\"a\": [1]}", "{\"a\": \"\"}"] {
        let e = parse(
            &format!("endpoints:\n  - base_url: https://r.example\n    api_key: k\n    model_map: {bad}\n"),
            &|_| None,
        )
        .unwrap_err();
        assert_eq!(e.field, "endpoints[0].model_map", "{e}");
    }
    let e = parse(
        "health:\n  rate_limit_scope: key\nendpoints:\n  - base_url: https://r.example\n    api_key: k\n",
        &|_| None,
    )
    .unwrap_err();
    assert_eq!(e.field, "health.rate_limit_scope");
}

#[test]
fn request_bodies_held_at_once_are_bounded_and_never_below_one_body() {
    let c = parse_ok(&format!(
        "proxy:\n  max_request_bodies_total: 1GiB\n{MINIMAL}"
    ));
    assert_eq!(c.proxy.max_request_bodies_total, 1 << 30);
    let c = parse_ok(&format!("proxy:\n  max_request_body: 512MiB\n{MINIMAL}"));
    assert_eq!(c.proxy.max_request_bodies_total, 512 << 20, "one body fits");
    let p = parse_err(&format!(
        "proxy:\n  max_request_body: 2MiB\n  max_request_bodies_total: 1MiB\n{MINIMAL}"
    ));
    assert_eq!(p.field, "proxy.max_request_bodies_total");
    assert!(
        p.message.contains("at least proxy.max_request_body (2MiB)"),
        "{p}"
    );
}

#[test]
fn default_path_sits_beside_the_config() {
    assert_eq!(
        super::load::default_database_path(Path::new("/home/u/.config/switchyard/config.yaml")),
        PathBuf::from("/home/u/.config/switchyard/config.yaml.usage.sqlite")
    );
}

#[test]
fn the_database_setting_resolves_beside_the_config() {
    let config = Path::new("/etc/switchyard/config.yaml");
    assert_eq!(super::load::resolve_database("off", Some(config)), None);
    assert_eq!(
        super::load::resolve_database("", Some(config)),
        Some(PathBuf::from("/etc/switchyard/config.yaml.usage.sqlite"))
    );
    assert_eq!(
        super::load::resolve_database("data/usage.db", Some(config)),
        Some(PathBuf::from("/etc/switchyard/data/usage.db"))
    );
    assert_eq!(
        super::load::resolve_database("/var/lib/usage.db", Some(config)),
        Some(PathBuf::from("/var/lib/usage.db"))
    );
    assert_eq!(
        super::load::resolve_database("", None),
        Some(PathBuf::from(":memory:"))
    );
}

#[test]
fn text_yaml_cannot_place_is_reported_at_the_first_line() {
    let p = parse_err("&0}");
    assert_eq!(p.line, Some(1), "{p}");
    assert!(!p.message.is_empty());
}

#[test]
fn the_stream_start_is_bounded_like_the_head_unless_set() {
    let c = parse_ok(&format!("timeouts:\n  first_byte: 40s\n{MINIMAL}"));
    assert_eq!(c.timeouts.stream_start, Duration::from_secs(40));
    assert_eq!(
        parse_ok(MINIMAL).timeouts.stream_start,
        Duration::from_secs(300)
    );
    let c = parse_ok(&format!("timeouts:\n  stream_start: 15s\n{MINIMAL}"));
    assert_eq!(c.timeouts.stream_start, Duration::from_secs(15));
    let p = parse_err(&format!("timeouts:\n  stream_start: 0s\n{MINIMAL}"));
    assert_eq!(
        (p.field.as_str(), p.line),
        ("timeouts.stream_start", Some(2))
    );
}

const SERVING: &str = "endpoints:\n  - base_url: https://a.example\n    api_key: k\n    models: [claude-opus-4*, claude-sonnet-4-5]\n  - base_url: https://b.example\n    api_key: k\n    api: openai\n    models: [deepseek-chat]\n";

#[test]
fn fallbacks_keep_their_order_and_the_first_matching_rule_applies() {
    let c = parse_ok(&format!(
        "fallbacks:\n  \"claude-opus-4-5*\": [deepseek-chat]\n  claude-opus-4*: [claude-sonnet-4-5, deepseek-chat]\n  gpt-5*: deepseek-chat\n{SERVING}"
    ));
    let rule = |model| c.fallback_rule(model).map(|r| r.models.clone());
    assert_eq!(
        rule("claude-opus-4-5-20251101"),
        Some(vec!["deepseek-chat".to_string()])
    );
    assert_eq!(
        rule("claude-opus-4-1"),
        Some(vec!["claude-sonnet-4-5".into(), "deepseek-chat".into()])
    );
    assert_eq!(
        rule("gpt-5-mini"),
        Some(vec!["deepseek-chat".into()]),
        "one model or a list"
    );
    assert_eq!(rule("claude-sonnet-4-5"), None);
    assert!(
        parse_ok(SERVING).fallbacks.is_empty(),
        "off unless configured"
    );
}

#[test]
fn a_fallback_to_a_model_no_endpoint_serves_is_refused_with_its_field_and_line() {
    let p = parse_err(&format!(
        "proxy:\n  port: 1\nfallbacks:\n  claude-opus-4*: [claude-sonnet-4-5]\n  gpt-5*: [gpt-4.1]\n{SERVING}"
    ));
    assert_eq!(
        (p.field.as_str(), p.line),
        ("fallbacks.gpt-5*", Some(5)),
        "{p}"
    );
    assert!(p.message.contains("no endpoint serves `gpt-4.1`"), "{p}");
    let p = parse_err(&format!(
        "fallbacks:\n  claude-opus-4*: [claude-*]\n{SERVING}"
    ));
    assert!(p.message.contains("is a pattern"), "{p}");
    let p = parse_err(&format!("fallbacks:\n  claude-opus-4*: []\n{SERVING}"));
    assert!(p.message.contains("names no model"), "{p}");
    let p = parse_err(&format!("fallbacks: [a, b]\n{SERVING}"));
    assert_eq!(p.line, Some(1), "{p}");
}

#[test]
fn a_fallback_rule_behind_a_broader_one_is_warned_about() {
    let c = parse_ok(&format!(
        "fallbacks:\n  claude-*: [deepseek-chat]\n  claude-opus-4*: [claude-sonnet-4-5]\n{SERVING}"
    ));
    let warnings = warnings(&c);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("`claude-opus-4*` never applies")),
        "{warnings:?}"
    );
}
