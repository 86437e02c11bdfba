//! The JSON plan document (`plan --json`), described by `schemas/plan.schema.json`.
//!
//! Invariants: one document per run; `format_version` changes its major part only for
//! incompatible changes; additions keep the major version. No secret is ever part of a plan, so
//! nothing here needs redaction.

use std::io::Write;

use serde::Serialize;

use crate::plan::{Attributes, Change, Drift, Note, Plan, Refusal, Summary};

/// The version of the JSON plan format.
pub const FORMAT_VERSION: &str = "1.0";

#[derive(Serialize)]
struct Document<'a> {
    format_version: &'static str,
    pamform_version: &'static str,
    refused: bool,
    changes: Vec<ChangeView<'a>>,
    drift: Vec<DriftView<'a>>,
    refusals: &'a [Refusal],
    notes: &'a [Note],
    steps: Vec<StepView<'a>>,
    summary: SummaryView,
}

#[derive(Serialize)]
struct ChangeView<'a> {
    address: String,
    action: crate::plan::Action,
    request: Option<&'static str>,
    requested_by: Option<&'a str>,
    step: Option<usize>,
    before: Option<&'a Attributes>,
    after: Option<&'a Attributes>,
}

#[derive(Serialize)]
struct DriftView<'a> {
    address: String,
    kind: crate::plan::DriftKind,
    recorded: Option<&'a Attributes>,
    observed: Option<&'a Attributes>,
}

#[derive(Serialize)]
struct StepView<'a> {
    index: usize,
    request: Option<&'static str>,
    operation: &'static str,
    subject: String,
    requested_by: Option<&'a str>,
    changes: usize,
}

#[derive(Serialize)]
struct SummaryView {
    add: usize,
    change: usize,
    destroy: usize,
    import: usize,
}

fn operation_label(operation: &crate::plan::Operation) -> &'static str {
    use crate::plan::Operation::*;
    match operation {
        Submit { .. } => "submit",
        Checkout { .. } => "checkout",
        ImportTeam { .. } | ImportOtpApiUser { .. } => "import",
        RecordTeam { .. } => "record",
        ForgetTeam { .. } => "forget",
    }
}

fn change_view<'a>(plan: &'a Plan, change: &'a Change) -> ChangeView<'a> {
    let step = change.step.and_then(|i| plan.steps.get(i));
    ChangeView {
        address: change.address.to_string(),
        action: change.action,
        request: step
            .and_then(|s| s.operation.request_kind())
            .map(|k| k.id()),
        requested_by: step.and_then(|s| s.submitter.as_ref()).map(|p| p.as_str()),
        step: change.step.map(|i| i + 1),
        before: change.before.as_ref(),
        after: change.after.as_ref(),
    }
}

fn drift_view(drift: &Drift) -> DriftView<'_> {
    DriftView {
        address: drift.address.to_string(),
        kind: drift.kind,
        recorded: drift.recorded.as_ref(),
        observed: drift.observed.as_ref(),
    }
}

/// Writes the plan as one JSON document and a newline.
pub fn write_plan(out: &mut dyn Write, plan: &Plan) -> std::io::Result<()> {
    let Summary {
        import,
        add,
        change,
        destroy,
    } = plan.summary;
    let document = Document {
        format_version: FORMAT_VERSION,
        pamform_version: env!("CARGO_PKG_VERSION"),
        refused: plan.is_refused(),
        changes: plan.changes.iter().map(|c| change_view(plan, c)).collect(),
        drift: plan.drift.iter().map(drift_view).collect(),
        refusals: &plan.refusals,
        notes: &plan.notes,
        steps: plan
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| StepView {
                index: i + 1,
                request: s.operation.request_kind().map(|k| k.id()),
                operation: operation_label(&s.operation),
                subject: s.subject.to_string(),
                requested_by: s.submitter.as_ref().map(|p| p.as_str()),
                changes: s.changes.len(),
            })
            .collect(),
        summary: SummaryView {
            add,
            change,
            destroy,
            import,
        },
    };
    serde_json::to_writer_pretty(&mut *out, &document)?;
    out.write_all(b"\n")
}
