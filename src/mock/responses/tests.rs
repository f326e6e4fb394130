//! The mock's Responses API rules, one test per rule: what it accepts (every request real Codex
//! sent), what it refuses and with which error, and what it answers with.

use super::check::Refusal;
use super::*;
use crate::mock::OpenAiAnswer;

fn fixture(name: &str) -> &'static str {
    match name {
        "gpt55-turn1" => include_str!("../../../tests/fixtures/codex/gpt55-turn1.request.json"),
        "gpt55-turn2" => include_str!("../../../tests/fixtures/codex/gpt55-turn2.request.json"),
        "fallback-turn2" => {
            include_str!("../../../tests/fixtures/codex/fallback-turn2.request.json")
        }
        "codemode-turn2" => {
            include_str!("../../../tests/fixtures/codex/codemode-turn2.request.json")
        }
        "applypatch-turn2" => {
            include_str!("../../../tests/fixtures/codex/applypatch-turn2.request.json")
        }
        _ => panic!("no fixture {name}"),
    }
}

fn refusal(request: Value) -> Refusal {
    check_request(request.to_string().as_bytes()).expect_err("the request should be refused")
}

fn accepted(request: Value) -> Value {
    check_request(request.to_string().as_bytes()).unwrap_or_else(|r| panic!("refused: {r:?}"))
}

/// A request with `input` and nothing else of note.
fn with_input(input: Value) -> Value {
    json!({"model": "gpt-5.5", "input": input, "store": false})
}

fn user(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
}

fn call(call_id: &str) -> Value {
    json!({"type": "function_call", "call_id": call_id, "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"})
}

fn call_output(call_id: &str) -> Value {
    json!({"type": "function_call_output", "call_id": call_id, "output": "a.txt"})
}

fn with_tools(tools: Value) -> Value {
    json!({"model": "gpt-5.5", "input": "hi", "tools": tools})
}

fn says(r: &Refusal) -> (u16, &str, Option<&str>, Option<&str>) {
    (r.status, r.message.as_str(), r.param.as_deref(), r.code)
}

#[test]
fn every_request_real_codex_sent_is_accepted() {
    for name in [
        "gpt55-turn1",
        "gpt55-turn2",
        "fallback-turn2",
        "codemode-turn2",
        "applypatch-turn2",
    ] {
        if let Err(r) = check_request(fixture(name).as_bytes()) {
            panic!("{name} refused: {r:?}");
        }
    }
}

#[test]
fn a_string_input_and_the_short_message_form_are_accepted() {
    accepted(with_input(json!("hello")));
    accepted(with_input(json!([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "Hi."},
    ])));
}

#[test]
fn a_body_that_is_not_json_is_refused() {
    let r = check_request(b"{\"model\": ").unwrap_err();
    assert_eq!(r.status, 400);
    assert!(r.message.starts_with("We could not parse the JSON body"));
}

#[test]
fn a_chat_completions_body_is_refused_for_its_unknown_parameter() {
    let r = refusal(json!({"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}]}));
    assert_eq!(
        says(&r),
        (
            400,
            "Unknown parameter: 'messages'.",
            Some("messages"),
            Some("unknown_parameter")
        )
    );
    let r = refusal(json!({"model": "m", "input": "hi", "max_tokens": 100}));
    assert_eq!(r.param.as_deref(), Some("max_tokens"));
}

#[test]
fn a_request_without_model_or_input_is_refused() {
    let r = refusal(json!({"input": "hi"}));
    assert_eq!(
        says(&r),
        (
            400,
            "Missing required parameter: 'model'.",
            Some("model"),
            Some("missing_required_parameter")
        )
    );
    assert_eq!(
        refusal(json!({"model": "m"})).param.as_deref(),
        Some("input")
    );
    let r = refusal(with_input(json!(42)));
    assert_eq!(
        says(&r),
        (
            400,
            "Invalid type for 'input': expected one of a string or array of input items, but got an integer instead.",
            Some("input"),
            Some("invalid_type")
        )
    );
}

#[test]
fn an_input_item_of_another_api_is_refused_naming_the_types_there_are() {
    let r = refusal(with_input(json!([
        user("hi"),
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "x"},
    ])));
    assert_eq!(r.param.as_deref(), Some("input[1].type"));
    assert_eq!(r.code, Some("invalid_value"));
    assert!(r.message.starts_with(
        "Invalid value: 'tool_result'. Supported values are: 'message', 'reasoning', 'function_call',"
    ));
    let r = refusal(with_input(json!([{"content": "no role, no type"}])));
    assert_eq!(r.param.as_deref(), Some("input[0].type"));
}

#[test]
fn a_message_role_must_be_one_the_api_knows() {
    let r = refusal(with_input(json!([{"role": "tool", "content": "x"}])));
    assert_eq!(
        says(&r),
        (
            400,
            "Invalid value: 'tool'. Supported values are: 'assistant', 'system', 'developer', and 'user'.",
            Some("input[0].role"),
            Some("invalid_value")
        )
    );
}

#[test]
fn an_assistant_message_carries_output_text_and_the_others_input_parts() {
    let r = refusal(with_input(json!([
        user("hi"),
        {"type": "message", "role": "assistant", "content": [{"type": "input_text", "text": "Hello"}]},
    ])));
    assert_eq!(
        says(&r),
        (
            400,
            "Invalid value: 'input_text'. Supported values are: 'output_text' and 'refusal'.",
            Some("input[1].content[0]"),
            Some("invalid_value")
        )
    );
    let r = refusal(with_input(json!([
        {"type": "message", "role": "user", "content": [{"type": "output_text", "text": "hi"}]},
    ])));
    assert_eq!(
        r.message,
        "Invalid value: 'output_text'. Supported values are: 'input_text', 'input_image', and 'input_file'."
    );
    let r = refusal(with_input(json!([
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
    ])));
    assert_eq!(r.param.as_deref(), Some("input[0].content[0]"));
    let r = refusal(with_input(
        json!([{"role": "user", "content": [{"type": "input_text"}]}]),
    ));
    assert_eq!(r.param.as_deref(), Some("input[0].content[0].text"));
}

#[test]
fn an_image_part_needs_its_url() {
    accepted(with_input(json!([{"role": "user", "content": [
        {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "high"},
    ]}])));
    let r = refusal(with_input(
        json!([{"role": "user", "content": [{"type": "input_image"}]}]),
    ));
    assert_eq!(r.param.as_deref(), Some("input[0].content[0].image_url"));
}

#[test]
fn a_function_call_output_must_follow_its_call_in_the_same_input() {
    accepted(with_input(json!([
        user("ls"),
        call("call_1"),
        call_output("call_1")
    ])));
    let orphan = refusal(with_input(json!([user("ls"), call_output("call_1")])));
    assert_eq!(
        says(&orphan),
        (
            400,
            "No tool call found for function call output with call_id call_1.",
            Some("input"),
            None
        )
    );
    let before = refusal(with_input(json!([
        user("ls"),
        call_output("call_1"),
        call("call_1")
    ])));
    assert_eq!(before.message, orphan.message);
    let other_id = refusal(with_input(json!([
        user("ls"),
        call("call_1"),
        call_output("call_2")
    ])));
    assert_eq!(
        other_id.message,
        "No tool call found for function call output with call_id call_2."
    );
}

#[test]
fn a_function_call_without_its_output_is_refused() {
    let r = refusal(with_input(json!([
        user("ls"),
        call("call_1"),
        user("go on")
    ])));
    assert_eq!(
        says(&r),
        (
            400,
            "No tool output found for function call call_1.",
            Some("input"),
            None
        )
    );
}

#[test]
fn a_custom_tool_output_answers_a_custom_tool_call_only() {
    let custom = json!({"type": "custom_tool_call", "call_id": "call_1", "name": "apply_patch", "input": "*** Begin Patch"});
    let custom_output =
        json!({"type": "custom_tool_call_output", "call_id": "call_1", "output": "Done"});
    accepted(with_input(json!([user("patch"), custom, custom_output])));
    let r = refusal(with_input(json!([
        user("patch"),
        call("call_1"),
        custom_output
    ])));
    assert_eq!(
        r.message,
        "No tool call found for custom tool call output with call_id call_1."
    );
}

#[test]
fn a_tool_call_item_needs_its_call_id_name_and_arguments() {
    let r = refusal(with_input(json!([
        user("ls"),
        {"type": "function_call", "call_id": "call_1", "name": "exec_command", "arguments": {"cmd": "ls"}},
    ])));
    assert_eq!(r.param.as_deref(), Some("input[1].arguments"));
    assert_eq!(r.code, Some("invalid_type"));
    let r = refusal(with_input(json!([
        user("ls"),
        {"type": "function_call_output", "output": "x"},
    ])));
    assert_eq!(r.param.as_deref(), Some("input[1].call_id"));
    assert_eq!(r.code, Some("missing_required_parameter"));
}

#[test]
fn reasoning_replayed_without_its_encrypted_content_is_not_found() {
    let bare = json!({"type": "reasoning", "id": "rs_1", "summary": []});
    let r = refusal(with_input(json!([user("hi"), bare])));
    assert_eq!(r.status, 404);
    assert_eq!(
        r.message,
        "Item with id 'rs_1' not found. Items are not persisted when `store` is set to false. \
         Try again with `store` set to true, or remove this item from your input."
    );
    assert_eq!(r.param.as_deref(), Some("input"));
    let r = refusal(json!({"model": "m", "input": [user("hi"), bare]}));
    assert_eq!(r.message, "Item with id 'rs_1' not found.");
}

#[test]
fn reasoning_encrypted_by_someone_else_is_refused() {
    let r = refusal(with_input(json!([user("hi"), {
        "type": "reasoning", "id": "rs_1", "summary": [],
        "encrypted_content": "EqQBCkYIBxgCKkAnthropicSignature",
    }])));
    assert_eq!(
        says(&r),
        (
            400,
            "The encrypted content for item rs_1 could not be verified.",
            None,
            Some("invalid_encrypted_content")
        )
    );
    accepted(with_input(json!([user("hi"), {
        "type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Hm."}],
        "encrypted_content": format!("{ENCRYPTED_PREFIX}rs_1"),
    }])));
}

#[test]
fn a_reasoning_item_needs_its_summary_list() {
    let r = refusal(with_input(
        json!([{"type": "reasoning", "encrypted_content": format!("{ENCRYPTED_PREFIX}x")}]),
    ));
    assert_eq!(r.param.as_deref(), Some("input[0].summary"));
    let r = refusal(with_input(
        json!([{"type": "reasoning", "summary": [{"type": "thinking", "thinking": "x"}]}]),
    ));
    assert_eq!(r.param.as_deref(), Some("input[0].summary[0].type"));
}

#[test]
fn a_chat_shaped_function_tool_is_refused_for_its_missing_name() {
    let r = refusal(with_tools(json!([{"type": "function",
        "function": {"name": "Bash", "parameters": {"type": "object"}}}])));
    assert_eq!(
        says(&r),
        (
            400,
            "Missing required parameter: 'tools[0].name'.",
            Some("tools[0].name"),
            Some("missing_required_parameter")
        )
    );
    let r = refusal(with_tools(
        json!([{"type": "function", "name": "Bash", "description": "Run"}]),
    ));
    assert_eq!(r.param.as_deref(), Some("tools[0].parameters"));
}

#[test]
fn a_tool_name_with_a_dot_is_refused_as_the_real_api_refuses_it() {
    let r = refusal(with_tools(json!([{"type": "function",
        "name": "multi_agent_v1.wait_agent", "parameters": {"type": "object"}}])));
    assert_eq!(
        says(&r),
        (
            400,
            "Invalid 'tools[0].name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
            Some("tools[0].name"),
            Some("invalid_value")
        )
    );
    let long = "a".repeat(65);
    let r = refusal(with_tools(json!([{"type": "custom", "name": long}])));
    assert_eq!(r.code, Some("string_above_max_length"));
}

#[test]
fn a_tool_type_must_be_one_the_api_knows() {
    accepted(with_tools(json!([
        {"type": "custom", "name": "apply_patch", "format": {"type": "grammar"}},
        {"type": "web_search", "external_web_access": true},
        {"type": "tool_search", "execution": "client", "parameters": {}},
        {"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "f", "parameters": {}}]},
    ])));
    let r = refusal(with_tools(json!([{"name": "Bash", "input_schema": {}}])));
    assert_eq!(r.param.as_deref(), Some("tools[0].type"));
    let r = refusal(with_tools(
        json!([{"type": "bash_20250124", "name": "bash"}]),
    ));
    assert_eq!(r.param.as_deref(), Some("tools[0].type"));
    assert!(r.message.starts_with(
        "Invalid value: 'bash_20250124'. Supported values are: 'function', 'custom',"
    ));
    let r = refusal(with_tools(json!([{"type": "namespace", "name": "ns",
        "tools": [{"type": "function", "name": "f"}]}])));
    assert_eq!(r.param.as_deref(), Some("tools[0].tools[0].parameters"));
}

#[test]
fn max_output_tokens_below_16_is_refused() {
    let r = refusal(json!({"model": "m", "input": "hi", "max_output_tokens": 1}));
    assert_eq!(r.param.as_deref(), Some("max_output_tokens"));
    assert_eq!(r.code, Some("integer_below_min_value"));
    accepted(json!({"model": "m", "input": "hi", "max_output_tokens": 16}));
}

#[test]
fn a_previous_response_is_never_found_because_nothing_is_stored() {
    let r = refusal(json!({"model": "m", "input": "hi", "previous_response_id": "resp_1"}));
    assert_eq!(
        says(&r),
        (
            400,
            "Previous response with id 'resp_1' not found.",
            Some("previous_response_id"),
            Some("previous_response_not_found")
        )
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

fn item_types(output: &[Planned]) -> Vec<String> {
    output
        .iter()
        .map(|p| p.item()["type"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_scripted_call_is_made_until_the_input_ends_with_its_output() {
    let b = scripted(
        Some("Need to look."),
        &[("exec_command", r#"{"cmd":"ls"}"#)],
    );
    let first = plan_output(&b, &with_input(json!([user("ls")])), 1);
    assert_eq!(item_types(&first), ["reasoning", "function_call"]);
    let call = first[1].item();
    assert_eq!(call["call_id"], "call_mock_1_0");
    assert_eq!(call["arguments"], r#"{"cmd":"ls"}"#);
    let second = plan_output(
        &b,
        &with_input(json!([
            user("ls"),
            call.clone(),
            {"type": "function_call_output", "call_id": "call_mock_1_0", "output": "Output:\nMARKER-1\n"},
        ])),
        2,
    );
    assert_eq!(item_types(&second), ["reasoning", "message"]);
    assert_eq!(
        second[1].item()["content"][0]["text"],
        "m read the tool output: Output:\nMARKER-1"
    );
}

#[test]
fn without_a_script_the_answer_is_the_plain_text() {
    let output = plan_output(&Behaviour::default(), &with_input(json!("hi")), 1);
    assert_eq!(item_types(&output), ["message"]);
    assert_eq!(
        output[0].item()["content"][0]["text"],
        "Hello from mock: word1 word2"
    );
}

#[test]
fn reasoning_carries_a_summary_and_encrypted_content_only_when_asked() {
    let b = scripted(Some("Need to look."), &[]);
    let plain = plan_output(&b, &with_input(json!("hi")), 1)[0].item();
    assert_eq!(
        plain,
        json!({"id": "rs_mock_1", "type": "reasoning", "summary": []})
    );
    let asked = json!({"model": "m", "input": "hi", "reasoning": {"effort": "high", "summary": "auto"},
        "include": ["reasoning.encrypted_content"]});
    let full = plan_output(&b, &asked, 1)[0].item();
    assert_eq!(
        full,
        json!({"id": "rs_mock_1", "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "Need to look."}],
            "encrypted_content": format!("{ENCRYPTED_PREFIX}rs_mock_1")})
    );
}

#[test]
fn a_tool_offered_as_custom_or_in_a_namespace_is_called_that_way() {
    let b = scripted(
        None,
        &[("apply_patch", "*** Begin Patch\n"), ("wait_agent", "{}")],
    );
    let request = json!({"model": "m", "input": "patch", "tools": [
        {"type": "custom", "name": "apply_patch"},
        {"type": "namespace", "name": "multi_agent_v1", "tools": [{"type": "function", "name": "wait_agent", "parameters": {}}]},
    ]});
    let output = plan_output(&b, &request, 3);
    assert_eq!(
        output[0].item(),
        json!({"id": "ctc_mock_3_0", "type": "custom_tool_call", "status": "completed",
            "call_id": "call_mock_3_0", "name": "apply_patch", "input": "*** Begin Patch\n"})
    );
    assert_eq!(output[1].item()["namespace"], "multi_agent_v1");
    assert_eq!(output[1].item()["name"], "wait_agent");
}

fn parsed(events: &[String]) -> Vec<Value> {
    events
        .iter()
        .map(|e| {
            let (name, data) = e.trim_end().split_once('\n').expect("event and data lines");
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(name.strip_prefix("event: "), data["type"].as_str());
            data
        })
        .collect()
}

#[test]
fn the_stream_closes_every_item_and_ends_with_the_completed_response() {
    let b = scripted(
        Some("Need to run it."),
        &[("exec_command", r#"{"cmd":"echo hi"}"#)],
    );
    let request = json!({"model": "gpt-5.5", "input": "hi", "stream": true,
        "reasoning": {"summary": "auto"}, "include": ["reasoning.encrypted_content"]});
    let output = plan_output(&b, &request, 1);
    let completed = response_object(&request, 1, Some((&output, usage(&b))));
    let events = parsed(&stream_events(
        response_object(&request, 1, None),
        &output,
        completed,
    ));
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["sequence_number"], i);
    }
    assert_eq!(events[0]["response"]["status"], "in_progress");
    assert_eq!(events[0]["response"]["usage"], Value::Null);
    let done: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "response.output_item.done")
        .map(|e| &e["item"])
        .collect();
    let last = events.last().unwrap();
    assert_eq!(last["response"]["id"], "resp_mock_1");
    assert_eq!(last["response"]["status"], "completed");
    assert_eq!(
        last["response"]["output"]
            .as_array()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        done
    );
    assert_eq!(
        last["response"]["usage"],
        json!({"input_tokens": 2400, "input_tokens_details": {"cached_tokens": 1920},
            "output_tokens": 7, "output_tokens_details": {"reasoning_tokens": 4}, "total_tokens": 2407})
    );
}

#[test]
fn a_tool_offered_in_codexs_additional_tools_item_is_called_that_way() {
    let b = scripted(
        None,
        &[("exec", "await tools.exec_command({cmd: \"ls\"});")],
    );
    let request: Value = serde_json::from_str(fixture("codemode-turn2")).unwrap();
    let first_turn =
        json!({"model": request["model"], "input": [request["input"][0].clone(), user("ls")]});
    let output = plan_output(&b, &first_turn, 1);
    assert_eq!(output[0].item()["type"], "custom_tool_call");
    assert_eq!(output[0].item()["name"], "exec");
}
