//! The listener's config file (`qxfer listen --config FILE`, TOML): its `[limits]` and
//! `[scoring]` sections, each field defaulting to `policy`'s value. Unknown keys and values
//! that would disable a defence are refused.

use serde::Deserialize;

use crate::policy::challenges::ChallengeConfig;
use crate::policy::{Limits, LimitsError, ScoreConfig};

/// A config file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Syntax(#[from] toml::de::Error),
    #[error(transparent)]
    Limits(#[from] LimitsError),
    #[error(
        "scoring.threshold, window_secs and ban_secs must be greater than 0, weights not negative, and too_regular \
         below the threshold (timing alone never bans)"
    )]
    Scoring,
    #[error("{0}")]
    Challenges(&'static str),
}

/// A parsed config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub scoring: ScoreConfig,
    #[serde(default)]
    pub challenges: ChallengeConfig,
    #[serde(default)]
    pub recovery: crate::policy::recovery::RecoveryConfig,
    #[serde(default)]
    pub sms: crate::sms::SmsConfig,
    #[serde(default)]
    pub geoip: GeoIpSection,
    #[serde(default)]
    pub registration: crate::policy::registration::RegistrationConfig,
    #[serde(default)]
    pub regularity: crate::policy::regularity::RegularityConfig,
}

/// `[geoip]`: the operator's MaxMind-format databases (a country one and an ASN one, or
/// one with both), for known places.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoIpSection {
    #[serde(default)]
    pub databases: Vec<std::path::PathBuf>,
}

/// Parse a listener config file: its `[limits]`, `[scoring]`, `[challenges]`,
/// `[recovery]`, `[sms]`, `[geoip]`, `[registration]` and `[regularity]` sections.
pub fn parse_all(text: &str) -> Result<Config, ConfigError> {
    let f: Config = toml::from_str(text)?;
    let (limits, scoring) = checked(f.limits, f.scoring)?;
    f.challenges.check().map_err(ConfigError::Challenges)?;
    f.recovery.check().map_err(ConfigError::Challenges)?;
    f.sms.check().map_err(ConfigError::Challenges)?;
    f.registration.check().map_err(ConfigError::Challenges)?;
    f.regularity.check().map_err(ConfigError::Challenges)?;
    Ok(Config {
        limits,
        scoring,
        challenges: f.challenges,
        recovery: f.recovery,
        sms: f.sms,
        geoip: f.geoip,
        registration: f.registration,
        regularity: f.regularity,
    })
}

/// Parse a listener config file's `[limits]` and `[scoring]` sections (the rest checked).
pub fn parse(text: &str) -> Result<(Limits, ScoreConfig), ConfigError> {
    let c = parse_all(text)?;
    Ok((c.limits, c.scoring))
}

fn checked(limits: Limits, scoring: ScoreConfig) -> Result<(Limits, ScoreConfig), ConfigError> {
    struct File {
        limits: Limits,
        scoring: ScoreConfig,
    }
    let f = File { limits, scoring };
    f.limits.check()?;
    let s = &f.scoring;
    let weights = [
        s.auth_failure,
        s.unknown_user,
        s.protocol_violation,
        s.limit_hit,
        s.probe,
        s.timeout,
        s.panic_caused,
        s.challenge_failed,
        s.too_fast,
        s.recovery_guess,
        s.too_regular,
        s.prefix_threshold,
    ];
    if s.too_regular >= s.threshold {
        return Err(ConfigError::Scoring);
    }
    if crate::policy::milli(s.threshold) == 0
        || s.window_secs == 0
        || s.ban_secs == 0
        || weights.iter().any(|w| !w.is_finite() || *w < 0.0)
    {
        return Err(ConfigError::Scoring);
    }
    Ok((f.limits, f.scoring))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::RetryMode;

    fn limits(text: &str) -> Result<Limits, ConfigError> {
        parse(text).map(|(l, _)| l)
    }

    #[test]
    fn toml_section_overrides_defaults() {
        let l = limits("[limits]\nmax_connections_per_ip = 4\nretry = \"always\"\n").expect("parse");
        assert_eq!(l.max_connections_per_ip, 4);
        assert_eq!(l.retry, RetryMode::Always);
        assert_eq!(l.max_connections, Limits::default().max_connections);
        assert!(limits("[limits]\nmax_connections = 0\n").is_err());
        assert!(limits("[limits]\nno_such_limit = 1\n").is_err());
        assert_eq!(limits("").expect("empty"), Limits::default());
        assert!(matches!(parse("[scoring]\nthreshold = 0\n"), Err(ConfigError::Scoring)));
        assert!(matches!(parse("[scoring]\nprobe = -1\n"), Err(ConfigError::Scoring)));
        let (_, s) = parse("[scoring]\nprobe = 0.2\nthreshold = 5\nexempt = [\"10.0.0.0/8\"]\n").expect("parse");
        assert_eq!(s.probe, 0.2);
        assert!(s.is_exempt("10.1.2.3".parse().expect("ip")) && !s.is_exempt("127.0.0.1".parse().expect("ip")));
    }

    #[test]
    fn the_challenges_section_is_checked() {
        let c = parse_all("[challenges]\nchallenge_after = 5\ncaptcha = false\nmax_bits = 20\n").expect("parse");
        assert_eq!((c.challenges.challenge_after, c.challenges.captcha, c.challenges.max_bits), (5, false, 20));
        assert_eq!(parse_all("").expect("empty").challenges, ChallengeConfig::default());
        for bad in [
            "[challenges]\nchallenge_after = 0\n",
            "[challenges]\nmin_bits = 30\nmax_bits = 20\n",
            "[challenges]\nmax_bits = 29\n",
            "[challenges]\nmin_bits = 0\n",
            "[challenges]\nno_such_knob = 1\n",
            "[scoring]\ntoo_fast = -1\n",
        ] {
            assert!(parse_all(bad).is_err(), "{bad}");
        }
    }
}
