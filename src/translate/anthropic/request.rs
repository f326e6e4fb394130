//! Messages requests: read into the intermediate form (for an upstream of another API), and
//! written from it (for an Anthropic upstream).

use crate::translate::field::Field;
use crate::translate::gemini::gemini_signature;
use crate::translate::hub::{unwritable, Target, Written};
use crate::translate::ir::{
    cache_control, close_with_cache_control, joined, marked_texts, with_cache_control, CacheMarks,
    Document, Image, Input, MarkedTexts, MergedTurns, Part, Reasoning, Request, Role, Tool,
    ToolChoice, ToolResult, Turn, Turns,
};
use crate::translate::lazy::{out, write_joined, Json, JsonWriter, Object, Out, Text};
use crate::translate::structured::AnswerTool;
use crate::translate::{Api, Refusal};
use std::borrow::Cow;

/// A Messages request in the intermediate form, for an upstream of `upstream`'s API. What no other
/// API can express is refused here: server tools, MCP servers, URL and file documents.
pub(crate) fn read_request<'a>(
    request: &Object<'a>,
    upstream: Api,
) -> Result<Request<'a>, Refusal> {
    let (system, system_cache) = match texts_of(request.field("system"), "system")? {
        Some((texts, marks)) if !marks.is_empty() => (texts, marks),
        Some((texts, _)) => (vec![joined(texts)], CacheMarks::default()),
        None => (Vec::new(), CacheMarks::default()),
    };
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
        tools.push(read_tool(tool, &Field::top("tools", i))?);
    }
    let (tool_choice, parallel_tool_calls) =
        read_tool_choice(request.get("tool_choice"), upstream)?;
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
    let stop = request
        .get("stop_sequences")
        .filter(|v| !v.is_null())
        .map(Json::strings);
    let thinking = request.field("thinking").object().unwrap_or_default();
    let budget = (thinking.str("type").as_deref() == Some("enabled"))
        .then(|| thinking.field("budget_tokens").as_u64())
        .flatten();
    let turns = messages
        .into_iter()
        .enumerate()
        .filter_map(|(i, turn)| read_turn(turn, i).transpose());
    Ok(Request {
        system,
        system_cache,
        turns: Box::new(turns) as Turns<'a>,
        tools,
        tool_choice,
        parallel_tool_calls,
        max_tokens: request.get("max_tokens").filter(|v| !v.is_null()),
        stop,
        temperature: request.get("temperature").filter(|v| !v.is_null()),
        top_p: request.get("top_p").filter(|v| !v.is_null()),
        top_k: request.get("top_k").filter(|v| !v.is_null()),
        user: request.field("metadata").get("user_id").as_str(),
        stream: request.field("stream").as_bool() == Some(true),
        include_usage: false,
        reasoning: Reasoning {
            effort: None,
            budget,
        },
        format: None,
    })
}

fn read_tool<'a>(tool: Json<'a>, field: &Field<'_>) -> Result<Tool<'a>, Refusal> {
    let tool = tool.object().unwrap_or_default();
    let kind = tool.str("type").unwrap_or(Cow::Borrowed("custom"));
    if kind != "custom" || tool.get("input_schema").is_none() {
        return Err(Refusal::unsupported(
            field,
            format!("the `{kind}` tool runs on Anthropic's side; an OpenAI-compatible upstream takes only tools with an input_schema"),
        ));
    }
    Ok(Tool {
        name: tool.str("name").unwrap_or_default(),
        description: tool.text("description"),
        schema: tool.get("input_schema"),
        custom: None,
        cache: cache_control(&tool),
    })
}

/// `tool_choice` and whether it forbids parallel calls.
fn read_tool_choice(
    choice: Option<Json<'_>>,
    upstream: Api,
) -> Result<(Option<ToolChoice<'_>>, Option<bool>), Refusal> {
    let Some(choice) = choice.filter(|v| !v.is_null()) else {
        return Ok((None, None));
    };
    let choice = choice.object().unwrap_or_default();
    let kind = choice.str("type").unwrap_or_default();
    let mapped = match kind.as_ref() {
        "auto" => ToolChoice::Auto,
        "any" => ToolChoice::Any,
        "none" => ToolChoice::None,
        "tool" => match choice.str("name") {
            Some(name) => ToolChoice::Tool(name),
            None => return Err(Refusal::unsupported("tool_choice.name", "missing")),
        },
        other => {
            return Err(Refusal::unsupported(
                "tool_choice.type",
                format!("`{other}` has no {} equivalent", upstream.title()),
            ))
        }
    };
    let parallel =
        (choice.field("disable_parallel_tool_use").as_bool() == Some(true)).then_some(false);
    Ok((Some(mapped), parallel))
}

/// `system`-like content (a string or text blocks) as its texts, with the cache breakpoints the
/// blocks carry.
fn texts_of<'a>(
    value: Json<'a>,
    field: &(impl std::fmt::Display + ?Sized),
) -> Result<Option<MarkedTexts<'a>>, Refusal> {
    if value.is_null() {
        return Ok(None);
    }
    if let Some(text) = value.as_text() {
        return Ok(Some((vec![text], CacheMarks::default())));
    }
    let Some(blocks) = value.array() else {
        return Err(Refusal::unsupported(
            field.to_string(),
            "must be a string or an array of blocks",
        ));
    };
    let mut texts = Vec::with_capacity(blocks.len());
    let mut marks = CacheMarks::default();
    for (i, block) in blocks.into_iter().enumerate() {
        let block = block.object().unwrap_or_default();
        match block.text("text") {
            Some(t) => {
                marks.mark(texts.len(), cache_control(&block));
                texts.push(t);
            }
            None => {
                return Err(Refusal::unsupported(
                    format!("{field}[{i}]"),
                    "only text blocks can be sent here",
                ))
            }
        }
    }
    Ok(Some((texts, marks)))
}

/// The turn `messages[i]`; `None` for a system turn without content.
fn read_turn(turn: Json<'_>, i: usize) -> Result<Option<Turn<'_>>, Refusal> {
    let field = Field::top("messages", i);
    let turn = turn.object().unwrap_or_default();
    let content = turn.field("content");
    let (role, (parts, cache)) = match turn.str("role").as_deref() {
        Some("user") => (Role::User, user_parts(content, &field)?),
        Some("assistant") => (Role::Assistant, assistant_parts(content, &field)?),
        // Claude Code sends system notes between turns.
        Some("system") => match texts_of(content, &format_args!("{field}.content"))? {
            Some((texts, marks)) if !marks.is_empty() => (
                Role::System,
                (texts.into_iter().map(Part::Text).collect(), marks),
            ),
            Some((texts, _)) => (
                Role::System,
                (vec![Part::Text(joined(texts))], CacheMarks::default()),
            ),
            None => return Ok(None),
        },
        _ => {
            return Err(Refusal::unsupported(
                field,
                "role must be user, assistant or system",
            ))
        }
    };
    Ok(Some(Turn { role, parts, cache }))
}

/// A content that is a string or blocks, as its blocks' objects (a string as one text part).
fn blocks_of<'a>(
    content: Json<'a>,
    field: &Field<'_>,
) -> Result<Result<Vec<Json<'a>>, Text<'a>>, Refusal> {
    if let Some(text) = content.as_text() {
        return Ok(Err(text));
    }
    content.array().map(Ok).ok_or_else(|| {
        Refusal::unsupported(format!("{field}.content"), "must be a string or an array")
    })
}

/// A turn's parts and the cache breakpoints on them.
type Parts<'a> = (Vec<Part<'a>>, CacheMarks<'a>);

fn user_parts<'a>(content: Json<'a>, field: &Field<'_>) -> Result<Parts<'a>, Refusal> {
    let blocks = match blocks_of(content, field)? {
        Ok(blocks) => blocks,
        Err(text) => return Ok((vec![Part::Text(text)], CacheMarks::default())),
    };
    let mut parts = Vec::with_capacity(blocks.len());
    let mut marks = CacheMarks::default();
    for (i, block) in blocks.into_iter().enumerate() {
        let field = field.item("content", i);
        let block = block.object().unwrap_or_default();
        let part = match block.str("type").unwrap_or_default().as_ref() {
            "text" => Part::Text(block.text("text").unwrap_or_default()),
            "image" => Part::Image(read_image(&block, &field)?),
            "document" => Part::Document(read_document(&block, &field)?),
            // Its breakpoint goes with the result itself.
            "tool_result" => Part::ToolResult(read_tool_result(&block, &field)?),
            _ => continue,
        };
        if !matches!(part, Part::ToolResult(_)) {
            marks.mark(parts.len(), cache_control(&block));
        }
        parts.push(part);
    }
    Ok((parts, marks))
}

fn read_tool_result<'a>(block: &Object<'a>, field: &Field<'_>) -> Result<ToolResult<'a>, Refusal> {
    let mut content = Vec::new();
    let mut cache = cache_control(block);
    let result = block.field("content");
    if let Some(text) = result.as_text() {
        content.push(Part::Text(text));
    } else if let Some(inner) = result.array() {
        for (j, b) in inner.into_iter().enumerate() {
            let b = b.object().unwrap_or_default();
            // A breakpoint inside the result marks the result (where APIs take it).
            cache = cache.or_else(|| cache_control(&b));
            let field = field.item("content", j);
            match b.str("type").unwrap_or_default().as_ref() {
                "text" => content.push(Part::Text(b.text("text").unwrap_or_default())),
                "image" => content.push(Part::Image(read_image(&b, &field)?)),
                "document" => content.push(Part::Document(read_document(&b, &field)?)),
                _ => {}
            }
        }
    }
    Ok(ToolResult {
        id: block.str("tool_use_id").unwrap_or_default(),
        content,
        is_error: block.field("is_error").as_bool() == Some(true),
        cache,
    })
}

fn read_image<'a>(block: &Object<'a>, field: &Field<'_>) -> Result<Image<'a>, Refusal> {
    let source = block.field("source").object().unwrap_or_default();
    match source.str("type").as_deref() {
        Some("base64") => Ok(Image::Base64 {
            media_type: source
                .str("media_type")
                .unwrap_or(Cow::Borrowed("image/png")),
            data: source.str("data").unwrap_or_default(),
        }),
        Some("url") => Ok(Image::Url(source.str("url").unwrap_or_default())),
        _ => Err(Refusal::unsupported(
            format!("{field}.source"),
            "only base64 and url images can be sent to an OpenAI-compatible upstream",
        )),
    }
}

fn read_document<'a>(block: &Object<'a>, field: &Field<'_>) -> Result<Document<'a>, Refusal> {
    let source = block.field("source").object().unwrap_or_default();
    match source.str("type").as_deref() {
        Some("text") => Ok(Document::Text(source.text("data").unwrap_or_default())),
        Some("base64") => Ok(Document::Base64 {
            media_type: source
                .str("media_type")
                .unwrap_or(Cow::Borrowed("application/pdf")),
            data: source.str("data").unwrap_or_default(),
            title: block.str("title"),
        }),
        _ => Err(Refusal::unsupported(
            format!("{field}.source"),
            "only text and base64 documents can be sent to an OpenAI-compatible upstream",
        )),
    }
}

fn assistant_parts<'a>(content: Json<'a>, field: &Field<'_>) -> Result<Parts<'a>, Refusal> {
    let blocks = match blocks_of(content, field)? {
        Ok(blocks) => blocks,
        Err(text) => return Ok((vec![Part::Text(text)], CacheMarks::default())),
    };
    let mut parts = Vec::with_capacity(blocks.len());
    let mut marks = CacheMarks::default();
    for block in blocks {
        let block = block.object().unwrap_or_default();
        let part = match block.str("type").unwrap_or_default().as_ref() {
            "text" => Part::Text(block.text("text").unwrap_or_default()),
            "tool_use" => Part::ToolCall(crate::translate::ir::ToolCall {
                id: block.str("id").unwrap_or_default(),
                name: block.str("name").unwrap_or_default(),
                input: Input::Json(block.field("input")),
            }),
            "thinking" => Part::Thinking {
                text: block.text("thinking").unwrap_or_default(),
                signature: block.str("signature"),
            },
            "redacted_thinking" => Part::RedactedThinking(block.str("data").unwrap_or_default()),
            _ => continue,
        };
        marks.mark(parts.len(), cache_control(&block));
        parts.push(part);
    }
    Ok((parts, marks))
}

/// Messages turns as they are written (see [`MergedTurns`]), and what the assistant turns among
/// them tell of thinking.
struct Merged {
    turns: MergedTurns,
    /// The assistant turn in progress calls a tool / starts with thinking.
    calls_tool: bool,
    starts_with_thinking: Option<bool>,
    /// The last assistant turn calls a tool without its thinking before it: Anthropic then
    /// refuses a request that enables thinking.
    last_call_without_thinking: bool,
}

impl Merged {
    fn new() -> Merged {
        Merged {
            turns: MergedTurns::new("content"),
            calls_tool: false,
            starts_with_thinking: None,
            last_call_without_thinking: false,
        }
    }

    /// Where the next block of a `role` turn is written (a user turn's tool results apart).
    fn block(
        &mut self,
        role: &'static str,
        tool_result: bool,
        out: &mut JsonWriter,
    ) -> serde_json::Result<&mut JsonWriter> {
        if self.turns.role() != Some(role) {
            self.end_turn();
        }
        self.turns.part(role, tool_result && role == "user", out)
    }

    /// Writes the turn in progress, if there is one.
    fn flush(&mut self, out: &mut JsonWriter) -> serde_json::Result<()> {
        self.end_turn();
        self.turns.flush(out)
    }

    /// Settles what the assistant turn in progress, if it is one, tells of thinking.
    fn end_turn(&mut self) {
        if self.turns.role() == Some("assistant") {
            self.last_call_without_thinking =
                self.calls_tool && self.starts_with_thinking != Some(true);
            self.calls_tool = false;
            self.starts_with_thinking = None;
        }
    }
}

/// The intermediate form as a Messages request, written into a new body.
///
/// System turns are hoisted into `system`; consecutive turns of one role are merged (tool results
/// first). Unsigned thinking is dropped. A reasoning effort becomes a thinking budget unless the
/// last assistant turn called a tool without its thinking (Anthropic refuses that), or a tool is
/// forced. A JSON schema output format becomes one more tool the model must call (see
/// `structured`); any JSON without a schema is refused.
pub(crate) fn write_request(
    request: Request<'_>,
    target: &Target<'_>,
    mut out: JsonWriter,
) -> Result<Written, Refusal> {
    let answer = match request.format {
        Some(format) => Some(AnswerTool::of(format, &request.tools, Api::Anthropic)?),
        None => None,
    };
    let choice = tool_choice(request.tool_choice, answer.as_ref(), &request.tools);
    out.open_object();
    out.member("model", &target.model.into())
        .map_err(unwritable)?;
    let mut system = request.system;
    let mut system_cache = request.system_cache;
    let mut turns = Merged::new();
    out.key("messages").map_err(unwritable)?;
    out.open_array();
    for turn in request.turns {
        let Turn { role, parts, cache } = turn?;
        match role {
            Role::System => {
                let texts: Vec<_> = parts
                    .into_iter()
                    .filter_map(|p| match p {
                        Part::Text(text) => Some(text),
                        _ => None,
                    })
                    .collect();
                if cache.is_empty() {
                    system.push(joined(texts));
                } else {
                    // Each text keeps its breakpoint.
                    system_cache.extend(cache.shifted(system.len()));
                    system.extend(texts);
                }
                continue;
            }
            Role::User => user_turn(parts, &cache, &mut turns, &mut out),
            Role::Assistant => assistant_turn(parts, &cache, &mut turns, &mut out),
        }
        .map_err(unwritable)?;
    }
    turns.flush(&mut out).map_err(unwritable)?;
    out.close();
    if !system.is_empty() {
        let system = if system_cache.is_empty() {
            joined(system).into()
        } else {
            marked_texts(system, &system_cache)
        };
        out.member("system", &system).map_err(unwritable)?;
    }
    let forced = matches!(choice, Some(("any" | "tool", _)));
    let wanted = request
        .reasoning
        .budget
        .or_else(|| request.reasoning.effort.and_then(|e| e.budget()));
    let wanted = match wanted {
        Some(_) if forced || turns.last_call_without_thinking => {
            log::debug!("not enabling thinking: the request forces a tool, or its last tool call has no thinking before it");
            None
        }
        wanted => wanted,
    };
    let (max, thinking) = max_tokens_and_budget(request.max_tokens, wanted, target);
    out.member("max_tokens", &max).map_err(unwritable)?;
    if let Some(budget) = thinking {
        out.member(
            "thinking",
            &out! {"type" => "enabled", "budget_tokens" => Out::U64(budget)},
        )
        .map_err(unwritable)?;
    }
    if let Some(stop) = request.stop {
        let stop = stop.into_iter().map(Out::Str).collect();
        out.member("stop_sequences", &Out::Array(stop))
            .map_err(unwritable)?;
    }
    // Anthropic takes neither a temperature nor a narrow top_p with thinking on.
    if thinking.is_none() {
        let temperature = request.temperature.and_then(Json::as_f64);
        if let Some(t) = temperature {
            // Messages takes 0..=1 where OpenAI takes 0..=2; Anthropic's own compatibility layer caps it too.
            out.member("temperature", &Out::F64(t.clamp(0.0, 1.0)))
                .map_err(unwritable)?;
        }
        // Claude models since Sonnet 4.5 refuse a temperature and a top_p together, which
        // other APIs' clients send (Gemini CLI on every call): the temperature is kept.
        if let (Some(p), None) = (request.top_p, temperature) {
            out.member("top_p", &p.into()).map_err(unwritable)?;
        }
        if let Some(k) = request.top_k {
            out.member("top_k", &k.into()).map_err(unwritable)?;
        }
    }
    if let Some(user) = request.user {
        out.member("metadata", &out! {"user_id" => user})
            .map_err(unwritable)?;
    }
    if request.stream {
        out.member("stream", &Out::Bool(true)).map_err(unwritable)?;
    }
    let mut tool_names = Vec::new();
    let has_tools = !request.tools.is_empty() || answer.is_some();
    if has_tools {
        let mut list = Vec::new();
        for tool in request.tools {
            let schema = match (&tool.custom, tool.schema) {
                (Some(format), _) => {
                    tool_names.push(crate::translate::ToolName {
                        upstream: tool.name.to_string(),
                        client: tool.name.to_string(),
                        custom: true,
                        answer: false,
                    });
                    Out::Value(Tool::custom_schema(*format))
                }
                (None, Some(schema)) => schema.into(),
                (None, None) => out! {"type" => "object", "properties" => Out::Object(Vec::new())},
            };
            let mut t = vec![("name", Out::from(tool.name))];
            if let Some(d) = tool.description {
                t.push(("description", d.into()));
            }
            t.push(("input_schema", schema));
            list.push(with_cache_control(Out::Object(t), tool.cache));
        }
        if let Some(answer) = answer {
            tool_names.push(answer.tool_name());
            list.push(out! {
                "name" => answer.name,
                "description" => answer.description,
                "input_schema" => answer.schema,
            });
        }
        out.member("tools", &Out::Array(list)).map_err(unwritable)?;
    }
    let mut choice = choice.map(|(kind, name)| (kind, name, false));
    if request.parallel_tool_calls == Some(false) && has_tools {
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
    Ok(Written {
        body: out.finish(),
        tool_names,
    })
}

/// The Messages `tool_choice` type (and tool name) for the client's choice. With a tool that
/// carries a structured output, the model must call a tool: that one, or with tools of the
/// client's to choose from, any (so an agent can still work before it answers), unless the client
/// forced one of its own.
fn tool_choice<'a>(
    choice: Option<ToolChoice<'a>>,
    answer: Option<&AnswerTool<'_>>,
    tools: &[Tool<'_>],
) -> Option<(&'static str, Option<Cow<'a, str>>)> {
    let Some(answer) = answer else {
        return choice.map(|c| match c {
            ToolChoice::Auto => ("auto", None),
            ToolChoice::Any => ("any", None),
            ToolChoice::None => ("none", None),
            ToolChoice::Tool(name) => ("tool", Some(name)),
        });
    };
    match choice {
        Some(ToolChoice::Tool(name)) => Some(("tool", Some(name))),
        Some(ToolChoice::Auto | ToolChoice::Any) | None if !tools.is_empty() => Some(("any", None)),
        _ => Some(("tool", Some(Cow::Owned(answer.name.clone())))),
    }
}

/// `max_tokens` (the client's, lowered to the upstream's cap, else the default) and the thinking
/// budget that fits under it. Thinking needs at least 1024 tokens and fewer than `max_tokens`: a
/// client that set no limit gets room for both.
fn max_tokens_and_budget<'a>(
    max: Option<Json<'a>>,
    wanted: Option<u64>,
    target: &Target<'_>,
) -> (Out<'a>, Option<u64>) {
    const LEAST_BUDGET: u64 = 1024;
    let capped = |n: u64| target.max_tokens_cap.map_or(n, |cap| n.min(cap));
    let Some(wanted) = wanted.map(|w| w.max(LEAST_BUDGET)) else {
        return match max {
            Some(max) => (target.max_tokens(max), None),
            None => (Out::U64(capped(target.default_max_tokens)), None),
        };
    };
    let limit = match max {
        Some(max) => match max.as_u64() {
            Some(n) => capped(n),
            // A limit that is no whole number passes as written, without thinking.
            None => return (target.max_tokens(max), None),
        },
        None => capped(wanted.saturating_add(target.default_max_tokens)),
    };
    let budget = if wanted < limit { wanted } else { limit / 2 };
    let budget = (budget >= LEAST_BUDGET).then_some(budget);
    (Out::U64(limit), budget)
}

/// A user turn's blocks, its tool results written apart (they open the merged turn).
fn user_turn<'a>(
    parts: Vec<Part<'a>>,
    cache: &CacheMarks<'a>,
    turns: &mut Merged,
    out: &mut JsonWriter,
) -> serde_json::Result<()> {
    for (i, part) in parts.into_iter().enumerate() {
        if matches!(
            part,
            Part::ToolCall(_) | Part::Thinking { .. } | Part::RedactedThinking(_)
        ) {
            continue;
        }
        let tool_result = matches!(part, Part::ToolResult(_));
        user_block(part, cache.at(i), turns.block("user", tool_result, out)?)?;
    }
    Ok(())
}

/// A block of a user turn (or of a tool result's content) with its breakpoint; what a user turn
/// cannot hold is left out.
fn user_block(
    part: Part<'_>,
    cache: Option<Json<'_>>,
    w: &mut JsonWriter,
) -> serde_json::Result<()> {
    match part {
        Part::ToolResult(result) => tool_result_block(result, w)?,
        Part::Text(text) => text_block(text, w)?,
        Part::Image(image) => image_block(image, w)?,
        Part::Document(document) => document_block(document, w)?,
        Part::ToolCall(_) | Part::Thinking { .. } | Part::RedactedThinking(_) => return Ok(()),
    }
    close_with_cache_control(cache, w)
}

/// Opens a block of `kind`: its `type` is written, its other members follow.
fn open_block(kind: &'static str, w: &mut JsonWriter) -> serde_json::Result<()> {
    w.open_object();
    w.member("type", &kind.into())
}

fn text_block(text: Text<'_>, w: &mut JsonWriter) -> serde_json::Result<()> {
    open_block("text", w)?;
    w.member("text", &text.into())
}

/// A tool result, left open for a breakpoint: text only as one string, else as blocks.
fn tool_result_block(result: ToolResult<'_>, w: &mut JsonWriter) -> serde_json::Result<()> {
    open_block("tool_result", w)?;
    w.member("tool_use_id", &result.id.into())?;
    w.key("content")?;
    if result.content.iter().all(|p| matches!(p, Part::Text(_))) {
        let texts = result.content.iter().filter_map(|p| match p {
            Part::Text(text) => Some(text),
            _ => None,
        });
        w.value_with(|buf| write_joined(texts, buf))?;
    } else {
        w.open_array();
        for part in result.content {
            user_block(part, None, w)?;
        }
        w.close();
    }
    if result.is_error {
        w.member("is_error", &true.into())?;
    }
    if let Some(cache) = result.cache {
        w.member("cache_control", &cache.into())?;
    }
    Ok(())
}

fn image_block(image: Image<'_>, w: &mut JsonWriter) -> serde_json::Result<()> {
    open_block("image", w)?;
    w.key("source")?;
    w.open_object();
    match image {
        Image::Base64 { media_type, data } => {
            w.member("type", &"base64".into())?;
            w.member("media_type", &media_type.into())?;
            w.member("data", &data.into())?;
        }
        Image::Url(url) => {
            w.member("type", &"url".into())?;
            w.member("url", &url.into())?;
        }
    }
    w.close();
    Ok(())
}

fn document_block(document: Document<'_>, w: &mut JsonWriter) -> serde_json::Result<()> {
    open_block("document", w)?;
    w.key("source")?;
    w.open_object();
    match document {
        Document::Text(text) => {
            w.member("type", &"text".into())?;
            w.member("media_type", &"text/plain".into())?;
            w.member("data", &text.into())?;
            w.close();
        }
        Document::Base64 {
            media_type,
            data,
            title,
        } => {
            w.member("type", &"base64".into())?;
            w.member("media_type", &media_type.into())?;
            w.member("data", &data.into())?;
            w.close();
            if let Some(title) = title {
                w.member("title", &title.into())?;
            }
        }
    }
    Ok(())
}

/// An assistant turn's blocks. Thinking goes back only with an Anthropic signature: Anthropic
/// checks it, so thinking without one (another API's reasoning) or with a Gemini signature the
/// gateway carried is dropped.
fn assistant_turn<'a>(
    parts: Vec<Part<'a>>,
    cache: &CacheMarks<'a>,
    turns: &mut Merged,
    out: &mut JsonWriter,
) -> serde_json::Result<()> {
    for (i, part) in parts.into_iter().enumerate() {
        let thinking = match &part {
            Part::Text(_) => false,
            Part::ToolCall(_) => {
                turns.calls_tool = true;
                false
            }
            Part::Thinking {
                signature: Some(signature),
                ..
            } if !signature.is_empty() && gemini_signature(signature).is_none() => true,
            Part::RedactedThinking(_) => true,
            _ => continue,
        };
        turns.starts_with_thinking.get_or_insert(thinking);
        let w = turns.block("assistant", false, out)?;
        match part {
            Part::Text(text) => {
                text_block(text, w)?;
                close_with_cache_control(cache.at(i), w)?;
            }
            Part::ToolCall(call) => {
                open_block("tool_use", w)?;
                w.member("id", &call.id.into())?;
                w.member("name", &call.name.into())?;
                match call.input {
                    Input::Json(json) => w.member("input", &json.into())?,
                    Input::Checked(raw) => w.member("input", &Out::RawOwned(raw))?,
                    Input::Text(text) => w.member("input", &out! {"input" => text})?,
                }
                close_with_cache_control(cache.at(i), w)?;
            }
            Part::Thinking {
                text,
                signature: Some(signature),
            } => {
                open_block("thinking", w)?;
                w.member("thinking", &text.into())?;
                w.member("signature", &signature.into())?;
                w.close();
            }
            Part::RedactedThinking(data) => {
                open_block("redacted_thinking", w)?;
                w.member("data", &data.into())?;
                w.close();
            }
            _ => {}
        }
    }
    Ok(())
}
