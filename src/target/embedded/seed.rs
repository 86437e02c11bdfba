//! Seeding a new target file from a [`Seed`]: policy, profiles, systems, onboarded accounts with
//! random passwords, and teams; plus the key check that ties a key file to its target file.
//!
//! Invariants: a seed is validated whole before anything is written (rules 1 and 2 on every team,
//! members and account teams must exist, the policy within the product's limits); seeding runs in
//! the transaction that creates the schema, so it happens once per file.

use std::collections::BTreeSet;

use anyhow::{anyhow, bail};
use rusqlite::{Connection, OptionalExtension};

use super::store::{self, AccountRow};
use super::values;
use crate::crypto::{self, Key};
use crate::model::{ProfileId, Seed, rules};
use crate::secret::Secret;

const KEY_CHECK: &str = "key-check";
const KEY_CHECK_AAD: &str = "meta:key-check";
const KEY_CHECK_VALUE: &str = "pamform target key check";

/// Writes the seed into a file whose schema was just created.
pub fn apply(conn: &Connection, key: &Key, now: i64, seed: &Seed) -> anyhow::Result<()> {
    validate(seed)?;
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)",
        rusqlite::params![
            KEY_CHECK,
            crypto::seal(key, KEY_CHECK_AAD, &Secret::new(KEY_CHECK_VALUE.to_owned()))
        ],
    )?;
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('created_at', ?1)",
        [values::rfc3339(now)],
    )?;
    store::set_policy(conn, &seed.policy)?;
    for profile in &seed.profiles {
        store::insert_profile(conn, &profile.id, &profile.name, profile.team_admin)?;
    }
    for system in &seed.systems {
        store::insert_system(conn, system.as_str())?;
    }
    for account in &seed.accounts {
        let row = AccountRow {
            guid: values::new_guid(),
            account: account.account.clone(),
            team: account.team.clone(),
            policy: store::ONBOARDED_ACCOUNTS.to_owned(),
        };
        store::insert_account(conn, key, &row, &values::new_password())?;
    }
    for (team, state) in &seed.teams {
        store::save_team(conn, team, state)?;
    }
    store::log(
        conn,
        now,
        "SEED",
        "(seed)",
        "target",
        None,
        &format!(
            "done: {} profile(s), {} system(s), {} account(s), {} team(s)",
            seed.profiles.len(),
            seed.systems.len(),
            seed.accounts.len(),
            seed.teams.len()
        ),
    )?;
    Ok(())
}

/// Proves `key` is the key this file's secrets were sealed with.
pub fn check_key(conn: &Connection, key: &Key) -> anyhow::Result<()> {
    let sealed: Vec<u8> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [KEY_CHECK],
            |row| row.get(0),
        )
        .optional()?
        .ok_or_else(|| anyhow!("the target file has no key check"))?;
    let opened = crypto::open(key, KEY_CHECK_AAD, &sealed)?;
    if opened.expose() != KEY_CHECK_VALUE {
        bail!("the key check of the target file holds an unexpected value");
    }
    Ok(())
}

fn validate(seed: &Seed) -> anyhow::Result<()> {
    let policy = &seed.policy;
    if !(5..=1440).contains(&policy.checkout_minutes) {
        bail!(
            "the seed's check-out window is {} minutes; the product allows 5 to 1440",
            policy.checkout_minutes
        );
    }
    let mut profiles = BTreeSet::new();
    for profile in &seed.profiles {
        if !profiles.insert(&profile.id) {
            bail!("the seed lists profile {} twice", profile.id);
        }
    }
    let systems: BTreeSet<_> = seed.systems.iter().collect();
    let mut accounts = BTreeSet::new();
    for account in &seed.accounts {
        if !systems.contains(&account.account.system) {
            bail!(
                "seed account {} is on managed system {}, which the seed does not list",
                account.account,
                account.account.system
            );
        }
        if !accounts.insert(&account.account) {
            bail!("the seed lists managed account {} twice", account.account);
        }
        if let Some(team) = account
            .team
            .as_ref()
            .filter(|t| !seed.teams.contains_key(*t))
        {
            bail!(
                "seed account {} belongs to team {team}, which the seed does not create",
                account.account
            );
        }
    }
    for (team, state) in &seed.teams {
        let violations = rules::check_team_shape(team, state);
        if let Some(first) = violations.first() {
            bail!("the seed's team {team} breaks the product's rules: {first}");
        }
        for group in state.groups.values() {
            if let Some(unknown) = group.members.iter().find(|m| !profiles.contains(m)) {
                let unknown: &ProfileId = unknown;
                bail!(
                    "the seed's team {team} names profile {unknown}, which the seed does not list"
                );
            }
        }
    }
    Ok(())
}
