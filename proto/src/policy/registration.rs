//! Self-registration's decisions, pure: whether a name may be taken (reserved names, and
//! names that look like one already taken), and what a new account may do (its quota and
//! deliveries a day). Account names are already lower case and ASCII (`validate_account`),
//! so what remains of "looks alike" is characters and pairs people misread: `0`/`o`,
//! `1`/`l`/`i`, `3`/`e`, `4`/`a`, `5`/`s`, `7`/`t`, `8`/`b`, `9`/`g`, `rn`/`m`, `vv`/`w`,
//! and the dots, dashes and underscores that separate. (Not `j`/`i`, `u`/`v` or `cl`/`d`:
//! they would refuse distinct common names, `juan` for `ivan`, `clara` for `dara`.)

/// `[registration]` in the listener's config.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrationConfig {
    /// Off unless the operator turns it on.
    pub enabled: bool,
    /// Mailbox quota of a new account, bytes.
    pub quota_bytes: u64,
    /// Deliveries a new account may send a day.
    pub deliveries_per_day: u32,
    /// Registrations one network (/24, /64) may make a day.
    pub per_network_per_day: u32,
    /// Registrations a day, all networks together.
    pub per_day: u32,
    /// Names refused besides the built-in list.
    pub reserved: Vec<String>,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        RegistrationConfig {
            enabled: false,
            quota_bytes: 1 << 30,
            deliveries_per_day: 100,
            per_network_per_day: 3,
            per_day: 1000,
            reserved: Vec::new(),
        }
    }
}

impl RegistrationConfig {
    pub fn check(&self) -> Result<(), &'static str> {
        if self.quota_bytes == 0 || self.deliveries_per_day == 0 {
            return Err("registration.quota_bytes and deliveries_per_day must be above 0");
        }
        if self.per_network_per_day == 0 || self.per_day == 0 {
            return Err("registration.per_network_per_day and per_day must be above 0");
        }
        if self.reserved.len() > 10_000 {
            return Err("registration.reserved holds at most 10000 names");
        }
        Ok(())
    }
}

/// Names nobody registers: the system's, the mail system's, the listener's own.
pub const RESERVED: &[&str] = &[
    "admin",
    "administrator",
    "root",
    "postmaster",
    "hostmaster",
    "webmaster",
    "abuse",
    "security",
    "support",
    "help",
    "info",
    "noreply",
    "no-reply",
    "mailer-daemon",
    "nobody",
    "operator",
    "system",
    "staff",
    "qxfer",
    "sysadmin",
    "daemon",
    "www",
];

/// What a name looks like: look-alike characters folded, separators dropped. Two names
/// with the same skeleton are too alike to belong to two people.
pub fn skeleton(name: &str) -> String {
    let folded: String = name
        .chars()
        .filter(|c| !matches!(c, '.' | '_' | '-'))
        .map(|c| match c.to_ascii_lowercase() {
            '0' => 'o',
            '1' | 'i' => 'l',
            '3' => 'e',
            '4' => 'a',
            '5' => 's',
            '7' => 't',
            '8' => 'b',
            '9' => 'g',
            c => c,
        })
        .collect();
    folded.replace("rn", "m").replace("vv", "w")
}

/// Why a name may not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameRefused {
    #[error("{0:?} is reserved; pick another name")]
    Reserved(String),
    #[error("{0:?} looks too much like an existing account's name; pick another name")]
    LookAlike(String),
}

/// Whether `name` is reserved (built in, or by the operator), or looks like a reserved name.
pub fn reserved(name: &str, cfg: &RegistrationConfig) -> Result<(), NameRefused> {
    let s = skeleton(name);
    let listed = RESERVED.iter().copied().chain(cfg.reserved.iter().map(String::as_str));
    for r in listed {
        if r == name || skeleton(r) == s {
            return Err(NameRefused::Reserved(name.to_owned()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_share_a_skeleton() {
        assert_eq!(skeleton("alice"), skeleton("a1ice"));
        assert_eq!(skeleton("alice"), skeleton("al1ce"));
        assert_eq!(skeleton("bob"), skeleton("b0b"));
        assert_eq!(skeleton("martin"), skeleton("rnartin"));
        assert_eq!(skeleton("wendy"), skeleton("vvendy"));
        assert_eq!(skeleton("john.smith"), skeleton("johnsmith"));
        assert_eq!(skeleton("john_smith"), skeleton("john-smith"));
        assert_ne!(skeleton("alice"), skeleton("alicia"));
        assert_ne!(skeleton("bob"), skeleton("rob"));
        for (a, b) in [("juan", "ivan"), ("jan", "ian"), ("clara", "dara"), ("qin", "gin")] {
            assert_ne!(skeleton(a), skeleton(b), "{a} and {b} are different names");
        }
    }

    #[test]
    fn reserved_names_and_their_look_alikes_are_refused() {
        let cfg = RegistrationConfig { reserved: vec!["ceo".into()], ..Default::default() };
        for name in ["admin", "adm1n", "root", "r00t", "postmaster", "qxfer", "ceo", "c3o", "no-reply", "noreply"] {
            assert!(reserved(name, &cfg).is_err(), "{name}");
        }
        for name in ["alice", "bob", "rooted", "admiral"] {
            assert!(reserved(name, &cfg).is_ok(), "{name}");
        }
        assert_eq!(reserved("adm1n", &cfg), Err(NameRefused::Reserved("adm1n".into())));
    }

    #[test]
    fn the_config_is_checked() {
        assert!(RegistrationConfig::default().check().is_ok());
        assert!(!RegistrationConfig::default().enabled, "off by default");
        assert!(RegistrationConfig { quota_bytes: 0, ..Default::default() }.check().is_err());
        assert!(RegistrationConfig { per_network_per_day: 0, ..Default::default() }.check().is_err());
    }
}
