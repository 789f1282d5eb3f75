//! The listener's outbox of text messages: what may be sent is decided here (the cost
//! controls of `[sms]`, `policy::sms`), and one thread of its own hands each text to the
//! gateway, so a gateway that is slow, hangs until its timeout, or fails holds up no
//! connection and no other request. Two lanes, each bounded: texts drawn from the owner
//! reserve (to an account's own settled numbers) and the rest; the sender serves the
//! owner lane first, so other texts can neither fill it nor queue ahead of it. A full lane
//! refuses a text (logged), never waits. A pool past `policy::sms::LOW_PERCENT` is logged
//! at once and kept as an alert for the listener's upkeep to record as an activity event.
//! Every text asked for is recorded in the activity log as it is decided: `text_sent`
//! (queued for the gateway) or `text_refused` with why (a budget or share, a full lane, the
//! number's cooldown, a country not allowed), never one for the other.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use tracing::{info, warn};

use super::recorder::Recorder;
use crate::policy::activity::{Activity, Kind};
use crate::policy::recovery::mask_phone;
use crate::policy::sms::{Ask, Pool, PoolUse, SmsLedger, SmsLimits, SmsRefusal};
use crate::sms::Gateway;

/// Texts waiting for the gateway in each lane, at most.
pub const MAX_QUEUED_TEXTS: usize = 256;

/// Why a text was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextRefused {
    #[error(transparent)]
    Limit(#[from] SmsRefusal),
    #[error("the text queue is full (the gateway is slow or failing)")]
    Full,
}

impl TextRefused {
    /// Why, in a word or two, for the activity log.
    pub fn tag(self) -> &'static str {
        match self {
            TextRefused::Full => "lane full",
            TextRefused::Limit(SmsRefusal::Cooldown { .. }) => "cooldown",
            TextRefused::Limit(SmsRefusal::Country) => "country",
            TextRefused::Limit(SmsRefusal::OwnerShare | SmsRefusal::StrangerShare) => "account share",
            TextRefused::Limit(SmsRefusal::Verify) => "verification allowance",
            TextRefused::Limit(SmsRefusal::NetworkStarts) => "network starts",
            TextRefused::Limit(SmsRefusal::Budget | SmsRefusal::Reserve | SmsRefusal::StrangersReserve) => "budget",
        }
    }
}

/// What a text is, and whose request caused it, for the activity log.
#[derive(Debug, Clone, Copy)]
pub struct About<'a> {
    /// The address whose request caused it; `None`: the listener's own (an announcement).
    pub source: Option<IpAddr>,
    pub account: Option<&'a str>,
    /// `recovery code`, `verification code`, `announcement`...
    pub what: &'a str,
}

struct Text {
    to: String,
    body: String,
    now_ms: u64,
}

/// The two lanes and whether the outbox is closing.
#[derive(Default)]
struct Lanes {
    owner: VecDeque<Text>,
    general: VecDeque<Text>,
    closed: bool,
}

/// What the sender thread and the outbox share.
#[derive(Default)]
struct Queue {
    lanes: Mutex<Lanes>,
    ready: Condvar,
}

impl Queue {
    fn lanes(&self) -> MutexGuard<'_, Lanes> {
        self.lanes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next text, the owner lane first; `None` once closed.
    fn next(&self) -> Option<Text> {
        let mut lanes = self.lanes();
        loop {
            if let Some(t) = lanes.owner.pop_front().or_else(|| lanes.general.pop_front()) {
                return Some(t);
            }
            if lanes.closed {
                return None;
            }
            lanes = self.ready.wait(lanes).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// The outbox.
pub struct Texts {
    queue: Arc<Queue>,
    ledger: Mutex<SmsLedger>,
    limits: SmsLimits,
    /// Pools that went low, for the upkeep to record.
    alerts: Mutex<Vec<PoolUse>>,
    recorder: Recorder,
}

impl Texts {
    /// Start the sender thread for `gateway`; every text is recorded through `recorder`.
    pub fn start(gateway: Gateway, limits: SmsLimits, recorder: Recorder) -> std::io::Result<Texts> {
        let queue = Arc::new(Queue::default());
        let q = queue.clone();
        std::thread::Builder::new().name("qxfer-texts".into()).spawn(move || {
            while let Some(t) = q.next() {
                let to = mask_phone(&t.to);
                match gateway.send(&t.to, &t.body, t.now_ms) {
                    Ok(()) => info!(event = "text_sent", %to, "text handed to the gateway"),
                    Err(e) => warn!(event = "text_failed", %to, "the text gateway failed: {e}"),
                }
            }
        })?;
        let ledger = Mutex::new(SmsLedger::default());
        Ok(Texts { queue, ledger, limits, alerts: Mutex::new(Vec::new()), recorder })
    }

    /// Queue a text as `ask` says (which pool, a recovery start's network, whether the
    /// per-number cooldown applies): counted, and queued in its lane, or refused; recorded
    /// either way as `about` says.
    pub fn send(
        &self,
        to: &str,
        ask: &Ask<'_>,
        body: String,
        now_ms: u64,
        about: About<'_>,
    ) -> Result<(), TextRefused> {
        let queued = self.queue_text(to, ask, body, now_ms);
        let masked = mask_phone(to);
        let source = about.source.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let (kind, detail) = match &queued {
            Ok(()) => (Kind::TextSent, format!("{} to {masked}", about.what)),
            Err(e) => (Kind::TextRefused, format!("{} to {masked} not sent ({}): {e}", about.what, e.tag())),
        };
        let mut event = Activity::new(now_ms, source, kind).detail(detail);
        if let Some(account) = about.account {
            event = event.account(account);
        }
        self.recorder.record(event);
        queued
    }

    fn queue_text(&self, to: &str, ask: &Ask<'_>, body: String, now_ms: u64) -> Result<(), TextRefused> {
        // The lane's room first: a text refused for a full lane is not counted (it would
        // spend a share and start a cooldown for a text never sent).
        let owner = matches!(ask.pool, Pool::Owner { .. });
        let mut lanes = self.queue.lanes();
        let lane = if owner { &mut lanes.owner } else { &mut lanes.general };
        if lane.len() >= MAX_QUEUED_TEXTS {
            return Err(TextRefused::Full);
        }
        let low = lock(&self.ledger).allow(&self.limits, to, ask, now_ms / 1000)?;
        lane.push_back(Text { to: to.to_owned(), body, now_ms });
        drop(lanes);
        self.queue.ready.notify_one();
        if let Some(low) = low {
            warn!(
                event = "text_budget_low",
                pool = low.pool.name(),
                used = low.used,
                of = low.of,
                "the day's {} texts are {} of {} used",
                low.pool.name(),
                low.used,
                low.of
            );
            lock(&self.alerts).push(low);
        }
        Ok(())
    }

    /// Whether a text to `number` as `ask` says could go now (nothing is counted): what a
    /// reply about the next code asks.
    pub fn check(&self, number: &str, ask: &Ask<'_>, now: u64) -> Result<(), TextRefused> {
        let full = {
            let lanes = self.queue.lanes();
            let lane = if matches!(ask.pool, Pool::Owner { .. }) { &lanes.owner } else { &lanes.general };
            lane.len() >= MAX_QUEUED_TEXTS
        };
        if full {
            return Err(TextRefused::Full);
        }
        Ok(lock(&self.ledger).check(&self.limits, number, ask, now)?)
    }

    /// A recovery start for a name that cannot be texted, checked and counted as one that
    /// texts would be (`SmsLedger::phantom_start`); nothing is queued or recorded as a text.
    /// `count`: false for a dry check.
    pub fn phantom_start(&self, net: &str, share_used: bool, now: u64, count: bool) -> Result<(), TextRefused> {
        if self.queue.lanes().owner.len() >= MAX_QUEUED_TEXTS {
            return Err(TextRefused::Full);
        }
        let mut ledger = lock(&self.ledger);
        let checked = match count {
            true => ledger.phantom_start(&self.limits, net, share_used, now),
            false => ledger.phantom_check(&self.limits, net, share_used, now),
        };
        Ok(checked?)
    }

    /// The `[sms]` limits.
    pub fn limits(&self) -> &SmsLimits {
        &self.limits
    }

    /// The pools' use today.
    pub fn usage(&self, now_ms: u64) -> [PoolUse; 2] {
        lock(&self.ledger).usage(&self.limits, now_ms / 1000)
    }

    /// The pools that went low since the last call (at most one a pool a day).
    pub fn take_alerts(&self) -> Vec<PoolUse> {
        std::mem::take(&mut *lock(&self.alerts))
    }

    /// The calling codes texts may go to (empty: any).
    pub fn countries(&self) -> &[String] {
        &self.limits.countries
    }
}

impl Drop for Texts {
    /// The sender thread ends once the lanes are empty.
    fn drop(&mut self) {
        self.queue.lanes().closed = true;
        self.queue.ready.notify_all();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABOUT: About<'static> = About { source: None, account: None, what: "a test" };

    #[test]
    fn a_hanging_gateway_fills_a_bounded_queue_and_nothing_waits() {
        // A gateway that takes a second a text: the queue fills, then texts are refused at
        // once instead of piling up or making anyone wait.
        let gateway =
            Gateway::Command { argv: vec!["sleep".into(), "5".into()], timeout: std::time::Duration::from_secs(1) };
        let limits = SmsLimits { daily_budget: 10_000, ..SmsLimits::default() };
        let texts = Texts::start(gateway, limits, Recorder::new(false).0).expect("start");
        let started = std::time::Instant::now();
        let mut queued = 0;
        let mut full = 0;
        for i in 0..(MAX_QUEUED_TEXTS + 200) {
            let ask = Ask { pool: Pool::General, start_from: None, cooldown: false };
            match texts.send(&format!("+3460000{i:04}"), &ask, "text".into(), 1_800_000_000_000, ABOUT) {
                Ok(()) => queued += 1,
                Err(TextRefused::Full) => full += 1,
                Err(e) => panic!("{e}"),
            }
        }
        // The sender takes one text a second off the queue meanwhile.
        let took = started.elapsed();
        let sent = 1 + took.as_secs() as usize;
        assert!(queued <= MAX_QUEUED_TEXTS + sent, "{queued} queued in {took:?}");
        assert!(full >= 200usize.saturating_sub(sent), "{full} refused in {took:?}");
        // Had a refused text waited for the gateway, 200 of them would take 200 s.
        assert!(took < std::time::Duration::from_secs(5), "queueing waited: {took:?}");
        // The general lane is full; a text to an owner's settled number has a lane of its own.
        let ask = Ask { pool: Pool::Owner { account: "alice", stranger: false }, start_from: None, cooldown: false };
        assert_eq!(texts.send("+34612345678", &ask, "cancel code".into(), 1_800_000_000_000, ABOUT), Ok(()));
    }

    #[test]
    fn the_sender_serves_the_owner_lane_first() {
        let q = Queue::default();
        let text = |to: &str| Text { to: to.into(), body: String::new(), now_ms: 0 };
        {
            let mut lanes = q.lanes();
            lanes.general.extend([text("g1"), text("g2")]);
            lanes.owner.push_back(text("o1"));
            lanes.closed = true;
        }
        let order: Vec<String> = std::iter::from_fn(|| q.next()).map(|t| t.to).collect();
        assert_eq!(order, ["o1", "g1", "g2"]);
    }
}
