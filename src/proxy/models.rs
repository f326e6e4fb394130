//! `GET /v1/models` answered from the config when it names every model.

use super::{forward, BodyBudget};
use crate::balancer::Balancer;
use crate::config::{Config, EndpointConfig, LiveConfig};
use crate::history::{UsageHistory, UsageMetrics};
use crate::metrics::Metrics;
use crate::translate::{models_list, Api};
use crate::upstream::WorkerClient;
use actix::Addr;
use actix_web::{web, HttpRequest, HttpResponse};

/// The model list the config names, when every enabled endpoint has a fixed `models` list:
/// then no upstream is needed to answer `GET /v1/models`. Globs cannot be listed and are left out.
pub fn configured_models(config: &Config) -> Option<Vec<String>> {
    let enabled: Vec<&EndpointConfig> = config.endpoints.iter().filter(|e| e.enabled).collect();
    if enabled.is_empty() || enabled.iter().any(|e| e.models.is_empty()) {
        return None;
    }
    let mut models: Vec<String> = enabled
        .iter()
        .flat_map(|e| e.models.iter())
        .filter(|m| !m.contains('*'))
        .cloned()
        .collect();
    models.sort();
    models.dedup();
    (!models.is_empty()).then_some(models)
}

/// `GET /v1/models`: answered from the config when it names every model, in the caller's shape
/// (Anthropic when it sends `anthropic-version` or `x-api-key`, OpenAI when it sends only a bearer
/// token, else one shape both SDKs read); otherwise forwarded like any request.
// It takes what `forward` takes, to forward with.
#[allow(clippy::too_many_arguments)]
pub async fn list_models(
    req: HttpRequest,
    payload: web::Payload,
    live: web::Data<LiveConfig>,
    balancer: web::Data<Addr<Balancer>>,
    metrics: web::Data<Metrics>,
    bodies: web::Data<BodyBudget>,
    usage: web::Data<UsageHistory>,
    usage_metrics: web::Data<UsageMetrics>,
    client: web::Data<WorkerClient>,
) -> HttpResponse {
    let caller = caller_api(req.headers());
    let Some(models) = configured_models(&live.get()) else {
        let config = live.get();
        let answer = forward(
            req,
            payload,
            live,
            balancer,
            metrics,
            bodies,
            usage,
            usage_metrics,
            client,
        )
        .await;
        return match caller {
            Some(caller) => in_callers_shape(answer, caller, &config).await,
            None => answer,
        };
    };
    if let Some(caller) = caller {
        return HttpResponse::Ok().json(models_list(caller, &models));
    }
    // A caller of unknown API gets one shape that both SDKs read.
    let data: Vec<serde_json::Value> = models
        .iter()
        .map(|id| {
            serde_json::json!({
                "id": id, "object": "model", "type": "model", "display_name": id,
                "created": 0, "created_at": "1970-01-01T00:00:00Z", "owned_by": "switchyard",
            })
        })
        .collect();
    HttpResponse::Ok().json(serde_json::json!({
        "object": "list",
        "data": data,
        "has_more": false,
        "first_id": models.first(),
        "last_id": models.last(),
    }))
}

/// The API whose model list a caller reads: Anthropic's when it sends `anthropic-version` or
/// `x-api-key`, OpenAI's when it sends only a bearer token; `None` when it sends neither.
fn caller_api(headers: &actix_web::http::header::HeaderMap) -> Option<Api> {
    if headers.contains_key("anthropic-version") || headers.contains_key("x-api-key") {
        Some(Api::Anthropic)
    } else if headers.contains_key("authorization") {
        Some(Api::OpenAi)
    } else {
        None
    }
}

/// Largest forwarded model list that is read to be put in the caller's shape.
const MODELS_LIST_LIMIT: usize = 16 << 20;

/// A forwarded model list, in the caller's shape when the endpoint that answered speaks the other
/// API (the ids kept, in order); any other answer as it came.
async fn in_callers_shape(answer: HttpResponse, caller: Api, config: &Config) -> HttpResponse {
    use crate::gateway_error::GatewayError;
    use crate::upstream::outcome::TransportError;
    use actix_web::body::{BodySize, MessageBody};
    let Some(endpoint) = answer
        .headers()
        .get(super::ENDPOINT_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|id| config.endpoints.iter().find(|e| e.id == id))
    else {
        return answer;
    };
    let too_big =
        matches!(answer.body().size(), BodySize::Sized(n) if n > MODELS_LIST_LIMIT as u64);
    if answer.status() != actix_web::http::StatusCode::OK || endpoint.api == caller || too_big {
        return answer;
    }
    let (head, body) = answer.into_parts();
    let bytes = match actix_web::body::to_bytes_limited(body, MODELS_LIST_LIMIT).await {
        Ok(Ok(bytes)) => bytes,
        // Cut short (or past the limit while it streamed): nothing whole to pass on.
        _ => {
            let error = GatewayError::UpstreamUnreachable {
                failures: vec![(endpoint.id.clone(), TransportError::StreamUnfinished)],
                retry_after: None,
            };
            return error.response(caller.into());
        }
    };
    let ids = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|list| {
            list["data"].as_array().map(|data| {
                data.iter()
                    .filter_map(|m| m["id"].as_str().map(str::to_string))
                    .collect::<Vec<String>>()
            })
        });
    let reshaped = ids.and_then(|ids| serde_json::to_vec(&models_list(caller, &ids)).ok());
    let Some(body) = reshaped else {
        // Not a list the gateway knows: passed on as it came.
        return head.set_body(bytes).map_into_boxed_body();
    };
    let mut response = head.set_body(body).map_into_boxed_body();
    response.headers_mut().insert(
        actix_web::http::header::CONTENT_TYPE,
        actix_web::http::header::HeaderValue::from_static("application/json"),
    );
    response
}
