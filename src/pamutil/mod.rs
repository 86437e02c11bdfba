//! pamutil against the state: find the binding that may read an account, log in with its one-time
//! password, store the next one durably, then read the password — the way the product's pamutil
//! and runwithpass do, with the state as the credentials file.
//!
//! Invariants:
//! - One lookup at a time per binding: a lock file beside the state is held across the login, the
//!   durable write of the next OTP, and the read.
//! - The intent (`login_started_at`) is committed before the login and cleared in the same
//!   transaction that stores the next OTP, so the only loss window is between the target's reply and
//!   that commit. With the target's `otp_maximum` >= 1 the stored (previous) OTP still logs in once,
//!   so the next lookup recovers by itself; with 0 the loss is detected and reported, never retried.
//! - A handed-off binding is never used again; a password is printed only by `get` and `run`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::apply::binding_aad;
use crate::clock::{now_rfc3339, unix_now};
use crate::crypto::{self, Key};
use crate::failpoint;
use crate::model::{AccountRef, OtpUserName, ProfileId};
use crate::secret::Secret;
use crate::state::lock::{LockError, StateLock};
use crate::state::{Binding, StateStore};
use crate::target::{LoginRejection, Target, TargetError};

/// Why a lookup failed. `Lost` means the binding can no longer log in.
#[derive(Debug)]
pub enum LookupError {
    /// No usable binding grants the account (or the named one does not).
    NoBinding(String),
    /// Another lookup holds the binding's lock.
    Locked(LockError),
    /// The target no longer accepts the binding's one-time password.
    Lost {
        name: OtpUserName,
        interrupted: bool,
    },
    /// The target rejected the login for another reason, or refused the read.
    Rejected(TargetError),
    Other(anyhow::Error),
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LookupError::NoBinding(message) => f.write_str(message),
            LookupError::Locked(e) => write!(f, "{e}"),
            LookupError::Lost { name, interrupted } => {
                write!(
                    f,
                    "the binding of otp_api_user.{name} is lost: the target no longer accepts its one-time password"
                )?;
                if *interrupted {
                    write!(
                        f,
                        " (an earlier lookup was interrupted after the target rotated it, and the target keeps no previous one-time password valid)"
                    )?;
                } else {
                    write!(
                        f,
                        " (its vault account was checked out or in outside pamform, or the state was restored from an older copy)"
                    )?;
                }
                write!(
                    f,
                    "; pamform will not retry into a lockout. Declare a new OTP API user with its own check-out, apply, and move the applications to it"
                )
            }
            LookupError::Rejected(e) => write!(f, "{e}"),
            LookupError::Other(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for LookupError {}

impl From<anyhow::Error> for LookupError {
    fn from(e: anyhow::Error) -> Self {
        LookupError::Other(e)
    }
}

/// How a lookup behaves.
#[derive(Clone, Debug)]
pub struct LookupOptions {
    /// How long to wait for another lookup on the same binding.
    pub lock_timeout: Duration,
    /// Keep a read password (sealed, in the state) this many seconds; 0: never.
    pub cache_seconds: u64,
    /// The address the target sees the login come from.
    pub source: IpAddr,
}

/// The lock file of one binding.
pub fn binding_lock_path(state: &Path, name: &OtpUserName) -> PathBuf {
    let mut file = state.file_name().unwrap_or_default().to_os_string();
    file.push(format!(".otp-{name}.lock"));
    state.with_file_name(file)
}

/// Finds the binding that may read `account`: the one named by `as_user`, or the only usable
/// binding whose OTP API user was granted it.
pub fn find_binding(
    state: &mut dyn StateStore,
    account: &AccountRef,
    as_user: Option<&OtpUserName>,
) -> Result<OtpUserName, LookupError> {
    let users = state.otp_api_users()?;
    let bindings = state.bindings()?;
    if let Some(name) = as_user {
        let Some(user) = users.get(name) else {
            return Err(LookupError::NoBinding(format!(
                "otp_api_user.{name} is not in the state"
            )));
        };
        if !user.spec.accounts.contains(account) {
            return Err(LookupError::NoBinding(format!(
                "otp_api_user.{name} was not granted {account} (it may read: {})",
                user.spec
                    .accounts
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if !bindings.iter().any(|b| &b.otp_api_user == name) {
            return Err(LookupError::NoBinding(format!(
                "otp_api_user.{name} has no binding (declare a [[checkout]] of it and apply)"
            )));
        }
        return Ok(name.clone());
    }
    let candidates: Vec<&Binding> = bindings
        .iter()
        .filter(|b| b.handed_off_at.is_none())
        .filter(|b| {
            users
                .get(&b.otp_api_user)
                .is_some_and(|u| u.spec.accounts.contains(account))
        })
        .collect();
    match candidates.as_slice() {
        [] => Err(LookupError::NoBinding(format!(
            "no binding in the state may read {account} (an OTP API user granted it, checked out by pamform, and not handed off)"
        ))),
        [one] => Ok(one.otp_api_user.clone()),
        several => Err(LookupError::NoBinding(format!(
            "several bindings may read {account} ({}); choose one with --as",
            several
                .iter()
                .map(|b| format!("otp_api_user.{}", b.otp_api_user))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn lock_binding(
    state_path: &Path,
    name: &OtpUserName,
    operation: &str,
    timeout: Duration,
) -> Result<StateLock, LookupError> {
    match StateLock::acquire_file(&binding_lock_path(state_path, name), operation, timeout) {
        Ok(lock) => Ok(lock),
        Err(LockError::Io(e)) => Err(LookupError::Other(e)),
        Err(held) => Err(LookupError::Locked(held)),
    }
}

fn usable_binding(state: &mut dyn StateStore, name: &OtpUserName) -> Result<Binding, LookupError> {
    let binding = state
        .binding(name)?
        .ok_or_else(|| LookupError::NoBinding(format!("otp_api_user.{name} has no binding")))?;
    if let Some(at) = &binding.handed_off_at {
        return Err(LookupError::NoBinding(format!(
            "the binding of otp_api_user.{name} was handed off to a pamutil host at {at}; pamform never logs in with it again"
        )));
    }
    Ok(binding)
}

fn cache_aad(name: &OtpUserName, account: &AccountRef) -> String {
    format!("otp_api_user.{name}/cache/{account}")
}

/// Looks up `account`'s password through binding `name`, rotating its one-time password.
pub fn get(
    state: &mut dyn StateStore,
    state_path: &Path,
    target: &mut dyn Target,
    key: &Key,
    name: &OtpUserName,
    account: &AccountRef,
    options: &LookupOptions,
) -> Result<Secret, LookupError> {
    let _lock = lock_binding(state_path, name, "pamutil get", options.lock_timeout)?;
    let binding = usable_binding(state, name)?;
    tracing::debug!(binding = %name, otp_serial = binding.otp_serial, "lookup: binding locked");
    let account_key = account.to_string();
    if options.cache_seconds > 0
        && let Some(sealed) = state.cached_password(name, &account_key, unix_now())?
    {
        return Ok(crypto::open(key, &cache_aad(name, account), &sealed)?);
    }
    let aad = binding_aad(name);
    let otp = crypto::open(key, &aad, &binding.sealed_otp)?;
    let interrupted = binding.login_started_at.is_some();
    failpoint::hit("pamutil", "before-intent");
    state.begin_login(name, binding.otp_serial)?;
    failpoint::hit("pamutil", "after-intent");
    let session = match target.otp_login(&binding.caller, &otp, options.source) {
        Ok(session) => session,
        Err(TargetError::LoginRejected(LoginRejection::OtpOutOfSync)) => {
            return Err(LookupError::Lost {
                name: name.clone(),
                interrupted,
            });
        }
        Err(e) => return Err(LookupError::Rejected(e)),
    };
    failpoint::hit("pamutil", "after-call");
    let sealed = crypto::seal(key, &aad, &session.next_otp);
    state.finish_login(name, binding.otp_serial, &sealed)?;
    tracing::debug!(binding = %name, otp_serial = binding.otp_serial + 1, "lookup: next one-time password stored");
    failpoint::hit("pamutil", "after-result");
    let password = target
        .read_password(&session.session_id, account)
        .map_err(LookupError::Rejected)?;
    if options.cache_seconds > 0 {
        let sealed = crypto::seal(key, &cache_aad(name, account), &password);
        state.cache_password(
            name,
            &account_key,
            &sealed,
            unix_now() + options.cache_seconds as i64,
        )?;
    }
    Ok(password)
}

/// What `handoff` reveals, once.
pub struct Handoff {
    pub caller: ProfileId,
    pub otp: Secret,
}

/// Reveals a binding's caller and current OTP once and marks it handed off.
pub fn handoff(
    state: &mut dyn StateStore,
    state_path: &Path,
    key: &Key,
    name: &OtpUserName,
    lock_timeout: Duration,
) -> Result<Handoff, LookupError> {
    let _lock = lock_binding(state_path, name, "pamutil handoff", lock_timeout)?;
    let binding = usable_binding(state, name)?;
    if binding.login_started_at.is_some() {
        return Err(LookupError::NoBinding(format!(
            "a lookup with otp_api_user.{name} was interrupted during its login; run `pamform pamutil get` once with it to settle the one-time password before handing it off"
        )));
    }
    let otp = crypto::open(key, &binding_aad(name), &binding.sealed_otp)?;
    state.hand_off(name, &now_rfc3339())?;
    Ok(Handoff {
        caller: binding.caller,
        otp,
    })
}

/// Forgets a binding deliberately; the vault account stays checked out.
pub fn retire(
    state: &mut dyn StateStore,
    state_path: &Path,
    name: &OtpUserName,
    lock_timeout: Duration,
) -> Result<bool, LookupError> {
    let _lock = lock_binding(state_path, name, "pamutil retire", lock_timeout)?;
    Ok(state.retire(name)?)
}
