//! Pure tests of the plan engine over data tables: (desired, recorded, observed) in, steps,
//! refusals and counts out. No IO.

use std::collections::BTreeSet;

use super::*;
use crate::model::*;

fn group(privileges: &[Privilege], members: &[&str]) -> GroupState {
    GroupState {
        privileges: privileges.iter().copied().collect(),
        members: members.iter().map(|m| ProfileId::new(*m)).collect(),
    }
}

fn team(groups: &[(&str, GroupState)]) -> TeamState {
    TeamState {
        description: "Corporate AD Accounts Team".into(),
        groups: groups
            .iter()
            .map(|(n, g)| (GroupName::new(*n), g.clone()))
            .collect(),
    }
}

fn base_team() -> TeamState {
    team(&[("Trustees", group(&[Privilege::TeamTrustees], &["alice"]))])
}

fn full_team() -> TeamState {
    team(&[
        ("Trustees", group(&[Privilege::TeamTrustees], &["alice"])),
        (
            "OTP API Trustee",
            group(&[Privilege::OtpTrustees, Privilege::Requesters], &["bob"]),
        ),
        ("Approvers", group(&[Privilege::Approvers], &["carol"])),
    ])
}

fn id(t: &str) -> TeamId {
    TeamId::new(t)
}

fn p(name: &str) -> ProfileId {
    ProfileId::new(name)
}

fn observed_with(teams: &[(&str, TeamState)]) -> Observed {
    let mut observed = Observed::default();
    for name in ["alice", "bob", "carol", "dave"] {
        observed.profiles.insert(
            p(name),
            ObservedProfile {
                team_admin: name == "alice",
            },
        );
    }
    for (t, state) in teams {
        observed.teams.insert(
            id(t),
            ObservedTeam {
                state: state.clone(),
                holdings: 2,
            },
        );
    }
    observed.accounts.insert(
        AccountRef::new("CORP-DC", "svc_billing"),
        ObservedAccount {
            guid: RemoteId::new("A1"),
            team: Some(id("CORP-AD")),
            policy: "ONBOARDED_ACCOUNTS".into(),
        },
    );
    observed
}

fn desired_team(state: TeamState, by: &str) -> Desired {
    let mut desired = Desired::default();
    desired.teams.insert(
        id("CORP-AD"),
        DesiredTeam {
            state,
            requested_by: p(by),
        },
    );
    desired
}

fn recorded_team(state: TeamState) -> Recorded {
    let mut recorded = Recorded::default();
    recorded.teams.insert(
        id("CORP-AD"),
        RecordedTeam {
            state,
            requested_by: p("alice"),
        },
    );
    recorded
}

fn spec() -> OtpApiUserSpec {
    OtpApiUserSpec {
        team: id("CORP-AD"),
        description: "Billing".into(),
        accounts: [AccountRef::new("CORP-DC", "svc_billing")].into(),
        allowed_network: DEFAULT_ALLOWED_NETWORK.into(),
    }
}

fn with_user_and_checkout(mut desired: Desired) -> Desired {
    desired.otp_api_users.insert(
        OtpUserName::new("billing"),
        DesiredOtpApiUser {
            spec: spec(),
            requested_by: p("bob"),
        },
    );
    desired.checkouts.insert(
        OtpUserName::new("billing"),
        CheckoutSpec {
            requested_by: p("bob"),
            approved_by: [p("carol")].into(),
        },
    );
    desired
}

fn remote() -> OtpApiUserRemote {
    OtpApiUserRemote {
        guid: RemoteId::new("G1"),
        vault_account: AccountRef::new("CORP-DC", "PAM_UTIL_G1"),
        caller: p("PAM_UTIL_G1"),
    }
}

fn observed_user(checkouts_ever: u64, open: Option<&str>) -> ObservedOtpApiUser {
    ObservedOtpApiUser {
        spec: spec(),
        remote: remote(),
        checkouts_ever,
        open_checkout: open.map(|c| OpenCheckout {
            checkout_id: RemoteId::new(c),
            request_id: RemoteId::new("R1"),
            holder: p("bob"),
        }),
    }
}

fn recorded_user(recorded: &mut Recorded) {
    recorded.otp_api_users.insert(
        OtpUserName::new("billing"),
        RecordedOtpApiUser {
            spec: spec(),
            remote: remote(),
            requested_by: p("bob"),
        },
    );
}

fn recorded_checkout(recorded: &mut Recorded, checkout_id: &str) {
    recorded.checkouts.insert(
        OtpUserName::new("billing"),
        RecordedCheckout {
            spec: CheckoutSpec {
                requested_by: p("bob"),
                approved_by: [p("carol")].into(),
            },
            otp_guid: RemoteId::new("G1"),
            request_id: RemoteId::new("R1"),
            checkout_id: RemoteId::new(checkout_id),
            bound_at: "2026-01-01T00:00:00Z".into(),
        },
    );
}

fn requests(plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .map(|s| {
            let kind = s
                .operation
                .request_kind()
                .map(|k| k.id().to_string())
                .unwrap_or_else(|| "state".into());
            format!("{kind} {}", s.subject)
        })
        .collect()
}

fn plan(desired: &Desired, recorded: &Recorded, observed: &Observed) -> Plan {
    build(desired, recorded, observed, PlanOptions::default())
}

#[test]
fn the_vendor_workflow_is_ordered_and_authorized_step_by_step() {
    let mut desired = with_user_and_checkout(desired_team(full_team(), "alice"));
    desired
        .imports
        .insert(Address::Team(id("CORP-AD")), RemoteId::new("CORP-AD"));
    let observed = observed_with(&[("CORP-AD", base_team())]);
    let plan = plan(&desired, &Recorded::default(), &observed);
    assert_eq!(plan.refusals, vec![]);
    assert_eq!(
        requests(&plan),
        [
            "state team.CORP-AD",
            "TEAM-UPDATE team.CORP-AD",
            "CREATE_PAMUTIL_API_USER otp_api_user.billing",
            "CHECKOUT checkout.billing",
        ]
    );
    assert_eq!(
        plan.summary,
        Summary {
            import: 1,
            add: 9,
            change: 0,
            destroy: 0
        }
    );
}

#[test]
fn team_changes_pick_the_narrowest_request() {
    // (desired, request expected, adds, destroys)
    let mut more_members = base_team();
    more_members
        .groups
        .get_mut(&GroupName::new("Trustees"))
        .unwrap()
        .members
        .insert(p("dave"));
    let mut new_description = base_team();
    new_description.description = "Renamed".into();
    let mut new_privilege = base_team();
    new_privilege
        .groups
        .get_mut(&GroupName::new("Trustees"))
        .unwrap()
        .privileges
        .insert(Privilege::Requesters);
    let table: Vec<(TeamState, Vec<&str>, usize, usize, usize)> = vec![
        (base_team(), vec![], 0, 0, 0),
        (more_members, vec!["TEAM-MEMBERS team.CORP-AD"], 1, 0, 0),
        (new_description, vec!["TEAM-UPDATE team.CORP-AD"], 0, 1, 0),
        (new_privilege, vec!["TEAM-UPDATE team.CORP-AD"], 1, 0, 0),
        (full_team(), vec!["TEAM-UPDATE team.CORP-AD"], 7, 0, 0),
    ];
    for (state, expected, add, change, destroy) in table {
        let desired = desired_team(state.clone(), "alice");
        let recorded = recorded_team(base_team());
        let observed = observed_with(&[("CORP-AD", base_team())]);
        let plan = plan(&desired, &recorded, &observed);
        assert_eq!(requests(&plan), expected, "{state:?}");
        assert_eq!(
            (plan.summary.add, plan.summary.change, plan.summary.destroy),
            (add, change, destroy),
            "{state:?}"
        );
        assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    }
}

#[test]
fn refusals_name_the_address_submitter_and_reason() {
    struct Case {
        name: &'static str,
        desired: Desired,
        observed: Observed,
        recorded: Recorded,
        address: &'static str,
        reason: &'static str,
    }
    let mut ghost_member = full_team();
    ghost_member
        .groups
        .get_mut(&GroupName::new("Approvers"))
        .unwrap()
        .members
        .insert(p("ghost"));
    let mut removed = Desired::default();
    removed.teams.clear();
    let mut unapproved = with_user_and_checkout(desired_team(full_team(), "alice"));
    unapproved
        .checkouts
        .get_mut(&OtpUserName::new("billing"))
        .unwrap()
        .approved_by = BTreeSet::new();
    let cases = vec![
        Case {
            name: "non-trustee submits TEAM-UPDATE",
            desired: desired_team(full_team(), "bob"),
            observed: observed_with(&[("CORP-AD", base_team())]),
            recorded: recorded_team(base_team()),
            address: "team.CORP-AD",
            reason: "bob does not hold Team_Trustees in team CORP-AD",
        },
        Case {
            name: "unknown member",
            desired: desired_team(ghost_member, "alice"),
            observed: observed_with(&[("CORP-AD", base_team())]),
            recorded: recorded_team(base_team()),
            address: "member.CORP-AD/Approvers/ghost",
            reason: "profile ghost does not exist in the target",
        },
        Case {
            name: "team with accounts cannot be deleted",
            desired: removed,
            observed: observed_with(&[("CORP-AD", base_team())]),
            recorded: recorded_team(base_team()),
            address: "team.CORP-AD",
            reason: "team CORP-AD still holds 2 managed system(s) or account(s)",
        },
        Case {
            name: "existing team without import",
            desired: desired_team(base_team(), "alice"),
            observed: observed_with(&[("CORP-AD", base_team())]),
            recorded: Recorded::default(),
            address: "team.CORP-AD",
            reason: "team CORP-AD exists in the target but not in the state",
        },
        Case {
            name: "check-out without the approvals the policy needs",
            desired: unapproved,
            observed: observed_with(&[("CORP-AD", base_team())]),
            recorded: recorded_team(base_team()),
            address: "checkout.billing",
            reason: "the check-out needs 1 approval(s)",
        },
    ];
    for case in cases {
        let plan = plan(&case.desired, &case.recorded, &case.observed);
        let found = plan
            .refusals
            .iter()
            .any(|r| r.address.to_string() == case.address && r.reason.starts_with(case.reason));
        assert!(found, "{}: {:#?}", case.name, plan.refusals);
    }
}

#[test]
fn a_vault_account_is_never_checked_out_twice() {
    let desired = with_user_and_checkout(desired_team(full_team(), "alice"));
    // (recorded user?, recorded check-out, observed user: (ever, open), refused?, check-out step?)
    type Row = (
        bool,
        Option<&'static str>,
        (u64, Option<&'static str>),
        bool,
        bool,
    );
    let table: Vec<Row> = vec![
        // Never checked out, user known: one check-out step.
        (true, None, (0, None), false, true),
        // Bound and intact: nothing to do.
        (true, Some("C1"), (1, Some("C1")), false, false),
        // State lost its check-out, target shows one: refused, no step.
        (true, None, (1, Some("C1")), true, false),
        // Checked out and in again outside pamform: refused, no step.
        (true, None, (2, None), true, false),
        // Bound, but re-checked-out outside pamform: the binding is broken.
        (true, Some("C1"), (2, Some("C9")), true, false),
        // Bound and checked in (or expired): the caller's OTP chain is untouched.
        (true, Some("C1"), (1, None), false, false),
        // Bound, re-checked-out and checked in again outside pamform: broken.
        (true, Some("C1"), (2, None), true, false),
    ];
    for (user_recorded, checkout, (ever, open), refused, step) in table {
        let mut recorded = recorded_team(full_team());
        if user_recorded {
            recorded_user(&mut recorded);
        }
        if let Some(c) = checkout {
            recorded_checkout(&mut recorded, c);
        }
        let mut observed = observed_with(&[("CORP-AD", full_team())]);
        observed
            .otp_api_users
            .insert(RemoteId::new("G1"), observed_user(ever, open));
        let plan = plan(&desired, &recorded, &observed);
        let row = format!("{user_recorded} {checkout:?} {ever} {open:?}");
        assert_eq!(plan.is_refused(), refused, "{row}: {:#?}", plan.refusals);
        let has_step = plan
            .steps
            .iter()
            .any(|s| matches!(s.operation, Operation::Checkout { .. }));
        assert_eq!(has_step, step, "{row}");
    }
}

#[test]
fn a_lost_state_never_duplicates_an_otp_api_user() {
    let desired = with_user_and_checkout(desired_team(full_team(), "alice"));
    let mut observed = observed_with(&[("CORP-AD", full_team())]);
    observed
        .otp_api_users
        .insert(RemoteId::new("G1"), observed_user(1, Some("C1")));
    let plan = plan(&desired, &recorded_team(full_team()), &observed);
    assert!(
        !plan
            .steps
            .iter()
            .any(|s| s.operation.request_kind() == Some(RequestKind::CreateOtpApiUser))
    );
    let refusal = plan
        .refusals
        .iter()
        .find(|r| r.address.to_string() == "otp_api_user.billing")
        .expect("refused");
    assert!(refusal.remedy.as_deref().unwrap().contains("id = \"G1\""));
}

#[test]
fn changed_bound_checkout_is_immutable() {
    let mut desired = with_user_and_checkout(desired_team(full_team(), "alice"));
    desired
        .checkouts
        .get_mut(&OtpUserName::new("billing"))
        .unwrap()
        .requested_by = p("alice");
    let mut recorded = recorded_team(full_team());
    recorded_user(&mut recorded);
    recorded_checkout(&mut recorded, "C1");
    let mut observed = observed_with(&[("CORP-AD", full_team())]);
    observed
        .otp_api_users
        .insert(RemoteId::new("G1"), observed_user(1, Some("C1")));
    let plan = plan(&desired, &recorded, &observed);
    assert!(plan.steps.is_empty());
    assert!(plan.refusals.is_empty());
    assert_eq!(plan.notes.len(), 1);
    assert!(plan.notes[0].message.contains("never again"));
}

#[test]
fn deletions_come_last_and_recorded_only_teams_are_forgotten() {
    let mut desired = desired_team(base_team(), "alice");
    desired.teams.insert(
        id("NEW"),
        DesiredTeam {
            state: base_team(),
            requested_by: p("alice"),
        },
    );
    let mut recorded = recorded_team(base_team());
    for t in ["GONE", "OLD"] {
        recorded.teams.insert(
            id(t),
            RecordedTeam {
                state: base_team(),
                requested_by: p("alice"),
            },
        );
    }
    let mut observed = observed_with(&[("CORP-AD", base_team()), ("OLD", base_team())]);
    observed.teams.get_mut(&id("OLD")).unwrap().holdings = 0;
    let plan = plan(&desired, &recorded, &observed);
    assert_eq!(
        requests(&plan),
        [
            "state team.GONE",
            "TEAM-CREATE team.NEW",
            "TEAM-DELETE team.OLD"
        ]
    );
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    assert_eq!(plan.summary.destroy, 4);
}

#[test]
fn plans_are_deterministic_and_list_no_ops_on_request() {
    let desired = with_user_and_checkout(desired_team(full_team(), "alice"));
    let recorded = recorded_team(base_team());
    let observed = observed_with(&[("CORP-AD", base_team())]);
    let a = build(
        &desired,
        &recorded,
        &observed,
        PlanOptions {
            include_no_ops: true,
        },
    );
    let b = build(
        &desired,
        &recorded,
        &observed,
        PlanOptions {
            include_no_ops: true,
        },
    );
    assert_eq!(a, b);
    let no_ops: Vec<String> = a
        .changes
        .iter()
        .filter(|c| c.action == Action::NoOp)
        .map(|c| c.address.to_string())
        .collect();
    assert_eq!(
        no_ops,
        [
            "team.CORP-AD",
            "group.CORP-AD/Trustees",
            "privilege.CORP-AD/Trustees/Team_Trustees",
            "member.CORP-AD/Trustees/alice"
        ]
    );
}

#[test]
fn drift_compares_the_state_with_the_target() {
    let desired = desired_team(base_team(), "alice");
    let recorded = recorded_team(base_team());
    let mut now = base_team();
    now.groups
        .get_mut(&GroupName::new("Trustees"))
        .unwrap()
        .members
        .insert(p("dave"));
    let observed = observed_with(&[("CORP-AD", now)]);
    let plan = plan(&desired, &recorded, &observed);
    let drift: Vec<(String, DriftKind)> = plan
        .drift
        .iter()
        .map(|d| (d.address.to_string(), d.kind))
        .collect();
    assert_eq!(
        drift,
        [("member.CORP-AD/Trustees/dave".to_string(), DriftKind::Added)]
    );
    assert_eq!(requests(&plan), ["TEAM-MEMBERS team.CORP-AD"]);
}
