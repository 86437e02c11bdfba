//! `pamform schema` and `pamform completions SHELL`.

use clap::CommandFactory;

use super::{Cli, Exit};

pub fn run_schema() -> anyhow::Result<Exit> {
    let schema = crate::manifest::manifest_schema();
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(Exit::Success)
}

pub fn run_completions(shell: clap_complete::Shell) -> anyhow::Result<Exit> {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "pamform", &mut std::io::stdout());
    Ok(Exit::Success)
}
