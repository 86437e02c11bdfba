//! The JSON Schema (draft-07) of a manifest file, generated with schemars from the serde types
//! below, for editors (taplo, Even Better TOML) that read a `#:schema` line.
//!
//! Invariants: these types describe exactly the keys the walker in `desired.rs` and `team.rs`
//! accepts (a unit test compares the two key lists), so the schema and the loader cannot drift;
//! the loader itself never deserializes through them, because it must report every error with
//! its span.

use std::borrow::Cow;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::model::{DEFAULT_ALLOWED_NETWORK, Privilege};

/// One file of a pamform manifest directory. Every `*.toml` file directly in the directory is
/// read, sorted by name, and merged; a name declared twice, even in two files, is an error.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "pamform manifest file")]
pub struct ManifestFile {
    /// Settings of the manifest directory; at most one file of the directory may hold them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "PamformTable")]
    pub pamform: Option<PamformTable>,
    /// Teams pamform creates and keeps in the declared shape.
    #[serde(default)]
    pub team: Vec<TeamBlock>,
    /// OTP API users (`PAM_UTIL_<guid>` vault account plus the API caller profile) that
    /// pamutil/runwithpass uses to fetch passwords.
    #[serde(default)]
    pub otp_api_user: Vec<OtpApiUserBlock>,
    /// The one check-out of an OTP API user's vault account that discloses its first one-time
    /// password. It is performed once, ever: checking the account out again would break pamutil.
    #[serde(default)]
    pub checkout: Vec<CheckoutBlock>,
    /// Objects that already exist in the target and are adopted instead of created.
    #[serde(default)]
    pub import: Vec<ImportBlock>,
}

/// `[pamform]`: where pamform keeps its state and which target it talks to.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PamformTable {
    /// The state file (SQLite), relative to the manifest directory.
    #[serde(default = "default_state")]
    pub state: String,
    /// The target pamform provisions.
    #[serde(default)]
    pub target: TargetTable,
}

/// `[pamform.target]`: the target pamform provisions.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetTable {
    /// The kind of target.
    #[serde(default)]
    pub kind: TargetKindName,
    /// The embedded target's database, relative to the manifest directory.
    #[serde(default = "default_target_path")]
    pub path: String,
    /// The seed the embedded target is created from (read once, when the target is first
    /// created), relative to the manifest directory.
    #[serde(default = "default_seed")]
    pub seed: String,
}

impl Default for TargetTable {
    fn default() -> Self {
        TargetTable {
            kind: TargetKindName::default(),
            path: default_target_path(),
            seed: default_seed(),
        }
    }
}

/// A kind of target.
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TargetKindName {
    /// A local SQLite database that enforces the product's rules (for trying pamform and for
    /// tests).
    #[default]
    Embedded,
}

pub(crate) fn default_state() -> String {
    ".pamform/state.db".into()
}

pub(crate) fn default_target_path() -> String {
    ".pamform/target.db".into()
}

pub(crate) fn default_seed() -> String {
    "seed/target.toml".into()
}

fn default_network() -> String {
    DEFAULT_ALLOWED_NETWORK.into()
}

/// `[[team]]`: a team, its description and its groups. The groups must leave at least one member
/// in a group holding `Team_Trustees`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamBlock {
    /// The team ID: letters, digits, '-' and '_', 1 to 64 characters.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
    pub id: String,
    /// The team's description.
    #[serde(default)]
    pub description: String,
    /// The profile ID that submits this team's requests (a team administrator for creation, a
    /// team trustee for updates).
    #[schemars(regex(pattern = r"^[A-Za-z0-9._-]{1,64}$"))]
    pub requested_by: String,
    /// The team's groups.
    #[serde(default)]
    pub group: Vec<GroupBlock>,
}

/// `[[team.group]]`: a group of a team: privileges and member profiles.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupBlock {
    /// The group's name, unique within the team: 1 to 128 characters, no '/', no leading or
    /// trailing space.
    #[schemars(regex(pattern = r"^[^/]+$"), length(min = 1, max = 128))]
    pub name: String,
    /// The privileges the group grants, each listed once. `Auto_Approved` and
    /// `Credential_Manager` need `Requesters` too.
    #[serde(default)]
    #[schemars(extend("uniqueItems" = true))]
    pub privileges: Vec<PrivilegeToken>,
    /// The member profile IDs, each listed once.
    #[serde(default)]
    #[schemars(inner(regex(pattern = r"^[A-Za-z0-9._-]{1,64}$")), extend("uniqueItems" = true))]
    pub members: Vec<String>,
}

/// One of the product's eleven privilege tokens, spelt exactly.
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PrivilegeToken(pub String);

impl JsonSchema for PrivilegeToken {
    fn schema_name() -> Cow<'static, str> {
        "Privilege".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        let tokens: Vec<&str> = Privilege::ALL.iter().map(|p| p.token()).collect();
        json_schema!({
            "description": "One of the product's eleven privilege tokens, spelt exactly.",
            "type": "string",
            "enum": tokens,
        })
    }
}

/// `[[otp_api_user]]`: an OTP API user of a team, created through the product's
/// `CREATE_PAMUTIL_API_USER` request.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OtpApiUserBlock {
    /// pamform's name for the OTP API user (the target names it `PAM_UTIL_<guid>`).
    #[schemars(regex(pattern = r"^[A-Za-z0-9._-]{1,64}$"))]
    pub name: String,
    /// The team the OTP API user belongs to; declared in the manifest.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
    pub team: String,
    /// What the OTP API user is for.
    pub description: String,
    /// The onboarded managed accounts of the team the OTP API user may read, as
    /// "<managed system>/<account>"; at least one.
    #[schemars(
        inner(regex(pattern = r"^[A-Za-z0-9._-]{1,64}/[^/\s]+$")),
        length(min = 1),
        extend("uniqueItems" = true)
    )]
    pub accounts: Vec<String>,
    /// The profile ID that submits the request: an OTP trustee of the team.
    #[schemars(regex(pattern = r"^[A-Za-z0-9._-]{1,64}$"))]
    pub requested_by: String,
    /// The IPv4 or IPv6 network the API caller may log in from, as address/prefix (a bare
    /// address means that host only).
    #[serde(default = "default_network")]
    pub allowed_network: String,
}

/// `[[checkout]]`: the single check-out of an OTP API user's vault account.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutBlock {
    /// The OTP API user whose vault account is checked out; declared in the manifest.
    #[schemars(regex(pattern = r"^[A-Za-z0-9._-]{1,64}$"))]
    pub otp_api_user: String,
    /// The profile ID that requests the check-out.
    #[schemars(regex(pattern = r"^[A-Za-z0-9._-]{1,64}$"))]
    pub requested_by: String,
    /// The authorizers (holders of `Approvers` in the team) who approve the request.
    #[serde(default)]
    #[schemars(inner(regex(pattern = r"^[A-Za-z0-9._-]{1,64}$")), extend("uniqueItems" = true))]
    pub approved_by: Vec<String>,
}

/// `[[import]]`: adopts an object that already exists in the target.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBlock {
    /// The address of the declared object to adopt: `team.<team>` or `otp_api_user.<name>`.
    #[schemars(regex(pattern = r"^(team|otp_api_user)\.[^/]+$"))]
    pub to: String,
    /// The target's ID for the object: for a team its team ID, for an OTP API user its GUID or
    /// `PAM_UTIL_<guid>`.
    pub id: String,
}

/// The JSON Schema (draft-07) of one manifest file.
pub fn manifest_schema() -> serde_json::Value {
    SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<ManifestFile>()
        .to_value()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{desired, team};

    fn properties<'a>(schema: &'a serde_json::Value, pointer: &str) -> Vec<&'a str> {
        let mut keys: Vec<&str> = schema
            .pointer(pointer)
            .and_then(serde_json::Value::as_object)
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        keys.sort_unstable();
        keys
    }

    fn sorted(keys: &[&'static str]) -> Vec<&'static str> {
        let mut keys = keys.to_vec();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn schema_keys_match_the_walker() {
        let schema = manifest_schema();
        let cases: [(&str, &[&str]); 8] = [
            ("/properties", desired::TOP_KEYS),
            (
                "/definitions/PamformTable/properties",
                desired::PAMFORM_KEYS,
            ),
            ("/definitions/TargetTable/properties", desired::TARGET_KEYS),
            ("/definitions/TeamBlock/properties", team::TEAM_KEYS),
            ("/definitions/GroupBlock/properties", team::GROUP_KEYS),
            (
                "/definitions/OtpApiUserBlock/properties",
                desired::OTP_API_USER_KEYS,
            ),
            (
                "/definitions/CheckoutBlock/properties",
                desired::CHECKOUT_KEYS,
            ),
            ("/definitions/ImportBlock/properties", desired::IMPORT_KEYS),
        ];
        for (pointer, keys) in cases {
            assert_eq!(properties(&schema, pointer), sorted(keys), "{pointer}");
        }
    }

    #[test]
    fn schema_is_draft_07_and_closed() {
        let schema = manifest_schema();
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(
            schema["definitions"]["Privilege"]["enum"]
                .as_array()
                .map(Vec::len),
            Some(11)
        );
    }
}
