//! Builds a [`Plan`]: diffs each team, OTP API user and check-out, orders the steps the way apply
//! runs them, and simulates the target's authorization checks step by step.
//!
//! Step order (the order apply uses): team requests (create, update, membership) by team ID; OTP
//! API user creations by name; check-outs by name; team deletions by team ID. Each step is checked
//! against the teams as the earlier steps leave them.
//!
//! Invariant: an OTP vault account that the target reports as ever checked out, or that the state
//! records as bound, never gets a check-out step.

use std::collections::{BTreeMap, BTreeSet};

use super::team_diff::{Merged, TeamDelta, Visit, diff_team, merge, team_attributes};
use super::{
    Action, Attributes, Change, Drift, DriftKind, Note, Operation, Plan, Refusal, Step, Summary,
};
use crate::model::rules::{self, Violation};
use crate::model::{
    Address, CheckoutSpec, Desired, Observed, OtpApiUserSpec, OtpUserName, ProfileId, Recorded,
    RemoteId, Request, RequestKind, Scope, TeamId, TeamState,
};

/// Options that change what a plan lists, never what it does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// List unchanged addresses as `no-op` changes (the JSON plan does).
    pub include_no_ops: bool,
}

/// The policy name of onboarded accounts an OTP API user may be granted.
pub const ONBOARDED_POLICY: &str = "ONBOARDED_ACCOUNTS";

/// What plan must ask the target about.
///
/// Every team's members are named here, a million references to a few hundred thousand
/// profiles at scale: they are gathered as references, sorted and deduplicated, and only the
/// distinct IDs are cloned and sorted (a sorted iterator builds a `BTreeSet` in one pass).
pub fn scope(desired: &Desired, recorded: &Recorded) -> Scope {
    let mut teams: Vec<&TeamId> = Vec::new();
    let mut profiles: Vec<&ProfileId> = Vec::new();
    let mut scope = Scope::default();
    for (id, team) in &desired.teams {
        teams.push(id);
        profiles.push(&team.requested_by);
        for group in team.state.groups.values() {
            profiles.extend(group.members.iter());
        }
    }
    for (id, team) in &recorded.teams {
        teams.push(id);
        profiles.push(&team.requested_by);
    }
    for user in desired.otp_api_users.values() {
        teams.push(&user.spec.team);
        profiles.push(&user.requested_by);
        scope.accounts.extend(user.spec.accounts.iter().cloned());
    }
    for user in recorded.otp_api_users.values() {
        teams.push(&user.spec.team);
        scope.otp_guids.insert(user.remote.guid.clone());
    }
    for checkout in desired.checkouts.values() {
        profiles.push(&checkout.requested_by);
        profiles.extend(checkout.approved_by.iter());
    }
    for checkout in recorded.checkouts.values() {
        scope.otp_guids.insert(checkout.otp_guid.clone());
    }
    for (address, id) in &desired.imports {
        match address {
            Address::OtpApiUser(_) => {
                scope.otp_guids.insert(id.clone());
            }
            Address::Team(team) => teams.push(team),
            _ => {}
        }
    }
    scope.teams = distinct(teams);
    scope.profiles = distinct(profiles);
    scope
}

/// The distinct values of `items`, cloned once each. A hash set drops the repeats first, so
/// only the distinct values are sorted.
fn distinct<T: Ord + Clone + std::hash::Hash>(items: Vec<&T>) -> BTreeSet<T> {
    let mut seen = std::collections::HashSet::with_capacity(items.len() / 4);
    let mut unique: Vec<&T> = items
        .into_iter()
        .filter(|item| seen.insert(*item))
        .collect();
    unique.sort_unstable();
    unique.into_iter().cloned().collect()
}

/// Plans the changes that bring the target to `desired`.
pub fn build(
    desired: &Desired,
    recorded: &Recorded,
    observed: &Observed,
    options: PlanOptions,
) -> Plan {
    let mut builder = Builder {
        desired,
        recorded,
        observed,
        options,
        plan: Plan::default(),
        no_ops: Vec::new(),
        teams_after: BTreeMap::new(),
        created_users: BTreeSet::new(),
        deletions: Vec::new(),
        users_by_description: BTreeMap::new(),
        declared_guids: BTreeMap::new(),
    };
    for (guid, user) in &observed.otp_api_users {
        builder
            .users_by_description
            .entry((&user.spec.team, user.spec.description.as_str()))
            .or_default()
            .push(guid);
    }
    for (name, user) in &recorded.otp_api_users {
        if desired.otp_api_users.contains_key(name) {
            builder.declared_guids.insert(&user.remote.guid, name);
        }
    }
    builder.teams();
    builder.otp_api_users();
    builder.checkouts();
    let deletions = std::mem::take(&mut builder.deletions);
    for (team, submitter, visits) in deletions {
        builder.delete_team(team, submitter, visits);
    }
    builder.finish()
}

struct Builder<'a> {
    desired: &'a Desired,
    recorded: &'a Recorded,
    observed: &'a Observed,
    options: PlanOptions,
    plan: Plan,
    no_ops: Vec<Change>,
    /// Teams as the steps planned so far leave them (`None`: deleted).
    teams_after: BTreeMap<TeamId, Option<TeamState>>,
    /// OTP API users that a step of this plan creates.
    created_users: BTreeSet<OtpUserName>,
    /// Team deletions, planned last.
    deletions: Vec<(TeamId, ProfileId, Vec<Visit>)>,
    /// The target's OTP API users by (team, description), for the duplicate guard.
    users_by_description: BTreeMap<(&'a TeamId, &'a str), Vec<&'a RemoteId>>,
    /// The declared name the state records each OTP API user GUID under.
    declared_guids: BTreeMap<&'a RemoteId, &'a OtpUserName>,
}

impl<'a> Builder<'a> {
    fn team_now(&self, team: &TeamId) -> Option<&TeamState> {
        match self.teams_after.get(team) {
            Some(after) => after.as_ref(),
            None => self.observed.teams.get(team).map(|t| &t.state),
        }
    }

    fn is_team_admin(&self, profile: &ProfileId) -> bool {
        self.observed
            .profiles
            .get(profile)
            .is_some_and(|p| p.team_admin)
    }

    fn refuse(
        &mut self,
        address: Address,
        request: Option<RequestKind>,
        requested_by: Option<&ProfileId>,
        reason: String,
        remedy: Option<String>,
    ) {
        self.plan.refusals.push(Refusal {
            address,
            request,
            requested_by: requested_by.cloned(),
            reason,
            remedy,
        });
    }

    fn refuse_violations(
        &mut self,
        address: &Address,
        request: RequestKind,
        requested_by: &ProfileId,
        violations: Vec<Violation>,
    ) {
        for violation in violations {
            self.refuse(
                address.clone(),
                Some(request),
                Some(requested_by),
                violation.to_string(),
                None,
            );
        }
    }

    fn note(&mut self, address: Address, message: String) {
        self.plan.notes.push(Note { address, message });
    }

    /// Appends a step and the changes it carries; no-op visits go to the no-op list.
    fn push_step(
        &mut self,
        operation: Operation,
        submitter: Option<ProfileId>,
        subject: Address,
        visits: Vec<Visit>,
    ) {
        let index = self.plan.steps.len();
        let start = self.plan.changes.len();
        for visit in visits {
            let change = Change {
                address: visit.address,
                action: visit.action,
                step: (visit.action != Action::NoOp).then_some(index),
                before: visit.before,
                after: visit.after,
            };
            if change.action == Action::NoOp {
                self.no_ops.push(change);
            } else {
                self.plan.changes.push(change);
            }
        }
        let end = self.plan.changes.len();
        self.plan.steps.push(Step {
            operation,
            submitter,
            subject,
            changes: start..end,
        });
    }

    fn keep_no_ops(&mut self, visits: Vec<Visit>) {
        for visit in visits {
            self.no_ops.push(Change {
                address: visit.address,
                action: Action::NoOp,
                step: None,
                before: visit.before,
                after: visit.after,
            });
        }
    }

    fn finish(mut self) -> Plan {
        let mut summary = Summary::default();
        for change in &self.plan.changes {
            match change.action {
                Action::Create => summary.add += 1,
                Action::Update => summary.change += 1,
                Action::Delete => summary.destroy += 1,
                Action::Import => summary.import += 1,
                Action::NoOp => {}
            }
        }
        self.plan.summary = summary;
        if self.options.include_no_ops {
            self.no_ops.sort_by(|a, b| a.address.cmp(&b.address));
            self.plan.changes.append(&mut self.no_ops);
        }
        self.plan
    }

    // -----------------------------------------------------------------------------------------
    // Teams
    // -----------------------------------------------------------------------------------------

    fn teams(&mut self) {
        let desired = self.desired;
        let recorded = self.recorded;
        for (id, both) in merge(&desired.teams, &recorded.teams) {
            let observed = self.observed.teams.get(id);
            if let Merged::Right(r) | Merged::Both(_, r) = &both {
                self.team_drift(id, &r.state, observed.map(|o| &o.state));
            }
            match both {
                Merged::Left(d) => {
                    let import = Address::Team(id.clone());
                    let imported = desired.imports.contains_key(&import);
                    match observed {
                        None if imported => self.refuse(
                            import,
                            None,
                            None,
                            format!("cannot import team {id}: it does not exist in the target"),
                            Some("remove the [[import]] block, or fix its id".into()),
                        ),
                        None => self.create_team(id, &d.state, &d.requested_by),
                        Some(o) if imported => {
                            let attrs = team_attributes(id, &o.state);
                            self.push_step(
                                Operation::ImportTeam {
                                    team: id.clone(),
                                    state: o.state.clone(),
                                    requested_by: d.requested_by.clone(),
                                },
                                None,
                                import.clone(),
                                vec![Visit {
                                    address: import,
                                    action: Action::Import,
                                    before: Some(attrs.clone()),
                                    after: Some(attrs),
                                }],
                            );
                            self.teams_after.insert(id.clone(), Some(o.state.clone()));
                            self.update_team(id, &o.state, &d.state, &d.requested_by, false, true);
                        }
                        Some(_) => self.refuse(
                            import,
                            Some(RequestKind::TeamCreate),
                            Some(&d.requested_by),
                            format!("team {id} exists in the target but not in the state"),
                            Some(format!(
                                "adopt it with an [[import]] block: to = \"team.{id}\", id = \"{id}\""
                            )),
                        ),
                    }
                }
                Merged::Both(d, r) => match observed {
                    None => {
                        self.note(
                            Address::Team(id.clone()),
                            "deleted outside pamform; it will be created again".into(),
                        );
                        self.create_team(id, &d.state, &d.requested_by);
                    }
                    Some(o) => {
                        let record = r.state != o.state || r.requested_by != d.requested_by;
                        let patch = r.state == o.state;
                        self.update_team(id, &o.state, &d.state, &d.requested_by, record, patch);
                    }
                },
                Merged::Right(r) => match observed {
                    Some(o) => {
                        let mut visits = Vec::new();
                        diff_team(id, Some(&o.state), None, false, &mut |v| visits.push(v));
                        self.deletions
                            .push((id.clone(), r.requested_by.clone(), visits));
                    }
                    None => {
                        self.note(
                            Address::Team(id.clone()),
                            "no longer declared and already gone from the target; it will be dropped from the state".into(),
                        );
                        self.push_step(
                            Operation::ForgetTeam { team: id.clone() },
                            None,
                            Address::Team(id.clone()),
                            Vec::new(),
                        );
                    }
                },
            }
        }
    }

    fn team_drift(&mut self, id: &TeamId, recorded: &TeamState, observed: Option<&TeamState>) {
        let drift = &mut self.plan.drift;
        diff_team(id, Some(recorded), observed, false, &mut |v| {
            let kind = match v.action {
                Action::Create => DriftKind::Added,
                Action::Delete => DriftKind::Deleted,
                _ => DriftKind::Changed,
            };
            // A deleted team is reported once, not once per member.
            if observed.is_none() && !matches!(v.address, Address::Team(_)) {
                return;
            }
            drift.push(Drift {
                address: v.address,
                kind,
                recorded: v.before,
                observed: v.after,
            });
        });
    }

    fn check_new_members(&mut self, visits: &[Visit], request: RequestKind, submitter: &ProfileId) {
        let missing: Vec<(Address, ProfileId)> = visits
            .iter()
            .filter(|v| v.action == Action::Create)
            .filter_map(|v| match &v.address {
                Address::Member(_, _, profile) if !self.observed.profiles.contains_key(profile) => {
                    Some((v.address.clone(), profile.clone()))
                }
                _ => None,
            })
            .collect();
        for (address, profile) in missing {
            self.refuse_violations(
                &address,
                request,
                submitter,
                vec![Violation::UnknownProfile { profile }],
            );
        }
    }

    fn check_submitter_exists(
        &mut self,
        address: &Address,
        request: RequestKind,
        submitter: &ProfileId,
    ) -> bool {
        if self.observed.profiles.contains_key(submitter) {
            return true;
        }
        self.refuse_violations(
            address,
            request,
            submitter,
            vec![Violation::UnknownProfile {
                profile: submitter.clone(),
            }],
        );
        false
    }

    /// Authorizes a team request against the simulated team and records the team after it.
    fn check_team_request(&mut self, request: &Request, submitter: &ProfileId, address: &Address) {
        let kind = request.kind();
        if !self.check_submitter_exists(address, kind, submitter) {
            return;
        }
        let team = request.team().clone();
        let holdings = self.observed.teams.get(&team).map_or(0, |t| t.holdings);
        let is_admin = self.is_team_admin(submitter);
        let now = self.team_now(&team);
        let authorized = rules::authorize(request, submitter, is_admin, now);
        let applied = rules::apply_team_request(now, holdings, request);
        if let Err(violation) = authorized {
            self.refuse_violations(address, kind, submitter, vec![violation]);
        }
        match applied {
            Ok(after) => {
                self.teams_after.insert(team, after);
            }
            Err(violations) => self.refuse_violations(address, kind, submitter, violations),
        }
    }

    fn create_team(&mut self, id: &TeamId, state: &TeamState, submitter: &ProfileId) {
        let mut visits = Vec::new();
        diff_team(id, None, Some(state), false, &mut |v| visits.push(v));
        let request = Request::TeamCreate {
            team: id.clone(),
            state: state.clone(),
        };
        let address = Address::Team(id.clone());
        self.check_new_members(&visits, RequestKind::TeamCreate, submitter);
        self.check_team_request(&request, submitter, &address);
        self.push_step(
            Operation::Submit {
                request,
                team_after: None,
                patch_state: false,
            },
            Some(submitter.clone()),
            address,
            visits,
        );
    }

    fn update_team(
        &mut self,
        id: &TeamId,
        observed: &TeamState,
        desired: &TeamState,
        submitter: &ProfileId,
        record: bool,
        patch_state: bool,
    ) {
        let mut visits = Vec::new();
        let delta: TeamDelta = diff_team(
            id,
            Some(observed),
            Some(desired),
            self.options.include_no_ops,
            &mut |v| visits.push(v),
        );
        let address = Address::Team(id.clone());
        let request = if delta.structural {
            Request::TeamUpdate {
                team: id.clone(),
                state: desired.clone(),
            }
        } else if delta.members {
            Request::TeamMembers {
                team: id.clone(),
                groups: rules::changed_member_lists(observed, desired),
            }
        } else {
            self.keep_no_ops(visits);
            if record {
                self.push_step(
                    Operation::RecordTeam {
                        team: id.clone(),
                        state: desired.clone(),
                        requested_by: submitter.clone(),
                    },
                    None,
                    address,
                    Vec::new(),
                );
            }
            return;
        };
        self.check_new_members(&visits, request.kind(), submitter);
        self.check_team_request(&request, submitter, &address);
        // TEAM-UPDATE carries the whole team already; only TEAM-MEMBERS needs the result spelled.
        let team_after = matches!(request, Request::TeamMembers { .. }).then(|| desired.clone());
        self.push_step(
            Operation::Submit {
                request,
                team_after,
                patch_state,
            },
            Some(submitter.clone()),
            address,
            visits,
        );
    }

    fn delete_team(&mut self, id: TeamId, submitter: ProfileId, visits: Vec<Visit>) {
        let request = Request::TeamDelete { team: id.clone() };
        let address = Address::Team(id.clone());
        self.check_team_request(&request, &submitter, &address);
        self.push_step(
            Operation::Submit {
                request,
                team_after: None,
                patch_state: false,
            },
            Some(submitter),
            address,
            visits,
        );
    }

    // -----------------------------------------------------------------------------------------
    // OTP API users
    // -----------------------------------------------------------------------------------------

    fn otp_api_users(&mut self) {
        let desired = self.desired;
        let recorded = self.recorded;
        let observed = self.observed;
        for (name, both) in merge(&desired.otp_api_users, &recorded.otp_api_users) {
            let address = Address::OtpApiUser(name.clone());
            match both {
                Merged::Left(d) => {
                    if let Some(guid) = desired.imports.get(&address) {
                        match observed.otp_api_users.get(guid) {
                            Some(o) => {
                                let attrs = Attributes::OtpApiUser {
                                    spec: o.spec.clone(),
                                    vault_account: Some(o.remote.vault_account.clone()),
                                    caller: Some(o.remote.caller.clone()),
                                };
                                if o.spec != d.spec {
                                    self.immutable_user_note(&address, &o.spec, &d.spec);
                                }
                                self.push_step(
                                    Operation::ImportOtpApiUser {
                                        name: name.clone(),
                                        spec: o.spec.clone(),
                                        remote: o.remote.clone(),
                                        requested_by: d.requested_by.clone(),
                                    },
                                    None,
                                    address.clone(),
                                    vec![Visit {
                                        address,
                                        action: Action::Import,
                                        before: Some(attrs.clone()),
                                        after: Some(attrs),
                                    }],
                                );
                            }
                            None => self.refuse(
                                address,
                                None,
                                None,
                                format!(
                                    "cannot import {name}: no OTP API user PAM_UTIL_{guid} in the target"
                                ),
                                Some("remove the [[import]] block, or fix its id".into()),
                            ),
                        }
                        continue;
                    }
                    if self.refuse_duplicate(name, d) {
                        continue;
                    }
                    self.create_user(name, &d.spec, &d.requested_by);
                }
                Merged::Both(d, r) => match observed.otp_api_users.get(&r.remote.guid) {
                    Some(o) => {
                        if o.spec != r.spec {
                            self.plan.drift.push(Drift {
                                address: address.clone(),
                                kind: DriftKind::Changed,
                                recorded: Some(user_attributes(&r.spec, None)),
                                observed: Some(user_attributes(&o.spec, None)),
                            });
                        }
                        if o.spec != d.spec {
                            self.immutable_user_note(&address, &o.spec, &d.spec);
                        }
                        if self.options.include_no_ops {
                            self.no_ops.push(Change {
                                address,
                                action: Action::NoOp,
                                step: None,
                                before: Some(user_attributes(&o.spec, None)),
                                after: Some(user_attributes(&o.spec, None)),
                            });
                        }
                    }
                    None => {
                        self.plan.drift.push(Drift {
                            address: address.clone(),
                            kind: DriftKind::Deleted,
                            recorded: Some(user_attributes(&r.spec, None)),
                            observed: None,
                        });
                        if self.refuse_duplicate(name, d) {
                            continue;
                        }
                        self.note(
                                address,
                                format!(
                                    "PAM_UTIL_{} was deleted outside pamform; a new OTP API user will be created and must be bound again",
                                    r.remote.guid
                                ),
                            );
                        self.create_user(name, &d.spec, &d.requested_by);
                    }
                },
                Merged::Right(r) => {
                    self.note(
                        address,
                        format!(
                            "no longer declared; pamform never deletes an OTP API user (the product has no request for it), so PAM_UTIL_{} stays in the target and in the state",
                            r.remote.guid
                        ),
                    );
                }
            }
        }
    }

    /// Refuses to create `name` when the target holds an OTP API user of the same team and
    /// description that the state does not record under another declared name: a lost, replaced or
    /// damaged state must never lead to a duplicate (and a second check-out).
    fn refuse_duplicate(
        &mut self,
        name: &OtpUserName,
        d: &crate::model::DesiredOtpApiUser,
    ) -> bool {
        // Indexed: a lost state with thousands of OTP API users stays O(N log N).
        let candidate = self
            .users_by_description
            .get(&(&d.spec.team, d.spec.description.as_str()))
            .into_iter()
            .flatten()
            .find(|guid| {
                self.declared_guids
                    .get(*guid)
                    .is_none_or(|owner| *owner == name)
            })
            .map(|guid| (*guid).clone());
        let Some(guid) = candidate else {
            return false;
        };
        let reason = format!(
            "an OTP API user with this team and description exists in the target as PAM_UTIL_{guid}, but the state does not record it as {name} (a lost, replaced or damaged state file?)"
        );
        let remedy = format!(
            "adopt it with an [[import]] block: to = \"otp_api_user.{name}\", id = \"{guid}\"; pamform will not create a duplicate"
        );
        self.refuse(
            Address::OtpApiUser(name.clone()),
            Some(RequestKind::CreateOtpApiUser),
            Some(&d.requested_by),
            reason,
            Some(remedy),
        );
        true
    }

    fn immutable_user_note(
        &mut self,
        address: &Address,
        now: &OtpApiUserSpec,
        want: &OtpApiUserSpec,
    ) {
        let mut fields = Vec::new();
        if now.team != want.team {
            fields.push("team");
        }
        if now.description != want.description {
            fields.push("description");
        }
        if now.accounts != want.accounts {
            fields.push("accounts");
        }
        if now.allowed_network != want.allowed_network {
            fields.push("allowed_network");
        }
        self.note(
            address.clone(),
            format!(
                "{} changed in the manifest, but an OTP API user cannot be changed in place; left as it is (declare a new OTP API user to change it)",
                fields.join(", ")
            ),
        );
    }

    fn create_user(&mut self, name: &OtpUserName, spec: &OtpApiUserSpec, submitter: &ProfileId) {
        let address = Address::OtpApiUser(name.clone());
        let request = Request::CreateOtpApiUser { spec: spec.clone() };
        let kind = RequestKind::CreateOtpApiUser;
        if self.check_submitter_exists(&address, kind, submitter) {
            let is_admin = self.is_team_admin(submitter);
            let now = self.team_now(&spec.team);
            let authorized = rules::authorize(&request, submitter, is_admin, now);
            if let Err(violation) = authorized {
                self.refuse_violations(&address, kind, submitter, vec![violation]);
            }
        }
        let accounts = &self.observed.accounts;
        let violations = rules::check_otp_accounts(&spec.team, &spec.accounts, |account| {
            accounts.get(account).map(|a| {
                if a.policy == ONBOARDED_POLICY {
                    a.team.clone()
                } else {
                    None
                }
            })
        });
        self.refuse_violations(&address, kind, submitter, violations);
        self.created_users.insert(name.clone());
        self.push_step(
            Operation::Submit {
                request,
                team_after: None,
                patch_state: false,
            },
            Some(submitter.clone()),
            address.clone(),
            vec![Visit {
                address,
                action: Action::Create,
                before: None,
                after: Some(user_attributes(spec, None)),
            }],
        );
    }

    // -----------------------------------------------------------------------------------------
    // Check-outs
    // -----------------------------------------------------------------------------------------

    fn checkouts(&mut self) {
        let desired = self.desired;
        let recorded = self.recorded;
        let observed = self.observed;
        for (name, both) in merge(&desired.checkouts, &recorded.checkouts) {
            let address = Address::Checkout(name.clone());
            match both {
                Merged::Left(spec) => self.new_checkout(name, spec),
                Merged::Both(spec, rc) => {
                    if self.created_users.contains(name) {
                        self.note(
                            address,
                            format!(
                                "the binding to PAM_UTIL_{} is lost with its OTP API user; the new OTP API user will be checked out and bound",
                                rc.otp_guid
                            ),
                        );
                        self.new_checkout(name, spec);
                        continue;
                    }
                    if spec != &rc.spec {
                        self.note(
                            address.clone(),
                            "changed in the manifest, but a check-out is performed once and never again; left as it is".into(),
                        );
                    }
                    if let Some(o) = observed.otp_api_users.get(&rc.otp_guid) {
                        // Only a later check-out pushes a new password onto the caller's
                        // login; check-in and expiry of ours leave the binding working.
                        let intact = o.checkouts_ever <= 1
                            && o
                                .open_checkout
                                .as_ref()
                                .is_none_or(|open| open.checkout_id == rc.checkout_id);
                        if !intact {
                            let now = match &o.open_checkout {
                                Some(open) => format!(
                                    "it has been checked out again (check-out {} of {})",
                                    open.checkout_id, open.holder
                                ),
                                None => format!(
                                    "it has been checked out {} times since",
                                    o.checkouts_ever.saturating_sub(1)
                                ),
                            };
                            self.plan.drift.push(Drift {
                                address: address.clone(),
                                kind: DriftKind::Changed,
                                recorded: Some(checkout_attributes(
                                    &rc.spec,
                                    Some(rc.checkout_id.clone()),
                                )),
                                observed: Some(checkout_attributes(
                                    &rc.spec,
                                    o.open_checkout.as_ref().map(|c| c.checkout_id.clone()),
                                )),
                            });
                            self.refuse(
                                address,
                                Some(RequestKind::Checkout),
                                Some(&rc.spec.requested_by),
                                format!(
                                    "the binding is broken: {} was bound by check-out {}, but {now}; its one-time password has been randomized outside pamform, so pamutil lookups with it fail",
                                    o.remote.vault_account, rc.checkout_id
                                ),
                                Some(format!(
                                    "declare a new OTP API user (a new [[otp_api_user]] with its own [[checkout]]), apply, and re-initialise pamutil with it; then run `pamform pamutil retire otp_api_user.{name}`"
                                )),
                            );
                            continue;
                        }
                    }
                    if self.options.include_no_ops {
                        let attrs = checkout_attributes(&rc.spec, Some(rc.checkout_id.clone()));
                        self.no_ops.push(Change {
                            address,
                            action: Action::NoOp,
                            step: None,
                            before: Some(attrs.clone()),
                            after: Some(attrs),
                        });
                    }
                }
                Merged::Right(_) => self.note(
                    address,
                    format!(
                        "no longer declared; the binding is kept and the account stays checked out. To retire it deliberately: pamform pamutil retire otp_api_user.{name}"
                    ),
                ),
            }
        }
    }

    fn new_checkout(&mut self, name: &OtpUserName, spec: &CheckoutSpec) {
        let address = Address::Checkout(name.clone());
        let kind = RequestKind::Checkout;
        let Some(user) = self.desired.otp_api_users.get(name) else {
            // The manifest layer rejects a check-out of an undeclared user; nothing to plan.
            return;
        };
        let team = user.spec.team.clone();
        let mut vault_account = None;
        if !self.created_users.contains(name) {
            let guid = self
                .recorded
                .otp_api_users
                .get(name)
                .map(|r| &r.remote.guid)
                .or_else(|| self.desired.imports.get(&Address::OtpApiUser(name.clone())));
            let Some(observed) = guid.and_then(|g| self.observed.otp_api_users.get(g)) else {
                // The user's own refusal explains why it is missing.
                return;
            };
            if observed.checkouts_ever > 0 || observed.open_checkout.is_some() {
                let open = match &observed.open_checkout {
                    Some(open) => format!(
                        " and is checked out now (check-out {} of {})",
                        open.checkout_id, open.holder
                    ),
                    None => String::new(),
                };
                self.refuse(
                    address,
                    Some(kind),
                    Some(&spec.requested_by),
                    format!(
                        "the OTP vault account {} has been checked out {} time(s) before{open}; pamform never checks an OTP vault account out again, because a second check-out randomizes it and breaks every application that uses it",
                        observed.remote.vault_account, observed.checkouts_ever
                    ),
                    Some(
                        "if pamutil on a host is initialised with it, keep it and restore the state file that holds its binding; otherwise declare a new OTP API user and check that one out".into(),
                    ),
                );
                return;
            }
            vault_account = Some(observed.remote.vault_account.clone());
        }
        if self.check_submitter_exists(&address, kind, &spec.requested_by) {
            let policy = self.observed.policy;
            let violations = match self.team_now(&team) {
                None => vec![Violation::UnknownTeam { team: team.clone() }],
                Some(state) => {
                    let mut v: Vec<Violation> =
                        rules::check_checkout_requester(&team, state, &spec.requested_by)
                            .err()
                            .into_iter()
                            .collect();
                    v.extend(rules::check_approvals(
                        &policy,
                        &team,
                        state,
                        &spec.requested_by,
                        &spec.approved_by,
                    ));
                    v
                }
            };
            self.refuse_violations(&address, kind, &spec.requested_by, violations);
        }
        self.push_step(
            Operation::Checkout {
                otp_api_user: name.clone(),
                team,
                spec: spec.clone(),
                vault_account,
            },
            Some(spec.requested_by.clone()),
            address.clone(),
            vec![Visit {
                address,
                action: Action::Create,
                before: None,
                after: Some(checkout_attributes(spec, None)),
            }],
        );
    }
}

fn user_attributes(
    spec: &OtpApiUserSpec,
    remote: Option<&crate::model::OtpApiUserRemote>,
) -> Attributes {
    Attributes::OtpApiUser {
        spec: spec.clone(),
        vault_account: remote.map(|r| r.vault_account.clone()),
        caller: remote.map(|r| r.caller.clone()),
    }
}

fn checkout_attributes(spec: &CheckoutSpec, checkout_id: Option<RemoteId>) -> Attributes {
    Attributes::Checkout {
        requested_by: spec.requested_by.clone(),
        approved_by: spec.approved_by.clone(),
        checkout_id,
    }
}
