//! The human plan: drift, then the steps grouped by the request that carries them, then notes,
//! refusals and the counts line.
//!
//! Invariants: deterministic (no timestamps, no IDs the target will assign); escape codes only
//! when `Styles::colored`; never a secret (plans hold none).

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use crate::model::RequestKind;
use crate::plan::{Action, Attributes, Change, DriftKind, Operation, Plan, Step, Summary};

/// The styles of terminal output; plain when colour is off.
#[derive(Clone, Copy, Debug, Default)]
pub struct Styles {
    pub create: Style,
    pub update: Style,
    pub delete: Style,
    pub import: Style,
    pub heading: Style,
    pub dim: Style,
    pub warning: Style,
    pub error: Style,
}

impl Styles {
    pub fn new(colored: bool) -> Styles {
        if !colored {
            return Styles::default();
        }
        let fg = |c: AnsiColor| Style::new().fg_color(Some(c.into()));
        Styles {
            create: fg(AnsiColor::Green),
            update: fg(AnsiColor::Yellow),
            delete: fg(AnsiColor::Red),
            import: fg(AnsiColor::Cyan),
            heading: Style::new().bold(),
            dim: Style::new().dimmed(),
            warning: fg(AnsiColor::Yellow).bold(),
            error: fg(AnsiColor::Red).bold(),
        }
    }

    fn action(&self, action: Action) -> Style {
        match action {
            Action::Create => self.create,
            Action::Update => self.update,
            Action::Delete => self.delete,
            Action::Import => self.import,
            Action::NoOp => Style::new(),
        }
    }
}

/// The counts line: "Plan: 1 to import, 5 to add, 0 to change, 0 to destroy."
pub fn counts_line(summary: &Summary) -> String {
    let mut line = String::from("Plan: ");
    if summary.import > 0 {
        line.push_str(&format!("{} to import, ", summary.import));
    }
    line.push_str(&format!(
        "{} to add, {} to change, {} to destroy.",
        summary.add, summary.change, summary.destroy
    ));
    line
}

/// The heading of a step: `TEAM-UPDATE on team CORP-AD, submitted by alice`.
pub fn step_heading(step: &Step) -> String {
    let by = step
        .submitter
        .as_ref()
        .map(|s| s.to_string())
        .unwrap_or_default();
    match &step.operation {
        Operation::Submit { request, .. } => {
            let kind = request.kind();
            let on = match kind {
                RequestKind::CreateOtpApiUser => format!("for {}", step.subject),
                _ => format!("on team {}", request.team()),
            };
            format!("{kind} {on}, submitted by {by}")
        }
        Operation::Checkout { spec, .. } => {
            let approvers: Vec<String> = spec.approved_by.iter().map(|p| p.to_string()).collect();
            let approved = if approvers.is_empty() {
                "no approval".to_string()
            } else {
                format!("approved by {}", approvers.join(", "))
            };
            format!(
                "CHECKOUT of the vault account of {}, requested by {by}, {approved}; bound once, never checked out again",
                step.subject
                    .to_string()
                    .replacen("checkout.", "otp_api_user.", 1)
            )
        }
        Operation::ImportTeam { team, .. } => {
            format!("import team {team} into the state (no request)")
        }
        Operation::ImportOtpApiUser { remote, .. } => format!(
            "import PAM_UTIL_{} as {} into the state (no request)",
            remote.guid, step.subject
        ),
        Operation::RecordTeam { team, .. } => format!(
            "record team {team} in the state: the target already matches the manifest (no request)"
        ),
        Operation::ForgetTeam { team } => {
            format!("drop team {team} from the state: it is gone from the target (no request)")
        }
    }
}

fn quoted_list<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let items: Vec<String> = items
        .into_iter()
        .map(|i| format!("{:?}", i.to_string()))
        .collect();
    format!("[{}]", items.join(", "))
}

/// The attribute lines shown under a change (shared by the text and Markdown plans).
pub fn attribute_lines(change: &Change) -> Vec<String> {
    match (&change.before, &change.after, change.action) {
        (
            Some(Attributes::Team {
                description: before,
                ..
            }),
            Some(Attributes::Team {
                description: after, ..
            }),
            Action::Update,
        ) => vec![format!("description = {before:?} -> {after:?}")],
        (_, Some(Attributes::OtpApiUser { spec, .. }), Action::Create) => vec![
            format!("team            = {:?}", spec.team.as_str()),
            format!("description     = {:?}", spec.description),
            format!("accounts        = {}", quoted_list(&spec.accounts)),
            format!("allowed_network = {:?}", spec.allowed_network),
        ],
        _ => Vec::new(),
    }
}

/// Writes the whole human plan.
pub fn write_plan(out: &mut dyn Write, plan: &Plan, styles: &Styles) -> io::Result<()> {
    let s = styles;
    if !plan.drift.is_empty() {
        writeln!(
            out,
            "{}Objects changed outside pamform since the last apply:{}",
            s.heading.render(),
            s.heading.render_reset()
        )?;
        for drift in &plan.drift {
            let (mark, style, what) = match drift.kind {
                DriftKind::Deleted => ('-', s.delete, "deleted outside pamform"),
                DriftKind::Added => ('+', s.create, "added outside pamform"),
                DriftKind::Changed => ('~', s.update, "changed outside pamform"),
            };
            writeln!(
                out,
                "  {}{mark} {}{}  {}{what}{}",
                style.render(),
                drift.address,
                style.render_reset(),
                s.dim.render(),
                s.dim.render_reset()
            )?;
        }
        writeln!(out)?;
    }
    if plan.steps.is_empty() {
        if plan.refusals.is_empty() {
            writeln!(
                out,
                "No changes. The target and the state match the manifest."
            )?;
            if !plan.notes.is_empty() {
                writeln!(out)?;
            }
        }
    } else {
        writeln!(
            out,
            "{}pamform will perform these steps, in this order:{}",
            s.heading.render(),
            s.heading.render_reset()
        )?;
        for (index, step) in plan.steps.iter().enumerate() {
            writeln!(out)?;
            writeln!(
                out,
                "  {}# {}. {}{}",
                s.heading.render(),
                index + 1,
                step_heading(step),
                s.heading.render_reset()
            )?;
            for change in plan.changes_of_step(index) {
                let style = s.action(change.action);
                writeln!(
                    out,
                    "  {}{} {}{}",
                    style.render(),
                    change.action.symbol(),
                    change.address,
                    style.render_reset()
                )?;
                for line in attribute_lines(change) {
                    writeln!(out, "      {line}")?;
                }
            }
        }
        writeln!(out)?;
    }
    if !plan.notes.is_empty() {
        writeln!(
            out,
            "{}Warnings:{}",
            s.warning.render(),
            s.warning.render_reset()
        )?;
        for note in &plan.notes {
            writeln!(out, "  ! {}: {}", note.address, note.message)?;
        }
        writeln!(out)?;
    }
    if !plan.refusals.is_empty() {
        writeln!(
            out,
            "{}Refused: applying this plan would fail at these steps:{}",
            s.error.render(),
            s.error.render_reset()
        )?;
        for refusal in &plan.refusals {
            let context = match (&refusal.request, &refusal.requested_by) {
                (Some(request), Some(by)) => format!(" ({request} submitted by {by})"),
                (Some(request), None) => format!(" ({request})"),
                _ => String::new(),
            };
            writeln!(out, "  x {}{context}: {}", refusal.address, refusal.reason)?;
            if let Some(remedy) = &refusal.remedy {
                writeln!(out, "      help: {remedy}")?;
            }
        }
        writeln!(out)?;
    }
    if plan.has_target_changes() || !plan.refusals.is_empty() {
        writeln!(out, "{}", counts_line(&plan.summary))?;
    } else if plan.has_changes() {
        writeln!(
            out,
            "No changes to the target; apply will update the state only ({} step(s)).",
            plan.steps.len()
        )?;
    }
    Ok(())
}
