//! Generation requests: Anthropic Messages → OpenAI Chat Completions and back.
//!
//! The request is read lazily and the translation written straight into the outgoing body, one
//! message at a time (see [`super::lazy`]): a request costs about its own size once more, never a
//! tree of itself.

use super::lazy::{out, Json, JsonWriter, Object, Out};
use super::Refusal;
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::borrow::Cow;

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
pub(crate) fn shortened_tool_names(request: &Object<'_>) -> Vec<(String, String)> {
    request
        .field("tools")
        .array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("name").as_str())
        .filter(|n| n.chars().count() > OPENAI_NAME_LIMIT)
        .map(|n| (openai_name(&n), n.into_owned()))
        .collect()
}

/// A tool name for OpenAI; any other value passes as it is.
fn openai_name_of(value: Json<'_>) -> Out<'_> {
    match value.as_str() {
        Some(name) if name.chars().count() > OPENAI_NAME_LIMIT => openai_name(&name).into(),
        Some(name) => name.into(),
        None => value.into(),
    }
}

/// What both directions need to know besides the request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'m> {
    /// The model named in the translated request.
    pub model: &'m str,
    /// `max_tokens` for a Messages upstream when the Chat client gave none.
    pub default_max_tokens: u64,
    /// The most `max_tokens` the upstream takes; a larger request is lowered.
    pub max_tokens_cap: Option<u64>,
}

impl Target<'_> {
    /// `max_tokens` as the client wrote it, lowered to the upstream's cap.
    fn max_tokens<'a>(&self, max: Json<'a>) -> Out<'a> {
        match (self.max_tokens_cap, max.as_u64()) {
            (Some(cap), Some(n)) if n > cap => Out::U64(cap),
            _ => max.into(),
        }
    }
}

/// Texts joined by a blank line; one text is not copied.
fn joined<'a>(mut texts: Vec<Cow<'a, str>>) -> Cow<'a, str> {
    if texts.len() == 1 {
        return texts.pop().unwrap_or_default();
    }
    Cow::Owned(texts.join("\n\n"))
}

/// `part`, a slice of `whole`, borrowed for as long as `whole` is when `whole` is borrowed.
fn part_of<'a>(whole: &Cow<'a, str>, part: &str) -> Cow<'a, str> {
    if let Cow::Borrowed(text) = whole {
        let start = (part.as_ptr() as usize).checked_sub(text.as_ptr() as usize);
        if let Some(same) = start.and_then(|start| text.get(start..start + part.len())) {
            return Cow::Borrowed(same);
        }
    }
    Cow::Owned(part.to_string())
}

/// A body the translation wrote that serde could not: never expected, still not a panic.
fn unwritable(e: serde_json::Error) -> Refusal {
    Refusal::NotJson(format!("the translated request could not be written: {e}"))
}

/// A Messages request as a Chat Completions request, written into a new body.
///
/// `system` becomes the first message; `tool_use` blocks become the assistant's `tool_calls` with
/// JSON-string arguments; `tool_result` blocks become `tool` messages (an error is marked by an
/// `Error: ` prefix) placed before the rest of that user turn; earlier `thinking` blocks are dropped.
pub(crate) fn write_messages_as_chat(
    request: &Object<'_>,
    target: Target<'_>,
    capacity: usize,
) -> Result<Vec<u8>, Refusal> {
    let mut out = JsonWriter::with_capacity(capacity);
    out.open_object();
    out.member("model", &target.model.into())
        .map_err(unwritable)?;
    out.key("messages").map_err(unwritable)?;
    out.open_array();
    if let Some(system) = text_of(request.field("system"), "system")? {
        out.value(&out! {"role" => "system", "content" => system})
            .map_err(unwritable)?;
    }
    let turns = request
        .field("messages")
        .array()
        .ok_or_else(|| Refusal::unsupported("messages", "must be an array"))?;
    for (i, turn) in turns.into_iter().enumerate() {
        let field = format!("messages[{i}]");
        let turn = turn.object().unwrap_or_default();
        match turn.str("role").as_deref() {
            Some("user") => user_turn_to_chat(turn.field("content"), &field, &mut out)?,
            Some("assistant") => out
                .value(&assistant_turn_to_chat(turn.field("content"), &field)?)
                .map_err(unwritable)?,
            // Claude Code sends system notes between turns; Chat Completions takes a system
            // message anywhere.
            Some("system") => {
                if let Some(text) = text_of(turn.field("content"), &format!("{field}.content"))? {
                    out.value(&out! {"role" => "system", "content" => text})
                        .map_err(unwritable)?;
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
    out.close();
    if let Some(max) = request.get("max_tokens").filter(|v| !v.is_null()) {
        out.member("max_tokens", &target.max_tokens(max))
            .map_err(unwritable)?;
    }
    if let Some(stop) = request.get("stop_sequences").filter(|v| !v.is_null()) {
        out.member("stop", &stop.into()).map_err(unwritable)?;
    }
    for key in ["temperature", "top_p"] {
        if let Some(v) = request.get(key).filter(|v| !v.is_null()) {
            out.member(key, &v.into()).map_err(unwritable)?;
        }
    }
    if let Some(user) = request.field("metadata").get("user_id").as_str() {
        // Claude Code's user ids run to ~150 characters; OpenAI takes 64, so long ones are hashed.
        out.member("user", &openai_name(&user).into())
            .map_err(unwritable)?;
    }
    if request.field("stream").as_bool() == Some(true) {
        out.member("stream", &Out::Bool(true)).map_err(unwritable)?;
        out.member("stream_options", &out! {"include_usage" => true})
            .map_err(unwritable)?;
    }
    let mut has_tools = false;
    if let Some(tools) = request.field("tools").array() {
        let mut functions = Vec::new();
        for (i, tool) in tools.into_iter().enumerate() {
            functions.push(tool_to_function(tool, &format!("tools[{i}]"))?);
        }
        if !functions.is_empty() {
            out.member("tools", &Out::Array(functions))
                .map_err(unwritable)?;
            has_tools = true;
        }
    }
    if let Some(choice) = request.get("tool_choice").filter(|v| !v.is_null()) {
        let choice = choice.object().unwrap_or_default();
        let kind = choice.str("type").unwrap_or_default();
        let mapped: Out = match kind.as_ref() {
            "auto" => "auto".into(),
            "any" => "required".into(),
            "none" => "none".into(),
            "tool" => match choice.str("name") {
                Some(name) => {
                    out! {"type" => "function", "function" => out! {"name" => openai_name(&name)}}
                }
                None => return Err(Refusal::unsupported("tool_choice.name", "missing")),
            },
            other => {
                return Err(Refusal::unsupported(
                    "tool_choice.type",
                    format!("`{other}` has no Chat Completions equivalent"),
                ))
            }
        };
        if has_tools || kind == "none" {
            out.member("tool_choice", &mapped).map_err(unwritable)?;
        }
        if choice.field("disable_parallel_tool_use").as_bool() == Some(true) && has_tools {
            out.member("parallel_tool_calls", &Out::Bool(false))
                .map_err(unwritable)?;
        }
    }
    if request
        .field("mcp_servers")
        .array()
        .is_some_and(|servers| !servers.is_empty())
    {
        return Err(Refusal::unsupported(
            "mcp_servers",
            "an OpenAI-compatible upstream cannot call MCP servers",
        ));
    }
    Ok(out.finish())
}

/// `system`-like content (a string or text blocks) as one string.
fn text_of<'a>(value: Json<'a>, field: &str) -> Result<Option<Cow<'a, str>>, Refusal> {
    if value.is_null() {
        return Ok(None);
    }
    if let Some(text) = value.as_str() {
        return Ok(Some(text));
    }
    let Some(blocks) = value.array() else {
        return Err(Refusal::unsupported(
            field,
            "must be a string or an array of blocks",
        ));
    };
    let mut parts = Vec::new();
    for (i, block) in blocks.into_iter().enumerate() {
        match block.get("text").as_str() {
            Some(t) => parts.push(t),
            None => {
                return Err(Refusal::unsupported(
                    format!("{field}[{i}]"),
                    "only text blocks can be sent here",
                ))
            }
        }
    }
    Ok(Some(joined(parts)))
}

/// An image block as a Chat `image_url` part (base64 becomes a data URL).
fn image_part<'a>(block: &Object<'a>, field: &str) -> Result<Out<'a>, Refusal> {
    let source = block.field("source").object().unwrap_or_default();
    let url: Cow<str> = match source.str("type").as_deref() {
        Some("base64") => Cow::Owned(format!(
            "data:{};base64,{}",
            source.str("media_type").as_deref().unwrap_or("image/png"),
            source.str("data").unwrap_or_default()
        )),
        Some("url") => source.str("url").unwrap_or_default(),
        _ => {
            return Err(Refusal::unsupported(
                format!("{field}.source"),
                "only base64 and url images can be sent to an OpenAI-compatible upstream",
            ))
        }
    };
    Ok(out! {"type" => "image_url", "image_url" => out! {"url" => url}})
}

/// A document block as a Chat part: plain text as text, a base64 PDF as a `file` part.
fn document_part<'a>(block: &Object<'a>, field: &str) -> Result<Out<'a>, Refusal> {
    let source = block.field("source").object().unwrap_or_default();
    match source.str("type").as_deref() {
        Some("text") => {
            Ok(out! {"type" => "text", "text" => source.str("data").unwrap_or_default()})
        }
        Some("base64") => {
            let media_type = source.str("media_type");
            let media_type = media_type.as_deref().unwrap_or("application/pdf");
            let data = source.str("data").unwrap_or_default();
            let name = block.str("title").unwrap_or(Cow::Borrowed("document.pdf"));
            Ok(out! {"type" => "file", "file" => out! {
                "filename" => name,
                "file_data" => format!("data:{media_type};base64,{data}"),
            }})
        }
        _ => Err(Refusal::unsupported(
            format!("{field}.source"),
            "only text and base64 documents can be sent to an OpenAI-compatible upstream",
        )),
    }
}

/// A part of a user's Chat message: text (as the client wrote its value) or anything else.
enum Part<'a> {
    Text(Json<'a>),
    Other(Out<'a>),
}

/// Chat `content` for text and image parts: a plain string when it is text only.
fn chat_content(parts: Vec<Part<'_>>) -> Out<'_> {
    if parts.iter().all(|p| matches!(p, Part::Text(_))) {
        let texts = parts
            .iter()
            .filter_map(|p| match p {
                Part::Text(text) => text.as_str(),
                Part::Other(_) => None,
            })
            .collect();
        return joined(texts).into();
    }
    let parts = parts
        .into_iter()
        .map(|p| match p {
            Part::Text(text) => out! {"type" => "text", "text" => text},
            Part::Other(part) => part,
        })
        .collect();
    Out::Array(parts)
}

fn user_turn_to_chat<'a>(
    content: Json<'a>,
    field: &str,
    out: &mut JsonWriter,
) -> Result<(), Refusal> {
    if let Some(text) = content.as_str() {
        return out
            .value(&out! {"role" => "user", "content" => text})
            .map_err(unwritable);
    }
    let Some(blocks) = content.array() else {
        return Err(Refusal::unsupported(
            format!("{field}.content"),
            "must be a string or an array",
        ));
    };
    // Tool results answer the previous assistant turn, so they come first; the user's own text
    // and images (and images a tool returned, which a `tool` message cannot carry) follow.
    let mut parts = Vec::new();
    for (i, block) in blocks.into_iter().enumerate() {
        let field = format!("{field}.content[{i}]");
        let block = block.object().unwrap_or_default();
        match block.str("type").unwrap_or_default().as_ref() {
            "text" => parts.push(Part::Text(block.field("text"))),
            "image" => parts.push(Part::Other(image_part(&block, &field)?)),
            "tool_result" => {
                let mut texts = Vec::new();
                let result = block.field("content");
                if let Some(text) = result.as_str() {
                    texts.push(text);
                } else if let Some(inner) = result.array() {
                    for (j, b) in inner.into_iter().enumerate() {
                        let b = b.object().unwrap_or_default();
                        let source = b.field("source");
                        match b.str("type").unwrap_or_default().as_ref() {
                            "text" => texts.push(b.str("text").unwrap_or_default()),
                            "image" => parts.push(Part::Other(image_part(
                                &b,
                                &format!("{field}.content[{j}]"),
                            )?)),
                            "document"
                                if source.get("type").as_str().as_deref() == Some("text") =>
                            {
                                texts.push(source.get("data").as_str().unwrap_or_default())
                            }
                            "document" => parts.push(Part::Other(document_part(
                                &b,
                                &format!("{field}.content[{j}]"),
                            )?)),
                            _ => {}
                        }
                    }
                }
                let mut text = joined(texts);
                if block.field("is_error").as_bool() == Some(true) {
                    text = Cow::Owned(format!("Error: {text}"));
                }
                out.value(&out! {
                    "role" => "tool",
                    "tool_call_id" => block.str("tool_use_id").unwrap_or_default(),
                    "content" => text,
                })
                .map_err(unwritable)?;
            }
            "thinking" | "redacted_thinking" => {}
            "document" => parts.push(Part::Other(document_part(&block, &field)?)),
            _ => {}
        }
    }
    if !parts.is_empty() {
        out.value(&out! {"role" => "user", "content" => chat_content(parts)})
            .map_err(unwritable)?;
    }
    Ok(())
}

fn assistant_turn_to_chat<'a>(content: Json<'a>, field: &str) -> Result<Out<'a>, Refusal> {
    if let Some(text) = content.as_str() {
        return Ok(out! {"role" => "assistant", "content" => text});
    }
    let Some(blocks) = content.array() else {
        return Err(Refusal::unsupported(
            format!("{field}.content"),
            "must be a string or an array",
        ));
    };
    let mut texts = Vec::new();
    let mut calls = Vec::new();
    for block in blocks {
        let block = block.object().unwrap_or_default();
        match block.str("type").unwrap_or_default().as_ref() {
            "text" => texts.push(block.str("text").unwrap_or_default()),
            "tool_use" => {
                let input = block.field("input");
                let arguments = if input.is_null() {
                    Cow::Borrowed("{}")
                } else {
                    input.compact()
                };
                calls.push(out! {
                    "id" => block.field("id"),
                    "type" => "function",
                    "function" => out! {"name" => openai_name_of(block.field("name")), "arguments" => arguments},
                });
            }
            _ => {}
        }
    }
    let text = joined(texts);
    let content = if text.is_empty() && !calls.is_empty() {
        Out::Null
    } else {
        text.into()
    };
    let mut message = vec![("role", Out::from("assistant")), ("content", content)];
    if !calls.is_empty() {
        message.push(("tool_calls", Out::Array(calls)));
    }
    Ok(Out::Object(message))
}

fn tool_to_function<'a>(tool: Json<'a>, field: &str) -> Result<Out<'a>, Refusal> {
    let tool = tool.object().unwrap_or_default();
    let kind = tool.str("type").unwrap_or(Cow::Borrowed("custom"));
    if kind != "custom" || tool.get("input_schema").is_none() {
        return Err(Refusal::unsupported(
            field,
            format!("the `{kind}` tool runs on Anthropic's side; an OpenAI-compatible upstream takes only tools with an input_schema"),
        ));
    }
    let mut function = vec![("name", openai_name_of(tool.field("name")))];
    if let Some(d) = tool.str("description") {
        function.push(("description", d.into()));
    }
    function.push(("parameters", tool.field("input_schema").into()));
    Ok(out! {"type" => "function", "function" => Out::Object(function)})
}

/// One Messages content block of a Chat message, and whether it is a tool result (those open the
/// user turn that carries them).
struct Block<'a> {
    value: Out<'a>,
    tool_result: bool,
}

impl<'a> From<Out<'a>> for Block<'a> {
    fn from(value: Out<'a>) -> Block<'a> {
        Block {
            value,
            tool_result: false,
        }
    }
}

/// Messages turns as they are written: consecutive Chat messages of one role merge into one turn,
/// held as written bytes (tool results apart, as they go first) until the role changes.
#[derive(Default)]
struct Turns {
    role: Option<&'static str>,
    results: Vec<u8>,
    rest: Vec<u8>,
}

impl Turns {
    fn push(
        &mut self,
        role: &'static str,
        blocks: Vec<Block<'_>>,
        out: &mut JsonWriter,
    ) -> serde_json::Result<()> {
        if self.role != Some(role) {
            self.flush(out)?;
            self.role = Some(role);
        }
        for block in blocks {
            let to = if block.tool_result && role == "user" {
                &mut self.results
            } else {
                &mut self.rest
            };
            if !to.is_empty() {
                to.push(b',');
            }
            block.value.write_to(to)?;
        }
        Ok(())
    }

    /// Writes the turn in progress, if there is one.
    fn flush(&mut self, out: &mut JsonWriter) -> serde_json::Result<()> {
        let Some(role) = self.role.take() else {
            return Ok(());
        };
        let (results, rest) = (
            std::mem::take(&mut self.results),
            std::mem::take(&mut self.rest),
        );
        out.value_with(|out| {
            out.extend_from_slice(b"{\"role\":");
            serde_json::to_writer(&mut *out, role)?;
            out.extend_from_slice(b",\"content\":[");
            out.extend_from_slice(&results);
            if !results.is_empty() && !rest.is_empty() {
                out.push(b',');
            }
            out.extend_from_slice(&rest);
            out.extend_from_slice(b"]}");
            Ok(())
        })
    }
}

/// A Chat Completions request as a Messages request, written into a new body.
///
/// System and developer messages are hoisted into `system`; consecutive turns of one role are
/// merged (tool results join the user turn that follows them). What Messages cannot express is
/// refused: `n > 1`, `logprobs`, `logit_bias`, penalties, audio, JSON response formats, legacy
/// `functions`.
pub(crate) fn write_chat_as_messages(
    request: &Object<'_>,
    target: Target<'_>,
    capacity: usize,
) -> Result<Vec<u8>, Refusal> {
    refuse_what_messages_cannot_express(request)?;
    let mut out = JsonWriter::with_capacity(capacity);
    out.open_object();
    out.member("model", &target.model.into())
        .map_err(unwritable)?;
    let max = request
        .get("max_completion_tokens")
        .filter(|v| !v.is_null())
        .or_else(|| request.get("max_tokens").filter(|v| !v.is_null()));
    let max = match max {
        Some(max) => target.max_tokens(max),
        None => Out::U64(
            target
                .max_tokens_cap
                .map_or(target.default_max_tokens, |cap| {
                    cap.min(target.default_max_tokens)
                }),
        ),
    };
    out.member("max_tokens", &max).map_err(unwritable)?;
    let mut system = Vec::new();
    let mut turns = Turns::default();
    out.key("messages").map_err(unwritable)?;
    out.open_array();
    let messages = request
        .field("messages")
        .array()
        .ok_or_else(|| Refusal::unsupported("messages", "must be an array"))?;
    for (i, message) in messages.into_iter().enumerate() {
        let field = format!("messages[{i}]");
        let message = message.object().unwrap_or_default();
        let role = message.str("role").unwrap_or_default();
        let (role, blocks) = match role.as_ref() {
            "system" | "developer" => {
                system.push(chat_text(message.field("content"), &field)?);
                continue;
            }
            "user" => (
                "user",
                chat_parts_to_blocks(message.field("content"), &field)?,
            ),
            "assistant" => ("assistant", assistant_message_to_blocks(&message, &field)?),
            "tool" => {
                let content = chat_text(message.field("content"), &field)?;
                let block = out! {
                    "type" => "tool_result",
                    "tool_use_id" => message.str("tool_call_id").unwrap_or_default(),
                    "content" => content,
                };
                let block = Block {
                    value: block,
                    tool_result: true,
                };
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
        turns.push(role, blocks, &mut out).map_err(unwritable)?;
    }
    turns.flush(&mut out).map_err(unwritable)?;
    out.close();
    if !system.is_empty() {
        out.member("system", &system.join("\n\n").into())
            .map_err(unwritable)?;
    }
    if let Some(stop) = request.get("stop").filter(|v| !v.is_null()) {
        let list = match stop.as_str() {
            Some(one) => Out::Array(vec![one.into()]),
            None => stop.into(),
        };
        out.member("stop_sequences", &list).map_err(unwritable)?;
    }
    if let Some(t) = request.field("temperature").as_f64() {
        // Messages takes 0..=1 where Chat takes 0..=2; Anthropic's own compatibility layer caps it too.
        out.member("temperature", &Out::F64(t.clamp(0.0, 1.0)))
            .map_err(unwritable)?;
    }
    if let Some(p) = request.get("top_p").filter(|v| !v.is_null()) {
        out.member("top_p", &p.into()).map_err(unwritable)?;
    }
    if let Some(user) = request.str("user") {
        out.member("metadata", &out! {"user_id" => user})
            .map_err(unwritable)?;
    }
    if request.field("stream").as_bool() == Some(true) {
        out.member("stream", &Out::Bool(true)).map_err(unwritable)?;
    }
    let mut has_tools = false;
    if let Some(tools) = request.field("tools").array() {
        let mut list = Vec::new();
        for (i, tool) in tools.into_iter().enumerate() {
            let field = format!("tools[{i}]");
            let tool = tool.object().unwrap_or_default();
            if tool.str("type").as_deref().unwrap_or("function") != "function" {
                return Err(Refusal::unsupported(
                    field,
                    "only function tools can be sent to a Messages upstream",
                ));
            }
            let function = tool.field("function").object().unwrap_or_default();
            let mut t = vec![("name", function.field("name").into())];
            if let Some(d) = function.str("description") {
                t.push(("description", d.into()));
            }
            let schema = match function.field("parameters") {
                p if p.is_null() => {
                    out! {"type" => "object", "properties" => Out::Object(Vec::new())}
                }
                p => p.into(),
            };
            t.push(("input_schema", schema));
            list.push(Out::Object(t));
        }
        if !list.is_empty() {
            out.member("tools", &Out::Array(list)).map_err(unwritable)?;
            has_tools = true;
        }
    }
    let choice = request.get("tool_choice").filter(|v| !v.is_null());
    let mut choice: Option<(&str, Option<Cow<str>>, bool)> = match choice {
        None => None,
        Some(v) => match v.as_str().as_deref() {
            Some("auto") => Some(("auto", None, false)),
            Some("required") => Some(("any", None, false)),
            Some("none") => Some(("none", None, false)),
            Some(other) => {
                return Err(Refusal::unsupported(
                    "tool_choice",
                    format!("unknown value `{other}`"),
                ))
            }
            None => match v.get("function").get("name").as_str() {
                Some(name) => Some(("tool", Some(name), false)),
                None => {
                    return Err(Refusal::unsupported(
                        "tool_choice",
                        "expected a function name",
                    ))
                }
            },
        },
    };
    if request.field("parallel_tool_calls").as_bool() == Some(false) && has_tools {
        let (kind, _, disable_parallel) = choice.get_or_insert(("auto", None, false));
        if *kind != "none" {
            *disable_parallel = true;
        }
    }
    if let Some((kind, name, disable_parallel)) = choice {
        if has_tools || kind == "none" {
            let mut c = vec![("type", Out::from(Cow::Borrowed(kind)))];
            if let Some(name) = name {
                c.push(("name", name.into()));
            }
            if disable_parallel {
                c.push(("disable_parallel_tool_use", true.into()));
            }
            out.member("tool_choice", &Out::Object(c))
                .map_err(unwritable)?;
        }
    }
    Ok(out.finish())
}

fn refuse_what_messages_cannot_express(request: &Object<'_>) -> Result<(), Refusal> {
    if request.field("n").as_u64().is_some_and(|n| n > 1) {
        return Err(Refusal::unsupported(
            "n",
            "Messages returns one choice; n must be 1",
        ));
    }
    if request.field("logprobs").as_bool() == Some(true) || !request.field("top_logprobs").is_null()
    {
        return Err(Refusal::unsupported(
            "logprobs",
            "Messages does not return log probabilities",
        ));
    }
    if request
        .field("logit_bias")
        .object()
        .is_some_and(|m| !m.is_empty())
    {
        return Err(Refusal::unsupported(
            "logit_bias",
            "Messages has no logit bias",
        ));
    }
    for key in ["presence_penalty", "frequency_penalty"] {
        if request.field(key).as_f64().is_some_and(|v| v != 0.0) {
            return Err(Refusal::unsupported(key, "Messages has no penalties"));
        }
    }
    if !request.field("audio").is_null()
        || request
            .field("modalities")
            .array()
            .is_some_and(|m| m.iter().any(|x| x.as_str().as_deref() != Some("text")))
    {
        return Err(Refusal::unsupported(
            "modalities",
            "Messages answers with text only",
        ));
    }
    if let Some(kind) = request.field("response_format").get("type").as_str() {
        if kind != "text" {
            return Err(Refusal::unsupported(
                "response_format",
                format!("`{kind}` has no Messages equivalent; describe the format in the prompt or use a tool"),
            ));
        }
    }
    if !request.field("functions").is_null() || !request.field("function_call").is_null() {
        return Err(Refusal::unsupported(
            "functions",
            "legacy functions are not translated; use tools",
        ));
    }
    Ok(())
}

/// Chat content that may only be text (system, developer, tool) as one string.
fn chat_text<'a>(content: Json<'a>, field: &str) -> Result<Cow<'a, str>, Refusal> {
    if content.is_null() {
        return Ok(Cow::Borrowed(""));
    }
    if let Some(text) = content.as_str() {
        return Ok(text);
    }
    let Some(parts) = content.array() else {
        return Err(Refusal::unsupported(
            format!("{field}.content"),
            "must be a string or an array",
        ));
    };
    let mut texts = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        match part.get("text").as_str() {
            Some(t) => texts.push(t),
            None => {
                return Err(Refusal::unsupported(
                    format!("{field}.content[{i}]"),
                    "only text parts can be sent here",
                ))
            }
        }
    }
    Ok(joined(texts))
}

fn chat_parts_to_blocks<'a>(content: Json<'a>, field: &str) -> Result<Vec<Block<'a>>, Refusal> {
    if content.is_null() {
        return Ok(Vec::new());
    }
    if let Some(text) = content.as_str() {
        if text.is_empty() {
            return Ok(Vec::new());
        }
        return Ok(vec![out! {"type" => "text", "text" => text}.into()]);
    }
    let Some(parts) = content.array() else {
        return Err(Refusal::unsupported(
            format!("{field}.content"),
            "must be a string or an array",
        ));
    };
    let mut blocks = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        let field = format!("{field}.content[{i}]");
        let part = part.object().unwrap_or_default();
        match part.str("type").unwrap_or_default().as_ref() {
            "text" => blocks.push(out! {"type" => "text", "text" => part.field("text")}.into()),
            "image_url" => {
                let image_url = part.field("image_url");
                let url = image_url
                    .get("url")
                    .as_str()
                    .or_else(|| image_url.as_str())
                    .unwrap_or_default();
                blocks.push(image_block(url, &field)?.into());
            }
            "file" => {
                let file = part.field("file").object().unwrap_or_default();
                let data = file.str("file_data").unwrap_or_default();
                let Some((media_type, base64)) = data
                    .strip_prefix("data:")
                    .and_then(|d| d.split_once(";base64,"))
                else {
                    return Err(Refusal::unsupported(
                        &field,
                        "only files given inline as base64 data URLs can be sent to a Messages upstream",
                    ));
                };
                let source = out! {
                    "type" => "base64",
                    "media_type" => part_of(&data, media_type),
                    "data" => part_of(&data, base64),
                };
                let mut block = vec![("type", Out::from("document")), ("source", source)];
                if let Some(name) = file.str("filename") {
                    block.push(("title", name.into()));
                }
                blocks.push(Out::Object(block).into());
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

/// A Chat image URL (a `data:` URL or a web address) as a Messages image block.
fn image_block<'a>(url: Cow<'a, str>, field: &str) -> Result<Out<'a>, Refusal> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest
            .split_once(',')
            .ok_or_else(|| Refusal::unsupported(field, "malformed data URL"))?;
        let media_type = meta
            .strip_suffix(";base64")
            .ok_or_else(|| Refusal::unsupported(field, "only base64 data URLs are supported"))?;
        return Ok(out! {"type" => "image", "source" => out! {
            "type" => "base64",
            "media_type" => part_of(&url, media_type),
            "data" => part_of(&url, data),
        }});
    }
    Ok(out! {"type" => "image", "source" => out! {"type" => "url", "url" => url}})
}

fn assistant_message_to_blocks<'a>(
    message: &Object<'a>,
    field: &str,
) -> Result<Vec<Block<'a>>, Refusal> {
    let content = message.field("content");
    let mut blocks = match content.array() {
        Some(parts) => {
            let mut blocks = Vec::new();
            for part in parts {
                let part = part.object().unwrap_or_default();
                let text = part.str("text").or_else(|| part.str("refusal"));
                if let Some(t) = text.filter(|t| !t.is_empty()) {
                    blocks.push(out! {"type" => "text", "text" => t}.into());
                }
            }
            blocks
        }
        None => chat_parts_to_blocks(content, field)?,
    };
    if let Some(calls) = message.field("tool_calls").array() {
        for (i, call) in calls.into_iter().enumerate() {
            let call = call.object().unwrap_or_default();
            let function = call.field("function").object().unwrap_or_default();
            let arguments = function.str("arguments").unwrap_or_default();
            let input = if arguments.trim().is_empty() {
                Out::Object(Vec::new())
            } else {
                let checked = match arguments {
                    Cow::Borrowed(text) => {
                        serde_json::from_str::<&RawValue>(text).map(|raw| Out::Raw(raw.into()))
                    }
                    Cow::Owned(text) => RawValue::from_string(text).map(Out::RawOwned),
                };
                checked.map_err(|e| {
                    Refusal::unsupported(
                        format!("{field}.tool_calls[{i}].function.arguments"),
                        format!("is not JSON ({e})"),
                    )
                })?
            };
            blocks.push(
                out! {
                    "type" => "tool_use",
                    "id" => call.field("id"),
                    "name" => function.field("name"),
                    "input" => input,
                }
                .into(),
            );
        }
    }
    Ok(blocks)
}

/// [`write_messages_as_chat`] for a request already parsed into a `Value`.
pub fn messages_to_chat(request: &Value, upstream_model: &str) -> Result<Value, Refusal> {
    let target = Target {
        model: upstream_model,
        default_max_tokens: super::DEFAULT_MAX_TOKENS,
        max_tokens_cap: None,
    };
    through_bytes(request, |r| write_messages_as_chat(r, target, 0))
}

/// [`write_chat_as_messages`] for a request already parsed into a `Value`.
pub fn chat_to_messages(
    request: &Value,
    upstream_model: &str,
    default_max_tokens: u64,
) -> Result<Value, Refusal> {
    let target = Target {
        model: upstream_model,
        default_max_tokens,
        max_tokens_cap: None,
    };
    through_bytes(request, |r| write_chat_as_messages(r, target, 0))
}

fn through_bytes(
    request: &Value,
    write: impl FnOnce(&Object<'_>) -> Result<Vec<u8>, Refusal>,
) -> Result<Value, Refusal> {
    let bytes = serde_json::to_vec(request).map_err(|e| Refusal::NotJson(e.to_string()))?;
    let request = Json::parse(&bytes)
        .ok()
        .and_then(Json::object)
        .ok_or_else(|| Refusal::NotJson("expected an object".into()))?;
    let body = write(&request)?;
    serde_json::from_slice(&body).map_err(|e| Refusal::NotJson(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        let bytes = serde_json::to_vec(&r).unwrap();
        let request = Json::parse(&bytes).unwrap().object().unwrap();
        assert_eq!(
            shortened_tool_names(&request),
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
    use serde_json::json;

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
