//! What each API's bytes look like, written down once: the SSE framing ([`sse`]), every error
//! body and error event ([`errors`]), what a stream's events mean to the relay ([`events`]), and
//! the usage fields of the four APIs read into one model of tokens ([`usage`]). The gateway's own
//! errors, translation, the relay and the usage meter all use these; nothing else writes an API's
//! error envelope, parses an event stream or reads a usage field.

pub mod errors;
pub mod events;
pub mod sse;
pub mod usage;

use serde::{Deserialize, Serialize};

/// The API an endpoint's upstream speaks, or a client calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    /// Anthropic Messages (`POST /v1/messages`).
    #[default]
    Anthropic,
    /// OpenAI Chat Completions (`POST /chat/completions` under the SDK's base URL).
    #[serde(rename = "openai")]
    OpenAi,
    /// OpenAI Responses (`POST /responses` under the SDK's base URL).
    Responses,
    /// Google Gemini (`POST /v1beta/models/{model}:generateContent`, or
    /// `:streamGenerateContent?alt=sse`): the model and streaming live in the path, not the body.
    Gemini,
}

impl Api {
    /// The path appended to an endpoint's `base_url` for a generation request in this API.
    pub fn generation_path(self) -> &'static str {
        match self {
            Api::Anthropic => "/v1/messages",
            Api::OpenAi => "/chat/completions",
            Api::Responses => "/responses",
            // A placeholder: a Gemini path names the model and whether it streams
            // (`translate::gemini_path`).
            Api::Gemini => "/v1beta/models",
        }
    }

    /// The API's name in a sentence ("… cannot be sent to a Messages upstream").
    pub fn title(self) -> &'static str {
        match self {
            Api::Anthropic => "Messages",
            Api::OpenAi => "Chat Completions",
            Api::Responses => "Responses",
            Api::Gemini => "Gemini",
        }
    }
}

impl crate::words::Words for Api {
    // Gemini first: a config error lists `gemini, anthropic, openai or responses`, and the
    // older three keep the order they were always listed in.
    const ALL: &'static [(Self, &'static str)] = &[
        (Api::Anthropic, "anthropic"),
        (Api::OpenAi, "openai"),
        (Api::Responses, "responses"),
        (Api::Gemini, "gemini"),
    ];
}

impl std::fmt::Display for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Api::Anthropic => "anthropic",
            Api::OpenAi => "openai",
            Api::Responses => "responses",
            Api::Gemini => "gemini",
        })
    }
}
