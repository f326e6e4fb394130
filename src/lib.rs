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
//! - plain rooms, no actor: [`translate`] (the two APIs and the conversions between them),
//!   [`usage`] (tokens read from answers, prices, budgets, the UTC clock), [`config`] (raw YAML →
//!   validated settings, and the one model map), [`upstream`] (client, TLS, URLs, headers,
//!   outcomes), [`auth`] (client keys), [`edge`] (path and browser rules), [`gateway_error`] (the
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
//! - `cli` → server, onboard, mock, endpoint (the state words), config, instance, files, text,
//!   words
//! - `server` → proxy, admin, supervisor, balancer, endpoint, history, auth, edge, gateway_error,
//!   upstream, config, metrics, instance
//! - `proxy` → balancer, endpoint, history, gateway_error, upstream, translate, config, usage,
//!   metrics, scan, text
//! - `admin` → balancer, endpoint, history, gateway_error, config, usage, metrics, instance,
//!   text, words
//! - `onboard` → config, instance, files
//! - `supervisor` → balancer, endpoint, history, config, files
//! - `balancer` → endpoint, upstream, translate, config
//! - `endpoint` → upstream, translate, config, usage, words
//! - `history` → config, usage, files
//! - `gateway_error` → upstream, edge, translate, config, words
//! - `auth` → upstream, config, Secret
//! - `upstream` → config
//! - `config` → translate, usage, words, Secret
//! - `translate` → words; `usage` → scan; `edge` → text; `instance` → files; the other leaves
//!   import nothing
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
