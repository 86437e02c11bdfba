//! `pamform force-unlock ID [DIR]`: clear the record of a state lock whose holder is gone.
//!
//! The lock itself is an OS file lock, released by the operating system when its holder dies, so a
//! dead holder never blocks anyone; what can stay behind is its record. A lock held by a live
//! process is never broken: that process may be writing the state.

use clap::Args;

use super::{DirArg, Exit, Printer};
use crate::state::lock::{LockError, StateLock, lock_path, read_record};
use crate::workspace::Workspace;

#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    /// The lock ID, as the error naming the holder shows it.
    pub id: String,
    #[command(flatten)]
    pub dir: DirArg,
}

pub fn run(args: &ForceUnlockArgs, printer: &Printer) -> anyhow::Result<Exit> {
    let workspace = match Workspace::load(&args.dir.dir) {
        Ok(w) => w,
        Err(error) => return Ok(printer.manifest_error(&error)),
    };
    let state = workspace.state_path();
    let path = lock_path(state);
    let record = read_record(&path)?;
    match &record {
        Some(info) if info.id != args.id => {
            printer.error(format!(
                "the lock record is {info}, not ID {}; nothing was changed",
                args.id
            ));
            return Ok(Exit::Error);
        }
        None => {
            printer.error(format!(
                "no lock record at {} (nothing holds the state); nothing was changed",
                path.display()
            ));
            return Ok(Exit::Error);
        }
        Some(_) => {}
    }
    match StateLock::acquire(state, "force-unlock", std::time::Duration::ZERO) {
        Ok(lock) => {
            drop(lock);
            printer.status(format!(
                "Cleared the lock record {} (its holder is gone).",
                args.id
            ));
            Ok(Exit::Success)
        }
        Err(LockError::Held { holder, .. }) => {
            printer.error(format!(
                "the lock {} is held by a live process ({}); pamform does not break a lock that a running process holds: stop that process, and its lock goes with it",
                args.id,
                holder
                    .map(|h| h.to_string())
                    .unwrap_or_else(|| "unknown holder".into())
            ));
            Ok(Exit::Error)
        }
        Err(LockError::Io(e)) => Err(e),
    }
}
