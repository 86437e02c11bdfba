//! File-system helpers for private files: created 0600 whatever the umask, parents created.
//!
//! Invariant: every file pamform creates that may hold state or secrets goes through
//! [`create_private`] or [`restrict`].

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;

/// Creates `path`'s parent directories.
pub fn create_parent(path: &Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create directory {}", parent.display()))?;
    }
    Ok(())
}

/// Creates an empty file with mode 0600 if it does not exist. Returns whether it created it.
pub fn create_private(path: &Path) -> anyhow::Result<bool> {
    create_parent(path)?;
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => {
            restrict(path)?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

/// Sets mode 0600 on an existing file (the umask may have widened or narrowed it).
pub fn restrict(path: &Path) -> anyhow::Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot set permissions 0600 on {}", path.display()))
}
