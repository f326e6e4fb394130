//! Config errors: a [`Problem`] names the field and, where known, the line; a [`ConfigError`] adds
//! the file, or says why no file could be read.

use std::fmt;
use std::path::{Path, PathBuf};

/// A config problem: the field it is about, the line where known, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if self.field.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// Everything that can go wrong while finding, reading or checking a config file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read the config file: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no config file found (tried {tried}); pass --config FILE or set SWITCHYARD_CONFIG")]
    NotFound { tried: String },
    #[error("{file}{problem}")]
    Invalid { file: String, problem: Problem },
}

impl ConfigError {
    pub(super) fn invalid(source: Option<&Path>, problem: Problem) -> Self {
        let file = source
            .map(|p| format!("{}: ", p.display()))
            .unwrap_or_default();
        ConfigError::Invalid { file, problem }
    }
}

/// Why a reload left the running config in force.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("this gateway was not started from a config file")]
    NoConfigFile,
    /// The file could not be read or is invalid; the message names the field or line.
    #[error(transparent)]
    Config(#[from] ConfigError),
}
