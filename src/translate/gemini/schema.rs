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
    if !schema.is_object() {
        return None;
    }
    let mut value: Value = serde_json::from_str(schema.text()).ok()?;
    rewrite(&mut value).then(|| value.to_string())
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

    #[test]
    fn json_schema_already_is_left_as_written() {
        let schema = json!({"type": "object", "properties": {"command": {"type": "string"}},
            "required": ["command"]});
        assert_eq!(converted(schema), None);
        assert_eq!(json_schema(Json::parse(b"\"OBJECT\"").unwrap()), None);
    }
}
