//! The Gemini reader's and writers' rules, each on the smallest request or answer that shows it.

use crate::translate::{
    answer_usage, is_foreign_header, models_list, translate_answer, translate_gemini_request,
    translate_request, Api, Exchange, RequestOptions, StreamTranslator, ToolName,
};
use serde_json::{json, Value};

/// A Gemini client's request as `upstream` receives it, or the field it was refused for.
fn from_gemini(upstream: Api, request: Value) -> Result<Value, String> {
    translate_gemini_request(
        upstream,
        request.to_string().as_bytes(),
        "gemini-2.5-pro",
        true,
        &RequestOptions::default(),
    )
    .map(|t| serde_json::from_slice(&t.body).unwrap())
    .map_err(|e| e.field().unwrap_or_default().to_string())
}

/// A request of `client`'s API as a Gemini upstream receives it.
fn to_gemini(client: Api, request: Value, model: &str) -> Value {
    let t = translate_request(
        client,
        Api::Gemini,
        request.to_string().as_bytes(),
        &RequestOptions {
            upstream_model: Some(model.into()),
            ..RequestOptions::default()
        },
    )
    .unwrap();
    serde_json::from_slice(&t.body).unwrap()
}

fn call(name: &str, id: Option<&str>) -> Value {
    let mut call = json!({"name": name, "args": {}});
    if let Some(id) = id {
        call["id"] = json!(id);
    }
    json!({"functionCall": call})
}

fn result(name: &str, id: Option<&str>, output: &str) -> Value {
    let mut response = json!({"name": name, "response": {"output": output}});
    if let Some(id) = id {
        response["id"] = json!(id);
    }
    json!({"functionResponse": response})
}

fn contents(model: Vec<Value>, user: Vec<Value>) -> Value {
    json!({"contents": [
        {"role": "user", "parts": [{"text": "go"}]},
        {"role": "model", "parts": model},
        {"role": "user", "parts": user},
    ]})
}

/// Two words: (tool_use id, name) of a call, (tool_use_id, content) of a result.
type Pair = (String, String);

/// The calls of a Messages request's assistant turn and the results after it.
fn pairs(sent: &Value) -> (Vec<Pair>, Vec<Pair>) {
    let blocks = |i: usize| sent["messages"][i]["content"].as_array().unwrap().clone();
    let calls = blocks(1)
        .iter()
        .map(|b| {
            (
                b["id"].as_str().unwrap().into(),
                b["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    let results = blocks(2)
        .iter()
        .filter(|b| b["type"] == "tool_result")
        .map(|b| {
            let content = b["content"].as_str().unwrap().to_string();
            (b["tool_use_id"].as_str().unwrap().into(), content)
        })
        .collect();
    (calls, results)
}

#[test]
fn calls_without_ids_get_made_up_ids_their_results_share_by_name() {
    let request = contents(
        vec![call("ls", None), call("cat", None), call("ls", None)],
        vec![
            result("cat", None, "c"),
            result("ls", None, "l1"),
            result("ls", None, "l2"),
        ],
    );
    let sent = from_gemini(Api::Anthropic, request).unwrap();
    let (calls, results) = pairs(&sent);
    let ids: Vec<&str> = calls.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["call_1_0", "call_1_1", "call_1_2"]);
    assert_eq!(
        results,
        [
            ("call_1_1".to_string(), "c".to_string()),
            ("call_1_0".to_string(), "l1".to_string()),
            ("call_1_2".to_string(), "l2".to_string()),
        ]
    );
}

#[test]
fn a_result_given_twice_reaches_the_upstream_once() {
    let with_ids = contents(
        vec![call("ls", Some("c1"))],
        vec![result("ls", Some("c1"), "a"), result("ls", Some("c1"), "a")],
    );
    let without = contents(
        vec![call("ls", None)],
        vec![result("ls", None, "a"), result("ls", None, "a")],
    );
    for request in [with_ids, without] {
        let sent = from_gemini(Api::Anthropic, request.clone()).unwrap();
        assert_eq!(pairs(&sent).1.len(), 1, "{request}");
        let chat = from_gemini(Api::OpenAi, request).unwrap();
        let tool_messages = chat["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "tool")
            .count();
        assert_eq!(tool_messages, 1);
    }
}

#[test]
fn ids_other_apis_refuse_are_made_valid_alike_on_calls_and_results() {
    let request = contents(
        vec![call("ls", Some("fc/1.a"))],
        vec![result("ls", Some("fc/1.a"), "x")],
    );
    let sent = from_gemini(Api::Anthropic, request).unwrap();
    let (calls, results) = pairs(&sent);
    assert_eq!(calls[0].0, "fc_1_a");
    assert_eq!(results[0].0, "fc_1_a");
}

#[test]
fn an_error_response_is_an_error_result_and_other_responses_their_json() {
    let request = contents(
        vec![call("a", Some("1")), call("b", Some("2"))],
        vec![
            json!({"functionResponse": {"id": "1", "name": "a", "response": {"error": "denied"}}}),
            json!({"functionResponse": {"id": "2", "name": "b", "response": {"rows": [1, 2]}}}),
        ],
    );
    let sent = from_gemini(Api::Anthropic, request).unwrap();
    let results = &sent["messages"][2]["content"];
    assert_eq!(
        results[0],
        json!({"type": "tool_result", "tool_use_id": "1", "content": "denied", "is_error": true})
    );
    assert_eq!(results[1]["content"], r#"{"rows":[1,2]}"#);
}

#[test]
fn what_lives_on_googles_side_or_asks_for_several_answers_is_refused_by_field() {
    let base = || json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let mut cached = base();
    cached["cachedContent"] = json!("cachedContents/abc");
    assert_eq!(
        from_gemini(Api::Anthropic, cached).unwrap_err(),
        "cachedContent"
    );
    let mut several = base();
    several["generationConfig"] = json!({"candidateCount": 2});
    assert_eq!(
        from_gemini(Api::OpenAi, several).unwrap_err(),
        "generationConfig.candidateCount"
    );
    let audio = json!({"contents": [{"role": "user", "parts": [
        {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}}]}]});
    assert_eq!(
        from_gemini(Api::Anthropic, audio).unwrap_err(),
        "contents[0].parts[0].inlineData"
    );
    let file = json!({"contents": [{"role": "user", "parts": [
        {"fileData": {"mimeType": "application/pdf", "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc"}}]}]});
    assert_eq!(
        from_gemini(Api::Anthropic, file).unwrap_err(),
        "contents[0].parts[0].fileData"
    );
    let mut one = base();
    one["generationConfig"] = json!({"candidateCount": 1});
    assert!(from_gemini(Api::Anthropic, one).is_ok());
}

#[test]
fn images_and_pdfs_given_inline_reach_the_upstream() {
    let request = json!({"contents": [{"role": "user", "parts": [
        {"text": "look"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBO"}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBE"}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/a.jpg"}}]}]});
    let sent = from_gemini(Api::Anthropic, request).unwrap();
    let blocks = &sent["messages"][0]["content"];
    assert_eq!(
        blocks[1]["source"],
        json!({"type": "base64", "media_type": "image/png", "data": "iVBO"})
    );
    assert_eq!(blocks[2]["type"], "document");
    assert_eq!(
        blocks[3]["source"],
        json!({"type": "url", "url": "https://example.com/a.jpg"})
    );
}

#[test]
fn function_calling_config_becomes_the_tool_choice() {
    let request = |config: Value| {
        json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "tools": [{"functionDeclarations": [{"name": "a"}, {"name": "b"}]}],
            "toolConfig": {"functionCallingConfig": config}})
    };
    let choice = |config: Value| {
        from_gemini(Api::Anthropic, request(config)).unwrap()["tool_choice"].clone()
    };
    assert_eq!(choice(json!({"mode": "AUTO"})), json!({"type": "auto"}));
    assert_eq!(choice(json!({"mode": "ANY"})), json!({"type": "any"}));
    assert_eq!(
        choice(json!({"mode": "ANY", "allowedFunctionNames": ["b"]})),
        json!({"type": "tool", "name": "b"})
    );
    assert_eq!(choice(json!({"mode": "NONE"})), json!({"type": "none"}));
    let sent = from_gemini(Api::Anthropic, request(json!({}))).unwrap();
    assert!(sent.get("tool_choice").is_none());
    // A declaration without parameters takes any object.
    assert_eq!(
        sent["tools"][0]["input_schema"],
        json!({"type": "object", "properties": {}})
    );
}

#[test]
fn thinking_config_becomes_a_budget_or_an_effort() {
    let request = |thinking: Value| {
        json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "generationConfig": {"thinkingConfig": thinking}})
    };
    let anthropic = |thinking: Value| {
        from_gemini(Api::Anthropic, request(thinking)).unwrap()["thinking"].clone()
    };
    assert_eq!(
        anthropic(json!({"thinkingBudget": 4000})),
        json!({"type": "enabled", "budget_tokens": 4000})
    );
    assert_eq!(anthropic(json!({"thinkingBudget": 0})), Value::Null);
    assert_eq!(
        anthropic(json!({"thinkingBudget": -1}))["budget_tokens"],
        8192
    );
    let chat = |thinking: Value| {
        from_gemini(Api::OpenAi, request(thinking)).unwrap()["reasoning_effort"].clone()
    };
    assert_eq!(chat(json!({"thinkingLevel": "LOW"})), "low");
    assert_eq!(chat(json!({"includeThoughts": true})), Value::Null);
}

#[test]
fn a_json_mime_type_without_a_schema_is_json_object_output() {
    let request = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"responseMimeType": "application/json"}});
    let chat = from_gemini(Api::OpenAi, request.clone()).unwrap();
    assert_eq!(chat["response_format"], json!({"type": "json_object"}));
    assert_eq!(
        from_gemini(Api::Anthropic, request).unwrap_err(),
        "generationConfig.responseMimeType"
    );
    let schema = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"responseMimeType": "application/json",
            "responseSchema": {"type": "ARRAY", "items": {"type": "STRING"}}}});
    assert_eq!(
        from_gemini(Api::Anthropic, schema.clone()).unwrap_err(),
        "generationConfig.responseSchema",
        "a tool's input is an object"
    );
    let chat = from_gemini(Api::OpenAi, schema).unwrap();
    assert_eq!(
        chat["response_format"]["json_schema"]["schema"],
        json!({"type": "array", "items": {"type": "string"}})
    );
}

#[test]
fn thinking_goes_to_gemini_3_as_a_level_and_to_older_models_as_a_budget() {
    let request = json!({"model": "m", "input": "hi", "reasoning": {"effort": "low"}});
    let three = to_gemini(Api::Responses, request.clone(), "gemini-3-pro-preview");
    assert_eq!(
        three["generationConfig"]["thinkingConfig"],
        json!({"includeThoughts": true, "thinkingLevel": "LOW"})
    );
    let older = to_gemini(Api::Responses, request, "gemini-2.5-flash");
    assert_eq!(
        older["generationConfig"]["thinkingConfig"],
        json!({"includeThoughts": true, "thinkingBudget": 2048})
    );
    let none = json!({"model": "m", "input": "hi", "reasoning": {"effort": "minimal"}});
    let sent = to_gemini(Api::Responses, none, "gemini-2.5-pro");
    assert!(sent.get("generationConfig").is_none(), "{sent}");
}

#[test]
fn a_forced_tool_and_none_become_function_calling_config() {
    let request = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}}});
    let sent = to_gemini(Api::OpenAi, request, "gemini-2.5-pro");
    assert_eq!(
        sent["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}})
    );
    let none = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "tool_choice": "none"});
    let sent = to_gemini(Api::OpenAi, none, "gemini-2.5-pro");
    assert_eq!(
        sent["toolConfig"],
        json!({"functionCallingConfig": {"mode": "NONE"}})
    );
}

#[test]
fn a_long_tool_name_is_shortened_for_gemini_and_given_back_whole() {
    let long = format!("mcp__server__{}", "x".repeat(70));
    let request = json!({"model": "claude", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"name": long, "input_schema": {"type": "object"}}]});
    let t = translate_request(
        Api::Anthropic,
        Api::Gemini,
        request.to_string().as_bytes(),
        &RequestOptions::default(),
    )
    .unwrap();
    let sent: Value = serde_json::from_slice(&t.body).unwrap();
    let short = sent["tools"][0]["functionDeclarations"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(short.len() <= 64);
    let answer = json!({"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": short, "args": {}}}]}, "finishReason": "STOP"}]});
    let out = translate_answer(&t.exchange, answer.to_string().as_bytes()).unwrap();
    let out: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(out["content"][0]["name"], long.as_str());
    assert_eq!(out["stop_reason"], "tool_use");
}

#[test]
fn a_codex_custom_tool_on_gemini_is_a_function_whose_call_comes_back_as_custom() {
    let request = json!({"model": "gpt-5-codex", "input": "patch it", "stream": false,
        "tools": [{"type": "custom", "name": "apply_patch", "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}}]});
    let t = translate_request(
        Api::Responses,
        Api::Gemini,
        request.to_string().as_bytes(),
        &RequestOptions::default(),
    )
    .unwrap();
    let sent: Value = serde_json::from_slice(&t.body).unwrap();
    let declaration = &sent["tools"][0]["functionDeclarations"][0];
    assert_eq!(
        declaration["parametersJsonSchema"]["required"],
        json!(["input"])
    );
    assert!(t
        .exchange
        .tool_names
        .iter()
        .any(|n| n.custom && n.client == "apply_patch"));
    let answer = json!({"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "apply_patch", "args": {"input": "*** Begin Patch"}}}]}, "finishReason": "STOP"}],
        "responseId": "r1"});
    let out = translate_answer(&t.exchange, answer.to_string().as_bytes()).unwrap();
    let out: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(out["output"][0]["type"], "custom_tool_call");
    assert_eq!(out["output"][0]["input"], "*** Begin Patch");
    assert_eq!(out["output"][0]["call_id"], "call_r1_0");
}

fn exchange(client: Api, upstream: Api) -> Exchange {
    Exchange {
        client,
        upstream,
        client_model: "client-model".into(),
        upstream_model: "up".into(),
        stream: true,
        include_usage: true,
        created: 0,
        tool_names: Vec::<ToolName>::new(),
    }
}

#[test]
fn a_blocked_prompt_ends_the_answer_as_a_refusal() {
    let blocked = json!({"promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7}});
    let mut ex = exchange(Api::Anthropic, Api::Gemini);
    ex.stream = false;
    let out = translate_answer(&ex, blocked.to_string().as_bytes()).unwrap();
    let out: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(out["stop_reason"], "refusal");
    let mut t = StreamTranslator::for_exchange(&exchange(Api::OpenAi, Api::Gemini)).unwrap();
    let out = t.feed(format!("data: {blocked}\n\n").as_bytes());
    assert!(t.finish().is_ok(), "the stream is whole");
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("\"finish_reason\":\"content_filter\""),
        "{text}"
    );
    assert_eq!(t.usage().input, 7);
}

#[test]
fn a_signed_thought_and_a_signed_call_keep_one_signature_each() {
    let chunk = json!({"candidates": [{"content": {"role": "model", "parts": [
        {"text": "hm", "thought": true, "thoughtSignature": "A"},
        {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "B"}]},
        "finishReason": "STOP"}], "responseId": "r"});
    let mut t = StreamTranslator::for_exchange(&exchange(Api::Anthropic, Api::Gemini)).unwrap();
    let mut out = t.feed(format!("data: {chunk}\n\n").as_bytes());
    out.extend(t.finish().unwrap());
    let text = String::from_utf8(out).unwrap();
    let starts = text.matches("\"type\":\"thinking\"").count();
    assert_eq!(starts, 2, "{text}");
    assert!(text.contains("\"signature\":\"switchyard.gemini.v1:A\""));
    assert!(text.contains("\"signature\":\"switchyard.gemini.v1:B\""));
    let mut ex = exchange(Api::Anthropic, Api::Gemini);
    ex.stream = false;
    let whole = translate_answer(&ex, chunk.to_string().as_bytes()).unwrap();
    let whole: Value = serde_json::from_slice(&whole).unwrap();
    let signatures: Vec<&str> = whole["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["signature"].as_str())
        .collect();
    assert_eq!(
        signatures,
        ["switchyard.gemini.v1:A", "switchyard.gemini.v1:B"]
    );
}

#[test]
fn gemini_signatures_never_reach_anthropic() {
    let request = json!({"model": "claude", "max_tokens": 2000,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [{"role": "user", "content": "go"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "", "signature": "switchyard.gemini.v1:S"},
            {"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}]});
    // Claude Code moved from a Gemini endpoint to a Chat one and on to a Responses one: the
    // thinking is dropped wherever it cannot be read.
    for upstream in [Api::OpenAi, Api::Responses] {
        let t = translate_request(
            Api::Anthropic,
            upstream,
            request.to_string().as_bytes(),
            &RequestOptions::default(),
        )
        .unwrap();
        assert!(!String::from_utf8(t.body)
            .unwrap()
            .contains("switchyard.gemini"));
    }
    let codex = json!({"model": "m", "input": [
        {"type": "message", "role": "user", "content": "go"},
        {"type": "reasoning", "summary": [], "encrypted_content": crate::translate::responses::carry::carry(
            &[crate::translate::responses::carry::thinking_block("", "switchyard.gemini.v1:S")])},
        {"type": "function_call", "call_id": "t1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "t1", "output": "ok"}],
        "reasoning": {"effort": "high"}});
    let t = translate_request(
        Api::Responses,
        Api::Anthropic,
        codex.to_string().as_bytes(),
        &RequestOptions::default(),
    )
    .unwrap();
    let sent: Value = serde_json::from_slice(&t.body).unwrap();
    assert_eq!(sent["messages"][1]["content"][0]["type"], "tool_use");
    assert!(
        sent.get("thinking").is_none(),
        "its last call has no thinking Anthropic can read"
    );
}

#[test]
fn refusals_and_lists_and_usage_speak_gemini() {
    let e = translate_gemini_request(
        Api::Anthropic,
        b"[1]",
        "m",
        false,
        &RequestOptions::default(),
    )
    .unwrap_err();
    let body: Value = serde_json::from_slice(&e.body(Api::Gemini)).unwrap();
    assert_eq!(body["error"]["code"], 400);
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(
        models_list(Api::Gemini, &["gemini-2.5-pro".into()])["models"][0]["name"],
        "models/gemini-2.5-pro"
    );
    let answer = json!({"usageMetadata": {"promptTokenCount": 10, "cachedContentTokenCount": 4,
        "candidatesTokenCount": 3, "thoughtsTokenCount": 2}});
    let usage = answer_usage(Api::Gemini, &answer);
    assert_eq!((usage.input, usage.output, usage.cache_read), (6, 5, 4));
    assert!(is_foreign_header(Api::Anthropic, "x-goog-api-client"));
    assert!(is_foreign_header(
        Api::OpenAi,
        "X-Gemini-Api-Privileged-User-Id"
    ));
    assert!(!is_foreign_header(Api::Gemini, "x-goog-api-client"));
    assert!(is_foreign_header(Api::Gemini, "anthropic-beta"));
}

#[test]
fn a_carried_signature_goes_on_the_next_call_or_else_on_the_next_text() {
    let thought = |s: &str| json!({"type": "thinking", "thinking": "", "signature": format!("switchyard.gemini.v1:{s}")});
    let text = |t: &str| json!({"type": "text", "text": t});
    let call = |id: &str| json!({"type": "tool_use", "id": id, "name": "f", "input": {}});
    // Each turn, and the model parts it becomes: what each is, and its signature.
    let cases = [
        (
            vec![thought("S"), text("a"), call("c1")],
            vec![("a", None), ("c1", Some("S"))],
        ),
        (
            vec![thought("S"), text("a"), text("b")],
            vec![("a", Some("S")), ("b", None)],
        ),
        (
            vec![call("c1"), call("c2")],
            vec![("c1", Some(super::SKIP_SIGNATURE)), ("c2", None)],
        ),
        (
            vec![thought("S"), call("c1"), thought("T"), text("a")],
            vec![("c1", Some("S")), ("a", Some("T"))],
        ),
        (
            vec![text(""), thought("S"), text(""), text("b")],
            vec![("b", Some("S"))],
        ),
        (
            vec![thought("S"), text("a"), thought("T"), call("c1")],
            vec![("a", None), ("c1", Some("T"))],
        ),
    ];
    for (turn, expected) in cases {
        let calls: Vec<Value> = turn
            .iter()
            .filter(|b| b["type"] == "tool_use")
            .map(|b| json!({"type": "tool_result", "tool_use_id": b["id"], "content": "ok"}))
            .collect();
        let after = if calls.is_empty() {
            json!("next")
        } else {
            json!(calls)
        };
        let request = json!({"model": "claude", "max_tokens": 100, "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": turn},
            {"role": "user", "content": after}]});
        let sent = to_gemini(Api::Anthropic, request, "gemini-3-pro-preview");
        let parts: Vec<(&str, Option<&str>)> = sent["contents"][1]["parts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let what = p["text"].as_str().or(p["functionCall"]["id"].as_str());
                (what.unwrap(), p["thoughtSignature"].as_str())
            })
            .collect();
        assert_eq!(parts, expected, "{turn:?}");
    }
}
