//! A manifest directory and what it points at: the target and the state file. Commands open these
//! through here so that every command resolves paths and targets the same way.
//!
//! Invariant: planning reads the state and the target's metadata only; it writes nothing but the
//! embedded target's file on first use (that is the product's own store, seeded once).

use std::path::Path;

use anyhow::Context;

use crate::manifest::{self, Manifest, ManifestError, TargetKind};
use crate::model::{Observed, Recorded};
use crate::plan::{self, Plan, PlanOptions};
use crate::state::{Identity, SqliteState, StateStore};
use crate::target::Target;
use crate::target::embedded::EmbeddedTarget;

/// A loaded manifest directory.
pub struct Workspace {
    pub manifest: Manifest,
}

impl Workspace {
    /// Reads and validates the manifest directory.
    pub fn load(dir: &Path) -> Result<Workspace, ManifestError> {
        Ok(Workspace {
            manifest: manifest::load(dir)?,
        })
    }

    pub fn state_path(&self) -> &Path {
        &self.manifest.settings.state
    }

    /// Opens the embedded target, creating and seeding it on first use.
    pub fn open_embedded_target(&self) -> anyhow::Result<EmbeddedTarget> {
        let settings = &self.manifest.settings.target;
        match settings.kind {
            TargetKind::Embedded => {
                let seed_path = settings.seed.clone();
                EmbeddedTarget::open(&settings.path, &move || {
                    if !seed_path.exists() {
                        anyhow::bail!(
                            "the embedded target needs a seed file at {} (see [pamform.target] seed)",
                            seed_path.display()
                        );
                    }
                    manifest::load_seed(&seed_path).map_err(|e| anyhow::anyhow!("{e}"))
                })
                .with_context(|| {
                    format!("cannot open the embedded target {}", settings.path.display())
                })
            }
        }
    }

    /// Opens the configured target.
    pub fn open_target(&self) -> anyhow::Result<Box<dyn Target>> {
        Ok(Box::new(self.open_embedded_target()?))
    }

    /// Opens the state file if it exists (planning never creates one).
    pub fn open_state_if_exists(&self) -> anyhow::Result<Option<SqliteState>> {
        SqliteState::open_existing(self.state_path())
    }

    /// Opens the state file, creating it when missing.
    pub fn open_state(&self) -> anyhow::Result<SqliteState> {
        SqliteState::open(self.state_path())
    }
}

/// A plan and what it was computed from.
pub struct Planned {
    pub plan: Plan,
    pub observed: Observed,
    pub recorded: Recorded,
    /// `None` when there is no state file yet.
    pub identity: Option<Identity>,
}

/// Reads the state and the target, and plans.
pub fn plan_with(
    workspace: &Workspace,
    target: &mut dyn Target,
    state: Option<&mut dyn StateStore>,
    options: PlanOptions,
) -> anyhow::Result<Planned> {
    let (recorded, identity) = match state {
        Some(state) => (state.load()?, Some(state.identity()?)),
        None => (Recorded::default(), None),
    };
    let desired = &workspace.manifest.desired;
    let scope = plan::scope(desired, &recorded);
    let started = std::time::Instant::now();
    let observed = target
        .observe(&scope)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", target.describe()))?;
    tracing::debug!(
        teams = observed.teams.len(),
        otp_api_users = observed.otp_api_users.len(),
        elapsed = ?started.elapsed(),
        "observed the target"
    );
    let started = std::time::Instant::now();
    let plan = plan::build(desired, &recorded, &observed, options);
    tracing::debug!(
        steps = plan.steps.len(),
        changes = plan.changes.len(),
        refusals = plan.refusals.len(),
        elapsed = ?started.elapsed(),
        "planned"
    );
    Ok(Planned {
        plan,
        observed,
        recorded,
        identity,
    })
}
