//! Model fallbacks (`fallbacks:`): when the Balancer has no endpoint left for a request's model
//! (every one that serves it is rate-limited for it, over budget, out, or tried, or none lists
//! it), the request moves on to the next model its rule names, over the same selection, while no
//! byte has reached the client. Each model is tried once, and a fallback's own rule is never
//! followed, so a request never loops.

use super::{decide, Progress, Relay};
use crate::balancer::NoEndpoint;
use crate::config::Config;
use std::collections::VecDeque;
use std::sync::Arc;

/// The models a request may still move on to, with the rule that names them.
#[derive(Debug, Default)]
pub(super) struct FallbackChain {
    /// The rule's pattern.
    rule: Arc<str>,
    next: VecDeque<Arc<str>>,
}

impl FallbackChain {
    /// The chain of a request for `asked` under `config`'s rules: the first rule that matches
    /// it, without `asked` itself or a model named twice (empty when no rule matches).
    pub fn of(config: &Config, asked: &str) -> FallbackChain {
        let Some(rule) = config.fallback_rule(asked) else {
            return FallbackChain::default();
        };
        let mut next: VecDeque<Arc<str>> = VecDeque::with_capacity(rule.models.len());
        for model in &rule.models {
            if model != asked && !next.iter().any(|m| **m == **model) {
                next.push_back(Arc::from(model.as_str()));
            }
        }
        FallbackChain {
            rule: Arc::from(rule.pattern.as_str()),
            next,
        }
    }

    /// The next model to try, with the rule that names it.
    pub fn next(&mut self) -> Option<(Arc<str>, Arc<str>)> {
        let model = self.next.pop_front()?;
        Some((self.rule.clone(), model))
    }
}

impl Relay<'_> {
    /// The Balancer had no endpoint for the model the request is on: moves it on to its next
    /// fallback model (`Ok`), or gives back why the model the client asked for could not be
    /// served (`Err`) when no fallback is left, or none applies to why.
    pub(super) fn fall_back<S>(
        &mut self,
        progress: &mut Progress<S>,
        no: NoEndpoint,
    ) -> Result<(), NoEndpoint> {
        let asked = match self.ctx().model() {
            Some(asked) if self.call().names_a_model() && decide::falls_back(&no) => asked.clone(),
            _ => return Err(progress.first_refusal.take().unwrap_or(no)),
        };
        let config = self.config;
        let chain = progress
            .fallbacks
            .get_or_insert_with(|| FallbackChain::of(config, &asked));
        let Some((rule, model)) = chain.next() else {
            return Err(progress.first_refusal.take().unwrap_or(no));
        };
        log::info!(
            "{}: no endpoint can serve {} now ({no}); trying the fallback {model} (fallbacks: {rule})",
            self.ctx().id.as_str(),
            progress.model.as_deref().unwrap_or(&asked)
        );
        progress.first_refusal.get_or_insert(no);
        progress.move_to(model.clone());
        self.state.metrics.fallback(&rule, &model);
        self.end.note_fallback(&model);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(fallbacks: &str) -> Config {
        crate::config::parse(
            &format!("fallbacks:\n{fallbacks}endpoints:\n  - base_url: https://a.example\n    api_key: k\n"),
            &|_| None,
        )
        .unwrap()
    }

    fn models(mut chain: FallbackChain) -> Vec<String> {
        std::iter::from_fn(|| chain.next().map(|(_, m)| m.to_string())).collect()
    }

    #[test]
    fn the_first_matching_rule_gives_its_models_in_order_once_each() {
        let config = config(
            "  claude-opus-4*: [claude-sonnet-4-5, claude-opus-4-5, claude-haiku-4-5, claude-sonnet-4-5]\n  claude-*: [deepseek-chat]\n",
        );
        let chain = FallbackChain::of(&config, "claude-opus-4-5");
        assert_eq!(&*chain.rule, "claude-opus-4*");
        assert_eq!(
            models(chain),
            ["claude-sonnet-4-5", "claude-haiku-4-5"],
            "never the asked model again, never one twice"
        );
        assert_eq!(
            models(FallbackChain::of(&config, "claude-sonnet-4-5")),
            ["deepseek-chat"]
        );
        assert!(models(FallbackChain::of(&config, "gpt-5")).is_empty());
    }
}
