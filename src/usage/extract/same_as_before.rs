//! The reader against the one it replaced ([`super::reference`]): on random answers and streams,
//! whole or damaged, fed in random chunks, both see the same usage and reject the same fields.

use super::{reference, Reading, UsageReader};
use proptest::prelude::*;

/// Keys as an answer spells them (quotes included): the ones the reader looks for, escaped or
/// not, the fields of a usage object, and others.
const KEYS: &[&str] = &[
    r#""usage""#,
    r#""us\u0061ge""#,
    r#""usage\u004detadata""#,
    r#""usageMetadata""#,
    r#""message""#,
    r#""m\u0065ssage""#,
    r#""response""#,
    r#""content""#,
    r#""input""#,
    r#""id""#,
    r#""type""#,
    r#""a_key_longer_than_thirty_two_bytes_in_all""#,
    r#""\u0075\u0073\u0061\u0067\u0065""#,
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
];

/// Values that are not objects or arrays: counts good and bad, and strings with quotes,
/// backslashes and brackets in them.
const SCALARS: &[&str] = &[
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
    "false",
    r#""""#,
    r#""text with \"usage\": {\"output_tokens\": 999} [ ] \\""#,
    r#""a long text that runs well past one block of sixteen bytes, and then some more""#,
    r#""\\\\\"}""#,
];

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(KEYS).prop_map(String::from)
}

/// A JSON value: scalars, arrays and objects nested a few levels, with keys named twice.
fn value() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(SCALARS).prop_map(String::from);
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            (prop::collection::vec(inner.clone(), 0..5), any::<bool>())
                .prop_map(|(items, spaced)| format!("[{}]", items.join(sep(spaced)))),
            object_of(key(), inner),
        ]
    })
}

fn sep(spaced: bool) -> &'static str {
    if spaced {
        " ,\n "
    } else {
        ","
    }
}

fn object_of(
    key: impl Strategy<Value = String>,
    value: impl Strategy<Value = String>,
) -> impl Strategy<Value = String> {
    (prop::collection::vec((key, value), 0..7), any::<bool>()).prop_map(|(members, spaced)| {
        let members: Vec<String> = members
            .into_iter()
            .map(|(k, v)| {
                if spaced {
                    format!("{k} : {v}")
                } else {
                    format!("{k}:{v}")
                }
            })
            .collect();
        format!("{{{}}}", members.join(sep(spaced)))
    })
}

/// An answer's top-level object (or an SSE event's): its members are often a usage object, or a
/// `message` or `response` object holding one.
fn answer() -> impl Strategy<Value = String> {
    let usage = || object_of(key(), value());
    let holder = object_of(key(), prop_oneof![value(), usage()]);
    object_of(key(), prop_oneof![value(), usage(), holder])
}

/// A body with a few bytes changed, some of the time.
fn damaged(body: String) -> impl Strategy<Value = Vec<u8>> {
    let len = body.len().max(1);
    prop::collection::vec(
        (0..len, prop::sample::select(&b"\"\\{}[]:, 1a\n"[..])),
        0..3,
    )
    .prop_map(move |edits| {
        let mut bytes = body.clone().into_bytes();
        for (at, byte) in edits {
            if let Some(b) = bytes.get_mut(at) {
                *b = byte;
            }
        }
        bytes
    })
}

/// A JSON body: one answer, or an array of them (Gemini without `alt=sse`).
fn json_body() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => answer(),
        1 => prop::collection::vec(answer(), 0..4).prop_map(|all| format!("[{}]", all.join(","))),
    ]
}

/// An SSE stream of answers, with `event:` lines, comments, CRLF line ends and `[DONE]`.
fn sse_body() -> impl Strategy<Value = String> {
    prop::collection::vec((answer(), 0..4u8), 0..5).prop_map(|events| {
        let mut text = String::new();
        for (json, form) in events {
            match form {
                0 => text.push_str(&format!("event: x\ndata: {json}\n\n")),
                1 => text.push_str(&format!("data:{json}\r\n\r\n")),
                2 => text.push_str(&format!(": note\ndata: {json}\n\n")),
                _ => text.push_str(&format!("data: {json}\n\ndata: [DONE]\n\n")),
            }
        }
        text
    })
}

/// The readings of the new and the old reader, fed `body` cut at `cuts`.
fn both(sse: bool, body: &[u8], cuts: &[usize]) -> (Reading, Reading) {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    cuts.sort_unstable();
    let mut new = UsageReader::new(sse);
    let mut old = reference::UsageReader::new(sse);
    let mut from = 0;
    for cut in cuts.into_iter().chain([body.len()]) {
        new.feed(&body[from..cut]);
        old.feed(&body[from..cut]);
        from = cut;
    }
    (new.finish_reading(), old.finish_reading())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// JSON answers, whole or damaged, in random chunks.
    #[test]
    fn json_answers_read_as_before(
        body in json_body().prop_flat_map(damaged),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let (new, old) = both(false, &body, &cuts);
        prop_assert_eq!(new, old, "{}", String::from_utf8_lossy(&body));
    }

    /// SSE streams, whole or damaged, in random chunks.
    #[test]
    fn sse_streams_read_as_before(
        body in sse_body().prop_flat_map(damaged),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let (new, old) = both(true, &body, &cuts);
        prop_assert_eq!(new, old, "{}", String::from_utf8_lossy(&body));
    }

    /// Every answer the generator makes reads the same fed a byte at a time.
    #[test]
    fn answers_fed_a_byte_at_a_time_read_as_before(body in answer(), sse in any::<bool>()) {
        let body = if sse { format!("data: {body}\n\n") } else { body };
        let cuts: Vec<usize> = (0..body.len()).collect();
        let (new, old) = both(sse, body.as_bytes(), &cuts);
        prop_assert_eq!(new, old, "{}", body);
    }
}

/// The generator makes what the test needs: answers whose usage the reader finds, with rejected
/// fields, so that agreeing is not agreeing on nothing.
#[test]
fn the_generated_answers_give_usage_and_rejections() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut with_tokens, mut with_rejected) = (0, 0);
    for _ in 0..500 {
        let body = answer().new_tree(&mut runner).unwrap().current();
        let (new, _) = both(false, body.as_bytes(), &[]);
        with_tokens += usize::from(new.tokens.is_some());
        with_rejected += usize::from(!new.rejected.is_empty());
    }
    assert!(with_tokens > 50, "{with_tokens} answers of 500 gave usage");
    assert!(
        with_rejected > 20,
        "{with_rejected} answers of 500 had rejections"
    );
}

/// Usage objects the one-pass reading takes (plain counts, `null`, strings, the nested count
/// objects) and ones it leaves to the full reading (escapes, a field named twice, an unusable
/// count, arrays, a value too long to keep), each whole in one chunk, cut in two at every byte
/// and fed a byte at a time, as a JSON answer and as an SSE event: read as before.
#[test]
fn usage_objects_of_every_shape_read_as_before_wherever_the_chunks_end() {
    let usages = [
        r#"{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":10}"#,
        r#"{ "input_tokens" : 12 ,
            "output_tokens" : null , "service_tier" : "standard" , "ok" : true }"#,
        r#"{"input_tokens":3,"cache_creation_input_tokens":50,"cache_creation":{"ephemeral_5m_input_tokens":20,"ephemeral_1h_input_tokens":30},"output_tokens":7}"#,
        r#"{"prompt_tokens":1500,"completion_tokens":42,"total_tokens":1542,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":9}}"#,
        r#"{"input_tokens":100,"input_tokens_details":null,"output_tokens":5,"output_tokens_details":{"reasoning_tokens":2}}"#,
        r#"{"input_tokens":1,"input_tokens":2,"output_tokens":3}"#,
        r#"{"input_tokens":"12","output_tokens":1e3,"cache_read_input_tokens":-1}"#,
        r#"{"input_tokens":1,"cache_creation":{"ephemeral_5m_input_tokens":1,"ephemeral_5m_input_tokens":2}}"#,
        r#"{"input_t\u006fkens":12,"output_tokens":4}"#,
        r#"{"input_tokens":12,"note":"a \"quoted\" word","output_tokens":4}"#,
        r#"{"input_tokens":12,"list":[1,2],"output_tokens":4}"#,
        r#"{"input_tokens":12,"output_tokens":4,}"#,
        r#"{"input_tokens":12 "output_tokens":4}"#,
        r#"{"input_tokens":12,"output_tokens":4}}"#,
        r#"{"\u00e9":1,"input_tokens":12}"#,
        "{\"\u{e9}\":1,\"input_tokens\":12}",
        "{}",
        "null",
        "[]",
    ];
    let long = format!(
        r#"{{"input_tokens":1,"pad":"{}","output_tokens":2}}"#,
        "x".repeat(super::VALUE_KEEP)
    );
    let gemini = [
        r#"{"promptTokenCount":8,"candidatesTokenCount":5,"totalTokenCount":13,"thoughtsTokenCount":3}"#,
        r#"{"promptTokenCount":8,"promptTokensDetails":[{"modality":"TEXT","tokenCount":8}],"candidatesTokenCount":5}"#,
        r#"{"promptTokenCount":8,"promptTokenCount":9,"candidatesTokenCount":5}"#,
        r#"{"promptTokenCount":8.5,"candidatesTokenCount":5}"#,
    ];
    let mut bodies: Vec<String> = Vec::new();
    for usage in usages.iter().copied().chain([long.as_str()]) {
        bodies.push(format!(
            r#"{{"id":"msg_1","type":"message","content":[{{"type":"text","text":"Hi {{\"usage\":{{}}}}"}}],"stop_sequence":null,"usage":{usage}}}"#
        ));
        bodies.push(format!(
            r#"{{"type":"response.completed","response":{{"id":"r","output":[],"usage":{usage}}}}}"#
        ));
        bodies.push(format!(
            r#"{{"type":"message_start","message":{{"id":"m","usage":{usage},"content":[]}},"x":1}}"#
        ));
    }
    for usage in gemini {
        bodies.push(format!(
            r#"{{"candidates":[{{"content":{{"parts":[{{"text":"Hi"}}]}}}}],"usageMetadata":{usage},"modelVersion":"g"}}"#
        ));
    }
    let mut with_tokens = 0;
    for body in &bodies {
        for sse in [false, true] {
            let body = if sse {
                format!("event: x\ndata: {body}\n\n")
            } else {
                body.clone()
            };
            let bytes = body.as_bytes();
            // The long value is not worth printing whole.
            let body: String = body.chars().take(400).collect();
            let (whole, old) = both(sse, bytes, &[]);
            assert_eq!(whole, old, "whole: {body}");
            with_tokens += usize::from(whole.tokens.is_some());
            // The value too long to keep is cut near its ends and every few hundred bytes.
            let step = if bytes.len() > 4096 { 397 } else { 1 };
            let cuts = (0..=bytes.len())
                .filter(|c| c % step == 0 || c.abs_diff(bytes.len() / 2) > bytes.len() / 2 - 200);
            for cut in cuts {
                let (new, old) = both(sse, bytes, &[cut]);
                assert_eq!(new, old, "cut at {cut}: {body}");
            }
            let every: Vec<usize> = (0..bytes.len()).step_by(step).collect();
            let (new, old) = both(sse, bytes, &every);
            assert_eq!(new, old, "in pieces of {step}: {body}");
        }
    }
    // The cases read usage, not nothing on both sides.
    assert!(
        with_tokens > bodies.len() / 2,
        "{with_tokens} readings gave usage"
    );
}

/// A top-level walk that meets what it cannot pass whole (escaped keys, numbers run into strings,
/// a comma before the end, a value cut by the chunk) reads as before.
#[test]
fn answers_the_member_walk_leaves_to_the_byte_machine_read_as_before() {
    let bodies = [
        r#"{"us\u0061ge":{"input_tokens":5},"id":"x"}"#,
        r#"{"a":12"b","usage":{"input_tokens":5}}"#,
        r#"{"a":12{"x":1},"usage":{"input_tokens":5}}"#,
        r#"{"a":1,,"usage":{"input_tokens":5}}"#,
        r#"{"a":1,}"#,
        r#"{"a" "usage":{"input_tokens":5}}"#,
        r#"{"a":"x\\","usage":{"input_tokens":5}}"#,
        r#"{"a":"x\"","usage":{"input_tokens":5}}"#,
        r#"{"a":,"usage":{"input_tokens":5}}"#,
        r#"{"a":},"usage":{"input_tokens":5}}"#,
        r#"{"a":1 , "usage" :  {"input_tokens":5} , "b" : [ ] } "#,
        r#"{"message":{"usage":{"input_tokens":5}},"usage":{"output_tokens":6}}"#,
        r#"{"message":{"message":{"usage":{"input_tokens":5}}},"usage":{"output_tokens":6}}"#,
        r#"{"response":1,"usage":{"output_tokens":6}}"#,
        r#"[{"usage":{"input_tokens":5}},{"usageMetadata":{"promptTokenCount":4}}]"#,
    ];
    for body in bodies {
        for sse in [false, true] {
            let body = if sse {
                format!("data: {body}\n\n")
            } else {
                body.to_string()
            };
            let bytes = body.as_bytes();
            for cut in 0..=bytes.len() {
                let (new, old) = both(sse, bytes, &[cut]);
                assert_eq!(new, old, "cut at {cut}: {body}");
            }
        }
    }
}
