//! `pamform target ...`: act on the embedded target out of band, as a named profile, the way a
//! person would in the product's web UI. This is how users and tests make drift happen.
//!
//! Invariant: secrets are masked in `show` and `log`; `check-out` prints the disclosed password
//! only with `--show-password` (it is a reveal, like the product's own check-out page).

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use super::{DirArg, Exit, Printer};
use crate::manifest;
use crate::model::{AccountRef, GroupName, ProfileId, RemoteId, Request, TeamId};
use crate::target::{Target, TargetError};
use crate::workspace::Workspace;

#[derive(Debug, Args)]
pub struct TargetArgs {
    #[command(subcommand)]
    pub command: TargetCommand,
}

#[derive(Debug, Args)]
pub struct AsArg {
    /// The profile that acts.
    #[arg(long = "as", value_name = "PROFILE")]
    pub profile: String,
}

#[derive(Debug, Subcommand)]
pub enum TargetCommand {
    /// Show everything in the target, secrets masked.
    Show {
        #[command(flatten)]
        dir: DirArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the target's log of requests and their outcomes.
    Log {
        #[command(flatten)]
        dir: DirArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Submit TEAM-CREATE with the [[team]] tables of a TOML file.
    TeamCreate {
        #[command(flatten)]
        who: AsArg,
        /// A TOML file with [[team]] tables, as in a manifest.
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Submit TEAM-UPDATE (replaces the whole team) with the [[team]] tables of a TOML file.
    TeamUpdate {
        #[command(flatten)]
        who: AsArg,
        /// A TOML file with [[team]] tables, as in a manifest.
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Submit TEAM-MEMBERS: set the members of one group.
    TeamMembers {
        #[command(flatten)]
        who: AsArg,
        #[arg(long)]
        team: String,
        #[arg(long)]
        group: String,
        /// Comma-separated profile IDs; empty for none.
        #[arg(long, value_delimiter = ',', num_args = 0..)]
        members: Vec<String>,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Submit TEAM-DELETE.
    TeamDelete {
        #[command(flatten)]
        who: AsArg,
        #[arg(long)]
        team: String,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Request a check-out of a managed account (SYSTEM/account).
    RequestCheckout {
        #[command(flatten)]
        who: AsArg,
        account: String,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Approve a pending check-out request.
    Approve {
        #[command(flatten)]
        who: AsArg,
        request_id: String,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Check out an approved request (randomizes the account).
    CheckOut {
        #[command(flatten)]
        who: AsArg,
        request_id: String,
        /// Print the disclosed password on stdout.
        #[arg(long)]
        show_password: bool,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Check in an open check-out (randomizes the account).
    CheckIn {
        #[command(flatten)]
        who: AsArg,
        checkout_id: String,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Show where a check-out request stands.
    CheckoutStatus {
        request_id: String,
        #[command(flatten)]
        dir: DirArg,
    },
}

fn dir_of(command: &TargetCommand) -> &DirArg {
    match command {
        TargetCommand::Show { dir, .. }
        | TargetCommand::Log { dir, .. }
        | TargetCommand::TeamCreate { dir, .. }
        | TargetCommand::TeamUpdate { dir, .. }
        | TargetCommand::TeamMembers { dir, .. }
        | TargetCommand::TeamDelete { dir, .. }
        | TargetCommand::RequestCheckout { dir, .. }
        | TargetCommand::Approve { dir, .. }
        | TargetCommand::CheckOut { dir, .. }
        | TargetCommand::CheckIn { dir, .. }
        | TargetCommand::CheckoutStatus { dir, .. } => dir,
    }
}

fn teams_of_file(path: &std::path::Path) -> anyhow::Result<Vec<(TeamId, crate::model::TeamState)>> {
    let seed = manifest::load_seed(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    if seed.teams.is_empty() {
        bail!("{} declares no [[team]]", path.display());
    }
    Ok(seed.teams.into_iter().collect())
}

/// Prints a target refusal and maps it to exit 3; other errors propagate.
fn report<T>(printer: &Printer, result: Result<T, TargetError>) -> anyhow::Result<Result<T, Exit>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(TargetError::Fault(e)) => Err(e),
        Err(e @ TargetError::Refused(_)) => {
            printer.error(&e);
            Ok(Err(Exit::Refused))
        }
        Err(e) => {
            printer.error(&e);
            Ok(Err(Exit::Error))
        }
    }
}

pub fn run(args: &TargetArgs, printer: &Printer) -> anyhow::Result<Exit> {
    let dir = dir_of(&args.command);
    let workspace = match Workspace::load(&dir.dir) {
        Ok(w) => w,
        Err(error) => {
            return Ok(printer.manifest_error(&error));
        }
    };
    let mut target = workspace.open_embedded_target()?;
    macro_rules! check {
        ($result:expr) => {
            match report(printer, $result)? {
                Ok(value) => value,
                Err(exit) => return Ok(exit),
            }
        };
    }
    match &args.command {
        TargetCommand::Show { json, .. } => {
            let dump = target.dump()?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&dump)?);
            } else {
                print!("{}", dump.render_text());
            }
        }
        TargetCommand::Log { json, .. } => {
            let log = target.log()?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&log)?);
            } else {
                for entry in log {
                    println!("{}", serde_json::to_string(&entry)?);
                }
            }
        }
        TargetCommand::TeamCreate { who, file, .. }
        | TargetCommand::TeamUpdate { who, file, .. } => {
            let create = matches!(args.command, TargetCommand::TeamCreate { .. });
            for (team, state) in teams_of_file(file)? {
                let request = if create {
                    Request::TeamCreate { team, state }
                } else {
                    Request::TeamUpdate { team, state }
                };
                let submitted = check!(target.submit(&ProfileId::new(&who.profile), &request));
                println!(
                    "{} {} done (batch {})",
                    request.kind(),
                    request.team(),
                    submitted.batch_id
                );
            }
        }
        TargetCommand::TeamMembers {
            who,
            team,
            group,
            members,
            ..
        } => {
            let members: BTreeSet<ProfileId> = members
                .iter()
                .filter(|m| !m.trim().is_empty())
                .map(|m| ProfileId::new(m.trim()))
                .collect();
            let request = Request::TeamMembers {
                team: TeamId::new(team),
                groups: [(GroupName::new(group), members)].into(),
            };
            let submitted = check!(target.submit(&ProfileId::new(&who.profile), &request));
            println!("TEAM-MEMBERS {team} done (batch {})", submitted.batch_id);
        }
        TargetCommand::TeamDelete { who, team, .. } => {
            let request = Request::TeamDelete {
                team: TeamId::new(team),
            };
            let submitted = check!(target.submit(&ProfileId::new(&who.profile), &request));
            println!("TEAM-DELETE {team} done (batch {})", submitted.batch_id);
        }
        TargetCommand::RequestCheckout { who, account, .. } => {
            let account: AccountRef = account
                .parse()
                .map_err(|e: String| anyhow::anyhow!(e))
                .context("bad account")?;
            let request = check!(target.request_checkout(&ProfileId::new(&who.profile), &account));
            println!(
                "check-out request {} of {}: {}",
                request.request_id, request.account, request.status
            );
        }
        TargetCommand::Approve {
            who, request_id, ..
        } => {
            let request = check!(
                target.approve_checkout(&ProfileId::new(&who.profile), &RemoteId::new(request_id))
            );
            println!(
                "check-out request {}: {}",
                request.request_id, request.status
            );
        }
        TargetCommand::CheckOut {
            who,
            request_id,
            show_password,
            ..
        } => {
            let checked =
                check!(target.check_out(&ProfileId::new(&who.profile), &RemoteId::new(request_id)));
            println!("checked out: check-out {}", checked.checkout_id);
            if *show_password {
                println!("{}", checked.password.expose());
            }
        }
        TargetCommand::CheckIn {
            who, checkout_id, ..
        } => {
            check!(target.check_in(&ProfileId::new(&who.profile), &RemoteId::new(checkout_id)));
            println!("checked in: check-out {checkout_id}");
        }
        TargetCommand::CheckoutStatus { request_id, .. } => {
            let request = check!(target.checkout_request(&RemoteId::new(request_id)));
            println!(
                "check-out request {} of {} by {}: {}{}",
                request.request_id,
                request.account,
                request.requester,
                request.status,
                request
                    .checkout_id
                    .map(|c| format!(" (check-out {c})"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(Exit::Success)
}
