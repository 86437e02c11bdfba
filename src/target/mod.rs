//! The `Target` trait: the product as pamform sees it, over domain types only (never SQL rows or
//! wire formats), and the embedded implementation behind it.
//!
//! Invariants: `observe` reads metadata only; it never checks out, logs in or discloses a secret.
//! Every method is one atomic operation in the target: it either happens whole or not at all.
//! Refusals by the product's rules come back as [`TargetError::Refused`] so callers can tell
//! them from faults.

use std::fmt;
use std::net::IpAddr;

use crate::model::rules::Violation;
use crate::model::{AccountRef, Observed, OtpApiUserRemote, ProfileId, RemoteId, Request, Scope};
use crate::secret::Secret;

pub mod embedded;

/// What the target answered to a submitted request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitted {
    /// The product's batch (request) ID.
    pub batch_id: RemoteId,
    /// For `CREATE_PAMUTIL_API_USER`: what was created.
    pub created_otp_api_user: Option<OtpApiUserRemote>,
}

/// The status of a check-out request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckoutRequestStatus {
    /// Waiting for approvals.
    Pending,
    /// Approved (or needing none); the requester may check out.
    Approved,
    /// Denied by policy or an authorizer.
    Denied,
    /// Checked out; the check-out is open.
    CheckedOut,
    /// Checked in, expired or revoked: closed.
    Closed,
}

impl fmt::Display for CheckoutRequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CheckoutRequestStatus::Pending => "pending",
            CheckoutRequestStatus::Approved => "approved",
            CheckoutRequestStatus::Denied => "denied",
            CheckoutRequestStatus::CheckedOut => "checked out",
            CheckoutRequestStatus::Closed => "closed",
        })
    }
}

/// A check-out request and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckoutRequest {
    pub request_id: RemoteId,
    pub account: AccountRef,
    pub requester: ProfileId,
    pub status: CheckoutRequestStatus,
    /// Set once checked out.
    pub checkout_id: Option<RemoteId>,
}

/// A successful check-out: the disclosed password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedOut {
    pub checkout_id: RemoteId,
    pub password: Secret,
}

/// A successful OTP login: a session and the next one-time password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtpSession {
    pub session_id: RemoteId,
    /// The password the next login must use. Store it durably before anything else.
    pub next_otp: Secret,
}

/// Why an OTP login was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginRejection {
    /// The one-time password is not the current one (nor one of the `otp_maximum` previous).
    OtpOutOfSync,
    /// The caller may not log in from this address.
    NetworkNotAllowed,
    /// No such caller.
    UnknownCaller,
}

impl fmt::Display for LoginRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LoginRejection::OtpOutOfSync => "the one-time password is out of sync with the target",
            LoginRejection::NetworkNotAllowed => {
                "the caller may not log in from this network address"
            }
            LoginRejection::UnknownCaller => "the OTP API caller does not exist in the target",
        })
    }
}

/// Errors a target reports. Callers branch on `Refused` and `LoginRejected`.
#[derive(Debug)]
pub enum TargetError {
    /// The product's rules refuse the operation.
    Refused(Vec<Violation>),
    /// An OTP login was rejected.
    LoginRejected(LoginRejection),
    /// The caller may not read that account.
    NotGranted { account: AccountRef },
    /// A named object (request, check-out, session) does not exist.
    NotFound(String),
    /// Anything else: IO, corruption, a bug.
    Fault(anyhow::Error),
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::Refused(violations) => {
                f.write_str("refused by the target: ")?;
                for (i, v) in violations.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{v}")?;
                }
                Ok(())
            }
            TargetError::LoginRejected(why) => write!(f, "login rejected: {why}"),
            TargetError::NotGranted { account } => write!(
                f,
                "the OTP API caller was not granted managed account {account}"
            ),
            TargetError::NotFound(what) => write!(f, "not found in the target: {what}"),
            TargetError::Fault(error) => write!(f, "{error:#}"),
        }
    }
}

impl std::error::Error for TargetError {}

impl From<anyhow::Error> for TargetError {
    fn from(error: anyhow::Error) -> Self {
        TargetError::Fault(error)
    }
}

impl From<Violation> for TargetError {
    fn from(violation: Violation) -> Self {
        TargetError::Refused(vec![violation])
    }
}

pub type TargetResult<T> = Result<T, TargetError>;

/// The product, as pamform drives it. Each call acts as a named profile, the way a person would.
pub trait Target {
    /// A one-line description for messages ("embedded target at .pamform/target.db").
    fn describe(&self) -> String;

    /// Groups the operations that follow, until `commit_batch`, into one unit of durability
    /// where the target supports it (the embedded target: one transaction, so a crash before
    /// `commit_batch` undoes them all, as if never sent). A remote target acts on each call as it
    /// comes and ignores this. Reads see the batch's own changes.
    fn begin_batch(&mut self) -> TargetResult<()> {
        Ok(())
    }

    /// Makes the operations since `begin_batch` durable.
    fn commit_batch(&mut self) -> TargetResult<()> {
        Ok(())
    }

    /// The metadata of everything in `scope`. Never a secret, never a side effect.
    fn observe(&mut self, scope: &Scope) -> TargetResult<Observed>;

    /// Submits a predefined request as `submitter`; it is carried out at once or refused whole.
    fn submit(&mut self, submitter: &ProfileId, request: &Request) -> TargetResult<Submitted>;

    /// Requests a check-out of `account` as `requester`. Approved at once when no approval is needed.
    fn request_checkout(
        &mut self,
        requester: &ProfileId,
        account: &AccountRef,
    ) -> TargetResult<CheckoutRequest>;

    /// Approves a pending check-out request as `approver`.
    fn approve_checkout(
        &mut self,
        approver: &ProfileId,
        request_id: &RemoteId,
    ) -> TargetResult<CheckoutRequest>;

    /// Checks out an approved request: randomizes the account and discloses the new password. For
    /// an OTP vault account the value is also pushed onto its OTP API caller's login.
    fn check_out(
        &mut self,
        requester: &ProfileId,
        request_id: &RemoteId,
    ) -> TargetResult<CheckedOut>;

    /// Where a check-out request stands (after a crash, this settles a step in doubt).
    fn checkout_request(&mut self, request_id: &RemoteId) -> TargetResult<CheckoutRequest>;

    /// The check-out requests of an account, oldest first.
    fn checkout_requests_for(&mut self, account: &AccountRef)
    -> TargetResult<Vec<CheckoutRequest>>;

    /// The password of an open check-out, again, without randomizing (rule 11).
    fn retrieve_checkout_password(
        &mut self,
        requester: &ProfileId,
        checkout_id: &RemoteId,
    ) -> TargetResult<Secret>;

    /// Checks in an open check-out; the account is randomized.
    fn check_in(&mut self, profile: &ProfileId, checkout_id: &RemoteId) -> TargetResult<()>;

    /// Logs an OTP API caller in with its current one-time password.
    fn otp_login(
        &mut self,
        caller: &ProfileId,
        otp: &Secret,
        from: IpAddr,
    ) -> TargetResult<OtpSession>;

    /// Reads a managed account's password in an OTP session.
    fn read_password(
        &mut self,
        session_id: &RemoteId,
        account: &AccountRef,
    ) -> TargetResult<Secret>;
}
