//! Where the state key comes from: `PAMFORM_STATE_KEY` (hex), or a key file (`--state-key-file`,
//! default `<state file>.key` beside the state), created 0600 with a fresh key the first time.
//!
//! Invariant: a key is never taken from the command line and never printed.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::crypto::Key;

/// The environment variable that holds the state key as 64 hex characters.
pub const STATE_KEY_ENV: &str = "PAMFORM_STATE_KEY";

/// The default key file of a state file.
pub fn default_key_path(state: &Path) -> PathBuf {
    let mut name = state.file_name().unwrap_or_default().to_os_string();
    name.push(".key");
    state.with_file_name(name)
}

/// A resolved key and, when a key file was created, its path (for a one-line notice).
pub struct ResolvedKey {
    pub key: Key,
    pub created: Option<PathBuf>,
}

/// Resolves the state key. With `create`, a missing key file is created with a fresh key.
pub fn state_key(
    state: &Path,
    key_file: Option<&Path>,
    create: bool,
) -> anyhow::Result<ResolvedKey> {
    if let Ok(text) = std::env::var(STATE_KEY_ENV) {
        let key = Key::from_hex(&text)
            .with_context(|| format!("{STATE_KEY_ENV} is not a valid state key"))?;
        return Ok(ResolvedKey { key, created: None });
    }
    let path = key_file
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default_key_path(state));
    if create {
        let (key, created) = Key::load_or_create(&path)?;
        Ok(ResolvedKey {
            key,
            created: created.then_some(path),
        })
    } else {
        let key = Key::load(&path).with_context(|| {
            format!(
                "no state key: set {STATE_KEY_ENV} or pass --state-key-file (looked for {})",
                path.display()
            )
        })?;
        Ok(ResolvedKey { key, created: None })
    }
}
