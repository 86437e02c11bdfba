//! `pamform validate [DIR]`: parse and validate only; never opens the state or the target.

use clap::Args;

use super::{DirArg, Exit, Printer};
use crate::manifest;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub dir: DirArg,
}

pub fn run(args: &ValidateArgs, printer: &Printer) -> anyhow::Result<Exit> {
    match manifest::load(&args.dir.dir) {
        Ok(manifest) => {
            let d = &manifest.desired;
            let groups: usize = d.teams.values().map(|t| t.state.groups.len()).sum();
            let members: usize = d
                .teams
                .values()
                .flat_map(|t| t.state.groups.values())
                .map(|g| g.members.len())
                .sum();
            println!(
                "The manifest is valid: {} file(s), {} team(s), {} group(s), {} membership(s), {} OTP API user(s), {} check-out(s), {} import(s).",
                manifest.files.len(),
                d.teams.len(),
                groups,
                members,
                d.otp_api_users.len(),
                d.checkouts.len(),
                d.imports.len()
            );
            Ok(Exit::Success)
        }
        Err(error) => Ok(printer.manifest_error(&error)),
    }
}
