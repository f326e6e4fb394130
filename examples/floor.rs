//! The floor for the benchmark: actix-web (one worker) and awc forwarding bytes to one upstream,
//! and nothing else: no balancer, no actors, no parsing, no metrics. It reads each request body
//! whole into one buffer before sending it on, as any gateway that routes on the body's `model`
//! must. What it costs per request is what the stack costs; what switchyard costs above it is
//! switchyard's own code.
//!
//! `floor UPSTREAM_URL [PORT] [--actors]` prints `floor listening on http://127.0.0.1:PORT`, then
//! serves until killed. With `--actors` each request also makes the message round trips that
//! switchyard's design makes (see [`design`]): the stack plus the actor design, still without any
//! of switchyard's own work.

use actix_web::body::SizedStream;
use actix_web::http::header::{self, HeaderMap, HeaderName};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use std::time::Duration;

/// Headers that belong to one connection, not to the message (RFC 9110 §7.6.1), plus the framing
/// headers the relay sets itself and `host`, which awc takes from the upstream URL.
const NOT_FORWARDED: [HeaderName; 11] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::CONTENT_LENGTH,
    header::HOST,
];

/// The upstream and the client that reaches it (one per worker: awc clients are not `Send`).
struct Upstream {
    base: String,
    client: awc::Client,
    /// `--actors`: the picker every request asks first.
    picker: Option<actix::Addr<design::Picker>>,
}

/// The messages switchyard's actor design sends for every request, and nothing else: the request
/// asks a picker actor (switchyard's `Balancer`), which asks the endpoint actor to admit it
/// (`IsHealthy { claim: true }`) and answers with that actor's address; once the answer's head is
/// in, the endpoint actor is told the outcome with what it cost (`RequestSucceeded`), in one
/// message.
pub mod design {
    use actix::prelude::*;

    /// One upstream endpoint's actor: it counts what is in flight.
    #[derive(Default)]
    pub struct EndpointActor {
        in_flight: u32,
        spent: f64,
    }

    impl Actor for EndpointActor {
        type Context = Context<Self>;
    }

    #[derive(Message)]
    #[rtype(result = "bool")]
    pub struct Claim;

    /// The outcome, and what the answer cost.
    #[derive(Message)]
    #[rtype(result = "()")]
    pub struct Succeeded(pub f64);

    impl Handler<Claim> for EndpointActor {
        type Result = bool;
        fn handle(&mut self, _: Claim, _: &mut Self::Context) -> bool {
            self.in_flight += 1;
            true
        }
    }

    impl Handler<Succeeded> for EndpointActor {
        type Result = ();
        fn handle(&mut self, msg: Succeeded, _: &mut Self::Context) {
            self.in_flight = self.in_flight.saturating_sub(1);
            self.spent += msg.0;
        }
    }

    /// The picker: it asks its endpoint to admit each request.
    pub struct Picker {
        pub endpoint: Addr<EndpointActor>,
    }

    impl Actor for Picker {
        type Context = Context<Self>;
    }

    #[derive(Message)]
    #[rtype(result = "Option<Addr<EndpointActor>>")]
    pub struct Pick;

    impl Handler<Pick> for Picker {
        type Result = ResponseActFuture<Self, Option<Addr<EndpointActor>>>;
        fn handle(&mut self, _: Pick, _: &mut Self::Context) -> Self::Result {
            let endpoint = self.endpoint.clone();
            Box::pin(
                async move {
                    match endpoint.send(Claim).await {
                        Ok(true) => Some(endpoint),
                        _ => None,
                    }
                }
                .into_actor(self),
            )
        }
    }
}

fn forwarded(headers: &HeaderMap) -> impl Iterator<Item = (&HeaderName, &header::HeaderValue)> {
    headers
        .iter()
        .filter(|(name, _)| !NOT_FORWARDED.contains(name))
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The whole body, in one buffer sized from `content-length`.
async fn read_whole(mut body: web::Payload, length: Option<u64>) -> Result<bytes::Bytes, String> {
    use futures_util::StreamExt as _;
    let capacity = length.map_or(0, |n| usize::try_from(n).unwrap_or(0).min(64 << 20));
    let mut buffer = bytes::BytesMut::with_capacity(capacity);
    while let Some(chunk) = body.next().await {
        buffer.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
    }
    Ok(buffer.freeze())
}

/// Sends the request on as it came (method, path and query, headers, the body read whole) and
/// relays the answer as it streams.
async fn forward(req: HttpRequest, body: web::Payload, up: web::Data<Upstream>) -> HttpResponse {
    let endpoint = match &up.picker {
        Some(picker) => match picker.send(design::Pick).await {
            Ok(Some(endpoint)) => Some(endpoint),
            _ => return HttpResponse::ServiceUnavailable().body("floor: no endpoint"),
        },
        None => None,
    };
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let mut outbound = up
        .client
        .request(req.method().clone(), format!("{}{target}", up.base));
    for (name, value) in forwarded(req.headers()) {
        outbound.headers_mut().append(name.clone(), value.clone());
    }
    let body = match read_whole(body, content_length(req.headers())).await {
        Ok(body) => body,
        Err(e) => return HttpResponse::BadRequest().body(format!("floor: {e}")),
    };
    let sent = outbound.send_body(body).await;
    let answer = match sent {
        Ok(answer) => answer,
        Err(e) => return HttpResponse::BadGateway().body(format!("floor: {e}")),
    };
    if let Some(endpoint) = endpoint {
        endpoint.do_send(design::Succeeded(0.0));
    }
    let mut response = HttpResponse::build(answer.status());
    for (name, value) in forwarded(answer.headers()) {
        response.append_header((name.clone(), value.clone()));
    }
    match content_length(answer.headers()) {
        Some(length) => response.body(SizedStream::new(length, answer)),
        None => response.streaming(answer),
    }
}

/// Serves on 127.0.0.1:`port` (0: any free port), forwarding everything to `upstream`; with
/// `actors`, each request also makes the actor design's message round trips.
pub fn serve(upstream: String, port: u16, actors: bool) -> std::io::Result<()> {
    use actix::Actor as _;
    actix_rt::System::new().block_on(async move {
        let base = upstream.trim_end_matches('/').to_string();
        let server = HttpServer::new(move || {
            // On the worker's thread, as switchyard starts its actors: no message crosses threads.
            let picker = actors.then(|| {
                let endpoint = design::EndpointActor::default().start();
                design::Picker { endpoint }.start()
            });
            let client = awc::Client::builder()
                .connector(awc::Connector::new().limit(0))
                .disable_redirects()
                .no_default_headers()
                .timeout(Duration::from_secs(600))
                .finish();
            App::new()
                .app_data(web::Data::new(Upstream {
                    base: base.clone(),
                    client,
                    picker,
                }))
                .default_service(web::to(forward))
        })
        .workers(1)
        .shutdown_timeout(1)
        .bind(("127.0.0.1", port))?;
        for addr in server.addrs() {
            println!("floor listening on http://{addr}");
        }
        server.run().await
    })
}

#[allow(dead_code)] // `counted` includes this file for `serve` and has a main of its own.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let actors = args.iter().any(|a| a == "--actors");
    let mut args = args.into_iter().filter(|a| a != "--actors");
    let Some(upstream) = args.next() else {
        eprintln!("usage: floor UPSTREAM_URL [PORT] [--actors]");
        std::process::exit(2)
    };
    let port = args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    if let Err(e) = serve(upstream, port, actors) {
        eprintln!("floor: {e}");
        std::process::exit(1)
    }
}
