//! Server-sent events as the translators read and write them: the gateway's one SSE parser and
//! writers live in [`crate::wire::sse`]; the translators' own writers append an event built as
//! an [`Out`] straight to the client's bytes, with no JSON tree made or text formatted first.

pub use crate::wire::sse::*;

use super::lazy::Out;

/// Appends `event: NAME` and `data` as one event.
pub fn write_named_event(out: &mut Vec<u8>, name: &str, data: &Out<'_>) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.push(b'\n');
    write_data_event(out, data);
}

/// Appends an OpenAI event: one `data:` line.
pub fn write_data_event(out: &mut Vec<u8>, data: &Out<'_>) {
    out.extend_from_slice(b"data: ");
    // Writing into a `Vec` cannot fail: an `Out` holds no value that does not serialize.
    let _ = data.write_to(out);
    out.extend_from_slice(b"\n\n");
}
