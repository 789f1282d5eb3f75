//! A phone number as typed: parsed and validated as E.164 (libphonenumber's data), and
//! allowed by the listener's country list.

/// Why a typed number is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Not a valid number: the words of `accounts::phone::parse`.
    #[error(transparent)]
    Invalid(#[from] crate::accounts::phone::PhoneError),
    /// Outside the calling codes the listener texts (joined for the reply).
    #[error("this listener texts only numbers in {0}")]
    Country(String),
}

/// A number as typed, parsed and validated as E.164 (libphonenumber's data), and allowed
/// by the listener's country list.
pub(crate) fn parse_number(typed: &str, countries: &[String]) -> Result<String, NumberError> {
    let e164 = crate::accounts::phone::parse(typed)?;
    if !countries.is_empty() && !countries.iter().any(|c| e164.starts_with(c.as_str())) {
        return Err(NumberError::Country(countries.join(", ")));
    }
    Ok(e164)
}
