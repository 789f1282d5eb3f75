//! The fetch output directory (`-o DIR`), written without ever following a link below it.
//! Someone else may be able to write there (a shared `/tmp/dl`) and plant a symbolic link
//! where a partial file or a directory will go, to make a fetch overwrite a file of yours.
//! So every directory below `DIR` is created and opened one component at a time relative
//! to its parent's handle, with `O_NOFOLLOW`; partial files are opened the same way and
//! must be plain files of yours with one link; the final rename never replaces anything.
//! What is refused is named in the error.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, RenameFlags};
use rustix::io::Errno;

use super::error::{ClientError, Result};

/// A directory opened without following links, with the path it stands for (for messages).
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

fn refused(path: PathBuf, why: &'static str) -> ClientError {
    ClientError::Refused { path, why }
}

fn io_error(what: &'static str, path: PathBuf) -> impl FnOnce(Errno) -> ClientError {
    move |e| ClientError::Local { what, path, source: e.into() }
}

impl Dir {
    /// The output directory itself (created if missing; it is the user's own choice, so a
    /// link there is followed).
    pub fn root(path: &Path) -> Result<Dir> {
        if path.exists() && !path.is_dir() {
            let e = std::io::Error::new(std::io::ErrorKind::NotADirectory, "it is a file, not a directory");
            return Err(super::error::local("writing into", path)(e));
        }
        std::fs::create_dir_all(path).map_err(super::error::local("creating", path))?;
        let fd = rustix::fs::open(path, OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(io_error("opening", path.to_owned()))?;
        Ok(Dir { fd, path: path.to_owned() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory `name` below this one, created if missing; a link there is refused.
    pub fn subdir(&self, name: &str) -> Result<Dir> {
        let path = self.path.join(name);
        match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(0o777)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(io_error("creating", path)(e)),
        }
        let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC;
        match rustix::fs::openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => {
                // A directory someone else made (they could swap what is in it) is refused.
                let st = rustix::fs::fstat(&fd).map_err(io_error("reading", path.clone()))?;
                if st.st_uid != rustix::process::geteuid().as_raw() {
                    return Err(refused(path, "the directory belongs to another user"));
                }
                Ok(Dir { fd, path })
            }
            Err(Errno::LOOP) | Err(Errno::NOTDIR) => {
                Err(refused(path, "a symbolic link or a file stands where a directory goes"))
            }
            Err(e) => Err(io_error("opening", path)(e)),
        }
    }

    /// The directories of `rel` (`a/b` of `a/b/c.txt`) below this one, one at a time.
    pub fn subdirs<'a>(&self, components: impl Iterator<Item = &'a str>) -> Result<Dir> {
        let mut dir = Dir {
            fd: self.fd.try_clone().map_err(super::error::local("opening", &self.path))?,
            path: self.path.clone(),
        };
        for c in components {
            dir = dir.subdir(c)?;
        }
        Ok(dir)
    }

    /// An existing plain file `name`, for reading; `None` if there is none. A link is
    /// refused.
    pub fn existing(&self, name: &str) -> Result<Option<File>> {
        let path = self.path.join(name);
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        match rustix::fs::openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => {
                // Opened without blocking (a planted FIFO would hang a blocking open), and
                // only a plain file counts.
                let st = rustix::fs::fstat(&fd).map_err(io_error("reading", path.clone()))?;
                if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
                    return Err(refused(path, "it is not a plain file"));
                }
                Ok(Some(File::from(fd)))
            }
            Err(Errno::NOENT) => Ok(None),
            Err(Errno::LOOP) => Err(refused(path, "it is a symbolic link")),
            Err(e) => Err(io_error("opening", path)(e)),
        }
    }

    /// A partial file `name` to write, created (0600) or reopened for a resume. It must be
    /// a plain file of this user with one link: anything else someone may have planted.
    pub fn partial(&self, name: &str) -> Result<(File, u64)> {
        let path = self.path.join(name);
        let flags = OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => fd,
            Err(Errno::LOOP) => return Err(refused(path, "it is a symbolic link")),
            Err(e) => return Err(io_error("opening", path)(e)),
        };
        let st = rustix::fs::fstat(&fd).map_err(io_error("reading", path.clone()))?;
        let plain = rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile;
        if !plain || st.st_nlink != 1 || st.st_uid != rustix::process::geteuid().as_raw() {
            return Err(refused(path, "it is not a plain file of yours with a single link"));
        }
        Ok((File::from(fd), st.st_size as u64))
    }

    /// A new file `name` (0600), which must not exist yet.
    pub fn create_new(&self, name: &str) -> Result<File> {
        let path = self.path.join(name);
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => Ok(File::from(fd)),
            Err(e) => Err(io_error("creating", path)(e)),
        }
    }

    /// Rename `from` to `to` in this directory, never replacing anything.
    pub fn rename_no_replace(&self, from: &str, to: &str) -> Result<()> {
        rustix::fs::renameat_with(&self.fd, from, &self.fd, to, RenameFlags::NOREPLACE)
            .map_err(io_error("moving into place", self.path.join(to)))
    }

    /// Move a verified file over an existing one (`fetch --overwrite`). The rename replaces
    /// the name itself: a link there is replaced, never followed.
    pub fn rename_replace(&self, from: &str, to: &str) -> Result<()> {
        rustix::fs::renameat(&self.fd, from, &self.fd, to).map_err(io_error("moving into place", self.path.join(to)))
    }

    /// Give the verified partial file `name`, before it is renamed into place, the sender's
    /// permission bits (already masked: never set-id or sticky) and modification time.
    /// Opened without following a link, and only a plain file of this user with one link
    /// (what `partial` accepts) is changed.
    pub fn apply_meta(&self, name: &str, mode: u32, mtime: u64) -> Result<()> {
        let path = self.path.join(name);
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, name, flags, Mode::empty()).map_err(io_error("opening", path.clone()))?;
        let st = rustix::fs::fstat(&fd).map_err(io_error("reading", path.clone()))?;
        let plain = rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile;
        if !plain || st.st_nlink != 1 || st.st_uid != rustix::process::geteuid().as_raw() {
            return Err(refused(path, "it is not a plain file of yours with one link"));
        }
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode & 0o777))
            .map_err(io_error("setting the mode of", path.clone()))?;
        let when = rustix::fs::Timespec { tv_sec: i64::try_from(mtime).unwrap_or(i64::MAX), tv_nsec: 0 };
        let times = rustix::fs::Timestamps { last_access: when, last_modification: when };
        rustix::fs::futimens(&fd, &times).map_err(io_error("setting the time of", path))?;
        Ok(())
    }

    pub fn remove(&self, name: &str) {
        let _ = rustix::fs::unlinkat(&self.fd, name, rustix::fs::AtFlags::empty());
    }
}
