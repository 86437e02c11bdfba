//! The product's rules as pure functions, shared by the plan engine (which predicts refusals) and
//! the embedded target (which enforces them), so the two can never disagree.
//!
//! Invariant: every function here is deterministic and does no IO.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::{
    AccountRef, GroupName, GroupState, Policy, Privilege, ProfileId, Request, TeamId, TeamState,
};

/// Why the product refuses a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Rule 1: no group holding `Team_Trustees` has a member.
    NoPopulatedTrusteeGroup { team: TeamId },
    /// Rule 2: a group holds `Auto_Approved` or `Credential_Manager` without `Requesters`.
    NeedsRequesters {
        team: TeamId,
        group: GroupName,
        privilege: Privilege,
    },
    /// Rule 3: team creation and deletion need a team administrator.
    NotTeamAdmin { profile: ProfileId },
    /// The submitter lacks the privilege the request needs in that team.
    MissingPrivilege {
        profile: ProfileId,
        team: TeamId,
        privilege: Privilege,
    },
    /// The profile does not exist in the target.
    UnknownProfile { profile: ProfileId },
    /// The team does not exist in the target.
    UnknownTeam { team: TeamId },
    /// `TEAM-CREATE` of a team that exists.
    TeamExists { team: TeamId },
    /// `TEAM-MEMBERS` names a group the team does not have.
    UnknownGroup { team: TeamId, group: GroupName },
    /// `TEAM-DELETE` of a team that still holds systems or accounts.
    TeamHoldsAccounts { team: TeamId, holdings: u64 },
    /// Rule 4: `CREATE_PAMUTIL_API_USER` needs at least one account.
    NoAccounts,
    /// Rule 4: the account is not an onboarded account of that team.
    AccountNotInTeam { account: AccountRef, team: TeamId },
    /// Rule 4: the account does not exist.
    UnknownAccount { account: AccountRef },
    /// Rule 5: too few approvals by authorizers of the team.
    TooFewApprovals { needed: u32, given: u32 },
    /// Rule 5: the policy needs more authorizers than the team has.
    TooFewAuthorizers { needed: u32, available: u32 },
    /// Rule 6: the account is checked out already (one concurrent holder).
    AlreadyCheckedOut { account: AccountRef },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::NoPopulatedTrusteeGroup { team } => write!(
                f,
                "team {team} would have no member in a group holding Team_Trustees (a team needs at least one trustee)"
            ),
            Violation::NeedsRequesters {
                team,
                group,
                privilege,
            } => write!(
                f,
                "group {group:?} of team {team} holds {privilege} without Requesters"
            ),
            Violation::NotTeamAdmin { profile } => write!(
                f,
                "{profile} is not a team administrator (member of PAM_TEAM_ADMINS)"
            ),
            Violation::MissingPrivilege {
                profile,
                team,
                privilege,
            } => write!(f, "{profile} does not hold {privilege} in team {team}"),
            Violation::UnknownProfile { profile } => {
                write!(f, "profile {profile} does not exist in the target")
            }
            Violation::UnknownTeam { team } => {
                write!(f, "team {team} does not exist in the target")
            }
            Violation::TeamExists { team } => write!(f, "team {team} exists already"),
            Violation::UnknownGroup { team, group } => {
                write!(f, "team {team} has no group {group:?}")
            }
            Violation::TeamHoldsAccounts { team, holdings } => write!(
                f,
                "team {team} still holds {holdings} managed system(s) or account(s); move them before deleting the team"
            ),
            Violation::NoAccounts => {
                write!(f, "an OTP API user needs at least one managed account")
            }
            Violation::AccountNotInTeam { account, team } => write!(
                f,
                "managed account {account} is not an onboarded account of team {team}"
            ),
            Violation::UnknownAccount { account } => {
                write!(f, "managed account {account} does not exist in the target")
            }
            Violation::TooFewApprovals { needed, given } => write!(
                f,
                "the check-out needs {needed} approval(s) by Approvers of the team, {given} given"
            ),
            Violation::TooFewAuthorizers { needed, available } => write!(
                f,
                "the policy needs {needed} authorizer(s) but the team has {available} (requests would be denied)"
            ),
            Violation::AlreadyCheckedOut { account } => {
                write!(f, "managed account {account} is checked out already")
            }
        }
    }
}

/// The privileges a profile holds in a team, through all the groups it belongs to.
pub fn privileges_of(team: &TeamState, profile: &ProfileId) -> BTreeSet<Privilege> {
    team.groups
        .values()
        .filter(|g| g.members.contains(profile))
        .flat_map(|g| g.privileges.iter().copied())
        .collect()
}

/// Whether a profile holds a privilege in a team.
pub fn holds(team: &TeamState, profile: &ProfileId, privilege: Privilege) -> bool {
    team.groups
        .values()
        .any(|g| g.privileges.contains(&privilege) && g.members.contains(profile))
}

/// Profiles holding a privilege in a team.
pub fn holders(team: &TeamState, privilege: Privilege) -> BTreeSet<&ProfileId> {
    team.groups
        .values()
        .filter(|g| g.privileges.contains(&privilege))
        .flat_map(|g| g.members.iter())
        .collect()
}

/// Rules 1 and 2 over a whole team.
pub fn check_team_shape(team_id: &TeamId, team: &TeamState) -> Vec<Violation> {
    let mut violations = Vec::new();
    for (name, group) in &team.groups {
        violations.extend(check_group_shape(team_id, name, group));
    }
    let populated_trustees = team
        .groups
        .values()
        .any(|g| g.privileges.contains(&Privilege::TeamTrustees) && !g.members.is_empty());
    if !populated_trustees {
        violations.push(Violation::NoPopulatedTrusteeGroup {
            team: team_id.clone(),
        });
    }
    violations
}

/// Rule 2 over one group.
pub fn check_group_shape(team: &TeamId, name: &GroupName, group: &GroupState) -> Vec<Violation> {
    [Privilege::AutoApproved, Privilege::CredentialManager]
        .into_iter()
        .filter(|p| {
            group.privileges.contains(p) && !group.privileges.contains(&Privilege::Requesters)
        })
        .map(|privilege| Violation::NeedsRequesters {
            team: team.clone(),
            group: name.clone(),
            privilege,
        })
        .collect()
}

/// What a submitter must be for a request: a team administrator, or a holder of a privilege in the
/// request's team (checked against the team as it is before the request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authority {
    TeamAdmin,
    Privilege(Privilege),
}

/// Rule 3 and 4: who may submit a request.
pub fn required_authority(request: &Request) -> Authority {
    match request {
        Request::TeamCreate { .. } | Request::TeamDelete { .. } => Authority::TeamAdmin,
        Request::TeamUpdate { .. } | Request::TeamMembers { .. } => {
            Authority::Privilege(Privilege::TeamTrustees)
        }
        Request::CreateOtpApiUser { .. } => Authority::Privilege(Privilege::OtpTrustees),
    }
}

/// Checks that `submitter` may submit `request`, given the team as it is now (`None`: absent) and
/// whether the submitter is a team administrator.
pub fn authorize(
    request: &Request,
    submitter: &ProfileId,
    submitter_is_team_admin: bool,
    team_now: Option<&TeamState>,
) -> Result<(), Violation> {
    match required_authority(request) {
        Authority::TeamAdmin => {
            if submitter_is_team_admin {
                Ok(())
            } else {
                Err(Violation::NotTeamAdmin {
                    profile: submitter.clone(),
                })
            }
        }
        Authority::Privilege(privilege) => {
            let team = request.team();
            let Some(state) = team_now else {
                return Err(Violation::UnknownTeam { team: team.clone() });
            };
            if holds(state, submitter, privilege) {
                Ok(())
            } else {
                Err(Violation::MissingPrivilege {
                    profile: submitter.clone(),
                    team: team.clone(),
                    privilege,
                })
            }
        }
    }
}

/// The team after a team request, or the reasons the product refuses it. `CreateOtpApiUser` does
/// not change the team's groups and is returned unchanged.
pub fn apply_team_request(
    team_now: Option<&TeamState>,
    holdings: u64,
    request: &Request,
) -> Result<Option<TeamState>, Vec<Violation>> {
    let team_id = request.team();
    let after = match (request, team_now) {
        (Request::TeamCreate { .. }, Some(_)) => {
            return Err(vec![Violation::TeamExists {
                team: team_id.clone(),
            }]);
        }
        (Request::TeamCreate { state, .. }, None) => state.clone(),
        (Request::TeamDelete { .. }, None)
        | (Request::TeamUpdate { .. }, None)
        | (Request::TeamMembers { .. }, None) => {
            return Err(vec![Violation::UnknownTeam {
                team: team_id.clone(),
            }]);
        }
        (Request::TeamDelete { .. }, Some(_)) => {
            if holdings > 0 {
                return Err(vec![Violation::TeamHoldsAccounts {
                    team: team_id.clone(),
                    holdings,
                }]);
            }
            return Ok(None);
        }
        (Request::TeamUpdate { state, .. }, Some(_)) => state.clone(),
        (Request::TeamMembers { groups, .. }, Some(now)) => {
            let mut after = now.clone();
            let mut unknown = Vec::new();
            for (name, members) in groups {
                match after.groups.get_mut(name) {
                    Some(group) => group.members = members.clone(),
                    None => unknown.push(Violation::UnknownGroup {
                        team: team_id.clone(),
                        group: name.clone(),
                    }),
                }
            }
            if !unknown.is_empty() {
                return Err(unknown);
            }
            after
        }
        (Request::CreateOtpApiUser { .. }, now) => return Ok(now.cloned()),
    };
    let violations = check_team_shape(team_id, &after);
    if violations.is_empty() {
        Ok(Some(after))
    } else {
        Err(violations)
    }
}

/// Rule 4 for `CREATE_PAMUTIL_API_USER`: the accounts exist and are onboarded to the team.
/// `account_team` returns `None` for an unknown account, `Some(None)` for one with no team.
pub fn check_otp_accounts<'a>(
    team: &TeamId,
    accounts: impl IntoIterator<Item = &'a AccountRef>,
    account_team: impl Fn(&AccountRef) -> Option<Option<TeamId>>,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut any = false;
    for account in accounts {
        any = true;
        match account_team(account) {
            None => violations.push(Violation::UnknownAccount {
                account: account.clone(),
            }),
            Some(owner) if owner.as_ref() != Some(team) => {
                violations.push(Violation::AccountNotInTeam {
                    account: account.clone(),
                    team: team.clone(),
                })
            }
            Some(_) => {}
        }
    }
    if !any {
        violations.push(Violation::NoAccounts);
    }
    violations
}

/// Who may request a check-out of an OTP vault account of a team: a holder of `Requesters` or of
/// `OTP_Trustees` (the vendor's example has the OTP trustee request it). (inference)
pub fn check_checkout_requester(
    team_id: &TeamId,
    team: &TeamState,
    requester: &ProfileId,
) -> Result<(), Violation> {
    if holds(team, requester, Privilege::Requesters)
        || holds(team, requester, Privilege::OtpTrustees)
    {
        Ok(())
    } else {
        Err(Violation::MissingPrivilege {
            profile: requester.clone(),
            team: team_id.clone(),
            privilege: Privilege::Requesters,
        })
    }
}

/// Rule 5: how many approvals a check-out request needs.
pub fn approvals_needed(policy: &Policy, team: &TeamState, requester: &ProfileId) -> u32 {
    if holds(team, requester, Privilege::AutoApproved) {
        0
    } else {
        policy.min_authorizers
    }
}

/// Rule 5 over a planned set of approvers: each must hold `Approvers` (and not be the requester),
/// enough of them, and the team must have enough authorizers at all.
pub fn check_approvals(
    policy: &Policy,
    team_id: &TeamId,
    team: &TeamState,
    requester: &ProfileId,
    approvers: &BTreeSet<ProfileId>,
) -> Vec<Violation> {
    let needed = approvals_needed(policy, team, requester);
    let mut violations = Vec::new();
    let authorizers: BTreeSet<&ProfileId> = holders(team, Privilege::Approvers)
        .into_iter()
        .filter(|p| *p != requester)
        .collect();
    if needed > 0 && (authorizers.len() as u64) < u64::from(needed) {
        violations.push(Violation::TooFewAuthorizers {
            needed,
            available: authorizers.len() as u32,
        });
    }
    let mut valid = 0u32;
    for approver in approvers {
        if authorizers.contains(approver) {
            valid += 1;
        } else {
            violations.push(Violation::MissingPrivilege {
                profile: approver.clone(),
                team: team_id.clone(),
                privilege: Privilege::Approvers,
            });
        }
    }
    if valid < needed && violations.is_empty() {
        violations.push(Violation::TooFewApprovals {
            needed,
            given: valid,
        });
    }
    violations
}

/// The member lists of the groups whose members differ between two shapes of one team.
pub fn changed_member_lists(
    before: &TeamState,
    after: &TeamState,
) -> BTreeMap<GroupName, BTreeSet<ProfileId>> {
    after
        .groups
        .iter()
        .filter(|(name, group)| {
            before
                .groups
                .get(*name)
                .is_none_or(|b| b.members != group.members)
        })
        .map(|(name, group)| (name.clone(), group.members.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(privileges: &[Privilege], members: &[&str]) -> GroupState {
        GroupState {
            privileges: privileges.iter().copied().collect(),
            members: members.iter().map(|m| ProfileId::new(*m)).collect(),
        }
    }

    fn team(groups: &[(&str, GroupState)]) -> TeamState {
        TeamState {
            description: "d".into(),
            groups: groups
                .iter()
                .map(|(n, g)| (GroupName::new(*n), g.clone()))
                .collect(),
        }
    }

    #[test]
    fn shape_rules() {
        let t = TeamId::new("T");
        let cases: Vec<(TeamState, usize)> = vec![
            (
                team(&[("Trustees", group(&[Privilege::TeamTrustees], &["alice"]))]),
                0,
            ),
            (
                team(&[("Trustees", group(&[Privilege::TeamTrustees], &[]))]),
                1,
            ),
            (team(&[]), 1),
            (
                team(&[
                    ("Trustees", group(&[Privilege::TeamTrustees], &["alice"])),
                    ("Fast", group(&[Privilege::AutoApproved], &["bob"])),
                ]),
                1,
            ),
            (
                team(&[(
                    "Trustees",
                    group(
                        &[
                            Privilege::TeamTrustees,
                            Privilege::CredentialManager,
                            Privilege::AutoApproved,
                        ],
                        &["alice"],
                    ),
                )]),
                2,
            ),
        ];
        for (state, expected) in cases {
            assert_eq!(check_team_shape(&t, &state).len(), expected, "{state:?}");
        }
    }

    #[test]
    fn members_request_keeps_last_trustee() {
        let t = TeamId::new("T");
        let now = team(&[("Trustees", group(&[Privilege::TeamTrustees], &["alice"]))]);
        let request = Request::TeamMembers {
            team: t.clone(),
            groups: [(GroupName::new("Trustees"), BTreeSet::new())].into(),
        };
        let err = apply_team_request(Some(&now), 0, &request).unwrap_err();
        assert_eq!(err, vec![Violation::NoPopulatedTrusteeGroup { team: t }]);
    }

    #[test]
    fn approvals() {
        let t = TeamId::new("T");
        let state = team(&[
            ("Trustees", group(&[Privilege::TeamTrustees], &["alice"])),
            ("Approvers", group(&[Privilege::Approvers], &["carol"])),
            (
                "Fast",
                group(&[Privilege::AutoApproved, Privilege::Requesters], &["dave"]),
            ),
        ]);
        let policy = Policy::default();
        let bob = ProfileId::new("bob");
        let carol: BTreeSet<ProfileId> = [ProfileId::new("carol")].into();
        assert!(check_approvals(&policy, &t, &state, &bob, &carol).is_empty());
        assert_eq!(
            check_approvals(&policy, &t, &state, &bob, &BTreeSet::new()),
            vec![Violation::TooFewApprovals {
                needed: 1,
                given: 0
            }]
        );
        let alice: BTreeSet<ProfileId> = [ProfileId::new("alice")].into();
        assert_eq!(check_approvals(&policy, &t, &state, &bob, &alice).len(), 1);
        assert!(
            check_approvals(
                &policy,
                &t,
                &state,
                &ProfileId::new("dave"),
                &BTreeSet::new()
            )
            .is_empty()
        );
    }
}
