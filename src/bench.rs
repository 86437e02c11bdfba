//! The scale benchmark's library side: a generator that writes a manifest directory and a matching
//! embedded-target seed for N memberships, and the "floor", the least work any plan must do on
//! that directory (parse its TOML into serde structs, scan the state and target tables).
//!
//! Invariants: generation is deterministic (a fixed seeded hash, no clock, no OS randomness), so
//! two runs with the same arguments write identical files; a change set (`change_percent`) only
//! alters the manifest, never the seed, so a changed manifest plans against the same target.
//!
//! The shape, per team: 10 groups of 10 members, one OTP API user and one check-out. The teams
//! exist in the product already (seeded with one trustee, as a migration finds them), so the
//! manifest adopts each with an `[[import]]`; the OTP API users' accounts are onboarded to their
//! teams in the seed, as the product requires.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, bail};

use crate::manifest::ManifestFile;

/// Members per group and groups per team.
pub const MEMBERS_PER_GROUP: usize = 10;
pub const GROUPS_PER_TEAM: usize = 10;
/// Teams per manifest file.
const TEAMS_PER_FILE: usize = 1000;
/// Managed systems the OTP API users' accounts live on.
const SYSTEMS: usize = 16;

/// The groups of every team: name and privileges. Group 0 holds the trustees, group 1 the OTP
/// trustees, group 2 the approvers.
const GROUPS: [(&str, &str); GROUPS_PER_TEAM] = [
    ("Team Trustees", r#""Team_Trustees", "Requesters""#),
    ("OTP API Trustees", r#""OTP_Trustees", "Requesters""#),
    ("Approvers", r#""Approvers""#),
    ("Requesters", r#""Requesters""#),
    ("Account Trustees", r#""Account_Trustees""#),
    ("System Trustees", r#""System_Trustees""#),
    ("Vault Trustees", r#""Vault_Trustees""#),
    (
        "Credential Managers",
        r#""Credential_Manager", "Requesters""#,
    ),
    ("Auditors", r#""Requesters""#),
    ("Subscribers", r#""Subscriber_Trustees""#),
];

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Memberships in the unchanged manifest (rounded up to whole teams of 100).
    pub memberships: usize,
    /// When above 0: add, change (swap a member for another) and remove this percentage of the
    /// memberships each, deterministically.
    pub change_percent: u32,
}

impl Shape {
    pub fn teams(&self) -> usize {
        self.memberships
            .div_ceil(MEMBERS_PER_GROUP * GROUPS_PER_TEAM)
            .max(1)
    }

    /// Profiles in the seed: one per ten memberships (each person sits in about ten groups),
    /// a multiple of 100, at least 1,000.
    pub fn profiles(&self) -> usize {
        (self.memberships / 10).div_ceil(100).max(10) * 100
    }
}

/// A 64-bit mix (splitmix64's finalizer): the generator's only source of "randomness".
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn hash(parts: &[u64]) -> u64 {
    parts.iter().fold(0x5eed, |h, &p| mix(h ^ p))
}

fn profile_id(index: usize) -> String {
    format!("u{index:06}")
}

fn team_id(team: usize) -> String {
    format!("TEAM-{team:06}")
}

fn account(team: usize) -> String {
    format!("AD-DC-{:02}/svc_app{team:05}", team % SYSTEMS)
}

/// The fixed first member of each of a team's first three groups: a team administrator (who
/// submits the team's requests), an OTP trustee and an approver.
fn anchor(shape: &Shape, team: usize, group: usize) -> usize {
    let profiles = shape.profiles();
    let admin = (team * 100) % profiles;
    match group {
        0 => admin,
        1 => (admin + 1) % profiles,
        2 => (admin + 2) % profiles,
        _ => usize::MAX,
    }
}

/// The members of one group, in declaration order.
fn members(shape: &Shape, team: usize, group: usize) -> Vec<usize> {
    let profiles = shape.profiles() as u64;
    let (t, g) = (team as u64, group as u64);
    let mut members = Vec::with_capacity(MEMBERS_PER_GROUP + 2);
    let first = anchor(shape, team, group);
    if first != usize::MAX {
        members.push(first);
    }
    let mut draw = 0u64;
    let mut pick = |members: &Vec<usize>, salt: u64| loop {
        draw += 1;
        let candidate = (hash(&[t, g, salt, draw]) % profiles) as usize;
        // Administrators are anchors only, so a removal never takes away a team's trustee.
        if !candidate.is_multiple_of(100) && !members.contains(&candidate) {
            return candidate;
        }
    };
    while members.len() < MEMBERS_PER_GROUP {
        let next = pick(&members, 1);
        members.push(next);
    }
    let percent = u64::from(shape.change_percent);
    if percent == 0 {
        return members;
    }
    // Slot 0 (the anchor) is never removed or changed; the other nine are, with a probability
    // of percent * 10/9 each, so that each kind of change touches `percent` of all memberships.
    let threshold = percent * 1_000_000 / 90;
    for slot in 1..MEMBERS_PER_GROUP {
        let roll = hash(&[t, g, slot as u64, 2]) % 1_000_000;
        if roll < threshold {
            members[slot] = usize::MAX; // removed
        } else if roll < 2 * threshold {
            members[slot] = pick(&members, 3); // changed
        }
    }
    members.retain(|&m| m != usize::MAX);
    for slot in 0..MEMBERS_PER_GROUP {
        if hash(&[t, g, slot as u64, 4]) % 10_000 < percent * 100 {
            let added = pick(&members, 5);
            members.push(added);
        }
    }
    members
}

/// Writes the manifest directory (and `seed/target.toml`) for `shape` into `out`, which must not
/// hold `*.toml` files already. Returns the memberships written to the manifest.
pub fn generate(shape: &Shape, out: &Path) -> anyhow::Result<usize> {
    std::fs::create_dir_all(out.join("seed"))
        .with_context(|| format!("cannot create {}", out.display()))?;
    for entry in std::fs::read_dir(out).with_context(|| format!("cannot read {}", out.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            bail!("{} holds manifest files already", out.display());
        }
    }
    let write = |name: &str, text: &str| {
        let path = out.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    write(
        "pamform.toml",
        "# Generated by `pamform bench generate`: settings (the defaults).\n[pamform]\nstate = \".pamform/state.db\"\n\n[pamform.target]\nkind = \"embedded\"\npath = \".pamform/target.db\"\nseed = \"seed/target.toml\"\n",
    )?;
    let teams = shape.teams();
    let mut total = 0;
    for (file, first) in (1..=teams).step_by(TEAMS_PER_FILE).enumerate() {
        let last = (first + TEAMS_PER_FILE - 1).min(teams);
        let mut text = String::with_capacity(TEAMS_PER_FILE * 3000);
        let mut otp = String::with_capacity(TEAMS_PER_FILE * 400);
        writeln!(
            text,
            "# Generated by `pamform bench generate`: teams {} to {}.",
            team_id(first),
            team_id(last)
        )?;
        writeln!(
            otp,
            "# Generated by `pamform bench generate`: the OTP API users and check-outs of teams {} to {}.",
            team_id(first),
            team_id(last)
        )?;
        for team in first..=last {
            let id = team_id(team);
            writeln!(
                text,
                "\n[[import]]\nto = \"team.{id}\"\nid = \"{id}\"\n\n[[team]]\nid = \"{id}\"\ndescription = \"Application team {team}\"\nrequested_by = \"{}\"",
                profile_id(anchor(shape, team, 0))
            )?;
            for (group, (name, privileges)) in GROUPS.iter().enumerate() {
                let members = members(shape, team, group);
                total += members.len();
                let list: Vec<String> = members
                    .iter()
                    .map(|&m| format!("\"{}\"", profile_id(m)))
                    .collect();
                writeln!(
                    text,
                    "  [[team.group]]\n  name = \"{name}\"\n  privileges = [{privileges}]\n  members = [{}]",
                    list.join(", ")
                )?;
            }
            let otp_trustee = profile_id(anchor(shape, team, 1));
            writeln!(
                otp,
                "\n[[otp_api_user]]\nname = \"app-{team:06}\"\nteam = \"{id}\"\ndescription = \"Batch job of application {team}\"\naccounts = [\"{}\"]\nrequested_by = \"{otp_trustee}\"\nallowed_network = \"10.{}.{}.0/24\"\n\n[[checkout]]\notp_api_user = \"app-{team:06}\"\nrequested_by = \"{otp_trustee}\"\napproved_by = [\"{}\"]",
                account(team),
                (team / 256) % 256,
                team % 256,
                profile_id(anchor(shape, team, 2))
            )?;
        }
        write(&format!("teams-{:03}.toml", file + 1), &text)?;
        write(&format!("otp-{:03}.toml", file + 1), &otp)?;
    }
    write_seed(shape, &out.join("seed/target.toml"))?;
    Ok(total)
}

fn write_seed(shape: &Shape, path: &Path) -> anyhow::Result<()> {
    let mut text = String::with_capacity(shape.profiles() * 60 + shape.teams() * 300);
    text.push_str(
        "# Generated by `pamform bench generate`: the product before pamform runs.\n[settings]\nmin_authorizers = 1\notp_maximum = 1\ncheckout_minutes = 240\n",
    );
    for index in 0..shape.profiles() {
        let admin = if index.is_multiple_of(100) {
            "\nteam_admin = true"
        } else {
            ""
        };
        writeln!(
            text,
            "\n[[profile]]\nid = \"{}\"\nname = \"User {index}\"{admin}",
            profile_id(index)
        )?;
    }
    for system in 0..SYSTEMS {
        writeln!(text, "\n[[managed_system]]\nid = \"AD-DC-{system:02}\"")?;
    }
    for team in 1..=shape.teams() {
        let (system, account) = account(team)
            .split_once('/')
            .map(|(s, a)| (s.to_owned(), a.to_owned()))
            .unwrap_or_default();
        writeln!(
            text,
            "\n[[managed_account]]\nsystem = \"{system}\"\naccount = \"{account}\"\nteam = \"{}\"",
            team_id(team)
        )?;
    }
    for team in 1..=shape.teams() {
        writeln!(
            text,
            "\n[[team]]\nid = \"{}\"\ndescription = \"Application team {team}\"\n  [[team.group]]\n  name = \"Team Trustees\"\n  privileges = [\"Team_Trustees\", \"Requesters\"]\n  members = [\"{}\"]",
            team_id(team),
            profile_id(anchor(shape, team, 0))
        )?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// What the floor read, to print and to keep the work from being optimised away.
#[derive(Debug, Default)]
pub struct FloorCounts {
    pub files: usize,
    pub bytes: usize,
    pub memberships: usize,
    pub state_rows: usize,
    pub target_rows: usize,
}

/// The floor: parses every `*.toml` file of `dir` into the manifest's serde structs with
/// `toml::from_str`, then scans the state file's resources and the target's tables that plan
/// reads, touching every column. No validation, no diff, no maps.
pub fn floor(dir: &Path) -> anyhow::Result<FloorCounts> {
    let mut counts = FloorCounts::default();
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    names.sort();
    for path in &names {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let file: ManifestFile =
            toml::from_str(&text).with_context(|| format!("cannot parse {}", path.display()))?;
        counts.files += 1;
        counts.bytes += text.len();
        counts.memberships += file
            .team
            .iter()
            .flat_map(|t| &t.group)
            .map(|g| g.members.len())
            .sum::<usize>();
    }
    let scan = |path: &Path, queries: &[&str]| -> anyhow::Result<usize> {
        if !path.exists() {
            return Ok(0);
        }
        let conn =
            rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .with_context(|| format!("cannot open {}", path.display()))?;
        let mut rows_seen = 0;
        for query in queries {
            let mut statement = conn.prepare(query)?;
            let columns = statement.column_count();
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                for column in 0..columns {
                    let bytes = match row.get_ref(column)? {
                        rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                            t.len()
                        }
                        _ => 8,
                    };
                    counts_guard(bytes);
                }
                rows_seen += 1;
            }
        }
        Ok(rows_seen)
    };
    counts.state_rows = scan(
        &dir.join(".pamform/state.db"),
        &[
            "SELECT address, kind, team, grp, item, remote_id, requested_by, attributes FROM resources",
        ],
    )?;
    counts.target_rows = scan(
        &dir.join(".pamform/target.db"),
        &[
            "SELECT id, team_id, description FROM teams",
            "SELECT id, team, name FROM team_groups",
            "SELECT group_id, privilege FROM group_privileges",
            "SELECT group_id, profile FROM group_members",
            "SELECT id, team_admin FROM profiles",
            "SELECT guid, system, account, team, policy FROM accounts",
            "SELECT guid, team, description, vault_account, caller, allowed_network FROM otp_api_users",
        ],
    )?;
    Ok(counts)
}

/// Keeps a value observable so the scan is not optimised away.
fn counts_guard(bytes: usize) {
    std::hint::black_box(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_manifest_and_seed_are_valid_and_sized() {
        let dir = tempfile::tempdir().unwrap();
        let shape = Shape {
            memberships: 1000,
            change_percent: 0,
        };
        assert_eq!(generate(&shape, dir.path()).unwrap(), 1000);
        let manifest = crate::manifest::load(dir.path()).unwrap();
        assert_eq!(manifest.desired.teams.len(), 10);
        assert_eq!(manifest.desired.checkouts.len(), 10);
        crate::manifest::load_seed(&dir.path().join("seed/target.toml")).unwrap();
        let floor = floor(dir.path()).unwrap();
        assert_eq!(floor.memberships, 1000);
    }

    #[test]
    fn a_change_set_adds_changes_and_removes_about_the_percentage() {
        let dir = tempfile::tempdir().unwrap();
        let shape = Shape {
            memberships: 100_000,
            change_percent: 1,
        };
        let written = generate(&shape, dir.path()).unwrap();
        // Adds and removals balance out to within a few percent of a percent.
        assert!((99_000..=101_000).contains(&written), "{written}");
        crate::manifest::load(dir.path()).unwrap();
        let again = tempfile::tempdir().unwrap();
        generate(&shape, again.path()).unwrap();
        let read = |d: &Path| std::fs::read(d.join("teams-001.toml")).unwrap();
        assert_eq!(read(dir.path()), read(again.path()), "not deterministic");
    }
}
