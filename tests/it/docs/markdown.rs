//! The docs as text: a page's prose and fenced blocks, its inline code spans, the
//! command lines and flags they show, its links and headings.

/// The inline code spans of Markdown prose (a run of N backticks up to the next run of N),
/// with line breaks and indentation folded into single spaces.
pub(super) fn spans(prose: &str) -> Vec<String> {
    let chars: Vec<char> = prose.chars().collect();
    let run = |i: usize| chars[i..].iter().take_while(|&&c| c == '`').count();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < chars.len() {
        if chars[i] != '`' {
            i += 1;
            continue;
        }
        let n = run(i);
        let start = i + n;
        let mut j = start;
        while j < chars.len() && !(chars[j] == '`' && run(j) == n && (j == 0 || chars[j - 1] != '`')) {
            j += 1;
        }
        let body: String = chars[start..j.min(chars.len())].iter().collect();
        let body = match body.strip_prefix(' ').and_then(|b| b.strip_suffix(' ')) {
            Some(inner) if n > 1 => inner.to_owned(),
            _ => body,
        };
        let lead = if body.starts_with(char::is_whitespace) { " " } else { "" };
        out.push(format!("{lead}{}", body.split_whitespace().collect::<Vec<_>>().join(" ")));
        i = j + n;
    }
    out
}

/// A page taken apart: its prose, and its fenced blocks' lines (trimmed), each block with
/// whether it is shell (a fence without a language, or sh, shell, bash, console).
fn blocks(text: &str) -> (String, Vec<(bool, Vec<String>)>) {
    let (mut prose, mut out, mut block) = (String::new(), Vec::new(), None::<(bool, Vec<String>)>);
    for line in text.lines() {
        if let Some(lang) = line.trim_start().strip_prefix("```") {
            match block.take() {
                None => block = Some((matches!(lang.trim(), "" | "sh" | "shell" | "bash" | "console"), Vec::new())),
                Some(done) => out.push(done),
            }
        } else if let Some((_, lines)) = &mut block {
            lines.push(line.trim().to_owned());
        } else {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    (prose, out)
}

/// A page's command lines: each line of a shell block (in a transcript with `$ ` prompts,
/// the prompted lines only), and each inline code span that starts with `qxfer ` (marked:
/// prose may name a command without its arguments).
pub(super) fn command_lines(text: &str) -> Vec<(String, bool)> {
    let (prose, blocks) = blocks(text);
    let mut out = Vec::new();
    for (_, lines) in blocks.into_iter().filter(|(shell, _)| *shell) {
        let transcript = lines.iter().any(|l| l.starts_with("$ "));
        for l in lines {
            match (transcript, l.strip_prefix("$ ")) {
                (true, Some(c)) => out.push((c.to_owned(), false)),
                (false, _) => out.push((l, false)),
                (true, None) => {}
            }
        }
    }
    out.extend(spans(&prose).into_iter().filter(|s| s.starts_with("qxfer ")).map(|s| (s, true)));
    out
}

/// Every long flag a page shows in code (spans and shell blocks), but for the lines about
/// other tools (cargo, the bench example, whose page is docs/benchmarks.md).
pub(super) fn flags_shown(text: &str) -> Vec<String> {
    let (prose, blocks) = blocks(text);
    let code = spans(&prose).into_iter().chain(blocks.into_iter().filter(|b| b.0).flat_map(|b| b.1));
    let mut out = Vec::new();
    for c in code.filter(|c| !c.contains("cargo") && !c.contains("bench")) {
        for (at, _) in c.match_indices(" --").chain(c.starts_with("--").then_some((0, ""))) {
            let flag: String =
                c[at..].trim_start().chars().take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '-').collect();
            if flag.len() > 2 {
                out.push(flag);
            }
        }
    }
    out
}

/// The relative links of a page's prose (`[text](path#anchor)`), as written.
pub(super) fn links(text: &str) -> Vec<String> {
    let (prose, _) = blocks(text);
    let targets = prose.split("](").skip(1).filter_map(|rest| rest.split(')').next());
    targets.filter(|t| !t.contains("://") && !t.starts_with("mailto:")).map(str::to_owned).collect()
}

/// The anchors of a page's headings, as GitHub makes them: lower case, spaces to dashes,
/// punctuation other than `-` and `_` dropped.
pub(super) fn anchors(text: &str) -> Vec<String> {
    let (prose, _) = blocks(text);
    let headings =
        prose.lines().filter_map(|l| l.trim_start_matches('#').strip_prefix(' ').filter(|_| l.starts_with('#')));
    let slug = |h: &str| {
        h.to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect()
    };
    headings.map(slug).collect()
}
