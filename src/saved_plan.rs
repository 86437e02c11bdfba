//! Saved plans (`plan --out FILE`, `apply FILE`, `show FILE`): a plan with what it was computed
//! from, so that apply can prove it runs exactly the reviewed plan against the same world.
//!
//! Invariants:
//! - A plan file holds no secret (plans hold none) and is written atomically (temporary file, fsync,
//!   rename), mode 0600.
//! - A plan file records the state's lineage and serial, a digest of the manifest files, and a
//!   fingerprint of everything plan read from the target; `check_fresh` refuses it when any of them
//!   moved, before apply makes any call that changes anything.
//! - The format is versioned: a file of another `format_version` is refused with a clear message,
//!   never misread.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::fsutil;
use crate::model::Observed;
use crate::plan::Plan;
use crate::state::Identity;

/// The `format` field of every plan file.
pub const FORMAT: &str = "pamform-plan";
/// The version of the plan file format this pamform writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// A plan and what it was computed from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format: String,
    pub format_version: u32,
    pub pamform_version: String,
    /// The manifest directory, as given to `plan`.
    pub manifest_dir: PathBuf,
    /// `Manifest::digest` of the files read.
    pub manifest_digest: String,
    /// The state as plan read it (`None`: no state file yet).
    pub state: Option<Identity>,
    /// What plan read from the target, as a SHA-256 fingerprint.
    pub target_fingerprint: String,
    pub plan: Plan,
}

/// Feeds `std::hash::Hash` into SHA-256, so a fingerprint streams without building a copy.
struct Sha(Sha256);

impl Hasher for Sha {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        0
    }
}

/// The fingerprint of a target view.
pub fn fingerprint(observed: &Observed) -> String {
    let mut hasher = Sha(Sha256::new());
    observed.hash(&mut hasher);
    hex(&hasher.0.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Deserialize)]
struct Header {
    format: Option<String>,
    format_version: Option<u32>,
    pamform_version: Option<String>,
}

impl SavedPlan {
    pub fn new(
        manifest_dir: &Path,
        manifest_digest: &str,
        state: Option<Identity>,
        observed: &Observed,
        plan: Plan,
    ) -> SavedPlan {
        SavedPlan {
            format: FORMAT.to_string(),
            format_version: FORMAT_VERSION,
            pamform_version: env!("CARGO_PKG_VERSION").to_string(),
            manifest_dir: manifest_dir.to_path_buf(),
            manifest_digest: manifest_digest.to_string(),
            state,
            target_fingerprint: fingerprint(observed),
            plan,
        }
    }

    /// The plan's hash: SHA-256 of its canonical serialization, shown in Markdown and by apply.
    pub fn hash(&self) -> String {
        let mut hasher = Sha256::new();
        // Serializing to a hasher cannot fail: every map key is a string.
        let _ = serde_json::to_writer(HashWriter(&mut hasher), self);
        hex(&hasher.finalize())
    }

    /// Writes the plan file atomically, mode 0600.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let mut temp_name = path.file_name().unwrap_or_default().to_os_string();
        temp_name.push(format!(".tmp-{}", std::process::id()));
        let temp = path.with_file_name(temp_name);
        let _ = std::fs::remove_file(&temp);
        fsutil::create_private(&temp)?;
        let result = (|| -> anyhow::Result<()> {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&temp)?;
            let mut writer = std::io::BufWriter::new(file);
            serde_json::to_writer(&mut writer, self)?;
            writer.write_all(b"\n")?;
            let file = writer.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            std::fs::rename(&temp, path)?;
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result.with_context(|| format!("cannot write plan file {}", path.display()))
    }

    /// Reads a plan file, refusing other formats and versions with a clear message.
    pub fn read(path: &Path) -> anyhow::Result<SavedPlan> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read plan file {}", path.display()))?;
        let header: Header = serde_json::from_str(&text).map_err(|_| {
            anyhow::anyhow!(
                "{} is not a pamform plan file (it is not the JSON that `pamform plan --out` writes)",
                path.display()
            )
        })?;
        if header.format.as_deref() != Some(FORMAT) {
            bail!(
                "{} is not a pamform plan file (no \"format\": \"{FORMAT}\")",
                path.display()
            );
        }
        let version = header.format_version.unwrap_or(0);
        if version != FORMAT_VERSION {
            bail!(
                "plan file {} is in plan format {version} (written by pamform {}); this pamform reads format {FORMAT_VERSION}: run `pamform plan --out` again",
                path.display(),
                header.pamform_version.as_deref().unwrap_or("unknown")
            );
        }
        serde_json::from_str(&text).with_context(|| {
            format!(
                "plan file {} is damaged or was edited by hand: run `pamform plan --out` again",
                path.display()
            )
        })
    }
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Why a saved plan may not be applied.
#[derive(Debug, PartialEq, Eq)]
pub enum Stale {
    Version {
        plan: String,
    },
    Manifest,
    State {
        plan: Option<Identity>,
        now: Option<Identity>,
    },
    Target,
}

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stale::Version { plan } => write!(
                f,
                "the plan was made by pamform {plan}; this is pamform {}",
                env!("CARGO_PKG_VERSION")
            ),
            Stale::Manifest => f.write_str("the manifest files changed since the plan was made"),
            Stale::State { plan, now } => {
                let show = |i: &Option<Identity>| match i {
                    Some(i) => format!("lineage {} serial {}", i.lineage, i.serial),
                    None => "no state file".to_string(),
                };
                write!(
                    f,
                    "the state moved since the plan was made (plan: {}; now: {})",
                    show(plan),
                    show(now)
                )
            }
            Stale::Target => f.write_str(
                "the target changed since the plan was made (what plan read from it is different now)",
            ),
        }
    }
}

impl SavedPlan {
    /// Checks the version, manifest and state (no target needed).
    pub fn check_local(
        &self,
        manifest_digest: &str,
        state: Option<&Identity>,
    ) -> Result<(), Stale> {
        if self.pamform_version != env!("CARGO_PKG_VERSION") {
            return Err(Stale::Version {
                plan: self.pamform_version.clone(),
            });
        }
        if self.manifest_digest != manifest_digest {
            return Err(Stale::Manifest);
        }
        if self.state.as_ref() != state {
            return Err(Stale::State {
                plan: self.state.clone(),
                now: state.cloned(),
            });
        }
        Ok(())
    }

    /// Checks what the target says now against what plan read.
    pub fn check_target(&self, observed: &Observed) -> Result<(), Stale> {
        if fingerprint(observed) == self.target_fingerprint {
            Ok(())
        } else {
            Err(Stale::Target)
        }
    }
}
