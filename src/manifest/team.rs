//! Reading a `[[team]]` block with its `[[team.group]]` blocks, shared by manifests and seeds:
//! identifiers, privilege tokens, duplicate groups, privileges and members, and the team-shape
//! rules of the product (`model::rules::check_team_shape`).
//!
//! Invariants: a team is complete within its block, so every check here is local to it and runs
//! while its file is loaded; shape rules run only on parts that read cleanly, so a misspelt
//! privilege is reported once, not again as a missing trustee.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;

use toml::de::DeValue;

use crate::model::rules::{self, Violation};
use crate::model::{
    GroupName, GroupState, Privilege, ProfileId, TeamId, TeamState, check_group_name,
    check_plain_id, check_team_id,
};

use super::diagnostic::Site;
use super::values::parse_privilege;
use super::walk::{Cx, Fields};

pub(crate) const TEAM_KEYS: &[&str] = &["id", "description", "requested_by", "group"];
pub(crate) const GROUP_KEYS: &[&str] = &["name", "privileges", "members"];

/// What a team's members are checked against.
pub(crate) enum Members<'a> {
    /// Any valid profile ID (a manifest: profiles live in the target).
    Any,
    /// Only the profiles the seed declares.
    Declared(&'a HashSet<ProfileId>),
}

/// A team as read from one block.
pub(crate) struct ReadTeam {
    pub id: TeamId,
    /// The span of the `id` value.
    pub id_span: Range<usize>,
    pub state: TeamState,
    /// `None` when absent (allowed in a seed) or invalid (reported).
    pub requested_by: Option<ProfileId>,
}

/// Reads one `[[team]]` block. Returns `None` only when the team has no usable `id`; every problem
/// is reported through `cx`.
pub(crate) fn read_team(
    cx: &mut Cx<'_>,
    mut fields: Fields<'_>,
    requested_by_required: bool,
    members: &Members<'_>,
) -> Option<ReadTeam> {
    let header = fields.span.clone();
    let id = cx.required_string(&mut fields, "id");
    let description = cx
        .optional_string(&mut fields, "description")
        .map(|d| d.into_inner().into_owned())
        .unwrap_or_default();
    let requested_by = if requested_by_required {
        cx.required_string(&mut fields, "requested_by")
    } else {
        cx.optional_string(&mut fields, "requested_by")
    };
    let requested_by = requested_by.and_then(|value| {
        let span = value.span();
        let text = value.into_inner();
        match check_plain_id(&text) {
            Ok(()) => Some(ProfileId::new(text)),
            Err(e) => {
                cx.error(
                    span,
                    "invalid-id",
                    format!("invalid profile ID {text:?} in \"requested_by\": {e}"),
                );
                None
            }
        }
    });

    let team_id = id.as_ref().map(|id| TeamId::new(id.get_ref().as_ref()));
    if let Some(id) = &id
        && let Err(e) = check_team_id(id.get_ref())
    {
        cx.error(
            id.span(),
            "invalid-id",
            format!("invalid team ID {:?}: {e}", id.get_ref()),
        );
    }

    let mut groups: BTreeMap<GroupName, GroupState> = BTreeMap::new();
    let mut group_sites: HashMap<GroupName, GroupSite> = HashMap::new();
    let errors_before_groups = cx.count();
    if let Some((key_span, value)) = fields.take_with_key("group") {
        for group_fields in cx.tables(key_span, value, "group", "[[team.group]]") {
            let group_errors_before = cx.count();
            let Some(read) = read_group(cx, group_fields, members) else {
                continue;
            };
            let clean = cx.count() == group_errors_before;
            match group_sites.entry(read.name.clone()) {
                Entry::Occupied(first) => {
                    let first = cx.site(first.get().name_span.clone());
                    cx.error(
                        read.name_span,
                        "duplicate-group",
                        format!(
                            "duplicate group {:?} in team {:?}",
                            read.name.as_str(),
                            team_id.as_ref().map_or("", TeamId::as_str)
                        ),
                    )
                    .help(
                        "group names are unique within a team; merge the two groups or rename one",
                    )
                    .first_declared(first);
                }
                Entry::Vacant(slot) => {
                    slot.insert(GroupSite {
                        name_span: read.name_span,
                        privileges_span: read.privileges_span,
                        clean,
                    });
                    groups.insert(read.name, read.state);
                }
            }
        }
    }
    // Whether every group read cleanly: the trustee rule is checked only then.
    let groups_clean = cx.count() == errors_before_groups;
    fields.finish(cx, TEAM_KEYS);

    let id = id?;
    let team_id = team_id?;
    let state = TeamState {
        description,
        groups,
    };
    for violation in rules::check_team_shape(&team_id, &state) {
        match violation {
            Violation::NeedsRequesters {
                group, privilege, ..
            } => {
                let Some(site) = group_sites.get(&group).filter(|site| site.clean) else {
                    continue;
                };
                let span = site.privileges_span.clone();
                cx.error(
                    span,
                    "needs-requesters",
                    format!(
                        "group {:?} of team {:?} holds {privilege} without Requesters",
                        group.as_str(),
                        team_id.as_str()
                    ),
                )
                .help(format!(
                    "add \"Requesters\" to its privileges: the product requires holders of \
                     {privilege} to hold Requesters too"
                ));
            }
            Violation::NoPopulatedTrusteeGroup { .. } => {
                if !groups_clean {
                    continue;
                }
                cx.error(
                    header.clone(),
                    "no-team-trustee",
                    format!(
                        "team {:?} has no member in a group holding Team_Trustees",
                        team_id.as_str()
                    ),
                )
                .help(
                    "give a group the \"Team_Trustees\" privilege and at least one member: the \
                     product refuses a team without a trustee",
                );
            }
            other => {
                cx.error(header.clone(), "team-shape", other.to_string());
            }
        }
    }
    Some(ReadTeam {
        id: team_id,
        id_span: id.span(),
        state,
        requested_by,
    })
}

/// Where a group of the team being read was declared, and whether it read cleanly.
struct GroupSite {
    name_span: Range<usize>,
    privileges_span: Range<usize>,
    clean: bool,
}

struct ReadGroup {
    name: GroupName,
    name_span: Range<usize>,
    /// The `privileges` array, or the group's header when absent.
    privileges_span: Range<usize>,
    state: GroupState,
}

fn read_group(cx: &mut Cx<'_>, mut fields: Fields<'_>, members: &Members<'_>) -> Option<ReadGroup> {
    let header = fields.span.clone();
    let name = cx.required_string(&mut fields, "name");
    if let Some(name) = &name
        && let Err(e) = check_group_name(name.get_ref())
    {
        cx.error(
            name.span(),
            "invalid-id",
            format!("invalid group name {:?}: {e}", name.get_ref()),
        );
    }

    let label = name.as_ref().map_or_else(
        || "the group".to_owned(),
        |n| format!("group {:?}", n.get_ref()),
    );
    let mut state = GroupState::default();
    let mut privileges_span = header.clone();
    if let Some(value) = fields.take("privileges") {
        let mut first_seen: [Option<Range<usize>>; Privilege::ALL.len()] = Default::default();
        let span = cx.strings(
            &value,
            "privileges",
            |cx, token, span| match parse_privilege(token) {
                Ok(privilege) => {
                    let slot = &mut first_seen[privilege.index()];
                    match slot {
                        Some(first) => {
                            let first = cx.site(first.clone());
                            cx.error(
                                span,
                                "duplicate-privilege",
                                format!("duplicate privilege {privilege} in {label}"),
                            )
                            .help("list each privilege once")
                            .first_listed(first);
                        }
                        None => {
                            *slot = Some(span);
                            state.privileges.insert(privilege);
                        }
                    }
                }
                Err(help) => {
                    cx.error(
                        span,
                        "unknown-privilege",
                        format!("unknown privilege {token:?}"),
                    )
                    .help(help);
                }
            },
        );
        if let Some(span) = span {
            privileges_span = span;
        }
    }

    if let Some(value) = fields.take("members") {
        let mut duplicates: Vec<(&str, Range<usize>)> = Vec::new();
        cx.strings(&value, "members", |cx, member, span| {
            if let Err(e) = check_plain_id(member) {
                cx.error(
                    span,
                    "invalid-id",
                    format!("invalid profile ID {member:?} in \"members\": {e}"),
                );
                return;
            }
            if let Members::Declared(profiles) = members
                && !profiles.contains(member)
            {
                cx.error(
                    span.clone(),
                    "undeclared-profile",
                    format!("member {member:?} is not a declared profile"),
                )
                .help(format!(
                    "declare it with a [[profile]] block with id = {member:?}"
                ));
            }
            if !state.members.insert(ProfileId::new(member)) {
                duplicates.push((member, span));
            }
        });
        if !duplicates.is_empty() {
            // Only on this error path: where each member was first listed (one more pass).
            let mut first: HashMap<&str, Range<usize>> = HashMap::new();
            if let DeValue::Array(array) = value.get_ref() {
                for element in array {
                    if let DeValue::String(text) = element.get_ref() {
                        first.entry(text.as_ref()).or_insert_with(|| element.span());
                    }
                }
            }
            for (member, span) in duplicates {
                let pending = cx.error(
                    span,
                    "duplicate-member",
                    format!("duplicate member {member:?} in {label}"),
                );
                pending.help("list each member once");
                if let Some(first) = first.get(member) {
                    let site = Site {
                        file: pending.site.file,
                        span: first.clone(),
                    };
                    pending.first_listed(site);
                }
            }
        }
    }
    fields.finish(cx, GROUP_KEYS);
    let name = name?;
    Some(ReadGroup {
        name_span: name.span(),
        name: GroupName::new(name.into_inner().into_owned()),
        privileges_span,
        state,
    })
}
