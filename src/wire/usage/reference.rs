//! The readers of a usage object as they were before the one-pass reader, kept for tests only:
//! the property tests hold the one-pass reader to the same counts and the same warnings.

use super::{describe_value, parse_count, reject, Count, GeminiUsage, Rejected, UsageFields};
use crate::scan::{top_level_members, Member};

/// [`UsageFields::read`] as it was: the members listed, then each field looked for among them.
pub(crate) fn usage_fields(value: &[u8], rejected: &mut Vec<Rejected>) -> Option<UsageFields> {
    let members = top_level_members(value).ok()?;
    let mut field = |name: &'static str| read_count(value, &members, name, name, rejected);
    let mut usage = UsageFields {
        input_tokens: field("input_tokens"),
        output_tokens: field("output_tokens"),
        cache_read_input_tokens: field("cache_read_input_tokens"),
        cache_creation_input_tokens: field("cache_creation_input_tokens"),
        prompt_tokens: field("prompt_tokens"),
        completion_tokens: field("completion_tokens"),
        prompt_cache_hit_tokens: field("prompt_cache_hit_tokens"),
        ..UsageFields::default()
    };
    for (object, inner, shown, slot) in [
        (
            "prompt_tokens_details",
            "cached_tokens",
            "prompt_tokens_details.cached_tokens",
            &mut usage.prompt_cached_tokens,
        ),
        (
            "input_tokens_details",
            "cached_tokens",
            "input_tokens_details.cached_tokens",
            &mut usage.input_cached_tokens,
        ),
        (
            "completion_tokens_details",
            "reasoning_tokens",
            "completion_tokens_details.reasoning_tokens",
            &mut usage.completion_reasoning_tokens,
        ),
        (
            "output_tokens_details",
            "reasoning_tokens",
            "output_tokens_details.reasoning_tokens",
            &mut usage.output_reasoning_tokens,
        ),
        (
            "cache_creation",
            "ephemeral_5m_input_tokens",
            "cache_creation.ephemeral_5m_input_tokens",
            &mut usage.cache_creation_5m,
        ),
        (
            "cache_creation",
            "ephemeral_1h_input_tokens",
            "cache_creation.ephemeral_1h_input_tokens",
            &mut usage.cache_creation_1h,
        ),
    ] {
        *slot = read_nested_count(value, &members, object, inner, shown, rejected);
    }
    usage.responses_shape = members
        .iter()
        .any(|m| m.key == "input_tokens_details" || m.key == "output_tokens_details");
    Some(usage)
}

/// [`GeminiUsage::read`] as it was.
pub(crate) fn gemini_usage(value: &[u8], rejected: &mut Vec<Rejected>) -> Option<GeminiUsage> {
    let members = top_level_members(value).ok()?;
    let mut field = |name: &'static str| read_count(value, &members, name, name, rejected);
    Some(GeminiUsage {
        prompt: field("promptTokenCount"),
        cached: field("cachedContentTokenCount"),
        tool_use_prompt: field("toolUsePromptTokenCount"),
        candidates: field("candidatesTokenCount"),
        thoughts: field("thoughtsTokenCount"),
    })
}

fn read_nested_count(
    value: &[u8],
    members: &[Member<'_>],
    object: &str,
    inner: &str,
    shown: &'static str,
    rejected: &mut Vec<Rejected>,
) -> Count {
    let mut named = members.iter().filter(|m| m.key == object);
    let (Some(member), more) = (named.next(), named.next()) else {
        return Count::Absent;
    };
    let nested = &value[member.value.clone()];
    if more.is_some() {
        reject(rejected, shown, None);
        return Count::Unusable;
    }
    match top_level_members(nested) {
        Ok(nested_members) => read_count(nested, &nested_members, inner, shown, rejected),
        Err(_) => Count::Absent,
    }
}

fn read_count(
    object: &[u8],
    members: &[Member<'_>],
    name: &str,
    shown: &'static str,
    rejected: &mut Vec<Rejected>,
) -> Count {
    let mut named = members.iter().filter(|m| m.key == name);
    let Some(member) = named.next() else {
        return Count::Absent;
    };
    if named.next().is_some() {
        reject(rejected, shown, None);
        return Count::Unusable;
    }
    let text = &object[member.value.clone()];
    if text == b"null" {
        return Count::Absent;
    }
    match parse_count(text) {
        Some(n) => Count::Given(n),
        None => {
            reject(rejected, shown, Some(describe_value(text)));
            Count::Unusable
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NAMES: &[&str] = &[
        r#""input_tokens""#,
        r#""input_t\u006fkens""#,
        r#""output_tokens""#,
        r#""cache_read_input_tokens""#,
        r#""cache_creation_input_tokens""#,
        r#""cache_creation""#,
        r#""ephemeral_5m_input_tokens""#,
        r#""ephemeral_1h_input_tokens""#,
        r#""prompt_tokens""#,
        r#""completion_tokens""#,
        r#""prompt_cache_hit_tokens""#,
        r#""prompt_tokens_details""#,
        r#""input_tokens_details""#,
        r#""completion_tokens_details""#,
        r#""output_tokens_details""#,
        r#""cached_tokens""#,
        r#""reasoning_tokens""#,
        r#""promptTokenCount""#,
        r#""cachedContentTokenCount""#,
        r#""toolUsePromptTokenCount""#,
        r#""candidatesTokenCount""#,
        r#""thoughtsTokenCount""#,
        r#""total_tokens""#,
        "\"\u{e9}\"",
    ];

    const COUNTS: &[&str] = &[
        "0",
        "12",
        "007",
        "1000000000000",
        "1000000000001",
        "99999999999999999999",
        "-1",
        "1.5",
        "1e3",
        "12ab",
        r#""12""#,
        "null",
        "true",
        "[1]",
        "{}",
        r#""a \"}\" [""#,
    ];

    /// A usage object whose members are counts or objects of counts, named once or twice.
    fn usage_object() -> impl Strategy<Value = String> {
        let count = prop::sample::select(COUNTS).prop_map(String::from);
        let member = |value: BoxedStrategy<String>| {
            (prop::sample::select(NAMES), value).prop_map(|(k, v)| format!("{k}:{v}"))
        };
        let inner = prop::collection::vec(member(count.clone().boxed()), 0..4)
            .prop_map(|m| format!("{{{}}}", m.join(",")));
        prop::collection::vec(member(prop_oneof![count, inner].boxed()), 0..8)
            .prop_map(|m| format!("{{{}}}", m.join(" , ")))
    }

    fn damaged() -> impl Strategy<Value = Vec<u8>> {
        (
            usage_object(),
            prop::collection::vec(
                (
                    any::<prop::sample::Index>(),
                    prop::sample::select(&b"\"\\{}[]:, 1\n"[..]),
                ),
                0..3,
            ),
        )
            .prop_map(|(text, edits)| {
                let mut bytes = text.into_bytes();
                for (at, byte) in edits {
                    let at = at.index(bytes.len());
                    bytes[at] = byte;
                }
                bytes
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// On usage objects, whole or damaged, the one-pass readers give what the readers before
        /// them gave, and warn of the same fields in the same order.
        #[test]
        fn one_pass_reads_as_before(value in damaged()) {
            let (mut new, mut old) = (Vec::new(), Vec::new());
            prop_assert_eq!(UsageFields::read(&value, &mut new), usage_fields(&value, &mut old));
            prop_assert_eq!(&new, &old);
            let (mut new, mut old) = (Vec::new(), Vec::new());
            prop_assert_eq!(GeminiUsage::read(&value, &mut new), gemini_usage(&value, &mut old));
            prop_assert_eq!(&new, &old);
        }
    }
}
