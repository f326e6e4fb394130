//! Getting started: `switchyard init` (a starter config from the provider keys in the environment),
//! `switchyard env` (the lines that point clients at the gateway), and `switchyard claude` and
//! `switchyard codex` (a coding agent through the gateway, served for as long as it runs). The
//! decisions are plain functions with unit tests; the commands in `cli` and the process handling
//! in [`launch`] wrap them, and [`agent`] holds what differs between the agents.

pub mod agent;
pub mod env;
pub mod init;
pub mod launch;

pub use agent::{Agent, Invocation};
pub use env::{client_settings, client_vars, detect_shell, render_env, ClientSettings, Shell};
pub use init::{default_config_path, starter_config, StarterConfig, PROVIDERS};
