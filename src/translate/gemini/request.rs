//! Gemini requests: read into the intermediate form (a Gemini client in front of an upstream of
//! another API), and written from it (for a Gemini upstream).

use super::answer::args_out;
use super::schema::json_schema;
use super::{gemini_signature, tool_id, SKIP_SIGNATURE};
use crate::translate::chat::Renamed;
use crate::translate::field::Field;
use crate::translate::hub::{unwritable, Target, Written};
use crate::translate::ir::{
    joined, Document, Effort, FormatKind, Image, Input, MergedTurns, OutputFormat, Part, Reasoning,
    Request, Role, Tool, ToolCall, ToolChoice, ToolResult, Turn,
};
use crate::translate::lazy::{
    out, write_joined, Json, JsonWriter, Object, Out, Text, EMPTY_OBJECT,
};
use crate::translate::responses::carry;
use crate::translate::{Api, Refusal};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// Tools that run on Google's side: no other upstream can run them.
const BUILT_IN_TOOLS: [&str; 8] = [
    "googleSearch",
    "googleSearchRetrieval",
    "codeExecution",
    "urlContext",
    "retrieval",
    "fileSearch",
    "computerUse",
    "googleMaps",
];

/// The format name other APIs get for a Gemini structured output, which has none.
const FORMAT_NAME: &str = "answer";

/// What a Gemini request's reader needs besides the body: whether the client's path asked for a
/// stream, and the request's schemas rewritten as JSON Schema (see `schema`), made before the
/// read so that the intermediate form borrows them as it borrows the body (only the schemas that
/// change are held). The function declarations are kept as they were read for their schemas, so
/// that their long descriptions are not passed over again.
#[derive(Debug, Default)]
pub(crate) struct Prepared<'a> {
    stream: bool,
    /// Each function declaration with its schema rewritten (if it changed), in the order of
    /// `tools[].functionDeclarations[]`.
    declarations: Vec<(Object<'a>, Option<String>)>,
    /// `generationConfig.responseJsonSchema` or `responseSchema`.
    format: Option<String>,
}

impl<'a> Prepared<'a> {
    /// What reading this request needs; `stream` is what the client's path asked.
    pub fn of(request: &Object<'a>, stream: bool) -> Prepared<'a> {
        let mut declarations = Vec::new();
        for tool in request.field("tools").array().unwrap_or_default() {
            let listed = tool.get("functionDeclarations").array();
            for declaration in listed.unwrap_or_default() {
                let declaration = declaration.object().unwrap_or_default();
                let schema = parameters(&declaration).and_then(json_schema);
                declarations.push((declaration, schema));
            }
        }
        let format = response_schema(
            &request
                .field("generationConfig")
                .object()
                .unwrap_or_default(),
        )
        .and_then(|(_, schema)| json_schema(schema));
        Prepared {
            stream,
            declarations,
            format,
        }
    }

    /// A held schema as JSON to pass on.
    fn get(text: Option<&String>) -> Option<Json<'_>> {
        text.and_then(|text| Json::parse(text.as_bytes()).ok())
    }
}

/// A function declaration's parameters: `parametersJsonSchema`, else OpenAPI `parameters`.
fn parameters<'a>(declaration: &Object<'a>) -> Option<Json<'a>> {
    declaration
        .get("parametersJsonSchema")
        .filter(|s| !s.is_null())
        .or_else(|| declaration.get("parameters").filter(|s| !s.is_null()))
}

/// The structured output's schema and the field that holds it.
fn response_schema<'a>(config: &Object<'a>) -> Option<(&'static str, Json<'a>)> {
    ["responseJsonSchema", "responseSchema"]
        .into_iter()
        .find_map(|key| {
            let schema = config.get(key).filter(|s| !s.is_null())?;
            Some((key, schema))
        })
}

/// A Gemini request in the intermediate form, for an upstream of `upstream`'s API. Built-in tools
/// are left out (logged); what needs Google's side (`cachedContent`) or several answers
/// (`candidateCount`) is refused.
pub(crate) fn read_request<'a>(
    request: &Object<'a>,
    upstream: Api,
    prepared: &'a Prepared<'a>,
) -> Result<Request<'a>, Refusal> {
    if !request.field("cachedContent").is_null() {
        return Err(Refusal::unsupported(
            "cachedContent",
            format!(
                "a {} upstream cannot read Gemini's cached content; send the whole conversation in `contents`",
                upstream.title()
            ),
        ));
    }
    let config = request
        .field("generationConfig")
        .object()
        .unwrap_or_default();
    if config
        .field("candidateCount")
        .as_u64()
        .is_some_and(|n| n > 1)
    {
        return Err(Refusal::unsupported(
            "generationConfig.candidateCount",
            format!("a {} upstream gives one candidate", upstream.title()),
        ));
    }
    let contents = request.field("contents");
    let contents = match contents.array() {
        Some(items) => items,
        None if contents.is_null() => Vec::new(),
        None => return Err(Refusal::unsupported("contents", "must be an array")),
    };
    let system = request
        .field("systemInstruction")
        .get("parts")
        .array()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|part| part.get("text").as_text())
        .collect::<Vec<_>>();
    let (tools, left_out) = read_tools(request.field("tools"), prepared);
    if !left_out.is_empty() {
        log::info!(
            "leaving out tools a {} upstream cannot run: {}",
            upstream.title(),
            left_out.join(", ")
        );
    }
    let stop = config.get("stopSequences").map(|stop| {
        stop.array()
            .unwrap_or_default()
            .into_iter()
            .filter_map(Json::as_str)
            .collect()
    });
    let setting = |key: &str| config.get(key).filter(|v| !v.is_null());
    Ok(Request {
        system: if system.is_empty() {
            Vec::new()
        } else {
            vec![joined(system)]
        },
        system_cache: Default::default(),
        turns: Box::new(Contents {
            items: contents,
            at: 0,
            upstream,
            calls: Vec::new(),
        }),
        tools,
        tool_choice: read_tool_choice(request.field("toolConfig").get("functionCallingConfig")),
        parallel_tool_calls: None,
        max_tokens: setting("maxOutputTokens"),
        stop,
        temperature: setting("temperature"),
        top_p: setting("topP"),
        top_k: setting("topK"),
        user: None,
        stream: prepared.stream,
        include_usage: false,
        reasoning: read_thinking(config.field("thinkingConfig")),
        format: read_format(&config, prepared),
    })
}

/// The function declarations as tools (schemas as JSON Schema), and the kinds of the built-in
/// tools, which are left out.
fn read_tools<'a>(tools: Json<'a>, prepared: &'a Prepared<'a>) -> (Vec<Tool<'a>>, Vec<String>) {
    let mut left_out = Vec::new();
    for tool in tools.array().unwrap_or_default() {
        let tool = tool.object().unwrap_or_default();
        for key in tool.keys() {
            if key != "functionDeclarations" {
                let known = BUILT_IN_TOOLS.contains(&key);
                left_out.push(if known {
                    key.to_string()
                } else {
                    format!("`{key}`")
                });
            }
        }
    }
    let list = prepared
        .declarations
        .iter()
        .map(|(declaration, rewritten)| Tool {
            name: declaration.str("name").unwrap_or_default(),
            description: declaration.text("description"),
            schema: Prepared::get(rewritten.as_ref()).or_else(|| parameters(declaration)),
            custom: None,
            cache: None,
        })
        .collect();
    (list, left_out)
}

/// `functionCallingConfig`: `ANY` with one allowed function forces it.
fn read_tool_choice(config: Json<'_>) -> Option<ToolChoice<'_>> {
    let config = config.object()?;
    let allowed: Vec<Cow<'_, str>> = config
        .field("allowedFunctionNames")
        .array()
        .unwrap_or_default()
        .into_iter()
        .filter_map(Json::as_str)
        .collect();
    match config.str("mode").as_deref() {
        Some("ANY") => Some(match <[_; 1]>::try_from(allowed) {
            Ok([name]) => ToolChoice::Tool(name),
            Err(_) => ToolChoice::Any,
        }),
        Some("NONE") => Some(ToolChoice::None),
        Some("AUTO" | "VALIDATED") => Some(ToolChoice::Auto),
        _ => None,
    }
}

/// `thinkingConfig`: a budget of tokens (`-1`: as the model sees fit), or a level.
fn read_thinking(config: Json<'_>) -> Reasoning {
    let config = config.object().unwrap_or_default();
    let budget = config.field("thinkingBudget");
    if let Some(n) = budget.as_u64() {
        return match n {
            0 => Reasoning {
                effort: Some(Effort::None),
                budget: None,
            },
            n => Reasoning {
                effort: None,
                budget: Some(n),
            },
        };
    }
    if budget.as_f64().is_some_and(|n| n < 0.0) {
        return Reasoning {
            effort: Some(Effort::Medium),
            budget: None,
        };
    }
    let level = config.str("thinkingLevel").map(|l| l.to_ascii_lowercase());
    Reasoning {
        effort: level.and_then(|l| Effort::from_word(&l)),
        budget: None,
    }
}

/// `responseMimeType: application/json`, with its schema when it has one.
fn read_format<'a>(config: &Object<'a>, schemas: &'a Prepared<'a>) -> Option<OutputFormat<'a>> {
    let mime = config.str("responseMimeType")?;
    if mime != "application/json" {
        if mime != "text/plain" {
            log::debug!("leaving out responseMimeType `{mime}`: only JSON has an equivalent");
        }
        return None;
    }
    let (field, kind) = match response_schema(config) {
        Some((key, schema)) => {
            let field = match key {
                "responseSchema" => "generationConfig.responseSchema",
                _ => "generationConfig.responseJsonSchema",
            };
            let schema = Prepared::get(schemas.format.as_ref()).unwrap_or(schema);
            let kind = FormatKind::JsonSchema {
                name: Cow::Borrowed(FORMAT_NAME),
                schema,
                strict: None,
                description: None,
            };
            (field, kind)
        }
        None => ("generationConfig.responseMimeType", FormatKind::JsonObject),
    };
    Some(OutputFormat { field, kind })
}

/// The `contents` as turns, read one at a time. Tool calls without an id get one from their
/// place; results without one take the id of the last model turn's first unanswered call of
/// their name; a result given twice (Gemini CLI's history after `--resume`) is given once.
struct Contents<'a> {
    items: Vec<Json<'a>>,
    at: usize,
    upstream: Api,
    /// The last model turn's calls: (id, name, answered).
    calls: Vec<(Cow<'a, str>, Cow<'a, str>, bool)>,
}

impl<'a> Iterator for Contents<'a> {
    type Item = Result<Turn<'a>, Refusal>;

    fn next(&mut self) -> Option<Self::Item> {
        while let Some(content) = self.items.get(self.at).copied() {
            let at = self.at;
            self.at += 1;
            let content = content.object().unwrap_or_default();
            let turn = match content.str("role").as_deref() {
                Some("model") => Ok(self.model_turn(&content, at)),
                // Older SDKs answer calls in a turn of role `function`.
                None | Some("user" | "function" | "tool") => self.user_turn(&content, at),
                Some(other) => Err(Refusal::unsupported(
                    format!("contents[{at}].role"),
                    format!("`{other}` is neither user nor model"),
                )),
            };
            match turn {
                Ok(turn) if turn.parts.is_empty() => continue,
                turn => return Some(turn),
            }
        }
        None
    }
}

impl<'a> Contents<'a> {
    /// A model turn: texts and calls, with the thinking the gateway carried in a signature put
    /// back at its start (where Anthropic had it). Thoughts and other signatures are dropped.
    fn model_turn(&mut self, content: &Object<'a>, at: usize) -> Turn<'a> {
        let mut restored = Vec::new();
        let mut parts = Vec::new();
        self.calls.clear();
        for (p, part) in content
            .field("parts")
            .array()
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let part = part.object().unwrap_or_default();
            if let Some(signature) = part.str("thoughtSignature") {
                if carry::is_carried(&signature) {
                    match carry::restore(&signature) {
                        Some(blocks) => restored.extend(blocks),
                        None => log::warn!(
                            "contents[{at}].parts[{p}]: dropping thinking the gateway cannot read back"
                        ),
                    }
                }
            }
            if part.field("thought").as_bool() == Some(true) {
                continue;
            }
            if let Some(text) = part.text("text") {
                if !text.is_empty() {
                    parts.push(Part::Text(text));
                }
            } else if let Some(call) = part.field("functionCall").object() {
                let name = call.str("name").unwrap_or_default();
                let id = match call.str("id").filter(|id| !id.is_empty()) {
                    Some(id) => tool_id(id),
                    None => Cow::Owned(format!("call_{at}_{p}")),
                };
                self.calls.push((id.clone(), name.clone(), false));
                let args = call.field("args");
                parts.push(Part::ToolCall(ToolCall {
                    id,
                    name,
                    input: Input::Json(if args.is_object() { args } else { EMPTY_OBJECT }),
                }));
            } else {
                log::debug!(
                    "leaving out a model part a {} upstream cannot take: contents[{at}].parts[{p}]",
                    self.upstream.title()
                );
            }
        }
        restored.extend(parts);
        Turn::new(Role::Assistant, restored)
    }

    fn user_turn(&mut self, content: &Object<'a>, at: usize) -> Result<Turn<'a>, Refusal> {
        let mut parts = Vec::new();
        let mut answered: HashSet<Cow<'a, str>> = HashSet::new();
        for (p, part) in content
            .field("parts")
            .array()
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let content = Field::top("contents", at);
            let field = content.item("parts", p);
            let part = part.object().unwrap_or_default();
            if let Some(text) = part.text("text") {
                if part.field("thought").as_bool() != Some(true) && !text.is_empty() {
                    parts.push(Part::Text(text));
                }
            } else if let Some(data) = part.field("inlineData").object() {
                parts.push(self.inline_part(&data, &field)?);
            } else if let Some(file) = part.field("fileData").object() {
                parts.push(self.file_part(&file, &field)?);
            } else if let Some(response) = part.field("functionResponse").object() {
                let Some(id) = self.result_id(&response) else {
                    continue;
                };
                if !answered.insert(id.clone()) {
                    log::debug!("{field}: dropping a repeated result for call `{id}`");
                    continue;
                }
                parts.push(Part::ToolResult(self.tool_result(id, &response, &field)?));
            } else {
                log::debug!(
                    "leaving out a user part a {} upstream cannot take: {field}",
                    self.upstream.title()
                );
            }
        }
        Ok(Turn::new(Role::User, parts))
    }

    /// The call a result answers: its own id, else the first unanswered call of its name (`None`
    /// for a repeat of a result without an id, whose calls are all answered).
    fn result_id(&mut self, response: &Object<'a>) -> Option<Cow<'a, str>> {
        if let Some(id) = response.str("id").filter(|id| !id.is_empty()) {
            let id = tool_id(id);
            if let Some(call) = self.calls.iter_mut().find(|c| c.0 == id) {
                call.2 = true;
            }
            return Some(id);
        }
        let name = response.str("name").unwrap_or_default();
        let named = self.calls.iter().any(|c| c.1 == name);
        // A result whose name no call had takes the first call left unanswered.
        let call = self
            .calls
            .iter_mut()
            .find(|c| !c.2 && (!named || c.1 == name));
        let Some(call) = call else {
            log::debug!("dropping a result for `{name}` that answers no call left unanswered");
            return None;
        };
        call.2 = true;
        Some(call.0.clone())
    }

    /// A `functionResponse` as a tool result: `{output: text}` is its text, `{error: text}` an
    /// error; any other response is its JSON. Inline images in its `parts` come with it.
    fn tool_result(
        &self,
        id: Cow<'a, str>,
        response: &Object<'a>,
        field: &Field<'_>,
    ) -> Result<ToolResult<'a>, Refusal> {
        let body = response.field("response");
        let members = body.object().unwrap_or_default();
        let only = |key: &str| {
            let mut keys = members.keys();
            (keys.next() == Some(key) && keys.next().is_none())
                .then(|| members.text(key))
                .flatten()
        };
        let (text, is_error) = match (only("output"), only("error")) {
            (Some(output), _) => (output, false),
            (_, Some(error)) => (error, true),
            _ if body.is_null() => (Text::default(), false),
            _ => (Text::from(body.compact()), false),
        };
        let mut content = vec![Part::Text(text)];
        for (i, part) in response
            .field("parts")
            .array()
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            if let Some(data) = part.get("inlineData").object() {
                content.push(self.inline_part(&data, &field.item("functionResponse.parts", i))?);
            }
        }
        Ok(ToolResult {
            id,
            content,
            is_error,
            cache: None,
        })
    }

    /// `inlineData`: an image, or a PDF as a document; audio and video are refused.
    fn inline_part(&self, data: &Object<'a>, field: &Field<'_>) -> Result<Part<'a>, Refusal> {
        let media_type = data.str("mimeType").unwrap_or(Cow::Borrowed("image/png"));
        let bytes = data.str("data").unwrap_or_default();
        if media_type.starts_with("image/") {
            return Ok(Part::Image(Image::Base64 {
                media_type,
                data: bytes,
            }));
        }
        if media_type == "application/pdf" {
            return Ok(Part::Document(Document::Base64 {
                media_type,
                data: bytes,
                title: None,
            }));
        }
        Err(Refusal::unsupported(
            format!("{field}.inlineData"),
            format!(
                "`{media_type}` data cannot be sent to a {} upstream: only images and PDFs",
                self.upstream.title()
            ),
        ))
    }

    /// `fileData`: an image by URL; other files by URI live on Google's side.
    fn file_part(&self, file: &Object<'a>, field: &Field<'_>) -> Result<Part<'a>, Refusal> {
        let uri = file.str("fileUri").unwrap_or_default();
        let image = file
            .str("mimeType")
            .is_some_and(|m| m.starts_with("image/"));
        if image && (uri.starts_with("https://") || uri.starts_with("http://")) {
            return Ok(Part::Image(Image::Url(uri)));
        }
        Err(Refusal::unsupported(
            format!("{field}.fileData"),
            format!(
                "only images by http(s) URL can be sent to a {} upstream; give other files inline",
                self.upstream.title()
            ),
        ))
    }
}

/// The intermediate form as a Gemini request body (the model and streaming go in the path: see
/// [`super::gemini_path`]).
///
/// System text and system turns become `systemInstruction`; assistant turns `model` contents
/// whose first call carries the Gemini signature the client gave back (in a thinking block's
/// signature), else the documented placeholder; tool results `functionResponse` parts (named after
/// their call) first in their user content. Other APIs' thinking is dropped. Tools go as
/// `parametersJsonSchema`; a reasoning effort or budget becomes `thinkingConfig` (a
/// `thinkingLevel` for Gemini 3 models, a `thinkingBudget` for older ones).
pub(crate) fn write_request(
    request: Request<'_>,
    target: &Target<'_>,
    mut out: JsonWriter,
) -> Result<Written, Refusal> {
    let mut renamed = Renamed::default();
    let mut names: HashMap<String, String> = HashMap::new();
    let mut system = request.system;
    // Gemini wants every result of a turn's calls in the one content after it.
    let mut contents = MergedTurns::new("parts");
    out.open_object();
    out.key("contents").map_err(unwritable)?;
    out.open_array();
    for turn in request.turns {
        let turn = turn?;
        match turn.role {
            Role::System => {
                let texts = turn.parts.into_iter().filter_map(|p| match p {
                    Part::Text(text) => Some(text),
                    _ => None,
                });
                system.push(joined(texts.collect()));
                continue;
            }
            Role::User => user_parts(turn.parts, &names, &mut contents, &mut out),
            Role::Assistant => model_parts(
                turn.parts,
                &mut renamed,
                &mut names,
                &mut contents,
                &mut out,
            ),
        }
        .map_err(unwritable)?;
    }
    contents.flush(&mut out).map_err(unwritable)?;
    out.close();
    if !system.is_empty() {
        out.key("systemInstruction").map_err(unwritable)?;
        out.open_object();
        out.key("parts").map_err(unwritable)?;
        out.open_array();
        out.open_object();
        out.key("text").map_err(unwritable)?;
        out.value_with(|buf| write_joined(system.iter(), buf))
            .map_err(unwritable)?;
        out.close();
        out.close();
        out.close();
    }
    let has_tools = !request.tools.is_empty();
    if has_tools {
        write_tools(request.tools, &mut renamed, &mut out).map_err(unwritable)?;
    }
    if let Some(choice) = request.tool_choice {
        let none = matches!(choice, ToolChoice::None);
        let config = match choice {
            ToolChoice::Auto => out! {"mode" => "AUTO"},
            ToolChoice::Any => out! {"mode" => "ANY"},
            ToolChoice::None => out! {"mode" => "NONE"},
            ToolChoice::Tool(name) => out! {
                "mode" => "ANY",
                "allowedFunctionNames" => Out::Array(vec![renamed.name(name, false).into()]),
            },
        };
        if has_tools || none {
            out.member("toolConfig", &out! {"functionCallingConfig" => config})
                .map_err(unwritable)?;
        }
    }
    let mut config: Vec<(&'static str, Out)> = Vec::new();
    if let Some(t) = request.temperature {
        config.push(("temperature", t.into()));
    }
    if let Some(p) = request.top_p {
        config.push(("topP", p.into()));
    }
    if let Some(k) = request.top_k {
        config.push(("topK", k.into()));
    }
    if let Some(max) = request.max_tokens {
        config.push(("maxOutputTokens", target.max_tokens(max)));
    }
    if let Some(stop) = request.stop {
        config.push((
            "stopSequences",
            Out::Array(stop.into_iter().map(Out::Str).collect()),
        ));
    }
    if let Some(format) = request.format {
        config.push(("responseMimeType", "application/json".into()));
        if let FormatKind::JsonSchema { schema, .. } = format.kind {
            config.push(("responseJsonSchema", schema.into()));
        }
    }
    if let Some(thinking) = thinking_config(request.reasoning, target.model) {
        config.push(("thinkingConfig", thinking));
    }
    if !config.is_empty() {
        out.member("generationConfig", &Out::Object(config))
            .map_err(unwritable)?;
    }
    Ok(Written {
        body: out.finish(),
        tool_names: renamed.0,
    })
}

/// `thinkingConfig` for a reasoning effort or budget: Gemini 3 models take a level, older ones a
/// budget of tokens. No thinking asked for, or none wanted of a model that always thinks: none.
fn thinking_config(reasoning: Reasoning, model: &str) -> Option<Out<'static>> {
    let level_model = model.contains("gemini-3");
    let budget = reasoning
        .budget
        .or_else(|| reasoning.effort.and_then(Effort::budget))?;
    let setting = if level_model {
        let level = if budget <= 4096 { "LOW" } else { "HIGH" };
        ("thinkingLevel", Out::from(level))
    } else {
        ("thinkingBudget", Out::U64(budget))
    };
    Some(Out::Object(vec![("includeThoughts", true.into()), setting]))
}

/// `tools` as one Gemini tool of function declarations, their schemas passed on as the client
/// wrote them.
fn write_tools(
    tools: Vec<Tool<'_>>,
    renamed: &mut Renamed,
    out: &mut JsonWriter,
) -> serde_json::Result<()> {
    out.key("tools")?;
    out.open_array();
    out.open_object();
    out.key("functionDeclarations")?;
    out.open_array();
    for tool in tools {
        let custom = tool.custom.is_some();
        out.open_object();
        out.member("name", &renamed.name(tool.name, custom).into())?;
        if let Some(description) = tool.description {
            out.member("description", &description.into())?;
        }
        match (tool.custom, tool.schema) {
            (Some(format), _) => out.member(
                "parametersJsonSchema",
                &Out::Value(Tool::custom_schema(format)),
            )?,
            (None, Some(schema)) => out.member("parametersJsonSchema", &schema.into())?,
            (None, None) => {}
        }
        out.close();
    }
    out.close();
    out.close();
    out.close();
    Ok(())
}

/// An assistant turn's parts: texts and calls. A Gemini signature the client gave back (in a
/// thinking block) goes on the next call, or on the next text when no call follows it; the first
/// call of a turn without one gets the placeholder.
fn model_parts<'a>(
    parts: Vec<Part<'a>>,
    renamed: &mut Renamed,
    names: &mut HashMap<String, String>,
    contents: &mut MergedTurns,
    out: &mut JsonWriter,
) -> serde_json::Result<()> {
    // Where the signatures go (by the index of the part that carries one), found first: a text
    // takes one only when no call follows it.
    let mut signed: Vec<(usize, Cow<'static, str>)> = Vec::new();
    let mut signature: Option<String> = None;
    // The text after the signature, which takes it if no call does.
    let mut text_after: Option<usize> = None;
    let mut first_call = true;
    for (i, part) in parts.iter().enumerate() {
        match part {
            Part::Thinking {
                signature: Some(s), ..
            } => {
                if let Some(s) = gemini_signature(s) {
                    signature = Some(s.to_string());
                    text_after = None;
                }
            }
            Part::Text(text) if !text.is_empty() && signature.is_some() && text_after.is_none() => {
                text_after = Some(i);
            }
            Part::ToolCall(_) => {
                match signature.take() {
                    Some(s) => signed.push((i, Cow::Owned(s))),
                    None if first_call => signed.push((i, Cow::Borrowed(SKIP_SIGNATURE))),
                    None => {}
                }
                text_after = None;
                first_call = false;
            }
            _ => {}
        }
    }
    if let (Some(s), Some(at)) = (signature, text_after) {
        signed.push((at, Cow::Owned(s)));
    }
    for (i, part) in parts.into_iter().enumerate() {
        let w = match &part {
            Part::Text(text) if !text.is_empty() => contents.part("model", false, out)?,
            Part::ToolCall(_) => contents.part("model", false, out)?,
            _ => continue,
        };
        w.open_object();
        match part {
            Part::Text(text) => w.member("text", &text.into())?,
            Part::ToolCall(call) => {
                let name = renamed.name(call.name, false);
                names.insert(call.id.to_string(), name.to_string());
                w.key("functionCall")?;
                w.open_object();
                w.member("id", &call.id.into())?;
                w.member("name", &name.into())?;
                w.member("args", &args_out(call.input))?;
                w.close();
            }
            _ => {}
        }
        if let Some((_, s)) = signed.iter().find(|(at, _)| *at == i) {
            w.member("thoughtSignature", &s.as_ref().into())?;
        }
        w.close();
    }
    Ok(())
}

/// A user turn's parts: tool results as `functionResponse` parts, and the rest (the results'
/// images among them).
fn user_parts(
    parts: Vec<Part<'_>>,
    names: &HashMap<String, String>,
    contents: &mut MergedTurns,
    out: &mut JsonWriter,
) -> serde_json::Result<()> {
    for part in parts {
        let result = match part {
            Part::ToolResult(result) => result,
            other => {
                if is_content(&other) {
                    content_part(other, contents.part("user", false, out)?)?;
                }
                continue;
            }
        };
        let mut texts = Vec::new();
        for inner in result.content {
            match inner {
                Part::Text(text) | Part::Document(Document::Text(text)) => texts.push(text),
                other if is_content(&other) => {
                    content_part(other, contents.part("user", false, out)?)?
                }
                _ => {}
            }
        }
        let name: Cow<str> = match names.get(result.id.as_ref()) {
            Some(name) => Cow::Borrowed(name),
            None => {
                log::debug!(
                    "a tool result for call `{}`, which the conversation does not hold",
                    result.id
                );
                result.id.clone()
            }
        };
        let w = contents.part("user", true, out)?;
        w.open_object();
        w.key("functionResponse")?;
        w.open_object();
        w.member("id", &result.id.into())?;
        w.member("name", &name.into())?;
        w.key("response")?;
        w.open_object();
        w.key(if result.is_error { "error" } else { "output" })?;
        w.value_with(|buf| write_joined(texts.iter(), buf))?;
        w.close();
        w.close();
        w.close();
    }
    Ok(())
}

/// Whether [`content_part`] writes anything for `part`.
fn is_content(part: &Part<'_>) -> bool {
    match part {
        Part::Text(text) | Part::Document(Document::Text(text)) => !text.is_empty(),
        Part::Image(_) | Part::Document(Document::Base64 { .. }) => true,
        _ => false,
    }
}

/// A user's text, image or document as a Gemini part (see [`is_content`]).
fn content_part(part: Part<'_>, w: &mut JsonWriter) -> serde_json::Result<()> {
    w.open_object();
    match part {
        Part::Text(text) | Part::Document(Document::Text(text)) => {
            w.member("text", &text.into())?
        }
        Part::Image(Image::Base64 { media_type, data })
        | Part::Document(Document::Base64 {
            media_type, data, ..
        }) => {
            w.key("inlineData")?;
            w.open_object();
            w.member("mimeType", &media_type.into())?;
            w.member("data", &data.into())?;
            w.close();
        }
        Part::Image(Image::Url(url)) => {
            w.key("fileData")?;
            w.open_object();
            w.member("mimeType", &image_type_of(&url).into())?;
            w.member("fileUri", &url.into())?;
            w.close();
        }
        _ => {}
    }
    w.close();
    Ok(())
}

/// The media type an image URL's extension names (`image/jpeg` when it names none).
fn image_type_of(url: &str) -> &'static str {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("heic") => "image/heic",
        _ => "image/jpeg",
    }
}
