//! What the "Output lines" promise, as patterns: a promised line's forms and pieces
//! (placeholders stand for any text), and the keys of a JSON object as the docs show it.

use std::collections::{BTreeMap, BTreeSet};

/// One character of a promised line, or `Any`: one or more characters standing for a
/// placeholder (a word in capitals such as `ID`, `USER`, `HEX`; a number; `…`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Piece {
    Lit(char),
    Any,
}

pub(super) fn normal(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A promised line's forms: `[, resumed]` may be there or not.
pub(super) fn variants(t: &str) -> Vec<String> {
    match (t.find('['), t.find(']')) {
        (Some(a), Some(b)) if a < b => {
            let mut v = variants(&format!("{}{}", &t[..a], &t[b + 1..]));
            v.extend(variants(&format!("{}{}{}", &t[..a], &t[a + 1..b], &t[b + 1..])));
            v
        }
        _ => vec![t.to_owned()],
    }
}

/// A form as pieces; a leading space (` (resumed: …)`) means the end of a line.
pub(super) fn pieces(form: &str) -> Vec<Piece> {
    let mut out = if form.starts_with(' ') { vec![Piece::Any] } else { Vec::new() };
    let chars: Vec<char> = normal(form).chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let word = chars[i..].iter().take_while(|c| c.is_ascii_alphanumeric()).count();
        let any = if word > 0 {
            let w = &chars[i..i + word];
            w.iter().all(char::is_ascii_uppercase) || w.iter().all(char::is_ascii_digit)
        } else {
            chars[i] == '…'
        };
        let len = word.max(1);
        if !any {
            out.extend(chars[i..i + len].iter().map(|&c| Piece::Lit(c)));
        } else if out.last() != Some(&Piece::Any) {
            out.push(Piece::Any);
        }
        i += len;
    }
    out
}

pub(super) fn matches(p: &[Piece], s: &[char]) -> bool {
    // at[i][j]: p[i..] matches s[j..].
    let mut at = vec![vec![false; s.len() + 1]; p.len() + 1];
    at[p.len()][s.len()] = true;
    for i in (0..p.len()).rev() {
        for j in (0..s.len()).rev() {
            at[i][j] = match p[i] {
                Piece::Lit(c) => s[j] == c && at[i + 1][j + 1],
                Piece::Any => at[i + 1][j + 1] || at[i][j + 1],
            };
        }
    }
    at[0][0]
}

/// The text of a promised line before its first placeholder.
pub(super) fn fixed_start(form: &str) -> String {
    let p = pieces(form);
    let lit = p.iter().skip_while(|p| **p == Piece::Any).map_while(|p| match p {
        Piece::Lit(c) => Some(*c),
        Piece::Any => None,
    });
    let s: String = lit.collect();
    // Errors reach the terminal as `qxfer: MESSAGE` (main adds the prefix).
    s.trim().trim_start_matches("qxfer: ").to_owned()
}

/// The keys a JSON object of the docs shows (`{"id","files":[{"path"}]}`), each with the
/// keys of the object (or list of objects) it holds, where shown.
pub(super) fn doc_keys(s: &str) -> BTreeMap<String, BTreeSet<String>> {
    let (mut out, mut depth, mut top) = (BTreeMap::new(), 0, String::new());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            '"' => {
                let key: String = chars.by_ref().take_while(|&c| c != '"').collect();
                if depth == 1 {
                    out.insert(key.clone(), BTreeSet::new());
                    top = key;
                } else if let Some(inner) = out.get_mut(&top) {
                    inner.insert(key);
                }
            }
            _ => {}
        }
    }
    out
}

pub(super) fn real_keys(v: &serde_json::Value) -> BTreeSet<String> {
    let v = v.as_array().and_then(|a| a.first()).unwrap_or(v);
    v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}
