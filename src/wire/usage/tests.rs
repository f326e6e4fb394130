use super::*;

fn fields(text: &str) -> (Option<Tokens>, Vec<Rejected>) {
    let mut rejected = Vec::new();
    let tokens = UsageFields::read(text.as_bytes(), &mut rejected).and_then(|u| u.tokens());
    (tokens, rejected)
}

fn tokens(text: &str) -> Option<Tokens> {
    fields(text).0
}

fn gemini(text: &str) -> Option<Tokens> {
    GeminiUsage::read(text.as_bytes(), &mut Vec::new()).and_then(|u| u.tokens())
}

#[test]
fn anthropic_cache_writes_split_by_lifetime_and_an_answer_without_the_split_wrote_for_5_minutes() {
    assert_eq!(
        tokens(
            r#"{"input_tokens":12,"cache_read_input_tokens":3000,"cache_creation_input_tokens":1500,
               "cache_creation":{"ephemeral_5m_input_tokens":500,"ephemeral_1h_input_tokens":1000},"output_tokens":7}"#
        ),
        Some(Tokens::new(12, 7, 3000, 500).with_cache_write_1h(1000))
    );
    assert_eq!(
        tokens(r#"{"input_tokens":12,"cache_creation_input_tokens":1500,"output_tokens":7}"#),
        Some(Tokens::new(12, 7, 0, 1500))
    );
    // What the total has beyond the split wrote for 5 minutes; a lifetime the split leaves out
    // wrote nothing.
    assert_eq!(
        tokens(
            r#"{"input_tokens":1,"cache_creation_input_tokens":1500,"cache_creation":{"ephemeral_1h_input_tokens":1000}}"#
        ),
        Some(Tokens::new(1, 0, 0, 500).with_cache_write_1h(1000))
    );
    assert_eq!(
        tokens(r#"{"input_tokens":1,"cache_creation":{"ephemeral_1h_input_tokens":8}}"#),
        Some(Tokens::new(1, 0, 0, 0).with_cache_write_1h(8))
    );
}

#[test]
fn an_unusable_part_of_the_split_is_unknown_and_the_total_still_tells_the_rest() {
    let (t, rejected) = fields(
        r#"{"input_tokens":1,"cache_creation_input_tokens":1500,"cache_creation":{"ephemeral_5m_input_tokens":"x","ephemeral_1h_input_tokens":1000}}"#,
    );
    assert_eq!(t, Some(Tokens::new(1, 0, 0, 500).with_cache_write_1h(1000)));
    assert_eq!(
        rejected,
        [Rejected {
            field: "cache_creation.ephemeral_5m_input_tokens",
            value: Some("a string".into())
        }]
    );
    let t = tokens(
        r#"{"input_tokens":1,"cache_creation_input_tokens":1500,"cache_creation":{"ephemeral_1h_input_tokens":-3}}"#,
    )
    .expect("usage");
    assert_eq!(t.get(Kind::CacheWrite1h), None);
    assert_eq!(t.get(Kind::CacheWrite5m), Some(0));
    let t = tokens(r#"{"input_tokens":1,"cache_creation_input_tokens":1.5}"#).expect("usage");
    assert_eq!(
        (t.get(Kind::CacheWrite5m), t.get(Kind::CacheWrite1h)),
        (None, None),
        "without a usable total or split, neither lifetime is known"
    );
    assert_eq!(t.get(Kind::Input), Some(1));
}

#[test]
fn chat_and_responses_reasoning_is_a_part_of_the_output() {
    assert_eq!(
        tokens(
            r#"{"prompt_tokens":100,"completion_tokens":40,"prompt_tokens_details":{"cached_tokens":60},
               "completion_tokens_details":{"reasoning_tokens":25}}"#
        ),
        Some(Tokens::new(40, 40, 60, 0).with_reasoning(25))
    );
    assert_eq!(
        tokens(
            r#"{"input_tokens":100,"input_tokens_details":{"cached_tokens":60},"output_tokens":40,
               "output_tokens_details":{"reasoning_tokens":25},"total_tokens":140}"#
        ),
        Some(Tokens::new(40, 40, 60, 0).with_reasoning(25))
    );
    let usage = br#"{"input_tokens":100,"output_tokens":4}"#;
    assert_eq!(tokens_of_usage(usage, true), Tokens::new(100, 4, 0, 0));
    assert_eq!(tokens_of_usage(usage, false), Tokens::new(100, 4, 0, 0));
}

#[test]
fn gemini_tool_use_prompt_is_input_and_thoughts_are_reasoning_billed_as_output() {
    assert_eq!(
        gemini(
            r#"{"promptTokenCount":2400,"cachedContentTokenCount":1920,"toolUsePromptTokenCount":30,
               "candidatesTokenCount":150,"thoughtsTokenCount":128,"totalTokenCount":2708}"#
        ),
        Some(Tokens::new(510, 278, 1920, 0).with_reasoning(128))
    );
    assert_eq!(
        tokens_of_usage_metadata(br#"{"promptTokenCount":5,"toolUsePromptTokenCount":"9"}"#)
            .get(Kind::Input),
        None,
        "an unusable part of the input makes the input unknown"
    );
    assert_eq!(gemini(r#"{"totalTokenCount":3}"#), None);
}

#[test]
fn the_billed_kinds_add_up_to_the_prompt_and_output_and_sums_keep_unknowns_apart() {
    let t = Tokens::new(10, 5, 100, 20).with_cache_write_1h(30);
    assert_eq!((t.cache_write(), t.prompt()), (50, 160));
    let mut unknown = Tokens::new(1, 1, 1, 1);
    unknown.unknown.insert(Kind::CacheWrite1h);
    let mut sum = unknown;
    sum.add(&t);
    assert_eq!(sum.get(Kind::CacheWrite1h), Some(30), "known in one part");
    let mut both = unknown;
    both.add(&unknown);
    assert_eq!(both.get(Kind::CacheWrite1h), None);
    let mut all = Unknown::default();
    for kind in Kind::BILLED {
        all.insert(kind);
    }
    assert!(all.is_all(), "reasoning is no billed kind");
}

#[test]
fn a_usage_field_is_told_by_its_length_as_by_a_scan() {
    let others: [&[u8]; 5] = [
        b"",
        b"input_tokenz",
        b"total_tokens",
        b"cache_creation_",
        b"x",
    ];
    for key in USAGE_NAMES.iter().copied().chain(others) {
        assert_eq!(usage_slot(key), slot_of(key, &USAGE_NAMES), "{key:?}");
    }
}

/// The one-pass reading gives what the full reading gives, rejecting nothing, or leaves the
/// object to it.
#[test]
fn a_flat_reading_is_the_full_reading_or_none() {
    let objects = [
        r#"{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":10}"#,
        r#"{ "input_tokens" : 007 , "output_tokens" : null , "tier" : "standard" , "b" : false }"#,
        r#"{"input_tokens":3,"cache_creation_input_tokens":50,"cache_creation":{"ephemeral_5m_input_tokens":20,"ephemeral_1h_input_tokens":30}}"#,
        r#"{"prompt_tokens":1500,"completion_tokens":42,"prompt_tokens_details":{"cached_tokens":1024},"completion_tokens_details":null}"#,
        r#"{"input_tokens":100,"input_tokens_details":{"cached_tokens":60},"output_tokens_details":{"reasoning_tokens":2}}"#,
        r#"{"input_tokens":1000000000000,"output_tokens":1000000000001}"#,
        r#"{"input_tokens":9999999999999}"#,
        r#"{"input_tokens":1,"input_tokens":2}"#,
        r#"{"input_tokens":12ab}"#,
        r#"{"input_tokens":1.5}"#,
        r#"{"input_tokens":-1}"#,
        r#"{"input_tokens":nul}"#,
        r#"{"input_tokens":"1"}"#,
        r#"{"in\u0070ut_tokens":1}"#,
        r#"{"input_tokens":1,}"#,
        "{}",
    ];
    let mut flat = 0;
    for text in objects {
        let mut rejected = Vec::new();
        let full = UsageFields::read(text.as_bytes(), &mut rejected);
        if let Some((usage, len)) = UsageFields::read_flat(text.as_bytes()) {
            flat += 1;
            assert_eq!(Some(usage), full, "{text}");
            assert!(rejected.is_empty(), "{text}");
            assert_eq!(len, text.len(), "{text}");
        }
    }
    assert_eq!(flat, 6);
}
