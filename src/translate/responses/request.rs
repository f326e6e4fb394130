//! Responses requests: read into the intermediate form (for an upstream of another API), and
//! written from it (for a Responses upstream).

use super::carry;
use crate::translate::chat::{checked_arguments, image_of_url, write_sampling, Renamed};
use crate::translate::field::Field;
use crate::translate::hub::{unwritable, Target, Written};
use crate::translate::ir::{
    data_url_parts, joined, Document, Effort, FormatKind, Image, Input, OutputFormat, Part,
    Reasoning, Request, Role, Tool, ToolCall, ToolChoice, ToolResult, Turn,
};
use crate::translate::lazy::{out, write_joined, write_strs, Json, JsonWriter, Object, Out, Text};
use crate::translate::{Api, Refusal};
use std::borrow::Cow;

/// A Responses request in the intermediate form, for an upstream of `upstream`'s API. Built-in
/// tools the upstream cannot run are left out (and logged); what needs a stored conversation is
/// refused.
pub(crate) fn read_request<'a>(
    request: &Object<'a>,
    upstream: Api,
) -> Result<Request<'a>, Refusal> {
    const NO_CONVERSATIONS: &str = "switchyard keeps no conversations for a translated upstream; send the whole conversation in `input`";
    if !request.field("previous_response_id").is_null() {
        return Err(Refusal::unsupported(
            "previous_response_id",
            NO_CONVERSATIONS,
        ));
    }
    if request.field("store").as_bool() == Some(true) {
        return Err(Refusal::unsupported(
            "store",
            "switchyard keeps no conversations for a translated upstream; set store to false",
        ));
    }
    let input = request.field("input");
    let turns: Box<dyn Iterator<Item = Result<Turn<'a>, Refusal>> + 'a> = match input.as_text() {
        Some(text) => Box::new(std::iter::once(Ok(Turn::new(
            Role::User,
            vec![Part::Text(text)],
        )))),
        None => match input.array() {
            Some(items) => Box::new(Items {
                items,
                at: 0,
                upstream,
                pending: None,
            }),
            None if input.is_null() => Box::new(std::iter::empty()),
            None => {
                return Err(Refusal::unsupported(
                    "input",
                    "must be a string or an array",
                ))
            }
        },
    };
    let (tools, left_out) = read_tools(request.field("tools"));
    if !left_out.is_empty() {
        log::info!(
            "leaving out tools a {} upstream cannot run: {}",
            upstream.title(),
            left_out.join(", ")
        );
    }
    let reasoning = request.field("reasoning").object().unwrap_or_default();
    Ok(Request {
        system: request.text("instructions").into_iter().collect(),
        system_cache: Default::default(),
        turns,
        tools,
        tool_choice: read_tool_choice(request.get("tool_choice"))?,
        parallel_tool_calls: request.field("parallel_tool_calls").as_bool(),
        max_tokens: request.get("max_output_tokens").filter(|v| !v.is_null()),
        stop: None,
        temperature: request.get("temperature").filter(|v| !v.is_null()),
        top_p: request.get("top_p").filter(|v| !v.is_null()),
        top_k: None,
        user: request
            .str("user")
            .or_else(|| request.str("safety_identifier")),
        stream: request.field("stream").as_bool() == Some(true),
        include_usage: false,
        reasoning: Reasoning {
            effort: reasoning.str("effort").and_then(|e| Effort::from_word(&e)),
            budget: None,
        },
        format: read_format(request.field("text").get("format"), upstream)?,
    })
}

/// The function and custom tools, and the kinds of the others, which are left out.
fn read_tools(tools: Json<'_>) -> (Vec<Tool<'_>>, Vec<String>) {
    let mut list = Vec::new();
    let mut left_out = Vec::new();
    for tool in tools.array().unwrap_or_default() {
        let tool = tool.object().unwrap_or_default();
        let kind = tool.str("type").unwrap_or_default();
        match kind.as_ref() {
            "function" => list.push(Tool {
                name: tool.str("name").unwrap_or_default(),
                description: tool.text("description"),
                schema: tool.get("parameters").filter(|p| !p.is_null()),
                custom: None,
                cache: None,
            }),
            "custom" => list.push(Tool {
                name: tool.str("name").unwrap_or_default(),
                description: tool.text("description"),
                schema: None,
                custom: Some(tool.get("format").filter(|f| !f.is_null())),
                cache: None,
            }),
            other => {
                let name = tool.str("name").map(|n| format!("{other} `{n}`"));
                left_out.push(name.unwrap_or_else(|| other.to_string()));
            }
        }
    }
    (list, left_out)
}

fn read_tool_choice(choice: Option<Json<'_>>) -> Result<Option<ToolChoice<'_>>, Refusal> {
    let Some(choice) = choice.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    if let Some(word) = choice.as_str() {
        return match word.as_ref() {
            "auto" => Ok(Some(ToolChoice::Auto)),
            "required" => Ok(Some(ToolChoice::Any)),
            "none" => Ok(Some(ToolChoice::None)),
            other => Err(Refusal::unsupported(
                "tool_choice",
                format!("unknown value `{other}`"),
            )),
        };
    }
    let choice = choice.object().unwrap_or_default();
    Ok(match choice.str("type").as_deref() {
        Some("function" | "custom") => choice.str("name").map(ToolChoice::Tool),
        Some("allowed_tools") if choice.str("mode").as_deref() == Some("required") => {
            Some(ToolChoice::Any)
        }
        // A built-in tool that was left out, or a list of allowed tools: any tool may be called.
        _ => Some(ToolChoice::Auto),
    })
}

fn read_format(format: Json<'_>, upstream: Api) -> Result<Option<OutputFormat<'_>>, Refusal> {
    let format = format.object().unwrap_or_default();
    let kind = match format.str("type").as_deref() {
        None | Some("text") => return Ok(None),
        Some("json_object") => FormatKind::JsonObject,
        Some("json_schema") => FormatKind::JsonSchema {
            name: format.str("name").unwrap_or(Cow::Borrowed("answer")),
            schema: format.field("schema"),
            strict: format.field("strict").as_bool(),
            description: format.str("description"),
        },
        Some(other) => {
            return Err(Refusal::unsupported(
                "text.format",
                format!("`{other}` has no {} equivalent", upstream.title()),
            ))
        }
    };
    Ok(Some(OutputFormat {
        field: "text.format",
        kind,
    }))
}

/// Which side of the conversation an input item belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    System,
    User,
    Assistant,
    /// Nothing the upstream can use (a built-in tool's call, say).
    Skip,
}

/// The `input` items as turns: consecutive items of one side are one turn, so an assistant's
/// reasoning, text and calls stay together, as Anthropic and Chat want them.
struct Items<'a> {
    items: Vec<Json<'a>>,
    at: usize,
    upstream: Api,
    /// The item at `at`, read already: the one that ended the last turn by starting the next.
    pending: Option<Object<'a>>,
}

impl<'a> Items<'a> {
    /// The side of an item of type `kind`.
    fn side(kind: &str, item: &Object<'_>) -> Side {
        match kind {
            "message" => match item.str("role").as_deref() {
                Some("assistant") => Side::Assistant,
                Some("system" | "developer") => Side::System,
                _ => Side::User,
            },
            "reasoning" | "function_call" | "custom_tool_call" => Side::Assistant,
            "function_call_output" | "custom_tool_call_output" => Side::User,
            _ => Side::Skip,
        }
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<Turn<'a>, Refusal>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut turn: Option<(Side, Vec<Part<'a>>)> = None;
        while let Some(item) = self.items.get(self.at).copied() {
            let field = Field::top("input", self.at);
            let item = match self.pending.take() {
                Some(read) => read,
                None => item.object().unwrap_or_default(),
            };
            let kind = item.str("type");
            let kind = kind.as_deref().unwrap_or("message");
            let side = Items::side(kind, &item);
            if side == Side::Skip {
                if kind == "item_reference" {
                    return Some(Err(Refusal::unsupported(
                        field,
                        "switchyard keeps no conversations for a translated upstream; an item_reference cannot be resolved",
                    )));
                }
                log::debug!(
                    "leaving out a `{kind}` input item a {} upstream cannot use",
                    self.upstream.title()
                );
                self.at += 1;
                continue;
            }
            match &turn {
                Some((current, _)) if *current != side || side == Side::System => {
                    self.pending = Some(item);
                    break;
                }
                _ => {}
            }
            self.at += 1;
            let parts = &mut turn.get_or_insert_with(|| (side, Vec::new())).1;
            if let Err(refusal) = read_item(kind, &item, &field, self.upstream, parts) {
                return Some(Err(refusal));
            }
        }
        let (side, parts) = turn?;
        let role = match side {
            Side::System => Role::System,
            Side::Assistant => Role::Assistant,
            Side::User | Side::Skip => Role::User,
        };
        Some(Ok(Turn::new(role, parts)))
    }
}

/// Adds an input item of type `kind` to its turn's parts.
fn read_item<'a>(
    kind: &str,
    item: &Object<'a>,
    field: &Field<'_>,
    upstream: Api,
    parts: &mut Vec<Part<'a>>,
) -> Result<(), Refusal> {
    match kind {
        "message" => content_parts(item.field("content"), field, upstream, parts)?,
        "reasoning" => {
            let encrypted = item.str("encrypted_content");
            match encrypted.as_deref() {
                Some(e) if carry::is_carried(e) => match carry::restore(e) {
                    Some(blocks) => parts.extend(blocks),
                    None => log::warn!("{field}: dropping reasoning the gateway cannot read back"),
                },
                _ => {
                    // Another API's reasoning: its summary is all an upstream of this kind can
                    // take, and without a signature it is dropped there.
                    let summary = item.field("summary").array().unwrap_or_default();
                    let texts: Vec<_> = summary
                        .into_iter()
                        .filter_map(|s| s.get("text").as_text())
                        .collect();
                    if !texts.is_empty() {
                        parts.push(Part::Thinking {
                            text: joined(texts),
                            signature: None,
                        });
                    }
                }
            }
        }
        "function_call" => {
            let arguments = item.str("arguments").unwrap_or_default();
            let input = checked_arguments(arguments).map_err(|e| {
                Refusal::unsupported(format!("{field}.arguments"), format!("is not JSON ({e})"))
            })?;
            parts.push(Part::ToolCall(ToolCall {
                id: item.str("call_id").unwrap_or_default(),
                name: item.str("name").unwrap_or_default(),
                input,
            }));
        }
        "custom_tool_call" => parts.push(Part::ToolCall(ToolCall {
            id: item.str("call_id").unwrap_or_default(),
            name: item.str("name").unwrap_or_default(),
            input: Input::Text(item.str("input").unwrap_or_default()),
        })),
        "function_call_output" | "custom_tool_call_output" => {
            let mut content = Vec::new();
            let output = item.field("output");
            match output.as_text() {
                Some(text) => content.push(Part::Text(text)),
                None => content_parts(output, &field.member("output"), upstream, &mut content)?,
            }
            parts.push(Part::ToolResult(ToolResult {
                id: item.str("call_id").unwrap_or_default(),
                content,
                is_error: false,
                cache: None,
            }));
        }
        _ => {}
    }
    Ok(())
}

/// A message's content (a string, or text, image and file parts) as parts.
fn content_parts<'a>(
    content: Json<'a>,
    field: &Field<'_>,
    upstream: Api,
    parts: &mut Vec<Part<'a>>,
) -> Result<(), Refusal> {
    if let Some(text) = content.as_text() {
        parts.push(Part::Text(text));
        return Ok(());
    }
    let Some(items) = content.array() else {
        if content.is_null() {
            return Ok(());
        }
        return Err(Refusal::unsupported(
            format!("{field}.content"),
            "must be a string or an array",
        ));
    };
    for (i, part) in items.into_iter().enumerate() {
        let field = field.item("content", i);
        let part = part.object().unwrap_or_default();
        let inline_only = || {
            Refusal::unsupported(
                field,
                format!(
                    "only files given inline as base64 data URLs can be sent to a {} upstream",
                    upstream.title()
                ),
            )
        };
        match part.str("type").unwrap_or_default().as_ref() {
            "input_text" | "output_text" | "text" => {
                parts.push(Part::Text(part.text("text").unwrap_or_default()))
            }
            "refusal" => parts.push(Part::Text(part.text("refusal").unwrap_or_default())),
            "input_image" => match part.str("image_url") {
                Some(url) => parts.push(Part::Image(image_of_url(url, &field)?)),
                None => return Err(inline_only()),
            },
            "input_file" => {
                let data = part.str("file_data").ok_or_else(inline_only)?;
                let (media_type, data) = match data_url_parts(&data) {
                    Some(parts) => parts,
                    // Bare base64, as the API also takes it: a PDF, most likely.
                    None => (Cow::Borrowed("application/pdf"), data),
                };
                parts.push(Part::Document(Document::Base64 {
                    media_type,
                    data,
                    title: part.str("filename"),
                }));
            }
            other => {
                return Err(Refusal::unsupported(
                    field,
                    format!(
                        "`{other}` parts cannot be sent to a {} upstream",
                        upstream.title()
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// The least `max_output_tokens` the Responses API takes.
const LEAST_OUTPUT_TOKENS: u64 = 16;

/// The intermediate form as a Responses request, written into a new body.
///
/// System text becomes `instructions` (system turns `developer` messages); tool calls become
/// `function_call` items and their results `function_call_output` items; thinking is dropped (an
/// Anthropic signature means nothing to OpenAI). The request is never stored upstream. Stop
/// sequences have no Responses equivalent and are left out.
pub(crate) fn write_request(
    request: Request<'_>,
    target: &Target<'_>,
    mut out: JsonWriter,
) -> Result<Written, Refusal> {
    let mut renamed = Renamed::default();
    out.open_object();
    out.member("model", &target.model.into())
        .map_err(unwritable)?;
    if !request.system.is_empty() {
        out.key("instructions").map_err(unwritable)?;
        out.value_with(|buf| write_joined(request.system.iter(), buf))
            .map_err(unwritable)?;
    }
    out.key("input").map_err(unwritable)?;
    out.open_array();
    for turn in request.turns {
        let turn = turn?;
        match turn.role {
            Role::System => developer_message(turn.parts, &mut out).map_err(unwritable)?,
            Role::User => user_items(turn.parts, &mut out).map_err(unwritable)?,
            Role::Assistant => {
                assistant_items(turn.parts, &mut renamed, &mut out).map_err(unwritable)?
            }
        }
    }
    out.close();
    if let Some(max) = request.max_tokens {
        let max = match target.max_tokens(max) {
            Out::U64(n) => Out::U64(n.max(LEAST_OUTPUT_TOKENS)),
            Out::Raw(json) => match json.as_u64() {
                Some(n) => Out::U64(n.max(LEAST_OUTPUT_TOKENS)),
                None => Out::Raw(json),
            },
            other => other,
        };
        out.member("max_output_tokens", &max).map_err(unwritable)?;
    }
    if request.stop.is_some() {
        log::debug!("leaving out stop sequences: the Responses API has none");
    }
    write_sampling(&mut out, request.temperature, request.top_p, request.user)?;
    if request.stream {
        out.member("stream", &Out::Bool(true)).map_err(unwritable)?;
    }
    out.member("store", &Out::Bool(false)).map_err(unwritable)?;
    let has_tools = !request.tools.is_empty();
    if has_tools {
        write_tools(request.tools, &mut renamed, &mut out).map_err(unwritable)?;
    }
    if let Some(choice) = request.tool_choice {
        let none = matches!(choice, ToolChoice::None);
        let mapped: Out = match choice {
            ToolChoice::Auto => "auto".into(),
            ToolChoice::Any => "required".into(),
            ToolChoice::None => "none".into(),
            ToolChoice::Tool(name) => {
                out! {"type" => "function", "name" => renamed.name(name, false)}
            }
        };
        if has_tools || none {
            out.member("tool_choice", &mapped).map_err(unwritable)?;
        }
    }
    if let (Some(parallel), true) = (request.parallel_tool_calls, has_tools) {
        out.member("parallel_tool_calls", &Out::Bool(parallel))
            .map_err(unwritable)?;
    }
    // Only a client's own effort: OpenAI refuses any for a model that does not reason, and a
    // Messages client's thinking budget says nothing of the model behind this endpoint.
    if let Some(effort) = request.reasoning.effort {
        out.member("reasoning", &out! {"effort" => effort.word()})
            .map_err(unwritable)?;
    }
    if let Some(format) = request.format {
        let format = match format.kind {
            FormatKind::JsonObject => out! {"type" => "json_object"},
            FormatKind::JsonSchema {
                name,
                schema,
                strict,
                description,
            } => {
                let mut f = vec![
                    ("type", Out::from("json_schema")),
                    ("name", name.into()),
                    ("schema", schema.into()),
                ];
                if let Some(strict) = strict {
                    f.push(("strict", strict.into()));
                }
                if let Some(description) = description {
                    f.push(("description", description.into()));
                }
                Out::Object(f)
            }
        };
        out.member("text", &out! {"format" => format})
            .map_err(unwritable)?;
    }
    Ok(Written {
        body: out.finish(),
        tool_names: renamed.0,
    })
}

/// `tools` as Responses functions (their schemas passed on as the client wrote them) and custom
/// tools.
fn write_tools(
    tools: Vec<Tool<'_>>,
    renamed: &mut Renamed,
    out: &mut JsonWriter,
) -> serde_json::Result<()> {
    out.key("tools")?;
    out.open_array();
    for tool in tools {
        let name = renamed.name(tool.name, false);
        out.open_object();
        match tool.custom {
            Some(format) => {
                out.member("type", &"custom".into())?;
                out.member("name", &name.into())?;
                if let Some(format) = format {
                    out.member("format", &format.into())?;
                }
            }
            None => {
                out.member("type", &"function".into())?;
                out.member("name", &name.into())?;
                match tool.schema {
                    Some(schema) => out.member("parameters", &schema.into())?,
                    None => out.member(
                        "parameters",
                        &out! {"type" => "object", "properties" => Out::Object(Vec::new())},
                    )?,
                }
                out.member("strict", &false.into())?;
            }
        }
        if let Some(d) = tool.description {
            out.member("description", &d.into())?;
        }
        out.close();
    }
    out.close();
    Ok(())
}

/// A system turn's texts as a developer message.
fn developer_message(parts: Vec<Part<'_>>, out: &mut JsonWriter) -> serde_json::Result<()> {
    let texts: Vec<Text> = parts
        .into_iter()
        .filter_map(|p| match p {
            Part::Text(text) => Some(text),
            _ => None,
        })
        .collect();
    out.open_object();
    out.member("type", &"message".into())?;
    out.member("role", &"developer".into())?;
    out.key("content")?;
    out.value_with(|buf| write_joined(texts.iter(), buf))?;
    out.close();
    Ok(())
}

/// A user turn: its tool results as `function_call_output` items first, then the rest as one
/// user message. Items are written as they are read, straight into the body.
fn user_items(parts: Vec<Part<'_>>, out: &mut JsonWriter) -> serde_json::Result<()> {
    let mut rest = Vec::new();
    let mut all_text = true;
    for part in parts {
        match part {
            Part::ToolResult(result) => function_call_output(result, out)?,
            part => {
                all_text &= matches!(part, Part::Text(_));
                rest.push(part);
            }
        }
    }
    if rest.is_empty() {
        return Ok(());
    }
    out.open_object();
    out.member("type", &"message".into())?;
    out.member("role", &"user".into())?;
    out.key("content")?;
    if all_text {
        let texts = rest.iter().filter_map(|p| match p {
            Part::Text(text) => Some(text),
            _ => None,
        });
        out.value_with(|buf| write_joined(texts, buf))?;
    } else {
        out.open_array();
        for part in rest {
            input_part(part, out)?;
        }
        out.close();
    }
    out.close();
    Ok(())
}

/// A tool result as a `function_call_output` item: its texts as one string (an error marked by
/// an `Error: ` prefix), or its parts when it holds more than text.
fn function_call_output(result: ToolResult<'_>, out: &mut JsonWriter) -> serde_json::Result<()> {
    out.open_object();
    out.member("type", &"function_call_output".into())?;
    out.member("call_id", &result.id.into())?;
    out.key("output")?;
    let texts = result.content.iter().filter_map(|p| match p {
        Part::Text(text) => Some(text),
        _ => None,
    });
    if !result.content.iter().all(|p| matches!(p, Part::Text(_))) {
        out.open_array();
        if result.is_error {
            out.value(&out! {"type" => "input_text", "text" => "Error:"})?;
        }
        for part in result.content {
            input_part(part, out)?;
        }
        out.close();
    } else if result.is_error {
        let text = joined(texts.cloned().collect());
        out.value(&Text::from(format!("Error: {text}")).into())?;
    } else {
        out.value_with(|buf| write_joined(texts, buf))?;
    }
    out.close();
    Ok(())
}

/// A user's part as a Responses input content part; parts a user message cannot hold are left
/// out.
fn input_part(part: Part<'_>, out: &mut JsonWriter) -> serde_json::Result<()> {
    match part {
        Part::Text(text) | Part::Document(Document::Text(text)) => {
            out.open_object();
            out.member("type", &"input_text".into())?;
            out.member("text", &text.into())?;
        }
        Part::Image(image) => {
            out.open_object();
            out.member("type", &"input_image".into())?;
            out.key("image_url")?;
            match image {
                Image::Url(url) => out.value(&url.into())?,
                Image::Base64 { media_type, data } => out.value_with(|buf| {
                    write_strs(buf, &["data:", &media_type, ";base64,", &data])
                })?,
            }
        }
        Part::Document(Document::Base64 {
            media_type,
            data,
            title,
        }) => {
            out.open_object();
            out.member("type", &"input_file".into())?;
            let filename = title.unwrap_or(Cow::Borrowed("document.pdf"));
            out.member("filename", &filename.into())?;
            out.key("file_data")?;
            out.value_with(|buf| write_strs(buf, &["data:", &media_type, ";base64,", &data]))?;
        }
        _ => return Ok(()),
    }
    out.close();
    Ok(())
}

/// An assistant turn as items in its order: texts as messages (one for the texts between two
/// tool calls), tool calls as `function_call` items. Thinking is left out.
fn assistant_items(
    parts: Vec<Part<'_>>,
    renamed: &mut Renamed,
    out: &mut JsonWriter,
) -> serde_json::Result<()> {
    // A message is open, its `content` array taking texts.
    let mut open = false;
    for part in parts {
        match part {
            Part::Text(text) => {
                if !open {
                    out.open_object();
                    out.member("type", &"message".into())?;
                    out.member("role", &"assistant".into())?;
                    out.key("content")?;
                    out.open_array();
                    open = true;
                }
                out.open_object();
                out.member("type", &"output_text".into())?;
                out.member("text", &text.into())?;
                out.close();
            }
            Part::ToolCall(call) => {
                if std::mem::take(&mut open) {
                    out.close();
                    out.close();
                }
                out.open_object();
                out.member("type", &"function_call".into())?;
                out.member("call_id", &call.id.into())?;
                out.member("name", &renamed.name(call.name, false).into())?;
                out.member("arguments", &call.input.into_arguments())?;
                out.close();
            }
            _ => {}
        }
    }
    if open {
        out.close();
        out.close();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::translate::{translate_request, Api, RequestOptions};
    use serde_json::{json, Value};

    fn translate(upstream: Api, request: Value) -> Result<Value, String> {
        let body = request.to_string();
        translate_request(
            Api::Responses,
            upstream,
            body.as_bytes(),
            &RequestOptions::default(),
        )
        .map(|t| serde_json::from_slice(&t.body).unwrap())
        .map_err(|e| e.field().unwrap_or_default().to_string())
    }

    fn codex(input: Value) -> Value {
        json!({"model": "gpt-5-codex", "input": input, "stream": true, "store": false,
            "reasoning": {"effort": "high", "summary": "auto"},
            "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object"}}]})
    }

    #[test]
    fn what_needs_a_stored_conversation_is_refused_by_field() {
        let mut stored = codex(json!("hi"));
        stored["store"] = json!(true);
        assert_eq!(translate(Api::Anthropic, stored).unwrap_err(), "store");
        let mut previous = codex(json!("hi"));
        previous["previous_response_id"] = json!("resp_1");
        assert_eq!(
            translate(Api::OpenAi, previous).unwrap_err(),
            "previous_response_id"
        );
        let reference = codex(json!([{"type": "message", "role": "user", "content": "hi"},
            {"type": "item_reference", "id": "msg_1"}]));
        assert_eq!(
            translate(Api::Anthropic, reference).unwrap_err(),
            "input[1]"
        );
        let mut unset = codex(json!("hi"));
        unset.as_object_mut().unwrap().remove("store");
        assert!(
            translate(Api::Anthropic, unset).is_ok(),
            "no store is no stored conversation"
        );
    }

    #[test]
    fn plain_input_and_items_without_a_type_are_user_messages() {
        let sent = translate(Api::OpenAi, codex(json!("hello"))).unwrap();
        assert_eq!(
            sent["messages"],
            json!([{"role": "user", "content": "hello"}])
        );
        let sent = translate(Api::OpenAi, codex(json!([{"role": "user", "content": "hi"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search"}},
            {"role": "assistant", "content": [{"type": "output_text", "text": "yes"}]}]))).unwrap();
        assert_eq!(
            sent["messages"],
            json!([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yes"}])
        );
    }

    #[test]
    fn effort_becomes_a_thinking_budget_unless_the_last_tool_call_has_no_thinking_to_replay() {
        let sent = translate(Api::Anthropic, codex(json!("hi"))).unwrap();
        assert_eq!(
            sent["thinking"],
            json!({"type": "enabled", "budget_tokens": 16384})
        );
        assert_eq!(
            sent["max_tokens"],
            16384 + crate::translate::DEFAULT_MAX_TOKENS
        );
        // OpenAI's own reasoning cannot go to Anthropic: the tool-use turn has none to replay.
        let loop_without = codex(json!([
            {"role": "user", "content": "ls"},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hm"}], "encrypted_content": "gAAAA"},
            {"type": "function_call", "call_id": "c1", "name": "exec_command", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
        ]));
        let sent = translate(Api::Anthropic, loop_without.clone()).unwrap();
        assert!(sent.get("thinking").is_none(), "{sent}");
        assert_eq!(sent["messages"][1]["content"][0]["type"], "tool_use");
        let to_chat = translate(Api::OpenAi, loop_without).unwrap();
        assert_eq!(to_chat["reasoning_effort"], "high");
        let mut minimal = codex(json!("hi"));
        minimal["reasoning"] = json!({"effort": "minimal"});
        assert!(translate(Api::Anthropic, minimal)
            .unwrap()
            .get("thinking")
            .is_none());
    }

    #[test]
    fn a_json_schema_format_goes_to_chat_and_to_messages_as_a_tool_the_model_must_call() {
        let mut structured = codex(json!("list three colours"));
        structured["text"] = json!({"format": {"type": "json_schema", "name": "colours", "strict": true,
            "schema": {"type": "object", "properties": {"colours": {"type": "array"}}}}});
        let sent = translate(Api::OpenAi, structured.clone()).unwrap();
        assert_eq!(
            sent["response_format"],
            json!({"type": "json_schema", "json_schema": {"name": "colours", "strict": true,
                "schema": {"type": "object", "properties": {"colours": {"type": "array"}}}}})
        );
        // Codex's tools stay callable: the model must call one of them or the answer's tool, and
        // thinking, which Anthropic refuses beside a forced tool, is left out.
        let sent = translate(Api::Anthropic, structured.clone()).unwrap();
        assert_eq!(sent["tools"][1]["name"], "colours");
        assert_eq!(
            sent["tools"][1]["input_schema"],
            json!({"type": "object", "properties": {"colours": {"type": "array"}}})
        );
        assert_eq!(sent["tool_choice"], json!({"type": "any"}));
        assert!(sent.get("thinking").is_none(), "{sent}");
        structured.as_object_mut().unwrap().remove("tools");
        let sent = translate(Api::Anthropic, structured.clone()).unwrap();
        assert_eq!(
            sent["tool_choice"],
            json!({"type": "tool", "name": "colours"})
        );
        structured["text"]["format"] = json!({"type": "json_object"});
        assert_eq!(
            translate(Api::Anthropic, structured).unwrap_err(),
            "text.format"
        );
        let chat = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}});
        let t = translate_request(
            Api::OpenAi,
            Api::Responses,
            chat.to_string().as_bytes(),
            &RequestOptions::default(),
        )
        .unwrap();
        let sent: Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(
            sent["text"],
            json!({"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}})
        );
    }

    #[test]
    fn a_tool_output_with_an_image_keeps_it() {
        let request = codex(json!([
            {"role": "user", "content": "look"},
            {"type": "function_call", "call_id": "c1", "name": "exec_command", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": [
                {"type": "input_text", "text": "the screen:"},
                {"type": "input_image", "image_url": "data:image/png;base64,iVBO"}]},
        ]));
        let anthropic = translate(Api::Anthropic, request.clone()).unwrap();
        assert_eq!(
            anthropic["messages"][2]["content"][0]["content"],
            json!([{"type": "text", "text": "the screen:"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}}])
        );
        let chat = translate(Api::OpenAi, request).unwrap();
        assert_eq!(
            chat["messages"][2],
            json!({"role": "tool", "tool_call_id": "c1", "content": "the screen:"})
        );
        assert_eq!(chat["messages"][3]["content"][0]["type"], "image_url");
    }

    #[test]
    fn a_messages_client_gets_at_least_sixteen_output_tokens_and_never_a_stored_response() {
        let request = json!({"model": "claude", "max_tokens": 1, "messages": [{"role": "user", "content": "quota"}]});
        let t = translate_request(
            Api::Anthropic,
            Api::Responses,
            request.to_string().as_bytes(),
            &RequestOptions::default(),
        )
        .unwrap();
        let sent: Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(sent["max_output_tokens"], 16);
        assert_eq!(sent["store"], false);
        assert_eq!(
            sent["input"],
            json!([{"type": "message", "role": "user", "content": "quota"}])
        );
    }
}
