//! The intermediate form of the translation hub: what every API's reader produces and every API's
//! writer consumes. A request (system text, turns made of parts, tools, settings), a whole answer,
//! and the events of a streamed one.
//!
//! Texts borrow from the body they were read from ([`Cow`]); JSON passed on unread (a tool's schema,
//! a tool call's input) stays the client's text ([`Json`]). The turns of a request are read one at a
//! time while the writer writes them, so a request never exists whole in this form: it costs about
//! one turn besides the body and its translation.

use super::errors::ErrorKind;
use super::lazy::{Json, JsonWriter, Out, Text};
use super::{Refusal, Tokens};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// A generation request as a reader read it.
pub(crate) struct Request<'a> {
    /// System text given apart from the turns (Messages `system`, Responses `instructions`).
    pub system: Vec<Text<'a>>,
    /// Prompt-cache breakpoints on texts of `system`.
    pub system_cache: CacheMarks<'a>,
    /// The conversation, read turn by turn as the writer asks for it.
    pub turns: Turns<'a>,
    pub tools: Vec<Tool<'a>>,
    pub tool_choice: Option<ToolChoice<'a>>,
    /// `Some(false)`: at most one tool call per answer.
    pub parallel_tool_calls: Option<bool>,
    /// The most tokens to generate, as the client wrote the number.
    pub max_tokens: Option<Json<'a>>,
    pub stop: Option<Vec<Cow<'a, str>>>,
    /// Sampling settings, as the client wrote them.
    pub temperature: Option<Json<'a>>,
    pub top_p: Option<Json<'a>>,
    /// Messages and Gemini `top_k`: OpenAI has none.
    pub top_k: Option<Json<'a>>,
    /// Who the end user is (Messages `metadata.user_id`, OpenAI `user`).
    pub user: Option<Cow<'a, str>>,
    pub stream: bool,
    /// A Chat client asked for the usage chunk at the end of a stream.
    pub include_usage: bool,
    pub reasoning: Reasoning,
    /// The answer must be JSON (of a schema).
    pub format: Option<OutputFormat<'a>>,
}

/// The turns of a request, read lazily: each item is the next turn or why it cannot be translated.
pub(crate) type Turns<'a> = Box<dyn Iterator<Item = Result<Turn<'a>, Refusal>> + 'a>;

/// Who says a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Instructions among the turns (a Chat `system` or `developer` message).
    System,
    User,
    Assistant,
}

/// One turn of the conversation. Tool results are parts of a user turn.
#[derive(Debug)]
pub(crate) struct Turn<'a> {
    pub role: Role,
    pub parts: Vec<Part<'a>>,
    /// Prompt-cache breakpoints on some of `parts`.
    pub cache: CacheMarks<'a>,
}

impl<'a> Turn<'a> {
    /// A turn without cache breakpoints.
    pub fn new(role: Role, parts: Vec<Part<'a>>) -> Turn<'a> {
        Turn {
            role,
            parts,
            cache: CacheMarks::default(),
        }
    }
}

/// Prompt-cache breakpoints on some items of a list (the parts of a turn, the texts of the
/// system): each item's index and its `cache_control` as the client wrote it. Anthropic reads
/// them, and so do the Anthropic-shaped Chat Completions relays (OpenRouter and others) on content
/// parts; the other APIs cache on their own and have no such field.
#[derive(Debug, Default, Clone)]
pub(crate) struct CacheMarks<'a>(Vec<(usize, Json<'a>)>);

impl<'a> CacheMarks<'a> {
    /// Marks item `at` with `control` (an object: `{"type":"ephemeral"}`, with a `ttl` maybe).
    pub fn mark(&mut self, at: usize, control: Option<Json<'a>>) {
        if let Some(control) = control.filter(|c| c.is_object()) {
            self.0.push((at, control));
        }
    }

    /// The breakpoint on item `at`, if it has one.
    pub fn at(&self, at: usize) -> Option<Json<'a>> {
        self.0.iter().find(|(i, _)| *i == at).map(|(_, c)| *c)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The marks of a list that is appended to one of `offset` items.
    pub fn shifted(self, offset: usize) -> impl Iterator<Item = (usize, Json<'a>)> {
        self.0.into_iter().map(move |(i, c)| (i + offset, c))
    }

    /// Takes over marks already placed in a longer list.
    pub fn extend(&mut self, marks: impl IntoIterator<Item = (usize, Json<'a>)>) {
        self.0.extend(marks);
    }
}

/// Texts and the cache breakpoints on them (a system, or a text-only content).
pub(crate) type MarkedTexts<'a> = (Vec<Text<'a>>, CacheMarks<'a>);

/// `block` with the `cache_control` of its breakpoint, if it has one.
pub(crate) fn with_cache_control<'a>(block: Out<'a>, cache: Option<Json<'a>>) -> Out<'a> {
    match (block, cache) {
        (Out::Object(mut members), Some(cache)) => {
            members.push(("cache_control", cache.into()));
            Out::Object(members)
        }
        (block, _) => block,
    }
}

/// Closes the block or part being written, with its breakpoint (`cache_control`) as its last
/// member when it has one: [`with_cache_control`] for what is written as it is read.
pub(crate) fn close_with_cache_control(
    cache: Option<Json<'_>>,
    out: &mut JsonWriter,
) -> serde_json::Result<()> {
    if let Some(cache) = cache {
        out.member("cache_control", &cache.into())?;
    }
    out.close();
    Ok(())
}

/// Turns as Messages and Gemini take them, written as they are read: consecutive turns of one role
/// are one, its tool results first. A turn's parts go into two lists (results and the rest), each
/// a JSON array left open until the role changes, and then into the body as one turn.
pub(crate) struct MergedTurns {
    role: Option<&'static str>,
    /// The member the parts are listed in: `content` (Messages) or `parts` (Gemini).
    list: &'static str,
    results: JsonWriter,
    rest: JsonWriter,
}

impl MergedTurns {
    pub fn new(list: &'static str) -> MergedTurns {
        let open = || {
            let mut open = JsonWriter::with_capacity(0);
            open.open_array();
            open
        };
        MergedTurns {
            role: None,
            list,
            results: open(),
            rest: open(),
        }
    }

    /// The role of the turn in progress.
    pub fn role(&self) -> Option<&'static str> {
        self.role
    }

    /// Where the next part of a `role` turn is written (a tool result apart). A turn of another
    /// role in progress is written out first: a turn that brings no part merges nothing and ends
    /// nothing.
    pub fn part(
        &mut self,
        role: &'static str,
        result: bool,
        out: &mut JsonWriter,
    ) -> serde_json::Result<&mut JsonWriter> {
        if self.role != Some(role) {
            self.flush(out)?;
            self.role = Some(role);
        }
        Ok(if result {
            &mut self.results
        } else {
            &mut self.rest
        })
    }

    /// Writes the turn in progress, if there is one.
    pub fn flush(&mut self, out: &mut JsonWriter) -> serde_json::Result<()> {
        let Some(role) = self.role.take() else {
            return Ok(());
        };
        // Each list without the bracket that opens it.
        let results = self.results.written().get(1..).unwrap_or_default();
        let rest = self.rest.written().get(1..).unwrap_or_default();
        out.open_object();
        out.member("role", &role.into())?;
        out.key(self.list)?;
        out.value_with(|out| {
            out.push(b'[');
            out.extend_from_slice(results);
            if !results.is_empty() && !rest.is_empty() {
                out.push(b',');
            }
            out.extend_from_slice(rest);
            out.push(b']');
            Ok(())
        })?;
        out.close();
        // Emptied, not dropped: the next turn is written into the room this one made.
        for list in [&mut self.results, &mut self.rest] {
            list.clear();
            list.open_array();
        }
        Ok(())
    }
}

/// Texts as text blocks or parts (`{"type":"text","text":…}`, the form of Messages and of Chat
/// content alike), each with its breakpoint.
pub(crate) fn marked_texts<'a>(texts: Vec<Text<'a>>, marks: &CacheMarks<'a>) -> Out<'a> {
    Out::Array(
        texts
            .into_iter()
            .enumerate()
            .map(|(i, text)| {
                with_cache_control(
                    Out::Object(vec![("type", Out::from("text")), ("text", Out::from(text))]),
                    marks.at(i),
                )
            })
            .collect(),
    )
}

/// The `cache_control` an object of the client's carries (`None` unless it is an object).
pub(crate) fn cache_control<'a>(object: &super::lazy::Object<'a>) -> Option<Json<'a>> {
    object.get("cache_control").filter(|c| c.is_object())
}

/// A piece of a turn or of an answer.
#[derive(Debug)]
pub(crate) enum Part<'a> {
    Text(Text<'a>),
    Image(Image<'a>),
    Document(Document<'a>),
    ToolCall(ToolCall<'a>),
    ToolResult(ToolResult<'a>),
    /// Reasoning the model showed, with the signature Anthropic needs to see it again.
    Thinking {
        text: Text<'a>,
        signature: Option<Cow<'a, str>>,
    },
    /// Anthropic's encrypted thinking: opaque, only Anthropic reads it.
    RedactedThinking(Cow<'a, str>),
}

#[derive(Debug)]
pub(crate) enum Image<'a> {
    Base64 {
        media_type: Cow<'a, str>,
        data: Cow<'a, str>,
    },
    Url(Cow<'a, str>),
}

#[derive(Debug)]
pub(crate) enum Document<'a> {
    /// Plain text handed over as a document.
    Text(Text<'a>),
    /// A file given inline (a PDF, usually).
    Base64 {
        media_type: Cow<'a, str>,
        data: Cow<'a, str>,
        title: Option<Cow<'a, str>>,
    },
}

/// A call of one of the request's tools.
#[derive(Debug)]
pub(crate) struct ToolCall<'a> {
    pub id: Cow<'a, str>,
    pub name: Cow<'a, str>,
    pub input: Input<'a>,
}

/// What a tool is called with.
#[derive(Debug)]
pub(crate) enum Input<'a> {
    /// JSON as the client or upstream wrote it (`null` when there was none).
    Json(Json<'a>),
    /// JSON that came as a string (a Chat call's `arguments`), checked.
    Checked(Box<RawValue>),
    /// The free text a custom tool takes (Responses `custom_tool_call`); other APIs see it as the
    /// object `{"input": text}`.
    Text(Cow<'a, str>),
}

impl<'a> Input<'a> {
    /// The input as compact JSON text (`{}` when there is none), as OpenAI's `arguments` hold it.
    pub fn into_json(self) -> Cow<'a, str> {
        match self {
            Input::Json(json) if json.is_null() => Cow::Borrowed("{}"),
            Input::Json(json) => json.compact(),
            Input::Checked(raw) => Cow::Owned(Json::from(&*raw).compact().into_owned()),
            Input::Text(text) => Cow::Owned(custom_input_json(&text)),
        }
    }
}

impl<'a> Input<'a> {
    /// The input as OpenAI's `arguments`: its compact JSON text (`{}` when there is none), as a
    /// string.
    pub fn into_arguments(self) -> Out<'a> {
        match self {
            Input::Json(json) if !json.is_null() => Out::JsonString(json),
            input => Out::Str(input.into_json()),
        }
    }
}

/// A custom tool's free text as the one-member object other APIs call it with.
pub(crate) fn custom_input_json(text: &str) -> String {
    serde_json::json!({ CUSTOM_INPUT: text }).to_string()
}

/// The one parameter of the function a custom tool becomes.
pub(crate) const CUSTOM_INPUT: &str = "input";

/// A tool's answer to a call, in a user turn.
#[derive(Debug)]
pub(crate) struct ToolResult<'a> {
    pub id: Cow<'a, str>,
    /// Text, images and documents.
    pub content: Vec<Part<'a>>,
    pub is_error: bool,
    /// A prompt-cache breakpoint on the result (see [`CacheMarks`]).
    pub cache: Option<Json<'a>>,
}

/// A tool the model may call.
#[derive(Debug)]
pub(crate) struct Tool<'a> {
    pub name: Cow<'a, str>,
    pub description: Option<Text<'a>>,
    /// The JSON schema of its input (`None`: any object).
    pub schema: Option<Json<'a>>,
    /// A custom tool (Responses `custom`): it takes free text, described by this format (a grammar).
    pub custom: Option<Option<Json<'a>>>,
    /// A prompt-cache breakpoint on the tools up to this one (see [`CacheMarks`]).
    pub cache: Option<Json<'a>>,
}

impl Tool<'_> {
    /// The schema of the function a custom tool becomes: one string parameter, described by the
    /// tool's format so the model still knows the grammar.
    pub fn custom_schema(format: Option<Json<'_>>) -> serde_json::Value {
        let mut description = "The tool's input, as free text.".to_string();
        if let Some(format) = format.and_then(Json::object) {
            if let Some(definition) = format.str("definition") {
                let syntax = format.str("syntax").unwrap_or(Cow::Borrowed("the"));
                description =
                    format!("The tool's input, as free text in {syntax} grammar:\n{definition}");
            }
        }
        serde_json::json!({
            "type": "object",
            "properties": {CUSTOM_INPUT: {"type": "string", "description": description}},
            "required": [CUSTOM_INPUT],
        })
    }
}

/// Which tool the model must call, if any.
#[derive(Debug)]
pub(crate) enum ToolChoice<'a> {
    Auto,
    /// At least one tool.
    Any,
    None,
    Tool(Cow<'a, str>),
}

/// How hard the model should think.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Reasoning {
    /// OpenAI's word for it.
    pub effort: Option<Effort>,
    /// Anthropic's: tokens to think with.
    pub budget: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effort {
    None,
    Minimal,
    Low,
    Medium,
    High,
    XHigh,
}

impl Effort {
    const WORDS: [(Effort, &'static str); 6] = [
        (Effort::None, "none"),
        (Effort::Minimal, "minimal"),
        (Effort::Low, "low"),
        (Effort::Medium, "medium"),
        (Effort::High, "high"),
        (Effort::XHigh, "xhigh"),
    ];

    pub fn from_word(word: &str) -> Option<Effort> {
        Self::WORDS
            .iter()
            .find(|(_, w)| *w == word)
            .map(|(e, _)| *e)
    }

    pub fn word(self) -> &'static str {
        Self::WORDS
            .iter()
            .find(|(e, _)| *e == self)
            .map_or("medium", |(_, w)| w)
    }

    /// Anthropic thinking tokens for this effort; `None` for no thinking.
    pub fn budget(self) -> Option<u64> {
        match self {
            Effort::None | Effort::Minimal => None,
            Effort::Low => Some(2048),
            Effort::Medium => Some(8192),
            Effort::High => Some(16384),
            Effort::XHigh => Some(32768),
        }
    }
}

/// The answer must be JSON.
#[derive(Debug)]
pub(crate) struct OutputFormat<'a> {
    /// The client's field that asked for it, for a refusal.
    pub field: &'static str,
    pub kind: FormatKind<'a>,
}

#[derive(Debug)]
pub(crate) enum FormatKind<'a> {
    /// Any JSON object.
    JsonObject,
    /// JSON that follows a schema (a structured output).
    JsonSchema {
        /// The format's name (`answer` when the client gave none).
        name: Cow<'a, str>,
        /// The schema as the client wrote it: passed on, never read.
        schema: Json<'a>,
        /// The client asked the model to follow the schema exactly.
        strict: Option<bool>,
        description: Option<Cow<'a, str>>,
    },
}

/// A whole (non-streamed) answer.
#[derive(Debug)]
pub(crate) struct Answer<'a> {
    pub id: Option<Cow<'a, str>>,
    /// Text, thinking and tool calls, in order.
    pub parts: Vec<Part<'a>>,
    pub stop: StopReason,
    /// What the upstream used, reasoning included.
    pub usage: Tokens,
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum StopReason {
    #[default]
    EndTurn,
    MaxTokens,
    /// The context window filled up.
    ContextWindow,
    ToolUse,
    StopSequence,
    Refusal,
    /// Anthropic paused a long turn.
    PauseTurn,
}

/// One step of a streamed answer. Blocks (a text, a thinking, a tool call) open with their first
/// event and close at [`Event::BlockStop`] or when another block opens.
#[derive(Debug)]
pub(crate) enum Event<'a> {
    /// The answer begins (the upstream's id for it, when it gave one).
    Start {
        id: Option<Cow<'a, str>>,
    },
    Text(Cow<'a, str>),
    Thinking(Cow<'a, str>),
    /// The signature of the thinking block in progress.
    Signature(Cow<'a, str>),
    RedactedThinking(Cow<'a, str>),
    /// A tool call begins; `index` tells its argument fragments apart from other calls'.
    ToolCall {
        index: usize,
        id: Cow<'a, str>,
        name: Cow<'a, str>,
        /// Arguments that came with the call's start.
        arguments: Cow<'a, str>,
    },
    ToolArguments {
        index: usize,
        text: Cow<'a, str>,
    },
    BlockStop,
    /// How the answer finished (more events may follow before the end: usage, say).
    Stop(StopReason),
    /// The answer is complete.
    End {
        usage: Tokens,
    },
    /// The upstream reported an error midway: the stream ends here.
    Error {
        kind: ErrorKind,
        message: Cow<'a, str>,
    },
}

/// Texts joined by a blank line; one text is not copied (see [`Text::joined`]).
pub(crate) fn joined(texts: Vec<Text<'_>>) -> Text<'_> {
    Text::joined(texts)
}

/// `part`, a slice of `whole`, borrowed for as long as `whole` is when `whole` is borrowed.
pub(crate) fn part_of<'a>(whole: &Cow<'a, str>, part: &str) -> Cow<'a, str> {
    if let Cow::Borrowed(text) = whole {
        let start = (part.as_ptr() as usize).checked_sub(text.as_ptr() as usize);
        if let Some(same) = start.and_then(|start| text.get(start..start + part.len())) {
            return Cow::Borrowed(same);
        }
    }
    Cow::Owned(part.to_string())
}

/// A data URL (`data:<type>;base64,<data>`) as its media type and data, borrowed where the URL is.
pub(crate) fn data_url_parts<'a>(url: &Cow<'a, str>) -> Option<(Cow<'a, str>, Cow<'a, str>)> {
    let (media_type, data) = url.strip_prefix("data:")?.split_once(";base64,")?;
    Some((part_of(url, media_type), part_of(url, data)))
}

/// A tool a translation renamed, turned into a function or added, and how the client knows it:
/// answers name the client's tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolName {
    /// The name the upstream knows.
    pub upstream: String,
    /// The name the client gave.
    pub client: String,
    /// A Responses custom tool sent as a function with one string parameter.
    pub custom: bool,
    /// No tool of the client's: the one the translation forced to carry a structured output (see
    /// `structured`), whose call's input is the answer's text.
    pub answer: bool,
}

impl ToolName {
    /// Names shortened for the upstream, from (short, original) pairs.
    pub fn renamed(pairs: &[(String, String)]) -> Vec<ToolName> {
        pairs
            .iter()
            .map(|(short, original)| ToolName {
                upstream: short.clone(),
                client: original.clone(),
                custom: false,
                answer: false,
            })
            .collect()
    }
}

/// The client's name for a tool the upstream called by `name`.
pub(crate) fn client_tool_name<'n>(names: &'n [ToolName], name: &'n str) -> &'n str {
    names
        .iter()
        .find(|t| t.upstream == name)
        .map_or(name, |t| t.client.as_str())
}

/// [`client_tool_name`] for a borrowed name: borrowed still unless it was renamed.
pub(crate) fn restored<'a>(names: &[ToolName], name: Cow<'a, str>) -> Cow<'a, str> {
    match names.iter().find(|t| t.upstream == name) {
        Some(t) if t.client != name => Cow::Owned(t.client.clone()),
        _ => name,
    }
}

/// Whether the client's tool `name` is a custom tool.
pub(crate) fn is_custom_tool(names: &[ToolName], name: &str) -> bool {
    names.iter().any(|t| t.custom && t.client == name)
}

/// The tool the translation forced to carry a structured output, if it added one.
pub(crate) fn answer_tool(names: &[ToolName]) -> Option<&str> {
    names.iter().find(|t| t.answer).map(|t| t.upstream.as_str())
}
