//! Manifests: a directory of TOML files -> validated [`Manifest`] (settings plus
//! `model::Desired`), and the embedded target's seed file -> `model::Seed`. Nothing past this
//! module sees raw TOML.
//!
//! # The language
//! Every `*.toml` file directly in the manifest directory (not in subdirectories) is read, in
//! name order, and merged. Files hold `[pamform]` settings (in one file at most), `[[team]]`
//! blocks with `[[team.group]]`s, `[[otp_api_user]]`, `[[checkout]]` and `[[import]]` blocks;
//! `schemas/pamform.schema.json` (from [`manifest_schema`]) describes them. A line such as
//! `#:schema ../schemas/pamform.schema.json` is a TOML comment that editors use.
//!
//! # Diagnostics
//! Loading reports every problem of a run at once, across all files and as many as possible
//! within each file, as [`Diagnostic`]s with file, line, column, a stable rule ID and a
//! rustc-style rendering. A TOML syntax error is one diagnostic for its file (the rest of that
//! file is not checked), and while any file is unreadable or unparsable, references to
//! undeclared teams and OTP API users are not reported (they may be declared in that file).
//!
//! Rule IDs: `io`, `no-manifest-files`, `file-too-large`, `encoding`, `syntax`, `unknown-key`,
//! `wrong-type`, `missing-key`, `invalid-id`, `unknown-privilege`, `duplicate-team`,
//! `duplicate-group`, `duplicate-otp-api-user`, `duplicate-checkout`, `duplicate-import`,
//! `duplicate-privilege`, `duplicate-member`, `duplicate-approver`, `duplicate-account`,
//! `undeclared-team`, `undeclared-otp-api-user`, `no-team-trustee`, `needs-requesters`,
//! `team-shape`, `invalid-account`, `empty-accounts`, `duplicate-settings`,
//! `unknown-target-kind`, `invalid-setting`, `invalid-network`, `invalid-import`,
//! `undeclared-import`; seeds add `duplicate-profile`, `duplicate-system`,
//! `undeclared-profile`, `undeclared-system`.
//!
//! # Limits
//! A file may hold at most [`MAX_FILE_BYTES`] (64 MiB); larger files are refused before they are
//! read. Nesting is bounded by the TOML parser's recursion limit, so no input panics or
//! overflows the stack; invalid UTF-8 is an `encoding` diagnostic; a UTF-8 byte order mark is
//! accepted.
//!
//! # Invariants
//! Each file's parsed document lives only while that file is walked (the text stays until the
//! diagnostics are resolved); duplicate detection is by hash map, never by scanning; the
//! [`Manifest::digest`] is a SHA-256 over, for each file in order, its name, a NUL byte, its
//! length as a little-endian u64, and its bytes as read.

mod desired;
mod diagnostic;
mod schema;
mod seed;
mod source;
mod suggest;
mod team;
mod values;
mod walk;

use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::model::{Desired, Seed};

pub use diagnostic::{Diagnostic, ManifestError, SourceLine};
pub use schema::{
    CheckoutBlock, GroupBlock, ImportBlock, ManifestFile, OtpApiUserBlock, PamformTable,
    PrivilegeToken, TargetKindName, TargetTable, TeamBlock, manifest_schema,
};
pub use source::MAX_FILE_BYTES;

use diagnostic::{Diagnostics, Sources};
use walk::{Cx, Fields};

/// A loaded, validated manifest directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// The manifest directory as given.
    pub dir: PathBuf,
    pub settings: Settings,
    pub desired: Desired,
    /// The `*.toml` files read, sorted by name, each joined to `dir`.
    pub files: Vec<PathBuf>,
    /// Hex SHA-256 over the files read (see the module documentation for the exact input).
    pub digest: String,
}

/// `[pamform]` settings, with paths resolved against the manifest directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The state file; default `.pamform/state.db`.
    pub state: PathBuf,
    pub target: TargetSettings,
}

/// `[pamform.target]` settings, with paths resolved against the manifest directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetSettings {
    pub kind: TargetKind,
    /// The embedded target's database; default `.pamform/target.db`.
    pub path: PathBuf,
    /// The seed loaded when the embedded target is first created; default `seed/target.toml`.
    pub seed: PathBuf,
}

/// The kinds of target pamform can provision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// A local database that enforces the product's rules.
    #[default]
    Embedded,
}

impl TargetKind {
    /// The name used in `[pamform.target] kind`.
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Embedded => "embedded",
        }
    }
}

impl std::fmt::Display for TargetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Every target kind with its name.
pub(crate) const TARGET_KINDS: &[(&str, TargetKind)] = &[("embedded", TargetKind::Embedded)];

impl Settings {
    /// The defaults, resolved against `dir`.
    pub fn defaults(dir: &Path) -> Settings {
        Settings {
            state: dir.join(schema::default_state()),
            target: TargetSettings {
                kind: TargetKind::Embedded,
                path: dir.join(schema::default_target_path()),
                seed: dir.join(schema::default_seed()),
            },
        }
    }
}

/// Loads and validates the manifest directory `dir`, reporting every problem at once.
pub fn load(dir: &Path) -> Result<Manifest, ManifestError> {
    load_with_limit(dir, MAX_FILE_BYTES)
}

/// [`load`] with another per-file size limit (for tests of the limit).
#[doc(hidden)]
pub fn load_with_limit(dir: &Path, limit: u64) -> Result<Manifest, ManifestError> {
    let files = source::list_toml_files(dir).map_err(|d| ManifestError {
        diagnostics: vec![*d],
    })?;
    if files.is_empty() {
        let mut d = Diagnostic::whole(
            dir,
            "no-manifest-files",
            format!("no *.toml files in manifest directory {}", dir.display()),
        );
        d.help = Some("a manifest directory holds one or more *.toml files".into());
        return Err(ManifestError {
            diagnostics: vec![d],
        });
    }

    let mut diagnostics = Diagnostics::default();
    let mut sources = Sources::default();
    let mut merge = desired::Merge::default();
    let mut hasher = Sha256::new();
    let mut complete = true;
    for (index, path) in files.iter().enumerate() {
        let file = u32::try_from(index).unwrap_or(u32::MAX);
        sources.paths.push(path.clone());
        let text = source::read_limited(path, limit).and_then(|bytes| {
            let name = path.file_name().unwrap_or_default();
            hasher.update(name.as_encoded_bytes());
            hasher.update([0u8]);
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(&bytes);
            source::decode(path, bytes)
        });
        let text = match text {
            Ok(text) => text,
            Err(d) => {
                complete = false;
                diagnostics.push_resolved(file, 0, *d);
                sources.texts.push(None);
                continue;
            }
        };
        match source::parse(&text, file, &mut diagnostics) {
            Some(document) => {
                let mut cx = Cx {
                    file,
                    diagnostics: &mut diagnostics,
                };
                merge.add_file(&mut cx, Fields::root(document));
            }
            None => complete = false,
        }
        sources.texts.push(Some(text));
    }
    let (desired, raw) = merge.finish(&mut diagnostics, complete);
    if !diagnostics.is_empty() {
        return Err(ManifestError {
            diagnostics: diagnostics.finish(&sources),
        });
    }
    let resolve =
        |path: Option<String>, default: fn() -> String| dir.join(path.unwrap_or_else(default));
    let settings = Settings {
        state: resolve(raw.state, schema::default_state),
        target: TargetSettings {
            kind: raw.kind.unwrap_or_default(),
            path: resolve(raw.target_path, schema::default_target_path),
            seed: resolve(raw.seed, schema::default_seed),
        },
    };
    let digest = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Manifest {
        dir: dir.to_path_buf(),
        settings,
        desired,
        files,
        digest,
    })
}

/// Loads and validates an embedded target's seed file.
pub fn load_seed(path: &Path) -> Result<Seed, ManifestError> {
    let one = |d: Box<Diagnostic>| ManifestError {
        diagnostics: vec![*d],
    };
    let bytes = source::read_limited(path, MAX_FILE_BYTES).map_err(one)?;
    let text = source::decode(path, bytes).map_err(one)?;
    let mut diagnostics = Diagnostics::default();
    let mut seed = Seed::default();
    if let Some(document) = source::parse(&text, 0, &mut diagnostics) {
        let mut cx = Cx {
            file: 0,
            diagnostics: &mut diagnostics,
        };
        seed = seed::read_seed(&mut cx, Fields::root(document));
    }
    if diagnostics.is_empty() {
        return Ok(seed);
    }
    let sources = Sources {
        paths: vec![path.to_path_buf()],
        texts: vec![Some(text)],
    };
    Err(ManifestError {
        diagnostics: diagnostics.finish(&sources),
    })
}
