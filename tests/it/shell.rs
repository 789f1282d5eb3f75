//! Shell lines as the docs and the `--help` examples write them: words (quotes kept
//! whole and marked), and the `qxfer` commands a line runs.

/// One word of a shell line; a quoted word is never a flag nor a command's name.
#[derive(Debug, Clone)]
pub struct Word {
    pub text: String,
    pub quoted: bool,
    /// Inside `[…]` or `(…)` of a synopsis, where `|` is a choice, not a pipe.
    nested: bool,
}

fn words(line: &str) -> Vec<Word> {
    let (mut out, mut cur, mut any) = (Vec::new(), String::new(), false);
    let (mut quote, mut quoted, mut depth, mut subst, mut nested) = (None, false, 0i32, 0, false);
    let mut it = line.chars().peekable();
    while let Some(c) = it.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                if !any {
                    nested = depth > 0;
                }
                (quote, quoted, any) = (Some(c), true, true);
            }
            (None, '#') if !any && subst == 0 => break,
            (None, '$') if it.peek() == Some(&'(') => {
                it.next();
                cur.push_str("$(");
                (subst, any) = (subst + 1, true);
            }
            (None, ')') if subst > 0 => {
                cur.push(')');
                subst -= 1;
            }
            (None, ' ' | '\t') if subst == 0 => {
                if any {
                    out.push(Word { text: std::mem::take(&mut cur), quoted, nested });
                }
                (any, quoted) = (false, false);
            }
            (None, c) => {
                if !any {
                    nested = depth > 0;
                }
                match c {
                    '[' | '(' if subst == 0 => depth += 1,
                    ']' | ')' if subst == 0 => depth -= 1,
                    _ => {}
                }
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(Word { text: cur, quoted, nested });
    }
    out
}

/// The `qxfer` commands of one shell line, as the words after `qxfer`: `VAR=…` prefixes,
/// pipes, `&&`, `;`, redirections and `#` comments are taken apart, `$(…)` holds commands
/// of its own, and `cargo run --release --` stands for `qxfer`.
pub fn commands_in(line: &str) -> Vec<Vec<Word>> {
    let all = words(line);
    let mut out = Vec::new();
    for w in all.iter().filter(|w| w.text.contains("$(")) {
        for inner in w.text.split("$(").skip(1) {
            out.extend(commands_in(inner.split(')').next().unwrap_or_default()));
        }
    }
    let mut segments = vec![Vec::new()];
    let mut skip_next = false;
    for w in all {
        let sep = !w.quoted && !w.nested;
        if skip_next {
            skip_next = false;
        } else if sep && matches!(w.text.as_str(), "|" | "&&" | "||" | ";") {
            segments.push(Vec::new());
        } else if sep && matches!(w.text.as_str(), ">" | ">>" | "<" | "2>") {
            skip_next = true;
        } else if let Some(s) = segments.last_mut() {
            s.push(w);
        }
    }
    for mut seg in segments {
        let env = seg.iter().take_while(|w| {
            let name = w.text.split('=').next().unwrap_or_default();
            !w.quoted && w.text.contains('=') && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        });
        seg.drain(..env.count());
        let first: Vec<&str> = seg.iter().take(3).map(|w| w.text.as_str()).collect();
        if first.first() == Some(&"qxfer") {
            out.push(seg[1..].to_vec());
        } else if first.starts_with(&["cargo", "run"]) && !seg.iter().any(|w| w.text == "--example") {
            if let Some(dashes) = seg.iter().position(|w| w.text == "--") {
                out.push(seg[dashes + 1..].to_vec());
            }
        }
    }
    out
}
