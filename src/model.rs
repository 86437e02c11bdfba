//! Domain types shared by every layer: identifiers, addresses, privileges, team shapes, requests,
//! and the three views the plan engine compares (desired, recorded, observed).
//!
//! Invariants: this module imports nothing else of the crate except `secret`; every collection is a
//! `BTreeMap`/`BTreeSet` so iteration order (and therefore plan output) is deterministic.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub mod rules;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value that was validated by the manifest layer or read back from a store
            /// pamform wrote itself.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A team ID such as `CORP-AD`: letters, digits, `-`, `_`, 1 to 64 characters.
    TeamId
);
string_id!(
    /// A team group's name, unique within its team; never contains `/`.
    GroupName
);
string_id!(
    /// A user profile ID (people and OTP API callers).
    ProfileId
);
string_id!(
    /// pamform's own name for an OTP API user; the target names it `PAM_UTIL_<guid>`.
    OtpUserName
);
string_id!(
    /// A managed system ID (upper-case in the product).
    SystemId
);
string_id!(
    /// A managed account ID; case-sensitive.
    AccountId
);
string_id!(
    /// An identifier the target assigned: a batch ID, a check-out ID, a GUID.
    RemoteId
);

/// Checks an identifier made of letters, digits, `-`, `_` and `.`, 1 to 64 characters.
pub fn check_plain_id(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.chars().count() > 64 {
        return Err("must be at most 64 characters".into());
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "contains {bad:?}; only letters, digits, '-', '_' and '.' are allowed"
        ));
    }
    Ok(())
}

/// Checks a team ID: letters, digits, `-`, `_`, 1 to 64 characters.
pub fn check_team_id(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.chars().count() > 64 {
        return Err("must be at most 64 characters".into());
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
    {
        return Err(format!(
            "contains {bad:?}; only letters, digits, '-' and '_' are allowed"
        ));
    }
    Ok(())
}

/// Checks a group name: 1 to 128 printable characters, no `/`, no leading or trailing space.
pub fn check_group_name(value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if value.chars().count() > 128 {
        return Err("must be at most 128 characters".into());
    }
    if value.trim() != value {
        return Err("must not start or end with white space".into());
    }
    if value.contains('/') {
        return Err("must not contain '/'".into());
    }
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

/// One of the product's eleven team privileges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Privilege {
    Approvers,
    #[serde(rename = "Auto_Approved")]
    AutoApproved,
    #[serde(rename = "Credential_Manager")]
    CredentialManager,
    Requesters,
    #[serde(rename = "Account_Trustees")]
    AccountTrustees,
    #[serde(rename = "System_Trustees")]
    SystemTrustees,
    #[serde(rename = "Vault_Trustees")]
    VaultTrustees,
    #[serde(rename = "Team_Trustees")]
    TeamTrustees,
    #[serde(rename = "LC_Trustees")]
    LcTrustees,
    #[serde(rename = "OTP_Trustees")]
    OtpTrustees,
    #[serde(rename = "Subscriber_Trustees")]
    SubscriberTrustees,
}

impl Privilege {
    pub const ALL: [Privilege; 11] = [
        Privilege::Approvers,
        Privilege::AutoApproved,
        Privilege::CredentialManager,
        Privilege::Requesters,
        Privilege::AccountTrustees,
        Privilege::SystemTrustees,
        Privilege::VaultTrustees,
        Privilege::TeamTrustees,
        Privilege::LcTrustees,
        Privilege::OtpTrustees,
        Privilege::SubscriberTrustees,
    ];

    /// The position in [`Privilege::ALL`] (0 to 10): the declaration order.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The product's exact spelling.
    pub fn token(self) -> &'static str {
        match self {
            Privilege::Approvers => "Approvers",
            Privilege::AutoApproved => "Auto_Approved",
            Privilege::CredentialManager => "Credential_Manager",
            Privilege::Requesters => "Requesters",
            Privilege::AccountTrustees => "Account_Trustees",
            Privilege::SystemTrustees => "System_Trustees",
            Privilege::VaultTrustees => "Vault_Trustees",
            Privilege::TeamTrustees => "Team_Trustees",
            Privilege::LcTrustees => "LC_Trustees",
            Privilege::OtpTrustees => "OTP_Trustees",
            Privilege::SubscriberTrustees => "Subscriber_Trustees",
        }
    }

    pub fn from_token(token: &str) -> Option<Privilege> {
        Privilege::ALL.into_iter().find(|p| p.token() == token)
    }
}

impl fmt::Display for Privilege {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.token())
    }
}

/// A managed account: `(system, account)`, written `SYSTEM/account` (also in JSON).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountRef {
    pub system: SystemId,
    pub account: AccountId,
}

impl AccountRef {
    pub fn new(system: impl Into<String>, account: impl Into<String>) -> Self {
        AccountRef {
            system: SystemId::new(system),
            account: AccountId::new(account),
        }
    }
}

impl fmt::Display for AccountRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.system, self.account)
    }
}

impl FromStr for AccountRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (system, account) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not of the form \"SYSTEM/account\""))?;
        if system.is_empty() || account.is_empty() || account.contains('/') {
            return Err(format!("{s:?} is not of the form \"SYSTEM/account\""));
        }
        check_plain_id(system).map_err(|e| format!("managed system {system:?} {e}"))?;
        if account.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(format!(
                "account {account:?} must not contain white space or control characters"
            ));
        }
        Ok(AccountRef::new(system, account))
    }
}

impl Serialize for AccountRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AccountRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The address of one managed object, used in plans, JSON, state and errors.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Address {
    Team(TeamId),
    Group(TeamId, GroupName),
    Privilege(TeamId, GroupName, Privilege),
    Member(TeamId, GroupName, ProfileId),
    OtpApiUser(OtpUserName),
    Checkout(OtpUserName),
}

impl Address {
    /// The kind prefix: `team`, `group`, `privilege`, `member`, `otp_api_user`, `checkout`.
    pub fn kind(&self) -> &'static str {
        match self {
            Address::Team(_) => "team",
            Address::Group(..) => "group",
            Address::Privilege(..) => "privilege",
            Address::Member(..) => "member",
            Address::OtpApiUser(_) => "otp_api_user",
            Address::Checkout(_) => "checkout",
        }
    }

    /// The team this address belongs to, if any.
    pub fn team(&self) -> Option<&TeamId> {
        match self {
            Address::Team(t)
            | Address::Group(t, _)
            | Address::Privilege(t, _, _)
            | Address::Member(t, _, _) => Some(t),
            Address::OtpApiUser(_) | Address::Checkout(_) => None,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Team(t) => write!(f, "team.{t}"),
            Address::Group(t, g) => write!(f, "group.{t}/{g}"),
            Address::Privilege(t, g, p) => write!(f, "privilege.{t}/{g}/{p}"),
            Address::Member(t, g, m) => write!(f, "member.{t}/{g}/{m}"),
            Address::OtpApiUser(n) => write!(f, "otp_api_user.{n}"),
            Address::Checkout(n) => write!(f, "checkout.{n}"),
        }
    }
}

impl FromStr for Address {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "{s:?} is not an address; expected one of team.<team>, group.<team>/<group>, \
                 privilege.<team>/<group>/<privilege>, member.<team>/<group>/<profile>, \
                 otp_api_user.<name>, checkout.<name>"
            )
        };
        let (kind, rest) = s.split_once('.').ok_or_else(bad)?;
        let parts: Vec<&str> = rest.split('/').collect();
        let nonempty = parts.iter().all(|p| !p.is_empty());
        if !nonempty {
            return Err(bad());
        }
        match (kind, parts.as_slice()) {
            ("team", [t]) => Ok(Address::Team(TeamId::new(*t))),
            ("group", [t, g]) => Ok(Address::Group(TeamId::new(*t), GroupName::new(*g))),
            ("privilege", [t, g, p]) => {
                let privilege = Privilege::from_token(p)
                    .ok_or_else(|| format!("{p:?} is not a privilege token in {s:?}"))?;
                Ok(Address::Privilege(
                    TeamId::new(*t),
                    GroupName::new(*g),
                    privilege,
                ))
            }
            ("member", [t, g, m]) => Ok(Address::Member(
                TeamId::new(*t),
                GroupName::new(*g),
                ProfileId::new(*m),
            )),
            ("otp_api_user", [n]) => Ok(Address::OtpApiUser(OtpUserName::new(*n))),
            ("checkout", [n]) => Ok(Address::Checkout(OtpUserName::new(*n))),
            _ => Err(bad()),
        }
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A group: its privileges and its member profiles.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct GroupState {
    pub privileges: BTreeSet<Privilege>,
    pub members: BTreeSet<ProfileId>,
}

/// A team as the product holds it: description and groups.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct TeamState {
    pub description: String,
    pub groups: BTreeMap<GroupName, GroupState>,
}

/// The attributes of an OTP API user that a manifest declares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct OtpApiUserSpec {
    pub team: TeamId,
    pub description: String,
    pub accounts: BTreeSet<AccountRef>,
    pub allowed_network: String,
}

/// The default network an OTP API caller may log in from.
pub const DEFAULT_ALLOWED_NETWORK: &str = "127.0.0.1/32";

/// What the target assigned when it created an OTP API user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct OtpApiUserRemote {
    /// The GUID in `PAM_UTIL_<guid>`.
    pub guid: RemoteId,
    /// The OTP vault account, `(system, PAM_UTIL_<guid>)`, in policy `PAM_OTP_ACCOUNTS`.
    pub vault_account: AccountRef,
    /// The administrator profile that logs in with the one-time password.
    pub caller: ProfileId,
}

/// A declared check-out of an OTP API user's vault account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutSpec {
    pub requested_by: ProfileId,
    pub approved_by: BTreeSet<ProfileId>,
}

/// A predefined request (PDR) submitted to the target as a named profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// `TEAM-CREATE`: a new team with all its groups.
    TeamCreate { team: TeamId, state: TeamState },
    /// `TEAM-UPDATE`: replaces the whole team.
    TeamUpdate { team: TeamId, state: TeamState },
    /// `TEAM-MEMBERS`: replaces the member lists of the named groups.
    TeamMembers {
        team: TeamId,
        groups: BTreeMap<GroupName, BTreeSet<ProfileId>>,
    },
    /// `TEAM-DELETE`: removes a team that holds no systems or accounts.
    TeamDelete { team: TeamId },
    /// `CREATE_PAMUTIL_API_USER`.
    CreateOtpApiUser { spec: OtpApiUserSpec },
}

/// The PDR IDs and the non-PDR operations a plan step can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RequestKind {
    #[serde(rename = "TEAM-CREATE")]
    TeamCreate,
    #[serde(rename = "TEAM-UPDATE")]
    TeamUpdate,
    #[serde(rename = "TEAM-MEMBERS")]
    TeamMembers,
    #[serde(rename = "TEAM-DELETE")]
    TeamDelete,
    #[serde(rename = "CREATE_PAMUTIL_API_USER")]
    CreateOtpApiUser,
    /// Request, approval and check-out of an OTP vault account (not a PDR).
    #[serde(rename = "CHECKOUT")]
    Checkout,
}

impl RequestKind {
    pub fn id(self) -> &'static str {
        match self {
            RequestKind::TeamCreate => "TEAM-CREATE",
            RequestKind::TeamUpdate => "TEAM-UPDATE",
            RequestKind::TeamMembers => "TEAM-MEMBERS",
            RequestKind::TeamDelete => "TEAM-DELETE",
            RequestKind::CreateOtpApiUser => "CREATE_PAMUTIL_API_USER",
            RequestKind::Checkout => "CHECKOUT",
        }
    }

    pub fn from_id(id: &str) -> Option<RequestKind> {
        [
            RequestKind::TeamCreate,
            RequestKind::TeamUpdate,
            RequestKind::TeamMembers,
            RequestKind::TeamDelete,
            RequestKind::CreateOtpApiUser,
            RequestKind::Checkout,
        ]
        .into_iter()
        .find(|k| k.id() == id)
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Request {
    pub fn kind(&self) -> RequestKind {
        match self {
            Request::TeamCreate { .. } => RequestKind::TeamCreate,
            Request::TeamUpdate { .. } => RequestKind::TeamUpdate,
            Request::TeamMembers { .. } => RequestKind::TeamMembers,
            Request::TeamDelete { .. } => RequestKind::TeamDelete,
            Request::CreateOtpApiUser { .. } => RequestKind::CreateOtpApiUser,
        }
    }

    pub fn team(&self) -> &TeamId {
        match self {
            Request::TeamCreate { team, .. }
            | Request::TeamUpdate { team, .. }
            | Request::TeamMembers { team, .. }
            | Request::TeamDelete { team } => team,
            Request::CreateOtpApiUser { spec } => &spec.team,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The desired view: what the manifests declare.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredTeam {
    pub state: TeamState,
    pub requested_by: ProfileId,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredOtpApiUser {
    pub spec: OtpApiUserSpec,
    pub requested_by: ProfileId,
}

/// Everything a manifest directory declares, validated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Desired {
    pub teams: BTreeMap<TeamId, DesiredTeam>,
    pub otp_api_users: BTreeMap<OtpUserName, DesiredOtpApiUser>,
    pub checkouts: BTreeMap<OtpUserName, CheckoutSpec>,
    /// `[[import]]` blocks: the address to adopt and the target's ID for it.
    pub imports: BTreeMap<Address, RemoteId>,
}

// ---------------------------------------------------------------------------------------------
// The recorded view: what the state file remembers pamform applied.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedTeam {
    pub state: TeamState,
    pub requested_by: ProfileId,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedOtpApiUser {
    pub spec: OtpApiUserSpec,
    pub remote: OtpApiUserRemote,
    pub requested_by: ProfileId,
}

/// A check-out pamform performed: the OTP vault account is bound and must never be checked out again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedCheckout {
    pub spec: CheckoutSpec,
    /// The GUID of the OTP API user whose vault account was checked out.
    pub otp_guid: RemoteId,
    pub request_id: RemoteId,
    pub checkout_id: RemoteId,
    pub bound_at: String,
}

/// Everything the state file records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    pub teams: BTreeMap<TeamId, RecordedTeam>,
    pub otp_api_users: BTreeMap<OtpUserName, RecordedOtpApiUser>,
    pub checkouts: BTreeMap<OtpUserName, RecordedCheckout>,
}

// ---------------------------------------------------------------------------------------------
// The observed view: what the target holds now (metadata only, never secrets).
// ---------------------------------------------------------------------------------------------

/// The target's check-out policy for OTP vault accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct Policy {
    /// Approvals a check-out request needs (0: none).
    pub min_authorizers: u32,
    /// How many previous one-time passwords still log in.
    pub otp_maximum: u32,
    /// Default check-out window in minutes (5 to 1440).
    pub checkout_minutes: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_authorizers: 1,
            otp_maximum: 0,
            checkout_minutes: 240,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct ObservedProfile {
    /// Member of `PAM_TEAM_ADMINS`: may create and delete teams.
    pub team_admin: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct ObservedTeam {
    pub state: TeamState,
    /// Managed systems and accounts the team holds (a team holding any cannot be deleted).
    pub holdings: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct ObservedAccount {
    pub guid: RemoteId,
    /// The team the account is onboarded to, if any.
    pub team: Option<TeamId>,
    /// The managed system policy: `ONBOARDED_ACCOUNTS`, `PAM_OTP_ACCOUNTS`, ...
    pub policy: String,
}

/// The state of an open check-out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct OpenCheckout {
    pub checkout_id: RemoteId,
    pub request_id: RemoteId,
    pub holder: ProfileId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct ObservedOtpApiUser {
    pub spec: OtpApiUserSpec,
    pub remote: OtpApiUserRemote,
    /// How many times the vault account has ever been checked out.
    pub checkouts_ever: u64,
    /// The check-out open now, if any.
    pub open_checkout: Option<OpenCheckout>,
}

/// What plan asks the target about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    pub teams: BTreeSet<TeamId>,
    pub profiles: BTreeSet<ProfileId>,
    pub accounts: BTreeSet<AccountRef>,
    pub otp_guids: BTreeSet<RemoteId>,
}

/// The target's view of everything in a [`Scope`]. Absent keys do not exist in the target.
/// `otp_api_users` holds every OTP API user of the scoped teams plus those named by GUID.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Observed {
    pub policy: Policy,
    pub teams: BTreeMap<TeamId, ObservedTeam>,
    pub profiles: BTreeMap<ProfileId, ObservedProfile>,
    pub accounts: BTreeMap<AccountRef, ObservedAccount>,
    pub otp_api_users: BTreeMap<RemoteId, ObservedOtpApiUser>,
}

// ---------------------------------------------------------------------------------------------
// The seed of an embedded target.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedProfile {
    pub id: ProfileId,
    pub name: String,
    pub team_admin: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedAccount {
    pub account: AccountRef,
    pub team: Option<TeamId>,
}

/// What an embedded target starts with: settings, profiles, systems, onboarded accounts, teams.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seed {
    pub policy: Policy,
    pub profiles: Vec<SeedProfile>,
    pub systems: Vec<SystemId>,
    pub accounts: Vec<SeedAccount>,
    pub teams: BTreeMap<TeamId, TeamState>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip() {
        for text in [
            "team.CORP-AD",
            "group.CORP-AD/OTP API Trustee",
            "privilege.CORP-AD/OTP API Trustee/OTP_Trustees",
            "member.CORP-AD/Approvers/carol",
            "otp_api_user.billing-batch",
            "checkout.billing-batch",
        ] {
            let address: Address = text.parse().unwrap();
            assert_eq!(address.to_string(), text);
        }
    }

    #[test]
    fn bad_addresses_are_rejected() {
        for text in [
            "",
            "team",
            "team.",
            "group.CORP-AD",
            "privilege.T/G/Nope",
            "member.T//m",
            "widget.x",
        ] {
            assert!(text.parse::<Address>().is_err(), "{text:?} parsed");
        }
    }

    #[test]
    fn privilege_tokens_round_trip() {
        for p in Privilege::ALL {
            assert_eq!(Privilege::from_token(p.token()), Some(p));
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.token()));
        }
        assert_eq!(Privilege::from_token("otp_trustees"), None);
    }

    #[test]
    fn account_refs_parse() {
        let a: AccountRef = "CORP-DC/svc_billing".parse().unwrap();
        assert_eq!(a, AccountRef::new("CORP-DC", "svc_billing"));
        for bad in ["CORP-DC", "/x", "x/", "a/b/c", "A B/c"] {
            assert!(bad.parse::<AccountRef>().is_err(), "{bad:?} parsed");
        }
    }
}
