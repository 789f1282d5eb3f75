//! The progress a client reports, as typed events: a transfer's files and bytes, and a
//! login's proof of work. The client only emits them; rendering them (bars on a terminal)
//! is the binary's business.

use std::sync::Arc;

/// Progress of a transfer or of a proof of work, for a renderer.
#[derive(Debug, Clone)]
pub enum Event {
    /// A transfer of `files` files and `bytes` bytes starts; `done` bytes are already there.
    Start {
        files: u64,
        bytes: u64,
        done: u64,
    },
    /// Before `Start` of a resumed transfer: `bytes` the other side already holds are read
    /// again and hashed first (nothing moves meanwhile), so a rate or an ETA means nothing
    /// until [`Event::Checked`].
    Checking {
        bytes: u64,
    },
    /// The re-check is over: bytes counted from here are new.
    Checked,
    FileStart {
        index: u32,
        path: String,
        size: u64,
        offset: u64,
    },
    Bytes {
        index: u32,
        n: u64,
    },
    FileDone {
        index: u32,
    },
    Finish,
    /// A proof of work of `bits` bits starts: `expected` hashes on average. Emitted only
    /// when no captcha is on the terminal (the person is typing then).
    WorkStart {
        bits: u8,
        expected: u64,
    },
    /// The proof of work has tried `tried` hashes (below `expected` until it ends).
    WorkTried {
        tried: u64,
    },
    /// The proof of work was solved, or given up when its ticket expired.
    WorkDone,
}

/// Where progress events go.
pub type Events = Arc<dyn Fn(Event) + Send + Sync>;

/// Events to nowhere.
pub fn no_events() -> Events {
    Arc::new(|_| {})
}

/// [`Events`] held in a struct that prints itself (`Debug` shows no closure).
#[derive(Clone)]
pub struct EventSink(pub Events);

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventSink")
    }
}

impl Default for EventSink {
    fn default() -> Self {
        EventSink(no_events())
    }
}
