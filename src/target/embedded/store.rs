//! Row-level reads and writes of the target file: policy, profiles, teams with their groups,
//! managed accounts and their encrypted passwords, and the request log.
//!
//! Invariants: the only SQL that touches these tables outside `schema`; every function runs inside
//! the caller's transaction and never commits; a password is written only sealed with the target's
//! key and the associated data `account:<guid>/password`, and is opened only by [`password`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::{Context, anyhow};
use rusqlite::{Connection, OptionalExtension, params};

use crate::crypto::{self, Key};
use crate::model::{
    AccountRef, GroupName, GroupState, Policy, Privilege, ProfileId, TeamId, TeamState,
};
use crate::secret::Secret;

/// The managed system policy of onboarded accounts.
pub const ONBOARDED_ACCOUNTS: &str = "ONBOARDED_ACCOUNTS";
/// The managed system policy of OTP vault accounts (`PAM_UTIL_<guid>`).
pub const PAM_OTP_ACCOUNTS: &str = "PAM_OTP_ACCOUNTS";

/// Above this many teams, loading scans whole tables and filters in memory instead of querying
/// team by team.
const PER_TEAM_QUERY_LIMIT: usize = 256;

pub fn policy(conn: &Connection) -> anyhow::Result<Policy> {
    conn.query_row(
        "SELECT min_authorizers, otp_maximum, checkout_minutes FROM policy WHERE id = 1",
        [],
        |row| {
            Ok(Policy {
                min_authorizers: row.get(0)?,
                otp_maximum: row.get(1)?,
                checkout_minutes: row.get(2)?,
            })
        },
    )
    .context("cannot read the target's policy")
}

pub fn set_policy(conn: &Connection, policy: &Policy) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO policy (id, min_authorizers, otp_maximum, checkout_minutes) VALUES (1, ?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET min_authorizers = excluded.min_authorizers,
             otp_maximum = excluded.otp_maximum, checkout_minutes = excluded.checkout_minutes",
        params![
            policy.min_authorizers,
            policy.otp_maximum,
            policy.checkout_minutes
        ],
    )
    .context("cannot write the target's policy")?;
    Ok(())
}

/// A profile's team-administrator flag, or `None` if it does not exist.
pub fn profile_team_admin(conn: &Connection, profile: &ProfileId) -> anyhow::Result<Option<bool>> {
    conn.prepare_cached("SELECT team_admin FROM profiles WHERE id = ?1")?
        .query_row([profile.as_str()], |row| row.get(0))
        .optional()
        .with_context(|| format!("cannot read profile {profile}"))
}

pub fn insert_profile(
    conn: &Connection,
    profile: &ProfileId,
    name: &str,
    team_admin: bool,
) -> anyhow::Result<()> {
    conn.prepare_cached("INSERT INTO profiles (id, name, team_admin) VALUES (?1, ?2, ?3)")?
        .execute(params![profile.as_str(), name, team_admin])
        .with_context(|| format!("cannot create profile {profile}"))?;
    Ok(())
}

/// The profiles among `profiles` that do not exist.
pub fn missing_profiles<'a>(
    conn: &Connection,
    profiles: impl IntoIterator<Item = &'a ProfileId>,
) -> anyhow::Result<BTreeSet<ProfileId>> {
    let mut statement = conn.prepare_cached("SELECT 1 FROM profiles WHERE id = ?1")?;
    let mut missing = BTreeSet::new();
    for profile in profiles {
        if !statement.exists([profile.as_str()])? {
            missing.insert(profile.clone());
        }
    }
    Ok(missing)
}

/// One team as stored, or `None` if it does not exist.
pub fn team(conn: &Connection, team: &TeamId) -> anyhow::Result<Option<TeamState>> {
    let row: Option<(i64, String)> = conn
        .prepare_cached("SELECT id, description FROM teams WHERE team_id = ?1")?
        .query_row([team.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .with_context(|| format!("cannot read team {team}"))?;
    let Some((id, description)) = row else {
        return Ok(None);
    };
    let mut state = TeamState {
        description,
        groups: BTreeMap::new(),
    };
    let mut groups = conn.prepare_cached(
        "SELECT g.name, p.privilege FROM team_groups g
         LEFT JOIN group_privileges p ON p.group_id = g.id WHERE g.team = ?1",
    )?;
    let mut rows = groups.query([id])?;
    while let Some(row) = rows.next()? {
        let group = state
            .groups
            .entry(GroupName::new(row.get::<_, String>(0)?))
            .or_default();
        if let Some(token) = row.get::<_, Option<String>>(1)? {
            group.privileges.insert(parse_privilege(&token)?);
        }
    }
    let mut members = conn.prepare_cached(
        "SELECT g.name, m.profile FROM team_groups g
         JOIN group_members m ON m.group_id = g.id WHERE g.team = ?1",
    )?;
    let mut rows = members.query([id])?;
    while let Some(row) = rows.next()? {
        let name: String = row.get(0)?;
        let profile: String = row.get(1)?;
        if let Some(group) = state.groups.get_mut(name.as_str()) {
            group.members.insert(ProfileId::new(profile));
        }
    }
    Ok(Some(state))
}

/// The teams among `wanted` that exist (all teams when `wanted` is `None`). Large sets are read
/// with one scan per table rather than one query per team.
pub fn teams(
    conn: &Connection,
    wanted: Option<&BTreeSet<TeamId>>,
) -> anyhow::Result<BTreeMap<TeamId, TeamState>> {
    if let Some(wanted) = wanted.filter(|w| w.len() <= PER_TEAM_QUERY_LIMIT) {
        let mut found = BTreeMap::new();
        for id in wanted {
            if let Some(state) = team(conn, id)? {
                found.insert(id.clone(), state);
            }
        }
        return Ok(found);
    }
    // One scan per table. Groups are addressed by rowid into a vector; privilege and member rows
    // come in primary-key order (group, then value), so each group's rows form one sorted run
    // that is stored with one lookup.
    let included = |id: &str| wanted.is_none_or(|w| w.contains(id));
    let mut teams: Vec<(TeamId, TeamState)> = Vec::new();
    let mut team_index: HashMap<i64, usize> = HashMap::new();
    let mut statement = conn.prepare("SELECT id, team_id, description FROM teams")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let team_id = row.get_ref(1)?.as_str()?;
        if included(team_id) {
            team_index.insert(row.get(0)?, teams.len());
            teams.push((
                TeamId::new(team_id),
                TeamState {
                    description: row.get(2)?,
                    groups: BTreeMap::new(),
                },
            ));
        }
    }
    let mut groups: HashMap<i64, (usize, GroupName)> = HashMap::new();
    let mut statement = conn.prepare("SELECT id, team, name FROM team_groups")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        if let Some(&index) = team_index.get(&row.get::<_, i64>(1)?) {
            let name = GroupName::new(row.get_ref(2)?.as_str()?);
            teams[index].1.groups.entry(name.clone()).or_default();
            groups.insert(row.get(0)?, (index, name));
        }
    }
    let mut statement = conn.prepare("SELECT group_id, privilege FROM group_privileges")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        if let Some((index, name)) = groups.get(&row.get::<_, i64>(0)?) {
            let privilege = parse_privilege(row.get_ref(1)?.as_str()?)?;
            if let Some(group) = teams[*index].1.groups.get_mut(name) {
                group.privileges.insert(privilege);
            }
        }
    }
    let mut statement = conn.prepare("SELECT group_id, profile FROM group_members")?;
    let mut rows = statement.query([])?;
    let mut run: Option<i64> = None;
    let mut members: Vec<ProfileId> = Vec::new();
    let flush =
        |teams: &mut Vec<(TeamId, TeamState)>, group_id: i64, members: &mut Vec<ProfileId>| {
            if let Some((index, name)) = groups.get(&group_id)
                && let Some(group) = teams[*index].1.groups.get_mut(name)
            {
                if group.members.is_empty() {
                    group.members = members.drain(..).collect();
                } else {
                    group.members.extend(members.drain(..));
                }
            }
            members.clear();
        };
    while let Some(row) = rows.next()? {
        let group_id: i64 = row.get(0)?;
        if run != Some(group_id) {
            if let Some(previous) = run {
                flush(&mut teams, previous, &mut members);
            }
            run = Some(group_id);
        }
        if groups.contains_key(&group_id) {
            members.push(ProfileId::new(row.get_ref(1)?.as_str()?));
        }
    }
    if let Some(previous) = run {
        flush(&mut teams, previous, &mut members);
    }
    Ok(teams.into_iter().collect())
}

/// Writes a team whole: description, groups, privileges and members replace what was there.
pub fn save_team(conn: &Connection, team: &TeamId, state: &TeamState) -> anyhow::Result<()> {
    let context = || format!("cannot write team {team}");
    conn.prepare_cached(
        "INSERT INTO teams (team_id, description) VALUES (?1, ?2)
         ON CONFLICT (team_id) DO UPDATE SET description = excluded.description",
    )?
    .execute(params![team.as_str(), state.description])
    .with_context(context)?;
    let id: i64 = conn
        .prepare_cached("SELECT id FROM teams WHERE team_id = ?1")?
        .query_row([team.as_str()], |row| row.get(0))
        .with_context(context)?;
    clear_groups(conn, id).with_context(context)?;
    let mut insert_group =
        conn.prepare_cached("INSERT INTO team_groups (team, name) VALUES (?1, ?2)")?;
    let mut insert_privilege =
        conn.prepare_cached("INSERT INTO group_privileges (group_id, privilege) VALUES (?1, ?2)")?;
    let mut insert_member =
        conn.prepare_cached("INSERT INTO group_members (group_id, profile) VALUES (?1, ?2)")?;
    for (name, group) in &state.groups {
        insert_group
            .execute(params![id, name.as_str()])
            .with_context(context)?;
        let group_id = conn.last_insert_rowid();
        for privilege in &group.privileges {
            insert_privilege
                .execute(params![group_id, privilege.token()])
                .with_context(context)?;
        }
        for member in &group.members {
            insert_member
                .execute(params![group_id, member.as_str()])
                .with_context(context)?;
        }
    }
    Ok(())
}

/// Rewrites an existing team from `before` to `after` by changing only the rows that differ, so a
/// membership change costs a few row writes, not a rewrite of the whole team.
pub fn update_team(
    conn: &Connection,
    team: &TeamId,
    before: &TeamState,
    after: &TeamState,
) -> anyhow::Result<()> {
    let context = || format!("cannot write team {team}");
    if before.description != after.description {
        conn.prepare_cached("UPDATE teams SET description = ?2 WHERE team_id = ?1")?
            .execute(params![team.as_str(), after.description])
            .with_context(context)?;
    }
    let id: i64 = conn
        .prepare_cached("SELECT id FROM teams WHERE team_id = ?1")?
        .query_row([team.as_str()], |row| row.get(0))
        .with_context(context)?;
    let group_id = |name: &str| -> anyhow::Result<i64> {
        conn.prepare_cached("SELECT id FROM team_groups WHERE team = ?1 AND name = ?2")?
            .query_row(params![id, name], |row| row.get(0))
            .with_context(context)
    };
    let empty = GroupState::default();
    let names: std::collections::BTreeSet<&GroupName> =
        before.groups.keys().chain(after.groups.keys()).collect();
    for name in names {
        let (old, new) = (before.groups.get(name), after.groups.get(name));
        let gid = match (old, new) {
            (Some(_), None) => {
                let gid = group_id(name.as_str())?;
                for table in ["group_members", "group_privileges", "team_groups"] {
                    let column = if table == "team_groups" {
                        "id"
                    } else {
                        "group_id"
                    };
                    conn.prepare_cached(&format!("DELETE FROM {table} WHERE {column} = ?1"))?
                        .execute([gid])
                        .with_context(context)?;
                }
                continue;
            }
            (None, Some(_)) => {
                conn.prepare_cached("INSERT INTO team_groups (team, name) VALUES (?1, ?2)")?
                    .execute(params![id, name.as_str()])
                    .with_context(context)?;
                conn.last_insert_rowid()
            }
            (Some(o), Some(n)) if o == n => continue,
            _ => group_id(name.as_str())?,
        };
        let (old, new) = (old.unwrap_or(&empty), new.unwrap_or(&empty));
        for privilege in new.privileges.difference(&old.privileges) {
            conn.prepare_cached(
                "INSERT INTO group_privileges (group_id, privilege) VALUES (?1, ?2)",
            )?
            .execute(params![gid, privilege.token()])
            .with_context(context)?;
        }
        for privilege in old.privileges.difference(&new.privileges) {
            conn.prepare_cached(
                "DELETE FROM group_privileges WHERE group_id = ?1 AND privilege = ?2",
            )?
            .execute(params![gid, privilege.token()])
            .with_context(context)?;
        }
        for member in new.members.difference(&old.members) {
            conn.prepare_cached("INSERT INTO group_members (group_id, profile) VALUES (?1, ?2)")?
                .execute(params![gid, member.as_str()])
                .with_context(context)?;
        }
        for member in old.members.difference(&new.members) {
            conn.prepare_cached("DELETE FROM group_members WHERE group_id = ?1 AND profile = ?2")?
                .execute(params![gid, member.as_str()])
                .with_context(context)?;
        }
    }
    Ok(())
}

/// Removes a team and its groups.
pub fn delete_team(conn: &Connection, team: &TeamId) -> anyhow::Result<()> {
    let context = || format!("cannot delete team {team}");
    let id: Option<i64> = conn
        .prepare_cached("SELECT id FROM teams WHERE team_id = ?1")?
        .query_row([team.as_str()], |row| row.get(0))
        .optional()
        .with_context(context)?;
    if let Some(id) = id {
        clear_groups(conn, id).with_context(context)?;
        conn.execute("DELETE FROM teams WHERE id = ?1", [id])
            .with_context(context)?;
    }
    Ok(())
}

fn clear_groups(conn: &Connection, team_rowid: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "DELETE FROM group_members WHERE group_id IN (SELECT id FROM team_groups WHERE team = ?1)",
    )?
    .execute([team_rowid])?;
    conn.prepare_cached(
        "DELETE FROM group_privileges WHERE group_id IN (SELECT id FROM team_groups WHERE team = ?1)",
    )?
    .execute([team_rowid])?;
    conn.prepare_cached("DELETE FROM team_groups WHERE team = ?1")?
        .execute([team_rowid])?;
    Ok(())
}

/// The managed accounts (including OTP vault accounts) a team holds.
pub fn holdings(conn: &Connection, team: &TeamId) -> anyhow::Result<u64> {
    let count: i64 = conn
        .prepare_cached("SELECT count(*) FROM accounts WHERE team = ?1")?
        .query_row([team.as_str()], |row| row.get(0))
        .with_context(|| format!("cannot count the holdings of team {team}"))?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// Holdings of every team that holds anything.
pub fn all_holdings(conn: &Connection) -> anyhow::Result<HashMap<String, u64>> {
    let mut statement =
        conn.prepare("SELECT team, count(*) FROM accounts WHERE team IS NOT NULL GROUP BY team")?;
    let rows = statement.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
    })?;
    let mut holdings = HashMap::new();
    for row in rows {
        let (team, count) = row.context("cannot count team holdings")?;
        holdings.insert(team, u64::try_from(count).unwrap_or(0));
    }
    Ok(holdings)
}

/// A managed account's metadata (never its password).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRow {
    pub guid: String,
    pub account: AccountRef,
    pub team: Option<TeamId>,
    pub policy: String,
}

impl AccountRow {
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AccountRow> {
        Ok(AccountRow {
            guid: row.get(0)?,
            account: AccountRef::new(row.get::<_, String>(1)?, row.get::<_, String>(2)?),
            team: row.get::<_, Option<String>>(3)?.map(TeamId::new),
            policy: row.get(4)?,
        })
    }

    pub fn is_vault_account(&self) -> bool {
        self.policy == PAM_OTP_ACCOUNTS
    }
}

pub fn account(conn: &Connection, account: &AccountRef) -> anyhow::Result<Option<AccountRow>> {
    conn.prepare_cached(
        "SELECT guid, system, account, team, policy FROM accounts WHERE system = ?1 AND account = ?2",
    )?
    .query_row(
        [account.system.as_str(), account.account.as_str()],
        AccountRow::from_row,
    )
    .optional()
    .with_context(|| format!("cannot read managed account {account}"))
}

pub fn account_by_guid(conn: &Connection, guid: &str) -> anyhow::Result<Option<AccountRow>> {
    conn.prepare_cached("SELECT guid, system, account, team, policy FROM accounts WHERE guid = ?1")?
        .query_row([guid], AccountRow::from_row)
        .optional()
        .with_context(|| format!("cannot read managed account {guid}"))
}

/// Every managed account, ordered by system and account.
pub fn all_accounts(conn: &Connection) -> anyhow::Result<Vec<AccountRow>> {
    let mut statement = conn.prepare(
        "SELECT guid, system, account, team, policy FROM accounts ORDER BY system, account",
    )?;
    let rows = statement.query_map([], AccountRow::from_row)?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .context("cannot read managed accounts")
}

pub fn insert_system(conn: &Connection, system: &str) -> anyhow::Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO systems (id) VALUES (?1)")?
        .execute([system])
        .with_context(|| format!("cannot create managed system {system}"))?;
    Ok(())
}

pub fn insert_account(
    conn: &Connection,
    key: &Key,
    row: &AccountRow,
    password: &Secret,
) -> anyhow::Result<()> {
    let sealed = crypto::seal(key, &password_aad(&row.guid), password);
    conn.prepare_cached(
        "INSERT INTO accounts (guid, system, account, team, policy, password)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        row.guid,
        row.account.system.as_str(),
        row.account.account.as_str(),
        row.team.as_ref().map(TeamId::as_str),
        row.policy,
        sealed
    ])
    .with_context(|| format!("cannot create managed account {}", row.account))?;
    Ok(())
}

/// Replaces an account's password.
pub fn set_password(
    conn: &Connection,
    key: &Key,
    guid: &str,
    password: &Secret,
) -> anyhow::Result<()> {
    let sealed = crypto::seal(key, &password_aad(guid), password);
    let changed = conn
        .prepare_cached("UPDATE accounts SET password = ?1 WHERE guid = ?2")?
        .execute(params![sealed, guid])
        .with_context(|| format!("cannot store the password of managed account {guid}"))?;
    if changed != 1 {
        return Err(anyhow!(
            "managed account {guid} vanished while its password changed"
        ));
    }
    Ok(())
}

/// An account's current password, decrypted.
pub fn password(conn: &Connection, key: &Key, guid: &str) -> anyhow::Result<Secret> {
    let sealed: Vec<u8> = conn
        .prepare_cached("SELECT password FROM accounts WHERE guid = ?1")?
        .query_row([guid], |row| row.get(0))
        .with_context(|| format!("cannot read the password of managed account {guid}"))?;
    crypto::open(key, &password_aad(guid), &sealed)
}

fn password_aad(guid: &str) -> String {
    format!("account:{guid}/password")
}

/// Appends a request-log entry. Never pass a secret here.
pub fn log(
    conn: &Connection,
    at: i64,
    kind: &str,
    submitter: &str,
    object: &str,
    reference: Option<&str>,
    outcome: &str,
) -> anyhow::Result<()> {
    conn.prepare_cached(
        "INSERT INTO request_log (at, kind, submitter, object, reference, outcome)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![at, kind, submitter, object, reference, outcome])
    .context("cannot append to the target's request log")?;
    Ok(())
}

pub fn parse_privilege(token: &str) -> anyhow::Result<Privilege> {
    Privilege::from_token(token)
        .ok_or_else(|| anyhow!("the target file holds an unknown privilege {token:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writing only the differences leaves the team exactly as a whole rewrite does.
    #[test]
    fn update_team_writes_the_same_team_as_a_rewrite() {
        let conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&conn, 0).unwrap();
        for i in 0..12 {
            insert_profile(&conn, &ProfileId::new(format!("p{i}")), "someone", false).unwrap();
        }
        let shape = |seed: usize| {
            let mut groups = BTreeMap::new();
            for g in 0..4 {
                if (seed + g).is_multiple_of(4) {
                    continue;
                }
                let members = (0..12)
                    .filter(|m| (m * 7 + seed * 3 + g).is_multiple_of(3))
                    .map(|m| ProfileId::new(format!("p{m}")))
                    .collect();
                let privileges = Privilege::ALL
                    .into_iter()
                    .filter(|p| (p.index() + seed + g).is_multiple_of(4))
                    .collect();
                groups.insert(
                    GroupName::new(format!("g{g}")),
                    GroupState {
                        privileges,
                        members,
                    },
                );
            }
            TeamState {
                description: format!("shape {}", seed % 2),
                groups,
            }
        };
        let team = TeamId::new("T");
        for (a, b) in [(0, 1), (1, 2), (2, 3), (3, 0), (4, 4), (5, 8)] {
            let (before, after) = (shape(a), shape(b));
            save_team(&conn, &team, &before).unwrap();
            update_team(&conn, &team, &before, &after).unwrap();
            assert_eq!(
                super::team(&conn, &team).unwrap(),
                Some(after),
                "{a} -> {b}"
            );
        }
    }

    /// The whole-table scan (above `PER_TEAM_QUERY_LIMIT` teams) reads what the per-team queries
    /// read, and a wanted set filters it.
    #[test]
    fn the_scan_of_many_teams_matches_the_per_team_reads() {
        let conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&conn, 0).unwrap();
        let names = (0..101).map(|i| format!("u{i:03}"));
        for id in names.chain(["zz".to_owned(), "a".to_owned()]) {
            insert_profile(&conn, &ProfileId::new(id), "someone", false).unwrap();
        }
        let count = PER_TEAM_QUERY_LIMIT + 44;
        for t in 0..count {
            let mut groups = BTreeMap::new();
            for g in 0..3 {
                let members = (0..(t + g) % 5)
                    .map(|m| ProfileId::new(format!("u{:03}", (t * 7 + m * 13) % 101)))
                    .collect();
                let privileges = [Privilege::Requesters, Privilege::TeamTrustees]
                    .into_iter()
                    .take(g)
                    .collect();
                groups.insert(
                    GroupName::new(format!("group {g}")),
                    crate::model::GroupState {
                        privileges,
                        members,
                    },
                );
            }
            let state = TeamState {
                description: format!("team {t}"),
                groups,
            };
            save_team(&conn, &TeamId::new(format!("T{t:04}")), &state).unwrap();
        }
        // Rewrite one team so its groups get new rowids after the others'.
        let first = TeamId::new("T0000");
        let mut state = team(&conn, &first).unwrap().unwrap();
        state.groups.values_mut().for_each(|g| {
            g.members
                .extend([ProfileId::new("zz"), ProfileId::new("a")])
        });
        save_team(&conn, &first, &state).unwrap();

        let all = teams(&conn, None).unwrap();
        assert_eq!(all.len(), count);
        for (id, scanned) in &all {
            assert_eq!(Some(scanned), team(&conn, id).unwrap().as_ref(), "{id}");
        }
        let wanted: BTreeSet<TeamId> = all.keys().skip(1).step_by(2).cloned().collect();
        let some = teams(&conn, Some(&wanted)).unwrap();
        assert_eq!(some.keys().cloned().collect::<BTreeSet<_>>(), wanted);
        assert!(some.iter().all(|(id, state)| all[id] == *state));
    }
}
