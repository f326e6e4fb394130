//! What the gateway reads from a request before routing it: the model, whether it streams, and the
//! sticky-session key. Works on arbitrary bytes and never fails: what cannot be read is absent.

use crate::config::glob_match;
use crate::config::EndpointConfig;
use actix_web::http::header::HeaderMap;
use bytes::Bytes;
use serde::Deserialize;

/// Facts about one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFacts {
    /// The top-level `model`, when it was read with certainty.
    pub model: Option<String>,
    /// Why the model could not be read with certainty (a body that is not JSON, `model` named
    /// twice, not a string, empty or too long). `None` when it was read or is certainly absent.
    pub model_problem: Option<String>,
    pub stream: bool,
    pub session: Option<String>,
}

/// The top-level keys routing needs. Every other value is skipped without building it, and
/// duplicate keys are counted rather than silently resolved.
#[derive(Default)]
struct Peek {
    models: Vec<serde_json::Value>,
    stream: Option<serde_json::Value>,
    metadata: Option<serde_json::Value>,
}

impl<'de> Deserialize<'de> for Peek {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PeekVisitor;
        impl<'de> serde::de::Visitor<'de> for PeekVisitor {
            type Value = Peek;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Peek, A::Error> {
                let mut peek = Peek::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "model" => peek.models.push(map.next_value()?),
                        "stream" => peek.stream = Some(map.next_value()?),
                        "metadata" => peek.metadata = Some(map.next_value()?),
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(peek)
            }
        }
        deserializer.deserialize_map(PeekVisitor)
    }
}

/// Longest session key or model name taken from a request.
const MAX_FIELD: usize = 256;

/// Reads the model, `stream` and session key from a request's headers and JSON body.
pub fn request_facts(headers: &HeaderMap, body: &[u8]) -> RequestFacts {
    let mut facts = RequestFacts::default();
    let blank = body.iter().all(|b| b.is_ascii_whitespace());
    if !blank {
        match serde_json::from_slice::<Peek>(body) {
            Ok(peek) => {
                match peek.models.as_slice() {
                    [] => {}
                    [serde_json::Value::String(m)] if !m.is_empty() && m.len() <= MAX_FIELD => {
                        facts.model = Some(m.clone());
                    }
                    [serde_json::Value::String(_)] => {
                        facts.model_problem =
                            Some(format!("`model` is empty or longer than {MAX_FIELD} bytes"));
                    }
                    [_] => facts.model_problem = Some("`model` is not a string".to_string()),
                    _ => {
                        facts.model_problem =
                            Some("the body names `model` more than once".to_string())
                    }
                }
                facts.stream = peek.stream.and_then(|s| s.as_bool()).unwrap_or(false);
                facts.session = peek
                    .metadata
                    .as_ref()
                    .and_then(|m| m.get("user_id"))
                    .and_then(|u| u.as_str())
                    .filter(|u| !u.is_empty() && u.len() <= MAX_FIELD)
                    .map(|u| format!("user:{u}"));
            }
            Err(e) => {
                facts.model_problem = Some(format!("the body is not a JSON object ({e})"));
            }
        }
    }
    for name in ["x-claude-code-session-id", "x-session-id"] {
        if let Some(value) = headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= MAX_FIELD)
        {
            facts.session = Some(format!("session:{value}"));
            break;
        }
    }
    facts
}

/// Whether any endpoint limits its models or renames them: then a request's model must be read
/// with certainty, or the request goes nowhere.
pub fn model_rules_apply(endpoints: &[EndpointConfig]) -> bool {
    endpoints
        .iter()
        .any(|e| !e.models.is_empty() || !e.model_map.is_empty())
}

/// The model name this endpoint should receive for `model`, when its `model_map` renames it.
pub fn mapped_model<'a>(endpoint: &'a EndpointConfig, model: &str) -> Option<&'a str> {
    endpoint
        .model_map
        .iter()
        .find(|(pattern, _)| glob_match(pattern, model))
        .map(|(_, to)| to.as_str())
        .filter(|to| *to != model)
}

/// The body with its top-level `model` replaced, or `None` when the body is not a JSON object.
pub fn rewrite_model(body: &[u8], model: &str) -> Option<Bytes> {
    let mut value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object_mut()?;
    object.insert(
        "model".to_string(),
        serde_json::Value::String(model.to_string()),
    );
    serde_json::to_vec(&value).ok().map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    #[test]
    fn model_stream_and_user_id_are_read_from_the_body() {
        let body = br#"{"model":"claude-3-5-haiku-20241022","stream":true,"metadata":{"user_id":"u1"},"messages":[]}"#;
        let f = request_facts(&h(&[]), body);
        assert_eq!(f.model.as_deref(), Some("claude-3-5-haiku-20241022"));
        assert!(f.stream);
        assert_eq!(f.session.as_deref(), Some("user:u1"));
    }

    #[test]
    fn session_headers_win_over_the_body_in_order() {
        let body = br#"{"metadata":{"user_id":"u1"}}"#;
        let f = request_facts(
            &h(&[("x-session-id", "s2"), ("x-claude-code-session-id", "s1")]),
            body,
        );
        assert_eq!(f.session.as_deref(), Some("session:s1"));
        let f = request_facts(&h(&[("x-session-id", "s2")]), body);
        assert_eq!(f.session.as_deref(), Some("session:s2"));
    }

    #[test]
    fn anything_unreadable_gives_empty_facts() {
        for body in [
            &b""[..],
            b"not json",
            b"[1,2]",
            b"{\"model\": 5}",
            b"{\"model\":",
            b"\xff\xfe",
            b"{\"stream\":\"yes\"}",
        ] {
            let f = request_facts(&h(&[]), body);
            assert_eq!(f.model, None);
            assert!(!f.stream);
            let certainly_absent = body.is_empty() || body.starts_with(b"{\"stream\"");
            assert_eq!(f.model_problem.is_none(), certainly_absent, "{body:?}");
        }
        let f = request_facts(&h(&[]), br#"{"metadata": "weird", "model": "m"}"#);
        assert_eq!(f.model.as_deref(), Some("m"));
        assert_eq!(f.session, None);
    }

    #[test]
    fn a_model_named_twice_or_badly_is_a_problem_not_an_absence() {
        for body in [
            &br#"{"model":"haiku-1","model":"opus-big"}"#[..],
            br#"{"model":"haiku-1","mod\u0065l":"opus-big"}"#,
            br#"{"model":["haiku-1"]}"#,
            br#"{"model":null}"#,
            br#"{"model":""}"#,
            br#"{"model":"a"} trailing"#,
            b"model=haiku-1",
        ] {
            let f = request_facts(&h(&[]), body);
            assert_eq!(f.model, None, "{body:?}");
            assert!(f.model_problem.is_some(), "{body:?}");
        }
        let long = format!(r#"{{"model":"{}"}}"#, "m".repeat(300));
        assert!(request_facts(&h(&[]), long.as_bytes())
            .model_problem
            .is_some());
        for body in [&b""[..], b"  \n", br#"{"messages":[]}"#] {
            let f = request_facts(&h(&[]), body);
            assert_eq!((f.model, f.model_problem), (None, None), "{body:?}");
        }
        let f = request_facts(&h(&[]), br#"{"stream":false,"model":"m","stream":true}"#);
        assert_eq!(f.model.as_deref(), Some("m"));
        assert!(
            f.stream,
            "the last `stream` wins, as in the upstream's own parser"
        );
    }

    #[test]
    fn model_map_renames_by_glob_and_the_body_is_rewritten() {
        let c = crate::config::parse(
            "endpoints:\n  - base_url: https://r.example\n    api_key: k\n    model_map: {\"claude-3-5-haiku*\": relay-haiku}\n",
            &|_| None,
        )
        .unwrap();
        let e = &c.endpoints[0];
        assert_eq!(
            mapped_model(e, "claude-3-5-haiku-20241022"),
            Some("relay-haiku")
        );
        assert_eq!(mapped_model(e, "claude-sonnet-4"), None);
        let out = rewrite_model(
            br#"{"model":"claude-3-5-haiku-1","max_tokens":5}"#,
            "relay-haiku",
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["model"], "relay-haiku");
        assert_eq!(v["max_tokens"], 5);
        assert!(rewrite_model(b"[1]", "x").is_none());
    }
}
