//! Reading bodies on the request path: the client's request body (bounded in size and time) and
//! the start of an upstream's error answer (to tell an exhausted quota from a rate limit).

use crate::gateway_error::GatewayError;
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
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0).min(limit) as usize);
    loop {
        let chunk = match tokio::time::timeout(idle, payload.next()).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(_) => return Err(GatewayError::BodyTimeout { idle }),
        };
        let chunk = chunk.map_err(|e| GatewayError::BadRequestBody(e.to_string()))?;
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(GatewayError::BodyTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
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
