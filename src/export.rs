//! Export of a plan as the product's request batches (`pamform export --format bravura-batch`):
//! one CSV per PDR ID, for "Submit a request batch via CSV", and a `README.txt` listing every step
//! in apply order with the manual ones (check-outs) spelled out.
//!
//! Format: one header row of attribute keys, one row per request, every field quoted with double
//! quotes (inner quotes doubled), multi-values comma-joined, CRLF line ends (RFC 4180, and what
//! the product's Windows tooling expects). `README.txt` uses LF. Files are numbered in the apply
//! order of each PDR's first step (`1-TEAM-UPDATE.csv`, `2-CREATE_PAMUTIL_API_USER.csv`); rows
//! are in apply order. When rows of one PDR carry different groups, the header is the union:
//! the fixed keys in the product's order, then `<group>_PRIVILEGES`, `<group>_MEMBERS` by group
//! name; cells a row does not have are empty quoted strings.
//!
//! What is not exported, and listed in `README.txt` instead: check-outs (not a PDR: request,
//! approval and check-out by people), imports and state-only steps (nothing to submit).
//!
//! Limits (also in the README and in every `README.txt`):
//! - The product identifies members by profile GUIDs, which pamform does not know: `<group>_MEMBERS`
//!   holds profile IDs, to be replaced by GUIDs before submitting if the instance requires them.
//! - An OTP API user's GUID (`PAM_UTIL_<guid>`) is assigned by the product when the request runs,
//!   so a check-out of a user created by the same export cannot name its account in advance.
//! - An export is a snapshot of one plan, computed against the target pamform is configured
//!   for. Apply order matters (a team update before the OTP API user that needs its trustee):
//!   submit the files in their numbered order, and rows of different submitters separately.
//!   Submitting them does not update pamform's state: plan again afterwards, and `[[import]]` what
//!   the batches created.
//!
//! Invariants: deterministic (the same plan and observation give the same bytes); a refused plan
//! is never exported; OUTDIR must be new or empty, so an export never mixes with an older one;
//! `README.txt` is written last, so its presence means the export is complete.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::model::{
    DEFAULT_ALLOWED_NETWORK, GroupName, Observed, ProfileId, Request, RequestKind, TeamState,
};
use crate::output::text::{counts_line, step_heading};
use crate::plan::{Operation, Plan, Step};

/// The file written beside the CSVs.
pub const README_NAME: &str = "README.txt";

/// The line end of CSV files.
pub const CSV_LINE_END: &str = "\r\n";

/// The group attribute a key carries; `_PRIVILEGES` sorts before `_MEMBERS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum GroupField {
    Privileges,
    Members,
}

/// An attribute key of a batch row. The derived order is the header order: the fixed keys in
/// the product's order, then the group keys by group name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    /// A fixed key, ranked by its place in the product's documentation.
    Fixed(u8, &'static str),
    /// `<group>_PRIVILEGES` or `<group>_MEMBERS`.
    Group(GroupName, GroupField),
}

const TC: Key = Key::Fixed(0, "TC");
const TC_DESC: Key = Key::Fixed(1, "TC_DESC");
const TC_GROUPS: Key = Key::Fixed(2, "TC_GROUPS");
const MS_TEAM: Key = Key::Fixed(0, "MS_TEAM");
const OTP_ACCOUNT_DESCRIPTION: Key = Key::Fixed(1, "OTP_ACCOUNT_DESCRIPTION");
const SELECT_MULTI_MA: Key = Key::Fixed(2, "SELECT_MULTI_MA");

impl Key {
    fn privileges(group: &GroupName) -> Key {
        Key::Group(group.clone(), GroupField::Privileges)
    }

    fn members(group: &GroupName) -> Key {
        Key::Group(group.clone(), GroupField::Members)
    }

    /// The key as the product spells it.
    pub fn name(&self) -> String {
        match self {
            Key::Fixed(_, name) => (*name).to_string(),
            Key::Group(group, GroupField::Privileges) => {
                format!("{group}_PRIVILEGES")
            }
            Key::Group(group, GroupField::Members) => format!("{group}_MEMBERS"),
        }
    }
}

/// One request of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The index of the plan step it carries.
    pub step: usize,
    pub submitter: Option<ProfileId>,
    pub cells: BTreeMap<Key, String>,
}

/// The requests of one PDR ID, in apply order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    pub kind: RequestKind,
    pub rows: Vec<Row>,
}

impl Batch {
    /// The file name: `<n>-<PDR ID>.csv`, `n` counting from 1 in apply order.
    pub fn file_name(&self, number: usize) -> String {
        format!("{number}-{}.csv", self.kind.id())
    }

    /// The union of the rows' keys, in header order.
    pub fn header(&self) -> Vec<Key> {
        let keys: BTreeSet<&Key> = self.rows.iter().flat_map(|r| r.cells.keys()).collect();
        keys.into_iter().cloned().collect()
    }

    /// The CSV text: header, then one row per request, every field quoted, CRLF line ends.
    pub fn to_csv(&self) -> String {
        let header = self.header();
        let mut text = String::new();
        let names: Vec<String> = header.iter().map(Key::name).collect();
        push_record(&mut text, names.iter().map(String::as_str));
        for row in &self.rows {
            push_record(
                &mut text,
                header
                    .iter()
                    .map(|k| row.cells.get(k).map(String::as_str).unwrap_or("")),
            );
        }
        text
    }
}

/// Quotes one CSV field: in double quotes, inner quotes doubled.
pub fn quote(field: &str) -> String {
    format!("\"{}\"", field.replace('"', "\"\""))
}

fn push_record<'a>(text: &mut String, fields: impl Iterator<Item = &'a str>) {
    let fields: Vec<String> = fields.map(quote).collect();
    text.push_str(&fields.join(","));
    text.push_str(CSV_LINE_END);
}

/// Joins a multi-value the way the batch format wants it; a value holding a comma cannot be
/// carried and is an error naming it.
fn join<T: std::fmt::Display>(
    what: &str,
    items: impl IntoIterator<Item = T>,
) -> anyhow::Result<String> {
    let mut values = Vec::new();
    for item in items {
        let value = item.to_string();
        if value.contains(',') {
            bail!(
                "{what} {value:?} contains a comma, which the batch format's comma-joined values cannot carry"
            );
        }
        values.push(value);
    }
    Ok(values.join(","))
}

fn team_cells(
    team: &crate::model::TeamId,
    state: &TeamState,
) -> anyhow::Result<BTreeMap<Key, String>> {
    let mut cells = BTreeMap::new();
    cells.insert(TC, team.to_string());
    cells.insert(TC_DESC, state.description.clone());
    cells.insert(TC_GROUPS, join("group name", state.groups.keys())?);
    for (group, members) in &state.groups {
        cells.insert(
            Key::privileges(group),
            join("privilege", &members.privileges)?,
        );
        cells.insert(Key::members(group), join("profile ID", &members.members)?);
    }
    Ok(cells)
}

/// The attribute cells of one request.
fn cells(request: &Request, observed: &Observed) -> anyhow::Result<BTreeMap<Key, String>> {
    match request {
        Request::TeamCreate { team, state } | Request::TeamUpdate { team, state } => {
            team_cells(team, state)
        }
        Request::TeamMembers { team, groups } => {
            let mut cells = BTreeMap::new();
            cells.insert(TC, team.to_string());
            cells.insert(TC_GROUPS, join("group name", groups.keys())?);
            for (group, members) in groups {
                cells.insert(Key::members(group), join("profile ID", members)?);
            }
            Ok(cells)
        }
        Request::TeamDelete { team } => Ok(BTreeMap::from([(TC, team.to_string())])),
        Request::CreateOtpApiUser { spec } => {
            let mut guids = Vec::new();
            for account in &spec.accounts {
                let observed = observed.accounts.get(account).with_context(|| {
                    format!("the target reports no managed account {account}, so its GUID for SELECT_MULTI_MA is unknown")
                })?;
                guids.push(observed.guid.clone());
            }
            let mut cells = BTreeMap::new();
            cells.insert(MS_TEAM, spec.team.to_string());
            cells.insert(OTP_ACCOUNT_DESCRIPTION, spec.description.clone());
            cells.insert(SELECT_MULTI_MA, join("managed account GUID", guids)?);
            Ok(cells)
        }
    }
}

/// The batches of a plan, one per PDR ID, ordered by each PDR's first step. Fails on a refused
/// plan, and on a value the format cannot carry.
pub fn batches(plan: &Plan, observed: &Observed) -> anyhow::Result<Vec<Batch>> {
    if plan.is_refused() {
        bail!(
            "the plan is refused ({} reason(s)); a refused plan is never exported",
            plan.refusals.len()
        );
    }
    let mut batches: Vec<Batch> = Vec::new();
    for (index, step) in plan.steps.iter().enumerate() {
        let Operation::Submit { request, .. } = &step.operation else {
            continue;
        };
        let row = Row {
            step: index,
            submitter: step.submitter.clone(),
            cells: cells(request, observed).with_context(|| {
                format!("cannot export step {}: {}", index + 1, step_heading(step))
            })?,
        };
        match batches.iter_mut().find(|b| b.kind == request.kind()) {
            Some(batch) => batch.rows.push(row),
            None => batches.push(Batch {
                kind: request.kind(),
                rows: vec![row],
            }),
        }
    }
    Ok(batches)
}

/// What a person does for a step that is not in a CSV.
fn manual_step(step: &Step, plan: &Plan) -> String {
    match &step.operation {
        Operation::Checkout {
            otp_api_user,
            spec,
            vault_account,
            ..
        } => {
            let account = match vault_account {
                Some(account) => {
                    format!("{account} (the PAM_UTIL account of otp_api_user.{otp_api_user})")
                }
                None => {
                    let created = plan.steps.iter().position(|s| {
                        matches!(
                            &s.operation,
                            Operation::Submit {
                                request: Request::CreateOtpApiUser { .. },
                                ..
                            }
                        ) && s.subject == crate::model::Address::OtpApiUser(otp_api_user.clone())
                    });
                    match created {
                        Some(i) => format!(
                            "the PAM_UTIL_<guid> account of otp_api_user.{otp_api_user} (the product assigns the GUID when step {} runs)",
                            i + 1
                        ),
                        None => {
                            format!("the PAM_UTIL_<guid> account of otp_api_user.{otp_api_user}")
                        }
                    }
                }
            };
            let approvers: Vec<String> = spec.approved_by.iter().map(ToString::to_string).collect();
            let approval = if approvers.is_empty() {
                "no approval needed".to_string()
            } else {
                format!("approved by {}", approvers.join(", "))
            };
            format!(
                "manual: request check-out of {account} as {}, {approval}; check it out and initialise pamutil with the password disclosed (runwithpass -initial). Check it out ONCE: a second check-out randomizes it and breaks every application using it.",
                spec.requested_by
            )
        }
        Operation::ImportTeam { team, .. } => format!(
            "nothing to submit: team {team} exists in the product already (the plan only adopts it into pamform's state)"
        ),
        Operation::ImportOtpApiUser { remote, .. } => format!(
            "nothing to submit: PAM_UTIL_{} exists in the product already (the plan only adopts it into pamform's state as {})",
            remote.guid, step.subject
        ),
        Operation::RecordTeam { team, .. } => format!(
            "nothing to submit: team {team} already matches the manifest (pamform records it in its state)"
        ),
        Operation::ForgetTeam { team } => format!(
            "nothing to submit: team {team} is gone from the product (pamform drops it from its state)"
        ),
        Operation::Submit { .. } => step_heading(step),
    }
}

/// The `README.txt` beside the CSVs: the files, every step in apply order, and the limits.
pub fn readme(plan: &Plan, batches: &[Batch]) -> String {
    let mut text = String::new();
    let mut line = |s: &str| {
        text.push_str(s);
        text.push('\n');
    };
    line("pamform export --format bravura-batch");
    line("");
    line(
        "These files are a snapshot of one plan, for a Bravura Privilege instance that pamform does",
    );
    line(
        "not drive itself. Submit each CSV through \"Submit a request batch via CSV\", choosing the PDR ID",
    );
    line("in its name, in the order of the numbers and of the steps below.");
    line("");
    if plan.has_target_changes() {
        line(&counts_line(&plan.summary));
    } else if plan.has_changes() {
        line("No changes to the target: nothing to submit.");
    } else {
        line("No changes: nothing to submit.");
    }

    if !batches.is_empty() {
        line("");
        line("Files:");
        let names: Vec<String> = batches
            .iter()
            .enumerate()
            .map(|(i, b)| b.file_name(i + 1))
            .collect();
        let width = names.iter().map(String::len).max().unwrap_or(0);
        for (name, batch) in names.iter().zip(batches) {
            let submitters: BTreeSet<String> = batch
                .rows
                .iter()
                .filter_map(|r| r.submitter.as_ref().map(ToString::to_string))
                .collect();
            let submitters: Vec<String> = submitters.into_iter().collect();
            let by = match submitters.len() {
                0 => String::new(),
                1 => format!(", submitted by {}", submitters[0]),
                _ => format!(
                    ", submitted by {} (one batch per submitter: split the rows)",
                    submitters.join(", ")
                ),
            };
            line(&format!(
                "  {name:width$}  PDR {}, {} row{}{by}",
                batch.kind.id(),
                batch.rows.len(),
                if batch.rows.len() == 1 { "" } else { "s" }
            ));
        }
    }

    if !plan.steps.is_empty() {
        line("");
        line("Every step, in apply order:");
        let mut places: BTreeMap<usize, (String, usize)> = BTreeMap::new();
        for (number, batch) in batches.iter().enumerate() {
            for (row, r) in batch.rows.iter().enumerate() {
                places.insert(r.step, (batch.file_name(number + 1), row + 1));
            }
        }
        for (index, step) in plan.steps.iter().enumerate() {
            let what = match places.get(&index) {
                Some((file, row)) => {
                    let mut what = format!("{file}, row {row}: {}", step_heading(step));
                    if let Operation::Submit {
                        request: Request::CreateOtpApiUser { spec },
                        ..
                    } = &step.operation
                        && spec.allowed_network != DEFAULT_ALLOWED_NETWORK
                    {
                        // Writing to a String cannot fail.
                        let _ = write!(
                            what,
                            "; then set the OTP API caller's allowed network to {} (not part of the request)",
                            spec.allowed_network
                        );
                    }
                    what
                }
                None => manual_step(step, plan),
            };
            line(&format!("  {}. {what}", index + 1));
        }
    }

    line("");
    line("Limits:");
    line(
        "  - <group>_MEMBERS holds pamform's profile IDs; the product identifies members by profile",
    );
    line("    GUIDs, which pamform does not know. Replace them if the instance requires GUIDs.");
    line(
        "  - An OTP API user's GUID (PAM_UTIL_<guid>) is assigned by the product when its request runs;",
    );
    line("    a check-out of a user created here names its account only once that is done.");
    line(
        "  - This is a snapshot: apply order matters, and the state of pamform is not updated. Plan",
    );
    line("    again after submitting, and [[import]] what the batches created.");
    text
}

/// Writes the batches of `plan` into `outdir` (created; must be new or empty), then `README.txt`.
/// Returns the paths written, in order. Errors name the path and the cause.
pub fn write_batches(
    plan: &Plan,
    observed: &Observed,
    outdir: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    let batches = batches(plan, observed)?;
    prepare_outdir(outdir)?;
    let mut written = Vec::new();
    for (index, batch) in batches.iter().enumerate() {
        let path = outdir.join(batch.file_name(index + 1));
        std::fs::write(&path, batch.to_csv())
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    let path = outdir.join(README_NAME);
    std::fs::write(&path, readme(plan, &batches))
        .with_context(|| format!("cannot write {}", path.display()))?;
    written.push(path);
    Ok(written)
}

fn prepare_outdir(outdir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(outdir)
        .with_context(|| format!("cannot create directory {}", outdir.display()))?;
    let mut entries = std::fs::read_dir(outdir)
        .with_context(|| format!("cannot read directory {}", outdir.display()))?;
    if entries.next().is_some() {
        bail!(
            "{} is not empty; export into a new or empty directory, so that batches of an older plan are never submitted with this one",
            outdir.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::model::{
        AccountRef, Address, GroupState, ObservedAccount, OtpApiUserSpec, Privilege, RemoteId,
        TeamId,
    };

    fn g(name: &str) -> GroupName {
        GroupName::new(name)
    }

    fn p(name: &str) -> ProfileId {
        ProfileId::new(name)
    }

    fn team(groups: &[(&str, &[Privilege], &[&str])]) -> TeamState {
        TeamState {
            description: "Corporate \"AD\" Accounts".into(),
            groups: groups
                .iter()
                .map(|(name, privileges, members)| {
                    (
                        g(name),
                        GroupState {
                            privileges: privileges.iter().copied().collect(),
                            members: members.iter().map(|m| p(m)).collect(),
                        },
                    )
                })
                .collect(),
        }
    }

    fn submit(request: Request, by: &str, subject: Address) -> Step {
        Step {
            operation: Operation::Submit {
                request,
                team_after: None,
                patch_state: false,
            },
            submitter: Some(p(by)),
            subject,
            changes: 0..0,
        }
    }

    #[test]
    fn fields_are_quoted_and_inner_quotes_doubled() {
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("plain"), "\"plain\"");
        assert_eq!(quote("say \"hi\", twice"), "\"say \"\"hi\"\", twice\"");
        assert_eq!(quote("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn header_is_the_union_and_missing_cells_are_empty() {
        let t1 = TeamId::new("A-TEAM");
        let t2 = TeamId::new("B-TEAM");
        let plan = Plan {
            steps: vec![
                submit(
                    Request::TeamUpdate {
                        team: t1.clone(),
                        state: team(&[
                            (
                                "Trustees",
                                &[Privilege::TeamTrustees, Privilege::Requesters],
                                &["alice"],
                            ),
                            ("Approvers", &[Privilege::Approvers], &[]),
                        ]),
                    },
                    "alice",
                    Address::Team(t1),
                ),
                submit(
                    Request::TeamUpdate {
                        team: t2.clone(),
                        state: team(&[
                            ("Trustees", &[Privilege::TeamTrustees], &["bob", "alice"]),
                            ("Ops", &[], &["carol"]),
                        ]),
                    },
                    "bob",
                    Address::Team(t2),
                ),
            ],
            ..Plan::default()
        };
        let batches = batches(&plan, &Observed::default()).unwrap();
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].file_name(1), "1-TEAM-UPDATE.csv");
        assert_eq!(
            batches[0].to_csv(),
            "\"TC\",\"TC_DESC\",\"TC_GROUPS\",\"Approvers_PRIVILEGES\",\"Approvers_MEMBERS\",\"Ops_PRIVILEGES\",\"Ops_MEMBERS\",\"Trustees_PRIVILEGES\",\"Trustees_MEMBERS\"\r\n\
             \"A-TEAM\",\"Corporate \"\"AD\"\" Accounts\",\"Approvers,Trustees\",\"Approvers\",\"\",\"\",\"\",\"Requesters,Team_Trustees\",\"alice\"\r\n\
             \"B-TEAM\",\"Corporate \"\"AD\"\" Accounts\",\"Ops,Trustees\",\"\",\"\",\"\",\"carol\",\"Team_Trustees\",\"alice,bob\"\r\n"
        );
        let readme = readme(&plan, &batches);
        assert!(readme.contains("  1-TEAM-UPDATE.csv  PDR TEAM-UPDATE, 2 rows, submitted by alice, bob (one batch per submitter: split the rows)\n"), "{readme}");
    }

    #[test]
    fn files_follow_the_first_step_of_each_pdr() {
        let t = TeamId::new("CORP-AD");
        let account = AccountRef::new("CORP-DC", "svc_billing");
        let spec = OtpApiUserSpec {
            team: t.clone(),
            description: "Billing".into(),
            accounts: BTreeSet::from([account.clone(), AccountRef::new("CORP-DC", "svc_reports")]),
            allowed_network: "10.20.0.0/24".into(),
        };
        let mut observed = Observed::default();
        for (name, guid) in [("svc_billing", "GUID-1"), ("svc_reports", "GUID-2")] {
            observed.accounts.insert(
                AccountRef::new("CORP-DC", name),
                ObservedAccount {
                    guid: RemoteId::new(guid),
                    team: Some(t.clone()),
                    policy: "ONBOARDED_ACCOUNTS".into(),
                },
            );
        }
        let user = Address::OtpApiUser(crate::model::OtpUserName::new("billing"));
        let plan = Plan {
            steps: vec![
                submit(
                    Request::TeamMembers {
                        team: t.clone(),
                        groups: BTreeMap::from([
                            (g("Approvers"), BTreeSet::new()),
                            (g("OTP"), BTreeSet::from([p("bob")])),
                        ]),
                    },
                    "alice",
                    Address::Team(t.clone()),
                ),
                submit(Request::CreateOtpApiUser { spec }, "bob", user.clone()),
                submit(
                    Request::TeamDelete {
                        team: TeamId::new("OLD"),
                    },
                    "alice",
                    Address::Team(TeamId::new("OLD")),
                ),
            ],
            ..Plan::default()
        };
        let batches = batches(&plan, &observed).unwrap();
        let names: Vec<String> = batches
            .iter()
            .enumerate()
            .map(|(i, b)| b.file_name(i + 1))
            .collect();
        assert_eq!(
            names,
            [
                "1-TEAM-MEMBERS.csv",
                "2-CREATE_PAMUTIL_API_USER.csv",
                "3-TEAM-DELETE.csv"
            ]
        );
        assert_eq!(
            batches[0].to_csv(),
            "\"TC\",\"TC_GROUPS\",\"Approvers_MEMBERS\",\"OTP_MEMBERS\"\r\n\"CORP-AD\",\"Approvers,OTP\",\"\",\"bob\"\r\n"
        );
        assert_eq!(
            batches[1].to_csv(),
            "\"MS_TEAM\",\"OTP_ACCOUNT_DESCRIPTION\",\"SELECT_MULTI_MA\"\r\n\"CORP-AD\",\"Billing\",\"GUID-1,GUID-2\"\r\n"
        );
        assert_eq!(batches[2].to_csv(), "\"TC\"\r\n\"OLD\"\r\n");
        let readme = readme(&plan, &batches);
        assert!(
            readme.contains("set the OTP API caller's allowed network to 10.20.0.0/24"),
            "{readme}"
        );
    }

    #[test]
    fn values_with_commas_and_refused_plans_are_errors() {
        let t = TeamId::new("T");
        let plan = Plan {
            steps: vec![submit(
                Request::TeamCreate {
                    team: t.clone(),
                    state: team(&[("a,b", &[Privilege::TeamTrustees], &["alice"])]),
                },
                "alice",
                Address::Team(t),
            )],
            ..Plan::default()
        };
        let error = batches(&plan, &Observed::default()).unwrap_err();
        assert!(
            format!("{error:#}").contains("group name \"a,b\" contains a comma"),
            "{error:#}"
        );

        let refused = Plan {
            refusals: vec![crate::plan::Refusal {
                address: Address::Team(TeamId::new("T")),
                request: None,
                requested_by: None,
                reason: "no".into(),
                remedy: None,
            }],
            ..Plan::default()
        };
        assert!(batches(&refused, &Observed::default()).is_err());
    }

    #[test]
    fn outdir_must_be_new_or_empty() {
        let temp = tempfile::tempdir().unwrap();
        let outdir = temp.path().join("out");
        let written = write_batches(&Plan::default(), &Observed::default(), &outdir).unwrap();
        assert_eq!(written, [outdir.join(README_NAME)]);
        let error = write_batches(&Plan::default(), &Observed::default(), &outdir).unwrap_err();
        assert!(error.to_string().contains("is not empty"), "{error}");
    }
}
