//! The composition root: it starts the actors, builds the app from the [`proxy`] and [`admin`]
//! handlers, giving each the handles it names (one `web::Data` per part, see `parts.rs`), and owns
//! the listening sockets, the client-auth gate and the signals. Nothing below it imports it.
//!
//! Placement: the gateway runs one HTTP worker, and the actors are started on that worker's own
//! arbiter (inside the app factory). Every `IsHealthy` question and outcome message then stays on
//! one thread: no request crosses threads to reach an actor. One worker on one core serves far more
//! requests than any workstation's LLM traffic.

use crate::auth;
use crate::config::{Config, LiveConfig};
use crate::edge::browser::{self, BrowserHeaders, BrowserPolicy, OriginVerdict};
use crate::edge::call::ClientCall;
use crate::edge::REQUEST_ID_HEADER;
use crate::edge::{self, Destination};
use crate::gateway_error::GatewayError;
use crate::history::{EndpointSpend, StoreError, StoreSettings, UsageHistory};
use crate::instance::Instance;
use crate::proxy;
use crate::upstream::headers::names;
use crate::{admin, supervisor};
use actix_web::body::BoxBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::{web, App, HttpResponse, HttpServer};
use futures_util::future::{ready, Either, FutureExt};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

mod heap;
mod parts;
use parts::Parts;

/// Runs the gateway until SIGINT/SIGTERM; `on_listening` is called with the bound addresses.
pub fn run(
    config: Config,
    on_listening: impl FnOnce(&[SocketAddr]) + Send + 'static,
) -> std::io::Result<()> {
    heap::keep_large_buffers();
    actix_rt::System::new().block_on(serve(Arc::new(config), on_listening))
}

/// The gateway as a future on the current actix system.
pub async fn serve(
    config: Arc<Config>,
    on_listening: impl FnOnce(&[SocketAddr]) + Send + 'static,
) -> std::io::Result<()> {
    let shared: Arc<OnceLock<Parts>> = Arc::new(OnceLock::new());
    let (usage, spend) = start_usage(&config).await;
    let factory_usage = usage.clone();
    // Filled once the sockets are bound; read by /admin/status.
    let listening = web::Data::new(admin::Listening::default());
    let tls = crate::upstream::tls_config();
    let factory_config = config.clone();
    let factory_shared = shared.clone();
    let factory_listening = listening.clone();
    let instance = web::Data::new(Instance::new(config.source.as_deref()));
    let factory_instance = instance.clone();
    let mut server = HttpServer::new(move || {
        // Runs on the worker's thread: the actors start on its arbiter.
        let parts = factory_shared
            .get_or_init(|| Parts::build(factory_config.clone(), factory_usage.clone(), &spend));
        let client = crate::upstream::WorkerClient::new(&parts.live.get().timeouts, tls.clone());
        let forwarding = web::Data::new(proxy::Forwarding {
            live: parts.live.clone(),
            balancer: parts.balancer.clone(),
            metrics: parts.metrics.clone(),
            bodies: parts.bodies.clone(),
            usage: factory_usage.clone(),
            usage_metrics: parts.usage_metrics.clone(),
            client,
        });
        App::new()
            .app_data(parts.live.clone())
            .app_data(parts.balancer.clone())
            .app_data(parts.state_saved.clone())
            .app_data(parts.metrics.clone())
            .app_data(parts.usage_metrics.clone())
            .app_data(parts.bodies.clone())
            .app_data(parts.started.clone())
            .app_data(web::Data::new(factory_usage.clone()))
            .app_data(factory_listening.clone())
            .app_data(factory_instance.clone())
            .app_data(forwarding)
            .wrap_fn(|req, srv| match gate(&req) {
                Ok(cors) => Either::Left(
                    srv.call(req)
                        .map(move |res| res.map(|r| finish_answer(r, cors))),
                ),
                Err(response) => Either::Right(ready(Ok(req.into_response(*response)))),
            })
            .service(web::resource("/healthz").route(web::get().to(admin::healthz)))
            .service(web::resource("/metrics").route(web::get().to(admin::metrics)))
            .service(web::resource("/v1/models").route(web::get().to(proxy::list_models)))
            .service(
                web::scope("/admin")
                    .route("/status", web::get().to(admin::status))
                    .route("/status", web::head().to(admin::status))
                    .route("", web::get().to(admin::usage::status_page))
                    .route("", web::head().to(admin::usage::status_page))
                    .route("/", web::get().to(admin::usage::status_page))
                    .route("/usage", web::get().to(admin::usage::usage_route))
                    .route("/usage", web::head().to(admin::usage::usage_route))
                    .route(
                        "/endpoints/{id}/{action}",
                        web::post().to(admin::endpoint_action),
                    )
                    .default_service(web::to(admin::admin_not_found)),
            )
            .default_service(web::to(proxy::forward))
    })
    .workers(1)
    // Answers go out as they are written, not after the client's delayed ACK.
    .tcp_nodelay(true)
    .disable_signals()
    .client_request_timeout(config.timeouts.request_header)
    .client_disconnect_timeout(std::time::Duration::from_secs(1))
    // A client that closes its side has gone away: its request ends at once, and with it the
    // upstream call and the request body it held.
    .h1_allow_half_closed(false)
    .shutdown_timeout(config.proxy.shutdown_grace.as_secs().max(1));

    let port = config.proxy.port;
    let (primary, secondary) = listen_addresses(config.proxy.allow_lan_access, port);
    server = server.bind(primary)?;
    // The IPv6 address takes the port the IPv4 one got (which matters when the config says 0).
    let bound_port = server.addrs().first().map_or(port, |a| a.port());
    let secondary = SocketAddr::new(secondary.ip(), bound_port);
    // IPv6 is a bonus: a machine without it still serves on IPv4.
    match ipv6_only_listener(secondary) {
        Ok(listener) => server = server.listen(listener)?,
        Err(e) => log::debug!("not listening on {secondary}: {e}"),
    }
    let addrs = server.addrs();
    let server = server.run();
    let handle = server.handle();

    listening.set(addrs.iter().map(|a| a.to_string()).collect());
    // Published once the port is ours, so a second gateway that fails to bind leaves it alone.
    if let Err(e) = instance.publish() {
        log::warn!("{e}; `switchyard claude` and `codex` will not recognise this gateway");
    }
    // Kept alive as long as the server runs.
    let _watcher = config
        .source
        .clone()
        .and_then(|path| watch_config_file(path, shared.clone()));
    // Registered before the gateway says it listens, so an early SIGHUP cannot kill it.
    let signals = Signals::install()?;
    let signal_shared = shared.clone();
    actix_rt::spawn(async move {
        watch_signals(signals, handle, signal_shared).await;
    });
    on_listening(&addrs);
    let result = server.await;
    // Open streams have ended (or the grace ran out): what they recorded reaches the file.
    usage.flush().await;
    instance.withdraw();
    result
}

/// Starts the usage history and reads each endpoint's spend this UTC day and month from it (to
/// seed the budgets: every endpoint gets an entry, 0 when the history has no cost of it). A
/// history that cannot be read seeds nothing: the gateway starts anyway, and each budget says
/// `spend_unknown` in `/admin/status` until a restart reads it.
async fn start_usage(config: &Config) -> (UsageHistory, Arc<HashMap<String, EndpointSpend>>) {
    let usage = UsageHistory::start(StoreSettings::of(&config.usage));
    let budgeted: Vec<&str> = config
        .endpoints
        .iter()
        .filter(|e| e.budget.is_some_and(|b| !b.is_unlimited()))
        .map(|e| e.id.as_str())
        .collect();
    let spend = match usage.spend(std::time::SystemTime::now()).await {
        Ok(mut spend) => {
            for endpoint in &config.endpoints {
                spend.entry(endpoint.id.clone()).or_default();
            }
            spend
        }
        Err(e) => {
            // With the history off by choice this is expected; a history that fails is not.
            let level = match e {
                StoreError::Off => log::Level::Warn,
                _ => log::Level::Error,
            };
            if !budgeted.is_empty() {
                log::log!(
                    level,
                    "usage history: cannot read this month's spend ({e}); the budgets of {} count only what is spent from now on, and /admin/status shows them with spend_unknown",
                    budgeted.join(", ")
                );
            } else if level == log::Level::Error {
                log::error!("usage history: cannot read this month's spend ({e})");
            }
            HashMap::new()
        }
    };
    (usage, Arc::new(spend))
}

/// The IPv4 and IPv6 addresses to listen on: loopback, or every address with LAN access.
pub fn listen_addresses(allow_lan_access: bool, port: u16) -> (SocketAddr, SocketAddr) {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let (v4, v6) = if allow_lan_access {
        (Ipv4Addr::UNSPECIFIED, Ipv6Addr::UNSPECIFIED)
    } else {
        (Ipv4Addr::LOCALHOST, Ipv6Addr::LOCALHOST)
    };
    (
        SocketAddr::new(IpAddr::V4(v4), port),
        SocketAddr::new(IpAddr::V6(v6), port),
    )
}

/// A listener on an IPv6 address that takes IPv6 only, so that `[::]` can sit beside `0.0.0.0`
/// on the same port (a dual-stack `[::]` would collide with it).
fn ipv6_only_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_only_v6(true)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Reloads the config when its file changes. The folder is watched, not the file: editors
/// replace the file on save. Changes are debounced; a burst of events gives one reload.
fn watch_config_file(
    path: std::path::PathBuf,
    shared: Arc<OnceLock<Parts>>,
) -> Option<notify::RecommendedWatcher> {
    use notify::{EventKind, RecursiveMode, Watcher};
    let name = path.file_name()?.to_os_string();
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let watched = name.clone();
    let mut watcher =
        match notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if let Ok(event) = event {
                let relevant = !matches!(event.kind, EventKind::Access(_))
                    && event
                        .paths
                        .iter()
                        .any(|p| p.file_name() == Some(watched.as_os_str()));
                if relevant {
                    let _ = tx.send(());
                }
            }
        }) {
            Ok(w) => w,
            Err(e) => {
                log::warn!(
                    "cannot watch {} for changes ({e}); SIGHUP still reloads",
                    path.display()
                );
                return None;
            }
        };
    if let Err(e) = watcher.watch(&folder, RecursiveMode::NonRecursive) {
        log::warn!(
            "cannot watch {} for changes ({e}); SIGHUP still reloads",
            folder.display()
        );
        return None;
    }
    actix_rt::spawn(async move {
        while rx.recv().await.is_some() {
            actix_rt::time::sleep(std::time::Duration::from_millis(250)).await;
            while rx.try_recv().is_ok() {}
            if let Some(parts) = shared.get() {
                log::info!("{} changed: reloading", path.display());
                let _ = parts.supervisor.send(supervisor::Reload).await;
            }
        }
    });
    Some(watcher)
}

/// The stop and reload signals, registered with the runtime.
#[cfg(unix)]
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }
}

#[cfg(unix)]
async fn watch_signals(
    mut signals: Signals,
    handle: actix_web::dev::ServerHandle,
    shared: Arc<OnceLock<Parts>>,
) {
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = signals.term.recv() => {},
            _ = signals.int.recv() => {},
            _ = signals.hup.recv() => {
                if let Some(parts) = shared.get() {
                    log::info!("SIGHUP: reloading the config");
                    let _ = parts.supervisor.send(supervisor::Reload).await;
                }
                continue;
            }
        }
        if stopping {
            log::warn!("second stop signal: exiting now");
            std::process::exit(1);
        }
        stopping = true;
        log::info!("stopping: no new connections; open requests and streams may finish");
        let handle = handle.clone();
        actix_rt::spawn(async move { handle.stop(true).await });
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> std::io::Result<Signals> {
        Ok(Signals)
    }
}

#[cfg(not(unix))]
async fn watch_signals(
    _signals: Signals,
    handle: actix_web::dev::ServerHandle,
    _shared: Arc<OnceLock<Parts>>,
) {
    if tokio::signal::ctrl_c().await.is_ok() {
        handle.stop(true).await;
    }
}

/// The headers the browser rules read. A `Host` that is not text counts as a malformed one.
fn browser_headers(req: &ServiceRequest) -> BrowserHeaders<'_> {
    let headers = req.headers();
    let text = |name: &HeaderName| headers.get(name).map(|v| v.to_str().unwrap_or(""));
    // One lookup for both: the first value is the one `get` would give.
    let hosts = headers.get_all(actix_web::http::header::HOST);
    BrowserHeaders {
        host_count: hosts.clone().count(),
        host: hosts.clone().next().map(|v| v.to_str().unwrap_or("")),
        authority: req.uri().authority().map(|a| a.as_str()),
        origin: text(&actix_web::http::header::ORIGIN),
        // A name made once: looking one up by a `&str` that is not a standard name allocates.
        sec_fetch_site: text(&names::SEC_FETCH_SITE),
    }
}

/// CORS answer headers for an allowed browser origin.
#[derive(Clone)]
struct Cors(Option<HeaderValue>);

/// The answer to a browser's preflight, which carries no credentials: the CORS headers for an
/// allowed origin, none for any other.
fn preflight(
    headers: &actix_web::http::header::HeaderMap,
    allowed_origin: Option<&HeaderValue>,
) -> Box<HttpResponse> {
    let mut response = HttpResponse::NoContent();
    if let Some(origin) = allowed_origin {
        response.insert_header(("access-control-allow-origin", origin.clone()));
        response.insert_header(("access-control-allow-methods", "GET, POST, OPTIONS"));
        if let Some(requested) = headers.get("access-control-request-headers") {
            response.insert_header(("access-control-allow-headers", requested.clone()));
        }
        response.insert_header(("access-control-max-age", "600"));
    }
    response.insert_header(("vary", "Origin"));
    Box::new(response.finish())
}

/// A refusal at the gate, in the client's API when the request was bound for the proxy (the
/// gateway's own routes answer OpenAI's shape), logged and marked with the request id.
fn refusal(req: &ServiceRequest, forwarded: bool, error: &GatewayError) -> Box<HttpResponse> {
    let headers = req.headers();
    let api = match forwarded {
        true => ClientCall::of(req.method(), req.match_info().as_str(), headers).api,
        false => crate::translate::Api::OpenAi,
    };
    let mut response = error.response(api);
    let id = edge::request_id(headers);
    log::info!(
        target: "switchyard::access",
        "{} {} {} status={} outcome={}",
        id.as_str(),
        req.method(),
        req.path(),
        response.status().as_u16(),
        error.kind()
    );
    response.headers_mut().insert(
        HeaderName::from_static(REQUEST_ID_HEADER),
        id.header_value(),
    );
    Box::new(response)
}

/// The gate in front of every route: browser rules (`Host`, `Origin`), then the target, then
/// client auth. `Ok` carries the CORS origin to echo, if any.
fn gate(req: &ServiceRequest) -> Result<Cors, Box<HttpResponse>> {
    let Some(live) = req.app_data::<web::Data<LiveConfig>>() else {
        return Ok(Cors(None));
    };
    let config = live.get();
    let headers = req.headers();
    // Every rule below is judged on the path as the router will match it (percent-decoded), so a
    // spelling the router folds onto a route gets that route's rules.
    let path = req.match_info().as_str();
    let destination = edge::destination(path);
    let forwarded = matches!(destination, Ok(Destination::Forward));
    let refuse = |error: GatewayError| refusal(req, forwarded, &error);
    let policy = BrowserPolicy {
        any_host: config.proxy.allow_lan_access,
        allowed_hosts: &config.proxy.allowed_hosts,
        cors_origins: &config.proxy.cors_origins,
    };
    let origin = browser::judge(browser_headers(req), policy)
        .map_err(|refusal| refuse(GatewayError::Forbidden(refusal)))?;
    let allowed_origin = match origin {
        OriginVerdict::Listed => headers.get("origin").cloned(),
        OriginVerdict::Own | OriginVerdict::None => None,
    };
    if req.method() == Method::OPTIONS && headers.contains_key("access-control-request-method") {
        return Err(preflight(headers, allowed_origin.as_ref()));
    }
    // On admin routes the admin key, when set, stands in for the client key: it is the
    // stronger credential, and `switchyard status --key` can send only one.
    let is_websocket = headers
        .get(actix_web::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"));
    if is_websocket
        && forwarded
        && ClientCall::of(req.method(), path, headers).api == crate::wire::Api::Responses
    {
        return Err(refuse(GatewayError::UpgradeRequired));
    }
    if req.method() == Method::CONNECT || is_websocket {
        let what = if is_websocket {
            "a WebSocket upgrade"
        } else {
            "CONNECT (tunnelling)"
        };
        return Err(refuse(GatewayError::Unsupported(what.to_string())));
    }
    let destination = match destination {
        Ok(destination) => destination,
        Err(why) => return Err(refuse(GatewayError::BadPath(why.to_string()))),
    };
    if destination == Destination::AdminLookalike {
        return Err(refuse(GatewayError::NotFound(format!(
            "no admin route {} {path}",
            req.method()
        ))));
    }
    let admin_key = &config.proxy.admin_key;
    let is_admin = destination == Destination::Admin;
    let admin_ok = is_admin
        && !admin_key.is_empty()
        && auth::check_key(admin_key, headers, req.query_string()).is_ok();
    let mode = config.proxy.effective_auth_mode();
    let client_keys = &config.proxy.client_keys;
    let client = auth::client_key_name(client_keys, headers, req.query_string());
    if auth::key_required(mode, destination == Destination::Health) && !admin_ok && client.is_none()
    {
        auth::check_key(&config.proxy.api_key, headers, req.query_string()).map_err(|m| {
            let m = if client_keys.is_empty() {
                m
            } else {
                m.replace("proxy.api_key", "proxy.api_key or proxy.client_keys")
            };
            let mut refused = refuse(GatewayError::Unauthorized(m));
            if destination == Destination::Health {
                admin::prove_instance(req.request(), refused.headers_mut());
            }
            refused
        })?;
    }
    let read_only = req.method() == Method::GET || req.method() == Method::HEAD;
    let admin_needed = !read_only || config.proxy.allow_lan_access;
    if is_admin && !admin_key.is_empty() && admin_needed && !admin_ok {
        let why = auth::check_key(admin_key, headers, req.query_string())
            .err()
            .unwrap_or_default();
        return Err(refuse(GatewayError::AdminUnauthorized(
            why.replace("proxy.api_key", "proxy.admin_key"),
        )));
    }
    if let Some(name) = client {
        use actix_web::HttpMessage;
        req.extensions_mut()
            .insert(edge::ClientName(std::sync::Arc::from(name)));
    }
    Ok(Cors(allowed_origin))
}

/// Adds what every answer carries: `x-request-id` (the proxy path sets its own), and the CORS
/// origin for an allowed browser origin.
fn finish_answer(mut response: ServiceResponse<BoxBody>, cors: Cors) -> ServiceResponse<BoxBody> {
    if !response.headers().contains_key(&names::X_REQUEST_ID) {
        let id = edge::request_id(response.request().headers()).header_value();
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), id);
    }
    if let Some(origin) = cors.0 {
        let headers = response.headers_mut();
        headers.insert(
            HeaderName::from_static("access-control-allow-origin"),
            origin,
        );
        headers.append(
            HeaderName::from_static("vary"),
            HeaderValue::from_static("Origin"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::listen_addresses;

    #[test]
    fn lan_access_listens_on_every_ipv4_and_ipv6_address_loopback_otherwise() {
        let (v4, v6) = listen_addresses(true, 8045);
        assert_eq!(
            (v4.to_string(), v6.to_string()),
            ("0.0.0.0:8045".into(), "[::]:8045".into())
        );
        let (v4, v6) = listen_addresses(false, 0);
        assert_eq!(
            (v4.to_string(), v6.to_string()),
            ("127.0.0.1:0".into(), "[::1]:0".into())
        );
    }
}
