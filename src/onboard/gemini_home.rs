//! The home `switchyard gemini` gives Gemini CLI. With a base URL, Gemini CLI 0.61 runs only when
//! its settings say `security.auth.selectedType = "gemini-api-key"`, and neither a flag nor an
//! environment variable can say it; a system settings file is honoured only when root owns it.
//! So Gemini CLI gets `GEMINI_CLI_HOME` pointing at a private temporary home whose
//! `.gemini/settings.json` is the user's own with that one key set, and whose other entries are
//! links to the user's own `.gemini` entries (memory, MCP servers, extensions, sessions). Nothing
//! is written into the user's `.gemini`; the home is removed when the run ends.

use crate::files;
use serde_json::{Map, Value};
use std::io;
use std::path::{Path, PathBuf};

/// The auth type Gemini CLI needs to send its API key to a custom base URL.
pub const AUTH_TYPE: &str = "gemini-api-key";

/// The folder under a Gemini CLI home that holds its settings and state.
pub const GEMINI_DIR: &str = ".gemini";

/// The settings file in [`GEMINI_DIR`].
pub const SETTINGS_FILE: &str = "settings.json";

/// The user's own Gemini folder: `$GEMINI_CLI_HOME/.gemini` when the user set that variable,
/// else `~/.gemini`.
pub fn user_gemini_dir(gemini_cli_home: Option<PathBuf>, home: Option<PathBuf>) -> Option<PathBuf> {
    gemini_cli_home
        .filter(|p| !p.as_os_str().is_empty())
        .or(home)
        .map(|base| base.join(GEMINI_DIR))
}

/// `text` with its `//` and `/* */` comments blanked out (strings left alone), as Gemini CLI reads
/// its settings files.
pub fn strip_json_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => out.extend(chars.next()),
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                while chars.peek().is_some_and(|&n| n != '\n') {
                    chars.next();
                }
                out.push(' ');
            }
            ('/', Some('*')) => {
                chars.next();
                let mut last = '\0';
                for n in chars.by_ref() {
                    if last == '*' && n == '/' {
                        break;
                    }
                    // Line breaks are kept, so that Gemini CLI's errors name the right lines.
                    if n == '\n' {
                        out.push('\n');
                    }
                    last = n;
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    out
}

/// Why the user's settings could not be carried over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SettingsProblem(String);

/// The settings Gemini CLI gets: the user's own (`None`: there are none) with
/// `security.auth.selectedType` set to [`AUTH_TYPE`] and everything else as it was.
pub fn settings_with_api_key_auth(user: Option<&str>) -> Result<String, SettingsProblem> {
    let mut settings = match user.map(strip_json_comments) {
        None => Map::new(),
        Some(text) if text.trim().is_empty() => Map::new(),
        Some(text) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(SettingsProblem("it is not a JSON object".into())),
            Err(e) => return Err(SettingsProblem(format!("it is not JSON: {e}"))),
        },
    };
    let mut node = &mut settings;
    for key in ["security", "auth"] {
        let entry = node.entry(key).or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        node = entry.as_object_mut().expect("made an object above");
    }
    node.insert("selectedType".into(), Value::String(AUTH_TYPE.into()));
    let mut text = serde_json::to_string_pretty(&Value::Object(settings))
        .map_err(|e| SettingsProblem(e.to_string()))?;
    text.push('\n');
    Ok(text)
}

/// The auth type a settings text selects, if any (comments allowed).
pub fn selected_auth_type(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(&strip_json_comments(text)).ok()?;
    value
        .pointer("/security/auth/selectedType")?
        .as_str()
        .map(str::to_string)
}

/// A private temporary Gemini CLI home (see the module's doc), removed when dropped.
#[derive(Debug)]
pub struct GeminiHome {
    root: PathBuf,
}

impl GeminiHome {
    /// Makes a new 0700 home under `temp` for the user whose Gemini folder is `user_dir` (which
    /// may be missing): its `settings.json` (0600) comes from [`settings_with_api_key_auth`],
    /// and every other entry of `user_dir` is a link to the user's own. When the user's settings
    /// cannot be read as JSON, the home gets the auth type alone and the second value says why.
    pub fn create(
        temp: &Path,
        user_dir: Option<&Path>,
    ) -> io::Result<(GeminiHome, Option<String>)> {
        let home = GeminiHome {
            root: new_private_dir(temp)?,
        };
        let dir = home.root.join(GEMINI_DIR);
        files::create_private_dir_all(&dir)?;
        let user_settings = match user_dir.map(|d| d.join(SETTINGS_FILE)) {
            Some(path) => match std::fs::read_to_string(&path) {
                Ok(text) => Some((path, text)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
            },
            None => None,
        };
        let (settings, problem) = match settings_with_api_key_auth(
            user_settings.as_ref().map(|(_, t)| t.as_str()),
        ) {
            Ok(settings) => (settings, None),
            Err(problem) => {
                let path = user_settings.as_ref().map(|(p, _)| p.display().to_string());
                let why = format!(
                        "{} cannot be carried over ({problem}); Gemini CLI runs with none of its settings",
                        path.unwrap_or_default()
                    );
                (
                    settings_with_api_key_auth(None).expect("empty settings"),
                    Some(why),
                )
            }
        };
        files::write_new_private(&dir.join(SETTINGS_FILE), settings.as_bytes())?;
        if let Some(user_dir) = user_dir {
            link_user_entries(user_dir, &dir)?;
        }
        Ok((home, problem))
    }

    /// The folder to give Gemini CLI as `GEMINI_CLI_HOME`.
    pub fn path(&self) -> &Path {
        &self.root
    }
}

impl Drop for GeminiHome {
    fn drop(&mut self) {
        // `remove_dir_all` removes the links themselves, never what they point to.
        if let Err(e) = std::fs::remove_dir_all(&self.root) {
            log::warn!("could not remove {}: {e}", self.root.display());
        }
    }
}

/// A new folder `switchyard-gemini-<random>` under `temp`, 0700, that did not exist before.
fn new_private_dir(temp: &Path) -> io::Result<PathBuf> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(files::PRIVATE_DIR_MODE);
    }
    let mut last = None;
    for _ in 0..8 {
        let root = temp.join(format!("switchyard-gemini-{:016x}", fastrand::u64(..)));
        // Never an existing folder: one made by someone else could be read by them.
        match builder.create(&root) {
            Ok(()) => return Ok(root),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free name")))
}

/// Links every entry of `user_dir` but the settings file into `dir`.
#[cfg(unix)]
fn link_user_entries(user_dir: &Path, dir: &Path) -> io::Result<()> {
    let entries = match std::fs::read_dir(user_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let name = entry?.file_name();
        if name == SETTINGS_FILE {
            continue;
        }
        std::os::unix::fs::symlink(user_dir.join(&name), dir.join(&name))?;
    }
    Ok(())
}

/// Without symbolic links for everyone, Gemini CLI gets the settings alone.
#[cfg(not(unix))]
fn link_user_entries(_user_dir: &Path, _dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn no_user_settings_gives_the_auth_type_alone() {
        let text = settings_with_api_key_auth(None).unwrap();
        assert_eq!(
            parsed(&text),
            serde_json::json!({"security": {"auth": {"selectedType": "gemini-api-key"}}})
        );
    }

    #[test]
    fn the_users_settings_keep_everything_but_the_auth_type() {
        let user = r#"{
  // the user's own comment
  "mcpServers": {"docs": {"command": "docs-mcp", "args": ["--url", "http://a//b"]}},
  "security": {"auth": {"selectedType": "oauth-personal", "useExternal": false}, "folderTrust": {"enabled": true}},
  /* a block
     comment */
  "ui": {"theme": "GitHub"}
}"#;
        let text = settings_with_api_key_auth(Some(user)).unwrap();
        assert_eq!(
            parsed(&text),
            serde_json::json!({
                "mcpServers": {"docs": {"command": "docs-mcp", "args": ["--url", "http://a//b"]}},
                "security": {"auth": {"selectedType": "gemini-api-key", "useExternal": false}, "folderTrust": {"enabled": true}},
                "ui": {"theme": "GitHub"}
            })
        );
    }

    #[test]
    fn a_security_section_that_is_not_an_object_is_replaced() {
        let text = settings_with_api_key_auth(Some(r#"{"security": 3}"#)).unwrap();
        assert_eq!(selected_auth_type(&text).as_deref(), Some(AUTH_TYPE));
        assert_eq!(
            settings_with_api_key_auth(Some("  \n")).unwrap(),
            settings_with_api_key_auth(None).unwrap()
        );
    }

    #[test]
    fn settings_that_are_not_a_json_object_are_named_as_such() {
        assert!(settings_with_api_key_auth(Some("[1]")).is_err());
        assert!(settings_with_api_key_auth(Some("{\"a\": ")).is_err());
    }

    #[test]
    fn comments_are_stripped_outside_strings_only() {
        assert_eq!(
            strip_json_comments("{\"a\": \"x // y /* z */\\\"//\"} // end"),
            "{\"a\": \"x // y /* z */\\\"//\"}  "
        );
        assert_eq!(strip_json_comments("/* a\nb */1"), "\n 1");
    }

    #[test]
    fn the_user_folder_follows_gemini_cli_home_then_home() {
        let home = Some(PathBuf::from("/home/me"));
        assert_eq!(
            user_gemini_dir(None, home.clone()),
            Some(PathBuf::from("/home/me/.gemini"))
        );
        assert_eq!(
            user_gemini_dir(Some(PathBuf::from("/alt")), home.clone()),
            Some(PathBuf::from("/alt/.gemini"))
        );
        assert_eq!(
            user_gemini_dir(Some(PathBuf::new()), home),
            Some(PathBuf::from("/home/me/.gemini"))
        );
        assert_eq!(user_gemini_dir(None, None), None);
    }

    #[cfg(unix)]
    #[test]
    fn the_home_is_private_links_the_users_entries_and_goes_away() {
        use std::os::unix::fs::PermissionsExt;
        let temp = tempfile::tempdir().unwrap();
        let user = tempfile::tempdir().unwrap();
        let settings = r#"{"general": {"vimMode": true}}"#;
        std::fs::write(user.path().join(SETTINGS_FILE), settings).unwrap();
        std::fs::write(user.path().join("GEMINI.md"), "remember this").unwrap();
        std::fs::create_dir(user.path().join("tmp")).unwrap();
        let (home, problem) = GeminiHome::create(temp.path(), Some(user.path())).unwrap();
        assert_eq!(problem, None);
        let root = home.path().to_path_buf();
        let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root), 0o700);
        let dir = root.join(GEMINI_DIR);
        assert_eq!(mode(&dir.join(SETTINGS_FILE)), 0o600);
        let given = std::fs::read_to_string(dir.join(SETTINGS_FILE)).unwrap();
        assert_eq!(parsed(&given)["general"]["vimMode"], true);
        assert_eq!(selected_auth_type(&given).as_deref(), Some(AUTH_TYPE));
        assert_eq!(
            std::fs::read_link(dir.join("GEMINI.md")).unwrap(),
            user.path().join("GEMINI.md")
        );
        assert!(dir.join("tmp").is_dir());
        drop(home);
        assert!(!root.exists(), "the home is removed");
        assert_eq!(
            std::fs::read_to_string(user.path().join("GEMINI.md")).unwrap(),
            "remember this",
            "what the links pointed to stays"
        );
        assert!(user.path().join("tmp").is_dir());
        assert_eq!(
            std::fs::read_to_string(user.path().join(SETTINGS_FILE)).unwrap(),
            settings
        );
    }

    #[test]
    fn unreadable_user_settings_give_the_auth_type_alone_and_say_why() {
        let temp = tempfile::tempdir().unwrap();
        let user = tempfile::tempdir().unwrap();
        std::fs::write(user.path().join(SETTINGS_FILE), "{not json").unwrap();
        let (home, problem) = GeminiHome::create(temp.path(), Some(user.path())).unwrap();
        assert!(problem.unwrap().contains("not JSON"));
        let given =
            std::fs::read_to_string(home.path().join(GEMINI_DIR).join(SETTINGS_FILE)).unwrap();
        assert_eq!(given, settings_with_api_key_auth(None).unwrap());
    }

    #[test]
    fn a_missing_user_folder_gives_a_home_with_the_settings_alone() {
        let temp = tempfile::tempdir().unwrap();
        let missing = temp.path().join("nobody/.gemini");
        let (home, problem) = GeminiHome::create(temp.path(), Some(&missing)).unwrap();
        assert_eq!(problem, None);
        let names: Vec<_> = std::fs::read_dir(home.path().join(GEMINI_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [SETTINGS_FILE]);
        assert!(!missing.exists(), "nothing is made in the user's place");
    }
}
