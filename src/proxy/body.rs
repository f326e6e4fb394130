//! Reading bodies on the request path: the client's request body (bounded in size and time, and
//! counted in what all requests hold together), the start of an upstream's error answer (to tell
//! an exhausted quota from a rate limit), and a whole answer that is translated at once (bounded
//! in size and time).

use crate::gateway_error::GatewayError;
use crate::upstream::outcome::TransportError;
use actix_web::body::SizedStream;
use actix_web::{web, HttpRequest};
use bytes::{Bytes, BytesMut};
use futures_util::task::noop_waker_ref;
use futures_util::{Stream, StreamExt};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Largest upstream error body read to look for quota words before it is passed on.
const ERROR_BODY_LIMIT: usize = 64 << 10;

/// The bytes of request bodies the gateway holds at once, all requests together
/// (`proxy.max_request_bodies_total`). Shared by every request of the server.
#[derive(Debug, Clone, Default)]
pub struct BodyBudget {
    held: Arc<AtomicU64>,
}

/// One request's share of the [`BodyBudget`]: given back when dropped, however the request ends
/// (answered, refused, or dropped because the client went away).
#[derive(Debug)]
pub struct BodyClaim {
    held: Arc<AtomicU64>,
    bytes: u64,
}

impl BodyBudget {
    /// Bytes held now.
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    /// An empty claim, to grow as the body arrives.
    pub fn claim(&self) -> BodyClaim {
        BodyClaim {
            held: self.held.clone(),
            bytes: 0,
        }
    }
}

impl BodyClaim {
    /// Grows the claim to `bytes` when the total held stays within `total`; `false` (and
    /// nothing changed) when it would not.
    pub fn grow_to(&mut self, bytes: u64, total: u64) -> bool {
        let Some(more) = bytes.checked_sub(self.bytes).filter(|&more| more > 0) else {
            return true;
        };
        let grown = self
            .held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                held.checked_add(more).filter(|&sum| sum <= total)
            });
        if grown.is_ok() {
            self.bytes = bytes;
        }
        grown.is_ok()
    }

    /// Bytes this claim holds.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for BodyClaim {
    fn drop(&mut self) {
        self.held.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// Limits on a request body: its own size, and what all bodies together may hold.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// `proxy.max_request_body`
    pub one: u64,
    /// `proxy.max_request_bodies_total`
    pub total: u64,
    /// `timeouts.idle`: the longest pause between two chunks.
    pub idle: Duration,
}

/// Reads the request body up to `limits.one` bytes, counting it in `budget`; a body whose bytes
/// stop for longer than `limits.idle` is refused (nothing goes upstream). A body that does not fit
/// in what the budget has left is read to its end but not kept, then refused with 503: the client
/// can read that answer, and nothing is held for it.
pub async fn read_body(
    mut payload: web::Payload,
    req: &HttpRequest,
    budget: &BodyBudget,
    limits: BodyLimits,
) -> Result<(Bytes, BodyClaim), GatewayError> {
    let BodyLimits {
        one: limit,
        total,
        idle,
    } = limits;
    let declared = super::content_length(req.headers());
    if declared.is_some_and(|n| n > limit) {
        return Err(GatewayError::BodyTooLarge { limit });
    }
    let mut claim = budget.claim();
    // A declared body is claimed whole before any byte is kept.
    let mut fits = claim.grow_to(declared.unwrap_or(0), total);
    // A body that arrives in one chunk is kept as it came (no copy); a longer one is gathered
    // once into a buffer sized from `content-length`. Every attempt then shares it.
    let mut first: Option<Bytes> = None;
    let mut body = BytesMut::new();
    let mut received: u64 = 0;
    let timer = std::pin::pin!(tokio::time::sleep(idle));
    let mut waiting = Waiting::new(timer, idle);
    loop {
        let Some(chunk) = waiting.next(&mut payload).await? else {
            break;
        };
        received += chunk.len() as u64;
        if received > limit {
            return Err(GatewayError::BodyTooLarge { limit });
        }
        if fits && !claim.grow_to(received, total) {
            // Let go of what was kept; the rest is read and dropped.
            fits = false;
            first = None;
            body = BytesMut::new();
            claim = budget.claim();
        }
        if !fits {
            continue;
        }
        match first.take() {
            None if body.is_empty() => first = Some(chunk),
            earlier => {
                if let Some(earlier) = earlier {
                    body.reserve(declared.unwrap_or(received).min(limit) as usize);
                    body.extend_from_slice(&earlier);
                }
                body.extend_from_slice(&chunk);
            }
        }
    }
    if !fits {
        return Err(GatewayError::BodiesFull { limit: total });
    }
    Ok((first.unwrap_or_else(|| body.freeze()), claim))
}

/// Waiting for the next chunk of a request body, at most `idle` after the last one came.
struct Waiting<'t> {
    timer: Pin<&'t mut tokio::time::Sleep>,
    idle: Duration,
    /// A chunk came since the timer was set: it is set again before the next wait.
    stale: bool,
    /// No look at the payload yet (see [`Waiting::next`]).
    first: bool,
}

impl<'t> Waiting<'t> {
    fn new(timer: Pin<&'t mut tokio::time::Sleep>, idle: Duration) -> Waiting<'t> {
        Waiting {
            timer,
            idle,
            stale: false,
            first: true,
        }
    }

    /// The next chunk, `None` at the end of the body.
    ///
    /// The first look at the payload leaves no waker on it. actix-http polls a handler once as
    /// soon as a request's head is parsed, before it feeds the body bytes that came with the
    /// head, and again after every feed (`poll_request`, then `poll_response`, in each pass of
    /// the connection's task). A waker left on the payload at that first poll would be woken by
    /// the feed and schedule one more pass that finds nothing to do. The idle timer keeps the
    /// task's waker, so a body that never comes still ends the wait.
    async fn next(&mut self, payload: &mut web::Payload) -> Result<Option<Bytes>, GatewayError> {
        let next = std::future::poll_fn(|cx| {
            let looked = if std::mem::take(&mut self.first) {
                payload.poll_next_unpin(&mut Context::from_waker(noop_waker_ref()))
            } else {
                payload.poll_next_unpin(cx)
            };
            if let Poll::Ready(item) = looked {
                return Poll::Ready(Some(item));
            }
            if std::mem::take(&mut self.stale) {
                let deadline = tokio::time::Instant::now() + self.idle;
                self.timer.as_mut().reset(deadline);
            }
            self.timer.as_mut().poll(cx).map(|()| None)
        })
        .await;
        let Some(next) = next else {
            return Err(GatewayError::BodyTimeout { idle: self.idle });
        };
        self.stale = true;
        next.transpose()
            .map_err(|e| GatewayError::BadRequestBody(e.to_string()))
    }
}

/// The most of a request body handed to the upstream connection at once.
const PIECE: usize = 64 << 10;

/// A request body to send upstream, in pieces that are slices of it (never copies): awc copies
/// each piece it is given into its write buffer, so a body given whole would be held twice.
pub fn in_pieces(body: Bytes) -> SizedStream<impl Stream<Item = Result<Bytes, Infallible>>> {
    let length = body.len();
    let pieces = (0..length)
        .step_by(PIECE)
        .map(move |start| Ok(body.slice(start..length.min(start + PIECE))));
    SizedStream::new(length as u64, futures_util::stream::iter(pieces))
}

/// Sends `request` with `body`: as it is when it fits in one piece (a `Bytes` body costs awc no
/// allocation), else in pieces (see [`in_pieces`]).
pub fn send(request: awc::ClientRequest, body: Bytes) -> awc::SendClientRequest {
    if body.len() <= PIECE {
        request.send_body(body)
    } else {
        request.send_body(in_pieces(body))
    }
}

/// Reads the start of an upstream error body (bounded in size and time); `true` when that was
/// the whole body, `false` when more may follow (it is then relayed as it comes).
pub async fn read_error_body<S>(
    response: &mut awc::ClientResponse<S>,
    idle: Duration,
) -> (Bytes, bool)
where
    S: futures_util::Stream<Item = Result<Bytes, awc::error::PayloadError>> + Unpin,
{
    let mut body = BytesMut::new();
    loop {
        match tokio::time::timeout(idle, response.next()).await {
            Ok(Some(Ok(chunk))) => {
                body.extend_from_slice(&chunk);
                if body.len() >= ERROR_BODY_LIMIT {
                    return (body.freeze(), false);
                }
            }
            Ok(None) => return (body.freeze(), true),
            // A broken or stalled error body: pass on what came.
            Ok(Some(Err(_))) | Err(_) => return (body.freeze(), true),
        }
    }
}

/// Reads a whole upstream answer of at most `limit` bytes, whose bytes never stop for longer than
/// `idle`. A larger answer is refused as soon as its `content-length` or its bytes say so, without
/// reading the rest.
pub async fn read_answer<S>(
    response: &mut awc::ClientResponse<S>,
    limit: usize,
    idle: Duration,
) -> Result<Bytes, TransportError>
where
    S: futures_util::Stream<Item = Result<Bytes, awc::error::PayloadError>> + Unpin,
{
    let too_large = || {
        TransportError::Other(format!(
            "the answer is larger than {}, the most the gateway translates at once",
            crate::config::units::format_size(limit as u64)
        ))
    };
    let declared = super::content_length(response.headers());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0) as usize);
    loop {
        match tokio::time::timeout(idle, response.next()).await {
            Ok(Some(Ok(chunk))) => {
                if body.len() + chunk.len() > limit {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Some(Err(e))) => return Err(TransportError::Reset(e.to_string())),
            Ok(None) => break,
            Err(_) => return Err(TransportError::IdleTimeout(idle)),
        }
    }
    match declared {
        // awc reports a connection closed early as a clean end.
        Some(length) if (body.len() as u64) < length => Err(TransportError::CutShort {
            received: body.len() as u64,
            length,
        }),
        _ => Ok(body.freeze()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn a_body_goes_upstream_in_slices_of_itself() {
        use actix_web::body::{BodySize, MessageBody};
        let body = Bytes::from(vec![7u8; 2 * PIECE + 1]);
        let mut pieces = Box::pin(in_pieces(body.clone()));
        assert_eq!(pieces.size(), BodySize::Sized(body.len() as u64));
        let mut lengths = Vec::new();
        while let Some(piece) = std::future::poll_fn(|cx| pieces.as_mut().poll_next(cx)).await {
            let piece = match piece {
                Ok(piece) => piece,
                Err(never) => match never {},
            };
            assert!(
                body.as_ptr_range().contains(&piece.as_ptr()),
                "a slice of the body, not a copy"
            );
            lengths.push(piece.len());
        }
        assert_eq!(lengths, [PIECE, PIECE, 1]);
    }

    #[test]
    fn claims_stay_within_the_total_and_are_given_back_when_dropped() {
        let budget = BodyBudget::default();
        let mut a = budget.claim();
        assert!(a.grow_to(600, 1000));
        let mut b = budget.claim();
        assert!(!b.grow_to(600, 1000), "600 more would make 1200");
        assert_eq!((b.bytes(), budget.held()), (0, 600));
        assert!(b.grow_to(400, 1000));
        assert!(b.grow_to(300, 1000), "a claim never shrinks while it lives");
        assert_eq!(budget.held(), 1000);
        drop(a);
        assert_eq!(budget.held(), 400);
        assert!(b.grow_to(1000, 1000));
        drop(b);
        assert_eq!(budget.held(), 0);
    }
}
