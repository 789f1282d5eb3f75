//! Renders the client library's progress events with indicatif: for a transfer, a total bar
//! with rate and ETA, plus one bar per active file of at least [`FILE_BAR_MIN`] bytes (bars
//! for thousands of tiny files would only flicker); for a proof of work, one progress line.
//! Drawn on stderr when it is a terminal; otherwise the renderer is never built and nothing
//! is printed. The client only emits the events; it never calls this module.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use std::io::IsTerminal;

use crate::client::{no_events, Event, EventSink, Events};

/// Smallest file that gets a bar of its own.
pub const FILE_BAR_MIN: u64 = 4 << 20;

/// The total bar while a resume re-checks what is already there: no rate, no ETA.
const CHECKING: &str = "{msg:>10} [{bar:30}] {bytes}/{total_bytes} re-checking what is already there";
/// The total bar while bytes move.
const MOVING: &str = "{msg:>10} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}";

struct Bars {
    multi: MultiProgress,
    total: Option<ProgressBar>,
    files: HashMap<u32, ProgressBar>,
    work: Option<ProgressBar>,
    /// The total bar's title ("send 3").
    title: String,
    /// Between [`Event::Checking`] and [`Event::Checked`].
    checking: bool,
    /// Cleared for good ([`clear`]): later events draw nothing.
    closed: bool,
}

impl Bars {
    fn new(multi: MultiProgress) -> Self {
        Bars {
            multi,
            total: None,
            files: HashMap::new(),
            work: None,
            title: String::new(),
            checking: false,
            closed: false,
        }
    }
}

/// A renderer that goes away (its transfer failed or was dropped at Ctrl-C) takes its bars
/// with it: an unfinished bar dropped would be drawn once more, over the message that
/// follows.
impl Drop for Bars {
    fn drop(&mut self) {
        close(self);
    }
}

/// Where the bars are drawn: stderr, with the last two columns of the last line left
/// blank. indicatif pads each line with spaces to the width (lines follow each other by
/// wrapping) and leaves the cursor at the end of the last; the terminal echoes Ctrl-C there
/// as `^C`, which on a full line wraps to a new one, and the bars, cleared from one line
/// too low, would leave their first line on the screen. So the padding of a line is held
/// back until something follows it, and the last one (before `flush`) is cut by two.
#[derive(Debug)]
struct Margin {
    term: console::Term,
    padding: Mutex<String>,
}

impl Margin {
    /// Write held-back padding, all of it, or all but its last two columns.
    fn settle(&self, last: bool) -> std::io::Result<()> {
        let pad = self.padding.lock().map(|mut p| std::mem::take(&mut *p)).unwrap_or_default();
        let keep = if last { pad.len().saturating_sub(2) } else { pad.len() };
        match pad.get(..keep) {
            Some(p) if !p.is_empty() => self.term.write_str(p),
            _ => Ok(()),
        }
    }
}

impl indicatif::TermLike for Margin {
    fn width(&self) -> u16 {
        self.term.size().1
    }
    fn height(&self) -> u16 {
        self.term.size().0
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.settle(false)?;
        self.term.move_cursor_up(n)
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.settle(false)?;
        self.term.move_cursor_down(n)
    }
    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        self.settle(false)?;
        self.term.move_cursor_right(n)
    }
    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        self.settle(false)?;
        self.term.move_cursor_left(n)
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.settle(false)?;
        self.term.write_line(s)
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.settle(false)?;
        if !s.is_empty() && s.bytes().all(|b| b == b' ') {
            if let Ok(mut p) = self.padding.lock() {
                p.push_str(s);
                return Ok(());
            }
        }
        self.term.write_str(s)
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.settle(false)?;
        self.term.clear_line()
    }
    fn flush(&self) -> std::io::Result<()> {
        self.settle(true)?;
        self.term.flush()
    }
}

/// The bars' draw target: stderr with its margin, redrawn at most 20 times a second.
fn stderr_target() -> ProgressDrawTarget {
    ProgressDrawTarget::term_like_with_hz(
        Box::new(Margin { term: console::Term::stderr(), padding: Mutex::new(String::new()) }),
        20,
    )
}

/// Every renderer of this process, so that [`clear`] can reach them.
static LIVE: Mutex<Vec<Weak<Mutex<Bars>>>> = Mutex::new(Vec::new());

/// An event sink that draws bars, or a silent one when `enabled` is false.
pub fn events(enabled: bool, label: &'static str) -> Events {
    if !enabled {
        return no_events();
    }
    let bars = Arc::new(Mutex::new(Bars::new(MultiProgress::with_draw_target(stderr_target()))));
    if let Ok(mut live) = LIVE.lock() {
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&bars));
    }
    Arc::new(move |ev| {
        let Ok(mut b) = bars.lock() else { return };
        handle(&mut b, label, ev);
    })
}

/// Take every bar off the terminal for good, before a last message (Ctrl-C's hint): the
/// tasks still holding a renderer draw nothing after this, so the message stays the last
/// thing on the screen.
pub fn clear() {
    let Ok(live) = LIVE.lock() else { return };
    for bars in live.iter().filter_map(Weak::upgrade) {
        let Ok(mut b) = bars.lock() else { continue };
        close(&mut b);
    }
}

fn close(b: &mut Bars) {
    // Erase every line the bars drew, then draw nowhere: finishing the bars after that
    // cannot bring a line back.
    let _ = b.multi.clear();
    b.multi.set_draw_target(ProgressDrawTarget::hidden());
    for (_, f) in b.files.drain() {
        f.finish_and_clear();
    }
    for bar in [b.total.take(), b.work.take()].into_iter().flatten() {
        bar.finish_and_clear();
    }
    b.closed = true;
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
    if b.closed {
        return;
    }
    match ev {
        Event::Checking { .. } => b.checking = true,
        Event::Start { files, bytes, done } => {
            let bar = b.multi.add(ProgressBar::new(bytes));
            b.title = format!("{label} {files}");
            if b.checking {
                bar.set_style(style(CHECKING));
                bar.set_message("checking");
            } else {
                bar.set_style(style(MOVING));
                bar.set_message(b.title.clone());
            }
            // What a resumed transfer already holds is not counted in its rate: record the
            // position, then start the estimate from here.
            bar.set_position(done);
            bar.tick();
            bar.reset_eta();
            b.total = Some(bar);
        }
        Event::Checked => {
            b.checking = false;
            // The rate and the ETA count only what moves from now on.
            if let Some(t) = &b.total {
                t.set_style(style(MOVING));
                t.set_message(b.title.clone());
                t.reset_eta();
            }
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
        let mut b = Bars::new(multi);
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

    /// While a resume re-checks what the listener holds the bar says "checking" (no rate);
    /// after it, the rate counts only the new bytes.
    #[test]
    fn a_resume_shows_checking_then_the_rate_of_new_bytes() {
        let multi = MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
        let mut b = Bars::new(multi);
        let done = 900 << 20;
        handle(&mut b, "send", Event::Checking { bytes: done });
        handle(&mut b, "send", Event::Start { files: 1, bytes: 1 << 30, done });
        assert_eq!(b.total.as_ref().expect("bar").message(), "checking");
        // The check takes a while and nothing moves.
        std::thread::sleep(std::time::Duration::from_millis(1000));
        handle(&mut b, "send", Event::Checked);
        let bar = b.total.as_ref().expect("bar");
        assert_eq!(bar.message(), "send 1");
        for _ in 0..5 {
            std::thread::sleep(std::time::Duration::from_millis(40));
            handle(&mut b, "send", Event::Bytes { index: 0, n: 16 << 20 });
        }
        // 80 MiB in about 0.2 s, not in the 1.2 s since the start.
        let rate = b.total.as_ref().expect("bar").per_sec();
        assert!(rate > f64::from(200u32 << 20), "rate {rate} counts the time spent checking");
    }

    /// Once cleared (Ctrl-C), no bar is left and later events draw nothing.
    #[test]
    fn cleared_bars_stay_cleared() {
        let multi = MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
        let mut b = Bars::new(multi);
        handle(&mut b, "send", Event::Start { files: 1, bytes: 1 << 30, done: 0 });
        handle(&mut b, "send", Event::FileStart { index: 0, path: "a".into(), size: 1 << 30, offset: 0 });
        close(&mut b);
        assert!(b.total.is_none() && b.files.is_empty());
        handle(&mut b, "send", Event::Start { files: 1, bytes: 1 << 30, done: 0 });
        handle(&mut b, "send", Event::FileStart { index: 0, path: "a".into(), size: 1 << 30, offset: 0 });
        assert!(b.total.is_none() && b.files.is_empty());
    }

    /// A proof of work draws one line of `expected` hashes, moved by each report and gone at
    /// the end; a quick one (under 16 bits) draws nothing.
    #[test]
    fn a_proof_of_work_draws_one_line_while_it_runs() {
        let multi = MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
        let mut b = Bars::new(multi);
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
