//! The gateway's own routes: `/healthz`, `/admin/status`, `/admin/endpoints/{id}/{enable|disable|reset}`
//! and `/metrics`, and in [`usage`] `/admin/usage` and the status page `/admin`. Each handler takes
//! the shared parts it uses as `web::Data`; the server registers them and gates the routes. No
//! answer here ever contains a key.

pub mod usage;

use crate::balancer::sessions::SessionStats;
use crate::balancer::{Balancer, FindEndpoint, SessionsOfAll, StatusOfAll};
use crate::config::LiveConfig;
use crate::edge::call::ClientCall;
use crate::endpoint::health::State;
use crate::endpoint::{Disable, Enable, EndpointSnapshot, Reset, StateSaved};
use crate::gateway_error::GatewayError;
use crate::history::{StoreHealth, UsageHistory, UsageMetrics};
use crate::instance::{Instance, PROOF_HEADER};
use crate::metrics::{EndpointGauges, Metrics};
use crate::translate::Api;
use crate::words::Words;
use actix::{Addr, Recipient};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use std::sync::OnceLock;
use std::time::Instant;

/// The version reported by `/healthz` and `/admin/status`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// When the gateway started, for the uptime that `/healthz` and `/admin/status` report.
pub struct Started(pub Instant);

/// The addresses the gateway listens on, as `host:port`: empty until the sockets are bound.
#[derive(Default)]
pub struct Listening(OnceLock<Vec<String>>);

impl Listening {
    /// Records the bound addresses (once; a second call changes nothing).
    pub fn set(&self, addresses: Vec<String>) {
        let _ = self.0.set(addresses);
    }

    /// The bound addresses, empty before they are known.
    pub fn addresses(&self) -> Vec<String> {
        self.0.get().cloned().unwrap_or_default()
    }
}

/// `GET /healthz`: the gateway is up. With `?challenge=C` it also proves which config it serves
/// (see [`prove_instance`]).
pub async fn healthz(req: HttpRequest, started: web::Data<Started>) -> HttpResponse {
    let mut response = HttpResponse::Ok().json(serde_json::json!({
        "status": "ok",
        "service": "switchyard",
        "version": VERSION,
        "uptime_s": started.0.elapsed().as_secs(),
    }));
    prove_instance(&req, response.headers_mut());
    response
}

/// Adds the instance proof for the `challenge` in a `/healthz` request's query, if it has one
/// (see [`crate::instance`]). Also used on the 401 that a keyless `/healthz` gets under
/// `auth_mode: strict`: the proof tells nothing but which config this gateway serves.
pub fn prove_instance(req: &HttpRequest, headers: &mut HeaderMap) {
    let Some(instance) = req.app_data::<web::Data<Instance>>() else {
        return;
    };
    let challenge = req
        .query_string()
        .split('&')
        .find_map(|pair| pair.strip_prefix("challenge="));
    let port = req.app_config().local_addr().port();
    let proof = challenge.and_then(|c| instance.proof(c, port));
    if let Some(value) = proof.and_then(|p| HeaderValue::from_str(&p).ok()) {
        headers.insert(HeaderName::from_static(PROOF_HEADER), value);
    }
}

/// The whole of `/admin/status`.
#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub version: &'static str,
    pub uptime_s: u64,
    pub auth_mode: &'static str,
    pub listen: Vec<String>,
    pub strategy: &'static str,
    pub config_file: Option<String>,
    pub config_error: Option<String>,
    pub totals: Totals,
    pub endpoints: Vec<EndpointSnapshot>,
    /// Sticky sessions: how many are bound, and how often one moved off its endpoint.
    pub sessions: SessionStats,
    /// How the usage history file is doing.
    pub usage_store: StoreHealth,
    /// Each `fallbacks:` rule in force, with the requests it moved on since start.
    pub fallbacks: Vec<FallbackCount>,
}

/// One `fallbacks:` rule and how often it was used.
#[derive(Debug, Serialize)]
pub struct FallbackCount {
    /// The rule's model pattern.
    pub rule: String,
    /// The models it names, in order.
    pub models: Vec<String>,
    /// Requests it moved on to one of its models since the gateway started.
    pub count: u64,
}

/// Sums over all endpoints.
#[derive(Debug, Serialize)]
pub struct Totals {
    pub endpoints: usize,
    pub selectable: usize,
    pub requests: u64,
    pub failures: u64,
    pub in_flight: u64,
}

impl Totals {
    /// Sums the endpoints' snapshots; `selectable` is each actor's own answer.
    pub fn of(endpoints: &[EndpointSnapshot]) -> Totals {
        Totals {
            endpoints: endpoints.len(),
            selectable: endpoints.iter().filter(|e| e.selectable).count(),
            requests: endpoints.iter().map(|e| e.requests).sum(),
            failures: endpoints.iter().map(|e| e.failures).sum(),
            in_flight: endpoints.iter().map(|e| u64::from(e.in_flight)).sum(),
        }
    }
}

/// Gathers the status report from the actors, the config in force and the usage history.
pub async fn status_report(
    balancer: &Addr<Balancer>,
    live: &LiveConfig,
    started: &Started,
    listening: &Listening,
    usage: &UsageHistory,
    metrics: &Metrics,
) -> Result<StatusReport, GatewayError> {
    let endpoints = balancer
        .send(StatusOfAll)
        .await
        .map_err(|e| GatewayError::Internal(format!("the balancer did not answer: {e}")))?;
    let sessions = balancer
        .send(SessionsOfAll)
        .await
        .map_err(|e| GatewayError::Internal(format!("the balancer did not answer: {e}")))?;
    let config = live.get();
    Ok(StatusReport {
        version: VERSION,
        uptime_s: started.0.elapsed().as_secs(),
        auth_mode: config.proxy.effective_auth_mode().as_str(),
        listen: listening.addresses(),
        strategy: config.balancer.strategy.as_str(),
        config_file: config.source.as_ref().map(|p| p.display().to_string()),
        config_error: live.error().map(|e| e.to_string()),
        totals: Totals::of(&endpoints),
        endpoints,
        sessions,
        usage_store: usage.health(),
        fallbacks: config
            .fallbacks
            .iter()
            .map(|rule| FallbackCount {
                rule: rule.pattern.clone(),
                models: rule.models.clone(),
                count: metrics.fallbacks_by(&rule.pattern),
            })
            .collect(),
    })
}

/// `GET /admin/status`.
pub async fn status(
    req: HttpRequest,
    balancer: web::Data<Addr<Balancer>>,
    live: web::Data<LiveConfig>,
    started: web::Data<Started>,
    listening: web::Data<Listening>,
    usage: web::Data<UsageHistory>,
    metrics: web::Data<Metrics>,
) -> HttpResponse {
    match status_report(&balancer, &live, &started, &listening, &usage, &metrics).await {
        Ok(report) => HttpResponse::Ok().json(report),
        Err(e) => e.response(client_api(&req)),
    }
}

/// The API whose error shape a caller of an admin route reads.
fn client_api(req: &HttpRequest) -> Api {
    ClientCall::of(req.method(), req.match_info().as_str(), req.headers()).api
}

/// `POST /admin/endpoints/{id}/{enable|disable|reset}`: the endpoint's new status.
pub async fn endpoint_action(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    balancer: web::Data<Addr<Balancer>>,
    state_saved: web::Data<Recipient<StateSaved>>,
) -> HttpResponse {
    let (id, action) = path.into_inner();
    let shape = client_api(&req);
    let peer = req
        .peer_addr()
        .map_or_else(|| "unknown peer".to_string(), |a| a.to_string());
    let answer = apply_action(&id, &action, shape, &balancer, &state_saved).await;
    // Every state change an operator asks for is on record: who asked, what, and how it ended.
    log::info!(
        target: "switchyard::admin",
        "admin {action} {id} from {peer}: {}",
        match answer.status().as_u16() {
            200 => "done".to_string(),
            code => format!("refused ({code})"),
        }
    );
    answer
}

crate::words! {
    /// What an operator can do to an endpoint (`POST /admin/endpoints/{id}/{action}`).
    pub enum Action {
        Enable = "enable",
        Disable = "disable",
        Reset = "reset",
    }
}

/// Carries out `action` on endpoint `id`, then waits for the change to be in the state file.
async fn apply_action(
    id: &str,
    action: &str,
    shape: Api,
    balancer: &Addr<Balancer>,
    state_saved: &Recipient<StateSaved>,
) -> HttpResponse {
    let Some(action) = Action::from_word(action) else {
        return GatewayError::NotFound(format!(
            "unknown action `{}` (use {})",
            crate::text::escape_controls(action),
            Action::choices()
        ))
        .response(shape);
    };
    let addr = match balancer.send(FindEndpoint { id: id.to_string() }).await {
        Ok(Some(addr)) => addr,
        Ok(None) => {
            return GatewayError::NotFound(format!("no endpoint with id `{id}`")).response(shape)
        }
        Err(e) => return GatewayError::Internal(e.to_string()).response(shape),
    };
    let result = match action {
        Action::Enable => addr.send(Enable).await,
        Action::Disable => addr.send(Disable).await,
        Action::Reset => addr.send(Reset).await,
    };
    match result {
        Ok(snapshot) => {
            // The change is in the state file before the operator hears back (a disk that hangs
            // delays the answer by 5 s at most; the write goes on).
            let saved = state_saved.send(StateSaved);
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), saved).await;
            HttpResponse::Ok().json(snapshot)
        }
        Err(e) => GatewayError::Internal(e.to_string()).response(shape),
    }
}

/// Any other `/admin/…` path.
pub async fn admin_not_found(req: HttpRequest) -> HttpResponse {
    GatewayError::NotFound(format!("no admin route {} {}", req.method(), req.path()))
        .response(Api::OpenAi)
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(
    balancer: web::Data<Addr<Balancer>>,
    metrics: web::Data<Metrics>,
    usage: web::Data<UsageHistory>,
    usage_metrics: web::Data<UsageMetrics>,
) -> HttpResponse {
    let endpoints = balancer.send(StatusOfAll).await.unwrap_or_default();
    let gauges: Vec<EndpointGauges<'_>> = endpoints
        .iter()
        .map(|e| EndpointGauges {
            id: &e.id,
            in_flight: e.in_flight,
            state: e.state.as_str(),
            model_cooldowns: e
                .model_cooldowns
                .iter()
                .map(|c| (c.model.as_str(), c.retry_in_s))
                .collect(),
        })
        .collect();
    let states: Vec<&str> = State::ALL.iter().map(|(_, word)| *word).collect();
    usage_metrics.set_store_health(&usage.health());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render(&gauges, &states))
}
