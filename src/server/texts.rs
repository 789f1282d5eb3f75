//! The listener's outbox of text messages: what may be sent is decided here (the cost
//! controls of `[sms]`), and one thread of its own hands each text to the gateway, so a
//! gateway that is slow, hangs until its timeout, or fails holds up no connection and no
//! other request. The queue is bounded: when it is full, a text is refused (and logged),
//! never waited for.

use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use tracing::{info, warn};

use crate::policy::recovery::mask_phone;
use crate::policy::sms::{SmsLedger, SmsLimits, SmsRefusal};
use crate::sms::Gateway;

/// Texts waiting for the gateway, at most.
pub const MAX_QUEUED_TEXTS: usize = 256;

/// Why a text was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextRefused {
    #[error(transparent)]
    Limit(#[from] SmsRefusal),
    #[error("the text queue is full (the gateway is slow or failing)")]
    Full,
}

struct Text {
    to: String,
    body: String,
    now_ms: u64,
}

/// The outbox.
pub struct Texts {
    queue: SyncSender<Text>,
    ledger: Mutex<SmsLedger>,
    limits: SmsLimits,
}

impl Texts {
    /// Start the sender thread for `gateway`.
    pub fn start(gateway: Gateway, limits: SmsLimits) -> std::io::Result<Texts> {
        let (queue, rx) = sync_channel::<Text>(MAX_QUEUED_TEXTS);
        let gateway = Arc::new(gateway);
        std::thread::Builder::new().name("qxfer-texts".into()).spawn(move || {
            while let Ok(t) = rx.recv() {
                let to = mask_phone(&t.to);
                match gateway.send(&t.to, &t.body, t.now_ms) {
                    Ok(()) => info!(event = "text_sent", %to, "text handed to the gateway"),
                    Err(e) => warn!(event = "text_failed", %to, "the text gateway failed: {e}"),
                }
            }
        })?;
        Ok(Texts { queue, ledger: Mutex::new(SmsLedger::default()), limits })
    }

    /// Queue a code someone asked for: the cooldown per number, the daily budget and the
    /// country list apply.
    pub fn code(&self, to: &str, body: String, now_ms: u64) -> Result<(), TextRefused> {
        self.ledger().allow(&self.limits, to, now_ms / 1000)?;
        self.queue(to, body, now_ms)
    }

    /// Queue an announcement of the listener's own (a change pending or done): the daily
    /// budget and the country list apply, not the cooldown.
    pub fn notice(&self, to: &str, body: String, now_ms: u64) -> Result<(), TextRefused> {
        self.ledger().allow_notice(&self.limits, to, now_ms / 1000)?;
        self.queue(to, body, now_ms)
    }

    /// The calling codes texts may go to (empty: any).
    pub fn countries(&self) -> &[String] {
        &self.limits.countries
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, SmsLedger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn queue(&self, to: &str, body: String, now_ms: u64) -> Result<(), TextRefused> {
        match self.queue.try_send(Text { to: to.to_owned(), body, now_ms }) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(TextRefused::Full),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hanging_gateway_fills_a_bounded_queue_and_nothing_waits() {
        // A gateway that takes a second a text: the queue fills, then texts are refused at
        // once instead of piling up or making anyone wait.
        let gateway =
            Gateway::Command { argv: vec!["sleep".into(), "5".into()], timeout: std::time::Duration::from_secs(1) };
        let limits = SmsLimits { daily_budget: 10_000, ..SmsLimits::default() };
        let texts = Texts::start(gateway, limits).expect("start");
        let started = std::time::Instant::now();
        let mut queued = 0;
        let mut full = 0;
        for i in 0..(MAX_QUEUED_TEXTS + 200) {
            match texts.notice(&format!("+3460000{i:04}"), "text".into(), 1_800_000_000_000) {
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
    }
}
