//! What each API's bytes look like, written down once: the SSE framing ([`sse`]) and every error
//! body and error event ([`errors`]). The gateway's own errors, translation and the relay all use
//! these; nothing else writes an API's error envelope or parses an event stream.

pub mod errors;
pub mod sse;
