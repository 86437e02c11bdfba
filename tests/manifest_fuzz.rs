//! Robustness of the manifest and seed parsers under generated input (proptest; cargo-fuzz needs a
//! nightly toolchain): no input panics, and every rejection carries at least one diagnostic with a
//! rule and a position inside the file.

use proptest::prelude::*;

/// Fragments that steer generated text toward the manifest's own shapes, so the generator reaches
/// the validation rules and not only TOML syntax errors.
const FRAGMENTS: &[&str] = &[
    "[[team]]\n",
    "[[team.group]]\n",
    "[[otp_api_user]]\n",
    "[[checkout]]\n",
    "[[import]]\n",
    "[pamform]\n",
    "[pamform.target]\n",
    "id = \"CORP-AD\"\n",
    "id = \"CORP AD\"\n",
    "name = \"Trustees\"\n",
    "name = \"a/b\"\n",
    "requested_by = \"alice\"\n",
    "privileges = [\"Team_Trustees\", \"otp_trustees\"]\n",
    "privileges = [\"Auto_Approved\"]\n",
    "members = [\"alice\", \"alice\"]\n",
    "members = []\n",
    "team = \"CORP-AD\"\n",
    "accounts = [\"CORP-DC/svc\", \"nope\"]\n",
    "allowed_network = \"10.0.0.0/33\"\n",
    "otp_api_user = \"x\"\n",
    "to = \"team.CORP-AD\"\n",
    "to = \"member.a/b/c\"\n",
    "kind = \"remote\"\n",
    "description = \"\"\"multi\nline\"\"\"\n",
    "x = [[[[[[[[[[1]]]]]]]]]]\n",
    "y = { a = { b = { c = 1 } } }\n",
    "= \n",
    "\u{feff}",
    "\"\\u0000\" = 1\n",
    "[team]\n",
    "members = 7\n",
];

fn manifest_text() -> impl Strategy<Value = String> {
    let fragment = prop::sample::select(FRAGMENTS).prop_map(str::to_string);
    let noise = "[ -~\n\t\u{e9}\u{2028}]{0,12}";
    prop::collection::vec(
        prop_oneof![4 => fragment, 1 => noise.prop_map(|s| s)],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

fn check(dir: &std::path::Path) {
    match pamform::manifest::load(dir) {
        Ok(_) => {}
        Err(error) => {
            assert!(
                !error.diagnostics.is_empty(),
                "a rejection without a diagnostic"
            );
            for d in &error.diagnostics {
                assert!(!d.rule.is_empty());
                assert!(!d.message.is_empty());
            }
            let rendered = error.render(false);
            assert!(rendered.contains("error["), "{rendered}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn generated_manifests_never_panic(a in manifest_text(), b in manifest_text()) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.toml"), &a).unwrap();
        std::fs::write(dir.path().join("b.toml"), &b).unwrap();
        check(dir.path());
        let seed = dir.path().join("seed.toml");
        std::fs::write(&seed, format!("{a}\n[settings]\n{b}")).unwrap();
        let _ = pamform::manifest::load_seed(&seed);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.toml"), &bytes).unwrap();
        check(dir.path());
    }
}
