//! `pamform apply [DIR]`: settle any step in doubt, plan, confirm, and run the steps in order under
//! the state lock.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{DirArg, Exit, Printer, may_prompt};
use crate::apply::{self, Apply, ApplyError, Progress};
use crate::clock::now_rfc3339;
use crate::keys;
use crate::output;
use crate::plan::{PlanOptions, Step};
use crate::saved_plan::SavedPlan;
use crate::state::lock::{LockError, StateLock, who_and_host};
use crate::state::{AuditEntry, StateStore};
use crate::workspace::{self, Workspace};

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The manifest directory, or a plan file written by `pamform plan --out` (applied exactly,
    /// without a prompt, and refused if the state, the target or the manifest moved since).
    #[command(flatten)]
    pub dir: DirArg,
    /// Apply without asking for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// The key file that encrypts credentials in the state (default: `<state>.key`; the
    /// PAMFORM_STATE_KEY environment variable takes precedence).
    #[arg(long, value_name = "PATH")]
    pub state_key_file: Option<PathBuf>,
    /// How long to wait for the state lock, e.g. 0, 30s, 2m.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
}

/// Parses `0`, `15s`, `2m`, `500ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 0, 30s, 2m)"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("{text:?} is not a duration (units: ms, s, m)")),
    }
}

/// Shows apply's progress on stderr: a progress bar on a terminal, one line per step otherwise
/// (so CI logs keep a record of every step).
struct StepPrinter<'a> {
    printer: &'a Printer,
    bar: Option<indicatif::ProgressBar>,
}

impl<'a> StepPrinter<'a> {
    fn new(printer: &'a Printer) -> StepPrinter<'a> {
        let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("[{pos}/{len}] {wide_msg} {elapsed}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        StepPrinter { printer, bar }
    }
}

impl Progress for StepPrinter<'_> {
    fn step_started(&mut self, index: usize, total: usize, step: &Step) {
        let heading = output::text::step_heading(step);
        match &self.bar {
            Some(bar) => {
                bar.set_length(total as u64);
                bar.set_position(index as u64);
                bar.set_message(heading);
            }
            None => self
                .printer
                .status(format!("[{}/{total}] {heading}...", index + 1)),
        }
    }

    fn step_finished(&mut self, index: usize, total: usize, _step: &Step, _outcome: &str) {
        if let Some(bar) = &self.bar {
            bar.set_position(index as u64 + 1);
            if index + 1 == total {
                bar.finish_and_clear();
            }
        }
    }
}

impl Drop for StepPrinter<'_> {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn confirm(printer: &Printer) -> anyhow::Result<bool> {
    let mut stderr = std::io::stderr();
    write!(
        stderr,
        "\nDo you want to perform these steps?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    )?;
    stderr.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() == "yes" {
        Ok(true)
    } else {
        printer.status("Apply cancelled; nothing was changed.");
        Ok(false)
    }
}

/// Resolves the state key. A new key is created only for a state that holds no binding yet: a
/// missing key for existing bindings is an error (a new key could never read them), and a key
/// that does not decrypt the existing bindings is refused before anything is sealed with it.
fn resolve_key(
    args: &ApplyArgs,
    state_path: &std::path::Path,
    state: &mut crate::state::SqliteState,
    printer: &Printer,
) -> anyhow::Result<crate::crypto::Key> {
    let bindings = state.bindings()?;
    let resolved = keys::state_key(
        state_path,
        args.state_key_file.as_deref(),
        bindings.is_empty(),
    )?;
    if let Some(path) = &resolved.created {
        printer.status(format!(
            "Created a new state key at {} (0600); keep it with the state: without it the bound credentials cannot be read.",
            path.display()
        ));
    }
    if let Some(binding) = bindings.first() {
        crate::crypto::open(
            &resolved.key,
            &apply::binding_aad(&binding.otp_api_user),
            &binding.sealed_otp,
        )
        .map_err(|_| {
            anyhow::anyhow!(
                "the state key does not decrypt the bindings in {} (a wrong PAMFORM_STATE_KEY or key file?); nothing was changed",
                state_path.display()
            )
        })?;
    }
    Ok(resolved.key)
}

pub fn run(args: &ApplyArgs, printer: &Printer) -> anyhow::Result<Exit> {
    if args.dir.dir.is_file() {
        return run_saved(args, printer);
    }
    let workspace = match Workspace::load(&args.dir.dir) {
        Ok(w) => w,
        Err(error) => {
            return Ok(printer.manifest_error(&error));
        }
    };
    let state_path = workspace.state_path().to_path_buf();
    let _lock = match lock_state(&state_path, args, printer)? {
        Ok(lock) => lock,
        Err(exit) => return Ok(exit),
    };
    let mut target = workspace.open_target()?;
    let mut state = workspace.open_state()?;
    let mut key = None;
    if !state.in_doubt()?.is_empty() {
        key = Some(resolve_key(args, &state_path, &mut state, printer)?);
    }
    let settled = match &key {
        Some(key) => apply::settle_in_doubt(target.as_mut(), &mut state, key),
        None => Ok(Vec::new()),
    };
    match settled {
        Ok(settled) => {
            for s in settled {
                printer.warn(format!(
                    "{} ({}) was interrupted by an earlier apply: {} ({})",
                    s.subject, s.operation, s.message, s.status
                ));
            }
        }
        Err(ApplyError::InDoubt { subject, message }) => {
            printer.error(format!(
                "{subject} is in doubt after an interrupted apply and cannot be settled: {message}"
            ));
            return Ok(Exit::InDoubt);
        }
        Err(e) => return Err(anyhow::anyhow!("{e}")),
    }

    let planned = workspace::plan_with(
        &workspace,
        target.as_mut(),
        Some(&mut state),
        PlanOptions::default(),
    )?;
    let plan = &planned.plan;
    output::text::write_plan(&mut std::io::stdout().lock(), plan, &printer.stdout_styles)?;
    if plan.is_refused() {
        printer.error(format!(
            "the plan is refused ({} reason(s) above); nothing was changed",
            plan.refusals.len()
        ));
        return Ok(Exit::Refused);
    }
    if !plan.has_changes() {
        return Ok(Exit::Success);
    }
    if !args.auto_approve {
        if !may_prompt() {
            printer.error(
                "apply needs approval, and cannot ask for it (stdin is not a terminal, or CI is set); pass --auto-approve",
            );
            return Ok(Exit::Error);
        }
        if !confirm(printer)? {
            return Ok(Exit::Error);
        }
    }

    let key = match key {
        Some(key) => key,
        None => resolve_key(args, &state_path, &mut state, printer)?,
    };
    execute(
        target.as_mut(),
        &mut state,
        &key,
        &planned.recorded,
        plan,
        &format!("apply {}", args.dir.dir.display()),
        printer,
    )
}

/// Takes the state lock, or says who holds it.
fn lock_state(
    state_path: &std::path::Path,
    args: &ApplyArgs,
    printer: &Printer,
) -> anyhow::Result<Result<StateLock, Exit>> {
    match StateLock::acquire(state_path, "apply", args.lock_timeout) {
        Ok(lock) => {
            if let Some(previous) = &lock.previous {
                printer.warn(format!(
                    "the previous lock holder is gone ({previous}); lock taken over"
                ));
            }
            Ok(Ok(lock))
        }
        Err(e @ LockError::Held { .. }) => {
            printer.error(format!(
                "{e}\n  another pamform is writing this state; wait for it, or retry with --lock-timeout"
            ));
            Ok(Err(Exit::Error))
        }
        Err(LockError::Io(e)) => Err(e),
    }
}

/// Runs the steps of a plan, records the audit entry and prints the summary.
fn execute(
    target: &mut dyn crate::target::Target,
    state: &mut crate::state::SqliteState,
    key: &crate::crypto::Key,
    recorded: &crate::model::Recorded,
    plan: &crate::plan::Plan,
    command: &str,
    printer: &Printer,
) -> anyhow::Result<Exit> {
    let run_id = uuid::Uuid::new_v4().to_string();
    let mut progress = StepPrinter::new(printer);
    let result = apply::run(
        Apply {
            target,
            state,
            key,
            recorded,
            progress: &mut progress,
        },
        plan,
        &run_id,
    );
    let (who, host) = who_and_host();
    let summary = plan.summary;
    let outcome = match &result {
        Ok(report) => format!(
            "applied {} step(s) with {} target call(s): {} imported, {} added, {} changed, {} destroyed",
            report.steps,
            report.target_calls,
            summary.import,
            summary.add,
            summary.change,
            summary.destroy
        ),
        Err(e) => format!("failed: {e}"),
    };
    state.record_audit(&AuditEntry {
        at: now_rfc3339(),
        actor: who,
        host,
        command: command.to_string(),
        run_id: Some(run_id.clone()),
        summary: outcome,
    })?;
    match result {
        Ok(_) => {
            printer.status(format!(
                "\nApply complete: {} imported, {} added, {} changed, {} destroyed.",
                summary.import, summary.add, summary.change, summary.destroy
            ));
            Ok(Exit::Success)
        }
        Err(ApplyError::InDoubt { subject, message }) => {
            printer.error(format!("{subject} is in doubt: {message}"));
            Ok(Exit::InDoubt)
        }
        Err(e) => {
            printer.error(format!(
                "{e}\n  the steps before it are applied and recorded; fix the cause and run apply again"
            ));
            Ok(Exit::Error)
        }
    }
}

/// `apply FILE`: applies exactly a saved plan, or refuses when anything it was made from moved.
fn run_saved(args: &ApplyArgs, printer: &Printer) -> anyhow::Result<Exit> {
    let file = &args.dir.dir;
    let saved = SavedPlan::read(file)?;
    let workspace = match Workspace::load(&saved.manifest_dir) {
        Ok(w) => w,
        Err(error) => return Ok(printer.manifest_error(&error)),
    };
    let state_path = workspace.state_path().to_path_buf();
    let _lock = match lock_state(&state_path, args, printer)? {
        Ok(lock) => lock,
        Err(exit) => return Ok(exit),
    };
    let stale = |printer: &Printer, why: &dyn std::fmt::Display| {
        printer.error(format!(
            "the saved plan {} is stale: {why}; nothing was changed. Run `pamform plan --out` again and review it",
            file.display()
        ));
        Ok(Exit::Error)
    };
    let mut existing = workspace.open_state_if_exists()?;
    let identity = match existing.as_mut() {
        Some(state) => Some(state.identity()?),
        None => None,
    };
    if let Err(why) = saved.check_local(&workspace.manifest.digest, identity.as_ref()) {
        return stale(printer, &why);
    }
    if let Some(state) = existing.as_mut()
        && !state.in_doubt()?.is_empty()
    {
        return stale(
            printer,
            &"an interrupted apply left steps in doubt (run `pamform apply` without a plan file to settle them)",
        );
    }
    if saved.plan.is_refused() {
        printer.error("the saved plan is refused (see `pamform show`); nothing was changed");
        return Ok(Exit::Refused);
    }
    let mut target = workspace.open_target()?;
    let recorded = match existing.as_mut() {
        Some(state) => state.load()?,
        None => Default::default(),
    };
    let scope = crate::plan::scope(&workspace.manifest.desired, &recorded);
    let observed = target
        .observe(&scope)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", target.describe()))?;
    if let Err(why) = saved.check_target(&observed) {
        return stale(printer, &why);
    }
    printer.status(format!(
        "Applying saved plan {} (sha256:{}).",
        file.display(),
        saved.hash()
    ));
    if !saved.plan.has_changes() {
        printer.status("No changes.");
        return Ok(Exit::Success);
    }
    drop(existing);
    let mut state = workspace.open_state()?;
    let key = resolve_key(args, &state_path, &mut state, printer)?;
    execute(
        target.as_mut(),
        &mut state,
        &key,
        &recorded,
        &saved.plan,
        &format!("apply {}", file.display()),
        printer,
    )
}
