//! Check-out operations: requests, approvals (rule 5), one concurrent holder (rule 6), the secret
//! changes of check-out, check-in and expiry (rule 7), and viewing an open check-out's password
//! again (rule 11). How they are stored is `ledger`'s business.
//!
//! Invariants: an account has at most one open check-out (also a unique index in the file); every
//! check-out, check-in and expiry randomizes the account with a fresh CSPRNG value, and for an OTP
//! vault account that value becomes its caller's only valid one-time password; viewing an open
//! check-out again changes nothing. A check-out past its window is closed by
//! [`close_expired`] at the start of every write, and counts as closed in reads before that.

use std::collections::BTreeSet;

use anyhow::anyhow;
use rusqlite::Connection;

use super::ledger::{self, CheckoutRow, CloseReason, NewRequest, Status};
use super::store::{self, AccountRow};
use super::{Env, Note, otp, values};
use crate::model::rules::{self, Violation};
use crate::model::{AccountRef, Privilege, ProfileId, RemoteId, TeamId, TeamState};
use crate::secret::Secret;
use crate::target::{
    CheckedOut, CheckoutRequest, CheckoutRequestStatus, TargetError, TargetResult,
};

/// Closes every check-out past its window and randomizes its account (rule 7), logging each.
pub fn close_expired(conn: &Connection, env: &Env<'_>) -> anyhow::Result<()> {
    for checkout in ledger::expired(conn, env.now)? {
        let account = ledger::account_of(conn, &checkout)?;
        ledger::close(conn, env.now, &checkout, CloseReason::Expired)?;
        randomize(conn, env, &account, false)?;
        store::log(
            conn,
            env.now,
            "EXPIRE",
            "(target)",
            &account.account.to_string(),
            Some(&checkout.checkout_id),
            "done: the check-out window ended; checked in and randomized",
        )?;
    }
    Ok(())
}

/// Gives the account a new random password. At check-out (`push_to_caller`), an OTP vault
/// account's value also becomes its caller's one-time password (rule 7: the push happens on
/// check-out only); check-in and expiry randomize the vault account alone, so the caller's chain of
/// one-time passwords that pamutil holds is not disturbed.
fn randomize(
    conn: &Connection,
    env: &Env<'_>,
    account: &AccountRow,
    push_to_caller: bool,
) -> anyhow::Result<Secret> {
    let password = values::new_password();
    store::set_password(conn, env.key, &account.guid, &password)?;
    if push_to_caller && account.is_vault_account() {
        let caller = otp::caller_of_vault(conn, &account.guid)?.ok_or_else(|| {
            anyhow!(
                "vault account {} has no OTP API caller in the target file",
                account.account
            )
        })?;
        otp::reset(conn, env, &caller, &password)?;
    }
    Ok(password)
}

/// The team an account belongs to, as it is now.
fn account_team(conn: &Connection, account: &AccountRow) -> TargetResult<(TeamId, TeamState)> {
    let Some(team_id) = account.team.clone() else {
        return Err(TargetError::NotFound(format!(
            "team of managed account {} (it is not onboarded to a team)",
            account.account
        )));
    };
    match store::team(conn, &team_id)? {
        Some(team) => Ok((team_id, team)),
        None => Err(Violation::UnknownTeam { team: team_id }.into()),
    }
}

/// Who may request (and check out) an account: for an OTP vault account, a holder of
/// `Requesters` or `OTP_Trustees` (the rule plan predicts with); for any other account,
/// `Requesters`.
fn check_requester(
    team_id: &TeamId,
    team: &TeamState,
    account: &AccountRow,
    requester: &ProfileId,
) -> Result<(), Violation> {
    if account.is_vault_account() {
        rules::check_checkout_requester(team_id, team, requester)
    } else if rules::holds(team, requester, Privilege::Requesters) {
        Ok(())
    } else {
        Err(Violation::MissingPrivilege {
            profile: requester.clone(),
            team: team_id.clone(),
            privilege: Privilege::Requesters,
        })
    }
}

fn require_profile(conn: &Connection, profile: &ProfileId) -> TargetResult<()> {
    match store::profile_team_admin(conn, profile)? {
        Some(_) => Ok(()),
        None => Err(Violation::UnknownProfile {
            profile: profile.clone(),
        }
        .into()),
    }
}

/// Requests a check-out: approved at once when no approval is needed, denied when the team has
/// too few authorizers (rule 5), refused while the account is checked out (rule 6).
pub fn request(
    conn: &Connection,
    env: &Env<'_>,
    note: &mut Note,
    requester: &ProfileId,
    account: &AccountRef,
) -> TargetResult<CheckoutRequest> {
    require_profile(conn, requester)?;
    let row = store::account(conn, account)?.ok_or_else(|| Violation::UnknownAccount {
        account: account.clone(),
    })?;
    let (team_id, team) = account_team(conn, &row)?;
    check_requester(&team_id, &team, &row, requester)?;
    if ledger::open_checkout(conn, &row.guid, env.now)?.is_some() {
        return Err(Violation::AlreadyCheckedOut {
            account: account.clone(),
        }
        .into());
    }
    let policy = store::policy(conn)?;
    let needed = rules::approvals_needed(&policy, &team, requester);
    let available = authorizers(&team, requester).len();
    let shortage = rules::check_approvals(&policy, &team_id, &team, requester, &BTreeSet::new())
        .into_iter()
        .find(|v| matches!(v, Violation::TooFewAuthorizers { .. }));
    let status = match (&shortage, needed) {
        (Some(_), _) => Status::Denied,
        (None, 0) => Status::Approved,
        (None, _) => Status::Pending,
    };
    let request_id = values::new_id("REQ");
    note.reference = Some(request_id.clone());
    ledger::insert_request(
        conn,
        &NewRequest {
            request_id: &request_id,
            account_guid: &row.guid,
            requester,
            needed,
            available: u32::try_from(available).unwrap_or(u32::MAX),
            status,
            at: env.now,
        },
    )?;
    note.outcome = Some(match (&shortage, status) {
        (Some(violation), _) => format!("denied: {violation}"),
        (None, Status::Approved) => "done: approved (no approval needed)".to_owned(),
        _ => format!("done: pending {needed} approval(s)"),
    });
    let stored = ledger::load(conn, &request_id)?
        .ok_or_else(|| anyhow!("check-out request {request_id} vanished"))?;
    Ok(stored.public(env.now))
}

/// The authorizers of a team for a requester: holders of `Approvers` other than the requester.
fn authorizers<'a>(team: &'a TeamState, requester: &ProfileId) -> BTreeSet<&'a ProfileId> {
    rules::holders(team, Privilege::Approvers)
        .into_iter()
        .filter(|p| *p != requester)
        .collect()
}

/// Approves a pending request; approved once enough authorizers have approved (rule 5).
pub fn approve(
    conn: &Connection,
    env: &Env<'_>,
    note: &mut Note,
    approver: &ProfileId,
    request_id: &RemoteId,
) -> TargetResult<CheckoutRequest> {
    note.reference = Some(request_id.to_string());
    let row = ledger::load(conn, request_id.as_str())?
        .ok_or_else(|| TargetError::NotFound(format!("check-out request {request_id}")))?;
    note.object = row.account.account.to_string();
    require_profile(conn, approver)?;
    let status = row.status(env.now);
    if !matches!(
        status,
        CheckoutRequestStatus::Pending | CheckoutRequestStatus::Approved
    ) {
        return Err(TargetError::NotFound(format!(
            "pending check-out request {request_id} (it is {status})"
        )));
    }
    let (team_id, team) = account_team(conn, &row.account)?;
    let valid = authorizers(&team, &row.requester);
    if !valid.contains(approver) {
        return Err(Violation::MissingPrivilege {
            profile: approver.clone(),
            team: team_id,
            privilege: Privilege::Approvers,
        }
        .into());
    }
    ledger::insert_approval(conn, request_id.as_str(), approver, env.now)?;
    if status == CheckoutRequestStatus::Pending {
        let given: BTreeSet<ProfileId> = ledger::approvers(conn, request_id.as_str())?
            .into_iter()
            .filter(|p| valid.contains(p))
            .collect();
        let policy = store::policy(conn)?;
        if rules::check_approvals(&policy, &team_id, &team, &row.requester, &given).is_empty() {
            ledger::set_status(conn, request_id.as_str(), Status::Approved)?;
            note.outcome = Some("done: approved".to_owned());
        } else {
            note.outcome = Some("done: still pending".to_owned());
        }
    }
    let stored = ledger::load(conn, request_id.as_str())?
        .ok_or_else(|| anyhow!("check-out request {request_id} vanished"))?;
    Ok(stored.public(env.now))
}

/// Checks out an approved request: randomizes the account and discloses the new value.
pub fn check_out(
    conn: &Connection,
    env: &Env<'_>,
    note: &mut Note,
    requester: &ProfileId,
    request_id: &RemoteId,
) -> TargetResult<CheckedOut> {
    note.reference = Some(request_id.to_string());
    let row = ledger::load(conn, request_id.as_str())?
        .ok_or_else(|| TargetError::NotFound(format!("check-out request {request_id}")))?;
    note.object = row.account.account.to_string();
    if row.requester != *requester {
        return Err(TargetError::NotFound(format!(
            "check-out request {request_id} of {requester} (it is {}'s)",
            row.requester
        )));
    }
    match row.status(env.now) {
        CheckoutRequestStatus::Pending => {
            let given = ledger::approvers(conn, request_id.as_str())?.len();
            return Err(Violation::TooFewApprovals {
                needed: row.needed,
                given: u32::try_from(given).unwrap_or(u32::MAX),
            }
            .into());
        }
        CheckoutRequestStatus::Denied => {
            return Err(Violation::TooFewAuthorizers {
                needed: row.needed,
                available: row.available,
            }
            .into());
        }
        CheckoutRequestStatus::CheckedOut => {
            return Err(Violation::AlreadyCheckedOut {
                account: row.account.account.clone(),
            }
            .into());
        }
        CheckoutRequestStatus::Closed => {
            return Err(TargetError::NotFound(format!(
                "approved check-out request {request_id} (it is closed; request a new check-out)"
            )));
        }
        CheckoutRequestStatus::Approved => {}
    }
    let (team_id, team) = account_team(conn, &row.account)?;
    check_requester(&team_id, &team, &row.account, requester)?;
    if ledger::open_checkout(conn, &row.account.guid, env.now)?.is_some() {
        return Err(Violation::AlreadyCheckedOut {
            account: row.account.account.clone(),
        }
        .into());
    }
    let password = randomize(conn, env, &row.account, true)?;
    let policy = store::policy(conn)?;
    let checkout_id = values::new_id("CHECKOUT");
    ledger::insert_checkout(
        conn,
        &checkout_id,
        &row,
        env.now,
        env.now + i64::from(policy.checkout_minutes) * 60,
    )?;
    note.outcome = Some(format!(
        "done: checked out as {checkout_id}; password randomized"
    ));
    Ok(CheckedOut {
        checkout_id: RemoteId::new(checkout_id),
        password,
    })
}

/// The open check-out `checkout_id` if `profile` holds it.
fn held_checkout(
    conn: &Connection,
    note: &mut Note,
    profile: &ProfileId,
    checkout_id: &RemoteId,
) -> TargetResult<(CheckoutRow, AccountRow)> {
    note.reference = Some(checkout_id.to_string());
    let checkout = ledger::load_checkout(conn, checkout_id.as_str())?
        .ok_or_else(|| TargetError::NotFound(format!("check-out {checkout_id}")))?;
    let account = ledger::account_of(conn, &checkout)?;
    note.object = account.account.to_string();
    if checkout.holder != *profile {
        return Err(TargetError::NotFound(format!(
            "check-out {checkout_id} held by {profile} (it is {}'s)",
            checkout.holder
        )));
    }
    if let Some(reason) = &checkout.close_reason {
        return Err(TargetError::NotFound(format!(
            "open check-out {checkout_id} (it was {reason})"
        )));
    }
    Ok((checkout, account))
}

/// Rule 11: the open check-out's password again, without randomizing.
pub fn retrieve_password(
    conn: &Connection,
    env: &Env<'_>,
    note: &mut Note,
    profile: &ProfileId,
    checkout_id: &RemoteId,
) -> TargetResult<Secret> {
    let (_, account) = held_checkout(conn, note, profile, checkout_id)?;
    Ok(store::password(conn, env.key, &account.guid)?)
}

/// Checks in an open check-out; the account is randomized (rule 7).
pub fn check_in(
    conn: &Connection,
    env: &Env<'_>,
    note: &mut Note,
    profile: &ProfileId,
    checkout_id: &RemoteId,
) -> TargetResult<()> {
    let (checkout, account) = held_checkout(conn, note, profile, checkout_id)?;
    ledger::close(conn, env.now, &checkout, CloseReason::CheckedIn)?;
    randomize(conn, env, &account, false)?;
    note.outcome = Some("done: checked in; password randomized".to_owned());
    Ok(())
}
