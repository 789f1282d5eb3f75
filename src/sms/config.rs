//! `[sms]` in the listener's config ([`SmsConfig`]): which gateway, its timeout and
//! retries, and what texts may cost; its checks, the gateway it builds, the line the
//! start-up log shows, and the cost controls handed to `policy::sms`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::policy::sms::SmsLimits;

use super::error::SmsError;
use super::gateway::Gateway;
use super::webhook::{check_url, shown_url, Webhook, WebhookConfig};

/// `[sms]` in the listener's config: which gateway, its timeout and retries, and what texts
/// may cost. At most one of `spool`, `command` and `webhook`; none means the spool under the
/// data directory, which sends nothing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    /// Write texts as JSON files in this directory (sends nothing).
    pub spool: Option<PathBuf>,
    /// Run this program per text: `["/usr/local/bin/send-sms", "{to}"]`, the text on stdin.
    pub command: Option<Vec<String>>,
    /// POST texts to this HTTPS webhook (`[sms.webhook]`).
    pub webhook: Option<WebhookConfig>,
    /// Seconds one attempt (webhook) or one run (command) may take, 1 to 120. Default 10.
    pub timeout_secs: u64,
    /// Further webhook attempts after a network error or a 5xx answer, at most 5. Default 2.
    pub retries: u32,
    /// Texts per UTC day, all numbers together (both pools); 2 to 100 000. Default 200.
    pub daily_budget: u32,
    /// Of `daily_budget`, the texts kept for accounts' own settled numbers (recovery and
    /// authorising codes, announcements with cancel codes); at least 1, less than
    /// `daily_budget`. Default: half of `daily_budget`.
    pub owner_reserve: Option<u32>,
    /// Texts one account draws from the reserve a day; at least 2. Default 8.
    pub owner_share: u32,
    /// Of `owner_share`, the texts requests from places the account does not know may
    /// cause (recovery starts by strangers, changes from elsewhere); less than
    /// `owner_share`. Default 4.
    pub stranger_share: u32,
    /// Verification codes to new numbers per account a day; at least 1. Default 3.
    pub verify_per_account: u32,
    /// Verification codes to new numbers asked for from one network a day; at least 1.
    /// Default 10.
    pub verify_per_network: u32,
    /// Recovery starts that text a code from one network (not a known place of the
    /// account), all accounts together, a day; at least 1. Default 10.
    pub starts_per_network: u32,
    /// Seconds between two texts to one number; at least 1. Default 60.
    pub cooldown_secs: u64,
    /// Calling codes texts may go to (`"+34"`, `"+44"`); empty (the default): any.
    pub countries: Vec<String>,
    /// How texts name this listener, as users reach it (`files.example.org` or
    /// `files.example.org:4433`): the cancel command in a text must work as written.
    /// Default: the machine's host name.
    pub name: Option<String>,
}

impl Default for SmsConfig {
    fn default() -> Self {
        let limits = SmsLimits::default();
        SmsConfig {
            spool: None,
            command: None,
            webhook: None,
            timeout_secs: 10,
            retries: 2,
            daily_budget: limits.daily_budget,
            owner_reserve: None,
            owner_share: limits.owner_share,
            stranger_share: limits.stranger_share,
            verify_per_account: limits.verify_per_account,
            verify_per_network: limits.verify_per_network,
            starts_per_network: limits.starts_per_network,
            cooldown_secs: limits.cooldown_secs,
            countries: limits.countries,
            name: None,
        }
    }
}

/// The longest `timeout_secs` accepted.
const MAX_TIMEOUT_SECS: u64 = 120;
/// The most `retries` accepted.
const MAX_RETRIES: u32 = 5;
/// The largest `daily_budget` accepted: the ledger's maps gain an entry only per text
/// counted, so this also bounds them.
const MAX_DAILY_BUDGET: u32 = 100_000;

impl SmsConfig {
    /// Values that would switch a defence off, leak a secret, or cannot work.
    pub fn check(&self) -> Result<(), &'static str> {
        if let Some(name) = &self.name {
            let ok = !name.is_empty()
                && name.len() <= 255
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
            if !ok {
                return Err("sms.name must be a host name or address as users write it (letters, digits, . - : [ ])");
            }
        }
        let chosen = [self.spool.is_some(), self.command.is_some(), self.webhook.is_some()];
        if chosen.iter().filter(|c| **c).count() > 1 {
            return Err("sms: choose at most one of spool, command and webhook");
        }
        if let Some(argv) = &self.command {
            if argv.first().is_none_or(|p| p.is_empty()) {
                return Err("sms.command needs a program: command = [\"/path/to/program\", \"{to}\"]");
            }
        }
        if let Some(w) = &self.webhook {
            check_url(&w.url)?;
        }
        if !(1..=MAX_TIMEOUT_SECS).contains(&self.timeout_secs) {
            return Err("sms.timeout_secs must be between 1 and 120");
        }
        if self.retries > MAX_RETRIES {
            return Err("sms.retries is at most 5");
        }
        if self.daily_budget < 2 {
            return Err("sms.daily_budget must be at least 2: one part is the owners' reserve, the rest the general \
                        pool (remove [sms] to send no texts)");
        }
        if self.daily_budget > MAX_DAILY_BUDGET {
            return Err("sms.daily_budget is at most 100000");
        }
        let reserve = self.reserve();
        if reserve == 0 || reserve >= self.daily_budget {
            return Err("sms.owner_reserve must be at least 1 and less than sms.daily_budget (the rest is for \
                        verifying new numbers and other texts)");
        }
        if self.owner_share < 2 {
            return Err("sms.owner_share must be at least 2 (a code and an announcement)");
        }
        if self.stranger_share >= self.owner_share {
            return Err("sms.stranger_share must be less than sms.owner_share, or strangers can spend the owner's \
                        texts for the day");
        }
        if self.verify_per_account == 0 || self.verify_per_network == 0 || self.starts_per_network == 0 {
            return Err("sms.verify_per_account, verify_per_network and starts_per_network must be at least 1");
        }
        if self.cooldown_secs == 0 {
            return Err("sms.cooldown_secs must be at least 1");
        }
        if !self.countries.iter().all(|c| is_calling_code(c)) {
            return Err("sms.countries holds calling codes: + and 1 to 3 digits, like \"+34\" or \"+1\"");
        }
        Ok(())
    }

    /// The cost controls for `policy::sms::SmsLedger` (`max_numbers` at its default).
    pub fn limits(&self) -> SmsLimits {
        SmsLimits {
            daily_budget: self.daily_budget,
            owner_reserve: self.reserve(),
            owner_share: self.owner_share,
            stranger_share: self.stranger_share,
            verify_per_account: self.verify_per_account,
            verify_per_network: self.verify_per_network,
            starts_per_network: self.starts_per_network,
            cooldown_secs: self.cooldown_secs,
            countries: self.countries.clone(),
            ..SmsLimits::default()
        }
    }

    /// The owner reserve: as set, or half of `daily_budget`.
    pub fn reserve(&self) -> u32 {
        self.owner_reserve.unwrap_or(self.daily_budget / 2)
    }

    /// Build the chosen gateway (checking the section first); with none chosen, the spool at
    /// `data_dir/sms-spool`. A webhook's token and roots are read here, so a bad path or a
    /// token file open to others fails at start, not at the first text.
    pub fn gateway(&self, data_dir: &Path) -> Result<Gateway, SmsError> {
        self.check().map_err(SmsError::Config)?;
        let timeout = Duration::from_secs(self.timeout_secs);
        if let Some(w) = &self.webhook {
            return Ok(Gateway::Webhook(Webhook::new(w, timeout, self.retries)?));
        }
        if let Some(argv) = &self.command {
            return Ok(Gateway::Command { argv: argv.clone(), timeout });
        }
        Ok(Gateway::spool(self.spool.clone().unwrap_or_else(|| data_dir.join(DEFAULT_SPOOL))))
    }

    /// One line for the start-up log: `spool DIR (sends nothing)`, `command PROGRAM` or
    /// `webhook https://host/path` (no userinfo, no query).
    pub fn describe(&self) -> String {
        if let Some(w) = &self.webhook {
            return format!("webhook {}", shown_url(&w.url));
        }
        if let Some(argv) = &self.command {
            return format!("command {}", argv.first().map_or("(none)", String::as_str));
        }
        match &self.spool {
            Some(dir) => format!("spool {} (sends nothing)", dir.display()),
            None => format!("spool DATA_DIR/{DEFAULT_SPOOL} (sends nothing)"),
        }
    }
}

/// The spool's directory under the data directory when `[sms]` names no gateway.
const DEFAULT_SPOOL: &str = "sms-spool";

/// `+` and 1 to 3 digits.
fn is_calling_code(c: &str) -> bool {
    c.strip_prefix('+').is_some_and(|d| (1..=3).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Why a test's `[sms]` text was refused: TOML that does not parse into the section, or
    /// a failed check.
    #[derive(Debug, thiserror::Error)]
    enum ParseError {
        #[error("{0}")]
        Toml(#[from] toml::de::Error),
        #[error("{0}")]
        Check(&'static str),
    }

    fn parse(text: &str) -> Result<SmsConfig, ParseError> {
        let cfg: SmsConfig = toml::from_str(text)?;
        cfg.check().map_err(ParseError::Check)?;
        Ok(cfg)
    }

    #[test]
    fn the_section_parses_with_defaults_and_limits() {
        let empty = parse("").expect("empty");
        assert_eq!(empty, SmsConfig::default());
        assert_eq!((empty.timeout_secs, empty.retries), (10, 2));
        assert_eq!(empty.limits(), SmsLimits::default());
        let cfg = parse(
            "timeout_secs = 5\nretries = 1\ndaily_budget = 50\ncooldown_secs = 120\ncountries = [\"+34\", \"+1\"]\n\
             [webhook]\nurl = \"https://user:pw@sms.example:8443/v1/send?key=x\"\ntoken_file = \"/etc/qxfer/sms-token\"\n",
        );
        assert!(cfg.is_err(), "userinfo in the URL is refused");
        let cfg = parse(
            "timeout_secs = 5\nretries = 1\ndaily_budget = 50\ncooldown_secs = 120\ncountries = [\"+34\", \"+1\"]\n\
             [webhook]\nurl = \"https://sms.example:8443/v1/send?key=x\"\ntoken_file = \"/etc/qxfer/sms-token\"\n",
        )
        .expect("webhook");
        let w = cfg.webhook.as_ref().expect("webhook");
        assert_eq!((w.token_file.as_path(), w.ca_file.as_deref()), (Path::new("/etc/qxfer/sms-token"), None));
        assert_eq!(cfg.describe(), "webhook https://sms.example:8443/v1/send");
        let l = cfg.limits();
        assert_eq!((l.daily_budget, l.cooldown_secs, l.countries.clone()), (50, 120, vec!["+34".into(), "+1".into()]));
        assert_eq!(l.max_numbers, SmsLimits::default().max_numbers);
        assert_eq!((l.owner_reserve, l.general()), (25, 25), "half the budget by default");
        let pools = parse("daily_budget = 40\nowner_reserve = 30\nowner_share = 6\nstranger_share = 0\n")
            .expect("pools")
            .limits();
        assert_eq!((pools.owner_reserve, pools.general(), pools.owner_share, pools.stranger_share), (30, 10, 6, 0));
        let cmd = parse("command = [\"/usr/local/bin/send-sms\", \"{to}\"]\n").expect("command");
        assert_eq!(cmd.describe(), "command /usr/local/bin/send-sms");
        assert_eq!(
            parse("spool = \"/var/tmp/sms\"\n").expect("spool").describe(),
            "spool /var/tmp/sms (sends nothing)"
        );
    }

    #[test]
    fn the_section_refuses_what_would_not_work_or_would_leak() {
        let hook = "[webhook]\nurl = \"https://sms.example/send\"\ntoken_file = \"/t\"\n";
        for bad in [
            "spool = \"/tmp/s\"\ncommand = [\"x\"]\n".to_owned(),
            format!("spool = \"/tmp/s\"\n{hook}"),
            format!("command = [\"x\"]\n{hook}"),
            "[webhook]\nurl = \"http://sms.example/send\"\ntoken_file = \"/t\"\n".to_owned(),
            "[webhook]\nurl = \"HTTPS://sms.example/send\"\ntoken_file = \"/t\"\n".to_owned(),
            "[webhook]\nurl = \"https://\"\ntoken_file = \"/t\"\n".to_owned(),
            "[webhook]\nurl = \"https://sms.example/send#x\"\ntoken_file = \"/t\"\n".to_owned(),
            "[webhook]\nurl = \"https://sms.example/send\"\n".to_owned(),
            format!("{hook}token = \"inline\"\n"),
            "command = []\n".to_owned(),
            "command = [\"\", \"{to}\"]\n".to_owned(),
            "countries = [\"34\"]\n".to_owned(),
            "countries = [\"+1234\"]\n".to_owned(),
            "countries = [\"+\"]\n".to_owned(),
            "countries = [\"+3a\"]\n".to_owned(),
            "daily_budget = 0\n".to_owned(),
            "daily_budget = 1\n".to_owned(),
            "daily_budget = 100001\n".to_owned(),
            "daily_budget = 10\nowner_reserve = 10\n".to_owned(),
            "daily_budget = 10\nowner_reserve = 11\n".to_owned(),
            "owner_reserve = 0\n".to_owned(),
            "owner_share = 1\n".to_owned(),
            "owner_share = 4\nstranger_share = 4\n".to_owned(),
            "verify_per_account = 0\n".to_owned(),
            "verify_per_network = 0\n".to_owned(),
            "starts_per_network = 0\n".to_owned(),
            "cooldown_secs = 0\n".to_owned(),
            "timeout_secs = 0\n".to_owned(),
            "timeout_secs = 121\n".to_owned(),
            "retries = 6\n".to_owned(),
            "no_such_knob = 1\n".to_owned(),
        ] {
            assert!(parse(&bad).is_err(), "accepted: {bad}");
        }
        let http = parse("[webhook]\nurl = \"http://sms.example/send\"\ntoken_file = \"/t\"\n").expect_err("http");
        assert!(matches!(http, ParseError::Check(_)), "{http:?}");
        let http = http.to_string();
        assert!(http.contains("https://"), "{http}");
        assert!(parse("countries = [\"+1\", \"+44\", \"+358\"]\ntimeout_secs = 120\nretries = 5\n").is_ok());
    }

    #[test]
    fn the_default_gateway_is_the_spool_under_the_data_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = SmsConfig::default();
        match cfg.gateway(dir.path()).expect("gateway") {
            Gateway::Spool { dir: spool, .. } => assert_eq!(spool, dir.path().join("sms-spool")),
            other => panic!("not the spool: {other:?}"),
        }
        assert_eq!(cfg.describe(), "spool DATA_DIR/sms-spool (sends nothing)");
        let cmd = SmsConfig { command: Some(vec!["send-sms".into()]), timeout_secs: 7, ..SmsConfig::default() };
        assert!(
            matches!(cmd.gateway(dir.path()), Ok(Gateway::Command { timeout, .. }) if timeout == Duration::from_secs(7))
        );
        let both = SmsConfig { spool: Some(dir.path().into()), ..cmd };
        assert!(matches!(both.gateway(dir.path()), Err(SmsError::Config(_))));
    }
}
