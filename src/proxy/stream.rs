//! The answer's body on its way back: forwarded chunk by chunk as it arrives, with an idle timeout
//! between chunks and no total timeout. When it ends, the endpoint's actor learns how it went.

use super::finish::{End, Finish};
use super::in_stream::ErrorWatch;
use super::report::Ending;
use super::stage::{BodyStage, Stages};
use crate::edge::call::StreamEnd;
use crate::translate::Api;
use crate::upstream::outcome::{TransportError, UpstreamError};
use crate::upstream::redact::Redactor;
use bytes::Bytes;
use futures_util::Stream;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// What the relayed body is, which decides how a failure is shown and how a complete body is told
/// from a cut one. (awc reports a connection closed between two chunks as a clean end, so the
/// relay checks the length, or the API's final SSE event, itself.)
#[derive(Debug, Clone, Copy)]
pub enum StreamKind {
    /// Not SSE: on failure the connection is cut, so the client sees a truncated body.
    Plain { length: Option<u64> },
    /// SSE: on failure a final error event in the API's shape, then a clean end. `end` says how
    /// a complete stream of the API ends, when the API is known.
    Sse { client: Api, end: Option<StreamEnd> },
}

/// How many trailing bytes are kept to look for the final event.
const TAIL: usize = 64;

/// The tail before any byte came: as if after an event, with room for a chunk's last `TAIL`
/// bytes beside it, so it never grows.
fn tail_start() -> Vec<u8> {
    let mut tail = Vec::with_capacity(2 * TAIL);
    tail.extend_from_slice(b"\n\n");
    tail
}

/// Whether `chunk`, or the join of the bytes before it (`tail`) and its start, holds one of
/// `names`.
fn names_one(names: &[&[u8]], tail: &[u8], chunk: &[u8]) -> bool {
    names.iter().any(|name| {
        if memchr::memmem::find(chunk, name).is_some() {
            return true;
        }
        // A name cut in two by the chunk boundary (names are short: the join sits on the stack).
        let reach = (name.len() - 1).min(TAIL);
        let before = &tail[tail.len().saturating_sub(reach)..];
        let after = &chunk[..chunk.len().min(reach)];
        let mut join = [0u8; 2 * TAIL];
        join[..before.len()].copy_from_slice(before);
        join[before.len()..before.len() + after.len()].copy_from_slice(after);
        memchr::memmem::find(&join[..before.len() + after.len()], name).is_some()
    })
}

/// Whether the bytes so far end after a whole event (a blank line).
fn ends_an_event(tail: &[u8]) -> bool {
    tail.ends_with(b"\n\n") || tail.ends_with(b"\r\n\r\n") || tail.ends_with(b"\r\r")
}

/// The upstream's body, relayed.
pub struct RelayBody<S> {
    upstream: S,
    kind: StreamKind,
    idle: Duration,
    /// Made the first time the upstream keeps the relay waiting: a body that is whole when its
    /// head comes (most small answers) never needs one.
    idle_timer: Option<Pin<Box<Sleep>>>,
    last_chunk: Instant,
    /// The request's end, settled when the body ends (or, dropped, as the client's leaving).
    end: Option<Box<Finish>>,
    /// The last bytes relayed (SSE only: a plain body is judged by its length).
    tail: Vec<u8>,
    /// An event that ends the stream was seen ([`StreamEnd::Named`]).
    saw_end_event: bool,
    relayed: u64,
    pending: Option<Bytes>,
    /// Bytes read before the relay began (a held stream start): relayed first, as a chunk.
    first: Option<Bytes>,
    /// Reads the upstream's bytes for an error it reports inside the stream.
    watch: Option<ErrorWatch>,
    done: bool,
    /// The upstream body has ended and only the stages' held-back bytes were still to go.
    upstream_ended: bool,
    /// What the bytes pass through on their way (a translator, the key redactor).
    stages: Stages,
    /// A stage found the body incomplete and already wrote the client's error event.
    stage_cut: Option<String>,
    /// The access-log outcome of a body that ends well.
    ok_outcome: Ending,
    /// The error that cuts a plain body, given after one pass without it (see `poll_next`).
    cut: Option<actix_web::Error>,
}

impl<S> RelayBody<S> {
    pub fn new(upstream: S, kind: StreamKind, idle: Duration, end: Box<Finish>) -> Self {
        let now = Instant::now();
        RelayBody {
            upstream,
            kind,
            idle,
            idle_timer: None,
            last_chunk: now,
            end: Some(end),
            saw_end_event: false,
            tail: match kind {
                StreamKind::Sse { .. } => tail_start(),
                StreamKind::Plain { .. } => Vec::new(),
            },
            relayed: 0,
            pending: None,
            first: None,
            watch: None,
            done: false,
            upstream_ended: false,
            stages: Stages::default(),
            stage_cut: None,
            ok_outcome: Ending::Ok,
            cut: None,
        }
    }

    /// Relays `held` (the upstream bytes read while the stream's start was held) before the rest
    /// of the body, in the first write after the head.
    pub fn starting_with(mut self, held: Bytes) -> Self {
        self.first = Some(held).filter(|held| !held.is_empty());
        self
    }

    /// Reads the upstream's bytes, events of `api`, for an error it reports inside the stream: the
    /// endpoint is then charged with that error, and the client's stream ends with it alone.
    pub fn watching(mut self, api: Option<Api>) -> Self {
        self.watch = api.map(ErrorWatch::new);
        self
    }

    /// Passes every chunk, last, through `redactor` (any answer may echo the endpoint's key).
    pub fn redacting(mut self, redactor: Option<Redactor>) -> Self {
        self.stages = std::mem::take(&mut self.stages).redacting(redactor);
        self
    }

    /// Passes every chunk through `stages` (in place of any set before).
    pub fn through(mut self, stages: Stages) -> Self {
        self.stages = stages;
        self
    }

    /// Passes every chunk through `stage`, after the stages added before it.
    pub fn staged(mut self, stage: Option<Box<dyn BodyStage>>) -> Self {
        self.stages = std::mem::take(&mut self.stages).then(stage);
        self
    }

    /// The access-log outcome when the body ends well (default `ok`).
    pub fn ok_outcome(mut self, outcome: Ending) -> Self {
        self.ok_outcome = outcome;
        self
    }

    /// The end of the upstream body: a clean end, or a failure if it was cut short.
    fn end(&mut self) -> Option<Result<Bytes, actix_web::Error>> {
        if self.finish_reported() {
            return None;
        }
        if let Some(reason) = self.stage_cut.take() {
            // The stage already told the client; only the attempt and the log remain.
            let failure = UpstreamError::Transport(TransportError::TranslationCut(reason.clone()));
            self.done = true;
            if let Some(end) = self.end.take() {
                end.finish(End::broken(failure, &reason));
            }
            return None;
        }
        match self.cut_short() {
            Some(error) => self.finish_failed(error),
            None => {
                self.finish_ok();
                None
            }
        }
    }

    /// The upstream body is over (or no longer read): the stages' last bytes go out after
    /// `before`, then the end.
    fn end_stages(&mut self, before: Bytes) -> Option<Result<Bytes, actix_web::Error>> {
        let held = self.stages.finish();
        self.stage_cut = held.cut;
        let bytes = if before.is_empty() {
            held.bytes
        } else {
            let mut joined = before.to_vec();
            joined.extend_from_slice(&held.bytes);
            Bytes::from(joined)
        };
        if bytes.is_empty() {
            return self.end();
        }
        self.upstream_ended = true;
        Some(Ok(bytes))
    }

    /// Why a body that ended is incomplete, if it is.
    fn cut_short(&self) -> Option<TransportError> {
        match self.kind {
            StreamKind::Plain {
                length: Some(length),
            } if self.relayed < length => Some(TransportError::CutShort {
                received: self.relayed,
                length,
            }),
            StreamKind::Sse {
                end: Some(StreamEnd::Last(marker)),
                ..
            } if !self.tail.windows(marker.len()).any(|w| w == marker) => {
                Some(TransportError::StreamUnfinished)
            }
            StreamKind::Sse {
                end: Some(StreamEnd::Named(_)),
                ..
            } if !(self.saw_end_event && ends_an_event(&self.tail)) => {
                Some(TransportError::StreamUnfinished)
            }
            _ => None,
        }
    }

    /// Ends the relay as the error the upstream reported inside the stream says, when it
    /// reported one: the client already has it (as it came, or translated). `false` when it
    /// reported none.
    fn finish_reported(&mut self) -> bool {
        let Some(watch) = &self.watch else {
            return false;
        };
        let Some(error) = watch.error() else {
            return false;
        };
        let word = error.word.clone();
        let failure = watch.failure();
        self.done = true;
        self.stage_cut = None;
        if let Some(end) = self.end.take() {
            match failure {
                Some(failure) => {
                    let detail = failure.to_string();
                    end.finish(End::broken(failure, &detail));
                }
                // The request's own error (an invalid request): the endpoint did its part.
                None => end.finish(
                    End::with(Ending::UpstreamError).detail(&format!("{word} event in the stream")),
                ),
            }
        }
        true
    }

    fn finish_ok(&mut self) {
        self.done = true;
        if let Some(end) = self.end.take() {
            end.finish(End::with(self.ok_outcome));
        }
    }

    /// Ends the relay after an upstream failure; returns what the client gets last.
    fn finish_failed(
        &mut self,
        failure: TransportError,
    ) -> Option<Result<Bytes, actix_web::Error>> {
        if self.finish_reported() {
            // The upstream's error event was the client's last.
            return None;
        }
        self.done = true;
        let error = failure.to_string();
        let failure = UpstreamError::Transport(failure);
        if let Some(end) = self.end.take() {
            end.finish(End::broken(failure, &error));
        }
        match self.kind {
            StreamKind::Plain { .. } => Some(Err(actix_web::error::ErrorBadGateway(error))),
            StreamKind::Sse { client, .. } => {
                // Close a half-sent event first so the error event stands on its own.
                let separator = if self.tail.ends_with(b"\n\n") {
                    ""
                } else if self.tail.ends_with(b"\n") {
                    "\n"
                } else {
                    "\n\n"
                };
                let event = sse_error_event(
                    client,
                    &format!("switchyard: upstream stream failed: {error}"),
                );
                let mut last = Vec::with_capacity(separator.len() + event.len());
                last.extend_from_slice(separator.as_bytes());
                last.extend_from_slice(&event);
                Some(Ok(Bytes::from(last)))
            }
        }
    }
}

/// What of an upstream body had come when its head was read.
#[derive(Debug, PartialEq)]
pub enum InHand {
    /// The whole body (its length, when the upstream gave one, checked).
    Whole(Bytes),
    /// What had come (perhaps nothing), and how the body ended when it did (short of its
    /// length, or failed). A body still coming is relayed on from there
    /// ([`RelayBody::starting_with`]).
    Part {
        bytes: Bytes,
        ended: Option<Result<(), TransportError>>,
    },
}

/// Takes what `upstream` holds without waiting for more, up to `limit` bytes: a small answer
/// usually comes whole with its head, and then goes to the client in one piece with its length.
/// Polled with a waker that does nothing: the relay that goes on after a `Part` polls again with
/// the task's own before it waits.
pub fn in_hand<S, E>(upstream: &mut S, length: Option<u64>, limit: usize) -> InHand
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    let mut first = Bytes::new();
    let mut more: Option<bytes::BytesMut> = None;
    let ended = loop {
        let had = first.len() + more.as_ref().map_or(0, |more| more.len());
        if had > limit {
            break None;
        }
        match Pin::new(&mut *upstream).poll_next(&mut cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if first.is_empty() && more.is_none() {
                    first = chunk;
                } else {
                    let joined = more.get_or_insert_with(|| bytes::BytesMut::from(&first[..]));
                    joined.extend_from_slice(&chunk);
                }
            }
            Poll::Ready(Some(Err(e))) => break Some(Err(TransportError::Reset(e.to_string()))),
            Poll::Ready(None) => break Some(Ok(())),
            Poll::Pending => break None,
        }
    };
    let bytes = more.map_or(first, bytes::BytesMut::freeze);
    match ended {
        Some(Ok(())) if length.map_or(true, |length| length == bytes.len() as u64) => {
            InHand::Whole(bytes)
        }
        ended => InHand::Part { bytes, ended },
    }
}

/// The SSE event a relayed stream that failed midway ends with, in the client's API.
pub fn sse_error_event(client: Api, message: &str) -> Vec<u8> {
    let words = crate::wire::errors::ErrorWords {
        anthropic_type: "api_error",
        openai_type: "server_error",
        code: "upstream_stream_error",
        message,
        status: 500,
    };
    crate::wire::errors::error_event_of(client, &words)
}

impl<S, E> Stream for RelayBody<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    type Item = Result<Bytes, actix_web::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(cut) = self.cut.take() {
            return Poll::Ready(Some(Err(cut)));
        }
        match self.as_mut().poll_relay(cx) {
            // actix drops what it has not yet written when a body fails: one pass without the
            // error lets the head and the bytes before the cut reach the client first.
            Poll::Ready(Some(Err(cut))) => {
                self.cut = Some(cut);
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            polled => polled,
        }
    }
}

impl<S, E> RelayBody<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    fn poll_relay(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, actix_web::Error>>> {
        let this = &mut *self;
        if let Some(last) = this.pending.take() {
            return Poll::Ready(Some(Ok(last)));
        }
        if this.done {
            return Poll::Ready(None);
        }
        if this.upstream_ended {
            return Poll::Ready(this.end());
        }
        loop {
            let polled = match this.first.take() {
                Some(held) => Poll::Ready(Some(Ok(held))),
                None => Pin::new(&mut this.upstream).poll_next(cx),
            };
            match polled {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.last_chunk = Instant::now();
                    if let Some(watch) = this.watch.as_mut() {
                        watch.feed(&chunk);
                    }
                    if let Some(end) = this.end.as_mut() {
                        end.relayed(&chunk);
                    }
                    this.relayed += chunk.len() as u64;
                    if let StreamKind::Sse { end, .. } = this.kind {
                        if let (Some(StreamEnd::Named(names)), false) = (end, this.saw_end_event) {
                            this.saw_end_event = names_one(names, &this.tail, &chunk);
                        }
                        let keep = chunk.len().min(TAIL);
                        this.tail.extend_from_slice(&chunk[chunk.len() - keep..]);
                        if this.tail.len() > TAIL {
                            this.tail.drain(..this.tail.len() - TAIL);
                        }
                    }
                    let out = this.stages.feed(chunk);
                    if this.stages.gave_up() {
                        // The rest cannot reach the client (an event too large to translate):
                        // end now rather than read an upstream that may never stop.
                        return Poll::Ready(this.end_stages(out));
                    }
                    // An empty chunk could read as the end of a chunked body: wait for more.
                    if out.is_empty() {
                        continue;
                    }
                    return Poll::Ready(Some(Ok(out)));
                }
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(this.finish_failed(TransportError::Reset(e.to_string())))
                }
                Poll::Ready(None) => return Poll::Ready(this.end_stages(Bytes::new())),
                Poll::Pending => {
                    // The timer is moved lazily: only when it fires do we look at when data last came.
                    let deadline = this.last_chunk + this.idle;
                    let timer = this
                        .idle_timer
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                    loop {
                        if timer.as_mut().poll(cx).is_pending() {
                            return Poll::Pending;
                        }
                        let deadline = this.last_chunk + this.idle;
                        if deadline <= Instant::now() {
                            let error = TransportError::IdleTimeout(this.idle);
                            return Poll::Ready(this.finish_failed(error));
                        }
                        timer.as_mut().reset(deadline);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{stream, StreamExt};

    fn chunks(parts: &[&'static str]) -> Vec<Result<Bytes, String>> {
        parts
            .iter()
            .map(|p| Ok(Bytes::from_static(p.as_bytes())))
            .collect()
    }

    #[test]
    fn a_body_that_came_whole_is_taken_whole_and_its_length_checked() {
        let mut one = stream::iter(chunks(&["{\"a\":1}"]));
        assert_eq!(
            in_hand(&mut one, Some(7), 1024),
            InHand::Whole(Bytes::from_static(b"{\"a\":1}"))
        );
        let mut three = stream::iter(chunks(&["ab", "cd", "e"]));
        assert_eq!(
            in_hand(&mut three, None, 1024),
            InHand::Whole(Bytes::from_static(b"abcde"))
        );
        let mut empty = stream::iter(chunks(&[]));
        assert_eq!(
            in_hand(&mut empty, Some(0), 1024),
            InHand::Whole(Bytes::new())
        );
        // Shorter than its length: not whole (the attempt fails over).
        let mut short = stream::iter(chunks(&["abc"]));
        assert_eq!(
            in_hand(&mut short, Some(5), 1024),
            InHand::Part {
                bytes: Bytes::from_static(b"abc"),
                ended: Some(Ok(()))
            }
        );
    }

    #[test]
    fn a_body_still_coming_or_failed_or_over_the_limit_is_handed_on_as_it_stands() {
        let mut coming = stream::iter(chunks(&["ab"])).chain(stream::pending());
        assert_eq!(
            in_hand(&mut coming, Some(4), 1024),
            InHand::Part {
                bytes: Bytes::from_static(b"ab"),
                ended: None
            }
        );
        let mut failed = stream::iter(vec![
            Ok(Bytes::from_static(b"ab")),
            Err("reset".to_string()),
        ]);
        assert!(matches!(
            in_hand(&mut failed, None, 1024),
            InHand::Part {
                ended: Some(Err(TransportError::Reset(_))),
                ..
            }
        ));
        let mut long = stream::iter(chunks(&["abcd", "efgh", "ijkl"]));
        assert_eq!(
            in_hand(&mut long, None, 6),
            InHand::Part {
                bytes: Bytes::from_static(b"abcdefgh"),
                ended: None
            }
        );
        // Nothing taken is lost: the rest is still there to relay.
        assert_eq!(
            in_hand(&mut long, None, 1024),
            InHand::Whole(Bytes::from_static(b"ijkl"))
        );
    }

    const NAMES: &[&[u8]] = &[b"response.completed", b"response.failed"];

    #[test]
    fn an_end_event_is_seen_in_a_chunk_or_across_any_chunk_boundary() {
        let stream = b"event: response.output_text.delta\ndata: {}\n\nevent: response.completed\ndata: {\"type\":\"response.completed\"}\n\n";
        for split in 0..stream.len() {
            let (before, after) = stream.split_at(split);
            let tail = &before[before.len().saturating_sub(TAIL)..];
            let seen = names_one(NAMES, b"\n\n", before) || names_one(NAMES, tail, after);
            assert!(seen, "split at {split}");
        }
        assert!(!names_one(
            NAMES,
            b"\n\n",
            b"event: response.in_progress\n\n"
        ));
    }

    #[test]
    fn a_stream_ends_well_only_after_a_whole_event() {
        assert!(ends_an_event(b"data: {}\n\n"));
        assert!(ends_an_event(b"data: {}\r\n\r\n"));
        assert!(!ends_an_event(b"data: {\"type\":\"response.comp"));
    }
}
