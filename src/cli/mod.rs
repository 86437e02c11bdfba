//! The command line: argument types (help text from doc comments), one file per verb, exit codes
//! from one enum, and the only place that prints.
//!
//! Invariants: data goes to stdout, status, progress and errors to stderr; escape codes only when
//! colour is on (`--color`, `NO_COLOR`, terminal detection); no prompt ever waits on a stdin that
//! is not a terminal or when `CI` is set.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::manifest::ManifestError;
use crate::output::Styles;

mod apply;
mod bench;
mod export;
mod pamutil;
mod plan;
mod schema;
mod show;
mod state;
mod target;
mod unlock;
mod validate;

/// Exit codes. Documented in `--help` and the README.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Success (and, with `--detailed-exitcode`, no changes).
    Success = 0,
    /// An error: bad manifest, IO, a target failure.
    Error = 1,
    /// With `--detailed-exitcode`: success, and the plan has changes.
    Changes = 2,
    /// Refused by a safety guard: an authorization or last-trustee refusal, a check-out guard.
    Refused = 3,
    /// A step left in doubt by an interrupted apply could not be settled; see the message.
    InDoubt = 4,
}

const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success (with --detailed-exitcode: no changes)
  1  error: invalid manifest, IO failure, target failure
  2  with --detailed-exitcode: success, and the plan has changes
  3  refused by a safety guard (authorization, last trustee, check-out guard)
  4  an interrupted step could not be settled from the target; see the message

Environment:
  PAMFORM_LOG        log filter, e.g. info or pamform=debug (logs go to stderr)
  PAMFORM_STATE_KEY  the state key, 64 hex characters (default: a key file beside the state)
  PAMFORM_DIR        the manifest directory of `pamform pamutil` (like -C)
  NO_COLOR           disable colour
  CI                 never prompt: a needed prompt is an error that names --auto-approve";

/// Declarative plan/apply provisioning for Bravura Privilege teams, OTP API users and check-outs.
#[derive(Debug, Parser)]
#[command(name = "pamform", version, after_help = EXIT_CODES_HELP, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// When to use colour.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and validate a manifest directory; report every error at once.
    #[command(after_help = EXIT_CODES_HELP)]
    Validate(validate::ValidateArgs),
    /// Show what apply would change, and refuse what the target would refuse.
    #[command(after_help = EXIT_CODES_HELP)]
    Plan(plan::PlanArgs),
    /// Plan, confirm, and make the changes in order through the target; or apply a saved plan
    /// file (`plan --out`) exactly.
    #[command(after_help = EXIT_CODES_HELP)]
    Apply(apply::ApplyArgs),
    /// Render a saved plan file.
    Show(show::ShowArgs),
    /// Write the planned requests as the product's request batch CSVs, with the manual steps.
    Export(export::ExportArgs),
    /// Look credentials up against the state, rotating one-time passwords safely.
    Pamutil(pamutil::PamutilArgs),
    /// Clear the record of a state lock whose holder is gone.
    ForceUnlock(unlock::ForceUnlockArgs),
    /// Inspect the state file.
    #[command(subcommand)]
    State(state::StateCommand),
    /// Act on the embedded target out of band, as a named profile (as a person would in the
    /// product's web UI).
    Target(target::TargetArgs),
    /// Print the JSON Schema of manifest files.
    Schema,
    /// The scale benchmark's generator and floor (see bench/run).
    #[command(hide = true)]
    Bench(bench::BenchArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Manifest rules that are safety guards: a run that breaks only these exits 3, not 1.
const GUARD_RULES: &[&str] = &["no-team-trustee"];

/// Where output goes and how it looks.
pub struct Printer {
    pub stdout_styles: Styles,
    pub stderr_styles: Styles,
}

impl Printer {
    fn new(choice: ColorChoice) -> Printer {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let colored = |terminal: bool| match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => terminal && !no_color,
        };
        Printer {
            stdout_styles: Styles::new(colored(std::io::stdout().is_terminal())),
            stderr_styles: Styles::new(colored(std::io::stderr().is_terminal())),
        }
    }

    /// A status line on stderr.
    pub fn status(&self, message: impl std::fmt::Display) {
        let _ = writeln!(std::io::stderr(), "{message}");
    }

    /// A warning on stderr.
    pub fn warn(&self, message: impl std::fmt::Display) {
        let s = self.stderr_styles.warning;
        let _ = writeln!(
            std::io::stderr(),
            "{}warning{}: {message}",
            s.render(),
            s.render_reset()
        );
    }

    /// An error on stderr.
    pub fn error(&self, message: impl std::fmt::Display) {
        let s = self.stderr_styles.error;
        let _ = writeln!(
            std::io::stderr(),
            "{}error{}: {message}",
            s.render(),
            s.render_reset()
        );
    }

    /// Prints every diagnostic of an invalid manifest and returns the exit code: 3 when every
    /// error is a safety guard (a team left without a trustee), 1 otherwise.
    pub fn manifest_error(&self, error: &ManifestError) -> Exit {
        let colored = self.stderr_styles.error != anstyle::Style::new();
        let rendered = error.render(colored);
        let _ = write!(std::io::stderr(), "{rendered}");
        if !rendered.ends_with('\n') {
            let _ = writeln!(std::io::stderr());
        }
        let count = error.diagnostics.len();
        let guard = count > 0
            && error
                .diagnostics
                .iter()
                .all(|d| GUARD_RULES.contains(&d.rule));
        if guard {
            self.error(format!(
                "refused: the manifest would leave a team without a trustee ({count} error{}); nothing was changed",
                if count == 1 { "" } else { "s" }
            ));
            Exit::Refused
        } else {
            self.error(format!(
                "the manifest is invalid ({count} error{}); nothing was changed",
                if count == 1 { "" } else { "s" }
            ));
            Exit::Error
        }
    }
}

/// Warns when an interrupted apply left steps in doubt; `hint` says what the command does about it.
pub fn warn_in_doubt(
    printer: &Printer,
    state: Option<&mut crate::state::SqliteState>,
    hint: &str,
) -> anyhow::Result<()> {
    use crate::state::StateStore;
    let Some(state) = state else { return Ok(()) };
    let doubt = state.in_doubt()?;
    if !doubt.is_empty() {
        printer.warn(format!(
            "{} step(s) of an interrupted apply are in doubt ({}); {hint}",
            doubt.len(),
            doubt
                .iter()
                .map(|d| d.subject.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(())
}

/// The manifest directory argument shared by most commands.
#[derive(Debug, Args, Clone)]
pub struct DirArg {
    /// The manifest directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let Ok(filter) = std::env::var("PAMFORM_LOG") else {
        return;
    };
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(
            std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .with_target(false)
        .try_init();
}

/// Whether a prompt may be shown: stdin is a terminal and `CI` is not set.
pub fn may_prompt() -> bool {
    std::io::stdin().is_terminal() && std::env::var_os("CI").is_none_or(|v| v.is_empty())
}

/// Runs the command line and returns the process exit code.
pub fn main() -> u8 {
    init_logging();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
                _ => Exit::Error as u8,
            };
        }
    };
    let printer = Printer::new(cli.global.color);
    let result = match cli.command {
        Command::Validate(args) => validate::run(&args, &printer),
        Command::Plan(args) => plan::run(&args, &printer),
        Command::Apply(args) => apply::run(&args, &printer),
        Command::Show(args) => show::run(&args, &printer),
        Command::Export(args) => export::run(&args, &printer),
        Command::State(command) => state::run(&command, &printer),
        Command::ForceUnlock(args) => unlock::run(&args, &printer),
        Command::Pamutil(args) => pamutil::run(&args, &printer),
        Command::Target(args) => target::run(&args, &printer),
        Command::Bench(args) => bench::run(&args, &printer),
        Command::Schema => schema::run_schema(),
        Command::Completions { shell } => schema::run_completions(shell),
    };
    match result {
        Ok(exit) => exit as u8,
        Err(error) => {
            printer.error(format!("{error:#}"));
            Exit::Error as u8
        }
    }
}
