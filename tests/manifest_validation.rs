//! Manifest validation, one case per rule: each writes a small manifest to a temporary directory,
//! loads it and snapshots the rendered diagnostics (the temporary path is replaced by
//! `manifest`), plus a multi-file multi-error case, a valid example parsed into the expected
//! `Desired`, seeds, and robustness against hostile input.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use pamform::manifest::{self, ManifestError, TargetKind};
use pamform::model::{
    AccountRef, Address, CheckoutSpec, Desired, DesiredOtpApiUser, DesiredTeam, GroupName,
    GroupState, OtpApiUserSpec, OtpUserName, Policy, Privilege, ProfileId, RemoteId, SeedAccount,
    SeedProfile, SystemId, TeamId, TeamState,
};

/// A valid team block other cases build on.
const TEAM: &str = r#"
[[team]]
id = "CORP-AD"
description = "Corporate AD Accounts Team"
requested_by = "alice"

  [[team.group]]
  name = "Trustees"
  privileges = ["Team_Trustees"]
  members = ["alice"]

  [[team.group]]
  name = "OTP API Trustee"
  privileges = ["OTP_Trustees", "Requesters"]
  members = ["bob"]
"#;

fn write_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        fs::write(dir.path().join(name), text).expect("write manifest file");
    }
    dir
}

fn clean(dir: &Path, rendered: &str) -> String {
    rendered.replace(&dir.display().to_string(), "manifest")
}

/// Loads a manifest that must fail and returns its rendered diagnostics.
fn errors(files: &[(&str, &str)]) -> String {
    let dir = write_dir(files);
    match manifest::load(dir.path()) {
        Ok(m) => panic!("expected errors, loaded {:#?}", m.desired),
        Err(e) => clean(dir.path(), &e.render(false)),
    }
}

fn error_of(files: &[(&str, &str)]) -> ManifestError {
    let dir = write_dir(files);
    manifest::load(dir.path()).expect_err("expected errors")
}

#[test]
fn syntax() {
    insta::assert_snapshot!(errors(&[(
        "a.toml",
        "[[team]]\nid = \"X\nrequested_by = 1\n"
    )]));
}

#[test]
fn unknown_key() {
    let text = r#"
[[team]]
id = "CORP-AD"
requested_by = "alice"
descripton = "typo"
  [[team.group]]
  nmae = "Trustees"
  name = "Trustees"
  privileges = ["Team_Trustees"]
  members = ["alice"]
  colour = "blue"

[[teams]]
id = "X"
"#;
    insta::assert_snapshot!(errors(&[("a.toml", text)]));
}

#[test]
fn wrong_type() {
    let text = r#"
team = { id = "X" }

[[otp_api_user]]
name = 42
team = "CORP-AD"
description = ["not", "a", "string"]
accounts = "CORP-DC/svc_billing"
requested_by = "bob"
"#;
    insta::assert_snapshot!(errors(&[("a.toml", text)]));
}

#[test]
fn wrong_type_in_arrays() {
    let text = format!(
        "{TEAM}\n  [[team.group]]\n  name = \"Mixed\"\n  privileges = [\"Requesters\", 7]\n  members = [\"carol\", true]\n"
    );
    insta::assert_snapshot!(errors(&[("a.toml", &text)]));
}

#[test]
fn missing_key() {
    let text = r#"
[[team]]
description = "no id, no requested_by"

[[otp_api_user]]
name = "billing-batch"

[[checkout]]

[[import]]
to = "team.CORP-AD"
"#;
    insta::assert_snapshot!(errors(&[("a.toml", text)]));
}

#[test]
fn invalid_id() {
    let text = r#"
[[team]]
id = "CORP AD"
requested_by = "alice smith"
  [[team.group]]
  name = "Ops/Trustees"
  privileges = ["Team_Trustees"]
  members = ["alice", "bob@example", ""]
"#;
    insta::assert_snapshot!(errors(&[("a.toml", text)]));
}

#[test]
fn unknown_privilege() {
    let text = r#"[[team]]
id = "CORP-AD"
requested_by = "alice"
  [[team.group]]
  name = "OTP API Trustee"
  members = ["bob"]
  privileges = ["otp_trustees"]
  [[team.group]]
  name = "Trustees"
  privileges = ["Team_Trustees", "Root"]
  members = ["alice"]
"#;
    let rendered = errors(&[("team.toml", text)]);
    assert!(
        rendered.starts_with(
            "error[unknown-privilege]: unknown privilege \"otp_trustees\"\n --> manifest/team.toml:7:17\n"
        ),
        "{rendered}"
    );
    assert!(
        rendered.contains("= help: did you mean \"OTP_Trustees\"?"),
        "{rendered}"
    );
    insta::assert_snapshot!(rendered);
}

#[test]
fn duplicate_team_across_files() {
    insta::assert_snapshot!(errors(&[("a.toml", TEAM), ("b.toml", TEAM)]));
}

#[test]
fn duplicate_group() {
    let text = format!(
        "{TEAM}\n  [[team.group]]\n  name = \"Trustees\"\n  privileges = [\"Approvers\"]\n"
    );
    insta::assert_snapshot!(errors(&[("a.toml", &text)]));
}

const USER: &str = r#"
[[otp_api_user]]
name = "billing-batch"
team = "CORP-AD"
description = "Billing batch job on app01"
accounts = ["CORP-DC/svc_billing"]
requested_by = "bob"
"#;

#[test]
fn duplicate_otp_api_user_across_files() {
    insta::assert_snapshot!(errors(&[
        ("a.toml", TEAM),
        ("b.toml", USER),
        ("c.toml", USER)
    ]));
}

#[test]
fn duplicate_checkout() {
    let checkout = "\n[[checkout]]\notp_api_user = \"billing-batch\"\nrequested_by = \"bob\"\n";
    let text = format!("{TEAM}{USER}{checkout}{checkout}");
    insta::assert_snapshot!(errors(&[("a.toml", &text)]));
}

#[test]
fn duplicate_import() {
    let import = "\n[[import]]\nto = \"team.CORP-AD\"\nid = \"CORP-AD\"\n";
    let text = format!("{TEAM}{import}");
    insta::assert_snapshot!(errors(&[("a.toml", &text), ("b.toml", import)]));
}

#[test]
fn duplicate_privilege_and_member() {
    let text = r#"
[[team]]
id = "CORP-AD"
requested_by = "alice"
  [[team.group]]
  name = "Trustees"
  privileges = ["Team_Trustees", "Requesters", "Team_Trustees"]
  members = ["alice", "bob", "alice", "bob"]
"#;
    insta::assert_snapshot!(errors(&[("a.toml", text)]));
}

#[test]
fn duplicate_account_and_approver() {
    let text = format!(
        r#"{TEAM}
[[otp_api_user]]
name = "billing-batch"
team = "CORP-AD"
description = "d"
accounts = ["CORP-DC/svc_billing", "CORP-DC/svc_billing"]
requested_by = "bob"

[[checkout]]
otp_api_user = "billing-batch"
requested_by = "bob"
approved_by = ["carol", "carol"]
"#
    );
    insta::assert_snapshot!(errors(&[("a.toml", &text)]));
}

#[test]
fn undeclared_team_and_otp_api_user() {
    let text = r#"
[[otp_api_user]]
name = "billing-batch"
team = "CORP-AB"
description = "d"
accounts = ["CORP-DC/svc_billing"]
requested_by = "bob"

[[checkout]]
otp_api_user = "billing-btach"
requested_by = "bob"
"#;
    insta::assert_snapshot!(errors(&[("a.toml", TEAM), ("b.toml", text)]));
}

#[test]
fn no_team_trustee() {
    let text = r#"
[[team]]
id = "EMPTY-TRUSTEES"
requested_by = "alice"
  [[team.group]]
  name = "Trustees"
  privileges = ["Team_Trustees"]
  members = []
  [[team.group]]
  name = "Users"
  privileges = ["Requesters"]
  members = ["bob"]

[[team]]
id = "IMPORTED"
requested_by = "alice"

[[import]]
to = "team.IMPORTED"
id = "IMPORTED"
"#;
    insta::assert_snapshot!(errors(&[("a.toml", text)]));
}

#[test]
fn needs_requesters() {
    let text = format!(
        "{TEAM}\n  [[team.group]]\n  name = \"Fast\"\n  privileges = [\"Auto_Approved\", \"Credential_Manager\"]\n  members = [\"dave\"]\n"
    );
    insta::assert_snapshot!(errors(&[("a.toml", &text)]));
}

#[test]
fn invalid_and_empty_accounts() {
    let text = format!(
        r#"{TEAM}
[[otp_api_user]]
name = "one"
team = "CORP-AD"
description = "d"
accounts = ["svc_billing", "CORP-DC/", "CORP DC/x", "A/b/c"]
requested_by = "bob"

[[otp_api_user]]
name = "two"
team = "CORP-AD"
description = "d"
accounts = []
requested_by = "bob"
"#
    );
    insta::assert_snapshot!(errors(&[("a.toml", &text)]));
}

#[test]
fn duplicate_settings() {
    let a = "[pamform]\nstate = \"a.db\"\n";
    let b = "[pamform]\nstate = \"b.db\"\n";
    insta::assert_snapshot!(errors(&[("a.toml", TEAM), ("b.toml", a), ("c.toml", b)]));
}

#[test]
fn unknown_target_kind_and_bad_settings() {
    let text = "[pamform]\nstate = \"\"\nsate = \"x\"\n[pamform.target]\nkind = \"embeded\"\n";
    insta::assert_snapshot!(errors(&[("a.toml", TEAM), ("b.toml", text)]));
}

#[test]
fn invalid_network() {
    let text = format!(
        r#"{TEAM}
[[otp_api_user]]
name = "billing-batch"
team = "CORP-AD"
description = "d"
accounts = ["CORP-DC/svc_billing"]
requested_by = "bob"
allowed_network = "10.20.0.0/33"

[[otp_api_user]]
name = "other"
team = "CORP-AD"
description = "d"
accounts = ["CORP-DC/svc_billing"]
requested_by = "bob"
allowed_network = "app01.example"
"#
    );
    insta::assert_snapshot!(errors(&[("a.toml", &text)]));
}

#[test]
fn invalid_and_undeclared_import() {
    let text = format!(
        r#"{TEAM}{USER}
[[import]]
to = "group.CORP-AD/Trustees"
id = "x"

[[import]]
to = "widget"
id = "x"

[[import]]
to = "team.CORP-AD"
id = "OTHER"

[[import]]
to = "otp_api_user.billing-batch"
id = "PAM_UTIL_"

[[import]]
to = "team.NOT-DECLARED"
id = "NOT-DECLARED"

[[import]]
to = "otp_api_user.ghost"
id = "PAM_UTIL_4f1c"
"#
    );
    insta::assert_snapshot!(errors(&[("a.toml", &text)]));
}

#[test]
fn file_too_large() {
    let dir = write_dir(&[("a.toml", TEAM)]);
    let big = fs::File::create(dir.path().join("b.toml")).expect("create");
    // A sparse file: over the limit without writing 64 MiB.
    big.set_len(manifest::MAX_FILE_BYTES + 1).expect("set_len");
    let err = manifest::load(dir.path()).expect_err("over the limit");
    insta::assert_snapshot!(clean(dir.path(), &err.render(false)));
}

#[test]
fn invalid_utf8() {
    let dir = tempfile::tempdir().expect("temp dir");
    fs::write(dir.path().join("a.toml"), b"[[team]]\nid = \"CORP-\xff\"\n").expect("write");
    let err = manifest::load(dir.path()).expect_err("invalid UTF-8");
    insta::assert_snapshot!(clean(dir.path(), &err.render(false)));
}

#[test]
fn missing_directory_and_empty_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("nope");
    let err = manifest::load(&missing).expect_err("missing dir");
    assert_eq!(err.rules(), vec!["io"]);
    let rendered = clean(dir.path(), &err.render(false));
    assert!(rendered.contains("manifest/nope"), "{rendered}");
    insta::assert_snapshot!("missing_directory", rendered);

    fs::create_dir(dir.path().join("sub.toml")).expect("mkdir");
    fs::write(dir.path().join("notes.txt"), "not a manifest").expect("write");
    fs::create_dir(dir.path().join("sub")).expect("mkdir");
    fs::write(dir.path().join("sub/team.toml"), TEAM).expect("write");
    let err = manifest::load(dir.path()).expect_err("no files");
    insta::assert_snapshot!("empty_directory", clean(dir.path(), &err.render(false)));
}

#[test]
fn every_error_of_two_files_at_once() {
    let a = r#"
[[team]]
id = "CORP-AD"
requested_by = "alice"
  [[team.group]]
  name = "Trustees"
  privileges = ["Team_Trustees", "otp_trustees"]
  members = ["alice", "alice"]
  colour = "blue"
"#;
    let b = r#"
[[otp_api_user]]
name = "billing-batch"
team = "CORP-XX"
description = "d"
accounts = ["nosystem"]
requested_by = "bob"
allowed_network = "10.0.0.0/99"

[[checkout]]
otp_api_user = "nobody"
requested_by = 5
"#;
    let err = error_of(&[("a.toml", a), ("b.toml", b)]);
    assert_eq!(
        err.rules(),
        vec![
            "unknown-privilege",
            "duplicate-member",
            "unknown-key",
            "undeclared-team",
            "invalid-account",
            "invalid-network",
            "undeclared-otp-api-user",
            "wrong-type",
        ]
    );
    let dir = write_dir(&[("a.toml", a), ("b.toml", b)]);
    let rendered = manifest::load(dir.path())
        .expect_err("errors")
        .render(false);
    insta::assert_snapshot!(clean(dir.path(), &rendered));
}

#[test]
fn a_syntax_error_does_not_hide_other_files() {
    let err = error_of(&[
        ("a.toml", "[[team]\n"),
        (
            "b.toml",
            "[[otp_api_user]]\nname = \"x\"\nteam = \"ELSEWHERE\"\n",
        ),
    ]);
    // b.toml still reports its missing keys; the undeclared team may live in the broken a.toml,
    // so it is not reported.
    assert_eq!(
        err.rules(),
        vec!["syntax", "missing-key", "missing-key", "missing-key"]
    );
}

const FULL_EXAMPLE: &str = r#"#:schema ../schemas/pamform.schema.json
[pamform]
state = "state/pamform.db"
[pamform.target]
kind = "embedded"
seed = "/abs/seed.toml"

[[team]]
id = "CORP-AD"
description = "Corporate AD Accounts Team"
requested_by = "alice"

  [[team.group]]
  name = "Trustees"
  privileges = ["Team_Trustees"]
  members = ["alice"]

  [[team.group]]
  name = "OTP API Trustee"
  privileges = ["OTP_Trustees", "Requesters"]
  members = ["bob"]

  [[team.group]]
  name = "Approvers"
  privileges = ["Approvers"]
  members = ["carol", "dave"]

[[team]]
id = "EMPTY_DESC"
requested_by = "alice"
  [[team.group]]
  name = "Trustees"
  privileges = ["Team_Trustees"]
  members = ["alice"]
  [[team.group]]
  name = "Nobody"
"#;

const FULL_USERS: &str = "\u{feff}
[[otp_api_user]]
name = \"billing-batch\"
team = \"CORP-AD\"
description = \"Billing batch job on app01\"
accounts = [\"CORP-DC/svc_billing\", \"CORP-DC/svc_reports\"]
requested_by = \"bob\"
allowed_network = \"10.20.0.5\"

[[otp_api_user]]
name = \"reports\"
team = \"CORP-AD\"
description = \"Reports\"
accounts = [\"CORP-DC/svc_reports\"]
requested_by = \"bob\"

[[checkout]]
otp_api_user = \"billing-batch\"
requested_by = \"bob\"
approved_by = [\"carol\"]

[[checkout]]
otp_api_user = \"reports\"
requested_by = \"bob\"

[[import]]
to = \"team.CORP-AD\"
id = \"CORP-AD\"

[[import]]
to = \"otp_api_user.reports\"
id = \"PAM_UTIL_7d0c2a5e-1b8f-4f0e-9a51-3c2d1e0f9a8b\"
";

fn group(privileges: &[Privilege], members: &[&str]) -> GroupState {
    GroupState {
        privileges: privileges.iter().copied().collect(),
        members: members.iter().map(|m| ProfileId::new(*m)).collect(),
    }
}

#[test]
fn full_example_parses_into_the_expected_desired() {
    let dir = write_dir(&[
        ("10-teams.toml", FULL_EXAMPLE),
        ("20-users.toml", FULL_USERS),
        ("README.md", "ignored"),
    ]);
    let loaded = manifest::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));

    let teams = BTreeMap::from([
        (
            TeamId::new("CORP-AD"),
            DesiredTeam {
                state: TeamState {
                    description: "Corporate AD Accounts Team".into(),
                    groups: BTreeMap::from([
                        (
                            GroupName::new("Trustees"),
                            group(&[Privilege::TeamTrustees], &["alice"]),
                        ),
                        (
                            GroupName::new("OTP API Trustee"),
                            group(&[Privilege::OtpTrustees, Privilege::Requesters], &["bob"]),
                        ),
                        (
                            GroupName::new("Approvers"),
                            group(&[Privilege::Approvers], &["carol", "dave"]),
                        ),
                    ]),
                },
                requested_by: ProfileId::new("alice"),
            },
        ),
        (
            TeamId::new("EMPTY_DESC"),
            DesiredTeam {
                state: TeamState {
                    description: String::new(),
                    groups: BTreeMap::from([
                        (
                            GroupName::new("Trustees"),
                            group(&[Privilege::TeamTrustees], &["alice"]),
                        ),
                        (GroupName::new("Nobody"), GroupState::default()),
                    ]),
                },
                requested_by: ProfileId::new("alice"),
            },
        ),
    ]);
    let user = |accounts: &[&str], network: &str, description: &str| DesiredOtpApiUser {
        spec: OtpApiUserSpec {
            team: TeamId::new("CORP-AD"),
            description: description.into(),
            accounts: accounts
                .iter()
                .map(|a| a.parse::<AccountRef>().expect("account"))
                .collect(),
            allowed_network: network.into(),
        },
        requested_by: ProfileId::new("bob"),
    };
    let expected = Desired {
        teams,
        otp_api_users: BTreeMap::from([
            (
                OtpUserName::new("billing-batch"),
                user(
                    &["CORP-DC/svc_billing", "CORP-DC/svc_reports"],
                    "10.20.0.5/32",
                    "Billing batch job on app01",
                ),
            ),
            (
                OtpUserName::new("reports"),
                user(&["CORP-DC/svc_reports"], "127.0.0.1/32", "Reports"),
            ),
        ]),
        checkouts: BTreeMap::from([
            (
                OtpUserName::new("billing-batch"),
                CheckoutSpec {
                    requested_by: ProfileId::new("bob"),
                    approved_by: BTreeSet::from([ProfileId::new("carol")]),
                },
            ),
            (
                OtpUserName::new("reports"),
                CheckoutSpec {
                    requested_by: ProfileId::new("bob"),
                    approved_by: BTreeSet::new(),
                },
            ),
        ]),
        imports: BTreeMap::from([
            (
                Address::Team(TeamId::new("CORP-AD")),
                RemoteId::new("CORP-AD"),
            ),
            (
                Address::OtpApiUser(OtpUserName::new("reports")),
                RemoteId::new("7d0c2a5e-1b8f-4f0e-9a51-3c2d1e0f9a8b"),
            ),
        ]),
    };
    assert_eq!(loaded.desired, expected);
    assert_eq!(loaded.dir, dir.path());
    assert_eq!(
        loaded.files,
        vec![
            dir.path().join("10-teams.toml"),
            dir.path().join("20-users.toml")
        ]
    );
    assert_eq!(loaded.settings.state, dir.path().join("state/pamform.db"));
    assert_eq!(loaded.settings.target.kind, TargetKind::Embedded);
    assert_eq!(
        loaded.settings.target.path,
        dir.path().join(".pamform/target.db")
    );
    assert_eq!(loaded.settings.target.seed, Path::new("/abs/seed.toml"));
    assert_eq!(loaded.digest.len(), 64);
    assert!(loaded.digest.bytes().all(|b| b.is_ascii_hexdigit()));

    // The digest covers names and contents: same files, same digest; any change, another one.
    let again = write_dir(&[
        ("10-teams.toml", FULL_EXAMPLE),
        ("20-users.toml", FULL_USERS),
    ]);
    let again = manifest::load(again.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.digest, loaded.digest);
    let renamed = write_dir(&[
        ("11-teams.toml", FULL_EXAMPLE),
        ("20-users.toml", FULL_USERS),
    ]);
    let renamed = manifest::load(renamed.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(renamed.digest, loaded.digest);
    let edited = write_dir(&[
        (
            "10-teams.toml",
            &FULL_EXAMPLE.replace("Corporate", "corporate"),
        ),
        ("20-users.toml", FULL_USERS),
    ]);
    let edited = manifest::load(edited.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(edited.digest, loaded.digest);
}

#[test]
fn defaults_apply_without_pamform_table() {
    let dir = write_dir(&[("a.toml", TEAM)]);
    let loaded = manifest::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.settings, manifest::Settings::defaults(dir.path()));
    assert_eq!(loaded.settings.state, dir.path().join(".pamform/state.db"));
    assert_eq!(
        loaded.settings.target.seed,
        dir.path().join("seed/target.toml")
    );
}

#[test]
fn schema_types_accept_the_full_example() {
    for text in [
        FULL_EXAMPLE,
        FULL_USERS.trim_start_matches('\u{feff}'),
        TEAM,
        USER,
    ] {
        let parsed: Result<manifest::ManifestFile, _> = toml::from_str(text);
        assert!(parsed.is_ok(), "{parsed:?}");
    }
    let typo: Result<manifest::ManifestFile, _> = toml::from_str("[[teams]]\nid = \"x\"\n");
    assert!(typo.is_err());
}

const SEED: &str = r#"
[settings]
min_authorizers = 2
otp_maximum = 1
checkout_minutes = 60

[[profile]]
id = "alice"
name = "Alice Example"
team_admin = true

[[profile]]
id = "bob"
name = "Bob Example"

[[managed_system]]
id = "CORP-DC"

[[managed_account]]
system = "CORP-DC"
account = "svc_billing"
team = "CORP-AD"

[[managed_account]]
system = "CORP-DC"
account = "Administrator"

[[team]]
id = "CORP-AD"
description = "Corporate"
requested_by = "ignored"
  [[team.group]]
  name = "Trustees"
  privileges = ["Team_Trustees"]
  members = ["alice", "bob"]
"#;

#[test]
fn seed_parses() {
    let dir = write_dir(&[("target.toml", SEED)]);
    let seed =
        manifest::load_seed(&dir.path().join("target.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        seed.policy,
        Policy {
            min_authorizers: 2,
            otp_maximum: 1,
            checkout_minutes: 60
        }
    );
    assert_eq!(
        seed.profiles,
        vec![
            SeedProfile {
                id: ProfileId::new("alice"),
                name: "Alice Example".into(),
                team_admin: true
            },
            SeedProfile {
                id: ProfileId::new("bob"),
                name: "Bob Example".into(),
                team_admin: false
            },
        ]
    );
    assert_eq!(seed.systems, vec![SystemId::new("CORP-DC")]);
    assert_eq!(
        seed.accounts,
        vec![
            SeedAccount {
                account: AccountRef::new("CORP-DC", "svc_billing"),
                team: Some(TeamId::new("CORP-AD"))
            },
            SeedAccount {
                account: AccountRef::new("CORP-DC", "Administrator"),
                team: None
            },
        ]
    );
    assert_eq!(
        seed.teams,
        BTreeMap::from([(
            TeamId::new("CORP-AD"),
            TeamState {
                description: "Corporate".into(),
                groups: BTreeMap::from([(
                    GroupName::new("Trustees"),
                    group(&[Privilege::TeamTrustees], &["alice", "bob"])
                )]),
            }
        )])
    );
    let empty = write_dir(&[("target.toml", "")]);
    let seed =
        manifest::load_seed(&empty.path().join("target.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(seed.policy, Policy::default());
}

#[test]
fn seed_errors() {
    let text = r#"
[settings]
min_authorizers = -1
checkout_minutes = 2
otp_max = 3

[[profile]]
id = "alice"
[[profile]]
id = "alice"

[[managed_system]]
id = "CORP-DC"
[[managed_system]]
id = "CORP-DC"

[[managed_account]]
system = "OTHER-DC"
account = "svc_billing"
team = "NO-TEAM"
[[managed_account]]
system = "CORP-DC"
account = "svc_x"
[[managed_account]]
system = "CORP-DC"
account = "svc_x"

[[team]]
id = "CORP-AD"
  [[team.group]]
  name = "Trustees"
  privileges = ["Team_Trustees"]
  members = ["alice", "mallory"]
[[team]]
id = "CORP-AD"
  [[team.group]]
  name = "Trustees"
  privileges = ["Team_Trustees"]
  members = ["alice"]
[[team]]
id = "NO-TRUSTEE"
"#;
    let dir = write_dir(&[("target.toml", text)]);
    let err = manifest::load_seed(&dir.path().join("target.toml")).expect_err("seed errors");
    insta::assert_snapshot!(clean(dir.path(), &err.render(false)));
}

#[test]
fn missing_seed_names_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = manifest::load_seed(&dir.path().join("seed/target.toml")).expect_err("missing");
    assert_eq!(err.rules(), vec!["io"]);
    let rendered = clean(dir.path(), &err.to_string());
    assert!(rendered.contains("manifest/seed/target.toml"), "{rendered}");
}

// ---------------------------------------------------------------------------------------------
// Robustness: hostile input gives clear errors, never a panic.
// ---------------------------------------------------------------------------------------------

#[test]
fn deeply_nested_arrays_and_tables() {
    let arrays = format!("x = {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let tables = format!("x = {}1{}\n", "{a = ".repeat(10_000), "}".repeat(10_000));
    let keys = format!("{} = 1\n", vec!["k"; 10_000].join("."));
    let headers = format!("[{}]\n", vec!["t"; 10_000].join("."));
    let unclosed = "[".repeat(100_000);
    for text in [arrays, tables, keys, headers, unclosed] {
        let err = error_of(&[("a.toml", &text)]);
        assert_eq!(
            err.rules().first(),
            Some(&"syntax"),
            "{}",
            err.render(false)
        );
    }
}

#[test]
fn large_valid_file() {
    // Over 1 MiB: 150,000 members in one compact array, and a long line pointing past it.
    let members: Vec<String> = (0..150_000).map(|i| format!("\"user{i:06}\"")).collect();
    let text = format!(
        "[[team]]\nid = \"BIG\"\nrequested_by = \"alice\"\n  [[team.group]]\n  name = \"Trustees\"\n  privileges = [\"Team_Trustees\"]\n  members = [{}]\n",
        members.join(",")
    );
    assert!(text.len() > 1024 * 1024);
    let dir = write_dir(&[("a.toml", &text)]);
    let loaded = manifest::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let team = &loaded.desired.teams[&TeamId::new("BIG")];
    assert_eq!(
        team.state.groups[&GroupName::new("Trustees")].members.len(),
        150_000
    );

    // The same line with an error at its end: the column is right, the rendering stays short.
    let bad = text.replace("\"user149999\"]", "\"user 149999\"]");
    let err = error_of(&[("a.toml", &bad)]);
    let d = &err.diagnostics[0];
    assert_eq!((d.rule, d.line), ("invalid-id", 7));
    assert_eq!(
        d.column,
        bad.lines()
            .nth(6)
            .map_or(0, |l| l.find("\"user 1").unwrap_or(0) + 1)
    );
    assert!(
        err.render(false).len() < 2_000,
        "{}",
        err.render(false).len()
    );
}

#[test]
fn over_limit_through_the_internal_limit() {
    let dir = write_dir(&[("a.toml", TEAM)]);
    let err = manifest::load_with_limit(dir.path(), 100).expect_err("over the limit");
    assert_eq!(err.rules(), vec!["file-too-large"]);
    assert!(manifest::load_with_limit(dir.path(), TEAM.len() as u64).is_ok());
}

#[test]
fn mutated_manifests_never_panic() {
    let base = format!(
        "{FULL_EXAMPLE}\n{}",
        FULL_USERS.trim_start_matches('\u{feff}')
    );
    let base = base.as_bytes();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = b"[]{}=\",.#\n\\ 'aZ0_-/\xff\xc3";
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("a.toml");
    for _ in 0..300 {
        let mut bytes = base.to_vec();
        for _ in 0..(1 + next() % 4) {
            let at = (next() as usize) % bytes.len();
            match next() % 3 {
                0 => bytes[at] = alphabet[(next() as usize) % alphabet.len()],
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, alphabet[(next() as usize) % alphabet.len()]),
            }
        }
        fs::write(&path, &bytes).expect("write");
        if let Err(e) = manifest::load(dir.path()) {
            assert!(!e.diagnostics.is_empty());
            let _ = e.render(false);
            let _ = e.render(true);
        }
    }
}
