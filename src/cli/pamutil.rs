//! `pamform pamutil get|run|handoff|retire`: credential lookups against the state, like the
//! product's pamutil and runwithpass. `get` and `run` are the only commands that disclose a
//! managed password; `handoff` discloses a binding's one-time password, once.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::apply::parse_duration;
use super::{Exit, Printer};
use crate::keys;
use crate::model::{AccountRef, Address, OtpUserName};
use crate::pamutil::{self, LookupError, LookupOptions};
use crate::workspace::Workspace;

#[derive(Debug, Args)]
pub struct PamutilArgs {
    #[command(subcommand)]
    pub command: PamutilCommand,
}

#[derive(Debug, Args)]
pub struct Common {
    /// The manifest directory (it names the state file and the target).
    #[arg(long, short = 'C', env = "PAMFORM_DIR", default_value = ".")]
    pub dir: PathBuf,
    /// The key file that encrypts credentials in the state (PAMFORM_STATE_KEY takes precedence).
    #[arg(long, value_name = "PATH")]
    pub state_key_file: Option<PathBuf>,
    /// How long to wait for another lookup on the same binding, e.g. 0, 30s, 2m.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
}

#[derive(Debug, Args)]
pub struct LookupArgs {
    /// The managed system ID.
    pub system: String,
    /// The managed account ID.
    pub account: String,
    /// The binding to use (otp_api_user.NAME); needed when several may read the account.
    #[arg(long = "as", value_name = "ADDRESS")]
    pub as_user: Option<String>,
    /// Keep the password this many seconds (sealed in the state); 0: never.
    #[arg(long, default_value_t = 0)]
    pub cache_seconds: u64,
    /// The address the target sees the login come from.
    #[arg(long, default_value = "127.0.0.1")]
    pub source_address: IpAddr,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Subcommand)]
pub enum PamutilCommand {
    /// Print a managed account's password (rotates the binding's one-time password).
    Get(LookupArgs),
    /// Run a command with a managed account's password in PAMFORM_PASSWORD, or in place of a
    /// keyword in its arguments.
    Run {
        #[command(flatten)]
        lookup: LookupArgs,
        /// Replace this keyword in the command's arguments with the password.
        #[arg(long)]
        keyword: Option<String>,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Reveal a binding's caller ID and current one-time password once, for `runwithpass
    /// -initial` on a pamutil host; pamform never logs in with it again.
    Handoff {
        /// otp_api_user.NAME
        address: String,
        #[command(flatten)]
        common: Common,
    },
    /// Forget a binding deliberately (the vault account stays checked out).
    Retire {
        /// otp_api_user.NAME
        address: String,
        #[command(flatten)]
        common: Common,
    },
}

fn otp_user(text: &str) -> anyhow::Result<OtpUserName> {
    match text.parse::<Address>() {
        Ok(Address::OtpApiUser(name)) => Ok(name),
        _ => anyhow::bail!("{text:?} is not an OTP API user address (otp_api_user.NAME)"),
    }
}

fn exit_for(printer: &Printer, error: LookupError) -> Exit {
    let code = match &error {
        LookupError::Lost { .. } => Exit::InDoubt,
        _ => Exit::Error,
    };
    printer.error(&error);
    code
}

fn lookup(
    args: &LookupArgs,
    printer: &Printer,
) -> anyhow::Result<Result<crate::secret::Secret, Exit>> {
    let workspace = match Workspace::load(&args.common.dir) {
        Ok(w) => w,
        Err(error) => return Ok(Err(printer.manifest_error(&error))),
    };
    let state_path = workspace.state_path().to_path_buf();
    let Some(mut state) = workspace.open_state_if_exists()? else {
        anyhow::bail!(
            "no state file at {} (apply the manifest first)",
            state_path.display()
        );
    };
    let account = AccountRef::new(&args.system, &args.account);
    let as_user = args.as_user.as_deref().map(otp_user).transpose()?;
    let name = match pamutil::find_binding(&mut state, &account, as_user.as_ref()) {
        Ok(name) => name,
        Err(e) => return Ok(Err(exit_for(printer, e))),
    };
    let key = keys::state_key(&state_path, args.common.state_key_file.as_deref(), false)?.key;
    let mut target = workspace.open_target()?;
    let options = LookupOptions {
        lock_timeout: args.common.lock_timeout,
        cache_seconds: args.cache_seconds,
        source: args.source_address,
    };
    match pamutil::get(
        &mut state,
        &state_path,
        target.as_mut(),
        &key,
        &name,
        &account,
        &options,
    ) {
        Ok(password) => Ok(Ok(password)),
        Err(e) => Ok(Err(exit_for(printer, e))),
    }
}

pub fn run(args: &PamutilArgs, printer: &Printer) -> anyhow::Result<Exit> {
    match &args.command {
        PamutilCommand::Get(lookup_args) => match lookup(lookup_args, printer)? {
            Ok(password) => {
                println!("{}", password.expose());
                Ok(Exit::Success)
            }
            Err(exit) => Ok(exit),
        },
        PamutilCommand::Run {
            lookup: lookup_args,
            keyword,
            command,
        } => {
            if keyword.as_deref().is_some_and(str::is_empty) {
                anyhow::bail!("--keyword must not be empty");
            }
            let password = match lookup(lookup_args, printer)? {
                Ok(password) => password,
                Err(exit) => return Ok(exit),
            };
            let mut argv: Vec<String> = command.clone();
            if let Some(keyword) = keyword {
                for arg in argv.iter_mut() {
                    if arg.contains(keyword.as_str()) {
                        *arg = arg.replace(keyword.as_str(), password.expose());
                    }
                }
            }
            let Some((program, rest)) = argv.split_first() else {
                anyhow::bail!("no command to run after --");
            };
            let mut child = Command::new(program);
            child.args(rest);
            if keyword.is_none() {
                child.env("PAMFORM_PASSWORD", password.expose());
            }
            let status = child.status().map_err(|e| {
                anyhow::anyhow!(
                    "cannot run {:?}: {e}",
                    command.first().map(String::as_str).unwrap_or("")
                )
            })?;
            // Wipe the copies of the password held in the arguments.
            for arg in argv.iter_mut() {
                zeroize::Zeroize::zeroize(arg);
            }
            drop(password);
            match status.code() {
                Some(0) => Ok(Exit::Success),
                // The command's own exit code, as runwithpass passes it on.
                Some(code) => std::process::exit(code),
                None => Ok(Exit::Error),
            }
        }
        PamutilCommand::Handoff { address, common }
        | PamutilCommand::Retire { address, common } => {
            let name = otp_user(address)?;
            let workspace = match Workspace::load(&common.dir) {
                Ok(w) => w,
                Err(error) => return Ok(printer.manifest_error(&error)),
            };
            let state_path = workspace.state_path().to_path_buf();
            let Some(mut state) = workspace.open_state_if_exists()? else {
                anyhow::bail!("no state file at {}", state_path.display());
            };
            // Both write the state: hold its lock, as apply does.
            let operation = match args.command {
                PamutilCommand::Retire { .. } => "pamutil retire",
                _ => "pamutil handoff",
            };
            let _state_lock = match crate::state::lock::StateLock::acquire(
                &state_path,
                operation,
                common.lock_timeout,
            ) {
                Ok(lock) => lock,
                Err(crate::state::lock::LockError::Io(e)) => return Err(e),
                Err(held) => {
                    printer.error(&held);
                    return Ok(Exit::Error);
                }
            };
            if matches!(args.command, PamutilCommand::Retire { .. }) {
                return match pamutil::retire(&mut state, &state_path, &name, common.lock_timeout) {
                    Ok(true) => {
                        printer.status(format!(
                            "Retired the binding of otp_api_user.{name}; its vault account stays checked out and pamform will never check it out again."
                        ));
                        Ok(Exit::Success)
                    }
                    Ok(false) => {
                        printer.error(format!("otp_api_user.{name} has no binding to retire"));
                        Ok(Exit::Error)
                    }
                    Err(e) => Ok(exit_for(printer, e)),
                };
            }
            let key = keys::state_key(&state_path, common.state_key_file.as_deref(), false)?.key;
            match pamutil::handoff(&mut state, &state_path, &key, &name, common.lock_timeout) {
                Ok(handoff) => {
                    println!("caller_id = {:?}", handoff.caller.as_str());
                    println!("otp = {:?}", handoff.otp.expose());
                    printer.status(format!(
                        "Handed off otp_api_user.{name}: initialise pamutil with it (runwithpass -initial); pamform will not log in with it again, nor show it again."
                    ));
                    Ok(Exit::Success)
                }
                Err(e) => Ok(exit_for(printer, e)),
            }
        }
    }
}
