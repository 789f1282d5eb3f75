//! Renders the client library's progress events with indicatif: for a transfer, a total bar
//! with rate and ETA, plus one bar per active file of at least [`FILE_BAR_MIN`] bytes (bars
//! for thousands of tiny files would only flicker); for a proof of work, one progress line.
//! Drawn on stderr when it is a terminal; otherwise the renderer is never built and nothing
//! is printed. The client only emits the events; it never calls this module.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use std::io::IsTerminal;

use crate::client::{no_events, Event, EventSink, Events};

/// Smallest file that gets a bar of its own.
pub const FILE_BAR_MIN: u64 = 4 << 20;

struct Bars {
    multi: MultiProgress,
    total: Option<ProgressBar>,
    files: HashMap<u32, ProgressBar>,
    work: Option<ProgressBar>,
}

/// An event sink that draws bars, or a silent one when `enabled` is false.
pub fn events(enabled: bool, label: &'static str) -> Events {
    if !enabled {
        return no_events();
    }
    let bars =
        Arc::new(Mutex::new(Bars { multi: MultiProgress::new(), total: None, files: HashMap::new(), work: None }));
    Arc::new(move |ev| {
        let Ok(mut b) = bars.lock() else { return };
        handle(&mut b, label, ev);
    })
}

/// The sink for a login's proof of work ([`crate::client::ConnectOptions::work_progress`]):
/// a progress line on stderr when it is a terminal. It only ever gets work events.
pub fn work_events() -> EventSink {
    EventSink(events(std::io::stderr().is_terminal(), "work"))
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> ")
}

fn handle(b: &mut Bars, label: &str, ev: Event) {
    match ev {
        Event::Start { files, bytes, done } => {
            let bar = b.multi.add(ProgressBar::new(bytes));
            bar.set_style(style("{msg:>10} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}"));
            bar.set_message(format!("{label} {files}"));
            // What a resumed transfer already holds is not counted in its rate: record the
            // position, then start the estimate from here.
            bar.set_position(done);
            bar.tick();
            bar.reset_eta();
            b.total = Some(bar);
        }
        Event::FileStart { index, path, size, offset } => {
            if size >= FILE_BAR_MIN {
                let bar = b.multi.add(ProgressBar::new(size));
                bar.set_style(style("  {msg:30!} [{bar:30}] {bytes}/{total_bytes}"));
                bar.set_message(path);
                bar.set_position(offset);
                b.files.insert(index, bar);
            }
        }
        Event::Bytes { index, n } => {
            if let Some(t) = &b.total {
                t.inc(n);
            }
            if let Some(f) = b.files.get(&index) {
                f.inc(n);
            }
        }
        Event::FileDone { index } => {
            if let Some(f) = b.files.remove(&index) {
                f.finish_and_clear();
            }
        }
        Event::WorkStart { bits, expected } => {
            // A proof of work of fewer bits is over too quickly to see.
            b.work = (bits >= 16).then(|| work_bar(expected));
        }
        Event::WorkTried { tried } => {
            if let Some(w) = &b.work {
                w.set_position(tried);
            }
        }
        Event::WorkDone => {
            if let Some(w) = b.work.take() {
                w.finish_and_clear();
            }
        }
        Event::Finish => {
            for (_, f) in b.files.drain() {
                f.finish_and_clear();
            }
            if let Some(t) = b.total.take() {
                t.finish_and_clear();
            }
        }
    }
}

/// A progress line for a proof of work of `expected` hashes on average.
fn work_bar(expected: u64) -> ProgressBar {
    let bar = ProgressBar::new(expected);
    let style = ProgressStyle::with_template("proof of work {bar:30} {percent}% of the expected hashes, {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After a resume, the rate counts only what this run moves, not what was already there.
    #[test]
    fn a_resumed_transfer_shows_its_real_rate() {
        let multi = MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
        let mut b = Bars { multi, total: None, files: HashMap::new(), work: None };
        let done = 900 << 20;
        handle(&mut b, "send", Event::Start { files: 1, bytes: 1 << 30, done });
        for _ in 0..5 {
            std::thread::sleep(std::time::Duration::from_millis(40));
            handle(&mut b, "send", Event::Bytes { index: 0, n: 64 << 10 });
        }
        let bar = b.total.as_ref().expect("bar");
        assert_eq!(bar.position(), done + 5 * (64 << 10));
        // 320 KiB in about 0.2 s is under 2 MiB/s, nowhere near the 900 MiB held before.
        let rate = bar.per_sec();
        assert!(rate < f64::from(16u32 << 20), "rate {rate} counts the resumed bytes");
    }

    /// A proof of work draws one line of `expected` hashes, moved by each report and gone at
    /// the end; a quick one (under 16 bits) draws nothing.
    #[test]
    fn a_proof_of_work_draws_one_line_while_it_runs() {
        let multi = MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
        let mut b = Bars { multi, total: None, files: HashMap::new(), work: None };
        handle(&mut b, "work", Event::WorkStart { bits: 12, expected: 1 << 12 });
        assert!(b.work.is_none());
        handle(&mut b, "work", Event::WorkStart { bits: 20, expected: 1 << 20 });
        handle(&mut b, "work", Event::WorkTried { tried: 1 << 16 });
        let bar = b.work.as_ref().expect("work bar");
        assert_eq!((bar.length(), bar.position()), (Some(1 << 20), 1 << 16));
        handle(&mut b, "work", Event::WorkDone);
        assert!(b.work.is_none());
    }
}
