//! Apply's batching over a scripted target: a refusal mid-batch keeps the steps before it (done
//! and recorded), marks the failing one failed and the rest abandoned, and leaves nothing in doubt.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::*;
use crate::model::{GroupName, GroupState, Observed, Privilege, Scope, TeamId, TeamState};
use crate::plan::{Action, Change, Plan, Step};
use crate::state::SqliteState;
use crate::target::{
    CheckedOut, CheckoutRequest, OtpSession, Submitted, TargetError, TargetResult,
};

/// Accepts team requests until `refuse_at` (0-based count of submits), refuses that one.
struct Scripted {
    submits: usize,
    refuse_at: usize,
    batches: Vec<(usize, usize)>,
    open: Option<usize>,
}

impl Target for Scripted {
    fn describe(&self) -> String {
        "scripted target".into()
    }
    fn begin_batch(&mut self) -> TargetResult<()> {
        self.open = Some(self.submits);
        Ok(())
    }
    fn commit_batch(&mut self) -> TargetResult<()> {
        let start = self.open.take().unwrap_or(self.submits);
        self.batches.push((start, self.submits));
        Ok(())
    }
    fn observe(&mut self, _: &Scope) -> TargetResult<Observed> {
        Ok(Observed::default())
    }
    fn submit(&mut self, _: &ProfileId, request: &Request) -> TargetResult<Submitted> {
        let n = self.submits;
        self.submits += 1;
        if n == self.refuse_at {
            return Err(TargetError::Refused(vec![
                crate::model::rules::Violation::UnknownTeam {
                    team: request.team().clone(),
                },
            ]));
        }
        Ok(Submitted {
            batch_id: RemoteId::new(format!("BATCH-{n}")),
            created_otp_api_user: None,
        })
    }
    fn request_checkout(&mut self, _: &ProfileId, _: &AccountRef) -> TargetResult<CheckoutRequest> {
        Err(TargetError::NotFound("not scripted".into()))
    }
    fn approve_checkout(&mut self, _: &ProfileId, _: &RemoteId) -> TargetResult<CheckoutRequest> {
        Err(TargetError::NotFound("not scripted".into()))
    }
    fn check_out(&mut self, _: &ProfileId, _: &RemoteId) -> TargetResult<CheckedOut> {
        Err(TargetError::NotFound("not scripted".into()))
    }
    fn checkout_request(&mut self, _: &RemoteId) -> TargetResult<CheckoutRequest> {
        Err(TargetError::NotFound("not scripted".into()))
    }
    fn checkout_requests_for(&mut self, _: &AccountRef) -> TargetResult<Vec<CheckoutRequest>> {
        Ok(Vec::new())
    }
    fn retrieve_checkout_password(&mut self, _: &ProfileId, _: &RemoteId) -> TargetResult<Secret> {
        Err(TargetError::NotFound("not scripted".into()))
    }
    fn check_in(&mut self, _: &ProfileId, _: &RemoteId) -> TargetResult<()> {
        Err(TargetError::NotFound("not scripted".into()))
    }
    fn otp_login(&mut self, _: &ProfileId, _: &Secret, _: IpAddr) -> TargetResult<OtpSession> {
        Err(TargetError::NotFound("not scripted".into()))
    }
    fn read_password(&mut self, _: &RemoteId, _: &AccountRef) -> TargetResult<Secret> {
        Err(TargetError::NotFound("not scripted".into()))
    }
}

fn team_state() -> TeamState {
    let mut groups = BTreeMap::new();
    groups.insert(
        GroupName::new("Trustees"),
        GroupState {
            privileges: [Privilege::TeamTrustees].into(),
            members: [ProfileId::new("alice")].into(),
        },
    );
    TeamState {
        description: "d".into(),
        groups,
    }
}

/// A plan of `n` TEAM-CREATE steps, teams T000.. in order.
fn plan_of(n: usize) -> Plan {
    let mut plan = Plan::default();
    for i in 0..n {
        let team = TeamId::new(format!("T{i:03}"));
        let start = plan.changes.len();
        plan.changes.push(Change {
            address: Address::Team(team.clone()),
            action: Action::Create,
            step: Some(i),
            before: None,
            after: None,
        });
        plan.steps.push(Step {
            operation: Operation::Submit {
                request: Request::TeamCreate {
                    team: team.clone(),
                    state: team_state(),
                },
                team_after: Some(team_state()),
                patch_state: false,
            },
            submitter: Some(ProfileId::new("alice")),
            subject: Address::Team(team),
            changes: start..start + 1,
        });
    }
    plan
}

type Ran = (
    tempfile::TempDir,
    Scripted,
    SqliteState,
    Result<ApplyReport, ApplyError>,
);

fn run_plan(steps: usize, refuse_at: usize) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    let mut state = SqliteState::open(&dir.path().join("state.db")).unwrap();
    let mut target = Scripted {
        submits: 0,
        refuse_at,
        batches: Vec::new(),
        open: None,
    };
    let key = Key::generate();
    let plan = plan_of(steps);
    let result = run(
        Apply {
            target: &mut target,
            state: &mut state,
            key: &key,
            recorded: &Recorded::default(),
            progress: &mut Silent,
        },
        &plan,
        "run",
    );
    (dir, target, state, result)
}

#[test]
fn a_refusal_mid_batch_keeps_what_came_before_and_abandons_the_rest() {
    let (_dir, target, mut state, result) = run_plan(5, 2);
    match result {
        Err(ApplyError::Step { index, .. }) => assert_eq!(index, 2),
        other => panic!("expected a step failure, got {other:?}"),
    }
    assert_eq!(target.submits, 3, "nothing after the refusal is sent");
    let recorded = state.load().unwrap();
    let teams: Vec<&str> = recorded.teams.keys().map(|t| t.as_str()).collect();
    assert_eq!(teams, ["T000", "T001"]);
    assert!(state.in_doubt().unwrap().is_empty());
    let statuses: Vec<JournalStatus> = state
        .journal(10)
        .unwrap()
        .iter()
        .map(|e| e.status)
        .collect();
    assert_eq!(
        statuses,
        [
            JournalStatus::Done,
            JournalStatus::Done,
            JournalStatus::Failed,
            JournalStatus::Abandoned,
            JournalStatus::Abandoned
        ]
    );
}

#[test]
fn steps_run_in_batches_of_bounded_size() {
    let steps = BATCH_STEPS * 2 + 3;
    let (_dir, target, mut state, result) = run_plan(steps, usize::MAX);
    assert_eq!(result.unwrap().steps, steps);
    assert_eq!(
        target.batches,
        [
            (0, BATCH_STEPS),
            (BATCH_STEPS, 2 * BATCH_STEPS),
            (2 * BATCH_STEPS, steps)
        ]
    );
    assert_eq!(state.load().unwrap().teams.len(), steps);
    // Two state commits per batch (intents, results): the serial moved by two per batch.
    assert_eq!(state.identity().unwrap().serial, 6);
}
