//! Value parsers for arguments clap cannot read by itself: durations (`30s`, `2h`),
//! timeouts, delivery ids and recipients, with the words a mistyped one is refused with.

/// Why an argument is not a duration or a delivery id. The text is what clap prints after
/// `invalid value '…' for '…': `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("{0:?} is not a duration like 30s, 10m, 2h or 7d")]
    NotADuration(String),
    #[error("{text:?} has no unit: write {n}s, {n}m, {n}h or {n}d")]
    NoUnit { text: String, n: u64 },
    #[error("{text:?}: unknown unit {unit:?} (s, m, h or d)")]
    UnknownUnit { text: String, unit: String },
    #[error("{0:?} is too long")]
    TooLong(String),
    #[error("{0:?} is not a delivery id: ids are whole numbers, as `qxfer inbox` lists them")]
    NotAnId(String),
}

/// `30s`, `10m`, `2h`, `7d`: a number and its unit (a bare number is refused: is `5` five
/// seconds or five days?).
pub fn parse_duration(s: &str) -> Result<u64, ValueError> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| ValueError::NotADuration(s.to_owned()))?;
    let mult = match unit {
        "" => return Err(ValueError::NoUnit { text: s.to_owned(), n }),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(ValueError::UnknownUnit { text: s.to_owned(), unit: unit.to_owned() }),
    };
    n.checked_mul(mult).ok_or_else(|| ValueError::TooLong(s.to_owned()))
}

/// `--connect-timeout`: a duration, or a bare number of seconds (as other tools' timeouts
/// are written; a timeout this short leaves no doubt about the unit).
pub fn parse_timeout(s: &str) -> Result<u64, ValueError> {
    match s.trim().parse::<u64>() {
        Ok(secs) => Ok(secs),
        Err(_) => parse_duration(s),
    }
}

/// `--to`: an account name as pasted, folded to lower case (account names are lower case)
/// with a note on stderr; what no folding makes a name is left for the command to refuse.
pub fn parse_recipient(s: &str) -> Result<String, ValueError> {
    let lower = s.to_ascii_lowercase();
    if lower != s && crate::wire::validate_account(&lower).is_ok() {
        eprintln!("qxfer: account names are lower case: sending to {lower}");
        return Ok(lower);
    }
    Ok(s.to_owned())
}

/// A delivery id: a whole number, as `qxfer inbox` lists it.
pub fn parse_id(s: &str) -> Result<u64, ValueError> {
    s.parse::<u64>().map_err(|_| ValueError::NotAnId(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_their_unit() {
        assert_eq!(parse_duration("30s"), Ok(30));
        assert_eq!(parse_duration(" 2h"), Ok(7200));
        assert_eq!(parse_duration("7d"), Ok(604_800));
    }

    #[test]
    fn refusals_keep_their_words() {
        let text = |s: &str| parse_duration(s).unwrap_err().to_string();
        assert_eq!(text("5"), r#""5" has no unit: write 5s, 5m, 5h or 5d"#);
        assert_eq!(text("5x"), r#""5x": unknown unit "x" (s, m, h or d)"#);
        assert_eq!(text("abc"), r#""abc" is not a duration like 30s, 10m, 2h or 7d"#);
        assert_eq!(text("999999999999999999d"), r#""999999999999999999d" is too long"#);
        assert_eq!(
            parse_id("x").unwrap_err().to_string(),
            r#""x" is not a delivery id: ids are whole numbers, as `qxfer inbox` lists them"#
        );
        assert_eq!(parse_id("12"), Ok(12));
    }

    #[test]
    fn timeouts_take_bare_seconds_and_recipients_fold_case() {
        assert_eq!(parse_timeout("5"), Ok(5));
        assert_eq!(parse_timeout("2m"), Ok(120));
        assert_eq!(parse_timeout("5x").unwrap_err().to_string(), r#""5x": unknown unit "x" (s, m, h or d)"#);
        assert_eq!(parse_recipient("Bob").as_deref(), Ok("bob"));
        assert_eq!(parse_recipient("bob").as_deref(), Ok("bob"));
        // Not a name however it is folded: left as typed, for the command to refuse.
        assert_eq!(parse_recipient("Bob Smith").as_deref(), Ok("Bob Smith"));
    }
}
