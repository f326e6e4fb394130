//! The mock's Gemini API rules, one test per rule: what it accepts (every request real Gemini CLI
//! sent), what it refuses and with which error, and what it answers with.

use super::check::Refusal;
use super::*;
use crate::mock::OpenAiAnswer;

fn fixture(name: &str) -> &'static str {
    match name {
        "router" => include_str!("../../../tests/fixtures/gemini-cli/router.request.json"),
        "auto-turn1" => include_str!("../../../tests/fixtures/gemini-cli/auto-turn1.request.json"),
        "auto-turn2" => include_str!("../../../tests/fixtures/gemini-cli/auto-turn2.request.json"),
        "25pro-turn2" => {
            include_str!("../../../tests/fixtures/gemini-cli/25pro-turn2.request.json")
        }
        "chain-turn3" => {
            include_str!("../../../tests/fixtures/gemini-cli/chain-turn3.request.json")
        }
        "resume-turn" => {
            include_str!("../../../tests/fixtures/gemini-cli/resume-turn.request.json")
        }
        _ => panic!("no fixture {name}"),
    }
}

/// The capturing mock's signatures (`MOCK-SIG-…`) swapped for this mock's own.
fn with_our_signatures(mut request: Value) -> Value {
    for content in request["contents"].as_array_mut().unwrap() {
        for part in content["parts"].as_array_mut().unwrap() {
            let Some(signature) = part.get("thoughtSignature").and_then(Value::as_str) else {
                continue;
            };
            if signature == SKIP_SIGNATURE {
                continue;
            }
            let ours = match part["functionCall"]["name"].as_str() {
                Some(name) => call_signature(name),
                None => TEXT_SIGNATURE.to_string(),
            };
            part["thoughtSignature"] = json!(ours);
        }
    }
    request
}

fn check(request: &Value, model: &str) -> Result<Value, Refusal> {
    check_request(request.to_string().as_bytes(), model)
}

fn refusal(request: Value) -> Refusal {
    check(&request, "gemini-2.5-flash").expect_err("the request should be refused")
}

fn accepted(request: Value) -> Value {
    check(&request, "gemini-2.5-flash").unwrap_or_else(|r| panic!("refused: {r:?}"))
}

fn user(text: &str) -> Value {
    json!({"role": "user", "parts": [{"text": text}]})
}

fn call(name: &str, signature: Option<&str>) -> Value {
    let mut part = json!({"functionCall": {"id": "c1", "name": name, "args": {"command": "ls"}}});
    if let Some(s) = signature {
        part["thoughtSignature"] = json!(s);
    }
    json!({"role": "model", "parts": [part]})
}

fn response(name: &str) -> Value {
    json!({"role": "user", "parts": [{"functionResponse": {"id": "c1", "name": name,
        "response": {"output": "a.txt"}}}]})
}

fn with_contents(contents: Value) -> Value {
    json!({ "contents": contents })
}

/// A request with thinking on (as Gemini CLI asks for it).
fn thinking(contents: Value) -> Value {
    json!({"contents": contents,
        "generationConfig": {"thinkingConfig": {"includeThoughts": true, "thinkingLevel": "HIGH"}}})
}

fn says(r: &Refusal) -> (u16, &str) {
    (r.status, r.message.as_str())
}

#[test]
fn every_request_real_gemini_cli_sent_is_accepted() {
    for (name, model) in [
        ("router", "gemini-3.5-flash-lite"),
        ("auto-turn1", "gemini-3.8-flash"),
        ("auto-turn2", "gemini-3.8-flash"),
        ("25pro-turn2", "gemini-2.5-pro"),
        ("chain-turn3", "gemini-3.8-flash"),
        ("resume-turn", "gemini-3.1-pro-preview"),
    ] {
        let request = with_our_signatures(serde_json::from_str(fixture(name)).unwrap());
        if let Err(r) = check(&request, model) {
            panic!("{name} refused: {r:?}");
        }
    }
}

#[test]
fn an_unknown_top_level_field_is_refused_by_name() {
    let r = refusal(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}));
    assert_eq!(
        says(&r),
        (
            400,
            "Invalid JSON payload received. Unknown name \"messages\": Cannot find field."
        )
    );
    assert_eq!(
        r.details,
        Some(
            json!([{"@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"description": r.message}]}])
        )
    );
    let body = r.response();
    assert_eq!(body.status().as_u16(), 400);
}

#[test]
fn both_spellings_of_a_field_are_accepted() {
    accepted(json!({
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "system_instruction": {"parts": [{"text": "Be brief."}]},
        "generation_config": {"max_output_tokens": 100, "thinking_config": {"include_thoughts": true}},
        "tools": [{"function_declarations": [{"name": "ls", "parameters_json_schema": {"type": "object"}}]}],
    }));
}

#[test]
fn contents_must_be_given_and_each_must_have_parts() {
    let r = refusal(json!({"generationConfig": {}}));
    assert_eq!(
        says(&r),
        (
            400,
            "* GenerateContentRequest.contents: contents is not specified\n"
        )
    );
    let r = refusal(with_contents(json!([{"role": "user", "parts": []}])));
    assert_eq!(
        r.message,
        "* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.\n"
    );
}

#[test]
fn a_role_other_than_user_or_model_is_refused() {
    for role in ["assistant", "system", "tool", "function"] {
        let r = refusal(with_contents(json!([
            user("hi"),
            {"role": role, "parts": [{"text": "x"}]}
        ])));
        assert_eq!(says(&r), (400, "Please use a valid role: user, model."));
    }
    accepted(with_contents(
        json!([{"parts": [{"text": "no role is a user"}]}]),
    ));
}

#[test]
fn a_part_in_another_apis_shape_is_refused_by_its_unknown_name() {
    let r = refusal(with_contents(
        json!([{"role": "user", "parts": [{"type": "text", "text": "hi"}]}]),
    ));
    assert_eq!(
        r.message,
        "Invalid JSON payload received. Unknown name \"type\" at 'contents[0].parts[0]': Cannot find field."
    );
    let r = refusal(with_contents(
        json!([{"role": "user", "parts": [{"thought": true}]}]),
    ));
    assert_eq!(
        r.message,
        "* GenerateContentRequest.contents[0].parts[0].data: required oneof field 'data' must have one initialized field\n"
    );
}

#[test]
fn an_unknown_generation_config_field_is_refused() {
    let r = refusal(json!({"contents": [user("hi")], "generationConfig": {"max_tokens": 10}}));
    assert_eq!(
        r.message,
        "Invalid JSON payload received. Unknown name \"max_tokens\" at 'generation_config': Cannot find field."
    );
    let r = refusal(json!({"contents": [user("hi")],
        "generationConfig": {"thinkingConfig": {"budget_tokens": 1024}}}));
    assert!(r.message.contains("at 'generation_config.thinking_config'"));
}

#[test]
fn a_function_response_needs_a_call_of_its_name_in_the_model_turn_before_it() {
    accepted(with_contents(json!([
        user("ls"),
        call("run_shell_command", None),
        response("run_shell_command")
    ])));
    let orphan = refusal(with_contents(json!([
        user("ls"),
        response("run_shell_command")
    ])));
    assert_eq!(
        says(&orphan),
        (
            400,
            "Please ensure that function response turn comes immediately after a function call turn."
        )
    );
    let other = refusal(with_contents(json!([
        user("ls"),
        call("run_shell_command", None),
        response("read_file")
    ])));
    assert_eq!(
        other.message,
        "* GenerateContentRequest.contents[2].parts[0].function_response.name: function response \
         `read_file` answers no function call of the preceding model turn (which calls \
         run_shell_command).\n"
    );
    let late = refusal(with_contents(json!([
        user("ls"),
        call("run_shell_command", None),
        user("wait"),
        response("run_shell_command"),
    ])));
    assert_eq!(late.message, orphan.message);
}

fn declaration(fields: Value) -> Value {
    json!({"contents": [user("hi")], "tools": [{"functionDeclarations": [fields]}]})
}

#[test]
fn a_declaration_with_both_parameters_and_parameters_json_schema_is_refused() {
    let r = refusal(declaration(json!({"name": "ls",
        "parameters": {"type": "OBJECT"}, "parametersJsonSchema": {"type": "object"}})));
    assert_eq!(
        says(&r),
        (
            400,
            "* GenerateContentRequest.tools[0].function_declarations[0].parameters_json_schema: \
             parameters_json_schema and parameters cannot both be set; use one of them.\n"
        )
    );
}

#[test]
fn parameters_take_the_openapi_subset_and_parameters_json_schema_any_json_schema() {
    let json_schema = json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
        "properties": {"path": {"type": ["string", "null"]}}, "additionalProperties": false});
    accepted(declaration(
        json!({"name": "read", "parametersJsonSchema": json_schema}),
    ));
    let r = refusal(declaration(
        json!({"name": "read", "parameters": json_schema}),
    ));
    assert_eq!(
        r.message,
        "Invalid JSON payload received. Unknown name \"$schema\" at 'tools[0].function_declarations[0].parameters': Cannot find field."
    );
    let r = refusal(declaration(
        json!({"name": "read", "parameters": {"type": "OBJECT",
        "properties": {"path": {"type": ["string", "null"]}}}}),
    ));
    assert_eq!(
        r.message,
        "Invalid JSON payload received. Unknown name \"type\" at 'tools[0].function_declarations[0].parameters.properties[0].value': Proto field is not repeating, cannot start list."
    );
    accepted(declaration(
        json!({"name": "read", "parameters": {"type": "OBJECT",
        "properties": {"path": {"type": "STRING", "nullable": true}}, "required": ["path"]}}),
    ));
}

#[test]
fn a_declaration_in_another_apis_shape_or_with_a_bad_name_is_refused() {
    let r = refusal(declaration(
        json!({"name": "Bash", "input_schema": {"type": "object"}}),
    ));
    assert!(r.message.contains("Unknown name \"input_schema\""));
    let r = refusal(json!({"contents": [user("hi")], "tools": [{"type": "function"}]}));
    assert!(r.message.contains("Unknown name \"type\" at 'tools[0]'"));
    let r = refusal(declaration(json!({"name": "9lives"})));
    assert!(r.message.starts_with(
        "* GenerateContentRequest.tools[0].function_declarations[0].name: Invalid function name."
    ));
    accepted(declaration(json!({"name": "mcp__github.create-issue"})));
    accepted(
        json!({"contents": [user("hi")], "tools": [{"googleSearch": {}}, {"codeExecution": {}}]}),
    );
}

#[test]
fn with_thinking_on_a_call_of_the_current_turn_needs_its_thought_signature() {
    let unsigned = json!([
        user("ls"),
        call("run_shell_command", None),
        response("run_shell_command")
    ]);
    let r = refusal(thinking(unsigned.clone()));
    assert_eq!(
        says(&r),
        (
            400,
            "Function call is missing a thought_signature in functionCall parts. This is required \
             for tools to work correctly, and missing thought_signature may lead to degraded model \
             performance. Additional data, function call `default_api:run_shell_command` , \
             position 2. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures \
             for more details."
        )
    );
    // Without thinking the signature is not required, except on Gemini 3, which always thinks.
    accepted(with_contents(unsigned.clone()));
    assert!(check(&with_contents(unsigned.clone()), "gemini-3-flash-preview").is_err());
    let skip = json!([
        user("ls"),
        call("run_shell_command", Some(SKIP_SIGNATURE)),
        response("run_shell_command")
    ]);
    accepted(thinking(skip));
    let signed = json!([
        user("ls"),
        call(
            "run_shell_command",
            Some(&call_signature("run_shell_command"))
        ),
        response("run_shell_command")
    ]);
    accepted(thinking(signed));
}

#[test]
fn only_the_current_turn_and_the_first_of_parallel_calls_are_checked() {
    // An unsigned call before the last user text belongs to an earlier turn.
    accepted(thinking(json!([
        user("ls"),
        call("run_shell_command", None),
        response("run_shell_command"),
        {"role": "model", "parts": [{"text": "Done."}]},
        user("thanks"),
    ])));
    let parallel = json!({"role": "model", "parts": [
        {"functionCall": {"name": "read_file", "args": {}}, "thoughtSignature": call_signature("read_file")},
        {"functionCall": {"name": "glob", "args": {}}},
    ]});
    let results = json!({"role": "user", "parts": [
        {"functionResponse": {"name": "read_file", "response": {"output": "x"}}},
        {"functionResponse": {"name": "glob", "response": {"output": "y"}}},
    ]});
    accepted(thinking(json!([user("look"), parallel, results])));
}

#[test]
fn a_signature_the_mock_did_not_give_is_refused_as_corrupted() {
    let foreign = json!([
        user("ls"),
        call(
            "run_shell_command",
            Some("EqQBCkYIBxgCKkAnthropicSignature")
        ),
        response("run_shell_command")
    ]);
    let r = refusal(with_contents(foreign));
    assert_eq!(says(&r), (400, "Corrupted thought signature."));
    let swapped = json!([
        user("ls"),
        call("run_shell_command", Some(&call_signature("read_file"))),
        response("run_shell_command")
    ]);
    assert_eq!(
        refusal(thinking(swapped)).message,
        "Corrupted thought signature."
    );
    accepted(with_contents(json!([
        user("hi"),
        {"role": "model", "parts": [{"text": "Hello.", "thoughtSignature": TEXT_SIGNATURE}]},
        user("again"),
    ])));
}

#[test]
fn a_body_that_is_not_a_json_object_is_refused() {
    let r = check_request(b"not json", "m").unwrap_err();
    assert_eq!(
        says(&r),
        (400, "Invalid JSON payload received. Unexpected token.")
    );
    let r = check_request(b"[]", "m").unwrap_err();
    assert_eq!(
        r.message,
        "Invalid JSON payload received. Unknown name \"\": Root element must be a message."
    );
}

fn scripted(reasoning: Option<&str>, calls: &[(&str, &str)]) -> Behaviour {
    Behaviour {
        name: "m".into(),
        openai: Some(OpenAiAnswer {
            reasoning: reasoning.map(str::to_string),
            tool_calls: calls
                .iter()
                .map(|(n, a)| (n.to_string(), a.to_string()))
                .collect(),
            argument_pieces: 2,
        }),
        ..Behaviour::default()
    }
}

#[test]
fn the_scripted_call_comes_after_a_thought_and_carries_its_signature() {
    let b = scripted(
        Some("Need to run it."),
        &[("run_shell_command", r#"{"command":"echo MARKER-1"}"#)],
    );
    let answer = plan_answer(
        &b,
        &thinking(json!([user("run it")])),
        "gemini-3.8-flash",
        4,
    );
    let whole = answer.whole();
    let candidate = &whole["candidates"][0];
    assert_eq!(
        candidate["content"]["parts"],
        json!([
            {"text": "Need to run it.", "thought": true},
            {"functionCall": {"id": "mockcall-4-0", "name": "run_shell_command",
                "args": {"command": "echo MARKER-1"}},
             "thoughtSignature": call_signature("run_shell_command")},
        ])
    );
    assert_eq!(candidate["finishReason"], "STOP");
    assert_eq!(whole["responseId"], "mockresp-4");
    assert_eq!(whole["modelVersion"], "gemini-3.8-flash");
    assert_eq!(
        whole["usageMetadata"],
        json!({"promptTokenCount": 2400, "cachedContentTokenCount": 1920,
            "candidatesTokenCount": 1, "thoughtsTokenCount": 4, "totalTokenCount": 2405,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 2400}],
            "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 1920}]})
    );
    // Without includeThoughts the thinking is counted but not shown.
    let quiet = json!({"contents": [user("run it")],
        "generationConfig": {"thinkingConfig": {"thinkingBudget": 8192}}});
    let answer = plan_answer(&b, &quiet, "gemini-2.5-pro", 5);
    assert_eq!(answer.thought, None);
    assert_eq!(answer.thought_tokens, 4);
}

#[test]
fn parallel_calls_are_signed_on_the_first_only() {
    let b = scripted(None, &[("read_file", "{}"), ("glob", r#"{"pattern":"*"}"#)]);
    let answer = plan_answer(
        &b,
        &with_contents(json!([user("look")])),
        "gemini-2.5-flash",
        1,
    );
    assert_eq!(
        answer.calls[0]["thoughtSignature"],
        call_signature("read_file")
    );
    assert!(answer.calls[1].get("thoughtSignature").is_none());
    assert_eq!(answer.calls[1]["functionCall"]["id"], "mockcall-1-1");
}

#[test]
fn once_the_call_is_answered_the_text_quotes_the_output() {
    let b = scripted(
        Some("Done."),
        &[("run_shell_command", r#"{"command":"echo MARKER-1"}"#)],
    );
    let contents = json!([
        user("run it"),
        call("run_shell_command", Some(&call_signature("run_shell_command"))),
        {"role": "user", "parts": [{"functionResponse": {"name": "run_shell_command",
            "response": {"output": "Output: MARKER-1\n"}}}]},
    ]);
    let answer = plan_answer(&b, &thinking(contents), "gemini-3.8-flash", 2);
    assert!(answer.calls.is_empty());
    assert_eq!(
        answer.text.concat(),
        "m read the tool output: Output: MARKER-1"
    );
    assert_eq!(answer.text.len(), 3);
    assert_eq!(answer.thought.as_deref(), Some("Done."));
    assert_eq!(answer.text_signature.as_deref(), Some(TEXT_SIGNATURE));
}

#[test]
fn without_a_script_the_answer_is_the_plain_text() {
    let answer = plan_answer(
        &Behaviour::default(),
        &with_contents(json!([user("hi")])),
        "gemini-2.5-flash",
        1,
    );
    assert_eq!(answer.text, ["Hello from mock:", " word1", " word2"]);
    assert_eq!(answer.text_signature, None);
}

#[test]
fn the_stream_sends_a_part_per_chunk_and_ends_with_stop_and_the_whole_usage() {
    let b = scripted(Some("Hm."), &[]);
    let answer = plan_answer(&b, &thinking(json!([user("hi")])), "gemini-3.8-flash", 1);
    let chunks = answer.chunks();
    assert_eq!(chunks.len(), 4);
    assert_eq!(
        chunks[0]["candidates"][0]["content"]["parts"][0]["thought"],
        true
    );
    for chunk in &chunks[..3] {
        assert!(chunk["candidates"][0].get("finishReason").is_none());
        assert_eq!(chunk["usageMetadata"]["totalTokenCount"], 2400);
    }
    let last = &chunks[3];
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(
        last["candidates"][0]["content"]["parts"][0],
        json!({"text": " word2", "thoughtSignature": TEXT_SIGNATURE})
    );
    assert_eq!(last["usageMetadata"]["candidatesTokenCount"], 3);
    assert_eq!(last["usageMetadata"]["thoughtsTokenCount"], 1);
    assert_eq!(last["usageMetadata"]["totalTokenCount"], 2404);
    let text: String = chunks[1..]
        .iter()
        .map(|c| {
            c["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        answer.whole()["candidates"][0]["content"]["parts"][1]["text"],
        text
    );
}

#[test]
fn the_router_call_gets_json_valid_for_its_schema() {
    let b = scripted(Some("Hm."), &[("run_shell_command", r#"{"command":"ls"}"#)]);
    let request: Value = serde_json::from_str(fixture("router")).unwrap();
    let answer = plan_answer(&b, &request, "gemini-3.5-flash-lite", 1);
    assert!(answer.calls.is_empty() && answer.thought.is_none());
    let verdict: Value = serde_json::from_str(&answer.text.concat()).unwrap();
    assert_eq!(
        verdict,
        json!({"complexity_reasoning": "mock complexity_reasoning", "complexity_score": 10})
    );
}

#[test]
fn a_value_for_a_schema_keeps_to_its_bounds_and_enums() {
    let schema = json!({"type": "object", "properties": {
        "level": {"type": "string", "enum": ["low", "high"]},
        "count": {"type": "integer", "minimum": 3},
        "tags": {"type": "array", "items": {"type": "STRING"}, "minItems": 2},
        "maybe": {"type": ["null", "boolean"]},
        "score": {"type": "number", "maximum": 5},
    }, "required": ["level", "count", "tags", "maybe", "score"]});
    assert_eq!(
        value_for_schema(&schema, ""),
        json!({"level": "low", "count": 3, "tags": ["mock tags", "mock tags"], "maybe": false, "score": 5.0})
    );
}

#[test]
fn gemini_paths_are_told_from_the_other_apis() {
    for path in [
        "/v1beta/models",
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
        "/gemini/x/v1beta/models/m:generateContent",
        "/v1/models/gemini-2.5-pro:generateContent",
    ] {
        assert!(is_gemini_path(path), "{path}");
    }
    for path in [
        "/v1/models",
        "/v1/messages",
        "/v1/responses",
        "/v1/chat/completions",
    ] {
        assert!(!is_gemini_path(path), "{path}");
    }
    assert_eq!(route("GET", "/v1beta/models"), Call::ListModels);
    assert_eq!(
        route("GET", "/v1beta/models/gemini-2.5-pro"),
        Call::GetModel("gemini-2.5-pro".into())
    );
    assert_eq!(
        route("POST", "/p/v1beta/models/m:streamGenerateContent"),
        Call::Generate {
            model: "m".into(),
            stream: true
        }
    );
    assert_eq!(
        route("POST", "/v1beta/models/m:countTokens"),
        Call::CountTokens("m".into())
    );
    assert_eq!(
        route("POST", "/v1beta/models/m:embedContent"),
        Call::Unknown
    );
}

#[test]
fn the_key_is_read_from_the_header_first_then_the_query() {
    assert_eq!(
        key_of(Some("k1"), "alt=sse&key=k2"),
        Some(GeminiKey::Header("k1".into()))
    );
    assert_eq!(
        key_of(None, "alt=sse&key=a%2Bb+c"),
        Some(GeminiKey::Query("a+b c".into()))
    );
    assert_eq!(key_of(None, "alt=sse"), None);
}

#[test]
fn count_tokens_takes_contents_or_a_whole_request() {
    let r = check_count_request(br#"{"contents": [], "model": "m"}"#, "m").unwrap_err();
    assert!(r.message.contains("Unknown name \"model\""));
    let request = check_count_request(
        json!({"generateContentRequest": {"contents": [user("12345678")]}})
            .to_string()
            .as_bytes(),
        "m",
    )
    .unwrap();
    assert_eq!(count_tokens(&request), 2);
}
