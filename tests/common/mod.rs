//! Shared helpers of the end-to-end tests: a sandbox holding a copy of an example manifest, a
//! runner for the real `pamform` binary, and redaction of the values the target assigns (IDs,
//! GUIDs, times) so that whole-output snapshots are stable.

#![allow(dead_code)]

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use regex::Regex;

/// A temporary copy of an example manifest directory.
pub struct Sandbox {
    _temp: tempfile::TempDir,
    pub root: PathBuf,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == ".pamform" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

impl Sandbox {
    /// A copy of `examples/<name>`.
    pub fn example(name: &str) -> Sandbox {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join(name);
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples")
                .join(name),
            &root,
        );
        Sandbox { _temp: temp, root }
    }

    /// Runs pamform in the manifest directory.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[])
    }

    /// Runs pamform with extra environment variables.
    pub fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pamform"));
        command
            .args(args)
            .current_dir(&self.root)
            .env_remove("PAMFORM_LOG")
            .env_remove("PAMFORM_STATE_KEY")
            .env_remove("PAMFORM_FAILPOINT")
            .env_remove("NO_COLOR")
            .env("CI", "true")
            .stdin(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.output().expect("run pamform");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub fn write(&self, file: &str, contents: &str) {
        std::fs::write(self.root.join(file), contents).unwrap();
    }

    pub fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.root.join(file)).unwrap()
    }

    pub fn remove(&self, file: &str) {
        std::fs::remove_file(self.root.join(file)).unwrap();
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.root.join(file)
    }

    /// Sets the members of a group of CORP-AD in the embedded target as `alice`, as a person would
    /// in the product (TEAM-MEMBERS out of band), and returns the run.
    pub fn set_members(&self, group: &str, members: &str) -> Run {
        self.run(&[
            "target",
            "team-members",
            "--as",
            "alice",
            "--team",
            "CORP-AD",
            "--group",
            group,
            "--members",
            members,
        ])
    }

    /// Requests a check-out of `account` as `requester` and has carol approve it, through the
    /// embedded target; returns the request ID.
    pub fn request_and_approve(&self, requester: &str, account: &str) -> String {
        let request = self
            .run(&["target", "request-checkout", "--as", requester, account])
            .expect(0);
        let request_id = request
            .stdout
            .split_whitespace()
            .nth(2)
            .expect("a request ID")
            .trim_end_matches(':')
            .to_string();
        self.run(&["target", "approve", "--as", "carol", &request_id])
            .expect(0);
        request_id
    }

    /// Replaces `from` with `to` in a manifest file; panics if `from` is absent.
    pub fn edit(&self, file: &str, from: &str, to: &str) {
        let text = self.read(file);
        assert!(text.contains(from), "{file} does not contain {from:?}");
        self.write(file, &text.replacen(from, to, 1));
    }
}

/// The result of one run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with the whole output unless the exit code is `code`.
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(self.code, code, "unexpected exit code\n{self}");
        self
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code,
            redact(&self.stdout),
            redact(&self.stderr)
        )
    }
}

/// Replaces IDs, GUIDs and times that the target or the clock assign.
pub fn redact(text: &str) -> String {
    let rules = [
        (r"\b(BATCH|REQ|CHECKOUT|SESSION)-[0-9A-F]{32}\b", "$1-[ID]"),
        (
            r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}",
            "[GUID]",
        ),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[uuid]",
        ),
        (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", "[TIME]"),
        (r"pid \d+", "pid [PID]"),
        (r"sha256:[0-9a-f]{64}", "sha256:[HASH]"),
    ];
    let mut text = text.to_string();
    for (pattern, replacement) in rules {
        text = Regex::new(pattern)
            .unwrap()
            .replace_all(&text, replacement)
            .into_owned();
    }
    text
}
