//! Safe names. A file path from the wire becomes a path on disk only through
//! [`validate_path`]: relative, `/`-separated, normal components only, portable to Windows.
//! Account names are short lowercase ASCII so they are also safe directory names.

/// Longest relative path, in bytes.
pub const MAX_PATH: usize = 1024;
/// Longest single component, in bytes.
pub const MAX_COMPONENT: usize = 255;
/// Deepest directory nesting.
pub const MAX_DEPTH: usize = 64;
/// Suffix reserved for partial files; no delivered name may end with it.
pub const PARTIAL_SUFFIX: &str = ".qxfer-part";

/// Why a name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("empty name or component")]
    Empty,
    #[error("name too long")]
    TooLong,
    #[error("too many directory levels")]
    TooDeep,
    #[error("absolute path")]
    Absolute,
    #[error("'.' or '..' component")]
    DotComponent,
    #[error("NUL or control character")]
    ControlChar,
    #[error("backslash or character reserved on Windows (<>:\"|?*)")]
    ReservedChar,
    #[error("invisible or direction-changing character (such as U+202E or U+2028)")]
    Deceptive,
    #[error("name reserved on Windows (CON, PRN, AUX, NUL, COM1-9, LPT1-9)")]
    ReservedName,
    #[error("component ends with a dot or a space")]
    TrailingDotOrSpace,
    #[error("name ends with the reserved suffix .qxfer-part")]
    ReservedSuffix,
    #[error("account names are 1-32 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit")]
    BadAccount,
}

/// Characters that are invisible or change how the text around them is shown: bidirectional
/// controls (U+202E makes `invoice\u{202E}fdp.exe` show as `invoiceexe.pdf`), line and
/// paragraph separators (U+2028 starts a new line for some readers, so a subject could forge
/// a `From:` line), zero-width characters and other format characters. Refused in names,
/// subjects and bodies on both sides.
pub fn is_deceptive(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                     // soft hyphen
        | '\u{034F}'                   // combining grapheme joiner
        | '\u{061C}'                   // Arabic letter mark
        | '\u{115F}' | '\u{1160}'      // Hangul fillers
        | '\u{17B4}' | '\u{17B5}'      // Khmer inherent vowels
        | '\u{180B}'..='\u{180F}'      // Mongolian selectors and vowel separator
        | '\u{200B}'..='\u{200F}'      // zero width space/joiners, LRM, RLM
        | '\u{2028}'..='\u{202E}'      // line and paragraph separators, bidi embeddings and overrides
        | '\u{2060}'..='\u{206F}'      // word joiner, invisible operators, bidi isolates
        | '\u{3164}'                   // Hangul filler
        | '\u{FEFF}'                   // zero width no-break space (BOM)
        | '\u{FFA0}'                   // halfwidth Hangul filler
        | '\u{FFF9}'..='\u{FFFB}'      // interlinear annotations
        | '\u{1D173}'..='\u{1D17A}'    // musical formatting
        | '\u{E0000}'..='\u{E007F}'    // tags
    )
}

/// Check a relative path as sent on the wire (`a/b/c.txt`). Returns it unchanged on success.
pub fn validate_path(path: &str) -> Result<&str, NameError> {
    if path.is_empty() {
        return Err(NameError::Empty);
    }
    if path.len() > MAX_PATH {
        return Err(NameError::TooLong);
    }
    if path.starts_with('/') {
        return Err(NameError::Absolute);
    }
    let mut depth = 0usize;
    for component in path.split('/') {
        depth += 1;
        if depth > MAX_DEPTH {
            return Err(NameError::TooDeep);
        }
        validate_component(component)?;
    }
    if path.ends_with(PARTIAL_SUFFIX) {
        return Err(NameError::ReservedSuffix);
    }
    Ok(path)
}

fn validate_component(c: &str) -> Result<(), NameError> {
    if c.is_empty() {
        return Err(NameError::Empty);
    }
    if c.len() > MAX_COMPONENT {
        return Err(NameError::TooLong);
    }
    if c == "." || c == ".." {
        return Err(NameError::DotComponent);
    }
    if c.chars().any(char::is_control) {
        return Err(NameError::ControlChar);
    }
    if c.chars().any(is_deceptive) {
        return Err(NameError::Deceptive);
    }
    if c.chars().any(|ch| matches!(ch, '\\' | '<' | '>' | ':' | '"' | '|' | '?' | '*')) {
        return Err(NameError::ReservedChar);
    }
    if c.ends_with('.') || c.ends_with(' ') {
        return Err(NameError::TrailingDotOrSpace);
    }
    if c.ends_with(PARTIAL_SUFFIX) {
        return Err(NameError::ReservedSuffix);
    }
    if is_windows_reserved(c) {
        return Err(NameError::ReservedName);
    }
    Ok(())
}

fn is_windows_reserved(component: &str) -> bool {
    // The stem before the first dot counts: "con.txt" is as reserved as "CON".
    let stem = component.split('.').next().unwrap_or(component).trim_end();
    let upper = stem.to_ascii_uppercase();
    match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$" => true,
        _ => {
            let bytes = upper.as_bytes();
            bytes.len() == 4
                && (upper.starts_with("COM") || upper.starts_with("LPT"))
                && matches!(bytes.get(3), Some(b'0'..=b'9'))
        }
    }
}

/// Check an account name.
pub fn validate_account(name: &str) -> Result<&str, NameError> {
    let bytes = name.as_bytes();
    let first_ok = matches!(bytes.first(), Some(b'a'..=b'z' | b'0'..=b'9'));
    let rest_ok = bytes.iter().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'));
    if !first_ok || !rest_ok || bytes.len() > 32 || is_windows_reserved(name) {
        return Err(NameError::BadAccount);
    }
    Ok(name)
}

/// Join a name that passed [`validate_path`] onto `base`, one component at a
/// time, so the result can only lie below `base`.
pub fn join_validated(base: &std::path::Path, rel: &str) -> std::path::PathBuf {
    let mut p = base.to_path_buf();
    for c in rel.split('/').filter(|c| !c.is_empty() && *c != "." && *c != "..") {
        p.push(c);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_paths() {
        for ok in ["a", "dir/file.txt", "x y/z-1_2.tar.gz", "ünïcode/名前.txt", ".hidden"] {
            assert_eq!(validate_path(ok), Ok(ok), "{ok}");
        }
    }

    #[test]
    fn refuses_hostile_paths() {
        let cases: &[(&str, NameError)] = &[
            ("", NameError::Empty),
            ("../x", NameError::DotComponent),
            ("a/../../x", NameError::DotComponent),
            ("./x", NameError::DotComponent),
            ("/etc/x", NameError::Absolute),
            ("a//b", NameError::Empty),
            ("a/", NameError::Empty),
            ("a\0b", NameError::ControlChar),
            ("a\nb", NameError::ControlChar),
            ("a\u{1b}[31m", NameError::ControlChar),
            ("a\\..\\b", NameError::ReservedChar),
            ("C:x", NameError::ReservedChar),
            ("CON", NameError::ReservedName),
            ("dir/con.txt", NameError::ReservedName),
            ("LPT1", NameError::ReservedName),
            ("com9.log", NameError::ReservedName),
            ("trailing.", NameError::TrailingDotOrSpace),
            ("trailing ", NameError::TrailingDotOrSpace),
            ("x.qxfer-part", NameError::ReservedSuffix),
        ];
        for (name, want) in cases {
            assert_eq!(validate_path(name), Err(*want), "{name:?}");
        }
        assert_eq!(validate_path(&"a".repeat(MAX_PATH + 1)), Err(NameError::TooLong));
        assert_eq!(validate_path("a/".repeat(70).trim_end_matches('/')), Err(NameError::TooDeep));
    }

    #[test]
    fn invisible_and_direction_changing_characters_are_refused() {
        assert_eq!(validate_path("invoice\u{202E}fdp.exe"), Err(NameError::Deceptive));
        assert_eq!(validate_path("a\u{2028}b"), Err(NameError::Deceptive));
        assert_eq!(validate_path("zero\u{200B}width"), Err(NameError::Deceptive));
        assert_eq!(validate_path("dir/\u{2066}x"), Err(NameError::Deceptive));
        assert!(validate_path("café/日本語.txt").is_ok());
    }

    #[test]
    fn accounts() {
        for ok in ["alice", "bob.smith", "u_1-2", "9lives"] {
            assert!(validate_account(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Alice", "-x", ".x", "a/b", "a b", "con", &"a".repeat(33)] {
            assert!(validate_account(bad).is_err(), "{bad}");
        }
    }
}
