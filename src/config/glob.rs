//! Model patterns of `endpoints[].models` and `model_map`: `*` matches any run of characters.

/// Whether `text` matches `pattern`, where `*` matches any run of characters.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_models() {
        assert!(glob_match("claude-3-5-haiku*", "claude-3-5-haiku-20241022"));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("gpt-4o", "gpt-4o"));
        assert!(!glob_match("gpt-4o", "gpt-4o-mini"));
        assert!(glob_match("claude-*-sonnet-*", "claude-3-7-sonnet-latest"));
        assert!(!glob_match("claude-*-opus", "claude-3-sonnet"));
        assert!(!glob_match("a*a", "a"));
    }
}
