//! Phone numbers as people type them, parsed and validated with libphonenumber's data (the
//! `phonenumber` crate) and kept in E.164 (`+34612345678`). The client checks a number
//! before it connects; the listener checks it again.

/// Why what was typed is not a number that can receive texts (each says what was typed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("{0:?}: write the number with its country code, as +34 612 34 56 78")]
    NoCountryCode(String),
    #[error("{0:?} is not a phone number: {1}")]
    NotANumber(String, String),
    #[error("{0:?} is not a valid phone number for its country")]
    Invalid(String),
}

/// The number in E.164, or why it is not a number that can receive texts.
pub fn parse(typed: &str) -> Result<String, PhoneError> {
    let typed = typed.trim();
    if !typed.starts_with('+') {
        return Err(PhoneError::NoCountryCode(typed.to_owned()));
    }
    let number =
        phonenumber::parse(None, typed).map_err(|e| PhoneError::NotANumber(typed.to_owned(), e.to_string()))?;
    if !phonenumber::is_valid(&number) {
        return Err(PhoneError::Invalid(typed.to_owned()));
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_parsed_to_e164_and_checked() {
        assert_eq!(parse("+34 612 34 67 89").as_deref(), Ok("+34612346789"));
        assert_eq!(parse("+44 7911 123456").as_deref(), Ok("+447911123456"));
        assert!(parse("612346789").is_err(), "no country code");
        assert!(parse("+34 1").is_err(), "too short");
        assert!(parse("+999 12345678").is_err(), "no such country");
    }
}
