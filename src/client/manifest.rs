//! What a send will carry: the local files named on the command line, with directories
//! walked (iteratively, depth-capped), each given the relative wire name it will arrive
//! under. Names are checked with the same rules the listener applies, so a bad name fails
//! here with the local path in the message.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::wire::names::MAX_DEPTH;
use crate::wire::{validate_path, FileEntry, Hash, NameError};

/// Why what was named on the command line cannot be sent as it is.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} has no usable file name (not UTF-8?)", .0.display())]
    NoName(PathBuf),
    #[error("{} has a name that is not UTF-8: {name:?}", .0.display(), name = .1)]
    NotUtf8(PathBuf, std::ffi::OsString),
    #[error("{} is not a regular file or directory", .0.display())]
    NotAFile(PathBuf),
    #[error("two files would arrive as {0:?}; send them separately")]
    Duplicate(String),
    #[error("cannot send {}: {why}", .0.display(), why = .1)]
    Name(PathBuf, #[source] NameError),
    #[error("{} is nested deeper than {MAX_DEPTH} levels", .0.display())]
    TooDeep(PathBuf),
}

type Result<T, E = ManifestError> = std::result::Result<T, E>;

fn io_error<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ManifestError + 'a {
    move |source| ManifestError::Io { what, path: path.to_owned(), source }
}

/// One local file and the name it is sent under.
#[derive(Debug, Clone)]
pub struct LocalFile {
    pub local: PathBuf,
    pub name: String,
    pub size: u64,
    pub mtime: u64,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ManifestOptions {
    /// Follow symbolic links found inside directories (links named on the command line are
    /// always followed, as scp does).
    pub follow_symlinks: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Manifest {
    pub files: Vec<LocalFile>,
    /// Things passed over (symlinks not followed, special files), for a warning.
    pub skipped: Vec<PathBuf>,
}

impl Manifest {
    pub fn build(paths: &[PathBuf], opts: ManifestOptions) -> Result<Self> {
        let mut m = Manifest::default();
        for p in paths {
            let meta = std::fs::metadata(p).map_err(io_error("read", p))?;
            let base =
                p.file_name().and_then(|n| n.to_str()).ok_or_else(|| ManifestError::NoName(p.clone()))?.to_owned();
            if meta.is_dir() {
                m.walk(p, &base, opts)?;
            } else if meta.is_file() {
                m.push(p.clone(), base, &meta)?;
            } else {
                return Err(ManifestError::NotAFile(p.clone()));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for f in &m.files {
            if !seen.insert(f.name.as_str()) {
                return Err(ManifestError::Duplicate(f.name.clone()));
            }
        }
        Ok(m)
    }

    fn push(&mut self, local: PathBuf, name: String, meta: &std::fs::Metadata) -> Result<()> {
        validate_path(&name).map_err(|e| ManifestError::Name(local.clone(), e))?;
        let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
        self.files.push(LocalFile { local, name, size: meta.len(), mtime });
        Ok(())
    }

    fn walk(&mut self, root: &Path, root_name: &str, opts: ManifestOptions) -> Result<()> {
        let mut stack = vec![(root.to_path_buf(), root_name.to_owned(), 1usize)];
        while let Some((dir, name, depth)) = stack.pop() {
            if depth > MAX_DEPTH {
                return Err(ManifestError::TooDeep(dir));
            }
            let mut entries: Vec<_> = std::fs::read_dir(&dir)
                .and_then(|d| d.collect::<std::io::Result<_>>())
                .map_err(io_error("list", &dir))?;
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                let path = entry.path();
                let file_name = entry.file_name().into_string().map_err(|n| ManifestError::NotUtf8(dir.clone(), n))?;
                let child = format!("{name}/{file_name}");
                let mut meta = entry.metadata().map_err(io_error("read", &path))?;
                if meta.file_type().is_symlink() {
                    if !opts.follow_symlinks {
                        self.skipped.push(path);
                        continue;
                    }
                    meta = std::fs::metadata(&path).map_err(io_error("follow", &path))?;
                }
                if meta.is_dir() {
                    stack.push((path, child, depth + 1));
                } else if meta.is_file() {
                    self.push(path, child, &meta)?;
                } else {
                    self.skipped.push(path);
                }
            }
        }
        Ok(())
    }

    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    pub fn entries(&self) -> Vec<FileEntry> {
        self.files.iter().map(|f| FileEntry { path: f.name.clone(), size: f.size }).collect()
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
