//! A streamed answer's start, held: a `200` stream is not yet the client's. Its head and opening
//! events wait until the first event that carries content ([`crate::wire::events`]), bounded by
//! `timeouts.stream_start`, `timeouts.idle` and [`START_LIMIT`] bytes; an error event, an end or a
//! break before that makes the attempt a failure of its endpoint, and the request moves on as if
//! the head had been an error. The upstream's own events are read, before any translation, so a
//! client never sees the translated opening of an attempt that failed.

use crate::upstream::outcome::TransportError;
use crate::wire::events::{meaning, Meaning, StreamError};
use crate::wire::sse::SseParser;
use crate::wire::Api;
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use std::time::Duration;
use tokio::time::Instant;

/// The most bytes of opening events held: a longer start is passed on as it came (no failover).
pub const START_LIMIT: usize = 64 << 10;

/// What the events read so far say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watched {
    /// Only opening events so far (or none): keep holding.
    Holding,
    /// An event carries content (or is one the gateway does not know): the stream is the
    /// client's.
    Began,
    /// The upstream reported an error before any content; `data` is the event's data.
    Failed { error: StreamError, data: String },
    /// The opening events outgrew the limit: passed on as they came.
    TooLong,
}

/// Reads a stream's first events and keeps every byte read, until they say how it starts.
pub struct StartWatch {
    api: Api,
    parser: SseParser,
    held: BytesMut,
    limit: usize,
}

impl StartWatch {
    /// A watch over a stream of `api`'s events that holds at most `limit` bytes.
    pub fn new(api: Api, limit: usize) -> Self {
        StartWatch {
            api,
            parser: SseParser::with_limit(limit),
            held: BytesMut::new(),
            limit,
        }
    }

    /// Takes the next chunk (kept whole) and says what the stream has shown so far.
    pub fn feed(&mut self, chunk: &[u8]) -> Watched {
        self.held.extend_from_slice(chunk);
        let events = self.parser.feed(chunk);
        if let Some(judged) = events
            .iter()
            .find_map(|event| self.judge(&event.name, &event.data))
        {
            return judged;
        }
        if self.parser.too_large().is_some() || self.held.len() > self.limit {
            return Watched::TooLong;
        }
        Watched::Holding
    }

    /// The stream ended: what its last event (one without its closing blank line) says, if it
    /// says more than the others did.
    pub fn end(&mut self) -> Watched {
        self.parser
            .finish()
            .and_then(|event| self.judge(&event.name, &event.data))
            .unwrap_or(Watched::Holding)
    }

    /// Every byte read so far.
    pub fn into_held(self) -> Bytes {
        self.held.freeze()
    }

    fn judge(&self, name: &str, data: &str) -> Option<Watched> {
        match meaning(self.api, name, data) {
            Meaning::Opening => None,
            Meaning::Content => Some(Watched::Began),
            Meaning::Error(error) => Some(Watched::Failed {
                error,
                data: data.to_string(),
            }),
        }
    }
}

/// The bounds on a held start.
#[derive(Debug, Clone, Copy)]
pub struct StartLimits {
    /// `timeouts.stream_start`: from the head to the first content.
    pub within: Duration,
    /// `timeouts.idle`: the longest gap between two chunks.
    pub idle: Duration,
    /// Bytes of opening events held at most.
    pub size: usize,
}

/// How a held start ended.
#[derive(Debug)]
pub enum Start {
    /// Content began: these bytes go out first, with the head.
    Began(Bytes),
    /// The opening events outgrew the limit: these bytes go out as they came.
    TooLong(Bytes),
    /// An error event came first; `held` is everything read, for an error the endpoint is not
    /// blamed for (it goes to the client as it came).
    Failed {
        error: StreamError,
        data: String,
        held: Bytes,
    },
    /// The stream ended, broke or stalled before content.
    Broken(TransportError),
}

/// Reads `body` (a streamed answer of `api` whose head came just now) until its content begins,
/// within `limits`.
pub async fn hold<S, E>(body: &mut S, api: Api, limits: StartLimits) -> Start
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let deadline = Instant::now() + limits.within;
    let mut watch = StartWatch::new(api, limits.size);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let watched = match tokio::time::timeout(left.min(limits.idle), body.next()).await {
            Ok(Some(Ok(chunk))) => watch.feed(&chunk),
            Ok(Some(Err(e))) => return Start::Broken(TransportError::Reset(e.to_string())),
            Ok(None) => match watch.end() {
                Watched::Holding => return Start::Broken(TransportError::NoContent),
                last => last,
            },
            Err(_) if left <= limits.idle => {
                return Start::Broken(TransportError::StreamStartTimeout(limits.within))
            }
            Err(_) => return Start::Broken(TransportError::IdleTimeout(limits.idle)),
        };
        match watched {
            Watched::Holding => {}
            Watched::Began => return Start::Began(watch.into_held()),
            Watched::TooLong => return Start::TooLong(watch.into_held()),
            Watched::Failed { error, data } => {
                return Start::Failed {
                    error,
                    data,
                    held: watch.into_held(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENING: &str = "event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0}\n\n";
    const DELTA: &str = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n";
    const OVERLOADED: &str = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";

    /// Feeds `stream` split at `at`, returning what the watch said last and what it held.
    fn watch_split(stream: &str, at: usize) -> (Watched, Bytes) {
        let mut watch = StartWatch::new(Api::Anthropic, START_LIMIT);
        let (a, b) = stream.as_bytes().split_at(at);
        let mut said = watch.feed(a);
        if said == Watched::Holding {
            said = watch.feed(b);
        }
        (said, watch.into_held())
    }

    #[test]
    fn the_start_is_held_until_the_first_content_at_any_split() {
        let stream = format!("{OPENING}{DELTA}");
        for at in 0..stream.len() {
            let (said, held) = watch_split(&stream, at);
            assert_eq!(said, Watched::Began, "split at {at}");
            assert_eq!(held, stream.as_bytes(), "every byte is kept, split at {at}");
        }
        let mut watch = StartWatch::new(Api::Anthropic, START_LIMIT);
        assert_eq!(watch.feed(OPENING.as_bytes()), Watched::Holding);
    }

    #[test]
    fn an_error_before_content_fails_the_start_at_any_split() {
        let stream = format!("{OPENING}{OVERLOADED}{DELTA}");
        for at in 0..stream.len() {
            match watch_split(&stream, at).0 {
                Watched::Failed { error, data } => {
                    assert_eq!(error.status, 529, "split at {at}");
                    assert!(data.contains("overloaded_error"));
                }
                other => panic!("split at {at}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_opening_longer_than_the_limit_is_passed_on() {
        let mut watch = StartWatch::new(Api::Anthropic, 1024);
        let ping = "event: ping\ndata: {\"type\": \"ping\"}\n\n";
        let mut said = Watched::Holding;
        for _ in 0..100 {
            said = watch.feed(ping.as_bytes());
            if said != Watched::Holding {
                break;
            }
        }
        assert_eq!(said, Watched::TooLong);
        assert!(watch.into_held().len() > 1024);
    }

    #[test]
    fn a_last_event_without_its_blank_line_still_counts_at_the_end() {
        let mut watch = StartWatch::new(Api::OpenAi, START_LIMIT);
        assert_eq!(
            watch.feed(
                b"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\ndata: [DONE]"
            ),
            Watched::Holding
        );
        assert_eq!(watch.end(), Watched::Began);
        let mut empty = StartWatch::new(Api::OpenAi, START_LIMIT);
        assert_eq!(empty.end(), Watched::Holding);
    }

    fn limits(within_ms: u64, idle_ms: u64) -> StartLimits {
        StartLimits {
            within: Duration::from_millis(within_ms),
            idle: Duration::from_millis(idle_ms),
            size: START_LIMIT,
        }
    }

    type Chunk = Result<Bytes, String>;

    #[tokio::test(start_paused = true)]
    async fn keep_alives_without_content_are_bounded_by_the_stream_start() {
        // A ping every second, for ever.
        let pings = futures_util::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Some((Ok::<_, String>(Bytes::from_static(b": keep-alive\n\n")), ()))
        });
        let mut pings = Box::pin(pings);
        let start = hold(&mut pings, Api::OpenAi, limits(30_000, 5_000)).await;
        assert!(
            matches!(start, Start::Broken(TransportError::StreamStartTimeout(d)) if d == Duration::from_secs(30)),
            "{start:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stall_before_content_is_an_idle_timeout_and_an_end_is_no_content() {
        let mut stalled = Box::pin(
            futures_util::stream::iter([Ok::<_, String>(Bytes::from_static(OPENING.as_bytes()))])
                .chain(futures_util::stream::pending()),
        );
        let start = hold(&mut stalled, Api::Anthropic, limits(60_000, 2_000)).await;
        assert!(
            matches!(start, Start::Broken(TransportError::IdleTimeout(_))),
            "{start:?}"
        );
        let mut ended =
            futures_util::stream::iter([Ok::<_, String>(Bytes::from_static(OPENING.as_bytes()))]);
        let start = hold(&mut ended, Api::Anthropic, limits(60_000, 2_000)).await;
        assert!(
            matches!(start, Start::Broken(TransportError::NoContent)),
            "{start:?}"
        );
        let mut broken = futures_util::stream::iter([Err::<Bytes, _>("reset".to_string())]);
        let start = hold(&mut broken, Api::Anthropic, limits(60_000, 2_000)).await;
        assert!(
            matches!(start, Start::Broken(TransportError::Reset(_))),
            "{start:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn content_in_the_first_chunk_goes_out_with_the_opening() {
        let chunks: Vec<Chunk> = vec![
            Ok(Bytes::from_static(OPENING.as_bytes())),
            Ok(Bytes::from_static(DELTA.as_bytes())),
            Ok(Bytes::from_static(b"never read")),
        ];
        let mut body = futures_util::stream::iter(chunks);
        match hold(&mut body, Api::Anthropic, limits(60_000, 2_000)).await {
            Start::Began(held) => assert_eq!(held, format!("{OPENING}{DELTA}").as_bytes()),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            body.next().await.map(|c| c.unwrap()),
            Some(Bytes::from_static(b"never read")),
            "nothing past the first content is read"
        );
    }
}
