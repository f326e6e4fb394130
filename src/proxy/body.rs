//! Reading bodies on the request path: the client's request body (bounded in size and time), the
//! start of an upstream's error answer (to tell an exhausted quota from a rate limit), and a whole
//! answer that is translated at once (bounded in size and time).

use crate::gateway_error::GatewayError;
use crate::upstream::outcome::TransportError;
use actix_web::{web, HttpRequest};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use std::time::Duration;

/// Largest upstream error body read to look for quota words before it is passed on.
const ERROR_BODY_LIMIT: usize = 64 << 10;

/// Reads the request body up to `limit` bytes; a body whose bytes stop for longer than `idle` is
/// refused (nothing goes upstream).
pub async fn read_body(
    mut payload: web::Payload,
    req: &HttpRequest,
    limit: u64,
    idle: Duration,
) -> Result<Bytes, GatewayError> {
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(GatewayError::BodyTooLarge { limit });
    }
    // A body that arrives in one chunk is kept as it came (no copy); a longer one is gathered
    // once into a buffer sized from `content-length`. Every attempt then shares it.
    let mut first: Option<Bytes> = None;
    let mut body = BytesMut::new();
    let mut received: u64 = 0;
    loop {
        let chunk = match tokio::time::timeout(idle, payload.next()).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(_) => return Err(GatewayError::BodyTimeout { idle }),
        };
        let chunk = chunk.map_err(|e| GatewayError::BadRequestBody(e.to_string()))?;
        received += chunk.len() as u64;
        if received > limit {
            return Err(GatewayError::BodyTooLarge { limit });
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
    Ok(first.unwrap_or_else(|| body.freeze()))
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
    let declared = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
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
