//! Property-based fuzzing of everything that reads untrusted or hand-written input: the config
//! loader, request classification (model / stream / session from arbitrary bytes), rate-limit
//! hints and client credentials. No input may panic, and each reader keeps a property that can fail:
//! a config loads and survives `check` or names its problem; a JSON body's model is what serde_json
//! reads (or is refused as uncertain); a hint is bounded by what its header can say. CI runs the default number of cases; a long
//! run: `PROPTEST_CASES=200000 cargo test --release --test fuzz`.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::time::{Duration, UNIX_EPOCH};
use switchyard::config;
use switchyard::proxy::request::{request_facts, rewrite_model};
use switchyard::scan::top_level_members;
use switchyard::upstream::headers::retry_hint;

const SAMPLE: &str = include_str!("../config.sample.yaml");

#[path = "../bench/claude_code_body.rs"]
#[allow(dead_code)]
mod claude_code_body;

fn env(name: &str) -> Option<String> {
    (name.len() % 2 == 0).then(|| format!("value-of-{name}"))
}

/// Every config text either loads and survives `check` (its rendering is YAML in which every key
/// is shown only in its redacted form), or its refusal is a sentence naming a field or a line
/// that exists.
fn loads_and_survives_check_or_names_its_problem(text: &str) -> Result<(), TestCaseError> {
    match config::parse(text, &env) {
        Ok(c) => {
            let shown = c.render_redacted();
            let yaml: serde_yaml::Value = serde_yaml::from_str(&shown)
                .map_err(|e| TestCaseError::fail(format!("check output is not YAML: {e}")))?;
            let mut keys = vec![(&yaml["proxy"]["api_key"], &c.proxy.api_key)];
            keys.push((&yaml["proxy"]["admin_key"], &c.proxy.admin_key));
            for (i, e) in c.endpoints.iter().enumerate() {
                prop_assert_eq!(yaml["endpoints"][i]["id"].as_str(), Some(e.id.as_str()));
                keys.push((&yaml["endpoints"][i]["api_key"], &e.api_key));
            }
            for (shown, key) in keys {
                let shown = shown.as_str().unwrap_or_default();
                prop_assert_eq!(shown, key.redacted());
                // `(empty)`, `(set)`, or `(set, sha256 1a2b3c4d)`: never a part of the key.
                let print = shown
                    .strip_prefix("(set, sha256 ")
                    .and_then(|rest| rest.strip_suffix(')'));
                prop_assert!(
                    shown == "(empty)"
                        || shown == "(set)"
                        || print.is_some_and(
                            |p| p.len() == 8 && p.bytes().all(|b| b.is_ascii_hexdigit())
                        ),
                    "{}",
                    shown
                );
            }
        }
        Err(problem) => {
            prop_assert!(!problem.message.is_empty());
            prop_assert!(
                !problem.field.is_empty() || problem.line.is_some(),
                "names neither a field nor a line: {} in\n{}",
                problem,
                text
            );
            if let Some(line) = problem.line {
                prop_assert!(
                    line >= 1 && line <= text.lines().count().max(1) + 1,
                    "{problem} in\n{text}"
                );
            }
        }
    }
    Ok(())
}

/// The model serde_json reads from a body that is valid JSON, as the gateway would accept it.
fn model_by_serde_json(value: &serde_json::Value) -> Option<String> {
    value["model"]
        .as_str()
        .filter(|m| !m.is_empty() && m.len() <= 256)
        .map(str::to_string)
}

/// When the body is valid JSON, the gateway's model is what serde_json reads, or the gateway says
/// why it is not certain (a key named twice, a non-object body); an object without `model` has
/// none and no problem.
fn model_read_agrees_with_serde_json(body: &[u8]) -> Result<(), TestCaseError> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Ok(());
    };
    let facts = request_facts(&HeaderMap::new(), body);
    match &facts.model {
        Some(model) => prop_assert_eq!(Some(model.to_string()), model_by_serde_json(&value)),
        None => prop_assert!(
            model_by_serde_json(&value).is_none() || facts.model_problem.is_some(),
            "serde_json reads {:?} but the gateway neither reads it nor says why",
            model_by_serde_json(&value)
        ),
    }
    // `stream` and the session from `metadata.user_id` read as serde_json reads them.
    let stream = value
        .get("stream")
        .and_then(|s| s.as_bool())
        .unwrap_or(false);
    prop_assert_eq!(facts.stream, stream);
    let session = value
        .get("metadata")
        .and_then(|m| m.get("user_id"))
        .and_then(|u| u.as_str())
        .filter(|u| !u.is_empty() && u.len() <= 256)
        .map(switchyard::balancer::sessions::SessionKey::from_user);
    prop_assert_eq!(facts.session, session);
    match value.as_object() {
        None => prop_assert!(facts.model.is_none() && facts.model_problem.is_some()),
        Some(object) if !object.contains_key("model") => {
            prop_assert_eq!(facts.model_problem, None);
        }
        Some(_) => {}
    }
    Ok(())
}

/// Top-level JSON objects built from a few keys (`model` among them, possibly twice).
fn json_object_text() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("model".to_string()),
        Just("stream".to_string()),
        Just("metadata".to_string()),
        "[a-z]{1,6}",
    ];
    let value = prop_oneof![
        "\\PC{0,20}".prop_map(|s| serde_json::Value::String(s).to_string()),
        "[a-z-]{0,300}".prop_map(|s| serde_json::Value::String(s).to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        Just("null".to_string()),
        Just(r#"{"user_id":"u1","model":"inner"}"#.to_string()),
        Just(r#"{"user_id":"u\"2\u00e9","user_id":"u3"}"#.to_string()),
        Just(r#"{"user_id":7,"other":{"user_id":"inner"}}"#.to_string()),
        Just(r#"["model"]"#.to_string()),
    ];
    (prop::collection::vec((key, value), 0..5), "[ \t\n]{0,2}").prop_map(|(pairs, ws)| {
        let fields: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}:{v}", serde_json::Value::String(k.clone())))
            .collect();
        format!("{ws}{{{}}}{ws}", fields.join(","))
    })
}

proptest! {
    #[test]
    fn arbitrary_text_loads_or_names_its_problem(text in "\\PC{0,400}") {
        loads_and_survives_check_or_names_its_problem(&text)?;
    }

    #[test]
    fn yaml_shaped_text_loads_or_names_its_problem(
        lines in prop::collection::vec(
            ("[ ]{0,6}", prop::option::of("- "), "[a-z_]{1,16}", "(: )?", "[a-zA-Z0-9:/._${}\\[\\]*-]{0,30}"),
            0..30,
        )
    ) {
        let text: String = lines
            .iter()
            .map(|(indent, dash, key, colon, value)| {
                format!("{indent}{}{key}{colon}{value}\n", dash.clone().unwrap_or_default())
            })
            .collect();
        loads_and_survives_check_or_names_its_problem(&text)?;
    }

    #[test]
    fn a_mutated_sample_config_loads_or_names_its_problem(cut in 0usize..4000, insert in "\\PC{0,8}") {
        let mut text = SAMPLE.to_string();
        let at = text.char_indices().map(|(i, _)| i).nth(cut % text.chars().count()).unwrap_or(0);
        text.insert_str(at, &insert);
        loads_and_survives_check_or_names_its_problem(&text)?;
        text.truncate(at);
        loads_and_survives_check_or_names_its_problem(&text)?;
    }

    #[test]
    fn request_classification_never_panics_on_arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..2000)) {
        let facts = request_facts(&HeaderMap::new(), &body);
        prop_assert!(facts.model.as_ref().is_none_or(|m| m.len() <= 256));
        model_read_agrees_with_serde_json(&body)?;
    }

    #[test]
    fn the_model_of_a_json_body_is_what_serde_json_reads_or_is_refused_as_uncertain(
        body in json_object_text(),
    ) {
        model_read_agrees_with_serde_json(body.as_bytes())?;
    }

    #[test]
    fn request_classification_reads_json_bodies_of_any_shape(
        model in prop::option::of("\\PC{0,300}"),
        stream in prop::option::of(any::<bool>()),
        user in prop::option::of("\\PC{0,300}"),
        noise in "\\PC{0,100}",
        session in prop::option::of("[ -~]{0,300}"),
    ) {
        let mut body = serde_json::json!({"messages": [{"role": "user", "content": noise}]});
        if let Some(m) = &model { body["model"] = m.clone().into(); }
        if let Some(s) = stream { body["stream"] = s.into(); }
        if let Some(u) = &user { body["metadata"] = serde_json::json!({"user_id": u}); }
        let bytes = serde_json::to_vec(&body).unwrap();
        let mut headers = HeaderMap::new();
        if let Some(s) = &session {
            if let Ok(v) = HeaderValue::from_str(s) {
                headers.insert(HeaderName::from_static("x-session-id"), v);
            }
        }
        let facts = request_facts(&headers, &bytes);
        let expected_model = model.filter(|m| !m.is_empty() && m.len() <= 256);
        prop_assert_eq!(facts.model.as_deref(), expected_model.as_deref());
        prop_assert_eq!(facts.stream, stream.unwrap_or(false));
        if let Some(rewritten) = rewrite_model(&bytes, "renamed") {
            let v: serde_json::Value = serde_json::from_slice(&rewritten).unwrap();
            prop_assert_eq!(&v["model"], "renamed");
            prop_assert_eq!(&v["messages"], &body["messages"]);
        }
    }

    #[test]
    fn a_model_map_renames_exactly_the_models_its_glob_matches(pattern in "[a-z*.-]{0,20}", model in "[a-z.-]{0,30}") {
        let text = format!(
            "endpoints:\n  - base_url: https://a.example\n    api_key: k\n    model_map: {{\"{pattern}\": x}}\n    models: [\"{pattern}\"]\n"
        );
        if let Ok(c) = config::parse(&text, &env) {
            let expected = (config::glob_match(&pattern, &model) && model != "x").then_some("x");
            prop_assert_eq!(c.endpoints[0].upstream_model(&model), expected);
            // An empty pattern is dropped from `models`, and no list serves every model.
            let serves = pattern.is_empty() || config::glob_match(&pattern, &model);
            prop_assert_eq!(c.endpoints[0].serves(&model), serves);
        }
    }

    #[test]
    fn rate_limit_hints_never_panic_and_are_bounded(
        retry_after in "\\PC{0,40}",
        reset in "[ -~]{0,40}",
        openai in "[0-9hmsu.]{0,20}",
    ) {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("retry-after", retry_after.as_str()),
            ("anthropic-ratelimit-requests-reset", reset.as_str()),
            ("x-ratelimit-reset-tokens", openai.as_str()),
        ] {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(HeaderName::from_static(name), v);
            }
        }
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        if let Some(wait) = retry_hint(&headers, now) {
            // Numbers and Go durations are capped at 1e9 s; a date can say at most 9999-12-31.
            let last_date = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
            let bound = Duration::from_secs(1_000_000_000).max(last_date.duration_since(now).unwrap());
            prop_assert!(wait <= bound, "{wait:?}");
        }
    }

    #[test]
    fn a_retry_after_in_seconds_is_taken_as_written_up_to_the_cap(secs in 0u64..3_000_000_000) {
        let mut headers = HeaderMap::new();
        headers.insert(HeaderName::from_static("retry-after"), HeaderValue::from(secs));
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        prop_assert_eq!(retry_hint(&headers, now), Some(Duration::from_secs(secs.min(1_000_000_000))));
    }

    #[test]
    fn client_credentials_of_any_form_never_panic(values in prop::collection::vec("[ -~]{0,80}", 0..6)) {
        let mut headers = HeaderMap::new();
        for (i, v) in values.iter().enumerate() {
            let name = switchyard::auth::KEY_HEADERS[i % 3];
            if let Ok(v) = HeaderValue::from_str(v) {
                headers.append(HeaderName::from_static(name), v);
            }
        }
        let key = switchyard::Secret::new("the-right-key".into());
        let admitted = switchyard::auth::check_key(&key, &headers, "").is_ok();
        let any_right = switchyard::auth::presented_credentials(&headers).iter().any(|(_, k)| *k == "the-right-key");
        prop_assert_eq!(admitted, any_right);
    }
}

/// Claude Code-shaped bodies of the sizes it sends (50 to 500 KiB), at every alignment against the
/// scanner's 64-byte blocks: the top level is serde_json's, value for value.
#[test]
fn claude_code_bodies_are_scanned_as_serde_json_reads_them() {
    for size in [50 << 10, 128 << 10, 500 << 10] {
        let body = claude_code_body::claude_code_body(size);
        let expected: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&body).unwrap();
        for shift in 0..64 {
            let text = format!("{}{body}", " ".repeat(shift));
            let members = top_level_members(text.as_bytes()).unwrap();
            let mut read = serde_json::Map::new();
            for m in members {
                let value = serde_json::from_slice(&text.as_bytes()[m.value]).unwrap();
                read.insert(m.key.into_owned(), value);
            }
            assert!(read == expected, "{size} bytes shifted by {shift}");
        }
    }
}
