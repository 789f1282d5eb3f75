//! What sending a text message may cost. Pure: the clock comes in as seconds.
//!
//! The day's texts (`daily_budget`, per UTC day) are two pools. The **owner reserve**
//! (`owner_reserve`) is only for texts to an account's own *settled* numbers (verified
//! more than `recovery.new_phone_days` ago): recovery codes, authorising codes and the
//! announcements of changes with their cancel codes. One account draws at most
//! `owner_share` of it a day, and of those at most `stranger_share` may be caused by
//! requests from places the account does not know (a recovery start from a stranger's
//! network, a change asked for from elsewhere), so strangers starting recoveries of an
//! account spend only that part and leave the owner's code from her known place and the
//! announcements. The **general pool** (the rest) is for everything else; verification
//! codes to numbers being added draw from it after their own allowance per account
//! (`verify_per_account`) and per network (`verify_per_network`). Recovery starts from a
//! network that is not a known place of the account are also limited per network across
//! all accounts (`starts_per_network`). Codes someone asked for wait `cooldown_secs` per
//! number; announcements do not. The country list applies to every text.
//!
//! Every map the ledger keeps gains an entry only when a text is counted, so none holds
//! more entries than the day's budget (capped by the config), and all are emptied when
//! the day turns. No map is ever full in a way that refuses the owner: her draws are
//! bounded by her share, not by room.

use std::collections::HashMap;

/// A pool is reported low once a day when this share of it (per cent) is used.
pub const LOW_PERCENT: u32 = 80;

/// `[sms]` cost controls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsLimits {
    /// Texts per UTC day, all numbers together (both pools).
    pub daily_budget: u32,
    /// Of `daily_budget`, the texts kept for accounts' own settled numbers.
    pub owner_reserve: u32,
    /// Texts one account draws from the reserve a day, at most.
    pub owner_share: u32,
    /// Of `owner_share`, the texts that requests from places the account does not know
    /// may cause.
    pub stranger_share: u32,
    /// Verification codes to new numbers per account a day.
    pub verify_per_account: u32,
    /// Verification codes to new numbers asked for from one network (/24, /64) a day.
    pub verify_per_network: u32,
    /// Recovery starts that text a code, from one network (not a known place of the
    /// account), all accounts together, a day.
    pub starts_per_network: u32,
    /// Seconds between two texts to one number.
    pub cooldown_secs: u64,
    /// Calling codes texts may go to (`+34`, `+44`, ...); empty: any.
    pub countries: Vec<String>,
    /// Numbers remembered for the cooldown, at most (the stalest go first).
    pub max_numbers: usize,
}

impl Default for SmsLimits {
    fn default() -> Self {
        SmsLimits {
            daily_budget: 200,
            owner_reserve: 100,
            owner_share: 8,
            stranger_share: 4,
            verify_per_account: 3,
            verify_per_network: 10,
            starts_per_network: 10,
            cooldown_secs: 60,
            countries: Vec::new(),
            max_numbers: 10_000,
        }
    }
}

impl SmsLimits {
    /// The general pool: the day's budget less the reserve.
    pub fn general(&self) -> u32 {
        self.daily_budget.saturating_sub(self.owner_reserve)
    }
}

/// Why a text is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SmsRefusal {
    #[error("the listener's daily text budget is spent")]
    Budget,
    #[error("the day's texts kept for account owners are spent")]
    Reserve,
    #[error("this account's texts for today are used up")]
    OwnerShare,
    #[error("this account's texts caused from unknown places are used up for today")]
    StrangerShare,
    #[error("the day's texts that requests from unknown places may cause are used up")]
    StrangersReserve,
    #[error("the day's verification codes for this account or from this network are used up")]
    Verify,
    #[error("the day's recovery texts from this network are used up")]
    NetworkStarts,
    #[error("a text went to this number {secs} s ago; wait a little")]
    Cooldown { secs: u64 },
    #[error("texts to this country are not allowed here")]
    Country,
}

/// Which pool a text draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool<'a> {
    /// The owner reserve: a text to a settled number of `account`. `stranger`: caused by
    /// a request from a place the account does not know.
    Owner { account: &'a str, stranger: bool },
    /// A verification code to a number being added to `account`, asked for from `net`.
    Verify { account: &'a str, net: &'a str },
    /// The general pool.
    General,
}

/// A text to be counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ask<'a> {
    pub pool: Pool<'a>,
    /// A recovery start from `net`, a network that is not a known place of the account.
    pub start_from: Option<&'a str>,
    /// A code someone asked for (the per-number cooldown applies); false for an
    /// announcement.
    pub cooldown: bool,
}

/// The two pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolName {
    General,
    Reserve,
}

impl PoolName {
    pub fn name(self) -> &'static str {
        match self {
            PoolName::General => "general",
            PoolName::Reserve => "owner reserve",
        }
    }
}

/// A pool's use today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    pub pool: PoolName,
    pub used: u32,
    pub of: u32,
}

/// One account's draws from the reserve today.
#[derive(Debug, Default, Clone, Copy)]
struct Share {
    all: u32,
    stranger: u32,
}

/// Texts counted today, and lately per number.
#[derive(Debug, Default)]
pub struct SmsLedger {
    day: u64,
    general: u32,
    reserve: u32,
    /// Of `reserve`, the texts caused from places the accounts do not know (all accounts
    /// together, at most half the reserve: strangers spread over many accounts still
    /// leave the owners at home the other half).
    reserve_strangers: u32,
    shares: HashMap<String, Share>,
    verify_accounts: HashMap<String, u32>,
    verify_nets: HashMap<String, u32>,
    start_nets: HashMap<String, u32>,
    /// The pools reported low today (general, reserve).
    warned: [bool; 2],
    last: HashMap<String, u64>,
}

impl SmsLedger {
    /// Whether a text to `number` (E.164) may go now; if so it is counted. `Ok(Some(_))`:
    /// this text took its pool past [`LOW_PERCENT`] (said once a pool a day).
    pub fn allow(
        &mut self,
        limits: &SmsLimits,
        number: &str,
        ask: &Ask<'_>,
        now: u64,
    ) -> Result<Option<PoolUse>, SmsRefusal> {
        self.check(limits, number, ask, now)?;
        Ok(self.count(limits, number, ask, now))
    }

    /// Whether a text to `number` may go now, counting nothing: [`Self::allow`] without
    /// its side effects (a reply that says when the next code can be texted asks this).
    pub fn check(&mut self, limits: &SmsLimits, number: &str, ask: &Ask<'_>, now: u64) -> Result<(), SmsRefusal> {
        if !limits.countries.is_empty() && !limits.countries.iter().any(|c| number.starts_with(c.as_str())) {
            return Err(SmsRefusal::Country);
        }
        self.turn_day(now);
        if let Some(net) = ask.start_from {
            if count(&self.start_nets, net) >= limits.starts_per_network {
                return Err(SmsRefusal::NetworkStarts);
            }
        }
        match ask.pool {
            Pool::Owner { account, stranger } => {
                let share = self.shares.get(account).copied().unwrap_or_default();
                if share.all >= limits.owner_share {
                    return Err(SmsRefusal::OwnerShare);
                }
                if stranger && share.stranger >= limits.stranger_share {
                    return Err(SmsRefusal::StrangerShare);
                }
                if stranger && self.reserve_strangers >= limits.owner_reserve / 2 {
                    return Err(SmsRefusal::StrangersReserve);
                }
                if self.reserve >= limits.owner_reserve {
                    return Err(SmsRefusal::Reserve);
                }
            }
            Pool::Verify { account, net } => {
                if count(&self.verify_accounts, account) >= limits.verify_per_account
                    || count(&self.verify_nets, net) >= limits.verify_per_network
                {
                    return Err(SmsRefusal::Verify);
                }
                if self.general >= limits.general() {
                    return Err(SmsRefusal::Budget);
                }
            }
            Pool::General => {
                if self.general >= limits.general() {
                    return Err(SmsRefusal::Budget);
                }
            }
        }
        if ask.cooldown {
            if let Some(&at) = self.last.get(number) {
                let since = now.saturating_sub(at);
                if since < limits.cooldown_secs {
                    return Err(SmsRefusal::Cooldown { secs: since });
                }
            }
        }
        Ok(())
    }

    /// Count a text [`Self::check`] let through.
    fn count(&mut self, limits: &SmsLimits, number: &str, ask: &Ask<'_>, now: u64) -> Option<PoolUse> {
        if ask.cooldown {
            self.note_number(limits, number, now);
        }
        if let Some(net) = ask.start_from {
            bump(&mut self.start_nets, net);
        }
        let low = match ask.pool {
            Pool::Owner { account, stranger } => {
                let share = self.shares.entry(account.to_owned()).or_default();
                share.all += 1;
                share.stranger += u32::from(stranger);
                self.reserve_strangers += u32::from(stranger);
                self.reserve += 1;
                self.low(PoolName::Reserve, self.reserve, limits.owner_reserve)
            }
            Pool::Verify { account, net } => {
                bump(&mut self.verify_accounts, account);
                bump(&mut self.verify_nets, net);
                self.general += 1;
                self.low(PoolName::General, self.general, limits.general())
            }
            Pool::General => {
                self.general += 1;
                self.low(PoolName::General, self.general, limits.general())
            }
        };
        low
    }

    /// A recovery start from `net` (not a known place) for a name that cannot be texted (a
    /// made-up name, an account without a number): checked as a start that texts a settled
    /// number would be, in the same order (the network's starts, the name's stranger share
    /// as `share_used` says, the reserve), and counted against the network's starts, so the
    /// reply reads as it would for an account. Nothing is drawn from a pool: no text goes.
    pub fn phantom_start(
        &mut self,
        limits: &SmsLimits,
        net: &str,
        share_used: bool,
        now: u64,
    ) -> Result<(), SmsRefusal> {
        self.phantom_check(limits, net, share_used, now)?;
        bump(&mut self.start_nets, net);
        Ok(())
    }

    /// [`Self::phantom_start`], counting nothing.
    pub fn phantom_check(
        &mut self,
        limits: &SmsLimits,
        net: &str,
        share_used: bool,
        now: u64,
    ) -> Result<(), SmsRefusal> {
        self.turn_day(now);
        if count(&self.start_nets, net) >= limits.starts_per_network {
            return Err(SmsRefusal::NetworkStarts);
        }
        if share_used {
            return Err(SmsRefusal::StrangerShare);
        }
        if self.reserve_strangers >= limits.owner_reserve / 2 {
            return Err(SmsRefusal::StrangersReserve);
        }
        if self.reserve >= limits.owner_reserve {
            return Err(SmsRefusal::Reserve);
        }
        Ok(())
    }

    /// The pools' use today (a day that has turned counts nothing yet).
    pub fn usage(&self, limits: &SmsLimits, now: u64) -> [PoolUse; 2] {
        let today = now / 86_400 == self.day;
        let (general, reserve) = if today { (self.general, self.reserve) } else { (0, 0) };
        [
            PoolUse { pool: PoolName::General, used: general, of: limits.general() },
            PoolUse { pool: PoolName::Reserve, used: reserve, of: limits.owner_reserve },
        ]
    }

    pub fn numbers(&self) -> usize {
        self.last.len()
    }

    /// Entries in the per-account and per-network maps (each at most the day's texts).
    pub fn tracked(&self) -> usize {
        self.shares.len() + self.verify_accounts.len() + self.verify_nets.len() + self.start_nets.len()
    }

    /// A new day: new pools, shares and allowances.
    fn turn_day(&mut self, now: u64) {
        let day = now / 86_400;
        if day != self.day {
            self.day = day;
            self.general = 0;
            self.reserve = 0;
            self.reserve_strangers = 0;
            self.shares.clear();
            self.verify_accounts.clear();
            self.verify_nets.clear();
            self.start_nets.clear();
            self.warned = [false; 2];
        }
    }

    /// `Some` the first time today `used` of `of` reaches [`LOW_PERCENT`].
    fn low(&mut self, pool: PoolName, used: u32, of: u32) -> Option<PoolUse> {
        let [general, reserve] = &mut self.warned;
        let flag = match pool {
            PoolName::General => general,
            PoolName::Reserve => reserve,
        };
        let past = u64::from(used) * 100 >= u64::from(of) * u64::from(LOW_PERCENT);
        if past && !*flag {
            *flag = true;
            return Some(PoolUse { pool, used, of });
        }
        None
    }

    /// Remember when `number` was last texted a code (the map stays within `max_numbers`).
    fn note_number(&mut self, limits: &SmsLimits, number: &str, now: u64) {
        if !self.last.contains_key(number) && self.last.len() >= limits.max_numbers.max(1) {
            self.last.retain(|_, at| now.saturating_sub(*at) < limits.cooldown_secs);
            if self.last.len() >= limits.max_numbers.max(1) {
                if let Some(stalest) = self.last.iter().min_by_key(|(_, at)| **at).map(|(n, _)| n.clone()) {
                    self.last.remove(&stalest);
                }
            }
        }
        self.last.insert(number.to_owned(), now);
    }
}

fn count(map: &HashMap<String, u32>, key: &str) -> u32 {
    map.get(key).copied().unwrap_or(0)
}

fn bump(map: &mut HashMap<String, u32>, key: &str) {
    *map.entry(key.to_owned()).or_insert(0) += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strangers_spread_over_many_accounts_leave_the_owners_half_of_the_reserve() {
        let limits = SmsLimits { daily_budget: 200, owner_reserve: 100, ..SmsLimits::default() };
        let mut ledger = SmsLedger::default();
        let day = 86_400 * 20_000;
        let names: Vec<String> = (0..60).map(|i| format!("user{i}")).collect();
        let mut spent = 0;
        for (i, name) in names.iter().enumerate() {
            for j in 0..limits.stranger_share {
                let ask =
                    Ask { pool: Pool::Owner { account: name, stranger: true }, start_from: None, cooldown: false };
                if ledger.allow(&limits, &format!("+3460{i:03}{j:04}"), &ask, day).is_ok() {
                    spent += 1;
                }
            }
        }
        assert_eq!(spent, 50, "strangers get half the reserve, over however many accounts");
        // The owners at home still have the other half.
        let home = Ask { pool: Pool::Owner { account: "alice", stranger: false }, start_from: None, cooldown: false };
        assert_eq!(ledger.allow(&limits, "+34600000001", &home, day).map(|_| ()), Ok(()));
        let stranger =
            Ask { pool: Pool::Owner { account: "alice", stranger: true }, start_from: None, cooldown: false };
        assert_eq!(ledger.allow(&limits, "+34600000002", &stranger, day), Err(SmsRefusal::StrangersReserve));
    }

    const DAY: u64 = 86_400 * 20_000;

    fn owner(account: &str, stranger: bool) -> Ask<'_> {
        Ask { pool: Pool::Owner { account, stranger }, start_from: None, cooldown: false }
    }

    fn code(pool: Pool<'_>) -> Ask<'_> {
        Ask { pool, start_from: None, cooldown: true }
    }

    #[test]
    fn budget_cooldown_and_countries_hold() {
        let limits = SmsLimits {
            daily_budget: 4,
            owner_reserve: 1,
            cooldown_secs: 60,
            countries: vec!["+34".into()],
            ..SmsLimits::default()
        };
        let mut ledger = SmsLedger::default();
        let general = code(Pool::General);
        assert_eq!(ledger.allow(&limits, "+447700900123", &general, DAY), Err(SmsRefusal::Country));
        assert_eq!(ledger.allow(&limits, "+34600000001", &general, DAY), Ok(None));
        assert_eq!(ledger.allow(&limits, "+34600000001", &general, DAY + 30), Err(SmsRefusal::Cooldown { secs: 30 }));
        assert_eq!(ledger.allow(&limits, "+34600000001", &general, DAY + 61), Ok(None));
        let low = Some(PoolUse { pool: PoolName::General, used: 3, of: 3 });
        assert_eq!(ledger.allow(&limits, "+34600000002", &general, DAY + 62), Ok(low));
        assert_eq!(ledger.allow(&limits, "+34600000003", &general, DAY + 63), Err(SmsRefusal::Budget));
        // A new day, a new budget.
        assert_eq!(ledger.allow(&limits, "+34600000003", &general, DAY + 86_400), Ok(None));
        // Announcements skip the cooldown, never the pools or the countries.
        let notice = Ask { cooldown: false, ..general };
        assert_eq!(ledger.allow(&limits, "+34600000003", &notice, DAY + 86_401), Ok(None));
        assert!(ledger.allow(&limits, "+34600000003", &notice, DAY + 86_402).is_ok());
        assert_eq!(ledger.allow(&limits, "+34600000003", &notice, DAY + 86_403), Err(SmsRefusal::Budget));
        assert_eq!(ledger.allow(&limits, "+4477", &notice, DAY + 86_403), Err(SmsRefusal::Country));
    }

    #[test]
    fn the_cooldown_map_is_bounded() {
        let limits = SmsLimits { daily_budget: u32::MAX, max_numbers: 8, ..SmsLimits::default() };
        let mut ledger = SmsLedger::default();
        for i in 0..1000u64 {
            assert!(ledger.allow(&limits, &format!("+3460000{i:04}"), &code(Pool::General), 1_000 + i).is_ok());
        }
        assert_eq!(ledger.numbers(), 8);
    }

    #[test]
    fn others_cannot_spend_the_owner_reserve() {
        let limits = SmsLimits { daily_budget: 40, owner_reserve: 20, ..SmsLimits::default() };
        let mut ledger = SmsLedger::default();
        // 50 accounts adding numbers from 50 networks: the general pool runs out, the
        // reserve is untouched.
        let mut sent = 0;
        for i in 0..50 {
            let (account, net) = (format!("user{i}"), format!("10.0.{i}.0/24"));
            let ask = code(Pool::Verify { account: &account, net: &net });
            if ledger.allow(&limits, &format!("+3460000{i:04}"), &ask, DAY + i).is_ok() {
                sent += 1;
            }
        }
        assert_eq!(sent, 20);
        assert_eq!(ledger.usage(&limits, DAY)[1].used, 0);
        // Strangers from 50 networks starting recoveries of alice spend her stranger part.
        let mut sent = 0;
        for i in 0..50u64 {
            let net = format!("10.1.{i}.0/24");
            let ask = Ask { start_from: Some(&net), ..owner("alice", true) };
            if ledger.allow(&limits, "+34612345678", &ask, DAY + 100 + i).is_ok() {
                sent += 1;
            }
        }
        assert_eq!(sent, limits.stranger_share);
        assert_eq!(
            ledger.allow(&limits, "+34612345678", &owner("alice", true), DAY + 200),
            Err(SmsRefusal::StrangerShare)
        );
        // The owner from her known place, and the announcements of her changes, still go.
        for _ in limits.stranger_share..limits.owner_share {
            assert!(ledger.allow(&limits, "+34612345678", &owner("alice", false), DAY + 300).is_ok());
        }
        assert_eq!(
            ledger.allow(&limits, "+34612345678", &owner("alice", false), DAY + 400),
            Err(SmsRefusal::OwnerShare)
        );
        // Another owner draws from the reserve as before.
        assert!(ledger.allow(&limits, "+34612345679", &owner("bob", false), DAY + 500).is_ok());
        // A new day, new shares.
        assert!(ledger.allow(&limits, "+34612345678", &owner("alice", true), DAY + 86_400).is_ok());
    }

    #[test]
    fn verification_codes_have_allowances_per_account_and_network() {
        let limits = SmsLimits { verify_per_account: 2, verify_per_network: 3, ..SmsLimits::default() };
        let mut ledger = SmsLedger::default();
        let verify = |account, net| Ask { pool: Pool::Verify { account, net }, start_from: None, cooldown: false };
        assert!(ledger.allow(&limits, "+34600000001", &verify("a", "n1"), DAY).is_ok());
        assert!(ledger.allow(&limits, "+34600000002", &verify("a", "n2"), DAY).is_ok());
        assert_eq!(ledger.allow(&limits, "+34600000003", &verify("a", "n3"), DAY), Err(SmsRefusal::Verify));
        assert!(ledger.allow(&limits, "+34600000004", &verify("b", "n1"), DAY).is_ok());
        assert!(ledger.allow(&limits, "+34600000005", &verify("c", "n1"), DAY).is_ok());
        assert_eq!(ledger.allow(&limits, "+34600000006", &verify("d", "n1"), DAY), Err(SmsRefusal::Verify));
        // A refusal counts nothing.
        assert_eq!(ledger.usage(&limits, DAY)[0].used, 4);
    }

    #[test]
    fn recovery_starts_from_one_network_are_limited_across_accounts() {
        let limits = SmsLimits { starts_per_network: 3, ..SmsLimits::default() };
        let mut ledger = SmsLedger::default();
        for (i, account) in ["a", "b", "c", "d"].into_iter().enumerate() {
            let ask = Ask { start_from: Some("10.9.9.0/24"), ..owner(account, true) };
            let r = ledger.allow(&limits, "+34600000001", &ask, DAY);
            assert_eq!(r.is_ok(), i < 3, "{account}: {r:?}");
        }
        assert_eq!(
            ledger.allow(&limits, "+34600000001", &Ask { start_from: Some("10.9.9.0/24"), ..owner("e", true) }, DAY),
            Err(SmsRefusal::NetworkStarts)
        );
        assert!(ledger
            .allow(&limits, "+34600000001", &Ask { start_from: Some("10.9.8.0/24"), ..owner("e", true) }, DAY)
            .is_ok());
    }

    #[test]
    fn a_start_for_a_name_that_cannot_be_texted_counts_and_is_refused_as_an_accounts_would_be() {
        let limits = SmsLimits { starts_per_network: 2, owner_reserve: 4, ..SmsLimits::default() };
        let mut ledger = SmsLedger::default();
        let net = "10.9.9.0/24";
        // A made-up name and a real account share the network's starts.
        assert_eq!(ledger.phantom_start(&limits, net, false, DAY), Ok(()));
        let real = Ask { start_from: Some(net), ..owner("a", true) };
        assert!(ledger.allow(&limits, "+34600000001", &real, DAY).is_ok());
        assert_eq!(ledger.phantom_start(&limits, net, false, DAY), Err(SmsRefusal::NetworkStarts));
        assert_eq!(ledger.allow(&limits, "+34600000001", &real, DAY), Err(SmsRefusal::NetworkStarts));
        // The name's stranger share, then the strangers' half of the reserve.
        assert_eq!(ledger.phantom_start(&limits, "10.9.8.0/24", true, DAY), Err(SmsRefusal::StrangerShare));
        assert!(ledger.allow(&limits, "+34600000002", &owner("b", true), DAY).is_ok());
        assert_eq!(ledger.phantom_start(&limits, "10.9.8.0/24", false, DAY), Err(SmsRefusal::StrangersReserve));
        // A dry check counts nothing.
        let code = Ask { pool: Pool::General, start_from: None, cooldown: true };
        assert_eq!(ledger.check(&limits, "+34600000003", &code, DAY), Ok(()));
        assert_eq!(ledger.check(&limits, "+34600000003", &code, DAY), Ok(()));
        assert_eq!(ledger.usage(&limits, DAY)[0].used, 0);
    }

    #[test]
    fn pools_are_reported_low_once_a_day_and_the_maps_empty_when_it_turns() {
        let limits = SmsLimits { daily_budget: 20, owner_reserve: 10, owner_share: 10, ..SmsLimits::default() };
        let mut ledger = SmsLedger::default();
        let mut lows = Vec::new();
        for i in 0..10 {
            if let Ok(Some(low)) = ledger.allow(&limits, "+34600000001", &owner("alice", false), DAY + i) {
                lows.push(low);
            }
        }
        assert_eq!(lows, vec![PoolUse { pool: PoolName::Reserve, used: 8, of: 10 }]);
        assert_eq!(ledger.allow(&limits, "+34600000001", &owner("bob", false), DAY), Err(SmsRefusal::Reserve));
        assert_eq!(ledger.tracked(), 1);
        assert!(ledger.allow(&limits, "+34600000001", &owner("bob", false), DAY + 86_400).is_ok());
        assert_eq!(ledger.tracked(), 1);
        assert_eq!(ledger.usage(&limits, DAY + 86_400)[1].used, 1);
        assert_eq!(ledger.usage(&limits, DAY + 2 * 86_400)[1].used, 0);
    }
}
