//! `observe`: the metadata of everything in a scope, as plan compares it.
//!
//! Invariants: reads only (one read transaction, opened by the caller), never a secret; a
//! check-out past its window counts as closed. Large scopes are read with whole-table scans
//! filtered in memory rather than one query per item.

use std::collections::BTreeMap;

use anyhow::anyhow;
use rusqlite::Connection;

use super::{ledger, otp, store};
use crate::model::{
    Observed, ObservedAccount, ObservedOtpApiUser, ObservedProfile, ObservedTeam, OtpApiUserRemote,
    OtpApiUserSpec, ProfileId, RemoteId,
};

/// Above this many profiles in scope, profiles are read with one scan.
const PER_PROFILE_QUERY_LIMIT: usize = 1024;

pub fn observe(
    conn: &Connection,
    scope: &crate::model::Scope,
    now: i64,
) -> anyhow::Result<Observed> {
    let policy = store::policy(conn)?;

    let states = store::teams(conn, Some(&scope.teams))?;
    let all_holdings = if states.len() > 256 {
        Some(store::all_holdings(conn)?)
    } else {
        None
    };
    let mut teams = BTreeMap::new();
    for (id, state) in states {
        let holdings = match &all_holdings {
            Some(all) => all.get(id.as_str()).copied().unwrap_or(0),
            None => store::holdings(conn, &id)?,
        };
        teams.insert(id, ObservedTeam { state, holdings });
    }

    let profiles = observe_profiles(conn, scope)?;

    let mut accounts = BTreeMap::new();
    for account in &scope.accounts {
        if let Some(row) = store::account(conn, account)? {
            accounts.insert(
                account.clone(),
                ObservedAccount {
                    guid: RemoteId::new(row.guid),
                    team: row.team,
                    policy: row.policy,
                },
            );
        }
    }

    let mut otp_api_users = BTreeMap::new();
    let users = otp::users(conn, |team, guid| {
        scope.teams.contains(team) || scope.otp_guids.contains(guid)
    })?;
    for user in users {
        let vault = store::account_by_guid(conn, &user.vault_guid)?.ok_or_else(|| {
            anyhow!(
                "OTP API user {} names vault account {}, which does not exist",
                user.guid,
                user.vault_guid
            )
        })?;
        let observed = ObservedOtpApiUser {
            spec: OtpApiUserSpec {
                team: user.team,
                description: user.description,
                accounts: otp::grants(conn, &user.guid)?,
                allowed_network: user.allowed_network,
            },
            remote: OtpApiUserRemote {
                guid: RemoteId::new(user.guid.clone()),
                vault_account: vault.account,
                caller: user.caller,
            },
            checkouts_ever: ledger::count(conn, &user.vault_guid)?,
            open_checkout: ledger::open_checkout(conn, &user.vault_guid, now)?,
        };
        otp_api_users.insert(RemoteId::new(user.guid), observed);
    }

    Ok(Observed {
        policy,
        teams,
        profiles,
        accounts,
        otp_api_users,
    })
}

fn observe_profiles(
    conn: &Connection,
    scope: &crate::model::Scope,
) -> anyhow::Result<BTreeMap<ProfileId, ObservedProfile>> {
    let mut profiles = BTreeMap::new();
    if scope.profiles.len() <= PER_PROFILE_QUERY_LIMIT {
        for profile in &scope.profiles {
            if let Some(team_admin) = store::profile_team_admin(conn, profile)? {
                profiles.insert(profile.clone(), ObservedProfile { team_admin });
            }
        }
        return Ok(profiles);
    }
    let mut statement = conn.prepare("SELECT id, team_admin FROM profiles")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let id = row.get_ref(0)?.as_str()?;
        if scope.profiles.contains(id) {
            profiles.insert(
                ProfileId::new(id),
                ObservedProfile {
                    team_admin: row.get(1)?,
                },
            );
        }
    }
    Ok(profiles)
}
