//! What `pamform target show` and `pamform target log` print: the whole target with secrets
//! masked, and the request log.
//!
//! Invariants: field names are stable (they are a JSON format); every list has a deterministic
//! order (IDs, or creation order for requests, check-outs and log entries); no secret is ever read
//! here: password fields hold the constant [`MASK`].

use std::fmt::Write as _;

use rusqlite::Connection;
use serde::Serialize;

use super::{ledger, otp, store, values};
use crate::model::Policy;

/// What a masked secret shows.
pub const MASK: &str = "********";

/// Everything in the target, secrets masked.
#[derive(Clone, Debug, Serialize)]
pub struct TargetDump {
    pub path: String,
    pub policy: Policy,
    pub profiles: Vec<ProfileDump>,
    pub systems: Vec<String>,
    pub accounts: Vec<AccountDump>,
    pub teams: Vec<TeamDump>,
    pub otp_api_users: Vec<OtpApiUserDump>,
    pub checkout_requests: Vec<CheckoutRequestDump>,
    pub checkouts: Vec<CheckoutDump>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ProfileDump {
    pub id: String,
    pub name: String,
    pub team_admin: bool,
    /// Whether the profile is an OTP API caller.
    pub otp_caller: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct AccountDump {
    pub guid: String,
    pub system: String,
    pub account: String,
    pub team: Option<String>,
    pub policy: String,
    /// Always [`MASK`].
    pub password: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct TeamDump {
    pub id: String,
    pub description: String,
    pub holdings: u64,
    pub groups: Vec<GroupDump>,
}

#[derive(Clone, Debug, Serialize)]
pub struct GroupDump {
    pub name: String,
    pub privileges: Vec<String>,
    pub members: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct OtpApiUserDump {
    pub guid: String,
    pub team: String,
    pub description: String,
    pub caller: String,
    pub vault_account: String,
    pub allowed_network: String,
    pub accounts: Vec<String>,
    /// Successful logins so far (each one rotated the one-time password).
    pub rotations: u64,
    /// How many one-time passwords log in now (the current one and kept previous ones).
    pub valid_otps: u64,
    /// Always [`MASK`].
    pub otp: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct CheckoutRequestDump {
    pub request_id: String,
    pub account: String,
    pub requester: String,
    /// `pending`, `approved`, `denied`, `checked out` or `closed`.
    pub status: String,
    pub approvals_needed: u32,
    pub approved_by: Vec<String>,
    pub checkout_id: Option<String>,
    pub requested_at: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct CheckoutDump {
    pub checkout_id: String,
    pub request_id: String,
    pub account: String,
    pub holder: String,
    /// `open`, `checked in` or `expired`.
    pub state: String,
    pub opened_at: String,
    pub expires_at: String,
    pub closed_at: Option<String>,
}

/// One entry of the request log: who asked for what, and what came of it. Never a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    pub seq: u64,
    pub at: String,
    /// `TEAM-UPDATE`, `CREATE_PAMUTIL_API_USER`, `CHECKOUT-REQUEST`, `APPROVE`, `CHECKOUT`,
    /// `RETRIEVE-PASSWORD`, `CHECKIN`, `EXPIRE`, `OTP-LOGIN`, `READ-PASSWORD`, `SEED`, ...
    pub kind: String,
    pub submitter: String,
    pub object: String,
    /// The batch, request, check-out or session ID the entry concerns.
    pub reference: Option<String>,
    /// `done`, `done: ...`, `denied: ...`, `refused: ...`, `rejected: ...` or `not found: ...`.
    pub outcome: String,
}

pub fn dump(conn: &Connection, now: i64, path: String) -> anyhow::Result<TargetDump> {
    let policy = store::policy(conn)?;
    let users = otp::users(conn, |_, _| true)?;

    let mut profiles = Vec::new();
    {
        let mut statement =
            conn.prepare("SELECT id, name, team_admin FROM profiles ORDER BY id")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let id: String = row.get(0)?;
            let otp_caller = users.iter().any(|u| u.caller.as_str() == id);
            profiles.push(ProfileDump {
                id,
                name: row.get(1)?,
                team_admin: row.get(2)?,
                otp_caller,
            });
        }
    }

    let systems = {
        let mut statement = conn.prepare("SELECT id FROM systems ORDER BY id")?;
        let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };

    let account_rows = store::all_accounts(conn)?;
    let accounts = account_rows
        .iter()
        .map(|row| AccountDump {
            guid: row.guid.clone(),
            system: row.account.system.to_string(),
            account: row.account.account.to_string(),
            team: row.team.as_ref().map(ToString::to_string),
            policy: row.policy.clone(),
            password: MASK,
        })
        .collect();
    let account_name = |guid: &str| {
        account_rows
            .iter()
            .find(|row| row.guid == guid)
            .map_or_else(|| guid.to_owned(), |row| row.account.to_string())
    };

    let holdings = store::all_holdings(conn)?;
    let teams = store::teams(conn, None)?
        .into_iter()
        .map(|(id, state)| TeamDump {
            holdings: holdings.get(id.as_str()).copied().unwrap_or(0),
            id: id.to_string(),
            description: state.description,
            groups: state
                .groups
                .into_iter()
                .map(|(name, group)| GroupDump {
                    name: name.to_string(),
                    privileges: group
                        .privileges
                        .iter()
                        .map(|p| p.token().to_owned())
                        .collect(),
                    members: group.members.iter().map(ToString::to_string).collect(),
                })
                .collect(),
        })
        .collect();

    let mut otp_api_users = Vec::new();
    for user in &users {
        otp_api_users.push(OtpApiUserDump {
            guid: user.guid.clone(),
            team: user.team.to_string(),
            description: user.description.clone(),
            caller: user.caller.to_string(),
            vault_account: account_name(&user.vault_guid),
            allowed_network: user.allowed_network.clone(),
            accounts: otp::grants(conn, &user.guid)?
                .iter()
                .map(ToString::to_string)
                .collect(),
            rotations: user.rotations,
            valid_otps: otp::valid_count(conn, user.caller.as_str())?,
            otp: MASK,
        });
    }

    let mut checkout_requests = Vec::new();
    for row in ledger::all(conn)? {
        checkout_requests.push(CheckoutRequestDump {
            approved_by: ledger::approvers(conn, &row.request_id)?
                .iter()
                .map(ToString::to_string)
                .collect(),
            status: row.status(now).to_string(),
            request_id: row.request_id,
            account: row.account.account.to_string(),
            requester: row.requester.to_string(),
            approvals_needed: row.needed,
            checkout_id: row.checkout_id,
            requested_at: values::rfc3339(row.requested_at),
        });
    }

    let checkouts = ledger::all_checkouts(conn)?
        .into_iter()
        .map(|row| CheckoutDump {
            state: match (&row.close_reason, row.expires_at > now) {
                (Some(reason), _) => reason.clone(),
                (None, true) => "open".to_owned(),
                (None, false) => "expired".to_owned(),
            },
            account: account_name(&row.account_guid),
            checkout_id: row.checkout_id,
            request_id: row.request_id,
            holder: row.holder.to_string(),
            opened_at: values::rfc3339(row.opened_at),
            expires_at: values::rfc3339(row.expires_at),
            closed_at: row.closed_at.map(values::rfc3339),
        })
        .collect();

    Ok(TargetDump {
        path,
        policy,
        profiles,
        systems,
        accounts,
        teams,
        otp_api_users,
        checkout_requests,
        checkouts,
    })
}

pub fn log(conn: &Connection) -> anyhow::Result<Vec<LogEntry>> {
    let mut statement = conn.prepare(
        "SELECT seq, at, kind, submitter, object, reference, outcome FROM request_log ORDER BY seq",
    )?;
    let rows = statement.query_map([], |row| {
        Ok(LogEntry {
            seq: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
            at: values::rfc3339(row.get(1)?),
            kind: row.get(2)?,
            submitter: row.get(3)?,
            object: row.get(4)?,
            reference: row.get(5)?,
            outcome: row.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

impl TargetDump {
    /// The dump for people: one section per kind of object, secrets shown as [`MASK`].
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_text(&mut out);
        out
    }

    fn write_text(&self, out: &mut String) -> std::fmt::Result {
        writeln!(out, "Embedded target {}", self.path)?;
        writeln!(
            out,
            "Policy: {} approval(s) per check-out, OTP maximum {}, check-out window {} minutes",
            self.policy.min_authorizers, self.policy.otp_maximum, self.policy.checkout_minutes
        )?;
        writeln!(out, "\nProfiles ({}):", self.profiles.len())?;
        for p in &self.profiles {
            let mut tags = Vec::new();
            if p.team_admin {
                tags.push("team admin");
            }
            if p.otp_caller {
                tags.push("OTP API caller");
            }
            let tags = if tags.is_empty() {
                String::new()
            } else {
                format!(" [{}]", tags.join(", "))
            };
            writeln!(out, "  {} ({}){tags}", p.id, p.name)?;
        }
        writeln!(
            out,
            "\nManaged systems ({}): {}",
            self.systems.len(),
            self.systems.join(", ")
        )?;
        writeln!(out, "\nManaged accounts ({}):", self.accounts.len())?;
        for a in &self.accounts {
            writeln!(
                out,
                "  {}/{}  team {}  policy {}  password {}  guid {}",
                a.system,
                a.account,
                a.team.as_deref().unwrap_or("-"),
                a.policy,
                a.password,
                a.guid
            )?;
        }
        writeln!(out, "\nTeams ({}):", self.teams.len())?;
        for t in &self.teams {
            writeln!(
                out,
                "  {} ({:?}), holdings {}",
                t.id, t.description, t.holdings
            )?;
            for g in &t.groups {
                writeln!(
                    out,
                    "    group {:?}: privileges [{}]; members [{}]",
                    g.name,
                    g.privileges.join(", "),
                    g.members.join(", ")
                )?;
            }
        }
        writeln!(out, "\nOTP API users ({}):", self.otp_api_users.len())?;
        for u in &self.otp_api_users {
            writeln!(out, "  {} ({:?}) team {}", u.caller, u.description, u.team)?;
            writeln!(
                out,
                "    vault account {}; allowed network {}; accounts [{}]",
                u.vault_account,
                u.allowed_network,
                u.accounts.join(", ")
            )?;
            writeln!(
                out,
                "    one-time password {} ({} valid); {} rotation(s)",
                u.otp, u.valid_otps, u.rotations
            )?;
        }
        writeln!(
            out,
            "\nCheck-out requests ({}):",
            self.checkout_requests.len()
        )?;
        for r in &self.checkout_requests {
            writeln!(
                out,
                "  {} {} by {}: {} (needs {}, approved by [{}]){} at {}",
                r.request_id,
                r.account,
                r.requester,
                r.status,
                r.approvals_needed,
                r.approved_by.join(", "),
                r.checkout_id
                    .as_ref()
                    .map(|c| format!(", check-out {c}"))
                    .unwrap_or_default(),
                r.requested_at
            )?;
        }
        writeln!(out, "\nCheck-outs ({}):", self.checkouts.len())?;
        for c in &self.checkouts {
            writeln!(
                out,
                "  {} {} held by {}: {} (opened {}, expires {}{})",
                c.checkout_id,
                c.account,
                c.holder,
                c.state,
                c.opened_at,
                c.expires_at,
                c.closed_at
                    .as_ref()
                    .map(|t| format!(", closed {t}"))
                    .unwrap_or_default()
            )?;
        }
        Ok(())
    }
}
