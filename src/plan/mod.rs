//! The plan engine: a pure function from (desired, recorded, observed) to a [`Plan`].
//!
//! Architecture invariants:
//! - No IO and no clock: the same inputs give the same plan, byte for byte once rendered.
//! - Imports only `model`.
//! - Cost is O(N log N) in managed objects: every comparison is a merge of sorted maps, never a
//!   scan of one list per item of another.
//! - A plan with refusals must not be applied; `Plan::steps` is still filled so that the
//!   refusals can be shown in context.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::model::{
    AccountRef, Address, CheckoutSpec, OtpApiUserRemote, OtpApiUserSpec, OtpUserName, ProfileId,
    RemoteId, Request, RequestKind, TeamId, TeamState,
};

mod engine;
mod team_diff;

pub use engine::{ONBOARDED_POLICY, PlanOptions, build, scope};

/// What a plan does to one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Delete,
    Import,
    NoOp,
}

impl Action {
    /// The marker in text and diff output.
    pub fn symbol(self) -> char {
        match self {
            Action::Create => '+',
            Action::Update => '~',
            Action::Delete => '-',
            Action::Import => '<',
            Action::NoOp => ' ',
        }
    }
}

/// The recorded attributes of one address, as shown in `before`/`after`. Never a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Attributes {
    Team {
        id: TeamId,
        description: String,
    },
    Group {
        team: TeamId,
        name: String,
    },
    Privilege {
        team: TeamId,
        group: String,
        privilege: String,
    },
    Member {
        team: TeamId,
        group: String,
        profile: ProfileId,
    },
    OtpApiUser {
        #[serde(flatten)]
        spec: OtpApiUserSpec,
        #[serde(skip_serializing_if = "Option::is_none")]
        vault_account: Option<AccountRef>,
        #[serde(skip_serializing_if = "Option::is_none")]
        caller: Option<ProfileId>,
    },
    Checkout {
        requested_by: ProfileId,
        approved_by: BTreeSet<ProfileId>,
        #[serde(skip_serializing_if = "Option::is_none")]
        checkout_id: Option<RemoteId>,
    },
}

/// One address's change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub address: Address,
    pub action: Action,
    /// Index into `Plan::steps` of the step that carries it (`None` for no-ops).
    pub step: Option<usize>,
    pub before: Option<Attributes>,
    pub after: Option<Attributes>,
}

/// How an object differs between the state and the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftKind {
    /// Recorded, but gone from the target.
    Deleted,
    /// In the target, not recorded (added outside pamform to a managed team).
    Added,
    /// Attributes differ.
    Changed,
}

/// An object changed outside pamform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    pub address: Address,
    pub kind: DriftKind,
    pub recorded: Option<Attributes>,
    pub observed: Option<Attributes>,
}

/// Why a plan cannot be applied: the address, the request, its submitter and the reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub address: Address,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<ProfileId>,
    pub reason: String,
    /// What to do about it, when there is something to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
}

/// Something the user should know that does not stop the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub address: Address,
    pub message: String,
}

/// What one step does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Operation {
    /// Submit a predefined request to the target. `team_after` is the team as a `TEAM-MEMBERS`
    /// request leaves it, which apply records in the state (`TEAM-CREATE` and `TEAM-UPDATE` carry
    /// the whole team in the request itself).
    Submit {
        request: Request,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        team_after: Option<TeamState>,
        /// The state records the team exactly as the target holds it, so apply may record the
        /// result by writing only the addresses this step changes.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        patch_state: bool,
    },
    /// Request, approve and check out the vault account of an OTP API user, and bind it.
    Checkout {
        otp_api_user: OtpUserName,
        team: TeamId,
        spec: CheckoutSpec,
        /// Known when the OTP API user exists already; otherwise read from the state when the
        /// step runs (the user is created by an earlier step of the same plan).
        vault_account: Option<AccountRef>,
    },
    /// Adopt an existing team into the state (no target call).
    ImportTeam {
        team: TeamId,
        state: TeamState,
        requested_by: ProfileId,
    },
    /// Adopt an existing OTP API user into the state (no target call).
    ImportOtpApiUser {
        name: OtpUserName,
        spec: OtpApiUserSpec,
        remote: OtpApiUserRemote,
        requested_by: ProfileId,
    },
    /// Write the state of a team whose target view already matches the manifest (no target call).
    RecordTeam {
        team: TeamId,
        state: TeamState,
        requested_by: ProfileId,
    },
    /// Drop a team from the state that is gone from the target and the manifest (no target call).
    ForgetTeam { team: TeamId },
}

impl Operation {
    /// Whether the step calls the target.
    pub fn calls_target(&self) -> bool {
        matches!(self, Operation::Submit { .. } | Operation::Checkout { .. })
    }

    /// The request kind for display and JSON (`None` for state-only steps).
    pub fn request_kind(&self) -> Option<RequestKind> {
        match self {
            Operation::Submit { request, .. } => Some(request.kind()),
            Operation::Checkout { .. } => Some(RequestKind::Checkout),
            _ => None,
        }
    }
}

/// One step of apply, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub operation: Operation,
    /// The profile that submits it (`None` for state-only steps).
    pub submitter: Option<ProfileId>,
    /// The address the step is about (a team, an OTP API user, a check-out).
    pub subject: Address,
    /// The range of `Plan::changes` this step carries (for a team request: every group,
    /// privilege and member it adds, changes or removes).
    pub changes: std::ops::Range<usize>,
}

/// Counts for the summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub import: usize,
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

/// The result of planning.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Every change that is not a no-op, grouped by step, in step order; then the no-ops when
    /// asked for (`PlanOptions::include_no_ops`), in address order.
    pub changes: Vec<Change>,
    pub drift: Vec<Drift>,
    pub refusals: Vec<Refusal>,
    pub notes: Vec<Note>,
    pub steps: Vec<Step>,
    pub summary: Summary,
}

impl Plan {
    /// Whether applying would call the target or write the state.
    pub fn has_changes(&self) -> bool {
        !self.steps.is_empty()
    }

    /// Whether applying would change anything in the target (state-only steps do not count).
    pub fn has_target_changes(&self) -> bool {
        self.summary.add + self.summary.change + self.summary.destroy + self.summary.import > 0
    }

    pub fn is_refused(&self) -> bool {
        !self.refusals.is_empty()
    }

    /// The changes carried by one step.
    pub fn changes_of_step(&self, step: usize) -> &[Change] {
        self.steps
            .get(step)
            .and_then(|s| self.changes.get(s.changes.clone()))
            .unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests;
