//! `pamform plan [DIR]`: read the manifest, the state and the target's metadata; show the changes
//! grouped by request, the drift, and the refusals. Never checks out, logs in or writes state.

use clap::Args;

use super::{DirArg, Exit, Printer};
use crate::output;
use crate::plan::PlanOptions;
use crate::state::StateStore;
use crate::workspace::{self, Workspace};

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub dir: DirArg,
    /// Print the plan as one JSON document (format in schemas/plan.schema.json).
    #[arg(long)]
    pub json: bool,
    /// Exit 2 when the plan has changes, 0 when it has none.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

pub fn run(args: &PlanArgs, printer: &Printer) -> anyhow::Result<Exit> {
    let workspace = match Workspace::load(&args.dir.dir) {
        Ok(w) => w,
        Err(error) => {
            return Ok(printer.manifest_error(&error));
        }
    };
    let mut target = workspace.open_target()?;
    let mut state = workspace.open_state_if_exists()?;
    if let Some(state) = state.as_mut() {
        let doubt = state.in_doubt()?;
        if !doubt.is_empty() {
            printer.warn(format!(
                "{} step(s) of an interrupted apply are in doubt ({}); the next apply settles them from the target before it plans",
                doubt.len(),
                doubt
                    .iter()
                    .map(|d| d.subject.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let planned = workspace::plan_with(
        &workspace,
        target.as_mut(),
        state.as_mut().map(|s| s as &mut dyn StateStore),
        PlanOptions {
            include_no_ops: args.json,
        },
    )?;
    let plan = &planned.plan;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        output::json::write_plan(&mut stdout, plan)?;
    } else {
        output::text::write_plan(&mut stdout, plan, &printer.stdout_styles)?;
    }
    if plan.is_refused() {
        printer.error(format!(
            "the plan is refused ({} reason(s) above); nothing was changed",
            plan.refusals.len()
        ));
        return Ok(Exit::Refused);
    }
    if args.detailed_exitcode && plan.has_changes() {
        return Ok(Exit::Changes);
    }
    Ok(Exit::Success)
}
