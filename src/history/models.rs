//! The model names usage is counted under, bounded per endpoint: a client can name any model, and
//! each new name would otherwise be a new metric series and a new history key for good. Each
//! endpoint keeps the first [`MODELS_PER_ENDPOINT`] distinct names it counted; any later new name
//! is counted as [`OTHER_MODEL`]. Plain code: `/metrics` holds one (names since start) and the
//! usage store another (names in its file).

use super::rows::Row;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Looked up on every answer: foldhash rather than std's slower default SipHash.
type Fast = foldhash::fast::RandomState;

/// Distinct model names counted per endpoint, in `/metrics` and in the usage history.
pub const MODELS_PER_ENDPOINT: usize = 256;

/// The name the usage of every model past the bound is counted under.
pub const OTHER_MODEL: &str = "other";

/// Per endpoint, the model names that keep their own series and history key.
#[derive(Debug)]
pub struct ModelNames {
    kept: HashMap<Arc<str>, HashSet<Arc<str>, Fast>, Fast>,
    other: Arc<str>,
    /// The last `(endpoint, model)` asked about and its name. The answer for a pair never
    /// changes (a kept name stays kept, a full endpoint stays full), and the request path shares
    /// one `Arc` per endpoint and model, so the next answer for the same model is told by two
    /// pointer comparisons instead of two hash lookups. Holding the `Arc`s keeps their addresses
    /// from being reused by other names.
    last: Option<(Arc<str>, Arc<str>, Arc<str>)>,
}

impl Default for ModelNames {
    fn default() -> Self {
        ModelNames {
            kept: HashMap::default(),
            other: Arc::from(OTHER_MODEL),
            last: None,
        }
    }
}

impl ModelNames {
    /// Names already counted (as the history file has them), up to the bound per endpoint in
    /// the order given.
    pub fn with_known(names: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut known = ModelNames::default();
        for (endpoint, model) in names {
            known.name_for(&Arc::from(endpoint), &Arc::from(model));
        }
        known
    }

    /// The name `model`'s usage at `endpoint` is counted under: its own while it is known or
    /// there is room (it is then remembered), else `other`.
    pub fn name_for(&mut self, endpoint: &Arc<str>, model: &Arc<str>) -> Arc<str> {
        if let Some((last_endpoint, last_model, name)) = &self.last {
            if Arc::ptr_eq(last_endpoint, endpoint) && Arc::ptr_eq(last_model, model) {
                return name.clone();
            }
        }
        let name = self.look_up(endpoint, model);
        self.last = Some((endpoint.clone(), model.clone(), name.clone()));
        name
    }

    /// [`Self::name_for`] without the last answer.
    fn look_up(&mut self, endpoint: &Arc<str>, model: &Arc<str>) -> Arc<str> {
        if **model == *OTHER_MODEL {
            return self.other.clone();
        }
        let names = match self.kept.get_mut(endpoint) {
            Some(names) => names,
            None => self.kept.entry(endpoint.clone()).or_default(),
        };
        if names.contains(model) {
            model.clone()
        } else if names.len() < MODELS_PER_ENDPOINT {
            names.insert(model.clone());
            model.clone()
        } else {
            self.other.clone()
        }
    }

    /// Counts `row` under a kept name: past the bound both its models become `other`.
    pub fn bound(&mut self, row: &mut Row) {
        let name = self.name_for(&row.endpoint, &row.model);
        if !Arc::ptr_eq(&name, &row.model) {
            row.model = name.clone();
            row.upstream_model = name;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_endpoint_keeps_its_first_names_and_counts_the_rest_as_other() {
        let mut names = ModelNames::default();
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        for i in 0..MODELS_PER_ENDPOINT {
            let model: Arc<str> = format!("m{i}").into();
            assert_eq!(names.name_for(&a, &model), model);
        }
        let late: Arc<str> = "late".into();
        assert_eq!(&*names.name_for(&a, &late), OTHER_MODEL);
        assert_eq!(
            &*names.name_for(&a, &"m0".into()),
            "m0",
            "a kept name stays"
        );
        assert_eq!(
            &*names.name_for(&b, &late),
            "late",
            "another endpoint has room"
        );
        assert_eq!(&*names.name_for(&b, &OTHER_MODEL.into()), OTHER_MODEL);
        assert_eq!(names.kept[&b].len(), 1, "`other` takes no room");
    }

    #[test]
    fn the_last_answer_repeated_is_the_answer_looked_up() {
        let mut names = ModelNames::default();
        let mut looked_up = ModelNames::default();
        let endpoints: [Arc<str>; 2] = ["a".into(), "b".into()];
        let models: Vec<Arc<str>> = (0..MODELS_PER_ENDPOINT + 3)
            .map(|i| format!("m{i}").into())
            .chain([Arc::from(OTHER_MODEL)])
            .collect();
        // Each pair asked twice in a row (the second from the last answer), then all again in
        // another order, past the bound.
        let pairs = endpoints
            .iter()
            .flat_map(|e| models.iter().map(move |m| (e, m)));
        let again = models
            .iter()
            .rev()
            .flat_map(|m| endpoints.iter().map(move |e| (e, m)));
        for (endpoint, model) in pairs.clone().chain(again) {
            for _ in 0..2 {
                assert_eq!(
                    names.name_for(endpoint, model),
                    looked_up.look_up(endpoint, model),
                    "{endpoint} {model}"
                );
            }
        }
        // The same text in another `Arc` is looked up, not taken for the last one.
        let late: Arc<str> = format!("m{}", MODELS_PER_ENDPOINT + 1).into();
        assert_eq!(&*names.name_for(&endpoints[0], &late), OTHER_MODEL);
    }

    #[test]
    fn names_known_from_the_history_come_first_and_a_bounded_record_loses_both_models() {
        let known = (0..MODELS_PER_ENDPOINT + 5).map(|i| ("a".to_string(), format!("m{i}")));
        let mut names = ModelNames::with_known(known);
        let row = |model: &str| {
            let record =
                crate::history::db::tests::record("2026-11-23T00:00:00Z", "a", model, None, None);
            crate::history::rows::Rows::of([record]).remove(0)
        };
        let mut record = row("m3");
        names.bound(&mut record);
        assert_eq!(
            (&*record.model, &*record.upstream_model),
            ("m3", "m3-upstream")
        );
        let mut record = row(&format!("m{}", MODELS_PER_ENDPOINT + 1));
        names.bound(&mut record);
        assert_eq!(
            (&*record.model, &*record.upstream_model),
            ("other", "other")
        );
    }
}
