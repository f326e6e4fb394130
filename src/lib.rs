//! switchyard: a local gateway that gives every LLM client on a workstation one base URL and sends
//! each request to a healthy upstream endpoint.
//!
//! Data flows one way: a request comes in ([`proxy`]), the [`balancer::Balancer`] actor asks the
//! [`endpoint::Endpoint`] actors `IsHealthy` and picks one, the request is forwarded and streamed
//! back, and the outcome goes as a message to the endpoint's actor, the only owner of its health.
//! The [`supervisor::Supervisor`] starts and reloads the actors; [`admin`] shows what they do.
//!
//! The module map, by floor; a module imports only from its own floor or the ones below:
//! - leaves: [`words`], [`Secret`], [`config`] (raw YAML → validated settings), [`metrics`],
//!   [`auth`] (client keys), [`upstream`] (client, TLS, URLs, headers), [`files`] (files only their
//!   owner reads).
//! - actors: [`endpoint`] (health as plain code, the actor around it), [`balancer`] (strategies
//!   as plain functions, the actor around them), [`supervisor`] (starts and reloads them).
//! - shared by the edges: [`gateway_error`] (the gateway's own answers, whose fault they are).
//! - edges: [`proxy`] (the request path), [`admin`] (the gateway's own routes), [`server`]
//!   (sockets, the auth gate, signals, and the `AppState` it hands the handlers), [`cli`], [`mock`].
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
pub mod words;

pub use secret::Secret;
