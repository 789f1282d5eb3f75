//! The shape, checked: no import cycle between the files of `src/` (or of `proto/src/`).
//!
//! An edge A → B exists when file A names an item *defined* in file B through a `crate::`,
//! `super::` or `self::` path, or a path that starts with a child module's name or with a
//! name A's module imported: in `use` lines and inline in code, test code included. A path
//! through a re-export (`pub use b::X` in `mod.rs`) is an edge to the file that defines `X`,
//! and the re-export is itself an edge from `mod.rs`. `mod` declarations are not edges, and
//! neither are method calls (they name no path). The checker reads the sources as tokens
//! (comments, strings and character literals skipped), builds the module tree from the `mod`
//! declarations (inline modules included), resolves every path to the file that defines its
//! first item, and reports every strongly connected group of files with the edges that tie
//! it. A planted two-file cycle (`tests/data/cycle-fixture/`) proves it reports one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Punct(char),
    PathSep,
}

/// Rust source as tokens: identifiers, `::` and single punctuation; comments, strings,
/// character literals, lifetimes and numbers are dropped.
fn lex(src: &str) -> Vec<(Tok, usize)> {
    let b: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0usize, 1usize);
    let at = |i: usize| b.get(i).copied().unwrap_or('\0');
    while i < b.len() {
        let c = b[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(b[i] == '\n');
                    i += 1;
                }
            }
        } else if (c == 'r' || (c == 'b' && at(i + 1) == 'r')) && {
            let j = if c == 'b' { i + 2 } else { i + 1 };
            let mut k = j;
            while at(k) == '#' {
                k += 1;
            }
            at(k) == '"'
        } {
            // raw string r#"…"#
            let mut j = if c == 'b' { i + 2 } else { i + 1 };
            let mut hashes = 0;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (1..=hashes).all(|h| at(j + h) == '#') {
                    j += 1 + hashes;
                    break;
                }
                line += usize::from(b[j] == '\n');
                j += 1;
            }
            i = j;
        } else if c == '"' || (c == 'b' && at(i + 1) == '"') {
            let mut j = if c == 'b' { i + 2 } else { i + 1 };
            while j < b.len() && b[j] != '"' {
                if b[j] == '\\' {
                    j += 1;
                }
                line += usize::from(at(j) == '\n');
                j += 1;
            }
            i = j + 1;
        } else if c == '\'' || (c == 'b' && at(i + 1) == '\'') {
            let j = if c == 'b' { i + 1 } else { i };
            // a character literal ('x', '\n', '\u{..}') or a lifetime ('a)
            if at(j + 1) == '\\' {
                let mut k = j + 2;
                while k < b.len() && b[k] != '\'' {
                    k += 1;
                }
                i = k + 1;
            } else if at(j + 2) == '\'' {
                i = j + 3;
            } else {
                i = j + 1;
                while at(i).is_alphanumeric() || at(i) == '_' {
                    i += 1;
                }
            }
        } else if c.is_alphabetic() || c == '_' {
            let s = i;
            while at(i).is_alphanumeric() || at(i) == '_' {
                i += 1;
            }
            let word: String = b[s..i].iter().collect();
            let word = word.strip_prefix("r#").map(str::to_owned).unwrap_or(word);
            out.push((Tok::Ident(word), line));
        } else if c.is_ascii_digit() {
            while at(i).is_alphanumeric() || at(i) == '_' || (at(i) == '.' && at(i + 1).is_ascii_digit()) {
                i += 1;
            }
        } else if c == ':' && at(i + 1) == ':' {
            out.push((Tok::PathSep, line));
            i += 2;
        } else {
            out.push((Tok::Punct(c), line));
            i += 1;
        }
    }
    out
}

type ModPath = Vec<String>;

/// A name a module brought into scope with `use`: the path as written, anchored in the
/// module that wrote it.
#[derive(Debug, Clone)]
struct Binding {
    scope: ModPath,
    path: Vec<String>,
}

#[derive(Debug, Default)]
struct Module {
    file: PathBuf,
    items: BTreeSet<String>,
    children: BTreeSet<String>,
    bindings: HashMap<String, Binding>,
    globs: Vec<Binding>,
}

/// One path found in a file, to be resolved once every module is known.
struct Mention {
    file: PathBuf,
    scope: ModPath,
    path: Vec<String>,
    line: usize,
}

#[derive(Default)]
struct Crate {
    modules: BTreeMap<ModPath, Module>,
    mentions: Vec<Mention>,
}

fn ident(t: Option<&(Tok, usize)>) -> Option<&str> {
    match t {
        Some((Tok::Ident(s), _)) => Some(s),
        _ => None,
    }
}

/// Expand a `use` tree starting at `toks[i]`; returns the index after it.
fn use_tree(
    toks: &[(Tok, usize)],
    mut i: usize,
    prefix: &[String],
    out: &mut Vec<(Vec<String>, Option<String>)>,
) -> usize {
    let mut path = prefix.to_vec();
    loop {
        match toks.get(i).map(|t| &t.0) {
            Some(Tok::Ident(s)) => {
                path.push(s.clone());
                i += 1;
            }
            Some(Tok::PathSep) => i += 1,
            Some(Tok::Punct('{')) => {
                i += 1;
                while !matches!(toks.get(i).map(|t| &t.0), Some(Tok::Punct('}')) | None) {
                    i = use_tree(toks, i, &path, out);
                    if matches!(toks.get(i).map(|t| &t.0), Some(Tok::Punct(','))) {
                        i += 1;
                    }
                }
                return i + 1;
            }
            Some(Tok::Punct('*')) => {
                out.push((path, Some("*".into())));
                return i + 1;
            }
            _ => break,
        }
    }
    // `a::b as c`, `a::{self}`
    let mut alias = None;
    if path.len() >= 2 && path[path.len() - 2] == "as" {
        alias = path.pop();
        path.pop();
    }
    if path.last().map(String::as_str) == Some("self") {
        path.pop();
    }
    let name = alias.or_else(|| path.last().cloned());
    if !path.is_empty() {
        out.push((path, name));
    }
    i
}

const ITEM_KEYWORDS: [&str; 7] = ["fn", "struct", "enum", "const", "static", "trait", "type"];

impl Crate {
    /// Read the module in `file` (module path `module`) and, through its `mod` lines, its
    /// children.
    fn read(&mut self, file: &Path, module: ModPath) {
        let src = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let toks = lex(&src);
        let dir = if matches!(file.file_name().and_then(|n| n.to_str()), Some("mod.rs" | "lib.rs" | "main.rs")) {
            file.parent().map(Path::to_path_buf).unwrap_or_default()
        } else {
            file.with_extension("")
        };
        self.modules.entry(module.clone()).or_default().file = file.to_path_buf();
        let mut scopes: Vec<(ModPath, usize)> = vec![(module, 0)];
        let mut depth = 0usize;
        let mut i = 0;
        while i < toks.len() {
            let scope = scopes.last().map(|s| s.0.clone()).unwrap_or_default();
            match &toks[i].0 {
                Tok::Punct('{') => depth += 1,
                Tok::Punct('}') => {
                    depth = depth.saturating_sub(1);
                    if scopes.len() > 1 && scopes.last().map(|s| s.1) == Some(depth) {
                        scopes.pop();
                    }
                }
                Tok::Ident(k) if k == "mod" => {
                    if let Some(name) = ident(toks.get(i + 1)) {
                        let mut child = scope.clone();
                        child.push(name.to_owned());
                        self.modules.entry(scope.clone()).or_default().children.insert(name.to_owned());
                        match toks.get(i + 2).map(|t| &t.0) {
                            Some(Tok::Punct(';')) => {
                                // nested `mod x;` inside an inline module lives in a subfolder
                                let mut d = dir.clone();
                                for s in &scope[scopes[0].0.len()..] {
                                    d.push(s);
                                }
                                let flat = d.join(format!("{name}.rs"));
                                let nested = d.join(name).join("mod.rs");
                                let path = if flat.exists() { flat } else { nested };
                                self.read(&path, child);
                            }
                            Some(Tok::Punct('{')) => {
                                self.modules.entry(child.clone()).or_default().file = file.to_path_buf();
                                depth += 1;
                                scopes.push((child, depth - 1));
                                i += 3;
                                continue;
                            }
                            _ => {}
                        }
                        i += 2;
                        continue;
                    }
                }
                Tok::Ident(k) if k == "use" => {
                    let mut entries = Vec::new();
                    let end = use_tree(&toks, i + 1, &[], &mut entries);
                    let line = toks[i].1;
                    let m = self.modules.entry(scope.clone()).or_default();
                    for (path, name) in entries {
                        let b = Binding { scope: scope.clone(), path: path.clone() };
                        match name.as_deref() {
                            Some("*") => m.globs.push(b),
                            Some(n) => {
                                m.bindings.insert(n.to_owned(), b);
                            }
                            None => {}
                        }
                        self.mentions.push(Mention { file: file.to_path_buf(), scope: scope.clone(), path, line });
                    }
                    i = end;
                    continue;
                }
                Tok::Ident(k) if ITEM_KEYWORDS.contains(&k.as_str()) || k == "macro_rules" => {
                    let mut j = i + 1;
                    if k == "macro_rules" {
                        j += 1; // the `!`
                    }
                    if let Some(name) = ident(toks.get(j)) {
                        if !(k == "const" && name == "fn") {
                            self.modules.entry(scope.clone()).or_default().items.insert(name.to_owned());
                        }
                    }
                }
                Tok::Ident(first) if i == 0 || toks[i - 1].0 != Tok::PathSep => {
                    // an inline path: `a::b::c`
                    let mut path = vec![first.clone()];
                    let mut j = i + 1;
                    while toks.get(j).map(|t| &t.0) == Some(&Tok::PathSep) {
                        match ident(toks.get(j + 1)) {
                            Some(s) => path.push(s.to_owned()),
                            None => break,
                        }
                        j += 2;
                    }
                    if path.len() > 1 {
                        self.mentions.push(Mention { file: file.to_path_buf(), scope, path, line: toks[i].1 });
                        i = j;
                        continue;
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }

    /// Anchor a path written in `scope` to an absolute module path, or `None` for a path
    /// into another crate (std, qxfer_proto …) or one that names no module or item here.
    fn anchor(&self, scope: &ModPath, path: &[String], depth: usize) -> Option<Vec<String>> {
        let first = path.first()?;
        match first.as_str() {
            "crate" => Some(path[1..].to_vec()),
            "self" => Some(scope.iter().chain(&path[1..]).cloned().collect()),
            "super" => {
                let mut base = scope.clone();
                let mut rest = path;
                while rest.first().map(String::as_str) == Some("super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
                Some(base.into_iter().chain(rest.iter().cloned()).collect())
            }
            _ => {
                let m = self.modules.get(scope)?;
                if m.children.contains(first) || m.items.contains(first) {
                    Some(scope.iter().chain(path).cloned().collect())
                } else if let Some(b) = m.bindings.get(first) {
                    if depth > 16 || b.path.first() == Some(first) && b.scope == *scope && b.path.len() == 1 {
                        return None;
                    }
                    let base = self.anchor(&b.scope, &b.path, depth + 1)?;
                    Some(base.into_iter().chain(path[1..].iter().cloned()).collect())
                } else {
                    None
                }
            }
        }
    }

    /// The file that defines what an absolute path names (through re-exports and globs).
    fn resolve(&self, abs: &[String], depth: usize) -> Option<PathBuf> {
        if depth > 16 {
            return None;
        }
        let mut module: ModPath = Vec::new();
        for (k, seg) in abs.iter().enumerate() {
            let m = self.modules.get(&module)?;
            if m.children.contains(seg) {
                module.push(seg.clone());
                continue;
            }
            if m.items.contains(seg) {
                return Some(m.file.clone());
            }
            let rest = &abs[k + 1..];
            if let Some(b) = m.bindings.get(seg) {
                let target = self.anchor(&b.scope, &b.path, depth + 1)?;
                let full: Vec<String> = target.into_iter().chain(rest.iter().cloned()).collect();
                return self.resolve(&full, depth + 1);
            }
            for g in &m.globs {
                if let Some(target) = self.anchor(&g.scope, &g.path, depth + 1) {
                    let full: Vec<String> = target.into_iter().chain(abs[k..].iter().cloned()).collect();
                    if let Some(f) = self.resolve(&full, depth + 1) {
                        return Some(f);
                    }
                }
            }
            return None;
        }
        None // a path that names a module, not an item
    }
}

/// An edge between two files and one place that makes it.
#[derive(Debug, Clone)]
pub struct Edge {
    pub from: PathBuf,
    pub to: PathBuf,
    pub why: String,
}

/// Every edge between files of the crate whose root is `root` (`lib.rs`).
pub fn edges(root: &Path) -> Vec<Edge> {
    let mut krate = Crate::default();
    krate.read(root, Vec::new());
    let mut seen = BTreeMap::new();
    for m in &krate.mentions {
        let Some(abs) = krate.anchor(&m.scope, &m.path, 0) else { continue };
        let Some(to) = krate.resolve(&abs, 0) else { continue };
        if to != m.file {
            seen.entry((m.file.clone(), to.clone())).or_insert_with(|| Edge {
                from: m.file.clone(),
                to,
                why: format!("{}:{} names {}", short(&m.file), m.line, m.path.join("::")),
            });
        }
    }
    seen.into_values().collect()
}

/// The groups of two or more files that reach each other (Tarjan's strongly connected
/// components), each with the edges inside it.
pub fn cycles(edges: &[Edge]) -> Vec<Vec<Edge>> {
    let mut nodes: Vec<&PathBuf> = edges.iter().flat_map(|e| [&e.from, &e.to]).collect();
    nodes.sort();
    nodes.dedup();
    let index_of: HashMap<&PathBuf, usize> = nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut adj = vec![Vec::new(); nodes.len()];
    for e in edges {
        adj[index_of[&e.from]].push(index_of[&e.to]);
    }
    struct T {
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        groups: Vec<Vec<usize>>,
    }
    fn visit(v: usize, adj: &[Vec<usize>], t: &mut T) {
        t.index[v] = Some(t.next);
        t.low[v] = t.next;
        t.next += 1;
        t.stack.push(v);
        t.on[v] = true;
        for &w in &adj[v] {
            match t.index[w] {
                None => {
                    visit(w, adj, t);
                    t.low[v] = t.low[v].min(t.low[w]);
                }
                Some(iw) if t.on[w] => t.low[v] = t.low[v].min(iw),
                _ => {}
            }
        }
        if Some(t.low[v]) == t.index[v] {
            let mut group = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on[w] = false;
                group.push(w);
                if w == v {
                    break;
                }
            }
            if group.len() > 1 {
                t.groups.push(group);
            }
        }
    }
    let n = nodes.len();
    let mut t =
        T { index: vec![None; n], low: vec![0; n], on: vec![false; n], stack: Vec::new(), next: 0, groups: Vec::new() };
    for v in 0..n {
        if t.index[v].is_none() {
            visit(v, &adj, &mut t);
        }
    }
    t.groups
        .iter()
        .map(|g| {
            let members: BTreeSet<&PathBuf> = g.iter().map(|&i| nodes[i]).collect();
            edges.iter().filter(|e| members.contains(&e.from) && members.contains(&e.to)).cloned().collect()
        })
        .collect()
}

/// A path as the project names it (relative to the checkout).
fn short(p: &Path) -> String {
    p.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(p).display().to_string()
}

fn report(groups: &[Vec<Edge>]) -> String {
    let mut s = String::new();
    for (k, g) in groups.iter().enumerate() {
        s.push_str(&format!("cycle {}:\n", k + 1));
        for e in g {
            s.push_str(&format!("  {} -> {}   ({})\n", short(&e.from), short(&e.to), e.why));
        }
    }
    s
}

fn here(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn the_planted_two_file_cycle_is_reported() {
    let edges = edges(&here("tests/data/cycle-fixture/src/lib.rs"));
    let groups = cycles(&edges);
    assert_eq!(groups.len(), 1, "{}", report(&groups));
    let files: BTreeSet<String> = groups[0]
        .iter()
        .flat_map(|e| [&e.from, &e.to])
        .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
        .collect();
    assert_eq!(files, BTreeSet::from(["a.rs".to_owned(), "b.rs".to_owned()]), "{}", report(&groups));
    // b → a is made only by an inline path through lib.rs's re-export: it must be seen.
    assert!(groups[0].iter().any(|e| e.from.ends_with("b.rs") && e.to.ends_with("a.rs")), "{}", report(&groups));
    // lib.rs re-exports from a.rs: an edge, but not part of the cycle.
    assert!(edges.iter().any(|e| e.from.ends_with("lib.rs") && e.to.ends_with("a.rs")));
}

#[test]
fn the_checker_sees_edges_through_re_exports_and_inline_paths() {
    let edges = edges(&here("src/lib.rs"));
    let has = |from: &str, to: &str| edges.iter().any(|e| e.from.ends_with(from) && e.to.ends_with(to));
    // `crate::server::Shared` is re-exported by server/mod.rs from shared.rs.
    assert!(has("server/requests/login.rs", "server/shared.rs"), "{edges:#?}");
    assert!(has("server/mod.rs", "server/shared.rs"));
    assert!(edges.len() > 200, "only {} edges seen", edges.len());
}

#[test]
fn no_import_cycle_between_files_of_src() {
    for root in ["src/lib.rs", "proto/src/lib.rs"] {
        let groups = cycles(&edges(&here(root)));
        assert!(groups.is_empty(), "import cycles between files under {root}:\n{}", report(&groups));
    }
}
