//! switchyard: a local gateway that gives every LLM client on a workstation one base URL and sends
//! each request to a healthy upstream endpoint.
//!
//! Data flows one way: a request comes in ([`proxy`]), the [`balancer::Balancer`] actor asks the
//! [`endpoint::Endpoint`] actors `IsHealthy` and picks one, the request is forwarded and streamed
//! back, and the outcome goes as a message to the endpoint's actor, the only owner of its health.
//! The [`supervisor::Supervisor`] starts and reloads the actors; [`admin`] shows what they do.
//!
//! The module map, by floor. A module imports only from its own floor or the ones below, never
//! from above, and there is no import circle (within a floor too, the arrows point one way):
//! - leaves: [`words`](mod@words) (enums written as words), [`text`], [`scan`] (the top level
//!   of a JSON body, without parsing it), [`files`] (files only their owner reads), [`metrics`],
//!   [`instance`] (the proof of which config a gateway serves), [`mock`] (the mock upstream),
//!   [`Secret`].
//! - plain rooms, no actor: [`wire`] (what each API's bytes look like: the [`wire::Api`] words,
//!   error bodies and events, the SSE parser, the usage fields read into one model of tokens),
//!   [`translate`] (the conversions between the APIs),
//!   [`usage`] (tokens read from answers, prices, budgets, the UTC clock), [`config`] (raw YAML →
//!   validated settings, and the one model map), [`upstream`] (client, TLS, URLs, headers,
//!   outcomes), [`auth`] (client keys), [`edge`] (path and browser rules, and what a client
//!   calls in which API, judged once), [`gateway_error`] (the
//!   gateway's own answers, whose fault they are).
//! - actors: [`endpoint`] (health as plain code, the actor around it), [`balancer`] (strategies
//!   as plain functions, the actor around them), [`supervisor`] (starts and reloads them),
//!   [`history`] (the usage file, the actor that owns it, its `/metrics` series).
//! - edges: [`proxy`] (the request path) and [`admin`] (the gateway's own routes), whose handlers
//!   each take the handles they use as `web::Data`; [`onboard`] (the getting-started decisions).
//! - the composition root: [`server`] starts the actors, builds the app from the edges' handlers,
//!   and owns the sockets, the auth gate and the signals. Nothing below it imports it.
//! - the top: [`cli`], the commands, whose typed errors it turns into exit codes (`main.rs`
//!   calls it).
//!
//! The arrows (`crate::` imports of each room, tests included):
//! - `cli` → config, endpoint, files, instance, mock, onboard, server, text, words
//! - `server` → admin, auth, balancer, config, edge, endpoint, gateway_error, history, instance,
//!   metrics, proxy, supervisor, translate, upstream
//! - `proxy` → balancer, config, edge, endpoint, gateway_error, history, metrics, scan, text,
//!   translate, upstream, usage, wire
//! - `admin` → balancer, config, edge, endpoint, gateway_error, history, instance, metrics, text,
//!   translate, usage, words
//! - `onboard` → config, files, instance
//! - `supervisor` → balancer, config, endpoint, files, history
//! - `balancer` → config, endpoint, translate, upstream
//! - `endpoint` → config, translate, upstream, usage, words
//! - `history` → config, files, usage
//! - `gateway_error` → config, edge, translate, upstream, wire, words
//! - `auth` → Secret, config, upstream
//! - `upstream` → config
//! - `config` → Secret, translate, usage, words
//! - `edge` → text, translate, upstream
//! - `translate` → json_check, wire
//! - `wire` → scan, text, words
//! - `usage` → scan, text, wire; `instance` → files; the other leaves import nothing
#![forbid(unsafe_code)]

pub mod admin;
pub mod auth;
pub mod balancer;
pub mod cli;
pub mod config;
pub mod edge;
pub mod endpoint;
pub mod files;
pub mod gateway_error;
pub mod history;
pub mod instance;
pub mod json_check;
pub mod metrics;
pub mod mock;
pub mod onboard;
pub mod proxy;
pub mod scan;
mod secret;
pub mod server;
pub mod supervisor;
pub mod text;
pub mod translate;
pub mod upstream;
pub mod usage;
pub mod wire;
pub mod words;

pub use secret::Secret;
