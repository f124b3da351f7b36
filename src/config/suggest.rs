//! "Did you mean": the closest of a fixed set of names to a word the user typed, and the
//! message for an unknown name.

/// "did you mean `x`?" for the closest of `choices`, if any is close.
pub fn closest<'a>(word: &str, choices: &[&'a str]) -> Option<&'a str> {
    choices
        .iter()
        .map(|c| (*c, strsim::jaro_winkler(word, c), strsim::levenshtein(word, c)))
        .filter(|(c, jw, lev)| *jw >= 0.8 || (*lev <= 2 && *lev < c.len().min(word.len())))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _, _)| c)
}

/// "unknown ramp kind `x` (expected one of: a, b)" or "...; did you mean `a`?".
pub fn unknown(what: &str, word: &str, choices: &[&str]) -> String {
    match closest(word, choices) {
        Some(c) => format!("unknown {what} `{word}`; did you mean `{c}`?"),
        None => format!("unknown {what} `{word}` (expected one of: {})", choices.join(", ")),
    }
}
