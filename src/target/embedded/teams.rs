//! Predefined requests: the team requests (rules 1 to 3) and `CREATE_PAMUTIL_API_USER` (rule 4),
//! which creates the OTP vault account, its caller profile and the caller's grants.
//!
//! Invariants: a request is authorized against the team as it is before the request, with
//! `rules::authorize`; the team after it is computed by `rules::apply_team_request` and written
//! whole, or the request is refused whole. An OTP API user's caller may read exactly the accounts
//! named in the request.

use std::collections::BTreeMap;

use anyhow::{Context, anyhow};
use rusqlite::{Connection, params};

use super::network::AllowedNetworks;
use super::store::{self, AccountRow};
use super::{Env, Note, otp, values};
use crate::model::rules::{self, Violation};
use crate::model::{AccountRef, OtpApiUserRemote, OtpApiUserSpec, ProfileId, RemoteId, Request};
use crate::target::{Submitted, TargetError, TargetResult};

/// The prefix of an OTP vault account's ID and of its caller profile's ID.
pub const OTP_USER_PREFIX: &str = "PAM_UTIL_";

/// Carries out a predefined request as `submitter`, or refuses it whole.
pub fn submit(
    conn: &Connection,
    env: &Env<'_>,
    note: &mut Note,
    submitter: &ProfileId,
    request: &Request,
) -> TargetResult<Submitted> {
    let batch_id = values::new_id("BATCH");
    note.reference = Some(batch_id.clone());
    let Some(team_admin) = store::profile_team_admin(conn, submitter)? else {
        return Err(Violation::UnknownProfile {
            profile: submitter.clone(),
        }
        .into());
    };
    let team_id = request.team();
    let team_now = store::team(conn, team_id)?;
    rules::authorize(request, submitter, team_admin, team_now.as_ref())?;
    let created_otp_api_user = match request {
        Request::CreateOtpApiUser { spec } => {
            let created = create_otp_api_user(conn, env, &batch_id, spec)?;
            note.outcome = Some(format!(
                "done: created OTP API user {} (vault account {})",
                created.caller, created.vault_account
            ));
            Some(created)
        }
        _ => {
            let unknown: Vec<Violation> = store::missing_profiles(conn, members(request))?
                .into_iter()
                .map(|profile| Violation::UnknownProfile { profile })
                .collect();
            let holdings = store::holdings(conn, team_id)?;
            match rules::apply_team_request(team_now.as_ref(), holdings, request) {
                Err(mut violations) => {
                    let mut all = unknown;
                    all.append(&mut violations);
                    return Err(TargetError::Refused(all));
                }
                Ok(_) if !unknown.is_empty() => return Err(TargetError::Refused(unknown)),
                Ok(Some(after)) => match &team_now {
                    Some(before) => store::update_team(conn, team_id, before, &after)?,
                    None => store::save_team(conn, team_id, &after)?,
                },
                Ok(None) => store::delete_team(conn, team_id)?,
            }
            None
        }
    };
    Ok(Submitted {
        batch_id: RemoteId::new(batch_id),
        created_otp_api_user,
    })
}

/// Every member profile a team request names.
fn members(request: &Request) -> Vec<&ProfileId> {
    match request {
        Request::TeamCreate { state, .. } | Request::TeamUpdate { state, .. } => state
            .groups
            .values()
            .flat_map(|g| g.members.iter())
            .collect(),
        Request::TeamMembers { groups, .. } => groups.values().flatten().collect(),
        Request::TeamDelete { .. } | Request::CreateOtpApiUser { .. } => Vec::new(),
    }
}

/// Rule 4, then the vault account `PAM_UTIL_<guid>` (policy `PAM_OTP_ACCOUNTS`, on the system of
/// the first granted account, owned by the team), the caller profile `PAM_UTIL_<guid>` and its
/// grants. The vault account's initial password is the caller's first one-time password.
fn create_otp_api_user(
    conn: &Connection,
    env: &Env<'_>,
    batch_id: &str,
    spec: &OtpApiUserSpec,
) -> TargetResult<OtpApiUserRemote> {
    let mut rows: BTreeMap<&AccountRef, Option<AccountRow>> = BTreeMap::new();
    for account in &spec.accounts {
        rows.insert(account, store::account(conn, account)?);
    }
    // Only onboarded accounts may be granted: another policy counts as not onboarded to the team.
    let violations = rules::check_otp_accounts(&spec.team, &spec.accounts, |account| {
        rows.get(account).and_then(|row| {
            row.as_ref().map(|row| {
                (row.policy == store::ONBOARDED_ACCOUNTS)
                    .then(|| row.team.clone())
                    .flatten()
            })
        })
    });
    if !violations.is_empty() {
        return Err(TargetError::Refused(violations));
    }
    AllowedNetworks::parse(&spec.allowed_network)
        .map_err(|why| anyhow!("the OTP API user's allowed network is not valid: {why}"))?;
    let granted: Vec<&AccountRow> = rows.values().flatten().collect();
    let system = granted
        .first()
        .map(|row| row.account.system.clone())
        .ok_or_else(|| anyhow!("rule 4 passed without any account"))?;

    let guid = values::new_guid();
    let name = format!("{OTP_USER_PREFIX}{guid}");
    let vault = AccountRow {
        guid: values::new_guid(),
        account: AccountRef::new(system.as_str(), name.as_str()),
        team: Some(spec.team.clone()),
        policy: store::PAM_OTP_ACCOUNTS.to_owned(),
    };
    let password = values::new_password();
    store::insert_account(conn, env.key, &vault, &password)?;
    let caller = ProfileId::new(name.as_str());
    store::insert_profile(
        conn,
        &caller,
        &format!("OTP API caller: {}", spec.description),
        false,
    )?;
    insert_otp_api_user(conn, env, batch_id, &guid, spec, &vault, &caller)?;
    for row in &granted {
        conn.prepare_cached("INSERT INTO otp_grants (otp_guid, account) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![guid, row.guid]))
            .with_context(|| format!("cannot grant {} to {caller}", row.account))?;
    }
    otp::reset(conn, env, caller.as_str(), &password)?;
    Ok(OtpApiUserRemote {
        guid: RemoteId::new(guid),
        vault_account: vault.account,
        caller,
    })
}

fn insert_otp_api_user(
    conn: &Connection,
    env: &Env<'_>,
    batch_id: &str,
    guid: &str,
    spec: &OtpApiUserSpec,
    vault: &AccountRow,
    caller: &ProfileId,
) -> anyhow::Result<()> {
    conn.prepare_cached(
        "INSERT INTO otp_api_users
             (guid, team, description, vault_account, caller, allowed_network, created_batch,
              created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        guid,
        spec.team.as_str(),
        spec.description,
        vault.guid,
        caller.as_str(),
        spec.allowed_network,
        batch_id,
        env.now
    ])
    .with_context(|| format!("cannot create OTP API user {guid}"))?;
    Ok(())
}
