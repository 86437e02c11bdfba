//! `pamform plan [DIR]`: read the manifest, the state and the target's metadata; show the changes
//! grouped by request, the drift, and the refusals; optionally save the plan for `apply FILE`.
//! Never checks out, logs in or writes state.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{DirArg, Exit, Printer};
use crate::output;
use crate::plan::{Plan, PlanOptions};
use crate::saved_plan::SavedPlan;
use crate::state::StateStore;
use crate::workspace::{self, Workspace};

/// How a plan is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For a terminal.
    Text,
    /// For a pull-request comment: counts outside, the diff in a collapsible block.
    Markdown,
    /// One JSON document (schemas/plan.schema.json).
    Json,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub dir: DirArg,
    /// Print the plan as one JSON document (same as --format json).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also save the plan to FILE, for `pamform apply FILE` (holds no secrets).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 2 when the plan has changes, 0 when it has none (3 when refused).
    #[arg(long)]
    pub detailed_exitcode: bool,
}

/// Prints a plan in the chosen format to stdout.
pub fn print_plan(
    plan: &Plan,
    saved: &SavedPlan,
    format: Format,
    printer: &Printer,
) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match format {
        Format::Text => output::text::write_plan(&mut stdout, plan, &printer.stdout_styles)?,
        Format::Json => output::json::write_plan(&mut stdout, plan)?,
        Format::Markdown => output::markdown::write_plan(
            &mut stdout,
            plan,
            &output::markdown::MarkdownOptions {
                plan_hash: saved.hash(),
                ..Default::default()
            },
        )?,
    }
    Ok(())
}

/// The exit code of a plan that was printed.
pub fn plan_exit(plan: &Plan, detailed: bool, printer: &Printer) -> Exit {
    if plan.is_refused() {
        printer.error(format!(
            "the plan is refused ({} reason(s) above); nothing was changed",
            plan.refusals.len()
        ));
        return Exit::Refused;
    }
    if detailed && plan.has_changes() {
        return Exit::Changes;
    }
    Exit::Success
}

pub fn run(args: &PlanArgs, printer: &Printer) -> anyhow::Result<Exit> {
    let format = if args.json { Format::Json } else { args.format };
    let workspace = match Workspace::load(&args.dir.dir) {
        Ok(w) => w,
        Err(error) => return Ok(printer.manifest_error(&error)),
    };
    let mut target = workspace.open_target()?;
    let mut state = workspace.open_state_if_exists()?;
    super::warn_in_doubt(
        printer,
        state.as_mut(),
        "the next apply settles them from the target before it plans",
    )?;
    let planned = workspace::plan_with(
        &workspace,
        target.as_mut(),
        state.as_mut().map(|s| s as &mut dyn StateStore),
        PlanOptions {
            include_no_ops: format == Format::Json,
        },
    )?;
    let saved = SavedPlan::new(
        &args.dir.dir,
        &workspace.manifest.digest,
        planned.identity.clone(),
        &planned.observed,
        planned.plan,
    );
    print_plan(&saved.plan, &saved, format, printer)?;
    if let Some(out) = &args.out {
        saved.write(out)?;
        printer.status(format!(
            "Saved the plan to {} (sha256:{}); apply exactly it with: pamform apply {}",
            out.display(),
            saved.hash(),
            out.display()
        ));
    }
    Ok(plan_exit(&saved.plan, args.detailed_exitcode, printer))
}
