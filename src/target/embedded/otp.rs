//! OTP API callers: one-time-password logins (rules 8 and 10), sessions, and password reads by a
//! session (rule 9).
//!
//! Invariants: a caller's valid one-time passwords are its current one (highest `seq`) and at
//! most `otp_maximum` previous ones, each sealed with associated data `otp:<caller>/<seq>`; a
//! login compares against all of them in constant time, and a successful login makes a new
//! current one in the same transaction, so two logins with the same password can never both
//! succeed when `otp_maximum` is 0. Only check-out, check-in and expiry of the vault account
//! ([`reset`]) and logins change a caller's one-time passwords.

use std::collections::BTreeSet;
use std::net::IpAddr;

use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, params};

use super::network::AllowedNetworks;
use super::{Env, Note, store, values};
use crate::crypto;
use crate::model::{AccountRef, ProfileId, RemoteId, TeamId};
use crate::secret::Secret;
use crate::target::{LoginRejection, OtpSession, TargetError, TargetResult};

/// How long an OTP session lasts.
pub const SESSION_SECONDS: i64 = 5 * 60;

fn otp_aad(caller: &str, seq: i64) -> String {
    format!("otp:{caller}/{seq}")
}

/// The caller profile of the OTP API user whose vault account is `vault_guid`.
pub fn caller_of_vault(conn: &Connection, vault_guid: &str) -> anyhow::Result<Option<String>> {
    conn.prepare_cached("SELECT caller FROM otp_api_users WHERE vault_account = ?1")?
        .query_row([vault_guid], |row| row.get(0))
        .optional()
        .with_context(|| format!("cannot read the OTP API user of vault account {vault_guid}"))
}

/// Makes `otp` the caller's only valid one-time password (the vault account's new value).
pub fn reset(conn: &Connection, env: &Env<'_>, caller: &str, otp: &Secret) -> anyhow::Result<()> {
    let context = || format!("cannot set the one-time password of {caller}");
    let seq: i64 = conn
        .prepare_cached("SELECT otp_next_seq FROM otp_api_users WHERE caller = ?1")?
        .query_row([caller], |row| row.get(0))
        .with_context(context)?;
    conn.prepare_cached("DELETE FROM otp_passwords WHERE caller = ?1")?
        .execute([caller])
        .with_context(context)?;
    push(conn, env, caller, seq, otp).with_context(context)
}

fn push(
    conn: &Connection,
    env: &Env<'_>,
    caller: &str,
    seq: i64,
    otp: &Secret,
) -> anyhow::Result<()> {
    let sealed = crypto::seal(env.key, &otp_aad(caller, seq), otp);
    conn.prepare_cached("INSERT INTO otp_passwords (caller, seq, sealed) VALUES (?1, ?2, ?3)")?
        .execute(params![caller, seq, sealed])?;
    conn.prepare_cached("UPDATE otp_api_users SET otp_next_seq = ?1 WHERE caller = ?2")?
        .execute(params![seq + 1, caller])?;
    Ok(())
}

/// Successful logins of a caller, or `None` if it is not an OTP API caller.
pub fn rotations(conn: &Connection, caller: &ProfileId) -> anyhow::Result<Option<u64>> {
    let count: Option<i64> = conn
        .prepare_cached("SELECT rotations FROM otp_api_users WHERE caller = ?1")?
        .query_row([caller.as_str()], |row| row.get(0))
        .optional()
        .with_context(|| format!("cannot read the rotations of {caller}"))?;
    Ok(count.map(|c| u64::try_from(c).unwrap_or(0)))
}

/// How many one-time passwords of a caller log in now.
pub fn valid_count(conn: &Connection, caller: &str) -> anyhow::Result<u64> {
    let count: i64 = conn
        .prepare_cached("SELECT count(*) FROM otp_passwords WHERE caller = ?1")?
        .query_row([caller], |row| row.get(0))?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// Rule 8: network, then one-time password; on success the next password and a session.
pub fn login(
    conn: &Connection,
    env: &Env<'_>,
    note: &mut Note,
    caller: &ProfileId,
    otp: &Secret,
    from: IpAddr,
) -> TargetResult<OtpSession> {
    let Some((allowed_network, next_seq)) = caller_row(conn, caller)? else {
        return Err(TargetError::LoginRejected(LoginRejection::UnknownCaller));
    };
    // A network the file cannot parse allows nothing.
    let allowed = AllowedNetworks::parse(&allowed_network).is_ok_and(|n| n.contains(from));
    if !allowed {
        return Err(TargetError::LoginRejected(
            LoginRejection::NetworkNotAllowed,
        ));
    }
    if !is_valid(conn, env, caller, otp)? {
        return Err(TargetError::LoginRejected(LoginRejection::OtpOutOfSync));
    }
    let session = rotate(conn, env, caller, next_seq)?;
    note.reference = Some(session.session_id.to_string());
    Ok(session)
}

fn caller_row(conn: &Connection, caller: &ProfileId) -> anyhow::Result<Option<(String, i64)>> {
    conn.prepare_cached(
        "SELECT allowed_network, otp_next_seq FROM otp_api_users WHERE caller = ?1",
    )?
    .query_row([caller.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
    .optional()
    .with_context(|| format!("cannot read OTP API caller {caller}"))
}

/// Whether `otp` is one of the caller's valid one-time passwords. Every valid password is
/// compared, without stopping early, in constant time.
fn is_valid(
    conn: &Connection,
    env: &Env<'_>,
    caller: &ProfileId,
    otp: &Secret,
) -> anyhow::Result<bool> {
    let mut statement =
        conn.prepare_cached("SELECT seq, sealed FROM otp_passwords WHERE caller = ?1")?;
    let mut rows = statement.query([caller.as_str()])?;
    let mut matched = false;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let sealed: Vec<u8> = row.get(1)?;
        let valid = crypto::open(env.key, &otp_aad(caller.as_str(), seq), &sealed)?;
        matched |= constant_time_eq(valid.expose().as_bytes(), otp.expose().as_bytes());
    }
    Ok(matched)
}

/// A new current password; the previous ones beyond `otp_maximum` stop working; a new session.
fn rotate(
    conn: &Connection,
    env: &Env<'_>,
    caller: &ProfileId,
    next_seq: i64,
) -> anyhow::Result<OtpSession> {
    let policy = store::policy(conn)?;
    let next = values::new_password();
    push(conn, env, caller.as_str(), next_seq, &next)?;
    conn.prepare_cached("DELETE FROM otp_passwords WHERE caller = ?1 AND seq < ?2")?
        .execute(params![
            caller.as_str(),
            next_seq - i64::from(policy.otp_maximum)
        ])?;
    conn.prepare_cached("UPDATE otp_api_users SET rotations = rotations + 1 WHERE caller = ?1")?
        .execute([caller.as_str()])?;
    conn.prepare_cached("DELETE FROM sessions WHERE expires_at <= ?1")?
        .execute([env.now])?;
    let session_id = values::new_id("SESSION");
    conn.prepare_cached(
        "INSERT INTO sessions (session_id, caller, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        session_id,
        caller.as_str(),
        env.now,
        env.now + SESSION_SECONDS
    ])?;
    Ok(OtpSession {
        session_id: RemoteId::new(session_id),
        next_otp: next,
    })
}

/// Rule 9: a live session reads the password of an account granted to its caller.
pub fn read_password(
    conn: &Connection,
    env: &Env<'_>,
    note: &mut Note,
    session_id: &RemoteId,
    account: &AccountRef,
) -> TargetResult<Secret> {
    note.reference = Some(session_id.to_string());
    let Some((caller, expires_at)) = session(conn, session_id)? else {
        return Err(TargetError::NotFound(format!("OTP session {session_id}")));
    };
    note.submitter = caller.clone();
    if expires_at <= env.now {
        return Err(TargetError::NotFound(format!(
            "OTP session {session_id} (it expired; log in again)"
        )));
    }
    let Some(guid) = granted_account(conn, &caller, account)? else {
        return Err(TargetError::NotGranted {
            account: account.clone(),
        });
    };
    Ok(store::password(conn, env.key, &guid)?)
}

fn session(conn: &Connection, session_id: &RemoteId) -> anyhow::Result<Option<(String, i64)>> {
    conn.prepare_cached("SELECT caller, expires_at FROM sessions WHERE session_id = ?1")?
        .query_row([session_id.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .context("cannot read OTP sessions")
}

/// The GUID of `account` if it is granted to `caller`.
fn granted_account(
    conn: &Connection,
    caller: &str,
    account: &AccountRef,
) -> anyhow::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT a.guid FROM otp_api_users u
         JOIN otp_grants g ON g.otp_guid = u.guid
         JOIN accounts a ON a.guid = g.account
         WHERE u.caller = ?1 AND a.system = ?2 AND a.account = ?3",
    )?
    .query_row(
        [caller, account.system.as_str(), account.account.as_str()],
        |row| row.get(0),
    )
    .optional()
    .context("cannot read OTP grants")
}

/// An OTP API user as stored.
#[derive(Clone, Debug)]
pub struct OtpUserRow {
    pub guid: String,
    pub team: TeamId,
    pub description: String,
    pub vault_guid: String,
    pub caller: ProfileId,
    pub allowed_network: String,
    pub rotations: u64,
}

/// The OTP API users for which `wanted(team, guid)` holds, ordered by GUID.
pub fn users(
    conn: &Connection,
    wanted: impl Fn(&str, &str) -> bool,
) -> anyhow::Result<Vec<OtpUserRow>> {
    let mut statement = conn.prepare_cached(
        "SELECT guid, team, description, vault_account, caller, allowed_network, rotations
         FROM otp_api_users ORDER BY guid",
    )?;
    let mut rows = statement.query([])?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        let guid = row.get_ref(0)?.as_str()?;
        let team = row.get_ref(1)?.as_str()?;
        if !wanted(team, guid) {
            continue;
        }
        found.push(OtpUserRow {
            guid: guid.to_owned(),
            team: TeamId::new(team),
            description: row.get(2)?,
            vault_guid: row.get(3)?,
            caller: ProfileId::new(row.get::<_, String>(4)?),
            allowed_network: row.get(5)?,
            rotations: u64::try_from(row.get::<_, i64>(6)?).unwrap_or(0),
        });
    }
    Ok(found)
}

/// The accounts granted to an OTP API user.
pub fn grants(conn: &Connection, guid: &str) -> anyhow::Result<BTreeSet<AccountRef>> {
    let mut statement = conn.prepare_cached(
        "SELECT a.system, a.account FROM otp_grants g JOIN accounts a ON a.guid = g.account
         WHERE g.otp_guid = ?1",
    )?;
    let rows = statement.query_map([guid], |row| {
        Ok(AccountRef::new(
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
        ))
    })?;
    rows.collect::<rusqlite::Result<BTreeSet<_>>>()
        .with_context(|| format!("cannot read the grants of OTP API user {guid}"))
}

/// Equality that takes the same time whatever the contents (the length may show).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_equality() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"\x00", b"\x80"));
    }
}
