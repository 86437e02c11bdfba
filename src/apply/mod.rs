//! Apply: executes a [`Plan`]'s steps in order through a [`Target`], journaling each step in the
//! state, and settles steps left in doubt by an earlier run that died.
//!
//! Architecture invariants:
//! - Sequential: one step at a time, in plan order; the first failure stops the run.
//! - Before a step's first target call its intent is committed (`started`); its result and state
//!   writes are committed together (`done`). A crash leaves the step `started`: in doubt.
//! - A check-out is never repeated blindly: a step in doubt is settled from what the target says
//!   (`settle.rs`), and a vault account already checked out is never checked out again.
//! - The disclosed password is sealed before it reaches the state; it is never logged or shown.

use std::collections::BTreeMap;

use anyhow::anyhow;
use serde_json::json;

use crate::clock::now_rfc3339;
use crate::crypto::{self, Key};
use crate::failpoint;
use crate::model::{
    AccountRef, Address, CheckoutSpec, OtpApiUserRemote, OtpUserName, ProfileId, Recorded,
    RecordedCheckout, RecordedOtpApiUser, RecordedTeam, RemoteId, Request,
};
use crate::plan::{Change, Operation, Plan, Step};
use crate::secret::Secret;
use crate::state::{Binding, JournalStatus, StateStore, StateWrite, StepIntent, StepResult};
use crate::target::{CheckoutRequestStatus, Target, TargetError};

mod settle;

pub use settle::{Settled, settle_in_doubt};

/// The associated data that binds a sealed OTP to its binding.
pub fn binding_aad(name: &OtpUserName) -> String {
    format!("otp_api_user.{name}/otp")
}

/// Why apply stopped.
#[derive(Debug)]
pub enum ApplyError {
    /// The target refused or failed a step; earlier steps are applied and recorded.
    Step {
        index: usize,
        subject: String,
        error: Box<TargetError>,
    },
    /// A step in doubt could not be settled from what the target says.
    InDoubt { subject: String, message: String },
    /// Anything else (state IO, a bug).
    Other(anyhow::Error),
}

impl std::fmt::Display for ApplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApplyError::Step {
                index,
                subject,
                error,
            } => write!(f, "step {} ({subject}) failed: {error}", index + 1),
            ApplyError::InDoubt { subject, message } => {
                write!(
                    f,
                    "{subject} is in doubt after an interrupted apply: {message}"
                )
            }
            ApplyError::Other(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for ApplyError {}

impl From<anyhow::Error> for ApplyError {
    fn from(e: anyhow::Error) -> Self {
        ApplyError::Other(e)
    }
}

/// Observes the progress of a run (the CLI prints it).
pub trait Progress {
    fn step_started(&mut self, index: usize, total: usize, step: &Step);
    fn step_finished(&mut self, index: usize, total: usize, step: &Step, outcome: &str);
}

/// A progress observer that ignores everything.
pub struct Silent;

impl Progress for Silent {
    fn step_started(&mut self, _: usize, _: usize, _: &Step) {}
    fn step_finished(&mut self, _: usize, _: usize, _: &Step, _: &str) {}
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub run_id: String,
    pub steps: usize,
    pub target_calls: usize,
}

/// Everything a run needs.
pub struct Apply<'a> {
    pub target: &'a mut dyn Target,
    pub state: &'a mut dyn StateStore,
    /// Seals the credentials of bindings.
    pub key: &'a Key,
    pub recorded: &'a Recorded,
    pub progress: &'a mut dyn Progress,
}

fn kind_of(step: &Step) -> &'static str {
    match &step.operation {
        Operation::Submit { request, .. } => match request {
            Request::CreateOtpApiUser { .. } => "otp_api_user",
            _ => "team",
        },
        Operation::Checkout { .. } => "checkout",
        _ => "state",
    }
}

fn operation_name(step: &Step) -> String {
    match &step.operation {
        Operation::Submit { request, .. } => request.kind().id().to_string(),
        Operation::Checkout { .. } => "CHECKOUT".into(),
        Operation::ImportTeam { .. } | Operation::ImportOtpApiUser { .. } => "IMPORT".into(),
        Operation::RecordTeam { .. } => "RECORD".into(),
        Operation::ForgetTeam { .. } => "FORGET".into(),
    }
}

/// How many steps share one commit of intents, one target transaction and one commit of results.
/// Bounded so that a batch holds the target's write lock for well under a second.
pub const BATCH_STEPS: usize = 512;

/// What one step did, before its result is committed.
struct Executed {
    writes: Vec<StateWrite>,
    remote_id: Option<RemoteId>,
}

/// Runs every step of `plan`. The plan must not be refused (the caller checks).
///
/// Steps run in batches of at most [`BATCH_STEPS`]: the batch's intents are committed together
/// (`started`) before any of its target calls; the calls run inside one target batch
/// (`Target::begin_batch`); then their results and state writes are committed together. A crash
/// leaves the batch's steps in doubt, and `settle_in_doubt` finishes each from what the target
/// says, exactly as for a single step.
pub fn run(apply: Apply<'_>, plan: &Plan, run_id: &str) -> Result<ApplyReport, ApplyError> {
    let Apply {
        target,
        state,
        key,
        recorded,
        progress,
    } = apply;
    let mut report = ApplyReport {
        run_id: run_id.to_string(),
        ..Default::default()
    };
    let mut users: BTreeMap<OtpUserName, OtpApiUserRemote> = recorded
        .otp_api_users
        .iter()
        .map(|(name, user)| (name.clone(), user.remote.clone()))
        .collect();
    let total = plan.steps.len();
    let mut start = 0;
    while start < total {
        let end = (start + BATCH_STEPS).min(total);
        let batch = &plan.steps[start..end];
        for step in batch {
            failpoint::hit(kind_of(step), "before-intent");
        }
        let intents: Vec<StepIntent> = batch
            .iter()
            .enumerate()
            .map(|(offset, step)| StepIntent {
                run_id: run_id.to_string(),
                step: start + offset,
                subject: step.subject.clone(),
                operation: operation_name(step),
                detail: step_detail(step, &users),
            })
            .collect();
        let entries = state.begin_steps(&intents)?;
        for step in batch {
            failpoint::hit(kind_of(step), "after-intent");
        }
        target.begin_batch().map_err(|e| {
            ApplyError::Other(anyhow!(
                "cannot start a batch in {}: {e}",
                target.describe()
            ))
        })?;
        let mut results: Vec<StepResult> = Vec::with_capacity(batch.len());
        let mut failure: Option<(usize, TargetError)> = None;
        for (offset, step) in batch.iter().enumerate() {
            let index = start + offset;
            let entry = entries[offset];
            if failure.is_some() {
                results.push(StepResult {
                    entry,
                    status: JournalStatus::Abandoned,
                    writes: Vec::new(),
                    message: Some("not attempted: an earlier step failed".into()),
                    remote_id: None,
                });
                continue;
            }
            progress.step_started(index, total, step);
            tracing::info!(
                step = index + 1,
                total,
                subject = %step.subject,
                operation = %operation_name(step),
                "step started"
            );
            let changes = plan.changes_of_step(index);
            match execute(step, index, changes, target, key, &mut users, &mut report) {
                Ok(executed) => results.push(StepResult {
                    entry,
                    status: JournalStatus::Done,
                    writes: executed.writes,
                    message: None,
                    remote_id: executed.remote_id,
                }),
                Err(error) => {
                    results.push(StepResult {
                        entry,
                        status: JournalStatus::Failed,
                        writes: Vec::new(),
                        message: Some(error.to_string()),
                        remote_id: None,
                    });
                    failure = Some((index, error));
                }
            }
        }
        target.commit_batch().map_err(|e| {
            ApplyError::Other(anyhow!(
                "cannot commit a batch to {}: {e}; its steps are in doubt and the next apply settles them",
                target.describe()
            ))
        })?;
        for step in batch {
            failpoint::hit(kind_of(step), "after-call");
        }
        state.finish_steps(&results)?;
        for (offset, (step, result)) in batch.iter().zip(&results).enumerate() {
            if result.status != JournalStatus::Done {
                break;
            }
            failpoint::hit(kind_of(step), "after-result");
            tracing::info!(step = start + offset + 1, subject = %step.subject, "step done");
            report.steps += 1;
            progress.step_finished(start + offset, total, step, "done");
        }
        if let Some((index, error)) = failure {
            return Err(ApplyError::Step {
                index,
                subject: plan.steps[index].subject.to_string(),
                error: Box::new(error),
            });
        }
        start = end;
    }
    Ok(report)
}

/// Carries out one step through the target (or the state alone) and returns its state writes.
fn execute(
    step: &Step,
    index: usize,
    changes: &[Change],
    target: &mut dyn Target,
    key: &Key,
    users: &mut BTreeMap<OtpUserName, OtpApiUserRemote>,
    report: &mut ApplyReport,
) -> Result<Executed, TargetError> {
    let state_only = |writes| {
        Ok(Executed {
            writes,
            remote_id: None,
        })
    };
    match &step.operation {
        Operation::Submit {
            request,
            team_after,
            patch_state,
        } => {
            let submitter = step.submitter.as_ref().ok_or_else(|| {
                TargetError::Fault(anyhow!("step {} has no submitter", index + 1))
            })?;
            report.target_calls += 1;
            let submitted = target.submit(submitter, request)?;
            let after = resulting_team(request, team_after.as_ref());
            let writes = match (request, after) {
                (
                    Request::TeamUpdate { team, .. } | Request::TeamMembers { team, .. },
                    Some(after),
                ) if *patch_state => {
                    vec![StateWrite::PatchTeam {
                        team: team.clone(),
                        description: after.description.clone(),
                        requested_by: submitter.clone(),
                        changes: changes
                            .iter()
                            .map(|c| (c.address.clone(), c.action))
                            .collect(),
                    }]
                }
                _ => submit_writes(
                    step,
                    request,
                    after,
                    submitter,
                    submitted.created_otp_api_user,
                    users,
                )
                .map_err(|e| TargetError::Fault(anyhow!("{e}")))?,
            };
            Ok(Executed {
                writes,
                remote_id: Some(submitted.batch_id),
            })
        }
        Operation::Checkout {
            otp_api_user,
            spec,
            vault_account,
            ..
        } => {
            let remote = users.get(otp_api_user).cloned().ok_or_else(|| {
                TargetError::Fault(anyhow!(
                    "{}: the OTP API user {otp_api_user} is not recorded, so its vault account is unknown",
                    step.subject
                ))
            })?;
            let vault = vault_account
                .clone()
                .unwrap_or_else(|| remote.vault_account.clone());
            let checked = check_out_once(target, &vault, spec, None, &mut report.target_calls)?;
            let checkout_id = checked.checkout_id.clone();
            Ok(Executed {
                writes: bind_writes(key, otp_api_user, spec, &remote, checked),
                remote_id: Some(checkout_id),
            })
        }
        Operation::ImportTeam {
            team,
            state: team_state,
            requested_by,
        }
        | Operation::RecordTeam {
            team,
            state: team_state,
            requested_by,
        } => state_only(vec![StateWrite::PutTeam {
            team: team.clone(),
            record: RecordedTeam {
                state: team_state.clone(),
                requested_by: requested_by.clone(),
            },
        }]),
        Operation::ImportOtpApiUser {
            name,
            spec,
            remote,
            requested_by,
        } => {
            users.insert(name.clone(), remote.clone());
            state_only(vec![StateWrite::PutOtpApiUser {
                name: name.clone(),
                record: RecordedOtpApiUser {
                    spec: spec.clone(),
                    remote: remote.clone(),
                    requested_by: requested_by.clone(),
                },
            }])
        }
        Operation::ForgetTeam { team } => {
            state_only(vec![StateWrite::RemoveTeam { team: team.clone() }])
        }
    }
}

/// What a resumed run needs to settle a step (never secret).
fn step_detail(step: &Step, users: &BTreeMap<OtpUserName, OtpApiUserRemote>) -> serde_json::Value {
    match &step.operation {
        Operation::Submit { request, .. } => match request {
            Request::CreateOtpApiUser { spec } => json!({
                "team": spec.team,
                "description": spec.description,
                "accounts": spec.accounts.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                "allowed_network": spec.allowed_network,
                "requested_by": step.submitter,
            }),
            other => json!({ "team": other.team(), "requested_by": step.submitter }),
        },
        Operation::Checkout {
            otp_api_user,
            spec,
            vault_account,
            ..
        } => {
            let vault = vault_account
                .clone()
                .or_else(|| users.get(otp_api_user).map(|u| u.vault_account.clone()));
            let guid = users.get(otp_api_user).map(|u| u.guid.clone());
            json!({
                "otp_api_user": otp_api_user,
                "otp_guid": guid,
                "vault_account": vault.map(|v| v.to_string()),
                "requested_by": spec.requested_by,
                "approved_by": spec.approved_by,
            })
        }
        _ => json!({}),
    }
}

/// The team as a team request leaves it: in the request itself for `TEAM-CREATE` and
/// `TEAM-UPDATE`, spelled by the plan for `TEAM-MEMBERS`.
fn resulting_team<'a>(
    request: &'a Request,
    team_after: Option<&'a crate::model::TeamState>,
) -> Option<&'a crate::model::TeamState> {
    match request {
        Request::TeamCreate { state, .. } | Request::TeamUpdate { state, .. } => Some(state),
        _ => team_after,
    }
}

fn submit_writes(
    step: &Step,
    request: &Request,
    team_after: Option<&crate::model::TeamState>,
    submitter: &ProfileId,
    created: Option<OtpApiUserRemote>,
    users: &mut BTreeMap<OtpUserName, OtpApiUserRemote>,
) -> Result<Vec<StateWrite>, ApplyError> {
    Ok(match request {
        Request::TeamDelete { team } => vec![StateWrite::RemoveTeam { team: team.clone() }],
        Request::TeamCreate { team, .. }
        | Request::TeamUpdate { team, .. }
        | Request::TeamMembers { team, .. } => {
            let state = team_after
                .cloned()
                .ok_or_else(|| anyhow!("step for {} carries no resulting team", step.subject))?;
            vec![StateWrite::PutTeam {
                team: team.clone(),
                record: RecordedTeam {
                    state,
                    requested_by: submitter.clone(),
                },
            }]
        }
        Request::CreateOtpApiUser { spec } => {
            let Address::OtpApiUser(name) = &step.subject else {
                return Err(anyhow!("step {} is not about an OTP API user", step.subject).into());
            };
            let remote = created.ok_or_else(|| {
                anyhow!("the target created {} but returned no GUID", step.subject)
            })?;
            users.insert(name.clone(), remote.clone());
            vec![StateWrite::PutOtpApiUser {
                name: name.clone(),
                record: RecordedOtpApiUser {
                    spec: spec.clone(),
                    remote,
                    requested_by: submitter.clone(),
                },
            }]
        }
    })
}

/// A finished check-out, ready to bind.
pub(crate) struct CheckedOutAccount {
    pub request_id: RemoteId,
    pub checkout_id: RemoteId,
    pub password: Secret,
}

/// Requests (unless `existing` names a request already made), approves and checks out `vault`.
/// A request that a crash interrupts is found again by its requester (`settle.rs`).
pub(crate) fn check_out_once(
    target: &mut dyn Target,
    vault: &AccountRef,
    spec: &CheckoutSpec,
    existing: Option<RemoteId>,
    calls: &mut usize,
) -> Result<CheckedOutAccount, TargetError> {
    let mut request = match existing {
        Some(id) => {
            *calls += 1;
            target.checkout_request(&id)?
        }
        None => {
            *calls += 1;
            let request = target.request_checkout(&spec.requested_by, vault)?;
            failpoint::hit("checkout", "after-request");
            request
        }
    };
    let mut approvers = spec.approved_by.iter();
    while request.status == CheckoutRequestStatus::Pending {
        let Some(approver) = approvers.next() else {
            return Err(TargetError::Fault(anyhow!(
                "check-out request {} of {vault} is still pending after every declared approval",
                request.request_id
            )));
        };
        *calls += 1;
        request = target.approve_checkout(approver, &request.request_id)?;
        failpoint::hit("checkout", "after-approve");
    }
    match request.status {
        CheckoutRequestStatus::Approved => {
            *calls += 1;
            let checked = target.check_out(&spec.requested_by, &request.request_id)?;
            Ok(CheckedOutAccount {
                request_id: request.request_id,
                checkout_id: checked.checkout_id,
                password: checked.password,
            })
        }
        CheckoutRequestStatus::CheckedOut => {
            // Open already (a resumed step): read the same password again, no randomization.
            let checkout_id = request.checkout_id.clone().ok_or_else(|| {
                TargetError::Fault(anyhow!(
                    "check-out request {} is checked out but has no check-out ID",
                    request.request_id
                ))
            })?;
            *calls += 1;
            let password = target.retrieve_checkout_password(&spec.requested_by, &checkout_id)?;
            Ok(CheckedOutAccount {
                request_id: request.request_id,
                checkout_id,
                password,
            })
        }
        CheckoutRequestStatus::Denied => Err(TargetError::Fault(anyhow!(
            "check-out request {} of {vault} was denied",
            request.request_id
        ))),
        CheckoutRequestStatus::Closed => Err(TargetError::Fault(anyhow!(
            "check-out request {} of {vault} is closed; its password has been randomized since",
            request.request_id
        ))),
        CheckoutRequestStatus::Pending => unreachable!("the loop above ends only when not pending"),
    }
}

/// The state writes that record a check-out and bind its credential.
pub(crate) fn bind_writes(
    key: &Key,
    name: &OtpUserName,
    spec: &CheckoutSpec,
    remote: &OtpApiUserRemote,
    checked: CheckedOutAccount,
) -> Vec<StateWrite> {
    let bound_at = now_rfc3339();
    let sealed_otp = crypto::seal(key, &binding_aad(name), &checked.password);
    vec![
        StateWrite::PutCheckout {
            name: name.clone(),
            record: RecordedCheckout {
                spec: spec.clone(),
                otp_guid: remote.guid.clone(),
                request_id: checked.request_id,
                checkout_id: checked.checkout_id.clone(),
                bound_at: bound_at.clone(),
            },
        },
        StateWrite::PutBinding(Binding {
            otp_api_user: name.clone(),
            caller: remote.caller.clone(),
            sealed_otp,
            otp_serial: 0,
            checkout_id: checked.checkout_id,
            bound_at,
            handed_off_at: None,
            login_started_at: None,
        }),
    ]
}

#[cfg(test)]
mod tests;
