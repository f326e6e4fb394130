//! Configuration: the YAML file as written ([`raw`]) is read ([`load`](load_file)), `${VAR}`s are
//! expanded, every value is checked and defaulted (`validate.rs`) into the typed [`settings`], and
//! `check` prints them back (`render.rs`). All defaults live in [`defaults`]; every error names the
//! field and, where it can be found, the line.

pub mod defaults;
mod error;
mod expand;
mod glob;
mod live;
mod load;
mod locate;
pub mod raw;
mod render;
pub mod settings;
pub mod units;
mod validate;
mod wire;

pub use error::{ConfigError, Problem, ReloadError};
pub use expand::expand_env;
pub use glob::glob_match;
pub use live::LiveConfig;
pub use load::{default_state_file, load_file, parse, resolve_config_path};
pub use settings::*;
pub use validate::{default_endpoint_id, warnings};
pub use wire::{KeyFinder, Wire, MIN_SEARCHED_KEY};

/// The exit status of every command that stops on a config error.
pub const EXIT_CONFIG: u8 = 2;

#[cfg(test)]
mod tests;
