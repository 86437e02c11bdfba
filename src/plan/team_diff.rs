//! Per-address comparison of two shapes of one team, by sorted merge.
//!
//! Invariant: linear in the size of both teams; addresses are visited in address order within
//! each level (team, then each group with its privileges and members).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::{Action, Attributes};
use crate::model::{Address, GroupName, GroupState, Privilege, ProfileId, TeamId, TeamState};

/// One side or both of a sorted merge.
pub(crate) enum Merged<A, B> {
    Left(A),
    Right(B),
    Both(A, B),
}

/// Merges two maps sorted by key.
pub(crate) fn merge<'a, K: Ord, A, B>(
    left: &'a BTreeMap<K, A>,
    right: &'a BTreeMap<K, B>,
) -> impl Iterator<Item = (&'a K, Merged<&'a A, &'a B>)> {
    let mut l = left.iter().peekable();
    let mut r = right.iter().peekable();
    std::iter::from_fn(move || match (l.peek(), r.peek()) {
        (None, None) => None,
        (Some(_), None) => l.next().map(|(k, a)| (k, Merged::Left(a))),
        (None, Some(_)) => r.next().map(|(k, b)| (k, Merged::Right(b))),
        (Some((lk, _)), Some((rk, _))) => match lk.cmp(rk) {
            Ordering::Less => l.next().map(|(k, a)| (k, Merged::Left(a))),
            Ordering::Greater => r.next().map(|(k, b)| (k, Merged::Right(b))),
            Ordering::Equal => {
                let (k, a) = l.next()?;
                let (_, b) = r.next()?;
                Some((k, Merged::Both(a, b)))
            }
        },
    })
}

/// Merges two sorted sets.
fn merge_sets<'a, T: Ord>(
    left: &'a std::collections::BTreeSet<T>,
    right: &'a std::collections::BTreeSet<T>,
) -> impl Iterator<Item = (&'a T, Merged<(), ()>)> {
    let mut l = left.iter().peekable();
    let mut r = right.iter().peekable();
    std::iter::from_fn(move || match (l.peek(), r.peek()) {
        (None, None) => None,
        (Some(_), None) => l.next().map(|k| (k, Merged::Left(()))),
        (None, Some(_)) => r.next().map(|k| (k, Merged::Right(()))),
        (Some(lk), Some(rk)) => match lk.cmp(rk) {
            Ordering::Less => l.next().map(|k| (k, Merged::Left(()))),
            Ordering::Greater => r.next().map(|k| (k, Merged::Right(()))),
            Ordering::Equal => {
                let k = l.next()?;
                r.next();
                Some((k, Merged::Both((), ())))
            }
        },
    })
}

pub(crate) fn team_attributes(team: &TeamId, state: &TeamState) -> Attributes {
    Attributes::Team {
        id: team.clone(),
        description: state.description.clone(),
    }
}

fn group_attributes(team: &TeamId, group: &GroupName) -> Attributes {
    Attributes::Group {
        team: team.clone(),
        name: group.to_string(),
    }
}

fn privilege_attributes(team: &TeamId, group: &GroupName, privilege: Privilege) -> Attributes {
    Attributes::Privilege {
        team: team.clone(),
        group: group.to_string(),
        privilege: privilege.token().to_string(),
    }
}

fn member_attributes(team: &TeamId, group: &GroupName, profile: &ProfileId) -> Attributes {
    Attributes::Member {
        team: team.clone(),
        group: group.to_string(),
        profile: profile.clone(),
    }
}

/// One address's comparison, as visited.
pub(crate) struct Visit {
    pub address: Address,
    pub action: Action,
    pub before: Option<Attributes>,
    pub after: Option<Attributes>,
}

/// What kind of change the comparison found, to pick the request that carries it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TeamDelta {
    /// Description, groups or privileges differ: needs `TEAM-UPDATE`.
    pub structural: bool,
    /// Member lists differ.
    pub members: bool,
}

/// Compares `before` and `after` address by address. `visit` sees every address (no-ops too when
/// `include_no_ops`) and `attributes` are built only for addresses it will see.
pub(crate) fn diff_team(
    team: &TeamId,
    before: Option<&TeamState>,
    after: Option<&TeamState>,
    include_no_ops: bool,
    visit: &mut dyn FnMut(Visit),
) -> TeamDelta {
    let mut delta = TeamDelta::default();
    let empty = TeamState::default();
    let (b, a) = (before.unwrap_or(&empty), after.unwrap_or(&empty));
    match (before, after) {
        (None, None) => return delta,
        (None, Some(_)) => {
            delta.structural = true;
            visit(Visit {
                address: Address::Team(team.clone()),
                action: Action::Create,
                before: None,
                after: Some(team_attributes(team, a)),
            });
        }
        (Some(_), None) => {
            delta.structural = true;
            visit(Visit {
                address: Address::Team(team.clone()),
                action: Action::Delete,
                before: Some(team_attributes(team, b)),
                after: None,
            });
        }
        (Some(_), Some(_)) => {
            let changed = b.description != a.description;
            delta.structural |= changed;
            if changed || include_no_ops {
                visit(Visit {
                    address: Address::Team(team.clone()),
                    action: if changed {
                        Action::Update
                    } else {
                        Action::NoOp
                    },
                    before: Some(team_attributes(team, b)),
                    after: Some(team_attributes(team, a)),
                });
            }
        }
    }
    for (name, both) in merge(&b.groups, &a.groups) {
        let empty_group = GroupState::default();
        let (gb, ga, group_action) = match both {
            Merged::Left(g) => (g, &empty_group, Action::Delete),
            Merged::Right(g) => (&empty_group, g, Action::Create),
            Merged::Both(gb, ga) => (gb, ga, Action::NoOp),
        };
        if group_action != Action::NoOp {
            delta.structural = true;
        }
        if group_action != Action::NoOp || include_no_ops {
            let attrs = group_attributes(team, name);
            visit(Visit {
                address: Address::Group(team.clone(), name.clone()),
                action: group_action,
                before: (group_action != Action::Create).then(|| attrs.clone()),
                after: (group_action != Action::Delete).then_some(attrs),
            });
        }
        for (privilege, both) in merge_sets(&gb.privileges, &ga.privileges) {
            let action = side_action(&both);
            if action != Action::NoOp {
                delta.structural = true;
            } else if !include_no_ops {
                continue;
            }
            let attrs = privilege_attributes(team, name, *privilege);
            visit(Visit {
                address: Address::Privilege(team.clone(), name.clone(), *privilege),
                action,
                before: (action != Action::Create).then(|| attrs.clone()),
                after: (action != Action::Delete).then_some(attrs),
            });
        }
        for (profile, both) in merge_sets(&gb.members, &ga.members) {
            let action = side_action(&both);
            if action != Action::NoOp {
                delta.members = true;
            } else if !include_no_ops {
                continue;
            }
            let attrs = member_attributes(team, name, profile);
            visit(Visit {
                address: Address::Member(team.clone(), name.clone(), profile.clone()),
                action,
                before: (action != Action::Create).then(|| attrs.clone()),
                after: (action != Action::Delete).then_some(attrs),
            });
        }
    }
    delta
}

fn side_action<A, B>(both: &Merged<A, B>) -> Action {
    match both {
        Merged::Left(_) => Action::Delete,
        Merged::Right(_) => Action::Create,
        Merged::Both(..) => Action::NoOp,
    }
}
