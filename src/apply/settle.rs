//! Settling steps left in doubt by a run that died between a step's intent and its result.
//!
//! Invariants: a check-out in doubt is finished from the target's own record of it (its request,
//! and while it is open the same password read again); it is never requested a second time. An OTP
//! API user creation in doubt is adopted when exactly one unrecorded match exists in the target and
//! abandoned when none does. Anything else stops the run with a message that says what to check.

use std::collections::BTreeSet;

use anyhow::anyhow;

use super::{ApplyError, bind_writes, check_out_once};
use crate::crypto::Key;
use crate::model::{
    AccountRef, Address, CheckoutSpec, OtpApiUserSpec, OtpUserName, ProfileId, RecordedOtpApiUser,
    RemoteId, Scope, TeamId,
};
use crate::state::{JournalEntry, JournalStatus, StateStore, StateWrite};
use crate::target::{CheckoutRequestStatus, Target, TargetError};

/// What settling one step in doubt found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    pub subject: String,
    pub operation: String,
    pub status: JournalStatus,
    pub message: String,
}

fn text<'a>(entry: &'a JournalEntry, key: &str) -> Option<&'a str> {
    entry.detail.get(key)?.as_str()
}

fn in_doubt(entry: &JournalEntry, message: impl Into<String>) -> ApplyError {
    ApplyError::InDoubt {
        subject: entry.subject.clone(),
        message: message.into(),
    }
}

/// Settles every step left `started`, oldest first.
pub fn settle_in_doubt(
    target: &mut dyn Target,
    state: &mut dyn StateStore,
    key: &Key,
) -> Result<Vec<Settled>, ApplyError> {
    let mut settled = Vec::new();
    for entry in state.in_doubt()? {
        let (status, message, writes) = match entry.operation.as_str() {
            "CREATE_PAMUTIL_API_USER" => settle_create(target, state, &entry)?,
            "CHECKOUT" => settle_checkout(target, state, key, &entry)?,
            _ => (
                JournalStatus::Abandoned,
                "interrupted; the plan compares it with the target again".to_string(),
                Vec::new(),
            ),
        };
        state.finish_step(entry.id, status, &writes, Some(&message))?;
        tracing::warn!(
            subject = %entry.subject,
            operation = %entry.operation,
            status = %status,
            %message,
            "settled a step left in doubt"
        );
        settled.push(Settled {
            subject: entry.subject.clone(),
            operation: entry.operation.clone(),
            status,
            message,
        });
    }
    Ok(settled)
}

type Outcome = (JournalStatus, String, Vec<StateWrite>);

fn settle_create(
    target: &mut dyn Target,
    state: &mut dyn StateStore,
    entry: &JournalEntry,
) -> Result<Outcome, ApplyError> {
    let Ok(Address::OtpApiUser(name)) = entry.subject.parse::<Address>() else {
        return Err(in_doubt(entry, "the journal entry names no OTP API user"));
    };
    let (Some(team), Some(description), Some(requested_by)) = (
        text(entry, "team"),
        text(entry, "description"),
        text(entry, "requested_by"),
    ) else {
        return Err(in_doubt(
            entry,
            "the journal entry lacks the request's details",
        ));
    };
    let accounts: BTreeSet<AccountRef> = entry
        .detail
        .get("accounts")
        .and_then(|a| a.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str()?.parse().ok()).collect())
        .unwrap_or_default();
    let team = TeamId::new(team);
    // Only the OTP API users: loading every team's members per step in doubt would make
    // settling a large interrupted batch quadratic.
    let users = state.otp_api_users()?;
    let known: BTreeSet<&RemoteId> = users.values().map(|u| &u.remote.guid).collect();
    let observed = target
        .observe(&Scope {
            teams: [team.clone()].into(),
            ..Scope::default()
        })
        .map_err(|e| in_doubt(entry, format!("cannot ask the target: {e}")))?;
    let matches: Vec<_> = observed
        .otp_api_users
        .values()
        .filter(|o| {
            !known.contains(&o.remote.guid)
                && o.spec.team == team
                && o.spec.description == description
                && o.spec.accounts == accounts
        })
        .collect();
    match matches.as_slice() {
        [] => Ok((
            JournalStatus::Abandoned,
            "the target has no such OTP API user: the request never went through".into(),
            Vec::new(),
        )),
        [found] => Ok((
            JournalStatus::Settled,
            format!(
                "the target created it as PAM_UTIL_{}; recorded",
                found.remote.guid
            ),
            vec![StateWrite::PutOtpApiUser {
                name,
                record: RecordedOtpApiUser {
                    spec: OtpApiUserSpec {
                        team: found.spec.team.clone(),
                        description: found.spec.description.clone(),
                        accounts: found.spec.accounts.clone(),
                        allowed_network: found.spec.allowed_network.clone(),
                    },
                    remote: found.remote.clone(),
                    requested_by: ProfileId::new(requested_by),
                },
            }],
        )),
        several => Err(in_doubt(
            entry,
            format!(
                "{} unrecorded OTP API users in team {team} match it ({}); adopt the right one with an [[import]] block",
                several.len(),
                several
                    .iter()
                    .map(|o| format!("PAM_UTIL_{}", o.remote.guid))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

fn settle_checkout(
    target: &mut dyn Target,
    state: &mut dyn StateStore,
    key: &Key,
    entry: &JournalEntry,
) -> Result<Outcome, ApplyError> {
    let (Some(name), Some(requested_by)) =
        (text(entry, "otp_api_user"), text(entry, "requested_by"))
    else {
        return Err(in_doubt(
            entry,
            "the journal entry lacks the check-out's details",
        ));
    };
    let name = OtpUserName::new(name);
    let spec = CheckoutSpec {
        requested_by: ProfileId::new(requested_by),
        approved_by: entry
            .detail
            .get("approved_by")
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(ProfileId::new))
                    .collect()
            })
            .unwrap_or_default(),
    };
    let users = state.otp_api_users()?;
    let Some(user) = users.get(&name) else {
        // The OTP API user was to be created in the same interrupted batch, and never was (its
        // own step in doubt was abandoned): there is nothing to check out.
        return Ok((
            JournalStatus::Abandoned,
            format!("OTP API user {name} does not exist: the check-out never started"),
            Vec::new(),
        ));
    };
    let remote = user.remote.clone();
    // The journal may name the vault account (when the user existed before the step); it must be
    // the recorded user's.
    let vault = match text(entry, "vault_account") {
        Some(text) => text.parse::<AccountRef>().map_err(|e| in_doubt(entry, e))?,
        None => remote.vault_account.clone(),
    };
    // The request may have reached the target before the crash: look for it by its requester.
    let requests = target
        .checkout_requests_for(&vault)
        .map_err(|e| in_doubt(entry, format!("cannot ask the target: {e}")))?;
    let request_id = requests
        .into_iter()
        .rfind(|r| r.requester == spec.requested_by && r.status != CheckoutRequestStatus::Denied)
        .map(|r| r.request_id);
    let Some(request_id) = request_id else {
        return Ok((
            JournalStatus::Abandoned,
            "the target has no check-out request for it: the request never went through".into(),
            Vec::new(),
        ));
    };
    let mut calls = 0;
    match check_out_once(target, &vault, &spec, Some(request_id.clone()), &mut calls) {
        Ok(checked) => Ok((
            JournalStatus::Settled,
            format!(
                "finished from check-out request {request_id} (check-out {}); bound",
                checked.checkout_id
            ),
            bind_writes(key, &name, &spec, &remote, checked),
        )),
        Err(TargetError::Refused(v)) => Err(in_doubt(
            entry,
            format!(
                "the target refuses to finish check-out request {request_id}: {}; check it in the product",
                TargetError::Refused(v)
            ),
        )),
        Err(e) => {
            let closed = matches!(
                target.checkout_request(&request_id).map(|r| r.status),
                Ok(CheckoutRequestStatus::Closed)
            );
            if closed {
                Err(in_doubt(
                    entry,
                    format!(
                        "check-out request {request_id} of {vault} was checked out and is closed now, so its password was randomized and cannot be recovered; declare a new OTP API user for this binding"
                    ),
                ))
            } else {
                Err(ApplyError::Other(anyhow!(
                    "cannot settle the check-out of {vault} (request {request_id}): {e}"
                )))
            }
        }
    }
}
