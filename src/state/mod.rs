//! State: what pamform applied, behind the [`StateStore`] trait, with SQLite as the embedded
//! default (`sqlite.rs`). A shared backend (PostgreSQL for many CI runners) implements the same trait.
//!
//! Architecture invariants:
//! - `sqlite.rs` is the only code that talks SQL to the state file.
//! - Every write is one transaction and bumps the serial; lineage never changes after creation.
//! - A journal entry is committed `started` before any target call it describes, and `done`
//!   together with the state writes of its result, so a crash leaves a step either done or in doubt.
//! - Secrets reach the store only sealed (see `crypto`); the store never sees a key.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{
    Address, OtpUserName, ProfileId, Recorded, RecordedCheckout, RecordedOtpApiUser, RecordedTeam,
    RemoteId, TeamId,
};

pub mod lock;
mod schema;
pub mod sqlite;

pub use sqlite::SqliteState;

/// Which state this is and how far it has moved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Fixed at creation.
    pub lineage: String,
    /// Bumped by every write.
    pub serial: u64,
}

/// The credential of a bound OTP API user, sealed by the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub otp_api_user: OtpUserName,
    /// The OTP API caller's profile ID.
    pub caller: ProfileId,
    /// The current one-time password, sealed (`crypto::seal`) with the binding's address as
    /// associated data.
    pub sealed_otp: Vec<u8>,
    /// Bumped by every rotation.
    pub otp_serial: u64,
    pub checkout_id: RemoteId,
    pub bound_at: String,
    /// Set when the credential was handed to a real pamutil host: pamform never logs in again.
    pub handed_off_at: Option<String>,
    /// Set while a lookup's OTP login is in flight; left set by a crash during the login.
    pub login_started_at: Option<String>,
}

/// One change to the recorded state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateWrite {
    PutTeam {
        team: TeamId,
        record: RecordedTeam,
    },
    RemoveTeam {
        team: TeamId,
    },
    /// Records a team request by writing only the addresses it changed (created or deleted
    /// groups, privileges and members) and the team's own row. Valid only when the state held
    /// the team exactly as the target did before the request.
    PatchTeam {
        team: TeamId,
        description: String,
        requested_by: ProfileId,
        changes: Vec<(Address, crate::plan::Action)>,
    },
    PutOtpApiUser {
        name: OtpUserName,
        record: RecordedOtpApiUser,
    },
    PutCheckout {
        name: OtpUserName,
        record: RecordedCheckout,
    },
    PutBinding(Binding),
}

/// Where a journaled step stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JournalStatus {
    /// Intent committed; the target call may or may not have happened.
    Started,
    /// Result committed.
    Done,
    /// The target refused or failed; nothing to settle.
    Failed,
    /// Was in doubt; settled from what the target said.
    Settled,
    /// Was in doubt; the target shows it never happened.
    Abandoned,
}

impl JournalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JournalStatus::Started => "started",
            JournalStatus::Done => "done",
            JournalStatus::Failed => "failed",
            JournalStatus::Settled => "settled",
            JournalStatus::Abandoned => "abandoned",
        }
    }

    pub fn parse(text: &str) -> Option<JournalStatus> {
        [
            JournalStatus::Started,
            JournalStatus::Done,
            JournalStatus::Failed,
            JournalStatus::Settled,
            JournalStatus::Abandoned,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

impl fmt::Display for JournalStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A journaled step before it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepIntent {
    pub run_id: String,
    pub step: usize,
    pub subject: Address,
    /// The request kind or state-only operation, e.g. `TEAM-UPDATE`, `CHECKOUT`, `IMPORT`.
    pub operation: String,
    /// What a resumed run needs to settle the step (JSON, never secret).
    pub detail: serde_json::Value,
}

/// The outcome of one journaled step, committed with its state writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepResult {
    pub entry: i64,
    pub status: JournalStatus,
    pub writes: Vec<StateWrite>,
    pub message: Option<String>,
    /// An ID the target assigned (a batch ID, a check-out ID).
    pub remote_id: Option<RemoteId>,
}

/// The journal row of a step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JournalEntry {
    pub id: i64,
    pub run_id: String,
    pub step: usize,
    pub subject: String,
    pub operation: String,
    pub status: JournalStatus,
    pub remote_id: Option<String>,
    pub detail: serde_json::Value,
    pub message: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
}

/// One recorded address, for `state list` and `state show`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResourceRow {
    pub address: String,
    pub remote_id: Option<String>,
    pub requested_by: Option<String>,
    pub attributes: serde_json::Value,
    /// The state serial that last wrote it.
    pub serial: u64,
}

/// Who applied what, when. Never a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub at: String,
    pub actor: String,
    pub host: String,
    pub command: String,
    pub run_id: Option<String>,
    pub summary: String,
}

/// Access to the recorded state. Implementations make every method one transaction.
pub trait StateStore {
    fn identity(&mut self) -> anyhow::Result<Identity>;

    /// Everything recorded, as domain values.
    fn load(&mut self) -> anyhow::Result<Recorded>;

    /// Every recorded address, sorted.
    fn resources(&mut self) -> anyhow::Result<Vec<ResourceRow>>;

    /// Commits the intent of a step before its target call.
    fn begin_step(&mut self, intent: &StepIntent) -> anyhow::Result<i64>;

    /// Commits an ID the target assigned mid-step (e.g. a check-out request ID).
    fn note_remote_id(&mut self, entry: i64, remote_id: &RemoteId) -> anyhow::Result<()>;

    /// Commits a step's result and its state writes together.
    fn finish_step(
        &mut self,
        entry: i64,
        status: JournalStatus,
        writes: &[StateWrite],
        message: Option<&str>,
    ) -> anyhow::Result<()>;

    /// Commits the intents of several steps in one transaction, before any of their target calls.
    fn begin_steps(&mut self, intents: &[StepIntent]) -> anyhow::Result<Vec<i64>> {
        intents.iter().map(|i| self.begin_step(i)).collect()
    }

    /// Commits the results of several steps and their state writes in one transaction.
    fn finish_steps(&mut self, results: &[StepResult]) -> anyhow::Result<()> {
        for r in results {
            if let Some(id) = &r.remote_id {
                self.note_remote_id(r.entry, id)?;
            }
            self.finish_step(r.entry, r.status, &r.writes, r.message.as_deref())?;
        }
        Ok(())
    }

    /// Steps left `started` by an earlier run.
    fn in_doubt(&mut self) -> anyhow::Result<Vec<JournalEntry>>;

    /// The journal, oldest first (at most `limit` newest entries).
    fn journal(&mut self, limit: usize) -> anyhow::Result<Vec<JournalEntry>>;

    /// Applies state writes outside any journaled step (one transaction).
    fn write(&mut self, writes: &[StateWrite]) -> anyhow::Result<()>;

    fn binding(&mut self, name: &OtpUserName) -> anyhow::Result<Option<Binding>>;

    fn bindings(&mut self) -> anyhow::Result<Vec<Binding>>;

    /// The recorded OTP API users only (cheap: lookups use it).
    fn otp_api_users(
        &mut self,
    ) -> anyhow::Result<std::collections::BTreeMap<OtpUserName, RecordedOtpApiUser>>;

    /// Commits that a login with the binding's OTP number `otp_serial` is about to start. Fails if
    /// the binding moved on (another process rotated it) or is gone.
    fn begin_login(&mut self, name: &OtpUserName, otp_serial: u64) -> anyhow::Result<()>;

    /// Commits the next OTP after a login with number `otp_serial`, in one transaction.
    fn finish_login(
        &mut self,
        name: &OtpUserName,
        otp_serial: u64,
        sealed_next: &[u8],
    ) -> anyhow::Result<()>;

    /// Marks a binding handed off to a real pamutil host.
    fn hand_off(&mut self, name: &OtpUserName, at: &str) -> anyhow::Result<()>;

    /// Forgets a binding and its check-out record. Returns whether there was one.
    fn retire(&mut self, name: &OtpUserName) -> anyhow::Result<bool>;

    /// A cached, sealed password that has not expired at `now` (Unix seconds).
    fn cached_password(
        &mut self,
        name: &OtpUserName,
        account: &str,
        now: i64,
    ) -> anyhow::Result<Option<Vec<u8>>>;

    /// Caches a sealed password until `expires_at` (Unix seconds).
    fn cache_password(
        &mut self,
        name: &OtpUserName,
        account: &str,
        sealed: &[u8],
        expires_at: i64,
    ) -> anyhow::Result<()>;

    fn record_audit(&mut self, entry: &AuditEntry) -> anyhow::Result<()>;

    fn audit_log(&mut self) -> anyhow::Result<Vec<AuditEntry>>;
}
