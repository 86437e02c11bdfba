//! The embedded target against the product's rules (domain.md, rules 1 to 11), the vendor's
//! workflow end to end, concurrency, file safety and secrecy.
//!
//! Invariant: every test builds its own target in a temporary directory from the seed below, so
//! tests are independent and can run in parallel.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use pamform::model::rules::Violation;
use pamform::model::{
    AccountRef, GroupName, GroupState, OtpApiUserRemote, OtpApiUserSpec, Policy, Privilege,
    ProfileId, RemoteId, Request, Scope, Seed, SeedAccount, SeedProfile, SystemId, TeamId,
    TeamState,
};
use pamform::secret::Secret;
use pamform::target::embedded::{EmbeddedTarget, key_path_for};
use pamform::target::{CheckoutRequestStatus, LoginRejection, Target, TargetError, TargetResult};
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const TEAM: &str = "CORP-AD";

fn p(id: &str) -> ProfileId {
    ProfileId::new(id)
}

fn team_id() -> TeamId {
    TeamId::new(TEAM)
}

fn billing() -> AccountRef {
    AccountRef::new("CORP-DC", "svc_billing")
}

fn reports() -> AccountRef {
    AccountRef::new("CORP-DC", "svc_reports")
}

fn localhost() -> IpAddr {
    "127.0.0.1".parse().unwrap()
}

fn group(privileges: &[Privilege], members: &[&str]) -> GroupState {
    GroupState {
        privileges: privileges.iter().copied().collect(),
        members: members.iter().map(|m| p(m)).collect(),
    }
}

fn team(description: &str, groups: &[(&str, GroupState)]) -> TeamState {
    TeamState {
        description: description.into(),
        groups: groups
            .iter()
            .map(|(name, g)| (GroupName::new(*name), g.clone()))
            .collect(),
    }
}

fn trustees() -> (&'static str, GroupState) {
    ("Trustees", group(&[Privilege::TeamTrustees], &["alice"]))
}

fn seed(policy: Policy) -> Seed {
    let profile = |id: &str, name: &str, team_admin: bool| SeedProfile {
        id: p(id),
        name: name.into(),
        team_admin,
    };
    Seed {
        policy,
        profiles: vec![
            profile("alice", "Alice Admin", true),
            profile("bob", "Bob Builder", false),
            profile("carol", "Carol Checker", false),
            profile("dave", "Dave Dev", false),
        ],
        systems: vec![SystemId::new("CORP-DC")],
        accounts: vec![
            SeedAccount {
                account: billing(),
                team: Some(team_id()),
            },
            SeedAccount {
                account: reports(),
                team: Some(team_id()),
            },
        ],
        teams: [(team_id(), team("Corporate AD Accounts", &[trustees()]))].into(),
    }
}

fn policy(min_authorizers: u32, otp_maximum: u32) -> Policy {
    Policy {
        min_authorizers,
        otp_maximum,
        checkout_minutes: 240,
    }
}

fn open_with(dir: &TempDir, policy: Policy) -> EmbeddedTarget {
    EmbeddedTarget::open(&dir.path().join(".pamform/target.db"), &move || {
        Ok(seed(policy))
    })
    .unwrap()
}

fn reopen(dir: &TempDir) -> EmbeddedTarget {
    EmbeddedTarget::open(&dir.path().join(".pamform/target.db"), &|| {
        panic!("an existing target must not be seeded again")
    })
    .unwrap()
}

fn new_target(policy: Policy) -> (TempDir, EmbeddedTarget) {
    let dir = tempfile::tempdir().unwrap();
    let target = open_with(&dir, policy);
    (dir, target)
}

fn refused<T: std::fmt::Debug>(result: TargetResult<T>) -> Vec<Violation> {
    match result {
        Err(TargetError::Refused(violations)) => violations,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn rejected<T: std::fmt::Debug>(result: TargetResult<T>) -> LoginRejection {
    match result {
        Err(TargetError::LoginRejected(why)) => why,
        other => panic!("expected a rejected login, got {other:?}"),
    }
}

fn not_found<T: std::fmt::Debug>(result: TargetResult<T>) -> String {
    match result {
        Err(TargetError::NotFound(what)) => what,
        other => panic!("expected not found, got {other:?}"),
    }
}

fn missing(profile: &str, privilege: Privilege) -> Violation {
    Violation::MissingPrivilege {
        profile: p(profile),
        team: team_id(),
        privilege,
    }
}

fn observe_team(target: &mut EmbeddedTarget) -> Option<TeamState> {
    let scope = Scope {
        teams: [team_id()].into(),
        ..Scope::default()
    };
    target
        .observe(&scope)
        .unwrap()
        .teams
        .remove(&team_id())
        .map(|t| t.state)
}

/// The vendor's step 1 and 2 in one update: alice adds "OTP API Trustee" (bob) and
/// "Approvers" (carol).
fn vendor_team() -> TeamState {
    team(
        "Corporate AD Accounts",
        &[
            trustees(),
            (
                "OTP API Trustee",
                group(&[Privilege::OtpTrustees, Privilege::Requesters], &["bob"]),
            ),
            ("Approvers", group(&[Privilege::Approvers], &["carol"])),
        ],
    )
}

fn update(target: &mut EmbeddedTarget, state: TeamState) {
    target
        .submit(
            &p("alice"),
            &Request::TeamUpdate {
                team: team_id(),
                state,
            },
        )
        .unwrap();
}

fn otp_spec(accounts: &[AccountRef]) -> OtpApiUserSpec {
    OtpApiUserSpec {
        team: team_id(),
        description: "billing batch".into(),
        accounts: accounts.iter().cloned().collect(),
        allowed_network: "127.0.0.1/32".into(),
    }
}

/// Steps 1 to 3: the team update and bob's OTP API user for svc_billing.
fn with_otp_user(target: &mut EmbeddedTarget) -> OtpApiUserRemote {
    update(target, vendor_team());
    let submitted = target
        .submit(
            &p("bob"),
            &Request::CreateOtpApiUser {
                spec: otp_spec(&[billing()]),
            },
        )
        .unwrap();
    submitted.created_otp_api_user.expect("an OTP API user")
}

/// Step 4: bob requests, carol approves, bob checks out. Returns the check-out ID and the
/// disclosed password.
fn check_out_as(
    target: &mut EmbeddedTarget,
    requester: &str,
    approver: Option<&str>,
    account: &AccountRef,
) -> (RemoteId, Secret) {
    let request = target.request_checkout(&p(requester), account).unwrap();
    if let Some(approver) = approver {
        let approved = target
            .approve_checkout(&p(approver), &request.request_id)
            .unwrap();
        assert_eq!(approved.status, CheckoutRequestStatus::Approved);
    }
    let out = target
        .check_out(&p(requester), &request.request_id)
        .unwrap();
    (out.checkout_id, out.password)
}

fn vendor_workflow(policy: Policy) -> (TempDir, EmbeddedTarget, OtpApiUserRemote, Secret) {
    let (dir, mut target) = new_target(policy);
    let remote = with_otp_user(&mut target);
    let (_, password) = check_out_as(&mut target, "bob", Some("carol"), &remote.vault_account);
    (dir, target, remote, password)
}

// ---------------------------------------------------------------------------------------------
// Creation, seeding and the file
// ---------------------------------------------------------------------------------------------

#[test]
fn seeds_once_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".pamform/target.db");
    let calls = AtomicUsize::new(0);
    let seeder = || {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(seed(Policy::default()))
    };
    let mut target = EmbeddedTarget::open(&path, &seeder).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(target.path(), path);
    assert_eq!(target.key_path(), dir.path().join(".pamform/target.db.key"));
    assert_eq!(
        observe_team(&mut target),
        Some(team("Corporate AD Accounts", &[trustees()]))
    );
    drop(target);

    let mut again = EmbeddedTarget::open(&path, &seeder).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let seeds = again
        .log()
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "SEED")
        .count();
    assert_eq!(seeds, 1);
    let dump = again.dump().unwrap();
    assert_eq!(dump.profiles.len(), 4);
    assert_eq!(dump.accounts.len(), 2);
    assert!(again.describe().contains("target.db"));
}

#[test]
fn concurrent_openers_of_a_missing_target_seed_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t/target.db");
    let calls = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(6));
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let (path, calls, barrier) = (path.clone(), calls.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let seeder = || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Ok(seed(Policy::default()))
                };
                let mut target = EmbeddedTarget::open(&path, &seeder).unwrap();
                target.dump().unwrap().accounts.len()
            })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), 2);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn target_and_key_files_are_private() {
    let (dir, target) = new_target(Policy::default());
    for path in [target.path().to_path_buf(), key_path_for(target.path())] {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
    let dir_mode = std::fs::metadata(dir.path().join(".pamform"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);
}

#[test]
fn a_journal_while_writing_is_private_too() {
    let (_dir, target) = new_target(Policy::default());
    let path = target.path().to_path_buf();
    drop(target);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE; UPDATE profiles SET name = name || 'x';")
        .unwrap();
    let journal = Path::new(&format!("{}-journal", path.display())).to_path_buf();
    let mode = std::fs::metadata(&journal).unwrap().permissions().mode() & 0o777;
    conn.execute_batch("ROLLBACK").unwrap();
    assert_eq!(mode, 0o600);
}

fn open_error(path: &Path) -> String {
    let error = EmbeddedTarget::open(path, &|| Ok(seed(Policy::default()))).unwrap_err();
    format!("{error:#}")
}

#[test]
fn foreign_and_newer_files_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();

    let other = dir.path().join("state.db");
    let conn = rusqlite::Connection::open(&other).unwrap();
    conn.execute_batch("PRAGMA application_id = 1347240275; CREATE TABLE x (y);")
        .unwrap();
    drop(conn);
    let message = open_error(&other);
    assert!(message.contains("not a pamform target file"), "{message}");
    assert!(message.contains("application_id"), "{message}");

    let (dir2, target) = new_target(Policy::default());
    let path = target.path().to_path_buf();
    drop(target);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let message = open_error(&path);
    assert!(message.contains("schema version 99"), "{message}");
    assert!(message.contains("newer"), "{message}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 99, "a refused file is left as it was");
    drop(dir2);

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x5a; 4096]).unwrap();
    let message = open_error(&garbage);
    assert!(message.contains("not a pamform target file"), "{message}");
}

#[test]
fn a_wrong_or_missing_key_file_is_refused() {
    let (_dir, target) = new_target(Policy::default());
    let path = target.path().to_path_buf();
    let key_path = key_path_for(&path);
    drop(target);
    let original = std::fs::read_to_string(&key_path).unwrap();
    std::fs::write(&key_path, format!("{}\n", "ab".repeat(32))).unwrap();
    let message = open_error(&path);
    assert!(message.contains("does not belong"), "{message}");
    assert!(!message.contains(&"ab".repeat(32)), "{message}");
    std::fs::remove_file(&key_path).unwrap();
    let message = open_error(&path);
    assert!(message.contains("key"), "{message}");
    std::fs::write(&key_path, original).unwrap();
    assert!(EmbeddedTarget::open(&path, &|| Ok(seed(Policy::default()))).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Rules 1 to 3: team requests
// ---------------------------------------------------------------------------------------------

#[test]
fn rule_1_a_team_needs_a_populated_trustee_group() {
    let (_dir, mut target) = new_target(Policy::default());
    let empty_trustees = team("x", &[("Trustees", group(&[Privilege::TeamTrustees], &[]))]);
    let create = Request::TeamCreate {
        team: TeamId::new("NEW"),
        state: empty_trustees.clone(),
    };
    assert_eq!(
        refused(target.submit(&p("alice"), &create)),
        vec![Violation::NoPopulatedTrusteeGroup {
            team: TeamId::new("NEW")
        }]
    );
    let update = Request::TeamUpdate {
        team: team_id(),
        state: team(
            "x",
            &[("Others", group(&[Privilege::Requesters], &["bob"]))],
        ),
    };
    assert_eq!(
        refused(target.submit(&p("alice"), &update)),
        vec![Violation::NoPopulatedTrusteeGroup { team: team_id() }]
    );
    let members = Request::TeamMembers {
        team: team_id(),
        groups: [(GroupName::new("Trustees"), BTreeSet::new())].into(),
    };
    assert_eq!(
        refused(target.submit(&p("alice"), &members)),
        vec![Violation::NoPopulatedTrusteeGroup { team: team_id() }]
    );
    // Accepted: a populated trustee group.
    let ok = Request::TeamCreate {
        team: TeamId::new("NEW"),
        state: team("x", &[trustees()]),
    };
    assert!(target.submit(&p("alice"), &ok).is_ok());
    // The refused requests changed nothing.
    assert_eq!(
        observe_team(&mut target),
        Some(team("Corporate AD Accounts", &[trustees()]))
    );
}

#[test]
fn rule_2_auto_approved_and_credential_manager_need_requesters() {
    let (_dir, mut target) = new_target(Policy::default());
    for privilege in [Privilege::AutoApproved, Privilege::CredentialManager] {
        let state = team("x", &[trustees(), ("Fast", group(&[privilege], &["dave"]))]);
        let request = Request::TeamUpdate {
            team: team_id(),
            state: state.clone(),
        };
        assert_eq!(
            refused(target.submit(&p("alice"), &request)),
            vec![Violation::NeedsRequesters {
                team: team_id(),
                group: GroupName::new("Fast"),
                privilege
            }]
        );
        let fixed = team(
            "x",
            &[
                trustees(),
                (
                    "Fast",
                    group(&[privilege, Privilege::Requesters], &["dave"]),
                ),
            ],
        );
        update(&mut target, fixed);
    }
}

#[test]
fn rule_3_who_may_submit_team_requests() {
    let (_dir, mut target) = new_target(Policy::default());
    let create = Request::TeamCreate {
        team: TeamId::new("NEW"),
        state: team(
            "x",
            &[("Trustees", group(&[Privilege::TeamTrustees], &["bob"]))],
        ),
    };
    assert_eq!(
        refused(target.submit(&p("bob"), &create)),
        vec![Violation::NotTeamAdmin { profile: p("bob") }]
    );
    let update_request = Request::TeamUpdate {
        team: team_id(),
        state: vendor_team(),
    };
    assert_eq!(
        refused(target.submit(&p("bob"), &update_request)),
        vec![missing("bob", Privilege::TeamTrustees)]
    );
    assert_eq!(
        refused(target.submit(&p("mallory"), &update_request)),
        vec![Violation::UnknownProfile {
            profile: p("mallory")
        }]
    );
    // bob becomes a trustee of NEW through alice, and may then update NEW but not delete it.
    target.submit(&p("alice"), &create).unwrap();
    let new_update = Request::TeamUpdate {
        team: TeamId::new("NEW"),
        state: team(
            "y",
            &[(
                "Trustees",
                group(&[Privilege::TeamTrustees], &["bob", "dave"]),
            )],
        ),
    };
    target.submit(&p("bob"), &new_update).unwrap();
    let delete = Request::TeamDelete {
        team: TeamId::new("NEW"),
    };
    assert_eq!(
        refused(target.submit(&p("bob"), &delete)),
        vec![Violation::NotTeamAdmin { profile: p("bob") }]
    );
    target.submit(&p("alice"), &delete).unwrap();
    assert_eq!(
        refused(target.submit(&p("alice"), &delete)),
        vec![Violation::UnknownTeam {
            team: TeamId::new("NEW")
        }]
    );
    // A team holding accounts cannot be deleted.
    assert_eq!(
        refused(target.submit(&p("alice"), &Request::TeamDelete { team: team_id() })),
        vec![Violation::TeamHoldsAccounts {
            team: team_id(),
            holdings: 2
        }]
    );
    // Creating an existing team, naming unknown groups or unknown members.
    let again = Request::TeamCreate {
        team: team_id(),
        state: team("x", &[trustees()]),
    };
    assert_eq!(
        refused(target.submit(&p("alice"), &again)),
        vec![Violation::TeamExists { team: team_id() }]
    );
    let unknown_group = Request::TeamMembers {
        team: team_id(),
        groups: [(GroupName::new("Nope"), [p("bob")].into())].into(),
    };
    assert_eq!(
        refused(target.submit(&p("alice"), &unknown_group)),
        vec![Violation::UnknownGroup {
            team: team_id(),
            group: GroupName::new("Nope")
        }]
    );
    let ghost = Request::TeamMembers {
        team: team_id(),
        groups: [(GroupName::new("Trustees"), [p("alice"), p("ghost")].into())].into(),
    };
    assert_eq!(
        refused(target.submit(&p("alice"), &ghost)),
        vec![Violation::UnknownProfile {
            profile: p("ghost")
        }]
    );
}

#[test]
fn team_update_replaces_the_whole_team_and_members_replaces_lists() {
    let (_dir, mut target) = new_target(Policy::default());
    update(&mut target, vendor_team());
    assert_eq!(observe_team(&mut target), Some(vendor_team()));
    let smaller = team(
        "Smaller",
        &[(
            "Trustees",
            group(
                &[Privilege::TeamTrustees, Privilege::Approvers],
                &["alice", "dave"],
            ),
        )],
    );
    update(&mut target, smaller.clone());
    assert_eq!(observe_team(&mut target), Some(smaller));

    let members = Request::TeamMembers {
        team: team_id(),
        groups: [(GroupName::new("Trustees"), [p("carol")].into())].into(),
    };
    let submitted = target.submit(&p("alice"), &members).unwrap();
    assert!(submitted.batch_id.as_str().starts_with("BATCH-"));
    let now = observe_team(&mut target).unwrap();
    let trustees = &now.groups[&GroupName::new("Trustees")];
    assert_eq!(trustees.members, [p("carol")].into());
    assert_eq!(
        trustees.privileges,
        [Privilege::TeamTrustees, Privilege::Approvers].into()
    );
    // alice is no longer a trustee of the team.
    assert_eq!(
        refused(target.submit(&p("alice"), &members)),
        vec![missing("alice", Privilege::TeamTrustees)]
    );
    drop(target);
    // Another handle on the file sees the same team.
    let mut again = reopen(&_dir);
    assert_eq!(observe_team(&mut again), Some(now));
}

// ---------------------------------------------------------------------------------------------
// Rule 4: OTP API users
// ---------------------------------------------------------------------------------------------

#[test]
fn rule_4_create_otp_api_user() {
    let (_dir, mut target) = new_target(Policy::default());
    let create = |accounts: &[AccountRef]| Request::CreateOtpApiUser {
        spec: otp_spec(accounts),
    };
    // Only OTP trustees of the team.
    assert_eq!(
        refused(target.submit(&p("alice"), &create(&[billing()]))),
        vec![missing("alice", Privilege::OtpTrustees)]
    );
    update(&mut target, vendor_team());
    assert_eq!(
        refused(target.submit(&p("carol"), &create(&[billing()]))),
        vec![missing("carol", Privilege::OtpTrustees)]
    );
    assert_eq!(
        refused(target.submit(&p("bob"), &create(&[]))),
        vec![Violation::NoAccounts]
    );
    let ghost = AccountRef::new("CORP-DC", "ghost");
    assert_eq!(
        refused(target.submit(&p("bob"), &create(std::slice::from_ref(&ghost)))),
        vec![Violation::UnknownAccount { account: ghost }]
    );
    // An account of another team.
    let other = TeamId::new("OTHER");
    target
        .submit(
            &p("alice"),
            &Request::TeamCreate {
                team: other.clone(),
                state: team("o", &[trustees()]),
            },
        )
        .unwrap();
    let mut spec = otp_spec(&[billing()]);
    spec.team = other.clone();
    assert_eq!(
        refused(target.submit(&p("bob"), &Request::CreateOtpApiUser { spec })),
        vec![Violation::MissingPrivilege {
            profile: p("bob"),
            team: other.clone(),
            privilege: Privilege::OtpTrustees
        }]
    );
    target
        .submit(
            &p("alice"),
            &Request::TeamUpdate {
                team: other.clone(),
                state: team(
                    "o",
                    &[
                        trustees(),
                        ("OTP", group(&[Privilege::OtpTrustees], &["bob"])),
                    ],
                ),
            },
        )
        .unwrap();
    let mut spec = otp_spec(&[billing()]);
    spec.team = other.clone();
    assert_eq!(
        refused(target.submit(&p("bob"), &Request::CreateOtpApiUser { spec })),
        vec![Violation::AccountNotInTeam {
            account: billing(),
            team: other
        }]
    );

    // Accepted: the vault account, the caller and the grants.
    let submitted = target
        .submit(&p("bob"), &create(&[billing(), reports()]))
        .unwrap();
    let remote = submitted.created_otp_api_user.unwrap();
    let name = format!("PAM_UTIL_{}", remote.guid);
    assert_eq!(
        remote.vault_account,
        AccountRef::new("CORP-DC", name.as_str())
    );
    assert_eq!(remote.caller, p(&name));
    let scope = Scope {
        teams: [team_id()].into(),
        profiles: [remote.caller.clone()].into(),
        accounts: [remote.vault_account.clone()].into(),
        ..Scope::default()
    };
    let observed = target.observe(&scope).unwrap();
    assert_eq!(
        observed.teams[&team_id()].holdings,
        3,
        "the vault account counts"
    );
    let vault = &observed.accounts[&remote.vault_account];
    assert_eq!(vault.policy, "PAM_OTP_ACCOUNTS");
    assert_eq!(vault.team, Some(team_id()));
    assert!(!observed.profiles[&remote.caller].team_admin);
    let user = &observed.otp_api_users[&remote.guid];
    assert_eq!(user.remote, remote);
    assert_eq!(user.spec, otp_spec(&[billing(), reports()]));
    assert_eq!(user.checkouts_ever, 0);
    assert_eq!(user.open_checkout, None);

    // A vault account is not an onboarded account: it cannot be granted.
    assert_eq!(
        refused(target.submit(
            &p("bob"),
            &create(std::slice::from_ref(&remote.vault_account))
        )),
        vec![Violation::AccountNotInTeam {
            account: remote.vault_account.clone(),
            team: team_id()
        }]
    );
    // An invalid network is a fault, not a creation.
    let mut spec = otp_spec(&[billing()]);
    spec.allowed_network = "somewhere".into();
    assert!(matches!(
        target.submit(&p("bob"), &Request::CreateOtpApiUser { spec }),
        Err(TargetError::Fault(_))
    ));
    assert_eq!(target.dump().unwrap().otp_api_users.len(), 1);
}

#[test]
fn observe_finds_otp_api_users_by_guid_and_is_side_effect_free() {
    let (_dir, mut target) = new_target(Policy::default());
    let remote = with_otp_user(&mut target);
    let log_before = target.log().unwrap();
    let by_guid = Scope {
        otp_guids: [remote.guid.clone()].into(),
        ..Scope::default()
    };
    let observed = target.observe(&by_guid).unwrap();
    assert_eq!(observed.otp_api_users.len(), 1);
    assert!(observed.teams.is_empty());
    let nothing = target.observe(&Scope::default()).unwrap();
    assert!(nothing.otp_api_users.is_empty());
    assert_eq!(nothing.policy, Policy::default());
    assert_eq!(target.log().unwrap(), log_before, "observe logs nothing");
}

#[test]
fn observe_large_scopes_read_whole_tables() {
    // Over the per-team query limit, teams are scanned; the answer must be the same.
    let (_dir, mut target) = new_target(Policy::default());
    let mut teams = BTreeSet::new();
    for i in 0..300 {
        let id = TeamId::new(format!("T{i:03}"));
        target
            .submit(
                &p("alice"),
                &Request::TeamCreate {
                    team: id.clone(),
                    state: team(&format!("team {i}"), &[trustees()]),
                },
            )
            .unwrap();
        teams.insert(id);
    }
    teams.insert(team_id());
    teams.insert(TeamId::new("ABSENT"));
    let observed = target
        .observe(&Scope {
            teams: teams.clone(),
            ..Scope::default()
        })
        .unwrap();
    assert_eq!(observed.teams.len(), 301);
    assert_eq!(observed.teams[&team_id()].holdings, 2);
    assert_eq!(observed.teams[&TeamId::new("T007")].holdings, 0);
    assert_eq!(
        observed.teams[&TeamId::new("T007")].state,
        team("team 7", &[trustees()])
    );
    let small = target
        .observe(&Scope {
            teams: [TeamId::new("T007")].into(),
            ..Scope::default()
        })
        .unwrap();
    assert_eq!(
        small.teams[&TeamId::new("T007")],
        observed.teams[&TeamId::new("T007")]
    );
}

// ---------------------------------------------------------------------------------------------
// Rules 5 and 6: check-out requests and approvals
// ---------------------------------------------------------------------------------------------

#[test]
fn rule_5_who_may_request_depends_on_the_account() {
    let (_dir, mut target) = new_target(policy(0, 0));
    let remote = with_otp_user(&mut target);
    let mut state = vendor_team();
    state.groups.insert(
        GroupName::new("OTP only"),
        group(&[Privilege::OtpTrustees], &["dave"]),
    );
    update(&mut target, state);
    // An OTP trustee may request the vault account (the vendor's example) ...
    let request = target
        .request_checkout(&p("dave"), &remote.vault_account)
        .unwrap();
    assert_eq!(request.status, CheckoutRequestStatus::Approved);
    // ... but an onboarded account needs Requesters.
    assert_eq!(
        refused(target.request_checkout(&p("dave"), &billing())),
        vec![missing("dave", Privilege::Requesters)]
    );
    let ghost = AccountRef::new("CORP-DC", "ghost");
    assert_eq!(
        refused(target.request_checkout(&p("bob"), &ghost)),
        vec![Violation::UnknownAccount {
            account: ghost.clone()
        }]
    );
    assert!(target.checkout_requests_for(&ghost).unwrap().is_empty());
    assert_eq!(
        refused(target.request_checkout(&p("ghost"), &billing())),
        vec![Violation::UnknownProfile {
            profile: p("ghost")
        }]
    );
}

#[test]
fn rule_5_approvals() {
    let (_dir, mut target) = new_target(policy(1, 0));
    update(&mut target, vendor_team());
    // dave holds nothing in the team.
    assert_eq!(
        refused(target.request_checkout(&p("dave"), &billing())),
        vec![missing("dave", Privilege::Requesters)]
    );
    let request = target.request_checkout(&p("bob"), &billing()).unwrap();
    assert_eq!(request.status, CheckoutRequestStatus::Pending);
    assert_eq!(request.requester, p("bob"));
    assert_eq!(
        refused(target.check_out(&p("bob"), &request.request_id)),
        vec![Violation::TooFewApprovals {
            needed: 1,
            given: 0
        }]
    );
    assert_eq!(
        refused(target.approve_checkout(&p("dave"), &request.request_id)),
        vec![missing("dave", Privilege::Approvers)]
    );
    let approved = target
        .approve_checkout(&p("carol"), &request.request_id)
        .unwrap();
    assert_eq!(approved.status, CheckoutRequestStatus::Approved);
    assert_eq!(
        target.checkout_request(&request.request_id).unwrap(),
        approved
    );
    // Only the requester checks out.
    not_found(target.check_out(&p("carol"), &request.request_id));
    let out = target.check_out(&p("bob"), &request.request_id).unwrap();
    let status = target.checkout_request(&request.request_id).unwrap();
    assert_eq!(status.status, CheckoutRequestStatus::CheckedOut);
    assert_eq!(status.checkout_id, Some(out.checkout_id.clone()));
    assert_eq!(
        target.checkout_requests_for(&billing()).unwrap(),
        vec![status]
    );
    not_found(target.checkout_request(&RemoteId::new("REQ-NOPE")));
}

#[test]
fn rule_5_an_approver_cannot_approve_their_own_request() {
    let (_dir, mut target) = new_target(policy(1, 0));
    let state = team(
        "x",
        &[
            trustees(),
            (
                "Both",
                group(
                    &[Privilege::Approvers, Privilege::Requesters],
                    &["carol", "dave"],
                ),
            ),
        ],
    );
    update(&mut target, state);
    let request = target.request_checkout(&p("carol"), &billing()).unwrap();
    assert_eq!(request.status, CheckoutRequestStatus::Pending);
    assert_eq!(
        refused(target.approve_checkout(&p("carol"), &request.request_id)),
        vec![missing("carol", Privilege::Approvers)]
    );
    let approved = target
        .approve_checkout(&p("dave"), &request.request_id)
        .unwrap();
    assert_eq!(approved.status, CheckoutRequestStatus::Approved);
}

#[test]
fn rule_5_auto_approved_and_zero_minimum_need_no_approval() {
    let (_dir, mut target) = new_target(policy(1, 0));
    let state = team(
        "x",
        &[
            trustees(),
            (
                "Fast",
                group(&[Privilege::AutoApproved, Privilege::Requesters], &["dave"]),
            ),
            ("Slow", group(&[Privilege::Requesters], &["bob"])),
        ],
    );
    update(&mut target, state.clone());
    let fast = target.request_checkout(&p("dave"), &billing()).unwrap();
    assert_eq!(fast.status, CheckoutRequestStatus::Approved);
    target.check_out(&p("dave"), &fast.request_id).unwrap();

    let (_dir2, mut zero) = new_target(policy(0, 0));
    update(&mut zero, state);
    let request = zero.request_checkout(&p("bob"), &reports()).unwrap();
    assert_eq!(request.status, CheckoutRequestStatus::Approved);
}

#[test]
fn rule_5_too_few_authorizers_denies() {
    let (_dir, mut target) = new_target(policy(2, 0));
    update(&mut target, vendor_team()); // one authorizer: carol
    let request = target.request_checkout(&p("bob"), &billing()).unwrap();
    assert_eq!(request.status, CheckoutRequestStatus::Denied);
    assert_eq!(
        refused(target.check_out(&p("bob"), &request.request_id)),
        vec![Violation::TooFewAuthorizers {
            needed: 2,
            available: 1
        }]
    );
    not_found(target.approve_checkout(&p("carol"), &request.request_id));
    let log = target.log().unwrap();
    let entry = log.iter().find(|e| e.kind == "CHECKOUT-REQUEST").unwrap();
    assert!(entry.outcome.starts_with("denied:"), "{entry:?}");

    // With a second authorizer, two approvals are needed.
    let mut two = vendor_team();
    two.groups
        .get_mut(&GroupName::new("Approvers"))
        .unwrap()
        .members
        .insert(p("dave"));
    update(&mut target, two);
    let request = target.request_checkout(&p("bob"), &billing()).unwrap();
    assert_eq!(request.status, CheckoutRequestStatus::Pending);
    let once = target
        .approve_checkout(&p("carol"), &request.request_id)
        .unwrap();
    assert_eq!(once.status, CheckoutRequestStatus::Pending);
    // The same approver twice still counts once.
    let again = target
        .approve_checkout(&p("carol"), &request.request_id)
        .unwrap();
    assert_eq!(again.status, CheckoutRequestStatus::Pending);
    assert_eq!(
        refused(target.check_out(&p("bob"), &request.request_id)),
        vec![Violation::TooFewApprovals {
            needed: 2,
            given: 1
        }]
    );
    let twice = target
        .approve_checkout(&p("dave"), &request.request_id)
        .unwrap();
    assert_eq!(twice.status, CheckoutRequestStatus::Approved);
}

#[test]
fn rule_6_one_holder_and_the_window() {
    let (_dir, mut target) = new_target(policy(0, 0));
    update(&mut target, vendor_team());
    let (checkout_id, password) = check_out_as(&mut target, "bob", None, &billing());
    assert_eq!(
        refused(target.request_checkout(&p("bob"), &billing())),
        vec![Violation::AlreadyCheckedOut { account: billing() }]
    );
    // Two approved requests: the second cannot check out while the first is open.
    let (_dir2, mut other) = new_target(policy(0, 0));
    update(&mut other, vendor_team());
    let first = other.request_checkout(&p("bob"), &reports()).unwrap();
    let second = other.request_checkout(&p("bob"), &reports()).unwrap();
    other.check_out(&p("bob"), &first.request_id).unwrap();
    assert_eq!(
        refused(other.check_out(&p("bob"), &second.request_id)),
        vec![Violation::AlreadyCheckedOut { account: reports() }]
    );
    assert_eq!(
        refused(other.check_out(&p("bob"), &first.request_id)),
        vec![Violation::AlreadyCheckedOut { account: reports() }]
    );

    // Past the window (240 minutes) the check-out is closed and the password randomized.
    target.advance_clock(Duration::from_secs(239 * 60));
    assert_eq!(
        target
            .retrieve_checkout_password(&p("bob"), &checkout_id)
            .unwrap(),
        password
    );
    target.advance_clock(Duration::from_secs(2 * 60));
    let status = target.checkout_requests_for(&billing()).unwrap();
    assert_eq!(
        status[0].status,
        CheckoutRequestStatus::Closed,
        "reads see it closed"
    );
    let what = not_found(target.retrieve_checkout_password(&p("bob"), &checkout_id));
    assert!(what.contains("expired"), "{what}");
    assert!(target.log().unwrap().iter().any(|e| e.kind == "EXPIRE"));
    let (_, next) = check_out_as(&mut target, "bob", None, &billing());
    assert_ne!(next, password);
    assert_eq!(target.checkout_count(&billing()).unwrap(), 2);
}

// ---------------------------------------------------------------------------------------------
// Rules 7 to 11: secrets, OTP logins, grants, serialization, viewing again
// ---------------------------------------------------------------------------------------------

#[test]
fn vendor_workflow_end_to_end() {
    let (_dir, mut target, remote, disclosed) = vendor_workflow(policy(1, 0));
    assert_eq!(target.checkout_count(&remote.vault_account).unwrap(), 1);
    let observed = target
        .observe(&Scope {
            teams: [team_id()].into(),
            ..Scope::default()
        })
        .unwrap();
    let user = &observed.otp_api_users[&remote.guid];
    assert_eq!(user.checkouts_ever, 1);
    let open = user.open_checkout.as_ref().unwrap();
    assert_eq!(open.holder, p("bob"));

    // Step 5: pamutil logs in with the disclosed password and gets the next one.
    let session = target
        .otp_login(&remote.caller, &disclosed, localhost())
        .unwrap();
    assert_ne!(session.next_otp, disclosed);
    // OTP maximum 0: the old password no longer works.
    assert_eq!(
        rejected(target.otp_login(&remote.caller, &disclosed, localhost())),
        LoginRejection::OtpOutOfSync
    );

    // Read svc_billing; its value is the one bob gets when he checks it out.
    let read = target
        .read_password(&session.session_id, &billing())
        .unwrap();
    let (_, billing_password) = check_out_as(&mut target, "bob", Some("carol"), &billing());
    assert_ne!(
        read, billing_password,
        "the check-out randomized svc_billing"
    );
    let session = target
        .otp_login(&remote.caller, &session.next_otp, localhost())
        .unwrap();
    assert_eq!(
        target
            .read_password(&session.session_id, &billing())
            .unwrap(),
        billing_password
    );
    // Not granted: svc_reports, and the vault account itself.
    for account in [
        reports(),
        remote.vault_account.clone(),
        AccountRef::new("X", "y"),
    ] {
        match target.read_password(&session.session_id, &account) {
            Err(TargetError::NotGranted { account: a }) => assert_eq!(a, account),
            other => panic!("expected not granted, got {other:?}"),
        }
    }
    not_found(target.read_password(&RemoteId::new("SESSION-NOPE"), &billing()));
    // Sessions expire.
    target.advance_clock(Duration::from_secs(6 * 60));
    not_found(target.read_password(&session.session_id, &billing()));

    // Outside the allowed network.
    let far: IpAddr = "10.1.2.3".parse().unwrap();
    assert_eq!(
        rejected(target.otp_login(&remote.caller, &session.next_otp, far)),
        LoginRejection::NetworkNotAllowed
    );
    assert_eq!(
        rejected(target.otp_login(&p("nobody"), &session.next_otp, localhost())),
        LoginRejection::UnknownCaller
    );
    assert_eq!(
        rejected(target.otp_login(&p("bob"), &session.next_otp, localhost())),
        LoginRejection::UnknownCaller,
        "a person is not an OTP API caller"
    );
    // The rejected logins did not rotate: the current password still works.
    target
        .otp_login(
            &remote.caller,
            &session.next_otp,
            "::ffff:127.0.0.1".parse().unwrap(),
        )
        .unwrap();
    assert_eq!(target.otp_rotations(&remote.caller).unwrap(), 3);
}

#[test]
fn rule_8_otp_maximum_keeps_previous_passwords_valid_once() {
    let (_dir, mut target, remote, disclosed) = vendor_workflow(policy(1, 1));
    let first = target
        .otp_login(&remote.caller, &disclosed, localhost())
        .unwrap();
    // The previous password still works once (a client that lost `first.next_otp` recovers).
    let second = target
        .otp_login(&remote.caller, &disclosed, localhost())
        .unwrap();
    assert_eq!(
        rejected(target.otp_login(&remote.caller, &disclosed, localhost())),
        LoginRejection::OtpOutOfSync
    );
    // Now the current one and one previous one are valid.
    target
        .otp_login(&remote.caller, &first.next_otp, localhost())
        .unwrap();
    let dump = target.dump().unwrap();
    assert_eq!(dump.otp_api_users[0].valid_otps, 2);
    assert_eq!(dump.otp_api_users[0].rotations, 3);
    assert_eq!(
        rejected(target.otp_login(
            &remote.caller,
            &second.next_otp,
            "10.0.0.1".parse().unwrap()
        )),
        LoginRejection::NetworkNotAllowed
    );
}

#[test]
fn rule_7_expiry_of_the_vault_check_out_randomizes_it() {
    let (_dir, mut target, remote, disclosed) = vendor_workflow(policy(1, 0));
    let session = target
        .otp_login(&remote.caller, &disclosed, localhost())
        .unwrap();
    target.advance_clock(Duration::from_secs(241 * 60));
    // The next write closes the check-out and randomizes the vault account; the value is pushed
    // onto the caller's login only at check-out, so the password pamutil holds still works.
    let next = target
        .otp_login(&remote.caller, &session.next_otp, localhost())
        .unwrap();
    assert_ne!(next.next_otp, session.next_otp);
    let dump = target.dump().unwrap();
    assert_eq!(dump.checkouts[0].state, "expired");
    assert_eq!(dump.checkout_requests[0].status, "closed");
    let expired: Vec<_> = target
        .log()
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "EXPIRE")
        .collect();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].object, remote.vault_account.to_string());
}

#[test]
fn rule_7_checking_out_the_vault_account_again_breaks_the_binding() {
    let (_dir, mut target, remote, disclosed) = vendor_workflow(policy(1, 0));
    let session = target
        .otp_login(&remote.caller, &disclosed, localhost())
        .unwrap();
    let pamutil_holds = session.next_otp;
    // Check in (randomizes the vault account), then check out again (pushes the new value).
    let open = target
        .observe(&Scope {
            otp_guids: [remote.guid.clone()].into(),
            ..Scope::default()
        })
        .unwrap()
        .otp_api_users[&remote.guid]
        .open_checkout
        .clone()
        .unwrap();
    target.check_in(&p("bob"), &open.checkout_id).unwrap();
    // Check-in randomizes the vault account but leaves the caller's chain alone.
    let session = target
        .otp_login(&remote.caller, &pamutil_holds, localhost())
        .unwrap();
    let pamutil_holds = session.next_otp;
    let (_, again) = check_out_as(&mut target, "bob", Some("carol"), &remote.vault_account);
    assert_ne!(again, disclosed);
    assert_eq!(
        rejected(target.otp_login(&remote.caller, &pamutil_holds, localhost())),
        LoginRejection::OtpOutOfSync
    );
    target
        .otp_login(&remote.caller, &again, localhost())
        .unwrap();
    assert_eq!(target.checkout_count(&remote.vault_account).unwrap(), 2);
}

#[test]
fn rule_7_and_11_check_in_randomizes_and_viewing_again_does_not() {
    let (_dir, mut target) = new_target(policy(1, 0));
    update(&mut target, vendor_team());
    let (checkout_id, password) = check_out_as(&mut target, "bob", Some("carol"), &billing());
    for _ in 0..3 {
        assert_eq!(
            target
                .retrieve_checkout_password(&p("bob"), &checkout_id)
                .unwrap(),
            password
        );
    }
    // Only the holder.
    not_found(target.retrieve_checkout_password(&p("carol"), &checkout_id));
    not_found(target.check_in(&p("carol"), &checkout_id));
    target.check_in(&p("bob"), &checkout_id).unwrap();
    let what = not_found(target.retrieve_checkout_password(&p("bob"), &checkout_id));
    assert!(what.contains("checked in"), "{what}");
    not_found(target.check_in(&p("bob"), &checkout_id));
    // The next holder sees a new value.
    let (_, next) = check_out_as(&mut target, "bob", Some("carol"), &billing());
    assert_ne!(next, password);
    let closed = target.checkout_requests_for(&billing()).unwrap();
    assert_eq!(closed[0].status, CheckoutRequestStatus::Closed);
    // A closed request cannot be checked out again.
    not_found(target.check_out(&p("bob"), &closed[0].request_id));
}

#[test]
fn rule_10_serialized_logins_from_many_handles_never_fail() {
    let (dir, mut target, remote, disclosed) = vendor_workflow(policy(1, 0));
    let path = target.path().to_path_buf();
    let current = Arc::new(Mutex::new(disclosed));
    let failures = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (path, current, failures, caller) = (
                path.clone(),
                current.clone(),
                failures.clone(),
                remote.caller.clone(),
            );
            std::thread::spawn(move || {
                let mut handle = EmbeddedTarget::open(&path, &|| panic!("must not seed")).unwrap();
                for _ in 0..50 {
                    let mut otp = current.lock().unwrap();
                    match handle.otp_login(&caller, &otp, localhost()) {
                        Ok(session) => {
                            *otp = session.next_otp;
                            handle
                                .read_password(&session.session_id, &billing())
                                .unwrap();
                        }
                        Err(_) => {
                            failures.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    assert_eq!(failures.load(Ordering::SeqCst), 0);
    assert_eq!(target.otp_rotations(&remote.caller).unwrap(), 200);
    // Client and target end on the same password.
    let last = current.lock().unwrap().clone();
    target
        .otp_login(&remote.caller, &last, localhost())
        .unwrap();
    drop(dir);
}

#[test]
fn rule_10_two_concurrent_logins_with_one_password_one_fails() {
    let (_dir, target, remote, disclosed) = vendor_workflow(policy(1, 0));
    let path = target.path().to_path_buf();
    let mut otp = disclosed;
    for _ in 0..5 {
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (path, barrier, caller, otp) = (
                    path.clone(),
                    barrier.clone(),
                    remote.caller.clone(),
                    otp.clone(),
                );
                std::thread::spawn(move || {
                    let mut handle =
                        EmbeddedTarget::open(&path, &|| panic!("must not seed")).unwrap();
                    barrier.wait();
                    handle.otp_login(&caller, &otp, localhost())
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let (ok, failed): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
        assert_eq!(ok.len(), 1);
        assert_eq!(failed.len(), 1);
        assert!(matches!(
            failed[0],
            Err(TargetError::LoginRejected(LoginRejection::OtpOutOfSync))
        ));
        otp = ok.into_iter().next().unwrap().unwrap().next_otp;
    }
}

// ---------------------------------------------------------------------------------------------
// The log, the dump and secrecy
// ---------------------------------------------------------------------------------------------

#[test]
fn refusals_are_logged_and_change_nothing() {
    let (_dir, mut target) = new_target(Policy::default());
    let before = target.dump().unwrap();
    let request = Request::TeamUpdate {
        team: team_id(),
        state: vendor_team(),
    };
    refused(target.submit(&p("bob"), &request));
    let after = target.dump().unwrap();
    assert_eq!(
        serde_json::to_value(&before).unwrap(),
        serde_json::to_value(&after).unwrap()
    );
    let log = target.log().unwrap();
    let last = log.last().unwrap();
    assert_eq!(last.kind, "TEAM-UPDATE");
    assert_eq!(last.submitter, "bob");
    assert_eq!(last.object, "team.CORP-AD");
    assert!(last.reference.as_deref().unwrap().starts_with("BATCH-"));
    assert_eq!(
        last.outcome,
        "refused: bob does not hold Team_Trustees in team CORP-AD"
    );
    target.submit(&p("alice"), &request).unwrap();
    assert_eq!(target.log().unwrap().last().unwrap().outcome, "done");
    let seqs: Vec<u64> = target.log().unwrap().iter().map(|e| e.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "oldest first");
}

#[test]
fn no_secret_in_dump_log_debug_or_errors() {
    let (_dir, mut target, remote, disclosed) = vendor_workflow(policy(1, 0));
    let session = target
        .otp_login(&remote.caller, &disclosed, localhost())
        .unwrap();
    let read = target
        .read_password(&session.session_id, &billing())
        .unwrap();
    let secrets = [
        disclosed.expose().to_owned(),
        session.next_otp.expose().to_owned(),
        read.expose().to_owned(),
    ];

    let dump = target.dump().unwrap();
    let mut texts = vec![
        serde_json::to_string(&dump).unwrap(),
        dump.render_text(),
        serde_json::to_string(&target.log().unwrap()).unwrap(),
        format!("{target:?}"),
        format!("{session:?}"),
        format!("{disclosed:?} {disclosed}"),
    ];
    texts.push(rejected(target.otp_login(&remote.caller, &disclosed, localhost())).to_string());
    let error = target
        .otp_login(&remote.caller, &disclosed, localhost())
        .unwrap_err();
    texts.push(format!("{error} {error:?}"));
    for text in &texts {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret leaked into {text}"
            );
        }
    }
    assert!(dump.render_text().contains("********"));
    assert!(dump.accounts.iter().all(|a| a.password == "********"));
    // And not in the file in clear either.
    let bytes = std::fs::read(target.path()).unwrap();
    for secret in &secrets {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "a secret is stored in clear"
        );
    }
}

#[test]
fn dump_is_deterministic_and_complete() {
    let (_dir, mut target, remote, _disclosed) = vendor_workflow(policy(1, 0));
    let one = serde_json::to_value(target.dump().unwrap()).unwrap();
    let two = serde_json::to_value(target.dump().unwrap()).unwrap();
    assert_eq!(one, two);
    let dump = target.dump().unwrap();
    let ids: Vec<&str> = dump.profiles.iter().map(|p| p.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    assert!(
        dump.profiles
            .iter()
            .any(|p| p.id == remote.caller.as_str() && p.otp_caller)
    );
    assert_eq!(dump.teams[0].holdings, 3);
    assert_eq!(dump.checkout_requests.len(), 1);
    assert_eq!(
        dump.checkout_requests[0].approved_by,
        vec!["carol".to_owned()]
    );
    assert_eq!(dump.checkout_requests[0].status, "checked out");
    assert_eq!(dump.checkouts[0].state, "open");
    assert_eq!(
        dump.otp_api_users[0].accounts,
        vec!["CORP-DC/svc_billing".to_owned()]
    );
    let text = dump.render_text();
    assert!(text.contains(remote.caller.as_str()), "{text}");
    assert!(text.contains("OTP API Trustee"), "{text}");
    let kinds: BTreeMap<String, usize> =
        target
            .log()
            .unwrap()
            .into_iter()
            .fold(BTreeMap::new(), |mut m, e| {
                *m.entry(e.kind).or_default() += 1;
                m
            });
    for kind in [
        "SEED",
        "TEAM-UPDATE",
        "CREATE_PAMUTIL_API_USER",
        "CHECKOUT-REQUEST",
        "APPROVE",
        "CHECKOUT",
    ] {
        assert_eq!(kinds.get(kind), Some(&1), "{kind}: {kinds:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Scale
// ---------------------------------------------------------------------------------------------

/// Many teams with 100 members each, written straight into the file, then observed whole: every
/// team and membership comes back. `PAMFORM_SCALE_TEAMS` sets the count (default 300 teams, 30,000
/// memberships; 10000 for a million). Speed is measured by `bench/run`, not here.
#[test]
fn observe_returns_every_team_and_membership_at_scale() {
    let teams: usize = std::env::var("PAMFORM_SCALE_TEAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let (_dir, target) = new_target(Policy::default());
    let path = target.path().to_path_buf();
    drop(target);
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut profile = tx
            .prepare("INSERT INTO profiles (id, name, team_admin) VALUES (?1, ?1, 0)")
            .unwrap();
        for i in 0..10_000 {
            profile.execute([format!("user{i:05}")]).unwrap();
        }
        let mut team_row = tx
            .prepare("INSERT INTO teams (team_id, description) VALUES (?1, 'bulk')")
            .unwrap();
        let mut group_row = tx
            .prepare("INSERT INTO team_groups (team, name) VALUES (?1, 'Trustees')")
            .unwrap();
        let mut privilege = tx
            .prepare(
                "INSERT INTO group_privileges (group_id, privilege) VALUES (?1, 'Team_Trustees')",
            )
            .unwrap();
        let mut member = tx
            .prepare("INSERT INTO group_members (group_id, profile) VALUES (?1, ?2)")
            .unwrap();
        for t in 0..teams {
            team_row.execute([format!("BULK-{t:05}")]).unwrap();
            let team_rowid = tx.last_insert_rowid();
            group_row.execute([team_rowid]).unwrap();
            let group_id = tx.last_insert_rowid();
            privilege.execute([group_id]).unwrap();
            for m in 0..100 {
                member
                    .execute(rusqlite::params![
                        group_id,
                        format!("user{:05}", (t * 7 + m) % 10_000)
                    ])
                    .unwrap();
            }
        }
    }
    tx.commit().unwrap();
    drop(conn);

    let mut target = reopen(&_dir);
    let scope = Scope {
        teams: (0..teams)
            .map(|t| TeamId::new(format!("BULK-{t:05}")))
            .collect(),
        ..Scope::default()
    };
    let observed = target.observe(&scope).unwrap();
    assert_eq!(observed.teams.len(), teams);
    let members: usize = observed
        .teams
        .values()
        .flat_map(|t| t.state.groups.values())
        .map(|g| g.members.len())
        .sum();
    assert_eq!(members, teams * 100);
}
