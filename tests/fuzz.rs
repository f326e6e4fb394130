//! Property-based fuzzing of everything that reads untrusted or hand-written input: the config
//! loader, request classification (model / stream / session from arbitrary bytes), rate-limit
//! hints and client credentials. No input may panic. CI runs the default number of cases; a long
//! run: `PROPTEST_CASES=200000 cargo test --release --test fuzz`.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use switchyard::config;
use switchyard::proxy::request::{mapped_model, request_facts, rewrite_model};
use switchyard::upstream::headers::retry_hint;

const SAMPLE: &str = include_str!("../config.sample.yaml");

fn env(name: &str) -> Option<String> {
    (name.len() % 2 == 0).then(|| format!("value-of-{name}"))
}

proptest! {
    #[test]
    fn the_config_loader_never_panics_on_arbitrary_text(text in "\\PC{0,400}") {
        let _ = config::parse(&text, &env);
    }

    #[test]
    fn the_config_loader_never_panics_on_yaml_shaped_text(
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
        if let Err(problem) = config::parse(&text, &env) {
            // Every refusal is a sentence, and a line it names exists.
            prop_assert!(!problem.message.is_empty());
            if let Some(line) = problem.line {
                prop_assert!(line >= 1 && line <= text.lines().count().max(1) + 1, "{problem} in\n{text}");
            }
        }
    }

    #[test]
    fn a_mutated_sample_config_never_panics(cut in 0usize..4000, insert in "\\PC{0,8}") {
        let mut text = SAMPLE.to_string();
        let at = text.char_indices().map(|(i, _)| i).nth(cut % text.chars().count()).unwrap_or(0);
        text.insert_str(at, &insert);
        let _ = config::parse(&text, &env);
        text.truncate(at);
        let _ = config::parse(&text, &env);
    }

    #[test]
    fn request_classification_never_panics_on_arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..2000)) {
        let facts = request_facts(&HeaderMap::new(), &body);
        prop_assert!(facts.model.as_ref().is_none_or(|m| m.len() <= 256));
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
        prop_assert_eq!(facts.model, expected_model);
        prop_assert_eq!(facts.stream, stream.unwrap_or(false));
        if let Some(rewritten) = rewrite_model(&bytes, "renamed") {
            let v: serde_json::Value = serde_json::from_slice(&rewritten).unwrap();
            prop_assert_eq!(&v["model"], "renamed");
            prop_assert_eq!(&v["messages"], &body["messages"]);
        }
    }

    #[test]
    fn model_maps_with_arbitrary_globs_never_panic(pattern in "[a-z*.-]{0,20}", model in "[a-z.-]{0,30}") {
        let text = format!(
            "endpoints:\n  - base_url: https://a.example\n    api_key: k\n    model_map: {{\"{pattern}\": x}}\n    models: [\"{pattern}\"]\n"
        );
        if let Ok(c) = config::parse(&text, &env) {
            let _ = mapped_model(&c.endpoints[0], &model);
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
            prop_assert!(wait <= Duration::from_secs(1_000_000_001) + (SystemTime::UNIX_EPOCH.elapsed().unwrap_or_default()));
        }
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
        let admitted = switchyard::auth::check_key(&key, &headers).is_ok();
        let any_right = switchyard::auth::presented_credentials(&headers).iter().any(|(_, k)| *k == "the-right-key");
        prop_assert_eq!(admitted, any_right);
    }
}
