//! Server-sent events as the translators read and write them: the gateway's one SSE parser and
//! writers live in [`crate::wire::sse`].

pub use crate::wire::sse::*;
