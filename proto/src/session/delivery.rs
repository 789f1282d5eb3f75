//! The open delivery's state: the files declared so far (each once, with what the listener
//! holds of it), the declared counts and sizes they must stay within, and the uploads in
//! flight. The session owns one at a time; everything here is per delivery.

use crate::wire::{Begin, FileEntry, FileMeta, Hash};

use super::step::{CommitPlan, CommittedFile, PutPlan};
use super::violation::Violation;

/// What the listener holds of one declared file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// Complete and verified.
    Complete { hash: Hash, media_type: String },
    /// A partial file of this many bytes (0: nothing yet), kept for a resume.
    Partial { bytes: u64 },
}

impl Held {
    fn state(self, size: u64) -> FileState {
        match self {
            Held::Complete { hash, media_type } => FileState::Done(hash, media_type),
            Held::Partial { bytes } => FileState::Pending { held: bytes.min(size) },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum FileState {
    Pending { held: u64 },
    InFlight,
    Done(Hash, String),
}

#[derive(Debug, Clone)]
struct Entry {
    path: String,
    size: u64,
    state: FileState,
    meta: Option<FileMeta>,
}

/// A delivery opened by `Begin` (or `BeginMany`) and not yet committed.
#[derive(Debug, Clone)]
pub(super) struct OpenDelivery {
    id: u64,
    to: String,
    begin: Begin,
    also: Vec<String>,
    entries: Vec<Entry>,
    /// Declared paths, as keyed 64-bit hashes: each path is held once (in `entries`). With
    /// random keys, two different paths collide with probability about n²/2⁶⁵ (10⁻⁹ at
    /// 100,000 files), and a collision only refuses the sender's own delivery.
    paths: std::collections::HashSet<u64>,
    hasher: std::collections::hash_map::RandomState,
    entry_bytes: u64,
    path_bytes: u64,
    in_flight: u32,
}

impl OpenDelivery {
    pub(super) fn new(id: u64, to: String, begin: Begin, also: Vec<String>) -> Self {
        Self {
            id,
            to,
            begin,
            also,
            entries: Vec::new(),
            paths: Default::default(),
            hasher: Default::default(),
            entry_bytes: 0,
            path_bytes: 0,
            in_flight: 0,
        }
    }

    pub(super) fn id(&self) -> u64 {
        self.id
    }

    /// Declare the next files, within the declared count and size, the cap on all names'
    /// bytes, and each path once. Returns the index of the first.
    pub(super) fn add_files(
        &mut self,
        entries: &[FileEntry],
        meta: Option<&[FileMeta]>,
        max_path_bytes: u64,
    ) -> Result<u32, Violation> {
        let total = self.entries.len().checked_add(entries.len()).ok_or(Violation::TooManyFiles)?;
        if total > self.begin.files as usize {
            return Err(Violation::TooManyFiles);
        }
        let mut bytes = self.entry_bytes;
        for e in entries {
            bytes = bytes.checked_add(e.size).ok_or(Violation::TooManyBytes)?;
        }
        if bytes > self.begin.bytes {
            return Err(Violation::TooManyBytes);
        }
        let path_bytes = entries.iter().fold(self.path_bytes, |sum, e| sum.saturating_add(e.path.len() as u64));
        if path_bytes > max_path_bytes {
            return Err(Violation::TooManyPathBytes);
        }
        let hashes: Vec<u64> =
            entries.iter().map(|e| std::hash::BuildHasher::hash_one(&self.hasher, &e.path)).collect();
        let mut batch = std::collections::HashSet::with_capacity(hashes.len());
        for h in &hashes {
            if self.paths.contains(h) || !batch.insert(*h) {
                return Err(Violation::DuplicatePath);
            }
        }
        self.paths.extend(hashes);
        let first = self.entries.len() as u32;
        self.entry_bytes = bytes;
        self.path_bytes = path_bytes;
        self.entries.extend(entries.iter().enumerate().map(|(i, e)| Entry {
            path: e.path.clone(),
            size: e.size,
            state: FileState::Pending { held: 0 },
            meta: meta.and_then(|m| m.get(i)).copied(),
        }));
        Ok(first)
    }

    /// Record what the listener already holds of file `index`.
    pub(super) fn set_have(&mut self, index: u32, have: Held) {
        if let Some(e) = self.entries.get_mut(index as usize) {
            e.state = have.state(e.size);
        }
    }

    /// Accept or refuse an upload stream of file `index` from `offset`.
    pub(super) fn begin_put(&mut self, index: u32, offset: u64, max_in_flight: u32) -> Result<PutPlan, Violation> {
        if self.in_flight >= max_in_flight {
            return Err(Violation::TooManyInFlight);
        }
        let e = self.entries.get_mut(index as usize).ok_or(Violation::UnknownFile)?;
        let replace = match e.state {
            FileState::Pending { held } if held == offset => false,
            FileState::Pending { .. } => return Err(Violation::BadOffset),
            FileState::Done(..) if offset == 0 => true,
            FileState::Done(..) => return Err(Violation::BadOffset),
            FileState::InFlight => return Err(Violation::FileBusy),
        };
        e.state = FileState::InFlight;
        self.in_flight += 1;
        Ok(PutPlan { id: self.id, index, path: e.path.clone(), size: e.size, offset, replace })
    }

    /// An upload stream of file `index` ended with `outcome`.
    pub(super) fn end_put(&mut self, index: u32, outcome: Held) {
        if let Some(e) = self.entries.get_mut(index as usize) {
            if e.state == FileState::InFlight {
                self.in_flight = self.in_flight.saturating_sub(1);
                e.state = outcome.state(e.size);
            }
        }
    }

    /// Every declared file was declared, and is stored and verified.
    pub(super) fn is_complete(&self) -> bool {
        self.entries.len() == self.begin.files as usize
            && self.entry_bytes == self.begin.bytes
            && self.entries.iter().all(|e| matches!(e.state, FileState::Done(..)))
    }

    /// The plan that makes this delivery from `from` durable (its verified files).
    pub(super) fn into_plan(self, from: String) -> CommitPlan {
        let files = self
            .entries
            .into_iter()
            .filter_map(|e| match e.state {
                FileState::Done(hash, media_type) => {
                    Some(CommittedFile { path: e.path, size: e.size, hash, media_type, meta: e.meta })
                }
                _ => None,
            })
            .collect();
        CommitPlan {
            id: self.id,
            from,
            to: self.to,
            subject: self.begin.subject,
            body: self.begin.body,
            files,
            resume_key: self.begin.resume_key,
            also: self.also,
        }
    }
}
