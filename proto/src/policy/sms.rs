//! What sending a text message may cost: a daily budget for the listener, a cooldown per
//! number, and an allow-list of country calling codes. Pure: the clock comes in as
//! seconds. Codes asked for by someone (a recovery, a new number) pass all three; the
//! listener's own announcements of a change pass the country list and the budget only (a
//! cancel code must reach the owner even seconds after their recovery code).

use std::collections::HashMap;

/// `[sms]` cost controls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsLimits {
    /// Texts per UTC day, all numbers together.
    pub daily_budget: u32,
    /// Seconds between two texts to one number.
    pub cooldown_secs: u64,
    /// Calling codes texts may go to (`+34`, `+44`, ...); empty: any.
    pub countries: Vec<String>,
    /// Numbers remembered for the cooldown, at most (the stalest go first).
    pub max_numbers: usize,
}

impl Default for SmsLimits {
    fn default() -> Self {
        SmsLimits { daily_budget: 200, cooldown_secs: 60, countries: Vec::new(), max_numbers: 10_000 }
    }
}

/// Why a text is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SmsRefusal {
    #[error("the listener's daily text budget is spent")]
    Budget,
    #[error("a text went to this number {secs} s ago; wait a little")]
    Cooldown { secs: u64 },
    #[error("texts to this country are not allowed here")]
    Country,
}

/// Texts sent today and lately, per number.
#[derive(Debug, Default)]
pub struct SmsLedger {
    day: u64,
    sent_today: u32,
    last: HashMap<String, u64>,
}

impl SmsLedger {
    /// Whether a text to `number` (E.164) may go now; if so it is counted.
    pub fn allow(&mut self, limits: &SmsLimits, number: &str, now: u64) -> Result<(), SmsRefusal> {
        self.within_budget(limits, number, now)?;
        if let Some(&at) = self.last.get(number) {
            let since = now.saturating_sub(at);
            if since < limits.cooldown_secs {
                return Err(SmsRefusal::Cooldown { secs: since });
            }
        }
        if !self.last.contains_key(number) && self.last.len() >= limits.max_numbers.max(1) {
            self.last.retain(|_, at| now.saturating_sub(*at) < limits.cooldown_secs);
            if self.last.len() >= limits.max_numbers.max(1) {
                if let Some(stalest) = self.last.iter().min_by_key(|(_, at)| **at).map(|(n, _)| n.clone()) {
                    self.last.remove(&stalest);
                }
            }
        }
        self.last.insert(number.to_owned(), now);
        self.sent_today += 1;
        Ok(())
    }

    /// Whether an announcement to `number` may go now (the country list and the daily
    /// budget; no cooldown); if so it is counted.
    pub fn allow_notice(&mut self, limits: &SmsLimits, number: &str, now: u64) -> Result<(), SmsRefusal> {
        self.within_budget(limits, number, now)?;
        self.sent_today += 1;
        Ok(())
    }

    /// The country list and today's budget (a new day starts a new budget); counts nothing.
    fn within_budget(&mut self, limits: &SmsLimits, number: &str, now: u64) -> Result<(), SmsRefusal> {
        if !limits.countries.is_empty() && !limits.countries.iter().any(|c| number.starts_with(c.as_str())) {
            return Err(SmsRefusal::Country);
        }
        let day = now / 86_400;
        if day != self.day {
            self.day = day;
            self.sent_today = 0;
        }
        if self.sent_today >= limits.daily_budget {
            return Err(SmsRefusal::Budget);
        }
        Ok(())
    }

    pub fn numbers(&self) -> usize {
        self.last.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_cooldown_and_countries_hold() {
        let limits = SmsLimits { daily_budget: 3, cooldown_secs: 60, countries: vec!["+34".into()], max_numbers: 100 };
        let mut ledger = SmsLedger::default();
        let day = 86_400 * 20_000;
        assert_eq!(ledger.allow(&limits, "+447700900123", day), Err(SmsRefusal::Country));
        assert_eq!(ledger.allow(&limits, "+34600000001", day), Ok(()));
        assert_eq!(ledger.allow(&limits, "+34600000001", day + 30), Err(SmsRefusal::Cooldown { secs: 30 }));
        assert_eq!(ledger.allow(&limits, "+34600000001", day + 61), Ok(()));
        assert_eq!(ledger.allow(&limits, "+34600000002", day + 62), Ok(()));
        assert_eq!(ledger.allow(&limits, "+34600000003", day + 63), Err(SmsRefusal::Budget));
        // A new day, a new budget.
        assert_eq!(ledger.allow(&limits, "+34600000003", day + 86_400), Ok(()));
        // Announcements skip the cooldown, never the budget or the countries.
        assert_eq!(ledger.allow_notice(&limits, "+34600000003", day + 86_401), Ok(()));
        assert_eq!(ledger.allow_notice(&limits, "+34600000003", day + 86_402), Ok(()));
        assert_eq!(ledger.allow_notice(&limits, "+34600000003", day + 86_403), Err(SmsRefusal::Budget));
        assert_eq!(ledger.allow_notice(&limits, "+4477", day + 86_403), Err(SmsRefusal::Country));
    }

    #[test]
    fn the_cooldown_map_is_bounded() {
        let limits = SmsLimits { daily_budget: u32::MAX, cooldown_secs: 60, countries: Vec::new(), max_numbers: 8 };
        let mut ledger = SmsLedger::default();
        for i in 0..1000u64 {
            assert_eq!(ledger.allow(&limits, &format!("+3460000{i:04}"), 1_000 + i), Ok(()));
        }
        assert_eq!(ledger.numbers(), 8);
    }
}
