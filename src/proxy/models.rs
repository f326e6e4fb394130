//! `GET /v1/models` answered from the config when it names every model.

use super::context::RequestContext;
use super::forward;
use crate::config::{Config, EndpointConfig, LiveConfig};
use crate::edge::call::Call;
use crate::translate::{models_list, Api};
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

/// `GET /v1/models`: answered from the config when it names every model, in the caller's API
/// (see [`Call::ModelList`]; a caller of neither gets one shape both SDKs read); otherwise
/// forwarded like any request, the list put in the caller's API when another API's endpoint
/// answers.
pub async fn list_models(
    req: HttpRequest,
    payload: web::Payload,
    live: web::Data<LiveConfig>,
) -> HttpResponse {
    let Some(models) = configured_models(&live.get()) else {
        return forward(req, payload).await;
    };
    let ctx = RequestContext::of(&req);
    if let Call::ModelList(Some(caller)) = ctx.call {
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

/// A model list another API's endpoint answered, in `caller`'s API (the ids kept, in order);
/// `None` when it is not a list the gateway knows.
pub(super) fn in_callers_shape(caller: Api, body: &[u8]) -> Option<Vec<u8>> {
    let list = serde_json::from_slice::<serde_json::Value>(body).ok()?;
    let ids: Vec<String> = list["data"]
        .as_array()?
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_string))
        .collect();
    serde_json::to_vec(&models_list(caller, &ids)).ok()
}
