//! `pamform bench` (hidden): the scale benchmark's helpers, driven by `bench/run`. `generate`
//! writes a manifest directory and its embedded-target seed for N memberships; `floor` does the
//! least work any plan of a directory must do, as the yardstick plan is measured against.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{Exit, Printer};
use crate::bench::{self, Shape};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Write a manifest directory and `seed/target.toml` for N memberships (10 per group, 10
    /// groups per team, one OTP API user and one check-out per team).
    Generate {
        /// Memberships to generate (rounded up to whole teams of 100).
        #[arg(long, value_name = "N")]
        memberships: usize,
        /// Add, change and remove this percentage of the memberships each (deterministic).
        #[arg(long, value_name = "P", default_value_t = 0)]
        change_percent: u32,
        /// The directory to write (created; must hold no *.toml files).
        out: PathBuf,
    },
    /// Parse DIR's *.toml files into serde structs and scan its state and target tables; print
    /// what was read.
    Floor {
        /// The manifest directory.
        dir: PathBuf,
    },
}

pub fn run(args: &BenchArgs, printer: &Printer) -> anyhow::Result<Exit> {
    match &args.command {
        BenchCommand::Generate {
            memberships,
            change_percent,
            out,
        } => {
            let shape = Shape {
                memberships: *memberships,
                change_percent: *change_percent,
            };
            let written = bench::generate(&shape, out)?;
            printer.status(format!(
                "Wrote {} team(s), {written} membership(s), {} profile(s) to {}",
                shape.teams(),
                shape.profiles(),
                out.display()
            ));
        }
        BenchCommand::Floor { dir } => {
            let c = bench::floor(dir)?;
            println!(
                "floor: {} file(s), {} bytes, {} membership(s), {} state row(s), {} target row(s)",
                c.files, c.bytes, c.memberships, c.state_rows, c.target_rows
            );
        }
    }
    Ok(Exit::Success)
}
