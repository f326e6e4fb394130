//! Gemini's OpenAPI-style schemas as JSON Schema: Gemini takes `type: "OBJECT"` and `nullable`
//! (in `parameters`, `responseSchema`, and from Gemini CLI even in `responseJsonSchema`), which
//! Anthropic and OpenAI refuse or misread.

use crate::translate::lazy::Json;
use serde_json::Value;

/// Members whose values are data, not schemas: nothing in them is rewritten.
const DATA_KEYS: [&str; 4] = ["enum", "const", "default", "examples"];

/// The schema as JSON Schema, when it is not one already: every `type` word lower-cased, and
/// `nullable: true` as a `"null"` type beside the schema's own. `None` when nothing changes (or
/// the text is no JSON object).
pub(crate) fn json_schema(schema: Json<'_>) -> Option<String> {
    if !schema.is_object() || !may_need_rewrite(schema.text()) {
        return None;
    }
    let mut value: Value = serde_json::from_str(schema.text()).ok()?;
    rewrite(&mut value).then(|| value.to_string())
}

/// Whether a schema's text could hold what [`rewrite`] changes: a `nullable`, or a `type` word with
/// an upper-case letter. Most schemas (JSON Schema already) hold neither, and this look at the text
/// spares them a tree of values built and dropped; an escape anywhere, which could spell either in
/// a way the look would miss, sends the schema to the full rewrite.
fn may_need_rewrite(text: &str) -> bool {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    // Built once: a finder costs more to build than most schemas take to search.
    static ESCAPE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\\u"));
    static NULLABLE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"nullable\""));
    static TYPE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"type\""));
    let bytes = text.as_bytes();
    if ESCAPE.find(bytes).is_some() || NULLABLE.find(bytes).is_some() {
        return true;
    }
    let after_space = |at: usize| {
        bytes
            .get(at..)
            .and_then(|rest| rest.iter().position(|b| !b.is_ascii_whitespace()))
            .map(|skipped| at + skipped)
    };
    TYPE.find_iter(bytes).any(|at| {
        let Some(colon) = after_space(at + 6).filter(|&c| bytes[c] == b':') else {
            return false;
        };
        let Some(value) = after_space(colon + 1) else {
            return false;
        };
        // The word, or the list of words, up to its closing quote or bracket.
        let close = match bytes[value] {
            b'"' => b'"',
            b'[' => b']',
            _ => return false,
        };
        let words = bytes.get(value + 1..).unwrap_or_default();
        let words = &words[..memchr::memchr(close, words).unwrap_or(words.len())];
        words.iter().any(|b| b.is_ascii_uppercase() || *b == b'\\')
    })
}

/// Rewrites one schema and the schemas inside it; whether anything changed.
fn rewrite(value: &mut Value) -> bool {
    match value {
        Value::Object(members) => {
            let mut changed = false;
            if let Some(Value::String(kind)) = members.get_mut("type") {
                if kind.chars().any(|c| c.is_ascii_uppercase()) {
                    *kind = kind.to_ascii_lowercase();
                    changed = true;
                }
            }
            if let Some(Value::Array(kinds)) = members.get_mut("type") {
                for kind in kinds.iter_mut() {
                    if let Value::String(word) = kind {
                        if word.chars().any(|c| c.is_ascii_uppercase()) {
                            *word = word.to_ascii_lowercase();
                            changed = true;
                        }
                    }
                }
            }
            if let Some(nullable) = members.remove("nullable") {
                changed = true;
                if nullable == Value::Bool(true) {
                    if let Some(Value::String(kind)) = members.get("type") {
                        let kinds = vec![Value::String(kind.clone()), Value::from("null")];
                        members.insert("type".into(), Value::Array(kinds));
                    }
                }
            }
            for (key, inner) in members.iter_mut() {
                if !DATA_KEYS.contains(&key.as_str()) {
                    changed |= rewrite(inner);
                }
            }
            changed
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, item| rewrite(item) | changed),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn converted(schema: Value) -> Option<Value> {
        let text = schema.to_string();
        json_schema(Json::parse(text.as_bytes()).unwrap())
            .map(|s| serde_json::from_str(&s).unwrap())
    }

    #[test]
    fn gemini_cli_router_schema_gets_lower_case_types() {
        let router = json!({"type": "OBJECT", "properties": {
            "complexity_reasoning": {"type": "STRING", "description": "Brief explanation."},
            "complexity_score": {"type": "INTEGER"}},
            "required": ["complexity_reasoning", "complexity_score"]});
        assert_eq!(
            converted(router).unwrap(),
            json!({"type": "object", "properties": {
                "complexity_reasoning": {"type": "string", "description": "Brief explanation."},
                "complexity_score": {"type": "integer"}},
                "required": ["complexity_reasoning", "complexity_score"]})
        );
    }

    #[test]
    fn nested_items_any_of_and_nullable_are_rewritten_but_data_is_not() {
        let schema = json!({"type": "OBJECT", "properties": {
            "tags": {"type": "ARRAY", "items": {"type": "STRING", "enum": ["A", "B"]}},
            "when": {"anyOf": [{"type": "STRING", "nullable": true}, {"type": "NUMBER"}]},
            "kind": {"type": "STRING", "default": {"type": "KEEP"}}}});
        assert_eq!(
            converted(schema).unwrap(),
            json!({"type": "object", "properties": {
                "tags": {"type": "array", "items": {"type": "string", "enum": ["A", "B"]}},
                "when": {"anyOf": [{"type": ["string", "null"]}, {"type": "number"}]},
                "kind": {"type": "string", "default": {"type": "KEEP"}}}})
        );
    }

    proptest::proptest! {
        /// The look at the text never passes over a schema the rewrite would change.
        #[test]
        fn a_schema_passed_over_is_one_the_rewrite_leaves_alone(schema in schema_like()) {
            let text = schema.to_string();
            let pretty = serde_json::to_string_pretty(&schema).unwrap();
            let mut rewritten = schema.clone();
            if rewrite(&mut rewritten) {
                proptest::prop_assert!(may_need_rewrite(&text) && may_need_rewrite(&pretty));
            }
        }
    }

    /// Objects made of schema words, upper and lower case, `nullable`, data keys and odd texts.
    fn schema_like() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let word = prop_oneof![
            Just("type".to_string()),
            Just("nullable".to_string()),
            Just("enum".to_string()),
            Just("properties".to_string()),
            Just("items".to_string()),
            Just("STRING".to_string()),
            Just("string".to_string()),
            Just("Object".to_string()),
            "[a-zA-Z\"\\\\ ]{0,6}",
        ];
        let leaf = prop_oneof![
            word.clone().prop_map(Value::String),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
            (0u8..9).prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 40, 5, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec((word.clone(), inner), 0..5)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn json_schema_already_is_left_as_written() {
        let schema = json!({"type": "object", "properties": {"command": {"type": "string"}},
            "required": ["command"]});
        assert_eq!(converted(schema), None);
        assert_eq!(json_schema(Json::parse(b"\"OBJECT\"").unwrap()), None);
    }
}
