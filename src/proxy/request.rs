//! What the gateway reads from a request before routing it: the model, whether it streams, and the
//! sticky-session key. Works on arbitrary bytes and never fails: what cannot be read is absent.

use crate::balancer::sessions::SessionKey;
use crate::config::EndpointConfig;
use crate::scan;
use actix_web::http::header::HeaderMap;
use bytes::Bytes;
use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

/// Facts about one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFacts {
    /// The top-level `model`, when it was read with certainty (shared by the request's log line,
    /// the Balancer's question and the usage record).
    pub model: Option<Arc<str>>,
    /// Why the model could not be read with certainty, or may not be used. `None` when it was
    /// read or is certainly absent.
    pub model_problem: Option<ModelProblem>,
    pub stream: bool,
    pub session: Option<SessionKey>,
    /// True when the whole body was scanned and no string in it begins with the mark of what the
    /// gateway carries between APIs ([`scan::MARK`]): a passthrough has nothing of another API's
    /// to take out, and is not searched for it.
    pub no_carried_signatures: bool,
    /// Where the first element of a top-level `contents` array lies in the body (a Gemini
    /// request's first turn), found by the same scan: [`gemini_facts`] keys the session on it.
    pub first_content: Option<Range<usize>>,
}

/// What is wrong with a request's `model`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelProblem {
    /// It cannot be read with certainty (a body that is not JSON, `model` named twice, not a
    /// string, empty or too long): refused while any endpoint's model rules depend on it.
    Uncertain(String),
    /// It has control characters (a terminal escape, a line break): refused always, since the
    /// name would reach logs, tables and the usage history.
    ControlCharacters,
}

impl std::fmt::Display for ModelProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelProblem::Uncertain(why) => f.write_str(why),
            ModelProblem::ControlCharacters => {
                f.write_str("`model` contains control characters; send a plain model name")
            }
        }
    }
}

/// Longest session key or model name taken from a request.
const MAX_FIELD: usize = 256;

/// Reads the model, `stream` and session key from a request's headers and JSON body. Only the
/// top level of the body is scanned, and only the values routing needs are parsed: `model`,
/// `stream`, and `prompt_cache_key` or `metadata` when no header names the session.
pub fn request_facts(headers: &HeaderMap, body: &[u8]) -> RequestFacts {
    let mut facts = RequestFacts {
        session: header_session(headers),
        ..RequestFacts::default()
    };
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return facts;
    }
    let members = match scan::top_level(body) {
        Ok(top) => {
            facts.no_carried_signatures = !top.marked;
            top.members
        }
        Err(e) => {
            facts.model_problem = Some(ModelProblem::Uncertain(format!(
                "the body is not a JSON object ({e})"
            )));
            return facts;
        }
    };
    // The last of duplicate keys, as the upstream's own parser reads it.
    let span = |key: &str| -> Option<Range<usize>> {
        Some(members.iter().rev().find(|m| m.key == key)?.value.clone())
    };
    let value = |key: &str| -> Option<&[u8]> { span(key).map(|at| &body[at]) };
    let mut models = members.iter().filter(|m| m.key == "model");
    match (models.next(), models.next()) {
        (None, _) => {}
        (Some(one), None) => match json_string(&body[one.value.clone()]) {
            Some(m) if crate::text::has_controls(&m) => {
                facts.model_problem = Some(ModelProblem::ControlCharacters);
            }
            Some(m) if !m.is_empty() && m.len() <= MAX_FIELD => {
                facts.model = Some(shared_model(&m))
            }
            Some(_) => {
                facts.model_problem = Some(ModelProblem::Uncertain(format!(
                    "`model` is empty or longer than {MAX_FIELD} bytes"
                )));
            }
            None => {
                facts.model_problem = Some(ModelProblem::Uncertain(
                    "`model` is not a string".to_string(),
                ))
            }
        },
        (Some(_), Some(_)) => {
            facts.model_problem = Some(ModelProblem::Uncertain(
                "the body names `model` more than once".to_string(),
            ))
        }
    }
    facts.stream = value("stream").is_some_and(|s| s == b"true");
    if let Some(contents) = span("contents") {
        let at = contents.start;
        facts.first_content =
            scan::first_element(&body[contents]).map(|first| at + first.start..at + first.end);
    }
    if facts.session.is_none() {
        // OpenAI's cache key (Chat and Responses; Codex CLI sends its session id in it), then the
        // user an Anthropic request names (Claude Code's carries its session).
        let usable = |text: &Cow<'_, str>| !text.is_empty() && text.len() <= MAX_FIELD;
        facts.session = value("prompt_cache_key")
            .and_then(json_string)
            .filter(usable)
            .map(|key| SessionKey::from_cache_key(&key))
            .or_else(|| {
                value("metadata")
                    .and_then(|metadata| {
                        let members = scan::top_level_members(metadata).ok()?;
                        let user = members.iter().rev().find(|m| m.key == "user_id")?;
                        json_string(&metadata[user.value.clone()])
                    })
                    .filter(usable)
                    .map(|u| SessionKey::from_user(&u))
            });
    }
    facts
}

/// A Gemini client names its model and whether it streams in the path
/// (`/v1beta/models/{model}:streamGenerateContent`), not the body: they replace what the body said.
/// Gemini CLI names no session either (no header, nothing in the body), but every request of a
/// conversation begins with the same first content (its `<session_context>` and the first
/// prompt, resent unchanged): that content is the session, unless a header named one.
pub fn gemini_facts(path: &str, body: &[u8], facts: &mut RequestFacts) {
    use crate::translate::{GeminiCall, GeminiMethod};
    let Some(call) = GeminiCall::of_path(path) else {
        return;
    };
    if facts.session.is_none() && call.method != GeminiMethod::CountTokens {
        facts.session = facts
            .first_content
            .clone()
            .and_then(|at| body.get(at))
            .map(SessionKey::from_first_content);
    }
    facts.stream = call.method == GeminiMethod::StreamGenerate;
    facts.model_problem = None;
    facts.model = None;
    let model = call.model;
    if crate::text::has_controls(&model) {
        facts.model_problem = Some(ModelProblem::ControlCharacters);
    } else if model.is_empty() || model.len() > MAX_FIELD {
        facts.model_problem = Some(ModelProblem::Uncertain(format!(
            "the model in the path is empty or longer than {MAX_FIELD} bytes"
        )));
    } else {
        facts.model = Some(shared_model(&model));
    }
}

/// The name `endpoint` receives for `model` ([`EndpointConfig::upstream_model`]), sharing
/// `model` itself when the endpoint does not rename it.
pub fn upstream_model(endpoint: &EndpointConfig, model: &Arc<str>) -> Arc<str> {
    endpoint
        .upstream_model(model)
        .map_or_else(|| model.clone(), shared_model)
}

/// Model names read from requests, shared: clients name the same few models request after
/// request, and a request's facts, attempts and usage record all hold its name. Bounded, so that
/// a client naming ever new models cannot grow it; the oldest name makes room.
#[derive(Debug, Default)]
pub struct ModelNames {
    names: Vec<Arc<str>>,
    /// Where the next new name goes once the list is full.
    next: usize,
}

impl ModelNames {
    /// Names kept.
    pub const LIMIT: usize = 32;

    /// `name`, shared with the earlier requests that named it.
    pub fn shared(&mut self, name: &str) -> Arc<str> {
        if let Some(known) = self.names.iter().find(|known| ***known == *name) {
            return known.clone();
        }
        let made: Arc<str> = Arc::from(name);
        if self.names.len() < Self::LIMIT {
            self.names.push(made.clone());
        } else {
            self.names[self.next] = made.clone();
            self.next = (self.next + 1) % Self::LIMIT;
        }
        made
    }
}

thread_local! {
    /// This worker's model names (a worker's requests run on its thread).
    static MODEL_NAMES: std::cell::RefCell<ModelNames> = std::cell::RefCell::default();
}

/// A model name shared through this worker's [`ModelNames`].
fn shared_model(name: &str) -> Arc<str> {
    MODEL_NAMES.with(|names| match names.try_borrow_mut() {
        Ok(mut names) => names.shared(name),
        Err(_) => Arc::from(name),
    })
}

/// A JSON string's text: borrowed from the body when it has no escapes; `None` for any other
/// value.
fn json_string(value: &[u8]) -> Option<Cow<'_, str>> {
    // The usual case, a model name: quoted, with nothing to unescape.
    if let [b'"', inner @ .., b'"'] = value {
        // Every byte looked at, without a branch per byte: a model name is short.
        let plain = inner.iter().fold(true, |plain, &b| {
            plain & (b != b'\\') & (b != b'"') & (b >= 0x20)
        });
        if plain {
            return std::str::from_utf8(inner).ok().map(Cow::Borrowed);
        }
    }
    match serde_json::from_slice::<&str>(value) {
        Ok(text) => Some(Cow::Borrowed(text)),
        Err(_) => serde_json::from_slice::<String>(value).ok().map(Cow::Owned),
    }
}

/// The session a header names: `x-claude-code-session-id` (Claude Code), `x-session-id`, or
/// `session-id` (Codex CLI, which sends its session id as `thread-id` and `x-client-request-id`
/// too), in that order.
fn header_session(headers: &HeaderMap) -> Option<SessionKey> {
    use crate::upstream::headers::names::{SESSION_ID, X_CLAUDE_CODE_SESSION_ID, X_SESSION_ID};
    [X_CLAUDE_CODE_SESSION_ID, X_SESSION_ID, SESSION_ID]
        .iter()
        .find_map(|name| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.len() <= MAX_FIELD)
        })
        .map(SessionKey::from_header)
}

/// Whether any endpoint limits its models or renames them: then a request's model must be read
/// with certainty, or the request goes nowhere.
pub fn model_rules_apply(endpoints: &[EndpointConfig]) -> bool {
    endpoints
        .iter()
        .any(|e| !e.models.is_empty() || !e.model_map.is_empty())
}

/// The body with its one top-level `model` replaced, spliced into the bytes (nothing else is
/// touched or re-serialised), or `None` when the body has no single top-level `model`.
pub fn rewrite_model(body: &[u8], model: &str) -> Option<Bytes> {
    let members = scan::top_level_members(body).ok()?;
    let mut models = members.iter().filter(|m| m.key == "model");
    let span = models.next()?.value.clone();
    if models.next().is_some() {
        return None;
    }
    let name = serde_json::to_vec(model).ok()?;
    let mut out = Vec::with_capacity(body.len() - span.len() + name.len());
    out.extend_from_slice(&body[..span.start]);
    out.extend_from_slice(&name);
    out.extend_from_slice(&body[span.end..]);
    Some(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    #[test]
    fn a_model_named_again_shares_its_name_and_new_names_take_the_oldest_place() {
        let mut names = ModelNames::default();
        let first = names.shared("claude-sonnet-4-5");
        assert!(Arc::ptr_eq(&first, &names.shared("claude-sonnet-4-5")));
        assert_eq!(&*names.shared("gpt-5"), "gpt-5");
        for n in 0..ModelNames::LIMIT {
            names.shared(&format!("model-{n}"));
        }
        assert_eq!(names.names.len(), ModelNames::LIMIT);
        let again = names.shared("claude-sonnet-4-5");
        assert_eq!(&*again, "claude-sonnet-4-5");
        assert!(!Arc::ptr_eq(&first, &again), "pushed out, made anew");
    }

    /// What serde_json reads from `value` as a string: the reference [`json_string`] keeps to.
    fn serde_string(value: &[u8]) -> Option<String> {
        serde_json::from_slice::<String>(value).ok()
    }

    #[test]
    fn a_json_string_reads_as_serde_json_reads_it() {
        let cases: [&[u8]; 14] = [
            b"\"claude-sonnet-4-5\"",
            b"\"\"",
            b"\"caf\xc3\xa9\"",
            b"\"caf\xc3\"",
            b"\"tab\there\"",
            b"\"new\\nline\"",
            b"\"\\u00e9\"",
            b"\"\\\"",
            b"\"a\"b\"",
            b"\"",
            b"12",
            b"null",
            b" \"spaced\" ",
            b"\"\x7f\"",
        ];
        for value in cases {
            assert_eq!(
                json_string(value).map(Cow::into_owned),
                serde_string(value),
                "{:?}",
                String::from_utf8_lossy(value)
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_read_as_a_json_string_as_serde_json_reads_them(
            inner in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..24),
        ) {
            let mut value = vec![b'"'];
            value.extend_from_slice(&inner);
            value.push(b'"');
            proptest::prop_assert_eq!(json_string(&value).map(Cow::into_owned), serde_string(&value));
        }
    }

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
        assert_eq!(f.session.as_ref().map(SessionKey::as_str), Some("user:u1"));
    }

    #[test]
    fn a_body_is_known_to_carry_no_signature_only_when_scanned_whole_without_the_mark() {
        let carries = |body: &str| !request_facts(&h(&[]), body.as_bytes()).no_carried_signatures;
        assert!(!carries(
            r#"{"model":"m","messages":[{"role":"user","content":"see switchyard.gemini.v1: in text"}]}"#
        ));
        let signed = r#"{"model":"m","messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"switchyard.gemini.v1:c2ln"}]}]}"#;
        assert!(carries(signed));
        // Not scanned whole: not known.
        assert!(carries(r#"{"model":"m","messages":[1}"#));
        assert!(carries(""));
    }

    #[test]
    fn session_headers_win_over_the_body_in_order() {
        let body = br#"{"metadata":{"user_id":"u1"}}"#;
        let f = request_facts(
            &h(&[("x-session-id", "s2"), ("x-claude-code-session-id", "s1")]),
            body,
        );
        assert_eq!(
            f.session.as_ref().map(SessionKey::as_str),
            Some("session:s1")
        );
        let f = request_facts(&h(&[("x-session-id", "s2")]), body);
        assert_eq!(
            f.session.as_ref().map(SessionKey::as_str),
            Some("session:s2")
        );
    }

    #[test]
    fn codex_and_openai_clients_are_kept_apart_by_their_session_header_or_cache_key() {
        let session = |headers: &[(&str, &str)], body: &str| {
            request_facts(&h(headers), body.as_bytes())
                .session
                .map(|s| s.as_str().to_string())
        };
        // Codex CLI: `session-id` (and the same id as `prompt_cache_key` in its body).
        let codex = r#"{"model":"gpt-5.5","prompt_cache_key":"01a2","input":[]}"#;
        assert_eq!(
            session(&[("session-id", "01a2"), ("thread-id", "01a2")], codex).as_deref(),
            Some("session:01a2")
        );
        // Any Chat or Responses client's cache key, before an Anthropic user.
        assert_eq!(session(&[], codex).as_deref(), Some("cache:01a2"));
        assert_eq!(
            session(
                &[],
                r#"{"prompt_cache_key":"k","metadata":{"user_id":"u"}}"#
            )
            .as_deref(),
            Some("cache:k")
        );
        for unusable in [r#"{"prompt_cache_key":""}"#, r#"{"prompt_cache_key":7}"#] {
            assert_eq!(session(&[], unusable), None, "{unusable}");
        }
        let long = format!(r#"{{"prompt_cache_key":"{}"}}"#, "k".repeat(300));
        assert_eq!(session(&[], &long), None);
    }

    #[test]
    fn a_gemini_conversation_is_known_by_its_first_content() {
        let first = r#"{"role":"user","parts":[{"text":"<session_context>\nThis is the Gemini CLI."},{"text":"list files"}]}"#;
        let turn = |rest: &str| {
            format!(r#"{{"contents":[{first}{rest}],"systemInstruction":{{"parts":[]}}}}"#)
        };
        let facts = |path: &str, body: &str| {
            let mut f = request_facts(&h(&[]), body.as_bytes());
            gemini_facts(path, body.as_bytes(), &mut f);
            f.session.map(|s| s.as_str().to_string())
        };
        let stream = "/v1beta/models/gemini-2.5-pro:streamGenerateContent";
        let one = facts(stream, &turn("")).expect("a session");
        let later = turn(
            r#",{"role":"model","parts":[{"text":"a b"}]},{"role":"user","parts":[{"text":"more"}]}"#,
        );
        assert_eq!(facts(stream, &later).as_deref(), Some(one.as_str()));
        let other = r#"{"contents":[{"role":"user","parts":[{"text":"another conversation"}]}]}"#;
        assert_ne!(facts(stream, other).as_deref(), Some(one.as_str()));
        assert!(one.starts_with("contents:") && !one.contains("session_context"));
        // A counted request is no conversation; nothing to read is no session.
        assert_eq!(
            facts("/v1beta/models/gemini-2.5-pro:countTokens", &turn("")),
            None
        );
        assert_eq!(facts(stream, r#"{"contents":[]}"#), None);
        assert_eq!(facts(stream, "not json"), None);
        // A header still names the session first.
        let mut f = request_facts(&h(&[("x-session-id", "s")]), turn("").as_bytes());
        gemini_facts(stream, turn("").as_bytes(), &mut f);
        assert_eq!(
            f.session.map(|s| s.as_str().to_string()).as_deref(),
            Some("session:s")
        );
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
            e.upstream_model("claude-3-5-haiku-20241022"),
            Some("relay-haiku")
        );
        assert_eq!(e.upstream_model("claude-sonnet-4"), None);
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
