//! Finding and reading the config file, and turning YAML errors into [`Problem`]s.

use super::error::{ConfigError, Problem};
use super::raw::RawConfig;
use super::settings::Config;
use super::validate::Validator;
use crate::usage::PriceTable;
use std::path::{Path, PathBuf};

/// Finds the config file: `--config`, then `$SWITCHYARD_CONFIG`, `./switchyard.yaml`,
/// `$XDG_CONFIG_HOME/switchyard/config.yaml` (or `~/.config/switchyard/config.yaml`).
pub fn resolve_config_path(explicit: Option<&Path>) -> Result<PathBuf, ConfigError> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    let mut tried = Vec::new();
    if let Some(path) = std::env::var_os("SWITCHYARD_CONFIG").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let mut candidates = vec![PathBuf::from("switchyard.yaml")];
    if let Some(xdg) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        candidates.push(PathBuf::from(xdg).join("switchyard/config.yaml"));
    } else if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        candidates.push(PathBuf::from(home).join(".config/switchyard/config.yaml"));
    }
    for candidate in candidates {
        if candidate.is_file() {
            return Ok(candidate);
        }
        tried.push(candidate.display().to_string());
    }
    Err(ConfigError::NotFound {
        tried: tried.join(", "),
    })
}

/// Reads and validates the config file at `path`, expanding `${VAR}` from the process environment.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut config = parse(&text, &|name| std::env::var(name).ok())
        .map_err(|problem| ConfigError::invalid(Some(path), problem))?;
    config.source = Some(path.to_path_buf());
    config.usage.database = resolve_database(&config.usage.database_setting, Some(path));
    if !config.usage.prices_setting.is_empty() {
        let table = read_price_file(&config.usage.prices_setting, path).map_err(|message| {
            let problem = Problem {
                field: "usage.prices".into(),
                line: super::locate::line_of(&text, "usage.prices"),
                message,
            };
            ConfigError::invalid(Some(path), problem)
        })?;
        config.usage.prices = std::sync::Arc::new(table);
    }
    if config.proxy.state_file.is_none() {
        config.proxy.state_file = Some(default_state_file(path));
    }
    Ok(config)
}

/// Where the history goes by default: `<config file>.usage.sqlite` beside the config.
pub fn default_database_path(config_file: &Path) -> PathBuf {
    let mut name = config_file.as_os_str().to_owned();
    name.push(".usage.sqlite");
    PathBuf::from(name)
}

/// The file `usage.database` names: `off` → none; empty → beside the config file, or in memory
/// (`:memory:`, kept until exit) when there is no config file (the demo); a relative path is
/// taken from the config file's folder.
pub fn resolve_database(setting: &str, config_file: Option<&Path>) -> Option<PathBuf> {
    let setting = setting.trim();
    if setting.eq_ignore_ascii_case("off") {
        return None;
    }
    if setting.is_empty() {
        return Some(
            config_file
                .map(default_database_path)
                .unwrap_or_else(|| PathBuf::from(":memory:")),
        );
    }
    let path = PathBuf::from(setting);
    if path.is_relative() && setting != ":memory:" {
        if let Some(folder) = config_file.and_then(Path::parent) {
            return Some(folder.join(path));
        }
    }
    Some(path)
}

/// Reads the price file `usage.prices` names (a relative path is taken from the config file's
/// folder). The message of a refusal names the file, and the row and field where it can.
fn read_price_file(setting: &str, config_file: &Path) -> Result<PriceTable, String> {
    let mut path = PathBuf::from(setting);
    if path.is_relative() {
        if let Some(folder) = config_file.parent() {
            path = folder.join(path);
        }
    }
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read the price file {shown}: {e}"))?;
    let rows = PriceTable::parse_rows(&text).map_err(|e| format!("{shown}: {e}"))?;
    Ok(PriceTable::new(shown, rows))
}

/// The state file kept beside a config file: `config.yaml` → `config.state.json`.
pub fn default_state_file(config_path: &Path) -> PathBuf {
    let stem = config_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "switchyard".to_string());
    config_path.with_file_name(format!("{stem}.state.json"))
}

/// Parses and validates config text; `env` looks up `${VAR}` values.
pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, Problem> {
    let raw: RawConfig = if text.trim().is_empty() {
        RawConfig::default()
    } else {
        serde_yaml::from_str(text).map_err(|e| problem_from_yaml(&e))?
    };
    Validator { text, env }.config(raw)
}

fn problem_from_yaml(error: &serde_yaml::Error) -> Problem {
    let mut message = error.to_string();
    // serde_yaml appends " at line L column C"; the line is reported separately.
    if let Some(at) = message.rfind(" at line ") {
        message.truncate(at);
    }
    // serde_yaml prefixes the path as "a.b[0]: ..."; keep it as the field.
    let (field, message) = match message.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') && !path.is_empty() && !path.starts_with('`') => {
            (path.to_string(), rest.to_string())
        }
        _ => (String::new(), message),
    };
    // An error serde_yaml cannot place (a stream it reads as several documents) is about the
    // file as a whole: it is reported at its first line, so it still says where to look.
    let line = match (error.location(), field.is_empty()) {
        (Some(at), _) => Some(at.line()),
        (None, true) => Some(1),
        (None, false) => None,
    };
    Problem {
        field,
        line,
        message,
    }
}
