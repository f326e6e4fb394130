//! What `switchyard check` prints: the effective config as YAML, from the settings' `Serialize`
//! view (every key redacted by [`Secret`](crate::Secret)'s own `Serialize`).

use super::settings::Config;

impl Config {
    /// The effective config as YAML, with every key redacted (what `switchyard check` prints).
    pub fn render_redacted(&self) -> String {
        let header = format!(
            "# auth in force: {} (proxy.auth_mode {})\n",
            self.proxy.effective_auth_mode().as_str(),
            self.proxy.auth_mode.as_str()
        );
        match serde_yaml::to_string(self) {
            Ok(yaml) => header + &yaml,
            Err(e) => format!("{header}# the settings cannot be shown: {e}\n"),
        }
    }
}
