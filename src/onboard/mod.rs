//! Getting started: `switchyard init` (a starter config from the provider keys in the environment),
//! `switchyard env` (the lines that point clients at the gateway), and `switchyard claude`,
//! `codex` and `gemini` (a coding agent through the gateway, served for as long as it runs). The
//! decisions are plain functions with unit tests; the commands in `cli` and the process handling
//! in [`launch`] wrap them, [`agent`] holds what differs between the agents, and [`gemini_home`]
//! the private home Gemini CLI is given.

pub mod agent;
pub mod env;
pub mod gemini_home;
pub mod init;
pub mod launch;

pub use agent::{Agent, Invocation};
pub use env::{client_settings, client_vars, detect_shell, render_env, ClientSettings, Shell};
pub use init::{default_config_path, starter_config, StarterConfig, PROVIDERS};
