//! End to end: `pamform export --format bravura-batch` on a copy of the bundled example. Every
//! file written is snapshotted (GUIDs the target assigns redacted), and the refusal and
//! non-empty-directory guards are checked.

mod common;

use common::{Sandbox, redact};
use insta::assert_snapshot;

/// Reads an exported CSV, checks that every line ends with CRLF, and returns it with LF ends
/// (insta compares text line by line).
fn read_csv(sandbox: &Sandbox, file: &str) -> String {
    let text = sandbox.read(file);
    assert!(text.ends_with("\r\n"), "{file} does not end with CRLF");
    assert_eq!(
        text.matches('\n').count(),
        text.matches("\r\n").count(),
        "{file} has a bare LF"
    );
    redact(&text.replace("\r\n", "\n"))
}

#[test]
fn export_the_example() {
    let sandbox = Sandbox::example("corporate-ad");
    let run = sandbox
        .run(&["export", "--format", "bravura-batch", ".", "batches"])
        .expect(0);
    assert_snapshot!("export_run", run.to_string());
    let mut files: Vec<String> = std::fs::read_dir(sandbox.path("batches"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "1-TEAM-UPDATE.csv",
            "2-CREATE_PAMUTIL_API_USER.csv",
            "README.txt"
        ]
    );
    assert_snapshot!(
        "team_update_csv",
        read_csv(&sandbox, "batches/1-TEAM-UPDATE.csv")
    );
    assert_snapshot!(
        "create_pamutil_api_user_csv",
        read_csv(&sandbox, "batches/2-CREATE_PAMUTIL_API_USER.csv")
    );
    assert_snapshot!("readme", redact(&sandbox.read("batches/README.txt")));
    // Export reads only: no state file is created, and the plan is unchanged.
    assert!(!sandbox.path(".pamform/state.db").exists());
    let plan = sandbox.run(&["plan", "--detailed-exitcode"]).expect(2);
    assert!(
        plan.stdout
            .contains("Plan: 1 to import, 9 to add, 0 to change, 0 to destroy.")
    );
}

#[test]
fn the_directory_defaults_to_the_current_one() {
    let sandbox = Sandbox::example("corporate-ad");
    let run = sandbox
        .run(&["export", "--format", "bravura-batch", "out"])
        .expect(0);
    assert_eq!(
        run.stdout,
        "out/1-TEAM-UPDATE.csv\nout/2-CREATE_PAMUTIL_API_USER.csv\nout/README.txt\n"
    );
}

#[test]
fn a_refused_plan_is_not_exported() {
    let sandbox = Sandbox::example("corporate-ad");
    sandbox.edit(
        "otp.toml",
        "requested_by = \"bob\"\nallowed",
        "requested_by = \"dave\"\nallowed",
    );
    let run = sandbox.run(&["export", "--format", "bravura-batch", ".", "batches"]);
    assert_eq!(run.code, 3, "{run}");
    assert!(run.stdout.is_empty(), "{run}");
    assert!(run.stderr.contains("nothing was exported"), "{run}");
    assert!(!sandbox.path("batches").exists());
}

#[test]
fn a_non_empty_directory_is_refused() {
    let sandbox = Sandbox::example("corporate-ad");
    std::fs::create_dir(sandbox.path("batches")).unwrap();
    sandbox.write("batches/1-TEAM-UPDATE.csv", "old\r\n");
    let run = sandbox
        .run(&["export", "--format", "bravura-batch", ".", "batches"])
        .expect(1);
    assert!(run.stderr.contains("batches is not empty"), "{run}");
    assert_eq!(sandbox.read("batches/1-TEAM-UPDATE.csv"), "old\r\n");
}

#[test]
fn nothing_to_export_after_apply() {
    let sandbox = Sandbox::example("corporate-ad");
    sandbox.run(&["apply", "--auto-approve"]).expect(0);
    let run = sandbox
        .run(&["export", "--format", "bravura-batch", ".", "batches"])
        .expect(0);
    assert_eq!(run.stdout, "batches/README.txt\n");
    assert!(
        sandbox
            .read("batches/README.txt")
            .contains("No changes: nothing to submit.")
    );
}
