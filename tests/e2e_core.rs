//! End to end: the real binary against the embedded target, on a copy of the bundled example.
//! Each test snapshots the whole result (exit code, stdout, stderr).

mod common;

use common::Sandbox;
use insta::assert_snapshot;

fn applied() -> Sandbox {
    let sandbox = Sandbox::example("corporate-ad");
    sandbox.run(&["apply", "--auto-approve"]).expect(0);
    sandbox
}

#[test]
fn plan_the_example() {
    let sandbox = Sandbox::example("corporate-ad");
    assert_snapshot!(sandbox.run(&["plan"]).expect(0).to_string());
}

#[test]
fn apply_the_example_then_nothing_changes() {
    let sandbox = Sandbox::example("corporate-ad");
    assert_snapshot!(
        "first_apply",
        sandbox
            .run(&["apply", "--auto-approve"])
            .expect(0)
            .to_string()
    );
    assert_snapshot!(
        "plan_after_apply",
        sandbox.run(&["plan"]).expect(0).to_string()
    );
    assert_snapshot!(
        "second_apply",
        sandbox
            .run(&["apply", "--auto-approve"])
            .expect(0)
            .to_string()
    );
    sandbox.run(&["plan", "--detailed-exitcode"]).expect(0);
    assert_snapshot!(
        "state_list",
        sandbox.run(&["state", "list"]).expect(0).to_string()
    );
    let log = sandbox.run(&["target", "log", "--json"]).expect(0);
    let checkouts = log.stdout.matches("\"CHECKOUT\"").count();
    assert_eq!(
        checkouts, 1,
        "exactly one check-out in the target's log:\n{log}"
    );
}

#[test]
fn detailed_exitcode_reports_changes() {
    let sandbox = Sandbox::example("corporate-ad");
    let run = sandbox.run(&["plan", "--detailed-exitcode"]).expect(2);
    assert!(
        run.stdout
            .contains("Plan: 1 to import, 9 to add, 0 to change, 0 to destroy.")
    );
}

#[test]
fn drift_shows_in_plan_and_apply_repairs_it() {
    let sandbox = applied();
    sandbox.set_members("Approvers", "dave").expect(0);
    assert_snapshot!("drift_plan", sandbox.run(&["plan"]).expect(0).to_string());
    assert_snapshot!(
        "drift_apply",
        sandbox
            .run(&["apply", "--auto-approve"])
            .expect(0)
            .to_string()
    );
    assert_snapshot!(
        "drift_repaired",
        sandbox.run(&["plan"]).expect(0).to_string()
    );
}

#[test]
fn unauthorized_submitter_is_refused_at_plan_time() {
    let sandbox = Sandbox::example("corporate-ad");
    // bob is not a trustee of CORP-AD, so he may not submit its TEAM-UPDATE.
    sandbox.edit(
        "teams.toml",
        "requested_by = \"alice\"",
        "requested_by = \"bob\"",
    );
    assert_snapshot!(sandbox.run(&["plan"]).expect(3).to_string());
    let apply = sandbox.run(&["apply", "--auto-approve"]).expect(3);
    assert!(apply.stderr.contains("nothing was changed"), "{apply}");
    let log = sandbox.run(&["target", "log", "--json"]).expect(0);
    assert!(
        !log.stdout.contains("TEAM-UPDATE"),
        "no request reached the target:\n{log}"
    );
}

#[test]
fn otp_user_requested_by_a_non_otp_trustee_is_refused() {
    let sandbox = Sandbox::example("corporate-ad");
    // dave is a member of no group: he cannot see CREATE_PAMUTIL_API_USER.
    sandbox.edit(
        "otp.toml",
        "requested_by = \"bob\"",
        "requested_by = \"dave\"",
    );
    let run = sandbox.run(&["plan"]).expect(3);
    assert_snapshot!(run.to_string());
}

#[test]
fn removing_the_last_trustee_is_refused() {
    let sandbox = Sandbox::example("corporate-ad");
    sandbox.edit(
        "teams.toml",
        "privileges = [\"Team_Trustees\", \"Requesters\"]\n  members = [\"alice\"]",
        "privileges = [\"Team_Trustees\", \"Requesters\"]\n  members = []",
    );
    assert_snapshot!(
        "last_trustee_plan",
        sandbox.run(&["plan"]).expect(3).to_string()
    );
}

#[test]
fn the_target_refuses_removing_the_last_trustee_out_of_band() {
    let sandbox = applied();
    let run = sandbox.set_members("Trustees", "").expect(3);
    assert_snapshot!(run.to_string());
}

#[test]
fn removed_group_is_deleted_by_team_update() {
    let sandbox = applied();
    sandbox.edit(
        "teams.toml",
        "  [[team.group]]\n  name = \"Approvers\"\n  privileges = [\"Approvers\"]\n  members = [\"carol\"]\n",
        "",
    );
    assert_snapshot!(sandbox.run(&["plan"]).expect(0).to_string());
    sandbox.run(&["apply", "--auto-approve"]).expect(0);
    sandbox.run(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn apply_without_approval_in_ci_names_the_flag() {
    let sandbox = Sandbox::example("corporate-ad");
    assert_snapshot!(sandbox.run(&["apply"]).expect(1).to_string());
}

#[test]
fn json_plan_has_the_documented_fields() {
    let sandbox = Sandbox::example("corporate-ad");
    let run = sandbox.run(&["plan", "--json"]).expect(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["format_version"], "1.0");
    assert_eq!(doc["summary"]["add"], 9);
    assert_eq!(doc["summary"]["change"], 0);
    assert_eq!(doc["summary"]["destroy"], 0);
    let changes = doc["changes"].as_array().unwrap();
    let find = |address: &str| {
        changes
            .iter()
            .find(|c| c["address"] == address)
            .unwrap_or_else(|| panic!("{address} missing"))
    };
    let team = find("team.CORP-AD");
    assert_eq!(team["action"], "import");
    let member = find("member.CORP-AD/OTP API Trustee/bob");
    assert_eq!(member["action"], "create");
    assert_eq!(member["request"], "TEAM-UPDATE");
    assert_eq!(member["requested_by"], "alice");
    assert!(member["before"].is_null());
    let alice = find("member.CORP-AD/Trustees/alice");
    assert_eq!(alice["action"], "no-op");
    let user = find("otp_api_user.billing-batch");
    assert_eq!(user["request"], "CREATE_PAMUTIL_API_USER");
    assert_eq!(user["after"]["accounts"][0], "CORP-DC/svc_billing");
    assert!(doc["drift"].as_array().unwrap().is_empty());
    assert_snapshot!(common::redact(&run.stdout));
}

#[test]
fn state_show_prints_one_address() {
    let sandbox = applied();
    assert_snapshot!(
        sandbox
            .run(&["state", "show", "otp_api_user.billing-batch"])
            .expect(0)
            .to_string()
    );
    sandbox.run(&["state", "show", "team.NOPE"]).expect(1);
    sandbox.run(&["state", "show", "nonsense"]).expect(1);
}

#[test]
fn a_state_from_a_newer_pamform_is_refused() {
    let sandbox = applied();
    let conn = rusqlite::Connection::open(sandbox.path(".pamform/state.db")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let run = sandbox.run(&["plan"]).expect(1);
    assert!(run.stderr.contains("newer pamform"), "{run}");
}

/// The JSON plan and `schemas/plan.schema.json` agree: every key the document holds is declared,
/// and every required key is present (a shallow check that fails when either drifts).
#[test]
fn json_plan_matches_its_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/plan.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let sandbox = Sandbox::example("corporate-ad");
    sandbox.run(&["apply", "--auto-approve"]).expect(0);
    sandbox.set_members("Approvers", "dave").expect(0);
    sandbox.edit(
        "otp.toml",
        "approved_by = [\"carol\"]",
        "approved_by = [\"dave\"]",
    );
    let run = sandbox.run(&["plan", "--json"]).expect(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let check = |value: &serde_json::Value, definition: &serde_json::Value, what: &str| {
        let properties = definition["properties"].as_object().unwrap();
        for key in value.as_object().unwrap().keys() {
            assert!(
                properties.contains_key(key),
                "{what}: {key} is not in the schema"
            );
        }
        for key in definition["required"].as_array().into_iter().flatten() {
            assert!(
                value.get(key.as_str().unwrap()).is_some(),
                "{what}: {key} missing"
            );
        }
    };
    check(&doc, &schema, "document");
    let definitions = &schema["definitions"];
    for change in doc["changes"].as_array().unwrap() {
        check(change, &definitions["change"], "change");
        for side in ["before", "after"] {
            if change[side].is_object() {
                check(&change[side], &definitions["attributes"], side);
            }
        }
    }
    assert!(!doc["drift"].as_array().unwrap().is_empty());
    for drift in doc["drift"].as_array().unwrap() {
        check(drift, &definitions["drift"], "drift");
    }
    assert!(!doc["notes"].as_array().unwrap().is_empty());
    for step in doc["steps"].as_array().unwrap() {
        check(step, &schema["properties"]["steps"]["items"], "step");
    }
    check(&doc["summary"], &schema["properties"]["summary"], "summary");
}

/// T11: a corrupt state file gives a classified error, no target call and no panic.
#[test]
fn a_corrupt_state_is_refused_without_touching_the_target() {
    let bytes = std::fs::read(applied().path(".pamform/state.db")).unwrap();
    let mut corruptions: Vec<(String, Vec<u8>)> = vec![
        ("truncated to 100 bytes".into(), bytes[..100].to_vec()),
        (
            "truncated to half".into(),
            bytes[..bytes.len() / 2].to_vec(),
        ),
        ("empty header".into(), vec![0; bytes.len()]),
        ("text".into(), b"not a database at all\n".repeat(100)),
    ];
    for offset in [
        0usize,
        16,
        18,
        28,
        60,
        68,
        100,
        1024,
        4096,
        bytes.len() - 10,
    ] {
        let mut flipped = bytes.clone();
        flipped[offset] ^= 0xff;
        corruptions.push((format!("byte {offset} flipped"), flipped));
    }
    for (what, content) in corruptions {
        let sandbox = applied();
        let log_before = sandbox.run(&["target", "log", "--json"]).expect(0).stdout;
        // Same layout, this sandbox's own IDs: corrupt this sandbox's state at the same offsets.
        let own = std::fs::read(sandbox.path(".pamform/state.db")).unwrap();
        let content = if content.len() == own.len() && content != bytes {
            let mut own = own;
            for (i, (a, b)) in content.iter().zip(bytes.iter()).enumerate() {
                if a != b {
                    own[i] ^= a ^ b;
                }
            }
            own
        } else if content.len() < bytes.len() && bytes.starts_with(&content) {
            own[..content.len()].to_vec()
        } else {
            content
        };
        std::fs::write(sandbox.path(".pamform/state.db"), &content).unwrap();
        for args in [
            &["plan"][..],
            &["apply", "--auto-approve"],
            &["state", "list"],
        ] {
            let run = sandbox.run(args);
            assert!(!run.stderr.contains("panicked"), "{what}: {run}");
            if run.code == 0 {
                // A flip in unused space can leave the file readable; then it must still be sane.
                continue;
            }
            assert_eq!(run.code, 1, "{what}: {run}");
            assert!(
                run.stderr.contains("state"),
                "{what}: the error names the state: {run}"
            );
        }
        let log_after = sandbox.run(&["target", "log", "--json"]).expect(0).stdout;
        let requests = |log: &str| log.matches("\"kind\"").count();
        assert_eq!(
            requests(&log_after),
            requests(&log_before),
            "{what}: the target was called:\n{log_after}"
        );
    }
}

/// T11, damage SQLite cannot see: a flipped byte inside a recorded address or its key columns is
/// caught by the row's own consistency (every address repeats its key columns).
#[test]
fn a_damaged_row_is_caught_before_anything_is_planned() {
    let pristine = applied();
    let bytes = std::fs::read(pristine.path(".pamform/state.db")).unwrap();
    let needle = b"member.CORP-AD/Trustees/alice";
    let offsets: Vec<usize> = bytes
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i + needle.len() - 3)
        .collect();
    assert!(!offsets.is_empty());
    let mut detected = 0;
    for offset in offsets {
        let sandbox = applied();
        let mut own = std::fs::read(sandbox.path(".pamform/state.db")).unwrap();
        assert_eq!(&own[offset - needle.len() + 3..offset + 3], needle);
        own[offset] ^= 0x01;
        std::fs::write(sandbox.path(".pamform/state.db"), &own).unwrap();
        let run = sandbox.run(&["plan"]);
        assert!(!run.stderr.contains("panicked"), "{run}");
        if run.code == 1 && run.stderr.contains("does not spell its own address") {
            detected += 1;
            assert!(run.stderr.contains("member.CORP-AD/Trustees/al"), "{run}");
        }
    }
    assert!(detected >= 1, "the table's copy of the address is checked");
}
