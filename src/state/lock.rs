//! The state lock: an OS file lock on `<state>.lock` beside the state file, recording who holds
//! it (ID, operation, user, host, pid, time) so a second writer can name the holder.
//!
//! Invariants: the lock is held for the whole life of a [`StateLock`] value and released by the OS
//! when the process dies, so a holder that is gone never blocks anyone; the file is 0600.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::clock::now_rfc3339;
use crate::fsutil;

/// Who holds (or held) the lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub operation: String,
    pub who: String,
    pub host: String,
    pub pid: u32,
    pub created: String,
    pub version: String,
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ID {}, {} by {} on {} (pid {}), since {}",
            self.id, self.operation, self.who, self.host, self.pid, self.created
        )
    }
}

/// Why the lock could not be taken.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds it.
    Held {
        path: PathBuf,
        holder: Option<Box<LockInfo>>,
    },
    Io(anyhow::Error),
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Held { path, holder } => {
                write!(f, "the state is locked ({})", path.display())?;
                match holder {
                    Some(info) => write!(f, ": held by {info}"),
                    None => write!(f, ": the holder did not record itself yet"),
                }
            }
            LockError::Io(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for LockError {}

/// A held state lock; dropping it releases the lock.
#[derive(Debug)]
pub struct StateLock {
    file: File,
    pub info: LockInfo,
    /// The holder recorded in the file when the lock was taken, if its process had died.
    pub previous: Option<LockInfo>,
}

/// The lock file of a state file.
pub fn lock_path(state: &Path) -> PathBuf {
    let mut name = state.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    state.with_file_name(name)
}

/// The user name and host name, for lock and audit records.
pub fn who_and_host() -> (String, String) {
    let who = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into());
    (who, host)
}

/// The holder recorded in a lock file, if any.
pub fn read_record(path: &Path) -> anyhow::Result<Option<LockInfo>> {
    match File::open(path) {
        Ok(mut file) => Ok(read_info(&mut file)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot read {}", path.display()))),
    }
}

fn read_info(file: &mut File) -> Option<LockInfo> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

impl StateLock {
    /// Takes the lock of `state`, waiting up to `timeout` for another holder.
    pub fn acquire(
        state: &Path,
        operation: &str,
        timeout: Duration,
    ) -> Result<StateLock, LockError> {
        Self::acquire_file(&lock_path(state), operation, timeout)
    }

    /// Takes the lock held in the file `path`, waiting up to `timeout` for another holder.
    pub fn acquire_file(
        path: &Path,
        operation: &str,
        timeout: Duration,
    ) -> Result<StateLock, LockError> {
        let path = path.to_path_buf();
        fsutil::create_private(&path).map_err(LockError::Io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open lock file {}", path.display()))
            .map_err(LockError::Io)?;
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    if Instant::now() >= deadline {
                        // The holder writes its record right after taking the lock: give it a
                        // moment so the message can name it.
                        let mut holder = read_info(&mut file);
                        for _ in 0..50 {
                            if holder.is_some() {
                                break;
                            }
                            std::thread::sleep(Duration::from_millis(2));
                            holder = read_info(&mut file);
                        }
                        return Err(LockError::Held {
                            path,
                            holder: holder.map(Box::new),
                        });
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(5));
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(LockError::Io(
                        anyhow::Error::new(e).context(format!("cannot lock {}", path.display())),
                    ));
                }
            }
        }
        let previous = read_info(&mut file);
        tracing::debug!(lock = %path.display(), operation, "lock taken");
        let (who, host) = who_and_host();
        let info = LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_string(),
            who,
            host,
            pid: std::process::id(),
            created: now_rfc3339(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        };
        let record = serde_json::to_string(&info).map_err(|e| LockError::Io(e.into()))?;
        let mut write = || -> std::io::Result<()> {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            file.write_all(record.as_bytes())?;
            file.sync_data()
        };
        write()
            .with_context(|| format!("cannot write lock file {}", path.display()))
            .map_err(LockError::Io)?;
        Ok(StateLock {
            file,
            info,
            previous,
        })
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // Clear the record first so nobody reads a released lock as held; the OS lock goes with
        // the file handle.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_with_the_first_named() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.db");
        let first = StateLock::acquire(&state, "apply", Duration::ZERO).unwrap();
        match StateLock::acquire(&state, "apply", Duration::from_millis(120)) {
            Err(LockError::Held { holder, .. }) => {
                assert_eq!(holder.unwrap().id, first.info.id);
            }
            other => panic!("expected Held, got {other:?}"),
        }
        drop(first);
        let again = StateLock::acquire(&state, "apply", Duration::ZERO).unwrap();
        assert!(again.previous.is_none());
    }
}
