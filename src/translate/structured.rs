//! Structured output for an upstream with no JSON-schema setting of its own (Anthropic Messages):
//! the client's schema becomes one tool the model must call, and the answer gives that call's
//! input back as the assistant's text, with the stop reason of a finished turn, never as a call.
//!
//! The request side is [`AnswerTool`], which an upstream's writer adds to the tools it sends; the
//! exchange remembers it as a [`ToolName`] with `answer` set. The answer side sits in the hub,
//! between any upstream's reader and any client's writer: [`answer_as_text`] for a whole answer,
//! [`AnswerText`] for a stream, where the call's argument fragments become text as they arrive.
//! A format's `strict` is not sent on: Anthropic's strict tool use needs a beta header the client
//! did not ask for.

use super::ir::{answer_tool, Answer, Event, FormatKind, OutputFormat, Part, StopReason, Tool};
use super::lazy::Json;
use super::{Api, Refusal, ToolName};
use std::borrow::Cow;

/// The longest tool name Anthropic takes (`^[a-zA-Z0-9_-]{1,64}$`), as OpenAI's format names are.
const NAME_LIMIT: usize = 64;

/// The tool's name for a format whose name has no character a tool name may hold.
const FALLBACK_NAME: &str = "answer";

/// What the model reads about the tool.
const DESCRIPTION: &str = "Give your answer by calling this tool: its input is the answer, as JSON that follows the schema. Do not answer in text.";

/// The tool that carries a structured output: the model must call it, and its input is the answer.
#[derive(Debug)]
pub(crate) struct AnswerTool<'a> {
    /// The format's name, made a valid tool name unlike any of the client's tools.
    pub name: String,
    pub description: Cow<'a, str>,
    /// The format's schema, passed on as the client wrote it.
    pub schema: Json<'a>,
}

impl<'a> AnswerTool<'a> {
    /// The tool for a JSON-schema format beside the client's `tools`. Refused: any JSON without a
    /// schema (`json_object`), which no tool can ask for, and a schema whose root is not an object,
    /// which no tool input can be.
    pub fn of(
        format: OutputFormat<'a>,
        tools: &[Tool<'_>],
        upstream: Api,
    ) -> Result<AnswerTool<'a>, Refusal> {
        let (name, schema, description) = match format.kind {
            FormatKind::JsonSchema {
                name,
                schema,
                strict: _,
                description,
            } => (name, schema, description),
            FormatKind::JsonObject => {
                return Err(Refusal::unsupported(
                    format.field,
                    format!(
                        "`json_object` has no {} equivalent; describe the format in the prompt or use a tool",
                        upstream.title()
                    ),
                ))
            }
        };
        if schema.get("type").as_str().as_deref() != Some("object") {
            return Err(Refusal::unsupported(
                format.field,
                format!(
                    "a {} upstream takes only a schema whose root is `\"type\": \"object\"` (it becomes a tool's input)",
                    upstream.title()
                ),
            ));
        }
        let description = match description {
            Some(d) if !d.is_empty() => Cow::Owned(format!("{DESCRIPTION}\n\n{d}")),
            _ => Cow::Borrowed(DESCRIPTION),
        };
        Ok(AnswerTool {
            name: tool_name(&name, tools),
            description,
            schema,
        })
    }

    /// How the exchange remembers the tool, so its call comes back as text.
    pub fn tool_name(&self) -> ToolName {
        ToolName {
            upstream: self.name.clone(),
            client: self.name.clone(),
            custom: false,
            answer: true,
        }
    }
}

/// A valid tool name for the format `name`, unlike the names of `tools`: `name` with other
/// characters as `_`, then `name_2`, `name_3` … while a client's tool has it.
fn tool_name(name: &str, tools: &[Tool<'_>]) -> String {
    let mut base: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(NAME_LIMIT)
        .collect();
    if base.is_empty() {
        base = FALLBACK_NAME.to_string();
    }
    let taken = |candidate: &str| tools.iter().any(|t| t.name == candidate);
    let mut candidate = base.clone();
    let mut n = 1;
    while taken(&candidate) {
        n += 1;
        let suffix = format!("_{n}");
        let head: String = base.chars().take(NAME_LIMIT - suffix.len()).collect();
        candidate = format!("{head}{suffix}");
    }
    candidate
}

/// A whole answer with the answer tool's calls as text (their input as compact JSON), stopped as a
/// finished turn unless it calls one of the client's tools too.
pub(crate) fn answer_as_text<'a>(answer: Answer<'a>, tool_names: &[ToolName]) -> Answer<'a> {
    let Some(tool) = answer_tool(tool_names) else {
        return answer;
    };
    let mut answered = false;
    let parts: Vec<Part<'a>> = answer
        .parts
        .into_iter()
        .map(|part| match part {
            Part::ToolCall(call) if call.name == tool => {
                answered = true;
                Part::Text(call.input.into_json().into())
            }
            part => part,
        })
        .collect();
    let other_calls = parts.iter().any(|p| matches!(p, Part::ToolCall(_)));
    let stop = match answer.stop {
        StopReason::ToolUse if answered && !other_calls => StopReason::EndTurn,
        stop => stop,
    };
    Answer {
        parts,
        stop,
        ..answer
    }
}

/// Gives a stream's answer-tool calls to the client's writer as text: the call's start and each
/// argument fragment become text events as they arrive (an input that never came is `{}`), and
/// the stop for tool use becomes a finished turn unless a client's tool was called too. Without
/// an answer tool, events pass unchanged.
#[derive(Debug, Default)]
pub(crate) struct AnswerText {
    tool: Option<String>,
    /// The indices of the answer tool's calls so far.
    calls: Vec<usize>,
    /// The answer call in progress, and whether any of its text was given yet.
    open: Option<(usize, bool)>,
    /// A client's tool was called.
    other_calls: bool,
}

impl AnswerText {
    /// The filter for an exchange that knows these tools.
    pub fn new(tool_names: &[ToolName]) -> Self {
        AnswerText {
            tool: answer_tool(tool_names).map(str::to_string),
            ..AnswerText::default()
        }
    }

    /// Hands `event` on, changed if it belongs to the answer tool.
    pub fn pass(&mut self, event: Event<'_>, emit: &mut dyn FnMut(Event<'_>)) {
        let Some(tool) = self.tool.as_deref() else {
            return emit(event);
        };
        let answer_call = matches!(&event, Event::ToolCall { name, .. } if name == tool);
        match event {
            Event::ToolCall {
                index, arguments, ..
            } if answer_call => {
                self.close(emit);
                self.calls.push(index);
                self.open = Some((index, !arguments.is_empty()));
                if !arguments.is_empty() {
                    emit(Event::Text(arguments));
                }
            }
            Event::ToolArguments { index, text } if self.calls.contains(&index) => {
                if text.is_empty() {
                    return;
                }
                if let Some((open, given)) = &mut self.open {
                    *given |= *open == index;
                }
                emit(Event::Text(text));
            }
            Event::ToolCall { .. } => {
                self.close(emit);
                self.other_calls = true;
                emit(event);
            }
            Event::Stop(StopReason::ToolUse) if !self.calls.is_empty() && !self.other_calls => {
                self.close(emit);
                emit(Event::Stop(StopReason::EndTurn));
            }
            Event::BlockStop | Event::Stop(_) | Event::End { .. } => {
                self.close(emit);
                emit(event);
            }
            event => emit(event),
        }
    }

    /// Ends the answer call in progress; one that gave no text gives the empty input, `{}`.
    fn close(&mut self, emit: &mut dyn FnMut(Event<'_>)) {
        if let Some((_, false)) = self.open.take() {
            emit(Event::Text(Cow::Borrowed("{}")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::ir::{Input, ToolCall};
    use crate::translate::Tokens;

    fn names() -> Vec<ToolName> {
        vec![ToolName {
            upstream: "colours".into(),
            client: "colours".into(),
            custom: false,
            answer: true,
        }]
    }

    fn tool(name: &str) -> Tool<'_> {
        Tool {
            name: Cow::Borrowed(name),
            description: None,
            schema: None,
            custom: None,
            cache: None,
        }
    }

    /// What the filter hands on for `events`, written as short words.
    fn filtered(events: Vec<Event<'static>>) -> Vec<String> {
        let mut filter = AnswerText::new(&names());
        let mut seen = Vec::new();
        for event in events {
            filter.pass(event, &mut |e| {
                seen.push(match e {
                    Event::Text(t) => format!("text {t}"),
                    Event::ToolCall { name, .. } => format!("call {name}"),
                    Event::ToolArguments { text, .. } => format!("args {text}"),
                    Event::BlockStop => "stop block".into(),
                    Event::Stop(s) => format!("stop {s:?}"),
                    other => format!("{other:?}"),
                })
            });
        }
        seen
    }

    fn call(index: usize, name: &'static str, arguments: &'static str) -> Event<'static> {
        Event::ToolCall {
            index,
            id: Cow::Borrowed("toolu_1"),
            name: Cow::Borrowed(name),
            arguments: Cow::Borrowed(arguments),
        }
    }

    fn args(index: usize, text: &'static str) -> Event<'static> {
        Event::ToolArguments {
            index,
            text: Cow::Borrowed(text),
        }
    }

    #[test]
    fn the_answer_tools_fragments_become_text_as_they_arrive_and_the_turn_ends_as_a_stop() {
        let seen = filtered(vec![
            call(0, "colours", ""),
            args(0, "{\"c\":"),
            args(0, ""),
            args(0, "[1]}"),
            Event::BlockStop,
            Event::Stop(StopReason::ToolUse),
        ]);
        assert_eq!(
            seen,
            ["text {\"c\":", "text [1]}", "stop block", "stop EndTurn"]
        );
    }

    #[test]
    fn an_answer_call_without_input_gives_an_empty_object() {
        let seen = filtered(vec![call(0, "colours", ""), Event::BlockStop]);
        assert_eq!(seen, ["text {}", "stop block"]);
        let seen = filtered(vec![call(0, "colours", "{\"a\":1}"), Event::BlockStop]);
        assert_eq!(seen, ["text {\"a\":1}", "stop block"]);
    }

    #[test]
    fn a_call_of_a_clients_tool_stays_a_call_and_keeps_the_tool_use_stop() {
        let seen = filtered(vec![
            call(0, "get_weather", ""),
            args(0, "{}"),
            Event::BlockStop,
            call(1, "colours", "{}"),
            Event::BlockStop,
            Event::Stop(StopReason::ToolUse),
        ]);
        assert_eq!(
            seen,
            [
                "call get_weather",
                "args {}",
                "stop block",
                "text {}",
                "stop block",
                "stop ToolUse"
            ]
        );
    }

    #[test]
    fn without_an_answer_tool_every_event_passes_unchanged() {
        let mut filter = AnswerText::new(&[]);
        let mut seen = 0;
        filter.pass(call(0, "colours", ""), &mut |e| {
            assert!(matches!(e, Event::ToolCall { .. }));
            seen += 1;
        });
        filter.pass(Event::Stop(StopReason::ToolUse), &mut |e| {
            assert!(matches!(e, Event::Stop(StopReason::ToolUse)));
            seen += 1;
        });
        assert_eq!(seen, 2);
    }

    #[test]
    fn a_whole_answers_answer_call_is_its_text() {
        let input = Json::parse(br#"{"colours": ["red"]}"#).unwrap();
        let answer = Answer {
            id: None,
            parts: vec![Part::ToolCall(ToolCall {
                id: Cow::Borrowed("toolu_1"),
                name: Cow::Borrowed("colours"),
                input: Input::Json(input),
            })],
            stop: StopReason::ToolUse,
            usage: Tokens::default(),
        };
        let answer = answer_as_text(answer, &names());
        assert!(
            matches!(&answer.parts[..], [Part::Text(t)] if t == r#"{"colours":["red"]}"#),
            "{answer:?}"
        );
        assert_eq!(answer.stop, StopReason::EndTurn);
    }

    #[test]
    fn the_tool_is_named_for_the_format_and_never_like_a_clients_tool() {
        assert_eq!(tool_name("colours", &[]), "colours");
        assert_eq!(tool_name("my format.v1", &[]), "my_format_v1");
        assert_eq!(tool_name("", &[]), "answer");
        let tools = [tool("colours"), tool("colours_2")];
        assert_eq!(tool_name("colours", &tools), "colours_3");
        let long = "x".repeat(80);
        assert_eq!(tool_name(&long, &[]).len(), NAME_LIMIT);
        let tools = [tool(&long[..NAME_LIMIT])];
        let renamed = tool_name(&long, &tools);
        assert_eq!(renamed.len(), NAME_LIMIT);
        assert!(renamed.ends_with("_2"));
    }
}
