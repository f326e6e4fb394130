//! Finds the line of a field such as `endpoints[2].base_url` in block-style YAML text, so that
//! errors found after parsing (serde_yaml keeps no positions) can still name their line.
//! Best effort: a field that is absent points at its parent's line.

#[derive(Clone)]
struct Line {
    number: usize,
    indent: usize,
    content: String,
}

enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(path: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Segment::Key(key));
        }
        while let Some(close) = rest.find(']') {
            if let Ok(index) = rest[1..close].parse() {
                out.push(Segment::Index(index));
            }
            rest = &rest[close + 1..];
        }
    }
    out
}

/// The 1-based line of `path` in `text`, or of its nearest ancestor that is present.
pub fn line_of(text: &str, path: &str) -> Option<usize> {
    let lines: Vec<Line> = text
        .lines()
        .enumerate()
        .filter_map(|(i, raw)| {
            let content = raw.trim();
            if content.is_empty() || content.starts_with('#') || content == "---" {
                return None;
            }
            Some(Line {
                number: i + 1,
                indent: raw.len() - raw.trim_start().len(),
                content: content.to_string(),
            })
        })
        .collect();
    let mut scope = lines;
    let mut found = None;
    for segment in segments(path) {
        let Some(child_indent) = scope.first().map(|l| l.indent) else {
            break;
        };
        let hit = match segment {
            Segment::Key(key) => scope.iter().position(|l| {
                l.indent == child_indent
                    && (l
                        .content
                        .strip_prefix(key)
                        .is_some_and(|r| r.starts_with(':'))
                        || l.content
                            .strip_prefix(&format!("\"{key}\""))
                            .is_some_and(|r| r.starts_with(':')))
            }),
            Segment::Index(index) => scope
                .iter()
                .enumerate()
                .filter(|(_, l)| l.indent == child_indent && l.content.starts_with('-'))
                .nth(index)
                .map(|(i, _)| i),
        };
        let Some(at) = hit else { break };
        found = Some(scope[at].number);
        let end = scope[at + 1..]
            .iter()
            .position(|l| {
                l.indent < child_indent
                    || (l.indent == child_indent
                        && (matches!(segment, Segment::Key(_)) || l.content.starts_with('-')))
            })
            .map(|p| at + 1 + p)
            .unwrap_or(scope.len());
        let mut next: Vec<Line> = Vec::with_capacity(end - at);
        if let Segment::Index(_) = segment {
            // "- key: value": the item's first key sits on the dash line.
            let first = &scope[at];
            let inner = first.content[1..].trim_start();
            if !inner.is_empty() {
                next.push(Line {
                    number: first.number,
                    indent: first.indent + (first.content.len() - inner.len()),
                    content: inner.to_string(),
                });
            }
        }
        next.extend_from_slice(&scope[at + 1..end]);
        scope = next;
    }
    found
}

/// The 1-based line of `key` inside the top-level mapping `section` (a key a field path cannot
/// name: a model pattern may hold `.` or `*`), or of `section` when the key is not on a line of
/// its own (flow style, `section: {…}`).
pub fn line_of_key(text: &str, section: &str, key: &str) -> Option<usize> {
    let start = line_of(text, section)?;
    let spellings = [key.to_string(), format!("\"{key}\""), format!("'{key}'")];
    let found = text
        .lines()
        .enumerate()
        .skip(start)
        .filter(|(_, raw)| !raw.trim().is_empty() && !raw.trim_start().starts_with('#'))
        // The section ends at the next line that is not indented.
        .take_while(|(_, raw)| raw.starts_with([' ', '\t']))
        .find(|(_, raw)| {
            let content = raw.trim();
            spellings.iter().any(|spelled| {
                content
                    .strip_prefix(spelled.as_str())
                    .is_some_and(|rest| rest.trim_start().starts_with(':'))
            })
        });
    Some(found.map_or(start, |(i, _)| i + 1))
}

#[cfg(test)]
mod tests {
    use super::{line_of, line_of_key};

    const TEXT: &str = "\
# comment
proxy:
  port: 8045
  api_key: x
endpoints:
  - id: a
    base_url: https://a
  - base_url: https://b

    api_key: k
    models: [x]
";

    #[test]
    fn finds_keys_items_and_keys_inside_items() {
        assert_eq!(line_of(TEXT, "proxy"), Some(2));
        assert_eq!(line_of(TEXT, "proxy.api_key"), Some(4));
        assert_eq!(line_of(TEXT, "endpoints[0]"), Some(6));
        assert_eq!(line_of(TEXT, "endpoints[0].id"), Some(6));
        assert_eq!(line_of(TEXT, "endpoints[0].base_url"), Some(7));
        assert_eq!(line_of(TEXT, "endpoints[1].base_url"), Some(8));
        assert_eq!(line_of(TEXT, "endpoints[1].api_key"), Some(10));
    }

    #[test]
    fn a_key_under_a_section_is_found_however_it_is_quoted() {
        let text = "proxy:\n  port: 1\nfallbacks:\n  \"claude-opus-4*\": [a]\n  gpt-4.1*: [b]\n  'x': c\nendpoints: []\n";
        assert_eq!(line_of_key(text, "fallbacks", "claude-opus-4*"), Some(4));
        assert_eq!(line_of_key(text, "fallbacks", "gpt-4.1*"), Some(5));
        assert_eq!(line_of_key(text, "fallbacks", "x"), Some(6));
        assert_eq!(line_of_key(text, "fallbacks", "endpoints"), Some(3));
        let flow = "fallbacks: {\"a*\": [b]}\n";
        assert_eq!(line_of_key(flow, "fallbacks", "a*"), Some(1));
    }

    #[test]
    fn an_absent_field_points_at_its_parent() {
        assert_eq!(line_of(TEXT, "endpoints[0].api_key"), Some(6));
        assert_eq!(line_of(TEXT, "balancer.strategy"), None);
        assert_eq!(line_of(TEXT, "endpoints[5].id"), Some(5));
    }
}
