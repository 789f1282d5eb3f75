//! Codes a person types (a texted code, a recovery or cancel code), checked for their shape
//! before they are sent, so a typo is not spent as a guess.

use anyhow::Result;

use super::exit::usage;
use crate::wire::check_code_text;

/// A texted code as typed: eight digits (spaces and dashes people type are dropped).
pub fn texted_code(typed: &str) -> Result<String> {
    let code: String = typed.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    check_code_text(&code)
        .map_err(|_| usage(format!("{typed:?} is not a texted code: a texted code has eight digits")))?;
    Ok(code)
}

/// A recovery (10 characters) or cancel (15) code as typed: checked for its shape, so a
/// typo is not spent as a guess.
pub fn letters_code(typed: &str, len: usize, what: &str) -> Result<String> {
    let n = crate::policy::recovery::normalise_typed_code(typed);
    let ok = n.len() == len && crate::wire::check_typed_code(typed).is_ok();
    if !ok {
        return Err(usage(format!("{typed:?} is not a {what}: it has {len} letters and digits, as xxxxx-xxxxx")));
    }
    Ok(typed.to_owned())
}
