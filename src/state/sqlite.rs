//! The SQLite state file: the embedded default behind [`StateStore`].
//!
//! Invariants: rollback journal (no WAL sidecars), `synchronous=FULL`, writers take
//! `BEGIN IMMEDIATE`; the file is created 0600; a file with another `application_id` or a newer
//! `user_version` is refused before anything is written; a migration is preceded by a backup copy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::schema::{APPLICATION_ID, CURRENT, MIGRATIONS};
use super::{
    AuditEntry, Binding, Identity, JournalEntry, JournalStatus, ResourceRow, StateStore,
    StateWrite, StepIntent,
};
use crate::clock::now_rfc3339;
use crate::fsutil;
use crate::model::{
    AccountRef, Address, CheckoutSpec, GroupName, GroupState, OtpApiUserRemote, OtpApiUserSpec,
    OtpUserName, Privilege, ProfileId, Recorded, RecordedCheckout, RecordedOtpApiUser,
    RecordedTeam, RemoteId, TeamId,
};

/// A state file opened for reading and writing.
pub struct SqliteState {
    conn: Connection,
    path: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct TeamAttributes {
    description: String,
}

#[derive(Serialize, Deserialize)]
struct OtpApiUserAttributes {
    team: TeamId,
    description: String,
    accounts: Vec<AccountRef>,
    allowed_network: String,
    vault_account: AccountRef,
    caller: ProfileId,
}

#[derive(Serialize, Deserialize)]
struct CheckoutAttributes {
    requested_by: ProfileId,
    approved_by: Vec<ProfileId>,
    otp_guid: RemoteId,
    request_id: RemoteId,
    bound_at: String,
}

/// Classifies an SQLite failure on a state file into a message a user can act on.
fn classify(path: &Path, error: rusqlite::Error) -> anyhow::Error {
    let detail = error.to_string();
    let what = match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => {
            "is not a pamform state file (not an SQLite database, or its header is corrupt)"
        }
        Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
            "is corrupt (restore it from a backup; pamform made no change)"
        }
        Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked) => {
            "is busy: another pamform holds it"
        }
        Some(rusqlite::ErrorCode::ReadOnly) | Some(rusqlite::ErrorCode::PermissionDenied) => {
            "cannot be written (permissions?)"
        }
        Some(rusqlite::ErrorCode::CannotOpen) => "cannot be opened",
        _ => "cannot be read or written",
    };
    anyhow!("state file {} {what}: {detail}", path.display())
}

trait ClassifyExt<T> {
    fn on_state(self, path: &Path) -> anyhow::Result<T>;
}

impl<T> ClassifyExt<T> for Result<T, rusqlite::Error> {
    fn on_state(self, path: &Path) -> anyhow::Result<T> {
        self.map_err(|e| classify(path, e))
    }
}

impl SqliteState {
    /// Opens the state file, creating it (0600, fresh lineage) when it does not exist.
    pub fn open(path: &Path) -> anyhow::Result<SqliteState> {
        fsutil::create_private(path)?;
        Self::open_file(path)
    }

    /// Opens the state file if it exists.
    pub fn open_existing(path: &Path) -> anyhow::Result<Option<SqliteState>> {
        if !path.exists() {
            return Ok(None);
        }
        Self::open_file(path).map(Some)
    }

    fn open_file(path: &Path) -> anyhow::Result<SqliteState> {
        let conn = Connection::open(path).on_state(path)?;
        conn.busy_timeout(Duration::from_secs(30)).on_state(path)?;
        let mut state = SqliteState {
            conn,
            path: path.to_path_buf(),
        };
        state.prepare()?;
        tracing::debug!(state = %path.display(), "state opened");
        Ok(state)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn prepare(&mut self) -> anyhow::Result<()> {
        let path = self.path.clone();
        let conn = &mut self.conn;
        conn.pragma_update(None, "synchronous", "FULL")
            .on_state(&path)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
            .on_state(&path)?;
        if !mode.eq_ignore_ascii_case("delete") {
            bail!(
                "state file {}: cannot use the rollback journal (journal_mode is {mode})",
                path.display()
            );
        }
        let (app_id, version) = header(conn).on_state(&path)?;
        if app_id == 0 && version == 0 {
            // New (or empty) file: create the schema, racing safely with other creators.
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .on_state(&path)?;
            let (app_id, version) = header(&tx).on_state(&path)?;
            if app_id == 0 && version == 0 {
                let tables: i64 = tx
                    .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                    .on_state(&path)?;
                if tables > 0 {
                    bail!(
                        "{} is an SQLite database but not a pamform state file (it has tables and no pamform application_id); pamform made no change",
                        path.display()
                    );
                }
                tx.pragma_update(None, "application_id", APPLICATION_ID)
                    .on_state(&path)?;
                for migration in MIGRATIONS {
                    tx.execute_batch(migration).on_state(&path)?;
                }
                tx.pragma_update(None, "user_version", CURRENT)
                    .on_state(&path)?;
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('lineage', ?1), ('serial', '0'), ('created_at', ?2), ('created_by', ?3)",
                    params![
                        uuid::Uuid::new_v4().to_string(),
                        now_rfc3339(),
                        concat!("pamform ", env!("CARGO_PKG_VERSION"))
                    ],
                )
                .on_state(&path)?;
            }
            tx.commit().on_state(&path)?;
            return Ok(());
        }
        if app_id != APPLICATION_ID {
            bail!(
                "{} is not a pamform state file (application_id is {app_id:#x}, expected {APPLICATION_ID:#x}); pamform made no change",
                path.display()
            );
        }
        if version > CURRENT {
            bail!(
                "state file {} was written by a newer pamform (schema version {version}; this pamform reads up to {CURRENT}); upgrade pamform, pamform made no change",
                path.display()
            );
        }
        if version < CURRENT {
            self.migrate(version)?;
        }
        Ok(())
    }

    fn migrate(&mut self, from: i64) -> anyhow::Result<()> {
        let path = self.path.clone();
        let backup = path.with_extension(format!("backup-v{from}"));
        fsutil::create_private(&backup)?;
        self.conn
            .execute("VACUUM INTO ?1", params![backup.to_string_lossy()])
            .or_else(|_| {
                std::fs::remove_file(&backup).ok();
                self.conn
                    .execute("VACUUM INTO ?1", params![backup.to_string_lossy()])
            })
            .with_context(|| format!("cannot back up {} before migrating it", path.display()))?;
        fsutil::restrict(&backup)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .on_state(&path)?;
        let (_, version) = header(&tx).on_state(&path)?;
        for migration in MIGRATIONS.iter().skip(version.max(0) as usize) {
            tx.execute_batch(migration).on_state(&path)?;
        }
        tx.pragma_update(None, "user_version", CURRENT)
            .on_state(&path)?;
        tx.commit().on_state(&path)?;
        Ok(())
    }

    /// Runs a query and collects its rows.
    fn rows<T>(
        &mut self,
        sql: &str,
        params: impl rusqlite::Params,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> anyhow::Result<Vec<T>> {
        let path = self.path.clone();
        let mut statement = self.conn.prepare_cached(sql).on_state(&path)?;
        let rows = statement.query_map(params, row).on_state(&path)?;
        rows.collect::<Result<_, _>>().on_state(&path)
    }

    fn write_tx<T>(
        &mut self,
        body: impl FnOnce(&rusqlite::Transaction<'_>, u64) -> rusqlite::Result<T>,
    ) -> anyhow::Result<T> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .on_state(&path)?;
        let serial = next_serial(&tx).on_state(&path)?;
        let value = body(&tx, serial).on_state(&path)?;
        tx.commit().on_state(&path)?;
        Ok(value)
    }
}

fn header(conn: &Connection) -> rusqlite::Result<(i32, i64)> {
    let app_id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    Ok((app_id, version))
}

fn next_serial(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<u64> {
    let serial: String = tx.query_row("SELECT value FROM meta WHERE key = 'serial'", [], |r| {
        r.get(0)
    })?;
    let next = serial.parse::<u64>().unwrap_or(0) + 1;
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'serial'",
        params![next.to_string()],
    )?;
    Ok(next)
}

fn json_error(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

/// Writes (or rewrites) a team's own row: its description and who submits its requests.
fn put_team_header(
    tx: &rusqlite::Transaction<'_>,
    serial: i64,
    team: &TeamId,
    description: &str,
    requested_by: &ProfileId,
) -> rusqlite::Result<()> {
    let attributes = serde_json::to_string(&TeamAttributes {
        description: description.to_string(),
    })
    .map_err(json_error)?;
    tx.prepare_cached(
        "INSERT INTO resources (address, kind, team, grp, item, remote_id, requested_by, attributes, serial)
         VALUES (?1, 'team', ?2, NULL, NULL, ?2, ?3, ?4, ?5)
         ON CONFLICT (address) DO UPDATE SET requested_by = excluded.requested_by,
             attributes = excluded.attributes, serial = excluded.serial",
    )?
    .execute(params![
        format!("team.{team}"),
        team.as_str(),
        requested_by.as_str(),
        attributes,
        serial
    ])?;
    Ok(())
}

/// Writes the row of a group of `team` (`item` `None`), or of one of its privileges or members
/// (`item` `Some((kind, token or profile))`); the address is spelled from the same columns.
fn put_team_row(
    tx: &rusqlite::Transaction<'_>,
    serial: i64,
    team: &TeamId,
    group: &str,
    item: Option<(&'static str, &str)>,
) -> rusqlite::Result<()> {
    let (kind, address, item) = match item {
        None => ("group", format!("group.{team}/{group}"), None),
        Some((kind, item)) => (kind, format!("{kind}.{team}/{group}/{item}"), Some(item)),
    };
    tx.prepare_cached(
        "INSERT OR REPLACE INTO resources (address, kind, team, grp, item, remote_id, requested_by, attributes, serial)
         VALUES (?1, ?2, ?3, ?4, ?5, NULL, NULL, '{}', ?6)",
    )?
    .execute(params![address, kind, team.as_str(), group, item, serial])?;
    Ok(())
}

fn apply_writes(
    tx: &rusqlite::Transaction<'_>,
    serial: u64,
    writes: &[StateWrite],
) -> rusqlite::Result<()> {
    let serial = serial as i64;
    for write in writes {
        match write {
            StateWrite::PutTeam { team, record } => {
                tx.execute(
                    "DELETE FROM resources WHERE team = ?1 AND kind IN ('team', 'group', 'privilege', 'member')",
                    params![team.as_str()],
                )?;
                put_team_header(
                    tx,
                    serial,
                    team,
                    &record.state.description,
                    &record.requested_by,
                )?;
                for (name, group) in &record.state.groups {
                    put_team_row(tx, serial, team, name.as_str(), None)?;
                    for privilege in &group.privileges {
                        put_team_row(
                            tx,
                            serial,
                            team,
                            name.as_str(),
                            Some(("privilege", privilege.token())),
                        )?;
                    }
                    for member in &group.members {
                        put_team_row(
                            tx,
                            serial,
                            team,
                            name.as_str(),
                            Some(("member", member.as_str())),
                        )?;
                    }
                }
            }
            StateWrite::PatchTeam {
                team,
                description,
                requested_by,
                changes,
            } => {
                put_team_header(tx, serial, team, description, requested_by)?;
                for (address, action) in changes {
                    let (group, item) = match address {
                        Address::Group(_, g) => (g.as_str(), None),
                        Address::Privilege(_, g, p) => (g.as_str(), Some(("privilege", p.token()))),
                        Address::Member(_, g, m) => (g.as_str(), Some(("member", m.as_str()))),
                        _ => continue,
                    };
                    match action {
                        crate::plan::Action::Create => {
                            put_team_row(tx, serial, team, group, item)?;
                        }
                        crate::plan::Action::Delete => {
                            tx.prepare_cached("DELETE FROM resources WHERE address = ?1")?
                                .execute([address.to_string()])?;
                        }
                        _ => {}
                    }
                }
            }
            StateWrite::RemoveTeam { team } => {
                tx.execute(
                    "DELETE FROM resources WHERE team = ?1 AND kind IN ('team', 'group', 'privilege', 'member')",
                    params![team.as_str()],
                )?;
            }
            StateWrite::PutOtpApiUser { name, record } => {
                let attributes = serde_json::to_string(&OtpApiUserAttributes {
                    team: record.spec.team.clone(),
                    description: record.spec.description.clone(),
                    accounts: record.spec.accounts.iter().cloned().collect(),
                    allowed_network: record.spec.allowed_network.clone(),
                    vault_account: record.remote.vault_account.clone(),
                    caller: record.remote.caller.clone(),
                })
                .map_err(json_error)?;
                tx.execute(
                    "INSERT OR REPLACE INTO resources (address, kind, team, grp, item, remote_id, requested_by, attributes, serial)
                     VALUES (?1, 'otp_api_user', NULL, NULL, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        format!("otp_api_user.{name}"),
                        name.as_str(),
                        record.remote.guid.as_str(),
                        record.requested_by.as_str(),
                        attributes,
                        serial
                    ],
                )?;
            }
            StateWrite::PutCheckout { name, record } => {
                let attributes = serde_json::to_string(&CheckoutAttributes {
                    requested_by: record.spec.requested_by.clone(),
                    approved_by: record.spec.approved_by.iter().cloned().collect(),
                    otp_guid: record.otp_guid.clone(),
                    request_id: record.request_id.clone(),
                    bound_at: record.bound_at.clone(),
                })
                .map_err(json_error)?;
                tx.execute(
                    "INSERT OR REPLACE INTO resources (address, kind, team, grp, item, remote_id, requested_by, attributes, serial)
                     VALUES (?1, 'checkout', NULL, NULL, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        format!("checkout.{name}"),
                        name.as_str(),
                        record.checkout_id.as_str(),
                        record.spec.requested_by.as_str(),
                        attributes,
                        serial
                    ],
                )?;
            }
            StateWrite::PutBinding(binding) => {
                tx.execute(
                    "INSERT OR REPLACE INTO bindings (otp_api_user, caller, otp, otp_serial, checkout_id, bound_at, handed_off_at, login_started_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)",
                    params![
                        binding.otp_api_user.as_str(),
                        binding.caller.as_str(),
                        binding.sealed_otp,
                        binding.otp_serial as i64,
                        binding.checkout_id.as_str(),
                        binding.bound_at,
                        binding.handed_off_at
                    ],
                )?;
            }
        }
    }
    Ok(())
}

/// Whether a row's columns spell its address. Every address repeats its key columns, so a damaged
/// byte in either (a bit flip, a torn write SQLite cannot see) shows up as a mismatch. Allocates
/// nothing: `load` runs it on every row.
fn address_matches(
    address: &str,
    kind: &str,
    team: Option<&str>,
    group: Option<&str>,
    item: Option<&str>,
) -> bool {
    let Some(rest) = address
        .strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix('.'))
    else {
        return false;
    };
    let parts: &[Option<&str>] = match kind {
        "team" => &[team],
        "group" => &[team, group],
        "privilege" | "member" => &[team, group, item],
        "otp_api_user" | "checkout" => &[item],
        _ => return false,
    };
    let mut rest = rest;
    for (i, part) in parts.iter().enumerate() {
        let Some(part) = part else { return false };
        let Some(after) = rest.strip_prefix(part) else {
            return false;
        };
        rest = if i + 1 < parts.len() {
            match after.strip_prefix('/') {
                Some(after) => after,
                None => return false,
            }
        } else {
            after
        };
    }
    rest.is_empty()
}

fn corrupt(path: &Path, address: &str, what: impl std::fmt::Display) -> anyhow::Error {
    anyhow!(
        "state file {} is inconsistent at {address}: {what}",
        path.display()
    )
}

/// The recorded team `team`, created empty (its `team` row may come later in address order).
fn team_mut<'r>(recorded: &'r mut Recorded, team: &str) -> &'r mut RecordedTeam {
    if !recorded.teams.contains_key(team) {
        recorded.teams.insert(
            TeamId::new(team),
            RecordedTeam {
                state: Default::default(),
                requested_by: ProfileId::new(""),
            },
        );
    }
    // Invariant: inserted just above when missing.
    recorded.teams.get_mut(team).expect("team inserted above")
}

/// The recorded group `team`/`group`, created empty when missing.
fn group_mut<'r>(recorded: &'r mut Recorded, team: &str, group: &str) -> &'r mut GroupState {
    let groups = &mut team_mut(recorded, team).state.groups;
    if !groups.contains_key(group) {
        groups.insert(GroupName::new(group), GroupState::default());
    }
    // Invariant: inserted just above when missing.
    groups.get_mut(group).expect("group inserted above")
}

/// Adds one run of member rows (in profile order) to its group.
fn add_members(recorded: &mut Recorded, team: &str, group: &str, members: &mut Vec<ProfileId>) {
    let g = group_mut(recorded, team, group);
    if g.members.is_empty() {
        g.members = members.drain(..).collect();
    } else {
        g.members.extend(members.drain(..));
    }
}

fn parse_otp_api_user(
    path: &Path,
    address: &str,
    item: Option<String>,
    remote_id: Option<String>,
    requested_by: Option<String>,
    attributes: &str,
) -> anyhow::Result<(OtpUserName, RecordedOtpApiUser)> {
    let bad = |what: &str| corrupt(path, address, what);
    let name = OtpUserName::new(item.ok_or_else(|| bad("no name"))?);
    let attrs: OtpApiUserAttributes =
        serde_json::from_str(attributes).map_err(|e| bad(&e.to_string()))?;
    Ok((
        name,
        RecordedOtpApiUser {
            spec: OtpApiUserSpec {
                team: attrs.team,
                description: attrs.description,
                accounts: attrs.accounts.into_iter().collect(),
                allowed_network: attrs.allowed_network,
            },
            remote: OtpApiUserRemote {
                guid: RemoteId::new(remote_id.ok_or_else(|| bad("no guid"))?),
                vault_account: attrs.vault_account,
                caller: attrs.caller,
            },
            requested_by: ProfileId::new(requested_by.ok_or_else(|| bad("no requested_by"))?),
        },
    ))
}

fn journal_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<JournalEntry> {
    let status: String = row.get(5)?;
    let detail: String = row.get(7)?;
    Ok(JournalEntry {
        id: row.get(0)?,
        run_id: row.get(1)?,
        step: row.get::<_, i64>(2)? as usize,
        subject: row.get(3)?,
        operation: row.get(4)?,
        status: JournalStatus::parse(&status).unwrap_or(JournalStatus::Started),
        remote_id: row.get(6)?,
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
        message: row.get(8)?,
        started_at: row.get(9)?,
        finished_at: row.get(10)?,
    })
}

const JOURNAL_COLUMNS: &str = "id, run_id, step, subject, operation, status, remote_id, detail, message, started_at, finished_at";

fn binding_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Binding> {
    Ok(Binding {
        otp_api_user: OtpUserName::new(row.get::<_, String>(0)?),
        caller: ProfileId::new(row.get::<_, String>(1)?),
        sealed_otp: row.get(2)?,
        otp_serial: row.get::<_, i64>(3)? as u64,
        checkout_id: RemoteId::new(row.get::<_, String>(4)?),
        bound_at: row.get(5)?,
        handed_off_at: row.get(6)?,
        login_started_at: row.get(7)?,
    })
}

const BINDING_COLUMNS: &str =
    "otp_api_user, caller, otp, otp_serial, checkout_id, bound_at, handed_off_at, login_started_at";

impl StateStore for SqliteState {
    fn identity(&mut self) -> anyhow::Result<Identity> {
        let path = self.path.clone();
        let get = |key: &str| -> anyhow::Result<String> {
            self.conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
                .on_state(&path)?
                .ok_or_else(|| corrupt(&path, "meta", format!("no {key}")))
        };
        let lineage = get("lineage")?;
        let serial = get("serial")?
            .parse()
            .map_err(|e| corrupt(&path, "meta", format!("serial: {e}")))?;
        Ok(Identity { lineage, serial })
    }

    fn load(&mut self) -> anyhow::Result<Recorded> {
        let path = self.path.clone();
        let tx = self.conn.transaction().on_state(&path)?;
        let mut recorded = Recorded::default();
        {
            let mut statement = tx
                .prepare(
                    "SELECT address, kind, team, grp, item, remote_id, requested_by, attributes FROM resources ORDER BY address",
                )
                .on_state(&path)?;
            let mut rows = statement.query([]).on_state(&path)?;
            // The member rows of one group share an address prefix, so they arrive together and
            // in profile order: they are gathered per run and stored with one lookup per group.
            let mut run: Option<(String, String)> = None;
            let mut members: Vec<ProfileId> = Vec::new();
            while let Some(row) = rows.next().on_state(&path)? {
                let text = |index: usize| -> anyhow::Result<Option<&str>> {
                    row.get_ref(index)
                        .and_then(|value| value.as_str_or_null().map_err(Into::into))
                        .on_state(&path)
                };
                let address = text(0)?.unwrap_or_default();
                let bad = |what: &str| corrupt(&path, address, what);
                let kind = text(1)?.ok_or_else(|| bad("no kind"))?;
                let team = text(2)?;
                let group = text(3)?;
                let item = text(4)?;
                if !address_matches(address, kind, team, group, item) {
                    return Err(bad(
                        "the row does not spell its own address: the file is damaged; restore it from a backup (pamform made no change)",
                    ));
                }
                match kind {
                    "member" => {
                        let team = team.ok_or_else(|| bad("no team"))?;
                        let group = group.ok_or_else(|| bad("no group"))?;
                        let member = item.ok_or_else(|| bad("no member"))?;
                        if run
                            .as_ref()
                            .is_none_or(|(t, g)| t.as_str() != team || g.as_str() != group)
                        {
                            if let Some((t, g)) = run.take() {
                                add_members(&mut recorded, &t, &g, &mut members);
                            }
                            run = Some((team.to_owned(), group.to_owned()));
                        }
                        members.push(ProfileId::new(member));
                    }
                    "group" | "privilege" => {
                        let team = team.ok_or_else(|| bad("no team"))?;
                        let group = group.ok_or_else(|| bad("no group"))?;
                        let privilege = match kind {
                            "privilege" => {
                                let token = item.ok_or_else(|| bad("no privilege"))?;
                                Some(
                                    Privilege::from_token(token)
                                        .ok_or_else(|| bad("unknown privilege"))?,
                                )
                            }
                            _ => None,
                        };
                        let g = group_mut(&mut recorded, team, group);
                        g.privileges.extend(privilege);
                    }
                    "team" => {
                        let team = team.ok_or_else(|| bad("no team"))?;
                        let requested_by = text(6)?.ok_or_else(|| bad("no requested_by"))?;
                        let attrs: TeamAttributes =
                            serde_json::from_str(text(7)?.ok_or_else(|| bad("no attributes"))?)
                                .map_err(|e| bad(&e.to_string()))?;
                        let entry = team_mut(&mut recorded, team);
                        entry.state.description = attrs.description;
                        entry.requested_by = ProfileId::new(requested_by);
                    }
                    "otp_api_user" => {
                        let (name, user) = parse_otp_api_user(
                            &path,
                            address,
                            item.map(str::to_owned),
                            text(5)?.map(str::to_owned),
                            text(6)?.map(str::to_owned),
                            text(7)?.unwrap_or_default(),
                        )?;
                        recorded.otp_api_users.insert(name, user);
                    }
                    "checkout" => {
                        let name = OtpUserName::new(item.ok_or_else(|| bad("no name"))?);
                        let attrs: CheckoutAttributes =
                            serde_json::from_str(text(7)?.unwrap_or_default())
                                .map_err(|e| bad(&e.to_string()))?;
                        recorded.checkouts.insert(
                            name,
                            RecordedCheckout {
                                spec: CheckoutSpec {
                                    requested_by: attrs.requested_by,
                                    approved_by: attrs.approved_by.into_iter().collect(),
                                },
                                otp_guid: attrs.otp_guid,
                                request_id: attrs.request_id,
                                checkout_id: RemoteId::new(
                                    text(5)?.ok_or_else(|| bad("no check-out ID"))?,
                                ),
                                bound_at: attrs.bound_at,
                            },
                        );
                    }
                    other => return Err(bad(&format!("unknown kind {other:?}"))),
                }
            }
            if let Some((t, g)) = run.take() {
                add_members(&mut recorded, &t, &g, &mut members);
            }
        }
        tx.finish().on_state(&path)?;
        Ok(recorded)
    }

    fn resources(&mut self) -> anyhow::Result<Vec<ResourceRow>> {
        let path = self.path.clone();
        let mut statement = self
            .conn
            .prepare(
                "SELECT address, remote_id, requested_by, attributes, serial FROM resources ORDER BY address",
            )
            .on_state(&path)?;
        let rows = statement
            .query_map([], |row| {
                let attributes: String = row.get(3)?;
                Ok(ResourceRow {
                    address: row.get(0)?,
                    remote_id: row.get(1)?,
                    requested_by: row.get(2)?,
                    attributes: serde_json::from_str(&attributes)
                        .unwrap_or(serde_json::Value::String(attributes)),
                    serial: row.get::<_, i64>(4)? as u64,
                })
            })
            .on_state(&path)?;
        let mut out: Vec<ResourceRow> = rows.collect::<Result<_, _>>().on_state(&path)?;
        // SQL orders by byte; sort by parsed address so groups come before their members.
        let mut keyed: BTreeMap<(Option<crate::model::Address>, String), ResourceRow> =
            BTreeMap::new();
        for row in out.drain(..) {
            keyed.insert((row.address.parse().ok(), row.address.clone()), row);
        }
        Ok(keyed.into_values().collect())
    }

    fn begin_step(&mut self, intent: &StepIntent) -> anyhow::Result<i64> {
        let ids = self.begin_steps(std::slice::from_ref(intent))?;
        ids.first().copied().ok_or_else(|| {
            anyhow!(
                "state file {}: no journal entry written",
                self.path.display()
            )
        })
    }

    fn begin_steps(&mut self, intents: &[StepIntent]) -> anyhow::Result<Vec<i64>> {
        // Applying writes many pages: a 64 MiB page cache (SQLite's default is 2 MiB). Plans
        // scan in order and keep the small default, which costs less to fill.
        let path = self.path.clone();
        self.conn
            .pragma_update(None, "cache_size", -65536)
            .on_state(&path)?;
        let now = now_rfc3339();
        self.write_tx(|tx, _| {
            let mut insert = tx.prepare_cached(
                "INSERT INTO journal (run_id, step, subject, operation, status, detail, started_at)
                 VALUES (?1, ?2, ?3, ?4, 'started', ?5, ?6)",
            )?;
            let mut ids = Vec::with_capacity(intents.len());
            for intent in intents {
                insert.execute(params![
                    intent.run_id,
                    intent.step as i64,
                    intent.subject.to_string(),
                    intent.operation,
                    intent.detail.to_string(),
                    now
                ])?;
                ids.push(tx.last_insert_rowid());
            }
            Ok(ids)
        })
    }

    fn finish_steps(&mut self, results: &[super::StepResult]) -> anyhow::Result<()> {
        let now = now_rfc3339();
        self.write_tx(|tx, serial| {
            for result in results {
                apply_writes(tx, serial, &result.writes)?;
                tx.prepare_cached(
                    "UPDATE journal SET status = ?1, message = ?2, finished_at = ?3,
                     remote_id = coalesce(?4, remote_id) WHERE id = ?5",
                )?
                .execute(params![
                    result.status.as_str(),
                    result.message,
                    now,
                    result.remote_id.as_ref().map(|r| r.as_str()),
                    result.entry
                ])?;
            }
            Ok(())
        })
    }

    fn note_remote_id(&mut self, entry: i64, remote_id: &RemoteId) -> anyhow::Result<()> {
        self.write_tx(|tx, _| {
            tx.execute(
                "UPDATE journal SET remote_id = ?1 WHERE id = ?2",
                params![remote_id.as_str(), entry],
            )?;
            Ok(())
        })
    }

    fn finish_step(
        &mut self,
        entry: i64,
        status: JournalStatus,
        writes: &[StateWrite],
        message: Option<&str>,
    ) -> anyhow::Result<()> {
        self.finish_steps(&[super::StepResult {
            entry,
            status,
            writes: writes.to_vec(),
            message: message.map(str::to_string),
            remote_id: None,
        }])
    }

    fn in_doubt(&mut self) -> anyhow::Result<Vec<JournalEntry>> {
        self.rows(
            &format!("SELECT {JOURNAL_COLUMNS} FROM journal WHERE status = 'started' ORDER BY id"),
            [],
            journal_row,
        )
    }

    fn journal(&mut self, limit: usize) -> anyhow::Result<Vec<JournalEntry>> {
        self.rows(
            &format!(
                "SELECT {JOURNAL_COLUMNS} FROM (SELECT * FROM journal ORDER BY id DESC LIMIT ?1) ORDER BY id"
            ),
            [limit as i64],
            journal_row,
        )
    }

    fn write(&mut self, writes: &[StateWrite]) -> anyhow::Result<()> {
        self.write_tx(|tx, serial| apply_writes(tx, serial, writes))
    }

    fn binding(&mut self, name: &OtpUserName) -> anyhow::Result<Option<Binding>> {
        let path = self.path.clone();
        self.conn
            .query_row(
                &format!("SELECT {BINDING_COLUMNS} FROM bindings WHERE otp_api_user = ?1"),
                [name.as_str()],
                binding_row,
            )
            .optional()
            .on_state(&path)
    }

    fn bindings(&mut self) -> anyhow::Result<Vec<Binding>> {
        self.rows(
            &format!("SELECT {BINDING_COLUMNS} FROM bindings ORDER BY otp_api_user"),
            [],
            binding_row,
        )
    }

    fn otp_api_users(&mut self) -> anyhow::Result<BTreeMap<OtpUserName, RecordedOtpApiUser>> {
        let path = self.path.clone();
        let mut statement = self
            .conn
            .prepare(
                "SELECT address, item, remote_id, requested_by, attributes FROM resources WHERE kind = 'otp_api_user' ORDER BY address",
            )
            .on_state(&path)?;
        let mut rows = statement.query([]).on_state(&path)?;
        let mut users = BTreeMap::new();
        while let Some(row) = rows.next().on_state(&path)? {
            let address: String = row.get(0).on_state(&path)?;
            let item: Option<String> = row.get(1).on_state(&path)?;
            let remote_id: Option<String> = row.get(2).on_state(&path)?;
            let requested_by: Option<String> = row.get(3).on_state(&path)?;
            let attributes: String = row.get(4).on_state(&path)?;
            let (name, user) =
                parse_otp_api_user(&path, &address, item, remote_id, requested_by, &attributes)?;
            users.insert(name, user);
        }
        Ok(users)
    }

    fn begin_login(&mut self, name: &OtpUserName, otp_serial: u64) -> anyhow::Result<()> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .on_state(&path)?;
        let changed = tx
            .execute(
                "UPDATE bindings SET login_started_at = ?1 WHERE otp_api_user = ?2 AND otp_serial = ?3",
                params![now_rfc3339(), name.as_str(), otp_serial as i64],
            )
            .on_state(&path)?;
        if changed != 1 {
            bail!(
                "the binding of otp_api_user.{name} changed while it was being used (another process rotated it, or it was retired)"
            );
        }
        tx.commit().on_state(&path)
    }

    fn finish_login(
        &mut self,
        name: &OtpUserName,
        otp_serial: u64,
        sealed_next: &[u8],
    ) -> anyhow::Result<()> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .on_state(&path)?;
        let changed = tx
            .execute(
                "UPDATE bindings SET otp = ?1, otp_serial = ?2, login_started_at = NULL WHERE otp_api_user = ?3 AND otp_serial = ?4",
                params![sealed_next, (otp_serial + 1) as i64, name.as_str(), otp_serial as i64],
            )
            .on_state(&path)?;
        if changed != 1 {
            bail!(
                "the binding of otp_api_user.{name} changed during a login; the next one-time password could not be stored"
            );
        }
        tx.commit().on_state(&path)
    }

    fn hand_off(&mut self, name: &OtpUserName, at: &str) -> anyhow::Result<()> {
        self.write_tx(|tx, _| {
            tx.execute(
                "UPDATE bindings SET handed_off_at = ?1 WHERE otp_api_user = ?2",
                params![at, name.as_str()],
            )?;
            tx.execute(
                "DELETE FROM lookup_cache WHERE otp_api_user = ?1",
                params![name.as_str()],
            )?;
            Ok(())
        })
    }

    fn retire(&mut self, name: &OtpUserName) -> anyhow::Result<bool> {
        self.write_tx(|tx, _| {
            let bindings = tx.execute(
                "DELETE FROM bindings WHERE otp_api_user = ?1",
                params![name.as_str()],
            )?;
            let checkouts = tx.execute(
                "DELETE FROM resources WHERE address = ?1",
                params![format!("checkout.{name}")],
            )?;
            tx.execute(
                "DELETE FROM lookup_cache WHERE otp_api_user = ?1",
                params![name.as_str()],
            )?;
            Ok(bindings + checkouts > 0)
        })
    }

    fn cached_password(
        &mut self,
        name: &OtpUserName,
        account: &str,
        now: i64,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        let path = self.path.clone();
        self.conn
            .query_row(
                "SELECT password FROM lookup_cache WHERE otp_api_user = ?1 AND account = ?2 AND expires_at > ?3",
                params![name.as_str(), account, now],
                |r| r.get(0),
            )
            .optional()
            .on_state(&path)
    }

    fn cache_password(
        &mut self,
        name: &OtpUserName,
        account: &str,
        sealed: &[u8],
        expires_at: i64,
    ) -> anyhow::Result<()> {
        let path = self.path.clone();
        self.conn
            .execute(
                "INSERT OR REPLACE INTO lookup_cache (otp_api_user, account, password, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![name.as_str(), account, sealed, expires_at],
            )
            .on_state(&path)?;
        Ok(())
    }

    fn record_audit(&mut self, entry: &AuditEntry) -> anyhow::Result<()> {
        self.write_tx(|tx, _| {
            tx.execute(
                "INSERT INTO audit (at, actor, host, command, run_id, summary) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    entry.at,
                    entry.actor,
                    entry.host,
                    entry.command,
                    entry.run_id,
                    entry.summary
                ],
            )?;
            Ok(())
        })
    }

    fn audit_log(&mut self) -> anyhow::Result<Vec<AuditEntry>> {
        self.rows(
            "SELECT at, actor, host, command, run_id, summary FROM audit ORDER BY id",
            [],
            |row| {
                Ok(AuditEntry {
                    at: row.get(0)?,
                    actor: row.get(1)?,
                    host: row.get(2)?,
                    command: row.get(3)?,
                    run_id: row.get(4)?,
                    summary: row.get(5)?,
                })
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{GroupState, TeamState};

    fn team_record() -> RecordedTeam {
        let mut groups = std::collections::BTreeMap::new();
        groups.insert(
            GroupName::new("Trustees"),
            GroupState {
                privileges: [Privilege::TeamTrustees].into(),
                members: [ProfileId::new("alice")].into(),
            },
        );
        RecordedTeam {
            state: TeamState {
                description: "Corporate".into(),
                groups,
            },
            requested_by: ProfileId::new("alice"),
        }
    }

    #[test]
    fn writes_round_trip_and_bump_serial() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let mut state = SqliteState::open(&path).unwrap();
        let before = state.identity().unwrap();
        assert_eq!(before.serial, 0);
        let team = TeamId::new("CORP-AD");
        state
            .write(&[StateWrite::PutTeam {
                team: team.clone(),
                record: team_record(),
            }])
            .unwrap();
        let after = state.identity().unwrap();
        assert_eq!(after.serial, 1);
        assert_eq!(after.lineage, before.lineage);
        let recorded = state.load().unwrap();
        assert_eq!(recorded.teams.get(&team), Some(&team_record()));
        let rows = state.resources().unwrap();
        let addresses: Vec<&str> = rows.iter().map(|r| r.address.as_str()).collect();
        assert_eq!(
            addresses,
            [
                "team.CORP-AD",
                "group.CORP-AD/Trustees",
                "privilege.CORP-AD/Trustees/Team_Trustees",
                "member.CORP-AD/Trustees/alice"
            ]
        );
        state
            .write(&[StateWrite::RemoveTeam { team: team.clone() }])
            .unwrap();
        assert!(state.load().unwrap().teams.is_empty());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn rows_must_spell_their_address() {
        let cases = [
            ("team.T", "team", Some("T"), None, None, true),
            ("group.T/G 1", "group", Some("T"), Some("G 1"), None, true),
            (
                "member.T/G/bob",
                "member",
                Some("T"),
                Some("G"),
                Some("bob"),
                true,
            ),
            (
                "member.T/G/bob",
                "member",
                Some("T"),
                Some("G"),
                Some("bxb"),
                false,
            ),
            (
                "member.T/G/bob",
                "member",
                Some("T"),
                Some("H"),
                Some("bob"),
                false,
            ),
            (
                "member.T/G/bobx",
                "member",
                Some("T"),
                Some("G"),
                Some("bob"),
                false,
            ),
            (
                "privilege.T/G/Requesters",
                "privilege",
                Some("T"),
                Some("G"),
                Some("Requesters"),
                true,
            ),
            ("checkout.x", "checkout", None, None, Some("x"), true),
            ("checkout.x", "otp_api_user", None, None, Some("x"), false),
            ("team.T", "team", None, None, None, false),
        ];
        for (address, kind, team, group, item, ok) in cases {
            assert_eq!(
                address_matches(address, kind, team, group, item),
                ok,
                "{address}"
            );
        }
    }

    #[test]
    fn refuses_foreign_and_newer_files() {
        let dir = tempfile::tempdir().unwrap();
        let foreign = dir.path().join("foreign.db");
        {
            let conn = Connection::open(&foreign).unwrap();
            conn.execute_batch("CREATE TABLE t (x); PRAGMA application_id = 7;")
                .unwrap();
        }
        let err = SqliteState::open(&foreign).err().unwrap().to_string();
        assert!(err.contains("not a pamform state file"), "{err}");

        let newer = dir.path().join("newer.db");
        drop(SqliteState::open(&newer).unwrap());
        {
            let conn = Connection::open(&newer).unwrap();
            conn.pragma_update(None, "user_version", CURRENT + 1)
                .unwrap();
        }
        let err = SqliteState::open(&newer).err().unwrap().to_string();
        assert!(err.contains("newer pamform"), "{err}");

        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
        let err = SqliteState::open(&garbage).err().unwrap().to_string();
        assert!(err.contains("not a pamform state file"), "{err}");
    }

    #[test]
    fn journal_keeps_steps_in_doubt() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = SqliteState::open(&dir.path().join("s.db")).unwrap();
        let intent = StepIntent {
            run_id: "r1".into(),
            step: 0,
            subject: "checkout.x".parse().unwrap(),
            operation: "CHECKOUT".into(),
            detail: serde_json::json!({"k": 1}),
        };
        let a = state.begin_step(&intent).unwrap();
        let b = state.begin_step(&intent).unwrap();
        state.note_remote_id(a, &RemoteId::new("REQ-1")).unwrap();
        state
            .finish_step(b, JournalStatus::Done, &[], None)
            .unwrap();
        let doubt = state.in_doubt().unwrap();
        assert_eq!(doubt.len(), 1);
        assert_eq!(doubt[0].id, a);
        assert_eq!(doubt[0].remote_id.as_deref(), Some("REQ-1"));
        assert_eq!(doubt[0].detail, serde_json::json!({"k": 1}));
    }
}
