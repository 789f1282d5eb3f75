//! What a send will carry: the local files named on the command line, with directories
//! walked (iteratively, depth-capped), each given the relative wire name it will arrive
//! under. Names are checked with the same rules the listener applies, and every file is
//! opened once to prove it is readable, all before connecting: a mistake the client can see
//! never reaches the listener.
//!
//! Like rsync, what cannot be sent (unreadable, missing, a name other systems cannot store,
//! a dangling link, too deep) is listed in [`Manifest::problems`] with its reason and the
//! rest is sent; the caller exits with the "partial" code, or refuses to send anything
//! with `--strict`. Links not followed and special files are [`Manifest::passed_over`]: a
//! note, not a problem. Paths in messages are quoted and escaped (`{:?}`), so a name with
//! ESC or a newline cannot drive the terminal.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::wire::names::MAX_DEPTH;
use crate::wire::{validate_path, FileEntry, FileMeta, Hash};

/// Why what was named on the command line cannot be sent as it is.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("two files would arrive as {0:?}; send them separately")]
    Duplicate(String),
    #[error("{n} path(s) cannot be sent and --strict sends nothing then:\n{list}", n = .0.len(), list = list(.0))]
    Strict(Vec<Skipped>),
}

/// A path that is not sent, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.path, self.reason)
    }
}

fn list(items: &[Skipped]) -> String {
    items.iter().map(|s| format!("  skipped {s}")).collect::<Vec<_>>().join("\n")
}

type Result<T, E = ManifestError> = std::result::Result<T, E>;

/// One local file and the name it is sent under.
#[derive(Debug, Clone)]
pub struct LocalFile {
    pub local: PathBuf,
    pub name: String,
    pub size: u64,
    pub mtime: u64,
    /// Permission bits (with set-id and sticky bits: the receiver never applies those).
    pub mode: u32,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ManifestOptions {
    /// Follow symbolic links found inside directories (links named on the command line are
    /// always followed, as scp does).
    pub follow_symlinks: bool,
    /// Any problem fails the whole build (nothing is sent).
    pub strict: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Manifest {
    pub files: Vec<LocalFile>,
    /// Paths that should have been sent and cannot be (unreadable, missing, unportable
    /// names, dangling links): a partial send.
    pub problems: Vec<Skipped>,
    /// Paths passed over on purpose (links not followed, special files): a note.
    pub passed_over: Vec<Skipped>,
}

/// The name a path named on the command line arrives under: its last component, or for
/// `.`, `..` and paths ending in them, the real name of the directory they mean.
fn base_name(p: &Path) -> std::result::Result<String, BaseNameError> {
    let named = p.file_name().filter(|_| !matches!(p.components().next_back(), Some(std::path::Component::ParentDir)));
    let owned;
    let name = match named {
        Some(n) => n,
        None => {
            owned = std::fs::canonicalize(p).map_err(BaseNameError::Resolve)?;
            owned.file_name().ok_or(BaseNameError::Root)?
        }
    };
    name.to_str().map(str::to_owned).ok_or(BaseNameError::NotUtf8)
}

/// Why a path named on the command line has no name to arrive under.
#[derive(Debug, thiserror::Error)]
enum BaseNameError {
    #[error("cannot resolve: {0}")]
    Resolve(#[source] std::io::Error),
    #[error("the root directory has no name; name the directories below it")]
    Root,
    #[error("the name is not UTF-8")]
    NotUtf8,
}

fn reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

impl Manifest {
    pub fn build(paths: &[PathBuf], opts: ManifestOptions) -> Result<Self> {
        let mut m = Manifest::default();
        for p in paths {
            let meta = match std::fs::metadata(p) {
                Ok(meta) => meta,
                Err(e) if std::fs::symlink_metadata(p).is_ok() => {
                    m.problem(p, format!("dangling symbolic link ({})", reason(&e)));
                    continue;
                }
                Err(e) => {
                    m.problem(p, reason(&e));
                    continue;
                }
            };
            let base = match base_name(p) {
                Ok(b) => b,
                Err(why) => {
                    m.problem(p, why.to_string());
                    continue;
                }
            };
            if meta.is_dir() {
                m.walk(p, &base, opts);
            } else if meta.is_file() {
                m.push(p.clone(), base, &meta);
            } else {
                m.problem(p, "not a regular file or directory".into());
            }
        }
        if opts.strict && !m.problems.is_empty() {
            return Err(ManifestError::Strict(m.problems));
        }
        let mut seen = std::collections::HashSet::new();
        for f in &m.files {
            if !seen.insert(f.name.as_str()) {
                return Err(ManifestError::Duplicate(f.name.clone()));
            }
        }
        Ok(m)
    }

    fn problem(&mut self, path: &Path, reason: String) {
        self.problems.push(Skipped { path: path.to_owned(), reason });
    }

    fn pass_over(&mut self, path: PathBuf, reason: &str) {
        self.passed_over.push(Skipped { path, reason: reason.to_owned() });
    }

    /// Add a file if its name travels and it can be read now.
    fn push(&mut self, local: PathBuf, name: String, meta: &std::fs::Metadata) {
        if let Err(e) = validate_path(&name) {
            return self.problem(&local, format!("its name cannot be stored on every system ({e}); rename it"));
        }
        if let Err(e) = std::fs::File::open(&local) {
            return self.problem(&local, reason(&e));
        }
        let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
        let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777;
        self.files.push(LocalFile { local, name, size: meta.len(), mtime, mode });
    }

    fn walk(&mut self, root: &Path, root_name: &str, opts: ManifestOptions) {
        let mut stack = vec![(root.to_path_buf(), root_name.to_owned(), 1usize)];
        while let Some((dir, name, depth)) = stack.pop() {
            if depth > MAX_DEPTH {
                self.problem(&dir, format!("nested deeper than {MAX_DEPTH} levels"));
                continue;
            }
            let listed = std::fs::read_dir(&dir).and_then(|d| d.collect::<std::io::Result<Vec<_>>>());
            let mut entries = match listed {
                Ok(e) => e,
                Err(e) => {
                    self.problem(&dir, format!("cannot list the directory: {}", reason(&e)));
                    continue;
                }
            };
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                let path = entry.path();
                let Ok(file_name) = entry.file_name().into_string() else {
                    self.problem(&path, "the name is not UTF-8".into());
                    continue;
                };
                let child = format!("{name}/{file_name}");
                let mut meta = match entry.metadata() {
                    Ok(m) => m,
                    Err(e) => {
                        self.problem(&path, reason(&e));
                        continue;
                    }
                };
                if meta.file_type().is_symlink() {
                    if !opts.follow_symlinks {
                        self.pass_over(path, "symbolic link; -L follows links");
                        continue;
                    }
                    meta = match std::fs::metadata(&path) {
                        Ok(m) => m,
                        Err(e) => {
                            self.problem(&path, format!("dangling symbolic link ({})", reason(&e)));
                            continue;
                        }
                    };
                }
                if meta.is_dir() {
                    stack.push((path, child, depth + 1));
                } else if meta.is_file() {
                    self.push(path, child, &meta);
                } else {
                    self.pass_over(path, "not a regular file (device, socket or pipe)");
                }
            }
        }
    }

    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    pub fn entries(&self) -> Vec<FileEntry> {
        self.files.iter().map(|f| FileEntry { path: f.name.clone(), size: f.size }).collect()
    }

    /// Each file's permission bits and modification time, in the order of `entries`.
    pub fn meta(&self) -> Vec<FileMeta> {
        self.files.iter().map(|f| FileMeta { mode: f.mode, mtime: f.mtime }).collect()
    }

    /// Identifies "the same send": recipient, text and every file's name, size and mtime.
    pub fn resume_key(&self, to: Option<&str>, subject: Option<&str>, body: Option<&str>) -> Hash {
        let mut h = blake3::Hasher::new();
        let mut field = |bytes: &[u8]| {
            h.update(&(bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(to.unwrap_or("").as_bytes());
        field(subject.unwrap_or("\0").as_bytes());
        field(body.unwrap_or("\0").as_bytes());
        for f in &self.files {
            field(f.name.as_bytes());
            field(&f.size.to_le_bytes());
            field(&f.mtime.to_le_bytes());
        }
        *h.finalize().as_bytes()
    }
}
