//! Manifest files -> `model::Desired`: reads each file's declarations and merges them into one
//! desired view, reporting duplicates across files and, once every file is read, references to
//! teams and OTP API users that no file declares.
//!
//! Invariants: duplicate detection uses hash maps keyed by the declared name (never a scan per
//! item); the first declaration wins and later ones point back at it; references are checked
//! after the last file, so a declaration may come in any file.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::str::FromStr;

use crate::model::{
    AccountRef, Address, CheckoutSpec, DEFAULT_ALLOWED_NETWORK, Desired, DesiredOtpApiUser,
    DesiredTeam, OtpApiUserSpec, OtpUserName, ProfileId, RemoteId, TeamId, check_plain_id,
    check_team_id,
};

use super::diagnostic::{Diagnostics, Site};
use super::suggest;
use super::team::{self, Members};
use super::values::{normalize_network, otp_guid};
use super::walk::{Cx, Fields};
use super::{TARGET_KINDS, TargetKind};

pub(crate) const TOP_KEYS: &[&str] = &["pamform", "team", "otp_api_user", "checkout", "import"];
pub(crate) const PAMFORM_KEYS: &[&str] = &["state", "target"];
pub(crate) const TARGET_KEYS: &[&str] = &["kind", "path", "seed"];
pub(crate) const OTP_API_USER_KEYS: &[&str] = &[
    "name",
    "team",
    "description",
    "accounts",
    "requested_by",
    "allowed_network",
];
pub(crate) const CHECKOUT_KEYS: &[&str] = &["otp_api_user", "requested_by", "approved_by"];
pub(crate) const IMPORT_KEYS: &[&str] = &["to", "id"];

/// The `[pamform]` table as written (paths not yet resolved against the manifest directory).
#[derive(Debug, Default)]
pub(crate) struct RawSettings {
    pub state: Option<String>,
    pub kind: Option<TargetKind>,
    pub target_path: Option<String>,
    pub seed: Option<String>,
}

/// Above this many declared names, undeclared references get no "did you mean" (it would cost a
/// distance computation per declared name and per error).
const SUGGESTION_POOL_LIMIT: usize = 1000;

/// The merge of every manifest file read so far.
#[derive(Default)]
pub(crate) struct Merge {
    pub desired: Desired,
    pub settings: RawSettings,
    settings_site: Option<Site>,
    teams: HashMap<TeamId, Site>,
    users: HashMap<OtpUserName, Site>,
    checkouts: HashMap<OtpUserName, Site>,
    imports: HashMap<Address, Site>,
    /// References resolved once every file is read.
    team_refs: Vec<(TeamId, Site)>,
    user_refs: Vec<(OtpUserName, Site)>,
    import_refs: Vec<(Address, Site)>,
    /// Some team or OTP API user block could not be read far enough to know its name, so a
    /// reference to an undeclared one may well mean that block: not reported.
    teams_incomplete: bool,
    users_incomplete: bool,
}

impl Merge {
    /// Reads one parsed manifest file into the merge.
    pub fn add_file(&mut self, cx: &mut Cx<'_>, mut root: Fields<'_>) {
        if let Some((key_span, value)) = root.take_with_key("pamform")
            && let Some(fields) = cx.table(key_span, value, "pamform", "[pamform]")
        {
            self.read_settings(cx, fields);
        }
        if let Some((key_span, value)) = root.take_with_key("team") {
            let before = cx.count();
            let blocks = cx.tables(key_span, value, "team", "[[team]]");
            self.teams_incomplete |= cx.count() != before;
            for fields in blocks {
                self.read_team(cx, fields);
            }
        }
        if let Some((key_span, value)) = root.take_with_key("otp_api_user") {
            let before = cx.count();
            let blocks = cx.tables(key_span, value, "otp_api_user", "[[otp_api_user]]");
            self.users_incomplete |= cx.count() != before;
            for fields in blocks {
                self.read_otp_api_user(cx, fields);
            }
        }
        if let Some((key_span, value)) = root.take_with_key("checkout") {
            for fields in cx.tables(key_span, value, "checkout", "[[checkout]]") {
                self.read_checkout(cx, fields);
            }
        }
        if let Some((key_span, value)) = root.take_with_key("import") {
            for fields in cx.tables(key_span, value, "import", "[[import]]") {
                self.read_import(cx, fields);
            }
        }
        root.finish(cx, TOP_KEYS);
    }

    fn read_settings(&mut self, cx: &mut Cx<'_>, mut fields: Fields<'_>) {
        let site = cx.site(fields.span.clone());
        if let Some(first) = &self.settings_site {
            cx.error(
                fields.span.clone(),
                "duplicate-settings",
                "a second [pamform] table; settings may appear in one file only",
            )
            .help("merge the two [pamform] tables into one")
            .first_declared(first.clone());
            // Still read it, for the other errors it may hold, but keep the first one's values.
            let mut ignored = RawSettings::default();
            read_settings_into(cx, &mut fields, &mut ignored);
            fields.finish(cx, PAMFORM_KEYS);
            return;
        }
        self.settings_site = Some(site);
        read_settings_into(cx, &mut fields, &mut self.settings);
        fields.finish(cx, PAMFORM_KEYS);
    }

    fn read_team(&mut self, cx: &mut Cx<'_>, fields: Fields<'_>) {
        let Some(read) = team::read_team(cx, fields, true, &Members::Any) else {
            self.teams_incomplete = true;
            return;
        };
        let site = cx.site(read.id_span.clone());
        match self.teams.entry(read.id) {
            Entry::Occupied(first) => {
                cx.error(
                    read.id_span,
                    "duplicate-team",
                    format!("duplicate team {:?}", first.key().as_str()),
                )
                .help("each team is declared once; merge the two [[team]] blocks")
                .first_declared(first.get().clone());
            }
            Entry::Vacant(slot) => {
                let id = slot.key().clone();
                slot.insert(site);
                // A team whose requested_by was invalid is reported already; the placeholder
                // keeps references to the team from cascading into more errors.
                let requested_by = read.requested_by.unwrap_or_else(|| ProfileId::new(""));
                self.desired.teams.insert(
                    id,
                    DesiredTeam {
                        state: read.state,
                        requested_by,
                    },
                );
            }
        }
    }

    fn read_otp_api_user(&mut self, cx: &mut Cx<'_>, mut fields: Fields<'_>) {
        let name = cx.required_string(&mut fields, "name");
        let team = cx.required_string(&mut fields, "team");
        let description = cx.required_string(&mut fields, "description");
        let requested_by = cx.required_string(&mut fields, "requested_by");
        let requested_by = requested_by.and_then(|v| profile(cx, v, "requested_by"));
        let allowed_network = match cx.optional_string(&mut fields, "allowed_network") {
            None => Some(DEFAULT_ALLOWED_NETWORK.to_owned()),
            Some(value) => match normalize_network(value.get_ref()) {
                Ok(network) => Some(network),
                Err(e) => {
                    cx.error(
                        value.span(),
                        "invalid-network",
                        format!("invalid allowed_network {:?}: {e}", value.get_ref()),
                    )
                    .help("write an IPv4 or IPv6 network as address/prefix, e.g. \"10.20.0.0/24\"");
                    None
                }
            },
        };

        let mut accounts = std::collections::BTreeSet::new();
        match fields.take("accounts") {
            None => {
                cx.error(
                    fields.span.clone(),
                    "missing-key",
                    "missing required key \"accounts\" in [[otp_api_user]]",
                )
                .help("add `accounts = [\"SYSTEM/account\"]`");
            }
            Some(value) => {
                let mut first: HashMap<&str, std::ops::Range<usize>> = HashMap::new();
                let mut any = false;
                let span = cx.strings(&value, "accounts", |cx, text, span| {
                    any = true;
                    match AccountRef::from_str(text) {
                        Ok(account) => match first.entry(text) {
                            Entry::Occupied(entry) => {
                                let site = cx.site(entry.get().clone());
                                cx.error(
                                    span,
                                    "duplicate-account",
                                    format!("duplicate account {text:?}"),
                                )
                                .help("list each account once")
                                .first_listed(site);
                            }
                            Entry::Vacant(entry) => {
                                entry.insert(span);
                                accounts.insert(account);
                            }
                        },
                        Err(e) => {
                            cx.error(span, "invalid-account", format!("invalid account: {e}"))
                                .help(
                                    "name a managed account as \"<managed system>/<account>\", \
                                     e.g. \"CORP-DC/svc_billing\"",
                                );
                        }
                    }
                });
                if let Some(span) = span
                    && !any
                {
                    cx.error(
                        span,
                        "empty-accounts",
                        "an OTP API user needs at least one managed account, found none",
                    )
                    .help(
                        "list the onboarded accounts of the team whose passwords the API user \
                         may read, e.g. [\"CORP-DC/svc_billing\"]",
                    );
                }
            }
        }
        fields.finish(cx, OTP_API_USER_KEYS);

        let team = team.and_then(|value| {
            let span = value.span();
            let text = value.into_inner();
            if let Err(e) = check_team_id(&text) {
                cx.error(span, "invalid-id", format!("invalid team ID {text:?}: {e}"));
                return None;
            }
            let id = TeamId::new(text);
            self.team_refs.push((id.clone(), cx.site(span)));
            Some(id)
        });
        let Some(name) = name else {
            self.users_incomplete = true;
            return;
        };
        let name_span = name.span();
        let name = name.into_inner();
        if let Err(e) = check_plain_id(&name) {
            cx.error(
                name_span.clone(),
                "invalid-id",
                format!("invalid OTP API user name {name:?}: {e}"),
            );
        }
        let name = OtpUserName::new(name);
        let site = cx.site(name_span.clone());
        match self.users.entry(name) {
            Entry::Occupied(first) => {
                cx.error(
                    name_span,
                    "duplicate-otp-api-user",
                    format!("duplicate OTP API user {:?}", first.key().as_str()),
                )
                .help("each OTP API user is declared once; remove or rename one of them")
                .first_declared(first.get().clone());
            }
            Entry::Vacant(slot) => {
                let name = slot.key().clone();
                slot.insert(site);
                if let (Some(team), Some(description), Some(requested_by), Some(allowed_network)) =
                    (team, description, requested_by, allowed_network)
                {
                    self.desired.otp_api_users.insert(
                        name,
                        DesiredOtpApiUser {
                            spec: OtpApiUserSpec {
                                team,
                                description: description.into_inner().into_owned(),
                                accounts,
                                allowed_network,
                            },
                            requested_by,
                        },
                    );
                }
            }
        }
    }

    fn read_checkout(&mut self, cx: &mut Cx<'_>, mut fields: Fields<'_>) {
        let user = cx.required_string(&mut fields, "otp_api_user");
        let requested_by = cx.required_string(&mut fields, "requested_by");
        let requested_by = requested_by.and_then(|v| profile(cx, v, "requested_by"));
        let mut approved_by = std::collections::BTreeSet::new();
        if let Some(value) = fields.take("approved_by") {
            let mut first: HashMap<&str, std::ops::Range<usize>> = HashMap::new();
            cx.strings(&value, "approved_by", |cx, text, span| {
                if let Err(e) = check_plain_id(text) {
                    cx.error(
                        span,
                        "invalid-id",
                        format!("invalid profile ID {text:?} in \"approved_by\": {e}"),
                    );
                    return;
                }
                match first.entry(text) {
                    Entry::Occupied(entry) => {
                        let site = cx.site(entry.get().clone());
                        cx.error(
                            span,
                            "duplicate-approver",
                            format!("duplicate approver {text:?}"),
                        )
                        .help("list each approver once")
                        .first_listed(site);
                    }
                    Entry::Vacant(entry) => {
                        entry.insert(span);
                        approved_by.insert(ProfileId::new(text));
                    }
                }
            });
        }
        fields.finish(cx, CHECKOUT_KEYS);

        let Some(user) = user else { return };
        let span = user.span();
        let text = user.into_inner();
        if let Err(e) = check_plain_id(&text) {
            cx.error(
                span,
                "invalid-id",
                format!("invalid OTP API user name {text:?}: {e}"),
            );
            return;
        }
        let name = OtpUserName::new(text);
        let site = cx.site(span.clone());
        self.user_refs.push((name.clone(), site.clone()));
        match self.checkouts.entry(name) {
            Entry::Occupied(first) => {
                cx.error(
                    span,
                    "duplicate-checkout",
                    format!(
                        "duplicate check-out of OTP API user {:?}",
                        first.key().as_str()
                    ),
                )
                .help(
                    "an OTP vault account is checked out once, ever; declare one [[checkout]] \
                     per OTP API user",
                )
                .first_declared(first.get().clone());
            }
            Entry::Vacant(slot) => {
                let name = slot.key().clone();
                slot.insert(site);
                if let Some(requested_by) = requested_by {
                    self.desired.checkouts.insert(
                        name,
                        CheckoutSpec {
                            requested_by,
                            approved_by,
                        },
                    );
                }
            }
        }
    }

    fn read_import(&mut self, cx: &mut Cx<'_>, mut fields: Fields<'_>) {
        let to = cx.required_string(&mut fields, "to");
        let id = cx.required_string(&mut fields, "id");
        fields.finish(cx, IMPORT_KEYS);
        let Some(to) = to else { return };
        let to_span = to.span();
        let address = match Address::from_str(to.get_ref()) {
            Ok(address) => address,
            Err(e) => {
                cx.error(
                    to_span,
                    "invalid-import",
                    format!("invalid import address: {e}"),
                )
                .help("only team.<team> and otp_api_user.<name> can be imported");
                return;
            }
        };
        let remote = match (&address, &id) {
            (Address::Team(team), Some(id)) => {
                if id.get_ref().as_ref() == team.as_str() {
                    Some(RemoteId::new(team.as_str()))
                } else {
                    cx.error(
                        id.span(),
                        "invalid-import",
                        format!(
                            "the id of an imported team must be its team ID {:?}, found {:?}",
                            team.as_str(),
                            id.get_ref()
                        ),
                    );
                    None
                }
            }
            (Address::OtpApiUser(_), Some(id)) => match otp_guid(id.get_ref()) {
                Ok(guid) => Some(RemoteId::new(guid)),
                Err(e) => {
                    cx.error(
                        id.span(),
                        "invalid-import",
                        format!("invalid id {:?}: {e}", id.get_ref()),
                    );
                    None
                }
            },
            (Address::Team(_) | Address::OtpApiUser(_), None) => None,
            (other, _) => {
                cx.error(
                    to_span,
                    "invalid-import",
                    format!("{} addresses cannot be imported", other.kind()),
                )
                .help("only team.<team> and otp_api_user.<name> can be imported");
                return;
            }
        };
        let site = cx.site(to_span.clone());
        match self.imports.entry(address) {
            Entry::Occupied(first) => {
                cx.error(
                    to_span,
                    "duplicate-import",
                    format!("duplicate import of {}", first.key()),
                )
                .help("import each object once")
                .first_declared(first.get().clone());
            }
            Entry::Vacant(slot) => {
                let address = slot.key().clone();
                slot.insert(site.clone());
                self.import_refs.push((address.clone(), site));
                if let Some(remote) = remote {
                    self.desired.imports.insert(address, remote);
                }
            }
        }
    }

    /// Checks the references between files. `complete` is false when some file could not be
    /// read or parsed: its declarations are unknown, so "undeclared" would be guesswork and is
    /// not reported.
    pub fn finish(
        mut self,
        diagnostics: &mut Diagnostics,
        complete: bool,
    ) -> (Desired, RawSettings) {
        if complete {
            let team_names = || self.teams.keys().map(TeamId::as_str);
            let user_names = || self.users.keys().map(OtpUserName::as_str);
            for (team, site) in std::mem::take(&mut self.team_refs) {
                if !self.teams_incomplete && !self.teams.contains_key(&team) {
                    let pending = diagnostics.report(
                        site,
                        "undeclared-team",
                        format!("undeclared team {:?}", team.as_str()),
                    );
                    pending.help(declare_help(
                        "a [[team]] block with id",
                        team.as_str(),
                        self.teams.len(),
                        team_names(),
                    ));
                }
            }
            for (user, site) in std::mem::take(&mut self.user_refs) {
                if !self.users_incomplete && !self.users.contains_key(&user) {
                    let pending = diagnostics.report(
                        site,
                        "undeclared-otp-api-user",
                        format!("undeclared OTP API user {:?}", user.as_str()),
                    );
                    pending.help(declare_help(
                        "an [[otp_api_user]] block with name",
                        user.as_str(),
                        self.users.len(),
                        user_names(),
                    ));
                }
            }
            for (address, site) in std::mem::take(&mut self.import_refs) {
                let (declared, help) = match &address {
                    Address::Team(team) => (
                        self.teams_incomplete || self.teams.contains_key(team),
                        declare_help(
                            "a [[team]] block with id",
                            team.as_str(),
                            self.teams.len(),
                            team_names(),
                        ),
                    ),
                    Address::OtpApiUser(user) => (
                        self.users_incomplete || self.users.contains_key(user),
                        declare_help(
                            "an [[otp_api_user]] block with name",
                            user.as_str(),
                            self.users.len(),
                            user_names(),
                        ),
                    ),
                    _ => (true, String::new()),
                };
                if !declared {
                    diagnostics
                        .report(
                            site,
                            "undeclared-import",
                            format!("import of {address}, which the manifest does not declare"),
                        )
                        .help(help)
                        .note("an import adopts an existing object of the target into a declaration of the manifest");
                }
            }
        }
        (self.desired, self.settings)
    }
}

fn declare_help<'a>(
    block: &str,
    name: &str,
    pool: usize,
    declared: impl Iterator<Item = &'a str> + Clone,
) -> String {
    let near = if pool <= SUGGESTION_POOL_LIMIT {
        suggest::nearest(name, declared)
    } else {
        None
    };
    match near {
        Some(near) => {
            format!("did you mean {near:?}? otherwise declare it with {block} = {name:?}")
        }
        None => format!("declare it with {block} = {name:?}"),
    }
}

fn profile(
    cx: &mut Cx<'_>,
    value: toml::Spanned<std::borrow::Cow<'_, str>>,
    key: &str,
) -> Option<ProfileId> {
    let span = value.span();
    let text = value.into_inner();
    match check_plain_id(&text) {
        Ok(()) => Some(ProfileId::new(text)),
        Err(e) => {
            cx.error(
                span,
                "invalid-id",
                format!("invalid profile ID {text:?} in {key:?}: {e}"),
            );
            None
        }
    }
}

fn read_settings_into(cx: &mut Cx<'_>, fields: &mut Fields<'_>, settings: &mut RawSettings) {
    settings.state = path_setting(cx, fields, "state");
    if let Some((key_span, value)) = fields.take_with_key("target")
        && let Some(mut target) = cx.table(key_span, value, "target", "[pamform.target]")
    {
        if let Some(kind) = cx.optional_string(&mut target, "kind") {
            match TARGET_KINDS
                .iter()
                .find(|(name, _)| *name == kind.get_ref().as_ref())
            {
                Some((_, kind)) => settings.kind = Some(*kind),
                None => {
                    let names = TARGET_KINDS.iter().map(|(name, _)| *name);
                    let help = match suggest::nearest(kind.get_ref(), names.clone()) {
                        Some(near) => format!("did you mean {near:?}?"),
                        None => suggest::one_of(names),
                    };
                    cx.error(
                        kind.span(),
                        "unknown-target-kind",
                        format!("unknown target kind {:?}", kind.get_ref()),
                    )
                    .help(help);
                }
            }
        }
        settings.target_path = path_setting(cx, &mut target, "path");
        settings.seed = path_setting(cx, &mut target, "seed");
        target.finish(cx, TARGET_KEYS);
    }
}

fn path_setting(cx: &mut Cx<'_>, fields: &mut Fields<'_>, key: &'static str) -> Option<String> {
    let value = cx.optional_string(fields, key)?;
    if value.get_ref().is_empty() || value.get_ref().contains('\0') {
        cx.error(
            value.span(),
            "invalid-setting",
            format!("invalid {key}: expected a non-empty path"),
        );
        return None;
    }
    Some(value.into_inner().into_owned())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use toml::de::DeTable;

    use super::*;
    use crate::manifest::diagnostic::{Diagnostic, Sources};

    const TEAM: &str = r#"
[[team]]
id = "T"
description = "first"
requested_by = "alice"
  [[team.group]]
  name = "Trustees"
  privileges = ["Team_Trustees"]
  members = ["alice"]
"#;

    const USER: &str = r#"
[[otp_api_user]]
name = "u"
team = "T"
description = "d"
accounts = ["SYS/acct"]
requested_by = "bob"
"#;

    fn merge_files(files: &[&str], complete: bool) -> (Desired, Vec<Diagnostic>) {
        let mut diagnostics = Diagnostics::default();
        let mut merge = Merge::default();
        for (index, text) in files.iter().enumerate() {
            let document = DeTable::parse(text).expect("valid TOML").into_inner();
            let mut cx = Cx {
                file: index as u32,
                diagnostics: &mut diagnostics,
            };
            merge.add_file(&mut cx, Fields::root(document));
        }
        let (desired, _) = merge.finish(&mut diagnostics, complete);
        let sources = Sources {
            paths: (0..files.len())
                .map(|i| PathBuf::from(format!("f{i}.toml")))
                .collect(),
            texts: files.iter().map(|t| Some((*t).to_owned())).collect(),
        };
        (desired, diagnostics.finish(&sources))
    }

    fn rules(diagnostics: &[Diagnostic]) -> Vec<&'static str> {
        diagnostics.iter().map(|d| d.rule).collect()
    }

    #[test]
    fn references_resolve_whatever_the_file_order() {
        for files in [[TEAM, USER], [USER, TEAM]] {
            let (desired, diagnostics) = merge_files(&files, true);
            assert!(diagnostics.is_empty(), "{diagnostics:?}");
            assert_eq!(desired.teams.len(), 1);
            let user = &desired.otp_api_users[&OtpUserName::new("u")];
            assert_eq!(user.spec.team, TeamId::new("T"));
            assert_eq!(user.spec.allowed_network, DEFAULT_ALLOWED_NETWORK);
        }
    }

    #[test]
    fn the_first_declaration_wins_and_the_second_points_back() {
        let second = TEAM.replace("first", "second");
        let (desired, diagnostics) = merge_files(&[TEAM, &second], true);
        assert_eq!(rules(&diagnostics), vec!["duplicate-team"]);
        assert_eq!(diagnostics[0].path, PathBuf::from("f1.toml"));
        assert_eq!(diagnostics[0].notes, vec!["first declared at f0.toml:3:6"]);
        assert_eq!(desired.teams[&TeamId::new("T")].state.description, "first");
    }

    #[test]
    fn undeclared_references_are_reported_once_everything_is_read() {
        let checkout = "[[checkout]]\notp_api_user = \"nobody\"\nrequested_by = \"bob\"\n";
        let (_, diagnostics) = merge_files(&[USER, checkout], true);
        assert_eq!(
            rules(&diagnostics),
            vec!["undeclared-team", "undeclared-otp-api-user"]
        );
        // With a file missing (unreadable or not TOML) they may be declared there: not reported.
        let (_, diagnostics) = merge_files(&[USER, checkout], false);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
    }

    #[test]
    fn a_team_without_a_usable_id_silences_undeclared_teams() {
        let nameless = "[[team]]\nid = 5\nrequested_by = \"alice\"\n";
        let (_, diagnostics) = merge_files(&[nameless, USER], true);
        assert_eq!(rules(&diagnostics), vec!["wrong-type"]);
    }

    #[test]
    fn settings_are_read_from_one_file_only() {
        let a = "[pamform]\nstate = \"a.db\"\n[pamform.target]\npath = \"t.db\"\n";
        let b = "pamform.state = \"b.db\"\n";
        let mut diagnostics = Diagnostics::default();
        let mut merge = Merge::default();
        for (index, text) in [a, b].into_iter().enumerate() {
            let document = DeTable::parse(text).expect("valid TOML").into_inner();
            let mut cx = Cx {
                file: index as u32,
                diagnostics: &mut diagnostics,
            };
            merge.add_file(&mut cx, Fields::root(document));
        }
        let (_, settings) = merge.finish(&mut diagnostics, true);
        assert_eq!(settings.state.as_deref(), Some("a.db"));
        assert_eq!(settings.target_path.as_deref(), Some("t.db"));
        assert_eq!(settings.kind, None);
        let sources = Sources {
            paths: vec![PathBuf::from("a.toml"), PathBuf::from("b.toml")],
            texts: vec![Some(a.to_owned()), Some(b.to_owned())],
        };
        let diagnostics = diagnostics.finish(&sources);
        assert_eq!(rules(&diagnostics), vec!["duplicate-settings"]);
        // A dotted key makes a table without a header: the diagnostic points at the key.
        assert_eq!((diagnostics[0].line, diagnostics[0].column), (1, 1));
    }
}
