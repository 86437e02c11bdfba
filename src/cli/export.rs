//! `pamform export --format bravura-batch [DIR] OUTDIR`: plan as `plan` does (reading the state,
//! if any, and the target; writing neither), and write the planned requests as the product's
//! batch CSVs plus a `README.txt` of the manual steps (see `crate::export`).
//!
//! Invariants: a refused plan exits 3 and writes nothing; the paths written go to stdout, one a
//! line (data); status, warnings and the refused plan go to stderr.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{Exit, Printer};
use crate::export;
use crate::output;
use crate::plan::PlanOptions;
use crate::state::StateStore;
use crate::workspace::{self, Workspace};

/// The export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One CSV per PDR ID for the product's "Submit a request batch via CSV", and README.txt.
    BravuraBatch,
}

/// Arguments of `pamform export`.
#[derive(Debug, Args)]
#[command(allow_missing_positional = true)]
pub struct ExportArgs {
    /// The export format.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// The manifest directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The directory to write the files into; created, and must be new or empty.
    pub outdir: PathBuf,
}

pub fn run(args: &ExportArgs, printer: &Printer) -> anyhow::Result<Exit> {
    let workspace = match Workspace::load(&args.dir) {
        Ok(w) => w,
        Err(error) => return Ok(printer.manifest_error(&error)),
    };
    let mut target = workspace.open_target()?;
    let mut state = workspace.open_state_if_exists()?;
    super::warn_in_doubt(
        printer,
        state.as_mut(),
        "settle them with `pamform apply` before exporting",
    )?;
    let planned = workspace::plan_with(
        &workspace,
        target.as_mut(),
        state.as_mut().map(|s| s as &mut dyn StateStore),
        PlanOptions::default(),
    )?;
    let plan = &planned.plan;
    if plan.is_refused() {
        output::text::write_plan(&mut std::io::stderr().lock(), plan, &printer.stderr_styles)?;
        printer.error(format!(
            "the plan is refused ({} reason(s) above); nothing was exported",
            plan.refusals.len()
        ));
        return Ok(Exit::Refused);
    }
    let written = match args.format {
        ExportFormat::BravuraBatch => export::write_batches(plan, &planned.observed, &args.outdir)?,
    };
    let mut stdout = std::io::stdout().lock();
    for path in &written {
        use std::io::Write;
        writeln!(stdout, "{}", path.display())?;
    }
    let csvs = written.len().saturating_sub(1);
    printer.status(format!(
        "Exported {csvs} request batch file(s) and {} to {}; submit them in the order {} lists.",
        export::README_NAME,
        args.outdir.display(),
        export::README_NAME
    ));
    Ok(Exit::Success)
}
