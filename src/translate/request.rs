//! Generation requests: Anthropic Messages → OpenAI Chat Completions and back.

use super::Refusal;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The longest tool name and `user` OpenAI accepts.
const OPENAI_NAME_LIMIT: usize = 64;

/// A name of at most 64 characters for OpenAI: itself when short enough, else its first 47
/// characters, `_` and 16 hex digits of its SHA-256 (stable, so history and answers agree).
pub(crate) fn openai_name(name: &str) -> String {
    if name.chars().count() <= OPENAI_NAME_LIMIT {
        return name.to_string();
    }
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let head: String = name.chars().take(OPENAI_NAME_LIMIT - 17).collect();
    format!("{head}_{hex}")
}

/// Tool names a Messages request uses that had to be shortened for OpenAI, as (short, original).
pub(crate) fn shortened_tool_names(request: &Value) -> Vec<(String, String)> {
    request["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .filter(|n| n.chars().count() > OPENAI_NAME_LIMIT)
        .map(|n| (openai_name(n), n.to_string()))
        .collect()
}

fn openai_name_of(value: &Value) -> Value {
    match value.as_str() {
        Some(name) => Value::String(openai_name(name)),
        None => value.clone(),
    }
}

/// A Messages request as a Chat Completions request for `upstream_model`.
///
/// `system` becomes the first message; `tool_use` blocks become the assistant's `tool_calls` with
/// JSON-string arguments; `tool_result` blocks become `tool` messages (an error is marked by an
/// `Error: ` prefix) placed before the rest of that user turn; earlier `thinking` blocks are dropped.
pub fn messages_to_chat(request: &Value, upstream_model: &str) -> Result<Value, Refusal> {
    let mut out = Map::new();
    out.insert("model".into(), json!(upstream_model));
    let mut messages = Vec::new();
    if let Some(system) = text_of(&request["system"], "system")? {
        messages.push(json!({"role": "system", "content": system}));
    }
    let turns = request["messages"]
        .as_array()
        .ok_or_else(|| Refusal::unsupported("messages", "must be an array"))?;
    for (i, turn) in turns.iter().enumerate() {
        let field = format!("messages[{i}]");
        match turn["role"].as_str() {
            Some("user") => user_turn_to_chat(&turn["content"], &field, &mut messages)?,
            Some("assistant") => messages.push(assistant_turn_to_chat(&turn["content"], &field)?),
            // Claude Code sends system notes between turns; Chat Completions takes a system
            // message anywhere.
            Some("system") => {
                if let Some(text) = text_of(&turn["content"], &format!("{field}.content"))? {
                    messages.push(json!({"role": "system", "content": text}));
                }
            }
            _ => {
                return Err(Refusal::unsupported(
                    field,
                    "role must be user, assistant or system",
                ))
            }
        }
    }
    out.insert("messages".into(), Value::Array(messages));
    if let Some(max) = request.get("max_tokens").filter(|v| !v.is_null()) {
        out.insert("max_tokens".into(), max.clone());
    }
    if let Some(stop) = request.get("stop_sequences").filter(|v| !v.is_null()) {
        out.insert("stop".into(), stop.clone());
    }
    for key in ["temperature", "top_p"] {
        if let Some(v) = request.get(key).filter(|v| !v.is_null()) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(user) = request["metadata"]["user_id"].as_str() {
        // Claude Code's user ids run to ~150 characters; OpenAI takes 64, so long ones are hashed.
        out.insert("user".into(), json!(openai_name(user)));
    }
    if request["stream"].as_bool() == Some(true) {
        out.insert("stream".into(), json!(true));
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(tools) = request["tools"].as_array() {
        let mut functions = Vec::new();
        for (i, tool) in tools.iter().enumerate() {
            functions.push(tool_to_function(tool, &format!("tools[{i}]"))?);
        }
        if !functions.is_empty() {
            out.insert("tools".into(), Value::Array(functions));
        }
    }
    if let Some(choice) = request.get("tool_choice").filter(|v| !v.is_null()) {
        let kind = choice["type"].as_str().unwrap_or_default();
        let mapped = match kind {
            "auto" => json!("auto"),
            "any" => json!("required"),
            "none" => json!("none"),
            "tool" => match choice["name"].as_str() {
                Some(name) => json!({"type": "function", "function": {"name": openai_name(name)}}),
                None => return Err(Refusal::unsupported("tool_choice.name", "missing")),
            },
            other => {
                return Err(Refusal::unsupported(
                    "tool_choice.type",
                    format!("`{other}` has no Chat Completions equivalent"),
                ))
            }
        };
        if out.contains_key("tools") || kind == "none" {
            out.insert("tool_choice".into(), mapped);
        }
        if choice["disable_parallel_tool_use"].as_bool() == Some(true) && out.contains_key("tools")
        {
            out.insert("parallel_tool_calls".into(), json!(false));
        }
    }
    if request
        .get("mcp_servers")
        .is_some_and(|v| v.as_array().is_some_and(|a| !a.is_empty()))
    {
        return Err(Refusal::unsupported(
            "mcp_servers",
            "an OpenAI-compatible upstream cannot call MCP servers",
        ));
    }
    Ok(Value::Object(out))
}

/// `system`-like content (a string or text blocks) as one string.
fn text_of(value: &Value, field: &str) -> Result<Option<String>, Refusal> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Array(blocks) => {
            let mut parts = Vec::new();
            for (i, block) in blocks.iter().enumerate() {
                match block["text"].as_str() {
                    Some(t) => parts.push(t),
                    None => {
                        return Err(Refusal::unsupported(
                            format!("{field}[{i}]"),
                            "only text blocks can be sent here",
                        ))
                    }
                }
            }
            Ok(Some(parts.join("\n\n")))
        }
        _ => Err(Refusal::unsupported(
            field,
            "must be a string or an array of blocks",
        )),
    }
}

/// An image block as a Chat `image_url` part (base64 becomes a data URL).
fn image_part(block: &Value, field: &str) -> Result<Value, Refusal> {
    let source = &block["source"];
    let url = match source["type"].as_str() {
        Some("base64") => format!(
            "data:{};base64,{}",
            source["media_type"].as_str().unwrap_or("image/png"),
            source["data"].as_str().unwrap_or_default()
        ),
        Some("url") => source["url"].as_str().unwrap_or_default().to_string(),
        _ => {
            return Err(Refusal::unsupported(
                format!("{field}.source"),
                "only base64 and url images can be sent to an OpenAI-compatible upstream",
            ))
        }
    };
    Ok(json!({"type": "image_url", "image_url": {"url": url}}))
}

/// A document block as a Chat part: plain text as text, a base64 PDF as a `file` part.
fn document_part(block: &Value, field: &str) -> Result<Value, Refusal> {
    let source = &block["source"];
    match source["type"].as_str() {
        Some("text") => {
            Ok(json!({"type": "text", "text": source["data"].as_str().unwrap_or_default()}))
        }
        Some("base64") => {
            let media_type = source["media_type"].as_str().unwrap_or("application/pdf");
            let data = source["data"].as_str().unwrap_or_default();
            let name = block["title"].as_str().unwrap_or("document.pdf");
            Ok(
                json!({"type": "file", "file": {"filename": name, "file_data": format!("data:{media_type};base64,{data}")}}),
            )
        }
        _ => Err(Refusal::unsupported(
            format!("{field}.source"),
            "only text and base64 documents can be sent to an OpenAI-compatible upstream",
        )),
    }
}

/// Chat `content` for text and image parts: a plain string when it is text only.
fn chat_content(parts: Vec<Value>) -> Value {
    if parts.iter().all(|p| p["type"] == "text") {
        let texts: Vec<&str> = parts.iter().filter_map(|p| p["text"].as_str()).collect();
        Value::String(texts.join("\n\n"))
    } else {
        Value::Array(parts)
    }
}

fn user_turn_to_chat(content: &Value, field: &str, out: &mut Vec<Value>) -> Result<(), Refusal> {
    let blocks = match content {
        Value::String(s) => {
            out.push(json!({"role": "user", "content": s}));
            return Ok(());
        }
        Value::Array(blocks) => blocks,
        _ => {
            return Err(Refusal::unsupported(
                format!("{field}.content"),
                "must be a string or an array",
            ))
        }
    };
    // Tool results answer the previous assistant turn, so they come first; the user's own text
    // and images (and images a tool returned, which a `tool` message cannot carry) follow.
    let mut parts = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        let field = format!("{field}.content[{i}]");
        match block["type"].as_str().unwrap_or_default() {
            "text" => parts.push(json!({"type": "text", "text": block["text"]})),
            "image" => parts.push(image_part(block, &field)?),
            "tool_result" => {
                let mut texts = Vec::new();
                match &block["content"] {
                    Value::String(s) => texts.push(s.clone()),
                    Value::Array(inner) => {
                        for (j, b) in inner.iter().enumerate() {
                            match b["type"].as_str().unwrap_or_default() {
                                "text" => {
                                    texts.push(b["text"].as_str().unwrap_or_default().to_string())
                                }
                                "image" => {
                                    parts.push(image_part(b, &format!("{field}.content[{j}]"))?)
                                }
                                "document" if b["source"]["type"] == "text" => texts.push(
                                    b["source"]["data"].as_str().unwrap_or_default().to_string(),
                                ),
                                "document" => {
                                    parts.push(document_part(b, &format!("{field}.content[{j}]"))?)
                                }
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
                let mut text = texts.join("\n\n");
                if block["is_error"].as_bool() == Some(true) {
                    text = format!("Error: {text}");
                }
                out.push(json!({
                    "role": "tool",
                    "tool_call_id": block["tool_use_id"].as_str().unwrap_or_default(),
                    "content": text,
                }));
            }
            "thinking" | "redacted_thinking" => {}
            "document" => parts.push(document_part(block, &field)?),
            _ => {}
        }
    }
    if !parts.is_empty() {
        out.push(json!({"role": "user", "content": chat_content(parts)}));
    }
    Ok(())
}

fn assistant_turn_to_chat(content: &Value, field: &str) -> Result<Value, Refusal> {
    let blocks = match content {
        Value::String(s) => return Ok(json!({"role": "assistant", "content": s})),
        Value::Array(blocks) => blocks,
        _ => {
            return Err(Refusal::unsupported(
                format!("{field}.content"),
                "must be a string or an array",
            ))
        }
    };
    let mut texts = Vec::new();
    let mut calls = Vec::new();
    for block in blocks {
        match block["type"].as_str().unwrap_or_default() {
            "text" => texts.push(block["text"].as_str().unwrap_or_default()),
            "tool_use" => {
                let input = match &block["input"] {
                    Value::Null => json!({}),
                    v => v.clone(),
                };
                calls.push(json!({
                    "id": block["id"],
                    "type": "function",
                    "function": {"name": openai_name_of(&block["name"]), "arguments": input.to_string()},
                }));
            }
            _ => {}
        }
    }
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    let text = texts.join("\n\n");
    message.insert(
        "content".into(),
        if text.is_empty() && !calls.is_empty() {
            Value::Null
        } else {
            Value::String(text)
        },
    );
    if !calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    Ok(Value::Object(message))
}

fn tool_to_function(tool: &Value, field: &str) -> Result<Value, Refusal> {
    let kind = tool["type"].as_str().unwrap_or("custom");
    if kind != "custom" || tool.get("input_schema").is_none() {
        return Err(Refusal::unsupported(
            field,
            format!("the `{kind}` tool runs on Anthropic's side; an OpenAI-compatible upstream takes only tools with an input_schema"),
        ));
    }
    let mut function = Map::new();
    function.insert("name".into(), openai_name_of(&tool["name"]));
    if let Some(d) = tool["description"].as_str() {
        function.insert("description".into(), json!(d));
    }
    function.insert("parameters".into(), tool["input_schema"].clone());
    Ok(json!({"type": "function", "function": function}))
}

/// A Chat Completions request as a Messages request for `upstream_model`.
///
/// System and developer messages are hoisted into `system`; consecutive turns of one role are
/// merged (tool results join the user turn that follows them). What Messages cannot express is
/// refused: `n > 1`, `logprobs`, `logit_bias`, penalties, audio, JSON response formats, legacy
/// `functions`.
pub fn chat_to_messages(
    request: &Value,
    upstream_model: &str,
    default_max_tokens: u64,
) -> Result<Value, Refusal> {
    refuse_what_messages_cannot_express(request)?;
    let mut out = Map::new();
    out.insert("model".into(), json!(upstream_model));
    let max = request
        .get("max_completion_tokens")
        .filter(|v| !v.is_null())
        .or_else(|| request.get("max_tokens").filter(|v| !v.is_null()))
        .cloned()
        .unwrap_or(json!(default_max_tokens));
    out.insert("max_tokens".into(), max);
    let mut system = Vec::new();
    let mut turns: Vec<(String, Vec<Value>)> = Vec::new();
    let messages = request["messages"]
        .as_array()
        .ok_or_else(|| Refusal::unsupported("messages", "must be an array"))?;
    for (i, message) in messages.iter().enumerate() {
        let field = format!("messages[{i}]");
        let role = message["role"].as_str().unwrap_or_default();
        let (role, blocks) = match role {
            "system" | "developer" => {
                system.push(chat_text(&message["content"], &field)?);
                continue;
            }
            "user" => ("user", chat_parts_to_blocks(&message["content"], &field)?),
            "assistant" => ("assistant", assistant_message_to_blocks(message, &field)?),
            "tool" => {
                let content = chat_text(&message["content"], &field)?;
                let block = json!({
                    "type": "tool_result",
                    "tool_use_id": message["tool_call_id"].as_str().unwrap_or_default(),
                    "content": content,
                });
                ("user", vec![block])
            }
            other => {
                return Err(Refusal::unsupported(
                    format!("{field}.role"),
                    format!("`{other}` cannot be sent to a Messages upstream"),
                ))
            }
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last, existing)) if last == role => existing.extend(blocks),
            _ => turns.push((role.to_string(), blocks)),
        }
    }
    if !system.is_empty() {
        out.insert("system".into(), json!(system.join("\n\n")));
    }
    let turns: Vec<Value> = turns
        .into_iter()
        .map(|(role, content)| {
            // Tool results must open the user turn that carries them.
            let content = if role == "user" {
                let (mut results, rest): (Vec<Value>, Vec<Value>) = content
                    .into_iter()
                    .partition(|b| b["type"] == "tool_result");
                results.extend(rest);
                results
            } else {
                content
            };
            json!({"role": role, "content": content})
        })
        .collect();
    out.insert("messages".into(), Value::Array(turns));
    if let Some(stop) = request.get("stop").filter(|v| !v.is_null()) {
        let list = match stop {
            Value::String(s) => json!([s]),
            other => other.clone(),
        };
        out.insert("stop_sequences".into(), list);
    }
    if let Some(t) = request["temperature"].as_f64() {
        // Messages takes 0..=1 where Chat takes 0..=2; Anthropic's own compatibility layer caps it too.
        out.insert("temperature".into(), json!(t.clamp(0.0, 1.0)));
    }
    if let Some(p) = request.get("top_p").filter(|v| !v.is_null()) {
        out.insert("top_p".into(), p.clone());
    }
    if let Some(user) = request["user"].as_str() {
        out.insert("metadata".into(), json!({"user_id": user}));
    }
    if request["stream"].as_bool() == Some(true) {
        out.insert("stream".into(), json!(true));
    }
    if let Some(tools) = request["tools"].as_array() {
        let mut list = Vec::new();
        for (i, tool) in tools.iter().enumerate() {
            let field = format!("tools[{i}]");
            if tool["type"].as_str().unwrap_or("function") != "function" {
                return Err(Refusal::unsupported(
                    field,
                    "only function tools can be sent to a Messages upstream",
                ));
            }
            let function = &tool["function"];
            let mut t = Map::new();
            t.insert("name".into(), function["name"].clone());
            if let Some(d) = function["description"].as_str() {
                t.insert("description".into(), json!(d));
            }
            let schema = match &function["parameters"] {
                Value::Null => json!({"type": "object", "properties": {}}),
                p => p.clone(),
            };
            t.insert("input_schema".into(), schema);
            list.push(Value::Object(t));
        }
        if !list.is_empty() {
            out.insert("tools".into(), Value::Array(list));
        }
    }
    let mut choice = match request.get("tool_choice").filter(|v| !v.is_null()) {
        None => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "auto" => json!({"type": "auto"}),
            "required" => json!({"type": "any"}),
            "none" => json!({"type": "none"}),
            other => {
                return Err(Refusal::unsupported(
                    "tool_choice",
                    format!("unknown value `{other}`"),
                ))
            }
        }),
        Some(v) => match v["function"]["name"].as_str() {
            Some(name) => Some(json!({"type": "tool", "name": name})),
            None => {
                return Err(Refusal::unsupported(
                    "tool_choice",
                    "expected a function name",
                ))
            }
        },
    };
    if request["parallel_tool_calls"].as_bool() == Some(false) && out.contains_key("tools") {
        let c = choice.get_or_insert_with(|| json!({"type": "auto"}));
        if c["type"] != "none" {
            c["disable_parallel_tool_use"] = json!(true);
        }
    }
    if let Some(choice) = choice {
        if out.contains_key("tools") || choice["type"] == "none" {
            out.insert("tool_choice".into(), choice);
        }
    }
    Ok(Value::Object(out))
}

fn refuse_what_messages_cannot_express(request: &Value) -> Result<(), Refusal> {
    if request["n"].as_u64().is_some_and(|n| n > 1) {
        return Err(Refusal::unsupported(
            "n",
            "Messages returns one choice; n must be 1",
        ));
    }
    if request["logprobs"].as_bool() == Some(true) || !request["top_logprobs"].is_null() {
        return Err(Refusal::unsupported(
            "logprobs",
            "Messages does not return log probabilities",
        ));
    }
    if request["logit_bias"]
        .as_object()
        .is_some_and(|m| !m.is_empty())
    {
        return Err(Refusal::unsupported(
            "logit_bias",
            "Messages has no logit bias",
        ));
    }
    for key in ["presence_penalty", "frequency_penalty"] {
        if request[key].as_f64().is_some_and(|v| v != 0.0) {
            return Err(Refusal::unsupported(key, "Messages has no penalties"));
        }
    }
    if !request["audio"].is_null()
        || request["modalities"]
            .as_array()
            .is_some_and(|m| m.iter().any(|x| x != "text"))
    {
        return Err(Refusal::unsupported(
            "modalities",
            "Messages answers with text only",
        ));
    }
    if let Some(kind) = request["response_format"]["type"].as_str() {
        if kind != "text" {
            return Err(Refusal::unsupported(
                "response_format",
                format!("`{kind}` has no Messages equivalent; describe the format in the prompt or use a tool"),
            ));
        }
    }
    if !request["functions"].is_null() || !request["function_call"].is_null() {
        return Err(Refusal::unsupported(
            "functions",
            "legacy functions are not translated; use tools",
        ));
    }
    Ok(())
}

/// Chat content that may only be text (system, developer, tool) as one string.
fn chat_text(content: &Value, field: &str) -> Result<String, Refusal> {
    match content {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Array(parts) => {
            let mut texts = Vec::new();
            for (i, part) in parts.iter().enumerate() {
                match part["text"].as_str() {
                    Some(t) => texts.push(t),
                    None => {
                        return Err(Refusal::unsupported(
                            format!("{field}.content[{i}]"),
                            "only text parts can be sent here",
                        ))
                    }
                }
            }
            Ok(texts.join("\n\n"))
        }
        _ => Err(Refusal::unsupported(
            format!("{field}.content"),
            "must be a string or an array",
        )),
    }
}

fn chat_parts_to_blocks(content: &Value, field: &str) -> Result<Vec<Value>, Refusal> {
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::String(s) => Ok(vec![json!({"type": "text", "text": s})]),
        Value::Array(parts) => {
            let mut blocks = Vec::new();
            for (i, part) in parts.iter().enumerate() {
                let field = format!("{field}.content[{i}]");
                match part["type"].as_str().unwrap_or_default() {
                    "text" => blocks.push(json!({"type": "text", "text": part["text"]})),
                    "image_url" => {
                        let url = part["image_url"]["url"]
                            .as_str()
                            .or_else(|| part["image_url"].as_str())
                            .unwrap_or_default();
                        blocks.push(image_block(url, &field)?);
                    }
                    "file" => {
                        let data = part["file"]["file_data"].as_str().unwrap_or_default();
                        let (media_type, data) = data
                            .strip_prefix("data:")
                            .and_then(|d| d.split_once(";base64,"))
                            .ok_or_else(|| {
                                Refusal::unsupported(
                                    &field,
                                    "only files given inline as base64 data URLs can be sent to a Messages upstream",
                                )
                            })?;
                        let mut block = json!({"type": "document", "source": {"type": "base64", "media_type": media_type, "data": data}});
                        if let Some(name) = part["file"]["filename"].as_str() {
                            block["title"] = json!(name);
                        }
                        blocks.push(block);
                    }
                    other => {
                        return Err(Refusal::unsupported(
                            field,
                            format!("`{other}` parts cannot be sent to a Messages upstream"),
                        ))
                    }
                }
            }
            Ok(blocks)
        }
        _ => Err(Refusal::unsupported(
            format!("{field}.content"),
            "must be a string or an array",
        )),
    }
}

/// A Chat image URL (a `data:` URL or a web address) as a Messages image block.
fn image_block(url: &str, field: &str) -> Result<Value, Refusal> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest
            .split_once(',')
            .ok_or_else(|| Refusal::unsupported(field, "malformed data URL"))?;
        let media_type = meta
            .strip_suffix(";base64")
            .ok_or_else(|| Refusal::unsupported(field, "only base64 data URLs are supported"))?;
        return Ok(
            json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}),
        );
    }
    Ok(json!({"type": "image", "source": {"type": "url", "url": url}}))
}

fn assistant_message_to_blocks(message: &Value, field: &str) -> Result<Vec<Value>, Refusal> {
    let mut blocks = match &message["content"] {
        Value::Array(parts) => {
            let mut blocks = Vec::new();
            for part in parts {
                let text = part["text"].as_str().or_else(|| part["refusal"].as_str());
                if let Some(t) = text.filter(|t| !t.is_empty()) {
                    blocks.push(json!({"type": "text", "text": t}));
                }
            }
            blocks
        }
        other => chat_parts_to_blocks(other, field)?,
    };
    if let Some(calls) = message["tool_calls"].as_array() {
        for (i, call) in calls.iter().enumerate() {
            let arguments = call["function"]["arguments"].as_str().unwrap_or_default();
            let input: Value = if arguments.trim().is_empty() {
                json!({})
            } else {
                serde_json::from_str(arguments).map_err(|e| {
                    Refusal::unsupported(
                        format!("{field}.tool_calls[{i}].function.arguments"),
                        format!("is not JSON ({e})"),
                    )
                })?
            };
            blocks.push(json!({
                "type": "tool_use",
                "id": call["id"],
                "name": call["function"]["name"],
                "input": input,
            }));
        }
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_blocks_become_one_system_message() {
        let r = json!({"model": "m", "max_tokens": 10, "system": [{"type": "text", "text": "a"}, {"type": "text", "text": "b", "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": "hi"}]});
        let out = messages_to_chat(&r, "up").unwrap();
        assert_eq!(
            out["messages"][0],
            json!({"role": "system", "content": "a\n\nb"})
        );
        assert_eq!(out["messages"][1], json!({"role": "user", "content": "hi"}));
        assert_eq!(out["model"], "up");
        assert!(out.get("stream").is_none());
    }

    #[test]
    fn tool_results_come_before_the_rest_of_the_user_turn_and_errors_are_marked() {
        let r = json!({"model": "m", "max_tokens": 10, "messages": [
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": "s"}, {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}]},
            {"role": "user", "content": [{"type": "text", "text": "and?"}, {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "boom"}], "is_error": true}]},
        ]});
        let out = messages_to_chat(&r, "up").unwrap();
        let m = out["messages"].as_array().unwrap();
        assert_eq!(m[0]["content"], Value::Null);
        assert_eq!(m[0]["tool_calls"][0]["function"]["arguments"], "{\"a\":1}");
        assert_eq!(
            m[1],
            json!({"role": "tool", "tool_call_id": "t1", "content": "Error: boom"})
        );
        assert_eq!(m[2], json!({"role": "user", "content": "and?"}));
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn long_tool_names_and_user_ids_are_shortened_the_same_way_everywhere() {
        let long = format!("mcp__{}__search", "a_very_long_server_name".repeat(3));
        assert!(long.len() > 64);
        let r = json!({"model": "m", "max_tokens": 1,
            "metadata": {"user_id": format!("user_{}_account__session_x", "f".repeat(64))},
            "tools": [{"name": long, "input_schema": {"type": "object"}}, {"name": "Bash", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "tool", "name": long},
            "messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": long, "input": {}}]}]});
        let out = messages_to_chat(&r, "x").unwrap();
        let short = out["tools"][0]["function"]["name"].as_str().unwrap();
        assert_eq!(short.chars().count(), 64);
        assert!(long.starts_with(&short[..47]));
        assert_eq!(out["tools"][1]["function"]["name"], "Bash");
        assert_eq!(out["tool_choice"]["function"]["name"], short);
        assert_eq!(
            out["messages"][0]["tool_calls"][0]["function"]["name"],
            short
        );
        assert_eq!(out["user"].as_str().unwrap().chars().count(), 64);
        assert_eq!(
            shortened_tool_names(&r),
            vec![(short.to_string(), long.clone())]
        );
    }

    #[test]
    fn documents_become_text_or_file_parts() {
        let r = json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}},
            {"type": "document", "title": "a.pdf", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
        ]}]});
        let out = messages_to_chat(&r, "x").unwrap();
        let parts = &out["messages"][0]["content"];
        assert_eq!(parts[0], json!({"type": "text", "text": "notes"}));
        assert_eq!(
            parts[1]["file"]["file_data"],
            "data:application/pdf;base64,JVBE"
        );
        let url = json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [
            {"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}}]}]});
        assert!(messages_to_chat(&url, "x").is_err());
        let in_result = json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t", "content": [
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "page"}},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}}]}]}]});
        let out = messages_to_chat(&in_result, "x").unwrap();
        assert_eq!(
            out["messages"][0],
            json!({"role": "tool", "tool_call_id": "t", "content": "page"})
        );
        assert_eq!(out["messages"][1]["content"][0]["type"], "file");
    }

    #[test]
    fn server_tools_are_refused_and_tool_choice_maps() {
        let r = json!({"model": "m", "max_tokens": 1, "messages": [], "tools": [{"type": "web_search_20250305", "name": "web_search"}]});
        assert!(matches!(
            messages_to_chat(&r, "x"),
            Err(Refusal::Unsupported { .. })
        ));
        for (choice, want) in [
            (json!({"type": "auto"}), json!("auto")),
            (json!({"type": "any"}), json!("required")),
            (json!({"type": "none"}), json!("none")),
            (
                json!({"type": "tool", "name": "f"}),
                json!({"type": "function", "function": {"name": "f"}}),
            ),
        ] {
            let r = json!({"model": "m", "max_tokens": 1, "messages": [], "tool_choice": choice,
                "tools": [{"name": "f", "input_schema": {"type": "object"}}]});
            assert_eq!(messages_to_chat(&r, "x").unwrap()["tool_choice"], want);
        }
    }

    #[test]
    fn what_messages_cannot_express_is_refused_by_name() {
        let base = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
        for (key, value) in [
            ("n", json!(2)),
            ("logprobs", json!(true)),
            ("top_logprobs", json!(2)),
            ("logit_bias", json!({"50256": -100})),
            ("presence_penalty", json!(0.5)),
            ("response_format", json!({"type": "json_object"})),
            ("functions", json!([])),
            ("modalities", json!(["text", "audio"])),
        ] {
            let mut r = base.clone();
            r[key] = value;
            let e = chat_to_messages(&r, "c", 100).unwrap_err();
            assert!(
                e.to_string().contains(key) || key == "top_logprobs" || key == "functions",
                "{e}"
            );
        }
        let mut ok = base.clone();
        ok["n"] = json!(1);
        ok["presence_penalty"] = json!(0);
        ok["response_format"] = json!({"type": "text"});
        assert!(chat_to_messages(&ok, "c", 100).is_ok());
    }

    #[test]
    fn inline_files_become_documents_and_file_ids_are_refused() {
        let r = json!({"model": "g", "messages": [{"role": "user", "content": [
            {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"}}]}]});
        let out = chat_to_messages(&r, "c", 10).unwrap();
        assert_eq!(
            out["messages"][0]["content"][0],
            json!({"type": "document", "title": "a.pdf",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}})
        );
        let id = json!({"model": "g", "messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]}]});
        assert!(chat_to_messages(&id, "c", 10)
            .unwrap_err()
            .to_string()
            .contains("messages[0].content[0]"));
    }

    #[test]
    fn max_tokens_is_the_clients_else_the_default() {
        let r = json!({"model": "g", "messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(chat_to_messages(&r, "c", 321).unwrap()["max_tokens"], 321);
        let mut r2 = r.clone();
        r2["max_completion_tokens"] = json!(55);
        r2["max_tokens"] = json!(66);
        assert_eq!(chat_to_messages(&r2, "c", 321).unwrap()["max_tokens"], 55);
    }

    #[test]
    fn consecutive_tool_messages_join_one_user_turn() {
        let r = json!({"model": "g", "messages": [
            {"role": "system", "content": "s1"},
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "a", "arguments": "{\"x\":1}"}},
                {"id": "c2", "type": "function", "function": {"name": "b", "arguments": ""}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "r1"},
            {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "r2"}]},
            {"role": "developer", "content": "s2"},
        ], "parallel_tool_calls": false, "tools": [{"type": "function", "function": {"name": "a"}}]});
        let out = chat_to_messages(&r, "c", 10).unwrap();
        assert_eq!(out["system"], "s1\n\ns2");
        let m = out["messages"].as_array().unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[1]["content"][0]["input"], json!({"x": 1}));
        assert_eq!(m[1]["content"][1]["input"], json!({}));
        assert_eq!(m[2]["content"][0]["tool_use_id"], "c1");
        assert_eq!(m[2]["content"][1]["content"], "r2");
        assert_eq!(
            out["tools"][0]["input_schema"],
            json!({"type": "object", "properties": {}})
        );
        assert_eq!(
            out["tool_choice"],
            json!({"type": "auto", "disable_parallel_tool_use": true})
        );
    }

    #[test]
    fn arguments_that_are_not_json_are_refused() {
        let r = json!({"model": "g", "messages": [{"role": "assistant", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "a", "arguments": "{oops"}}]}]});
        let e = chat_to_messages(&r, "c", 10).unwrap_err();
        assert!(e
            .to_string()
            .contains("messages[0].tool_calls[0].function.arguments"));
    }
}

#[cfg(test)]
mod system_turn_tests {
    use super::*;

    #[test]
    fn a_system_turn_between_messages_stays_in_place_as_a_system_message() {
        // Claude Code 2.1 puts system notes among the turns.
        let request = json!({"model": "m", "max_tokens": 5, "system": "top",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "system", "content": [{"type": "text", "text": "agents: a, b"}]},
            {"role": "user", "content": "go"},
        ]});
        let chat = messages_to_chat(&request, "up").unwrap();
        let roles: Vec<&str> = chat["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["system", "user", "system", "user"]);
        assert_eq!(chat["messages"][2]["content"], "agents: a, b");
        let bad = json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]});
        let refusal = messages_to_chat(&bad, "up").unwrap_err();
        assert_eq!(refusal.field(), Some("messages[0]"));
    }
}
