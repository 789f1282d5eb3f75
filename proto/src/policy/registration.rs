//! Self-registration's decisions, pure: whether a name may be taken (reserved names, and
//! names that look like one already taken), and what a new account may do (its quota and
//! deliveries a day), and today's caps on registrations ([`room`], worded per cap). Account names are already lower case and ASCII (`validate_account`),
//! so what remains of "looks alike" is characters and pairs people misread: `0`/`o`,
//! `1`/`l`/`i`, `3`/`e`, `4`/`a`, `5`/`s`, `7`/`t`, `8`/`b`, `9`/`g`, `rn`/`m`, `vv`/`w`,
//! and the dots, dashes and underscores that separate. (Not `j`/`i`, `u`/`v` or `cl`/`d`:
//! they would refuse distinct common names, `juan` for `ivan`, `clara` for `dara`.)

use ipnet::IpNet;

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

/// Registrations made today (until the day's end on the listener's clock), as counted
/// where the caps apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// On the whole listener.
    pub listener: u32,
    /// By the asking network (/24, /64) and how many.
    pub network: (IpNet, u32),
    /// By the networks near it (/16, /48: one ISP customer's IPv6 holds 65,536 /64s).
    pub near: (IpNet, u32),
}

/// A cap a registration met, in words for the person who asked (the networks named, so a
/// /24 that never registered is not told "this network" for its /16's count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Cap {
    #[error("the listener has taken as many registrations today as it takes in a day ({0}); try tomorrow, or ask its operator to add the account")]
    Listener(u32),
    #[error("your network ({0}) registered {accounts} today, as many as one network may; try tomorrow, or ask the listener's operator to add the account", accounts = accounts(*.1))]
    Network(IpNet, u32),
    #[error("networks near yours ({0}) registered {accounts} today, as many as they may together; try tomorrow, or ask the listener's operator to add the account", accounts = accounts(*.1))]
    Near(IpNet, u32),
    #[error("the listener is busy with registrations; try later")]
    Busy,
}

fn accounts(n: u32) -> String {
    if n == 1 {
        "1 account".into()
    } else {
        format!("{n} accounts")
    }
}

/// Whether one more registration fits today's caps: `per_day` on the listener,
/// `per_network_per_day` per /24 or /64, four times that per /16 or /48.
pub fn room(cfg: &RegistrationConfig, counts: &Counts) -> Result<(), Cap> {
    if counts.listener >= cfg.per_day {
        return Err(Cap::Listener(counts.listener));
    }
    if counts.network.1 >= cfg.per_network_per_day {
        return Err(Cap::Network(counts.network.0, counts.network.1));
    }
    if counts.near.1 >= cfg.per_network_per_day.saturating_mul(4) {
        return Err(Cap::Near(counts.near.0, counts.near.1));
    }
    Ok(())
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
    fn each_cap_says_whose_count_it_is() {
        let cfg = RegistrationConfig { per_network_per_day: 3, per_day: 10, ..Default::default() };
        let net: IpNet = "192.0.2.0/24".parse().expect("net");
        let near: IpNet = "192.0.0.0/16".parse().expect("net");
        let counts = |l, n, w| Counts { listener: l, network: (net, n), near: (near, w) };
        assert_eq!(room(&cfg, &counts(0, 2, 11)), Ok(()));
        assert_eq!(room(&cfg, &counts(10, 0, 0)), Err(Cap::Listener(10)));
        assert_eq!(room(&cfg, &counts(3, 3, 3)), Err(Cap::Network(net, 3)));
        // A /24 that never registered, in a /16 that used its share: told of the /16.
        let cap = room(&cfg, &counts(9, 0, 12)).expect_err("the /16's cap");
        assert_eq!(cap, Cap::Near(near, 12));
        let text = cap.to_string();
        assert!(text.starts_with("networks near yours (192.0.0.0/16) registered 12 accounts today"), "{text}");
        assert!(!text.contains("this network") && !text.contains("your network"), "{text}");
        assert!(Cap::Network(net, 1).to_string().contains("your network (192.0.2.0/24) registered 1 account today"));
    }

    #[test]
    fn the_config_is_checked() {
        assert!(RegistrationConfig::default().check().is_ok());
        assert!(!RegistrationConfig::default().enabled, "off by default");
        assert!(RegistrationConfig { quota_bytes: 0, ..Default::default() }.check().is_err());
        assert!(RegistrationConfig { per_network_per_day: 0, ..Default::default() }.check().is_err());
    }
}
