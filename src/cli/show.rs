//! `pamform show FILE`: render a saved plan as text, Markdown or JSON.

use std::path::PathBuf;

use clap::Args;

use super::plan::{Format, print_plan};
use super::{Exit, Printer};
use crate::saved_plan::SavedPlan;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan file written by `pamform plan --out`.
    pub file: PathBuf,
    /// Print JSON (same as --format json).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub fn run(args: &ShowArgs, printer: &Printer) -> anyhow::Result<Exit> {
    let saved = SavedPlan::read(&args.file)?;
    let format = if args.json { Format::Json } else { args.format };
    print_plan(&saved.plan, &saved, format, printer)?;
    Ok(Exit::Success)
}
