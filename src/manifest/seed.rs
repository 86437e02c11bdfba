//! The seed file of an embedded target -> `model::Seed`: policy settings, profiles, managed
//! systems, onboarded accounts and the teams that exist already.
//!
//! Invariants: one file, read with the same limits and diagnostics as manifests; profiles and
//! systems are read before teams and accounts, so references resolve within the single pass
//! whatever the order of the blocks in the file.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

use crate::model::{
    AccountRef, Policy, ProfileId, Seed, SeedAccount, SeedProfile, SystemId, TeamId,
    check_plain_id, check_team_id,
};

use super::diagnostic::Site;
use super::team::{self, Members};
use super::walk::{Cx, Fields};

pub(crate) const SEED_KEYS: &[&str] = &[
    "settings",
    "profile",
    "managed_system",
    "managed_account",
    "team",
];
pub(crate) const SETTINGS_KEYS: &[&str] = &["min_authorizers", "otp_maximum", "checkout_minutes"];
pub(crate) const PROFILE_KEYS: &[&str] = &["id", "name", "team_admin"];
pub(crate) const SYSTEM_KEYS: &[&str] = &["id"];
pub(crate) const ACCOUNT_KEYS: &[&str] = &["system", "account", "team"];

/// The allowed check-out window, in minutes.
const CHECKOUT_MINUTES: std::ops::RangeInclusive<u32> = 5..=1440;

pub(crate) fn read_seed(cx: &mut Cx<'_>, mut root: Fields<'_>) -> Seed {
    let mut seed = Seed::default();

    if let Some((key_span, value)) = root.take_with_key("settings")
        && let Some(mut fields) = cx.table(key_span, value, "settings", "[settings]")
    {
        seed.policy = read_policy(cx, &mut fields);
        fields.finish(cx, SETTINGS_KEYS);
    }

    // A block whose name could not be read makes "undeclared" guesswork for its kind: such
    // references are then not reported.
    let (mut profiles_incomplete, mut systems_incomplete, mut teams_incomplete) =
        (false, false, false);
    let mut profiles: HashMap<ProfileId, Site> = HashMap::new();
    if let Some((key_span, value)) = root.take_with_key("profile") {
        let before = cx.count();
        let blocks = cx.tables(key_span, value, "profile", "[[profile]]");
        profiles_incomplete |= cx.count() != before;
        for mut fields in blocks {
            let id = cx.required_string(&mut fields, "id");
            let name = cx.optional_string(&mut fields, "name");
            let team_admin = match fields.take("team_admin") {
                None => false,
                Some(value) => match value.get_ref().as_bool() {
                    Some(flag) => flag,
                    None => {
                        cx.error(
                            value.span(),
                            "wrong-type",
                            format!(
                                "wrong type for \"team_admin\": expected a boolean, found {}",
                                super::walk::type_name(value.get_ref())
                            ),
                        );
                        false
                    }
                },
            };
            fields.finish(cx, PROFILE_KEYS);
            let Some(id) = id else {
                profiles_incomplete = true;
                continue;
            };
            let span = id.span();
            let text = id.into_inner();
            if let Err(e) = check_plain_id(&text) {
                cx.error(
                    span.clone(),
                    "invalid-id",
                    format!("invalid profile ID {text:?}: {e}"),
                );
            }
            let id = ProfileId::new(text);
            let site = cx.site(span.clone());
            match profiles.entry(id) {
                Entry::Occupied(first) => {
                    cx.error(
                        span,
                        "duplicate-profile",
                        format!("duplicate profile {:?}", first.key().as_str()),
                    )
                    .help("declare each profile once")
                    .first_declared(first.get().clone());
                }
                Entry::Vacant(slot) => {
                    seed.profiles.push(SeedProfile {
                        id: slot.key().clone(),
                        name: name
                            .map(|n| n.into_inner().into_owned())
                            .unwrap_or_default(),
                        team_admin,
                    });
                    slot.insert(site);
                }
            }
        }
    }

    let mut systems: HashMap<SystemId, Site> = HashMap::new();
    if let Some((key_span, value)) = root.take_with_key("managed_system") {
        let before = cx.count();
        let blocks = cx.tables(key_span, value, "managed_system", "[[managed_system]]");
        systems_incomplete |= cx.count() != before;
        for mut fields in blocks {
            let id = cx.required_string(&mut fields, "id");
            fields.finish(cx, SYSTEM_KEYS);
            let Some(id) = id else {
                systems_incomplete = true;
                continue;
            };
            let span = id.span();
            let text = id.into_inner();
            if let Err(e) = check_plain_id(&text) {
                cx.error(
                    span.clone(),
                    "invalid-id",
                    format!("invalid managed system ID {text:?}: {e}"),
                );
            }
            let id = SystemId::new(text);
            let site = cx.site(span.clone());
            match systems.entry(id) {
                Entry::Occupied(first) => {
                    cx.error(
                        span,
                        "duplicate-system",
                        format!("duplicate managed system {:?}", first.key().as_str()),
                    )
                    .help("declare each managed system once")
                    .first_declared(first.get().clone());
                }
                Entry::Vacant(slot) => {
                    seed.systems.push(slot.key().clone());
                    slot.insert(site);
                }
            }
        }
    }

    let declared_profiles: HashSet<ProfileId> = profiles.into_keys().collect();
    let members = if profiles_incomplete {
        Members::Any
    } else {
        Members::Declared(&declared_profiles)
    };
    let mut teams: BTreeMap<TeamId, Site> = BTreeMap::new();
    if let Some((key_span, value)) = root.take_with_key("team") {
        let before = cx.count();
        let blocks = cx.tables(key_span, value, "team", "[[team]]");
        teams_incomplete |= cx.count() != before;
        for fields in blocks {
            let Some(read) = team::read_team(cx, fields, false, &members) else {
                teams_incomplete = true;
                continue;
            };
            let site = cx.site(read.id_span.clone());
            if let Some(first) = teams.get(&read.id) {
                cx.error(
                    read.id_span,
                    "duplicate-team",
                    format!("duplicate team {:?}", read.id.as_str()),
                )
                .help("each team is declared once; merge the two [[team]] blocks")
                .first_declared(first.clone());
                continue;
            }
            teams.insert(read.id.clone(), site);
            seed.teams.insert(read.id, read.state);
        }
    }

    let mut accounts: HashMap<AccountRef, Site> = HashMap::new();
    if let Some((key_span, value)) = root.take_with_key("managed_account") {
        for mut fields in cx.tables(key_span, value, "managed_account", "[[managed_account]]") {
            let system = cx.required_string(&mut fields, "system");
            let account = cx.required_string(&mut fields, "account");
            let team = cx.optional_string(&mut fields, "team");
            fields.finish(cx, ACCOUNT_KEYS);

            let team = team.and_then(|team| {
                let span = team.span();
                let text = team.into_inner();
                if let Err(e) = check_team_id(&text) {
                    cx.error(span, "invalid-id", format!("invalid team ID {text:?}: {e}"));
                    return None;
                }
                let id = TeamId::new(text);
                if !teams_incomplete && !teams.contains_key(&id) {
                    cx.error(
                        span,
                        "undeclared-team",
                        format!("undeclared team {:?}", id.as_str()),
                    )
                    .help(format!(
                        "declare it with a [[team]] block with id = {:?}",
                        id.as_str()
                    ));
                }
                Some(id)
            });
            let (Some(system), Some(account)) = (system, account) else {
                continue;
            };
            let joined = format!("{}/{}", system.get_ref(), account.get_ref());
            let account_ref = match AccountRef::from_str(&joined) {
                Ok(account_ref) => account_ref,
                Err(e) => {
                    cx.error(
                        account.span(),
                        "invalid-account",
                        format!("invalid account: {e}"),
                    );
                    continue;
                }
            };
            if !systems_incomplete && !systems.contains_key(&account_ref.system) {
                cx.error(
                    system.span(),
                    "undeclared-system",
                    format!(
                        "undeclared managed system {:?}",
                        account_ref.system.as_str()
                    ),
                )
                .help(format!(
                    "declare it with a [[managed_system]] block with id = {:?}",
                    account_ref.system.as_str()
                ));
            }
            let site = cx.site(account.span());
            match accounts.entry(account_ref) {
                Entry::Occupied(first) => {
                    cx.error(
                        account.span(),
                        "duplicate-account",
                        format!("duplicate managed account \"{}\"", first.key()),
                    )
                    .help("declare each managed account once")
                    .first_declared(first.get().clone());
                }
                Entry::Vacant(slot) => {
                    seed.accounts.push(SeedAccount {
                        account: slot.key().clone(),
                        team,
                    });
                    slot.insert(site);
                }
            }
        }
    }

    root.finish(cx, SEED_KEYS);
    seed
}

fn read_policy(cx: &mut Cx<'_>, fields: &mut Fields<'_>) -> Policy {
    let mut policy = Policy::default();
    if let Some((value, _)) = cx.optional_u32(fields, "min_authorizers") {
        policy.min_authorizers = value;
    }
    if let Some((value, _)) = cx.optional_u32(fields, "otp_maximum") {
        policy.otp_maximum = value;
    }
    if let Some((value, span)) = cx.optional_u32(fields, "checkout_minutes") {
        if CHECKOUT_MINUTES.contains(&value) {
            policy.checkout_minutes = value;
        } else {
            cx.error(
                span,
                "invalid-setting",
                format!(
                    "invalid checkout_minutes {value}: expected {} to {} minutes",
                    CHECKOUT_MINUTES.start(),
                    CHECKOUT_MINUTES.end()
                ),
            );
        }
    }
    policy
}
