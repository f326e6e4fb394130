//! What `switchyard check` prints: the effective config as YAML, from the settings' `Serialize`
//! view (every key redacted by [`Secret`](crate::Secret)'s own `Serialize`).

use super::settings::{Config, EndpointConfig};
use crate::usage::PriceSource;

impl Config {
    /// The effective config as YAML, with every key redacted, and where its prices come from
    /// (what `switchyard check` prints).
    pub fn render_redacted(&self) -> String {
        let header = format!(
            "# auth in force: {} (proxy.auth_mode {})\n",
            self.proxy.effective_auth_mode().as_str(),
            self.proxy.auth_mode.as_str()
        );
        match serde_yaml::to_string(self) {
            Ok(yaml) => header + &yaml + &self.describe_prices(),
            Err(e) => format!("{header}# the settings cannot be shown: {e}\n"),
        }
    }
}

impl Config {
    /// Where each endpoint's prices come from, as YAML comment lines: for each model it names
    /// (in `models` or as a `model_map` target) the source and the rates, then what any other
    /// model would be priced by.
    pub fn describe_prices(&self) -> String {
        let mut out = String::from(
            "# prices, USD per million tokens (input / output / cache read / cache write 5m / 1h):\n",
        );
        let prices = &self.usage.prices;
        for endpoint in &self.endpoints {
            let id = crate::text::escape_controls(&endpoint.id);
            for model in named_models(endpoint) {
                let shown = crate::text::escape_controls(&model);
                let line = match prices.lookup(endpoint.price.as_ref(), &model) {
                    Some((price, source)) => {
                        let source = match (&source, prices.file()) {
                            (PriceSource::File { .. }, Some(file)) => {
                                format!("{source} of {}", crate::text::escape_controls(file))
                            }
                            _ => source.to_string(),
                        };
                        format!("{source}: {}", price.rates(&model).describe())
                    }
                    None => "no price known: unpriced".to_string(),
                };
                out.push_str(&format!("#   {id}: {shown}: {line}\n"));
            }
            let rest = if endpoint.price.is_some() {
                "its own price".to_string()
            } else {
                match prices.file() {
                    Some(file) => format!(
                        "the price file {}, then the built-in table, else unpriced",
                        crate::text::escape_controls(file)
                    ),
                    None => "the built-in table, else unpriced".to_string(),
                }
            };
            out.push_str(&format!("#   {id}: any other model: {rest}\n"));
        }
        out
    }
}

/// The model names an endpoint is known to send upstream: its `models` that are no pattern (each
/// as its `model_map` renames it) and its `model_map`'s targets, each once.
fn named_models(endpoint: &EndpointConfig) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let literal = endpoint
        .models
        .iter()
        .filter(|m| !m.contains(['*', '?', '[']))
        .map(|m| endpoint.upstream_model(m).unwrap_or(m).to_string());
    let targets = endpoint.model_map.iter().map(|(_, to)| to.clone());
    for name in literal.chain(targets) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}
