//! End to end: the pull-request and CI workflow — saved plans and their staleness checks,
//! Markdown plans, exit codes, and concurrent applies on one state.

mod common;

use common::Sandbox;
use insta::assert_snapshot;

fn target_requests(sandbox: &Sandbox) -> usize {
    let log = sandbox.run(&["target", "log", "--json"]).expect(0);
    let entries: serde_json::Value = serde_json::from_str(&log.stdout).unwrap();
    entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] != "SEED")
        .count()
}

#[test]
fn a_saved_plan_applies_exactly_and_once() {
    let sandbox = Sandbox::example("corporate-ad");
    let plan = sandbox.run(&["plan", "--out", "reviewed.plan"]).expect(0);
    assert!(
        plan.stderr.contains("Saved the plan to reviewed.plan"),
        "{plan}"
    );
    assert_snapshot!(
        "show_saved_plan",
        sandbox
            .run(&["show", "reviewed.plan"])
            .expect(0)
            .to_string()
    );
    let applied = sandbox.run(&["apply", "reviewed.plan"]).expect(0);
    assert!(
        applied
            .stderr
            .contains("Apply complete: 1 imported, 9 added"),
        "{applied}"
    );
    sandbox.run(&["plan", "--detailed-exitcode"]).expect(0);
    // Applying it again is refused: the state moved.
    let again = sandbox.run(&["apply", "reviewed.plan"]).expect(1);
    assert!(again.stderr.contains("the state moved"), "{again}");
}

#[test]
fn a_stale_saved_plan_is_refused_for_each_cause_without_touching_the_target() {
    // The state moved.
    let sandbox = Sandbox::example("corporate-ad");
    sandbox.run(&["apply", "--auto-approve"]).expect(0);
    sandbox.edit(
        "teams.toml",
        "members = [\"carol\"]",
        "members = [\"carol\", \"dave\"]",
    );
    sandbox.run(&["plan", "--out", "p.plan"]).expect(0);
    let mut other = sandbox.read("teams.toml");
    other = other.replace("members = [\"carol\", \"dave\"]", "members = [\"carol\"]");
    sandbox.write("teams.toml", &other);
    sandbox.run(&["apply", "--auto-approve"]).expect(0);
    let before = target_requests(&sandbox);
    let run = sandbox.run(&["apply", "p.plan"]).expect(1);
    assert!(run.stderr.contains("the manifest files changed"), "{run}");
    assert_eq!(target_requests(&sandbox), before);

    // The target changed (drift made by a person in the product).
    let sandbox = Sandbox::example("corporate-ad");
    sandbox.run(&["apply", "--auto-approve"]).expect(0);
    sandbox.edit(
        "teams.toml",
        "members = [\"carol\"]",
        "members = [\"carol\", \"dave\"]",
    );
    sandbox.run(&["plan", "--out", "p.plan"]).expect(0);
    sandbox.set_members("OTP API Trustee", "bob,dave").expect(0);
    let before = target_requests(&sandbox);
    let run = sandbox.run(&["apply", "p.plan"]).expect(1);
    assert_snapshot!("stale_target", run.to_string());
    assert_eq!(target_requests(&sandbox), before);

    // The state moved (another apply ran in between).
    let sandbox = Sandbox::example("corporate-ad");
    sandbox.run(&["plan", "--out", "p.plan"]).expect(0);
    sandbox.run(&["apply", "--auto-approve"]).expect(0);
    let before = target_requests(&sandbox);
    let run = sandbox.run(&["apply", "p.plan"]).expect(1);
    assert!(run.stderr.contains("the state moved"), "{run}");
    assert_eq!(target_requests(&sandbox), before);

    // The manifest changed.
    let sandbox = Sandbox::example("corporate-ad");
    sandbox.run(&["plan", "--out", "p.plan"]).expect(0);
    sandbox.edit(
        "otp.toml",
        "Billing batch job on app01",
        "Billing batch job on app02",
    );
    let run = sandbox.run(&["apply", "p.plan"]).expect(1);
    assert!(run.stderr.contains("the manifest files changed"), "{run}");
    assert_eq!(target_requests(&sandbox), 0);
}

#[test]
fn plan_files_of_other_formats_are_refused_clearly() {
    let sandbox = Sandbox::example("corporate-ad");
    sandbox.run(&["plan", "--out", "p.plan"]).expect(0);
    let text = sandbox.read("p.plan");
    sandbox.write(
        "old.plan",
        &text.replacen("\"format_version\":1", "\"format_version\":0", 1),
    );
    let old = sandbox.run(&["apply", "old.plan"]).expect(1);
    assert!(old.stderr.contains("plan format 0"), "{old}");
    sandbox.write("junk.plan", "this is not a plan\n");
    let junk = sandbox.run(&["show", "junk.plan"]).expect(1);
    assert!(junk.stderr.contains("is not a pamform plan file"), "{junk}");
    sandbox.write("cut.plan", &text[..text.len() / 2]);
    let cut = sandbox.run(&["apply", "cut.plan"]).expect(1);
    assert!(cut.stderr.contains("not a pamform plan file"), "{cut}");
    assert_eq!(target_requests(&sandbox), 0);
}

#[test]
fn markdown_plan_for_a_pull_request() {
    let sandbox = Sandbox::example("corporate-ad");
    let run = sandbox.run(&["plan", "--format", "markdown"]).expect(0);
    assert!(run.stdout.starts_with("<!-- pamform:plan -->"), "{run}");
    assert_snapshot!(common::redact(&run.stdout));
}

#[test]
fn markdown_of_a_huge_plan_is_truncated_under_the_comment_limit() {
    let sandbox = Sandbox::example("corporate-ad");
    let members: Vec<String> = (0..4000).map(|i| format!("\"u{i:05}\"")).collect();
    // Members that do not exist are refused, but the plan is still rendered in full.
    sandbox.edit(
        "teams.toml",
        "members = [\"carol\"]",
        &format!("members = [\"carol\", {}]", members.join(", ")),
    );
    let run = sandbox.run(&["plan", "--format", "markdown"]).expect(3);
    assert!(
        run.stdout.chars().count() <= 65_536,
        "{} chars",
        run.stdout.len()
    );
    assert!(
        run.stdout.contains("Plan: 1 to import, 4009 to add"),
        "counts line kept"
    );
    assert!(run.stdout.contains("not shown"), "truncation is said");
    assert!(run.stdout.contains("<!-- pamform:plan -->"));
}

#[test]
fn exit_codes_of_plan() {
    let sandbox = Sandbox::example("corporate-ad");
    sandbox.run(&["plan"]).expect(0);
    sandbox.run(&["plan", "--detailed-exitcode"]).expect(2);
    sandbox.run(&["apply", "--auto-approve"]).expect(0);
    sandbox.run(&["plan", "--detailed-exitcode"]).expect(0);
    sandbox.edit(
        "otp.toml",
        "requested_by = \"bob\"",
        "requested_by = \"dave\"",
    );
    sandbox.edit(
        "teams.toml",
        "requested_by = \"alice\"",
        "requested_by = \"dave\"",
    );
    sandbox.edit(
        "teams.toml",
        "members = [\"carol\"]",
        "members = [\"carol\", \"dave\"]",
    );
    sandbox.run(&["plan", "--detailed-exitcode"]).expect(3);
    sandbox.write("broken.toml", "[[team]\n");
    sandbox.run(&["plan", "--detailed-exitcode"]).expect(1);
}

#[test]
fn concurrent_applies_on_one_state_let_exactly_one_proceed() {
    for processes in [2usize, 4, 8] {
        let sandbox = Sandbox::example("corporate-ad");
        let root = sandbox.root.clone();
        let results: Vec<std::process::Output> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..processes)
                .map(|_| {
                    let root = root.clone();
                    scope.spawn(move || {
                        std::process::Command::new(env!("CARGO_BIN_EXE_pamform"))
                            .args(["apply", "--auto-approve"])
                            .current_dir(&root)
                            .env("CI", "true")
                            .output()
                            .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut made_changes = 0;
        for output in &results {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(!stderr.contains("panicked"), "{stderr}");
            match output.status.code() {
                Some(0) if stderr.contains("Apply complete: 1 imported, 9 added") => {
                    made_changes += 1
                }
                Some(0) => assert!(stdout.contains("No changes."), "{stdout}\n{stderr}"),
                Some(1) => assert!(
                    stderr.contains("the state is locked") && stderr.contains("held by ID"),
                    "{stderr}"
                ),
                other => panic!("unexpected exit {other:?}: {stderr}"),
            }
        }
        assert_eq!(made_changes, 1, "{processes} processes");
        let log = sandbox.run(&["target", "log", "--json"]).expect(0);
        assert_eq!(log.stdout.matches("\"kind\": \"CHECKOUT\"").count(), 1);
        sandbox.run(&["plan", "--detailed-exitcode"]).expect(0);
    }
}

#[test]
fn a_held_lock_names_its_holder_and_times_out() {
    let sandbox = Sandbox::example("corporate-ad");
    std::fs::create_dir_all(sandbox.path(".pamform")).unwrap();
    let lock = pamform::state::lock::StateLock::acquire(
        &sandbox.path(".pamform/state.db"),
        "apply",
        std::time::Duration::ZERO,
    )
    .unwrap();
    let run = sandbox
        .run(&["apply", "--auto-approve", "--lock-timeout", "200ms"])
        .expect(1);
    assert!(run.stderr.contains(&lock.info.id), "{run}");
    drop(lock);
    sandbox.run(&["apply", "--auto-approve"]).expect(0);
}

#[test]
fn completions_are_printed() {
    let sandbox = Sandbox::example("corporate-ad");
    let run = sandbox.run(&["completions", "bash"]).expect(0);
    assert!(run.stdout.contains("pamform"));
}
