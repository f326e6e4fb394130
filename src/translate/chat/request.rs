//! Chat Completions requests: read into the intermediate form (for an upstream of another API), and
//! written from it (for an OpenAI-compatible upstream).

use super::{openai_name, openai_name_of, Renamed};
use crate::translate::field::Field;
use crate::translate::hub::{unwritable, Target, Written};
use crate::translate::ir::{
    cache_control, close_with_cache_control, data_url_parts, joined, marked_texts, CacheMarks,
    Document, Effort, FormatKind, Image, Input, MarkedTexts, OutputFormat, Part, Reasoning,
    Request, Role, Tool, ToolCall, ToolChoice, ToolResult, Turn, Turns,
};
use crate::translate::lazy::{out, write_joined, write_strs, Json, JsonWriter, Object, Out, Text};
use crate::translate::{Api, Refusal};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// A Chat request in the intermediate form, for an upstream of `upstream`'s API. What the other
/// APIs cannot express is refused: `n > 1`, `logprobs`, `logit_bias`, penalties, audio, legacy
/// `functions`.
pub(crate) fn read_request<'a>(
    request: &Object<'a>,
    upstream: Api,
) -> Result<Request<'a>, Refusal> {
    refuse_what_others_cannot_express(request, upstream)?;
    let format = read_format(request.field("response_format"), upstream)?;
    let messages = request
        .field("messages")
        .array()
        .ok_or_else(|| Refusal::unsupported("messages", "must be an array"))?;
    let mut tools = Vec::new();
    for (i, tool) in request
        .field("tools")
        .array()
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let tool = tool.object().unwrap_or_default();
        if tool.str("type").as_deref().unwrap_or("function") != "function" {
            return Err(Refusal::unsupported(
                format!("tools[{i}]"),
                format!(
                    "only function tools can be sent to a {} upstream",
                    upstream.title()
                ),
            ));
        }
        let function = tool.field("function").object().unwrap_or_default();
        tools.push(Tool {
            name: function.str("name").unwrap_or_default(),
            description: function.text("description"),
            schema: function.get("parameters").filter(|p| !p.is_null()),
            custom: None,
            // Where LiteLLM and the relays that follow it take a tool's breakpoint.
            cache: cache_control(&tool),
        });
    }
    let tool_choice = match request.get("tool_choice").filter(|v| !v.is_null()) {
        None => None,
        Some(v) => Some(match v.as_str().as_deref() {
            Some("auto") => ToolChoice::Auto,
            Some("required") => ToolChoice::Any,
            Some("none") => ToolChoice::None,
            Some(other) => {
                return Err(Refusal::unsupported(
                    "tool_choice",
                    format!("unknown value `{other}`"),
                ))
            }
            None => match v.get("function").get("name").as_str() {
                Some(name) => ToolChoice::Tool(name),
                None => {
                    return Err(Refusal::unsupported(
                        "tool_choice",
                        "expected a function name",
                    ))
                }
            },
        }),
    };
    let stop = request
        .get("stop")
        .filter(|v| !v.is_null())
        .map(Json::strings);
    let max_tokens = request
        .get("max_completion_tokens")
        .filter(|v| !v.is_null())
        .or_else(|| request.get("max_tokens").filter(|v| !v.is_null()));
    let turns = messages
        .into_iter()
        .enumerate()
        .map(move |(i, message)| read_turn(message, i, upstream));
    Ok(Request {
        system: Vec::new(),
        system_cache: CacheMarks::default(),
        turns: Box::new(turns) as Turns<'a>,
        tools,
        tool_choice,
        parallel_tool_calls: request.field("parallel_tool_calls").as_bool(),
        max_tokens,
        stop,
        temperature: request.get("temperature").filter(|v| !v.is_null()),
        top_p: request.get("top_p").filter(|v| !v.is_null()),
        top_k: None,
        user: request.str("user"),
        stream: request.field("stream").as_bool() == Some(true),
        include_usage: request
            .field("stream_options")
            .get("include_usage")
            .as_bool()
            .unwrap_or(false),
        reasoning: Reasoning {
            effort: request
                .str("reasoning_effort")
                .and_then(|e| Effort::from_word(&e)),
            budget: None,
        },
        format,
    })
}

fn refuse_what_others_cannot_express(request: &Object<'_>, upstream: Api) -> Result<(), Refusal> {
    let api = upstream.title();
    if request.field("n").as_u64().is_some_and(|n| n > 1) {
        return Err(Refusal::unsupported(
            "n",
            format!("{api} returns one choice; n must be 1"),
        ));
    }
    if request.field("logprobs").as_bool() == Some(true) || !request.field("top_logprobs").is_null()
    {
        return Err(Refusal::unsupported(
            "logprobs",
            format!("{api} does not return log probabilities"),
        ));
    }
    if request
        .field("logit_bias")
        .object()
        .is_some_and(|m| !m.is_empty())
    {
        return Err(Refusal::unsupported(
            "logit_bias",
            format!("{api} has no logit bias"),
        ));
    }
    for key in ["presence_penalty", "frequency_penalty"] {
        if request.field(key).as_f64().is_some_and(|v| v != 0.0) {
            return Err(Refusal::unsupported(key, format!("{api} has no penalties")));
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
            format!("{api} answers with text only"),
        ));
    }
    if !request.field("functions").is_null() || !request.field("function_call").is_null() {
        return Err(Refusal::unsupported(
            "functions",
            "legacy functions are not translated; use tools",
        ));
    }
    Ok(())
}

/// `response_format`: plain text is no format; JSON ones are the upstream writer's to express.
fn read_format(format: Json<'_>, upstream: Api) -> Result<Option<OutputFormat<'_>>, Refusal> {
    let format = format.object().unwrap_or_default();
    let kind = match format.str("type").as_deref() {
        None | Some("text") => return Ok(None),
        Some("json_object") => FormatKind::JsonObject,
        Some("json_schema") => {
            let schema = format.field("json_schema").object().unwrap_or_default();
            FormatKind::JsonSchema {
                name: schema.str("name").unwrap_or(Cow::Borrowed("answer")),
                schema: schema.field("schema"),
                strict: schema.field("strict").as_bool(),
                description: schema.str("description"),
            }
        }
        Some(other) => {
            return Err(Refusal::unsupported(
                "response_format",
                format!(
                "`{other}` has no {} equivalent; describe the format in the prompt or use a tool",
                upstream.title()
            ),
            ))
        }
    };
    Ok(Some(OutputFormat {
        field: "response_format",
        kind,
    }))
}

fn read_turn(message: Json<'_>, i: usize, upstream: Api) -> Result<Turn<'_>, Refusal> {
    let field = Field::top("messages", i);
    let message = message.object().unwrap_or_default();
    let role = message.str("role").unwrap_or_default();
    let (role, (parts, cache)) = match role.as_ref() {
        "system" | "developer" => {
            let (texts, marks) = chat_texts(message.field("content"), &field)?;
            let parts = if marks.is_empty() {
                vec![Part::Text(joined(texts))]
            } else {
                texts.into_iter().map(Part::Text).collect()
            };
            (Role::System, (parts, marks))
        }
        "user" => (
            Role::User,
            chat_parts(message.field("content"), &field, upstream)?,
        ),
        "assistant" => (
            Role::Assistant,
            assistant_parts(&message, &field, upstream)?,
        ),
        "tool" => {
            let (texts, marks) = chat_texts(message.field("content"), &field)?;
            let cache = (0..texts.len()).find_map(|i| marks.at(i));
            let result = ToolResult {
                id: message.str("tool_call_id").unwrap_or_default(),
                content: vec![Part::Text(joined(texts))],
                is_error: false,
                cache,
            };
            (
                Role::User,
                (vec![Part::ToolResult(result)], CacheMarks::default()),
            )
        }
        other => {
            return Err(Refusal::unsupported(
                format!("{field}.role"),
                format!(
                    "`{other}` cannot be sent to a {} upstream",
                    upstream.title()
                ),
            ))
        }
    };
    Ok(Turn { role, parts, cache })
}

/// Chat content that may only be text (system, developer, tool) as its texts, with the cache
/// breakpoints its parts carry.
fn chat_texts<'a>(content: Json<'a>, field: &Field<'_>) -> Result<MarkedTexts<'a>, Refusal> {
    if content.is_null() {
        return Ok((vec![Text::default()], CacheMarks::default()));
    }
    if let Some(text) = content.as_text() {
        return Ok((vec![text], CacheMarks::default()));
    }
    let Some(parts) = content.array() else {
        return Err(Refusal::unsupported(
            format!("{field}.content"),
            "must be a string or an array",
        ));
    };
    let mut texts = Vec::new();
    let mut marks = CacheMarks::default();
    for (i, part) in parts.into_iter().enumerate() {
        let part = part.object().unwrap_or_default();
        match part.text("text") {
            Some(t) => {
                marks.mark(texts.len(), cache_control(&part));
                texts.push(t);
            }
            None => {
                return Err(Refusal::unsupported(
                    format!("{field}.content[{i}]"),
                    "only text parts can be sent here",
                ))
            }
        }
    }
    Ok((texts, marks))
}

/// A turn's parts and the cache breakpoints on them.
type Parts<'a> = (Vec<Part<'a>>, CacheMarks<'a>);

fn chat_parts<'a>(
    content: Json<'a>,
    field: &Field<'_>,
    upstream: Api,
) -> Result<Parts<'a>, Refusal> {
    if content.is_null() {
        return Ok(Default::default());
    }
    if let Some(text) = content.as_text() {
        if text.is_empty() {
            return Ok(Default::default());
        }
        return Ok((vec![Part::Text(text)], CacheMarks::default()));
    }
    let Some(items) = content.array() else {
        return Err(Refusal::unsupported(
            format!("{field}.content"),
            "must be a string or an array",
        ));
    };
    let mut parts = Vec::with_capacity(items.len());
    let mut marks = CacheMarks::default();
    for (i, part) in items.into_iter().enumerate() {
        let field = field.item("content", i);
        let part = part.object().unwrap_or_default();
        marks.mark(parts.len(), cache_control(&part));
        match part.str("type").unwrap_or_default().as_ref() {
            "text" => parts.push(Part::Text(part.text("text").unwrap_or_default())),
            "image_url" => {
                let image_url = part.field("image_url");
                let url = image_url
                    .get("url")
                    .as_str()
                    .or_else(|| image_url.as_str())
                    .unwrap_or_default();
                parts.push(Part::Image(image_of_url(url, &field)?));
            }
            "file" => {
                let file = part.field("file").object().unwrap_or_default();
                let data = file.str("file_data").unwrap_or_default();
                let Some((media_type, data)) = data_url_parts(&data) else {
                    return Err(Refusal::unsupported(
                        field,
                        format!(
                            "only files given inline as base64 data URLs can be sent to a {} upstream",
                            upstream.title()
                        ),
                    ));
                };
                parts.push(Part::Document(Document::Base64 {
                    media_type,
                    data,
                    title: file.str("filename"),
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
    Ok((parts, marks))
}

/// An image URL (a `data:` URL or a web address) as an image.
pub(crate) fn image_of_url<'a>(url: Cow<'a, str>, field: &Field<'_>) -> Result<Image<'a>, Refusal> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Ok(Image::Url(url));
    };
    let (meta, _) = rest
        .split_once(',')
        .ok_or_else(|| Refusal::unsupported(field, "malformed data URL"))?;
    if !meta.ends_with(";base64") {
        return Err(Refusal::unsupported(
            field,
            "only base64 data URLs are supported",
        ));
    }
    let (media_type, data) =
        data_url_parts(&url).ok_or_else(|| Refusal::unsupported(field, "malformed data URL"))?;
    Ok(Image::Base64 { media_type, data })
}

fn assistant_parts<'a>(
    message: &Object<'a>,
    field: &Field<'_>,
    upstream: Api,
) -> Result<Parts<'a>, Refusal> {
    let content = message.field("content");
    let (mut parts, marks) = match content.array() {
        Some(items) => {
            let mut parts = Vec::new();
            let mut marks = CacheMarks::default();
            for item in items {
                let item = item.object().unwrap_or_default();
                let text = item.text("text").or_else(|| item.text("refusal"));
                if let Some(t) = text.filter(|t| !t.is_empty()) {
                    marks.mark(parts.len(), cache_control(&item));
                    parts.push(Part::Text(t));
                }
            }
            (parts, marks)
        }
        None => chat_parts(content, field, upstream)?,
    };
    for (i, call) in message
        .field("tool_calls")
        .array()
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let call = call.object().unwrap_or_default();
        let function = call.field("function").object().unwrap_or_default();
        let arguments = function.str("arguments").unwrap_or_default();
        let input = checked_arguments(arguments).map_err(|e| {
            Refusal::unsupported(
                format!("{field}.tool_calls[{i}].function.arguments"),
                format!("is not JSON ({e})"),
            )
        })?;
        parts.push(Part::ToolCall(ToolCall {
            id: call.str("id").unwrap_or_default(),
            name: function.str("name").unwrap_or_default(),
            input,
        }));
    }
    Ok((parts, marks))
}

/// A tool call's JSON-string arguments as its input (none at all is `{}`), checked to be JSON.
pub(crate) fn checked_arguments(arguments: Cow<'_, str>) -> serde_json::Result<Input<'_>> {
    if arguments.trim().is_empty() {
        return Ok(Input::Json(crate::translate::lazy::EMPTY_OBJECT));
    }
    match arguments {
        Cow::Borrowed(text) => {
            serde_json::from_str::<&RawValue>(text).map(|raw| Input::Json(raw.into()))
        }
        Cow::Owned(text) => RawValue::from_string(text).map(Input::Checked),
    }
}

/// What a user turn's Chat message holds besides its tool results: text (as the client wrote it),
/// images and documents, each with its cache breakpoint.
enum UserPart<'a> {
    Text(Text<'a>, Option<Json<'a>>),
    Image(Image<'a>, Option<Json<'a>>),
    Document(Document<'a>, Option<Json<'a>>),
}

/// Whether a Chat upstream is sent the client's prompt-cache breakpoints (`cache_control` on
/// content parts): for Claude models, which Anthropic-shaped relays (OpenRouter, LiteLLM, one-api
/// and others) serve and pass them to; other models' servers have no such field, and strict ones
/// refuse a request that carries it.
pub(crate) fn keeps_cache_marks(model: &str) -> bool {
    model.to_ascii_lowercase().contains("claude")
}

/// A message of texts only (`system`): `content` one string, or text parts with their
/// breakpoints when there are some.
fn text_message<'a>(
    out: &mut JsonWriter,
    role: &'static str,
    texts: Vec<Text<'a>>,
    marks: Option<&CacheMarks<'a>>,
) -> serde_json::Result<()> {
    out.open_object();
    out.member("role", &role.into())?;
    out.key("content")?;
    match marks.filter(|m| !m.is_empty()) {
        Some(marks) => out.value(&marked_texts(texts, marks))?,
        None => out.value_with(|buf| write_joined(texts.iter(), buf))?,
    }
    out.close();
    Ok(())
}

/// The intermediate form as a Chat Completions request, written into a new body.
///
/// System text becomes the first message; tool calls become the assistant's `tool_calls` with
/// JSON-string arguments; tool results become `tool` messages (an error is marked by an `Error: `
/// prefix) placed before the rest of that user turn, and the images they carry follow in a user
/// message; thinking is dropped. Messages are written as they are read, straight into the body.
pub(crate) fn write_request(
    request: Request<'_>,
    target: &Target<'_>,
    mut out: JsonWriter,
) -> Result<Written, Refusal> {
    let mut renamed = Renamed::default();
    let keep_marks = keeps_cache_marks(target.model);
    out.open_object();
    out.member("model", &target.model.into())
        .map_err(unwritable)?;
    out.key("messages").map_err(unwritable)?;
    out.open_array();
    if !request.system.is_empty() {
        let marks = Some(&request.system_cache).filter(|_| keep_marks);
        text_message(&mut out, "system", request.system, marks).map_err(unwritable)?;
    }
    for turn in request.turns {
        let Turn { role, parts, cache } = turn?;
        let marks = Some(&cache).filter(|_| keep_marks);
        match role {
            Role::System => {
                let texts = parts
                    .into_iter()
                    .filter_map(|p| match p {
                        Part::Text(text) => Some(text),
                        _ => None,
                    })
                    .collect();
                text_message(&mut out, "system", texts, marks).map_err(unwritable)?
            }
            Role::User => user_turn(parts, marks, &mut out).map_err(unwritable)?,
            Role::Assistant => {
                assistant_message(parts, marks, &mut renamed, &mut out).map_err(unwritable)?
            }
        }
    }
    out.close();
    if let Some(max) = request.max_tokens {
        out.member("max_tokens", &target.max_tokens(max))
            .map_err(unwritable)?;
    }
    if let Some(stop) = request.stop {
        out.key("stop").map_err(unwritable)?;
        out.open_array();
        for stop in stop {
            out.value(&Out::Str(stop)).map_err(unwritable)?;
        }
        out.close();
    }
    write_sampling(&mut out, request.temperature, request.top_p, request.user)?;
    if request.stream {
        out.member("stream", &Out::Bool(true)).map_err(unwritable)?;
        out.member("stream_options", &out! {"include_usage" => true})
            .map_err(unwritable)?;
    }
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
                out! {"type" => "function", "function" => out! {"name" => openai_name_of(name)}}
            }
        };
        if has_tools || none {
            out.member("tool_choice", &mapped).map_err(unwritable)?;
        }
    }
    if request.parallel_tool_calls == Some(false) && has_tools {
        out.member("parallel_tool_calls", &Out::Bool(false))
            .map_err(unwritable)?;
    }
    if let Some(effort) = request.reasoning.effort {
        // Only a client's own word: a thinking budget alone says nothing of a Chat model.
        out.member("reasoning_effort", &effort.word().into())
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
                let mut inner = vec![("name", Out::from(name)), ("schema", schema.into())];
                if let Some(strict) = strict {
                    inner.push(("strict", strict.into()));
                }
                if let Some(description) = description {
                    inner.push(("description", description.into()));
                }
                out! {"type" => "json_schema", "json_schema" => Out::Object(inner)}
            }
        };
        out.member("response_format", &format).map_err(unwritable)?;
    }
    Ok(Written {
        body: out.finish(),
        tool_names: renamed.0,
    })
}

/// `tools` as Chat functions, their schemas passed on as the client wrote them; a custom tool
/// (free text in, in Responses) becomes a function of one string.
fn write_tools(
    tools: Vec<Tool<'_>>,
    renamed: &mut Renamed,
    out: &mut JsonWriter,
) -> serde_json::Result<()> {
    out.key("tools")?;
    out.open_array();
    for tool in tools {
        let custom = tool.custom.is_some();
        out.open_object();
        out.member("type", &"function".into())?;
        out.key("function")?;
        out.open_object();
        out.member("name", &renamed.name(tool.name, custom).into())?;
        if let Some(d) = tool.description {
            out.member("description", &d.into())?;
        }
        match (tool.custom, tool.schema) {
            (Some(format), _) => {
                out.member("parameters", &Out::Value(Tool::custom_schema(format)))?
            }
            (None, Some(schema)) => out.member("parameters", &schema.into())?,
            (None, None) => {}
        }
        out.close();
        out.close();
    }
    out.close();
    Ok(())
}

/// A user turn: its tool results as `tool` messages first, then the rest (and the images and
/// files the results carried, which a `tool` message cannot) as one user message. Cache
/// breakpoints (`marks`, when the upstream takes them) stay on their parts; a result's goes on
/// the text part its `tool` message then holds.
fn user_turn<'a>(
    parts: Vec<Part<'a>>,
    marks: Option<&CacheMarks<'a>>,
    out: &mut JsonWriter,
) -> serde_json::Result<()> {
    let mut rest = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        let cache = marks.and_then(|m| m.at(i));
        match part {
            Part::Text(text) => rest.push(UserPart::Text(text, cache)),
            Part::Image(image) => rest.push(UserPart::Image(image, cache)),
            Part::Document(document) => rest.push(UserPart::Document(document, cache)),
            Part::ToolResult(result) => tool_message(result, marks.is_some(), &mut rest, out)?,
            Part::ToolCall(_) | Part::Thinking { .. } | Part::RedactedThinking(_) => {}
        }
    }
    if rest.is_empty() {
        return Ok(());
    }
    out.open_object();
    out.member("role", &"user".into())?;
    out.key("content")?;
    if rest.iter().all(|p| matches!(p, UserPart::Text(_, None))) {
        // Text only, without breakpoints: one string.
        let texts = rest.iter().filter_map(|p| match p {
            UserPart::Text(text, _) => Some(text),
            _ => None,
        });
        out.value_with(|buf| write_joined(texts, buf))?;
    } else {
        out.open_array();
        for part in rest {
            match part {
                UserPart::Text(text, cache) => text_part(text, cache, out)?,
                UserPart::Image(image, cache) => image_part(image, cache, out)?,
                UserPart::Document(document, cache) => document_part(document, cache, out)?,
            }
        }
        out.close();
    }
    out.close();
    Ok(())
}

/// A tool result as a `tool` message of its texts; its images and files go to `rest`, for the
/// user message after it. Its breakpoint goes on its text, when `keep_marks`.
fn tool_message<'a>(
    result: ToolResult<'a>,
    keep_marks: bool,
    rest: &mut Vec<UserPart<'a>>,
    out: &mut JsonWriter,
) -> serde_json::Result<()> {
    let mut texts = Vec::new();
    for part in result.content {
        match part {
            Part::Text(text) | Part::Document(Document::Text(text)) => texts.push(text),
            Part::Image(image) => rest.push(UserPart::Image(image, None)),
            Part::Document(document) => rest.push(UserPart::Document(document, None)),
            _ => {}
        }
    }
    out.open_object();
    out.member("role", &"tool".into())?;
    out.member("tool_call_id", &result.id.into())?;
    out.key("content")?;
    let cache = result.cache.filter(|_| keep_marks);
    if result.is_error || cache.is_some() {
        let mut text = joined(texts);
        if result.is_error {
            text = Text::from(format!("Error: {text}"));
        }
        match cache {
            Some(cache) => {
                out.open_array();
                text_part(text, Some(cache), out)?;
                out.close();
            }
            None => out.value(&text.into())?,
        }
    } else {
        out.value_with(|buf| write_joined(texts.iter(), buf))?;
    }
    out.close();
    Ok(())
}

fn text_part(
    text: Text<'_>,
    cache: Option<Json<'_>>,
    out: &mut JsonWriter,
) -> serde_json::Result<()> {
    out.open_object();
    out.member("type", &"text".into())?;
    out.member("text", &text.into())?;
    close_with_cache_control(cache, out)
}

fn image_part(
    image: Image<'_>,
    cache: Option<Json<'_>>,
    out: &mut JsonWriter,
) -> serde_json::Result<()> {
    out.open_object();
    out.member("type", &"image_url".into())?;
    out.key("image_url")?;
    out.open_object();
    out.key("url")?;
    match image {
        Image::Base64 { media_type, data } => {
            out.value_with(|buf| write_strs(buf, &["data:", &media_type, ";base64,", &data]))?
        }
        Image::Url(url) => out.value(&url.into())?,
    }
    out.close();
    close_with_cache_control(cache, out)
}

fn document_part(
    document: Document<'_>,
    cache: Option<Json<'_>>,
    out: &mut JsonWriter,
) -> serde_json::Result<()> {
    let (media_type, data, title) = match document {
        Document::Text(text) => return text_part(text, cache, out),
        Document::Base64 {
            media_type,
            data,
            title,
        } => (media_type, data, title),
    };
    out.open_object();
    out.member("type", &"file".into())?;
    out.key("file")?;
    out.open_object();
    let filename = title.unwrap_or(Cow::Borrowed("document.pdf"));
    out.member("filename", &filename.into())?;
    out.key("file_data")?;
    out.value_with(|buf| write_strs(buf, &["data:", &media_type, ";base64,", &data]))?;
    out.close();
    close_with_cache_control(cache, out)
}

/// An assistant turn as one message: its texts as `content` (`null` when it only calls tools),
/// its tool calls as `tool_calls`; thinking is dropped.
fn assistant_message<'a>(
    parts: Vec<Part<'a>>,
    marks: Option<&CacheMarks<'a>>,
    renamed: &mut Renamed,
    out: &mut JsonWriter,
) -> serde_json::Result<()> {
    let mut texts = Vec::new();
    let mut text_marks = CacheMarks::default();
    let mut calls = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        match part {
            Part::Text(text) => {
                text_marks.mark(texts.len(), marks.and_then(|m| m.at(i)));
                texts.push(text);
            }
            Part::ToolCall(call) => calls.push(call),
            _ => {}
        }
    }
    out.open_object();
    out.member("role", &"assistant".into())?;
    out.key("content")?;
    if !text_marks.is_empty() {
        out.value(&marked_texts(texts, &text_marks))?;
    } else if texts.len() <= 1 && texts.iter().all(Text::is_empty) && !calls.is_empty() {
        out.value(&Out::Null)?;
    } else {
        out.value_with(|buf| write_joined(texts.iter(), buf))?;
    }
    if !calls.is_empty() {
        out.key("tool_calls")?;
        out.open_array();
        for call in calls {
            out.open_object();
            out.member("id", &call.id.into())?;
            out.member("type", &"function".into())?;
            out.key("function")?;
            out.open_object();
            out.member("name", &renamed.name(call.name, false).into())?;
            out.member("arguments", &call.input.into_arguments())?;
            out.close();
            out.close();
        }
        out.close();
    }
    out.close();
    Ok(())
}

/// `temperature`, `top_p` and `user` as both OpenAI APIs (Chat Completions, Responses) take them.
pub(crate) fn write_sampling(
    out: &mut JsonWriter,
    temperature: Option<Json<'_>>,
    top_p: Option<Json<'_>>,
    user: Option<Cow<'_, str>>,
) -> Result<(), Refusal> {
    if let Some(t) = temperature {
        out.member("temperature", &t.into()).map_err(unwritable)?;
    }
    if let Some(p) = top_p {
        out.member("top_p", &p.into()).map_err(unwritable)?;
    }
    if let Some(user) = user {
        // Claude Code's user ids run to ~150 characters; OpenAI takes 64, so long ones are hashed.
        out.member("user", &Out::from(openai_name(&user).into_owned()))
            .map_err(unwritable)?;
    }
    Ok(())
}
