//! `pamform state list|show|journal|audit`: read the state file; never write it.

use anyhow::bail;
use clap::{Args, Subcommand};

use super::{DirArg, Exit, Printer};
use crate::model::Address;
use crate::state::StateStore;
use crate::workspace::Workspace;

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List every recorded address.
    List(DirArg),
    /// Show one recorded address with its remote ID and attributes.
    Show(ShowArgs),
    /// Show the journal of apply steps, newest last.
    Journal(JournalArgs),
    /// Show who applied what, and when.
    Audit(DirArg),
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The address, e.g. team.CORP-AD or checkout.billing-batch.
    pub address: String,
    #[command(flatten)]
    pub dir: DirArg,
}

#[derive(Debug, Args)]
pub struct JournalArgs {
    #[command(flatten)]
    pub dir: DirArg,
    /// How many entries to show.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

fn open(dir: &DirArg, printer: &Printer) -> anyhow::Result<Option<crate::state::SqliteState>> {
    let workspace = match Workspace::load(&dir.dir) {
        Ok(w) => w,
        Err(error) => {
            printer.manifest_error(&error);
            return Ok(None);
        }
    };
    match workspace.open_state_if_exists()? {
        Some(state) => Ok(Some(state)),
        None => bail!(
            "no state file at {} (nothing has been applied yet)",
            workspace.state_path().display()
        ),
    }
}

pub fn run(command: &StateCommand, printer: &Printer) -> anyhow::Result<Exit> {
    match command {
        StateCommand::List(dir) => {
            let Some(mut state) = open(dir, printer)? else {
                return Ok(Exit::Error);
            };
            for row in state.resources()? {
                println!("{}", row.address);
            }
            Ok(Exit::Success)
        }
        StateCommand::Show(args) => {
            let address: Address = args
                .address
                .parse()
                .map_err(|e: String| anyhow::anyhow!(e))?;
            let Some(mut state) = open(&args.dir, printer)? else {
                return Ok(Exit::Error);
            };
            let wanted = address.to_string();
            let Some(row) = state.resources()?.into_iter().find(|r| r.address == wanted) else {
                bail!("{wanted} is not in the state");
            };
            println!("# {}", row.address);
            if let Some(id) = &row.remote_id {
                println!("remote_id       = {id:?}");
            }
            if let Some(by) = &row.requested_by {
                println!("requested_by    = {by:?}");
            }
            println!("serial          = {}", row.serial);
            if let Some(object) = row.attributes.as_object() {
                for (key, value) in object {
                    println!("{key:<15} = {value}");
                }
            }
            if let Address::Checkout(name) = &address
                && let Some(binding) = state.binding(name)?
            {
                println!("binding:");
                println!("  caller        = {:?}", binding.caller.as_str());
                println!("  checkout_id   = {:?}", binding.checkout_id.as_str());
                println!("  bound_at      = {:?}", binding.bound_at);
                println!("  rotations     = {}", binding.otp_serial);
                println!("  otp           = (encrypted)");
                if let Some(at) = &binding.handed_off_at {
                    println!("  handed_off_at = {at:?}");
                }
            }
            Ok(Exit::Success)
        }
        StateCommand::Journal(args) => {
            let Some(mut state) = open(&args.dir, printer)? else {
                return Ok(Exit::Error);
            };
            for entry in state.journal(args.limit)? {
                println!(
                    "{:>5}  {}  {:<10}  {:<24} {}{}{}",
                    entry.id,
                    entry.started_at,
                    entry.status.as_str(),
                    entry.operation,
                    entry.subject,
                    entry
                        .remote_id
                        .as_ref()
                        .map(|r| format!("  [{r}]"))
                        .unwrap_or_default(),
                    entry
                        .message
                        .as_ref()
                        .map(|m| format!("  {m}"))
                        .unwrap_or_default()
                );
            }
            Ok(Exit::Success)
        }
        StateCommand::Audit(dir) => {
            let Some(mut state) = open(dir, printer)? else {
                return Ok(Exit::Error);
            };
            for entry in state.audit_log()? {
                println!(
                    "{}  {}@{}  {}  {}",
                    entry.at, entry.actor, entry.host, entry.command, entry.summary
                );
            }
            Ok(Exit::Success)
        }
    }
}
