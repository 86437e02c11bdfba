//! The check-out ledger: how check-out requests, approvals and check-outs are stored and read
//! back, and where each stands at a given instant.
//!
//! Invariants: the only SQL on `checkout_requests`, `approvals` and `checkouts`; a check-out is
//! closed exactly once, with its reason, and its request is closed with it; a stored `checked_out`
//! request whose check-out is past its window reads as closed.

use std::collections::BTreeSet;

use anyhow::{Context, anyhow};
use rusqlite::{Connection, OptionalExtension, params};

use super::store::{self, AccountRow};
use crate::model::{AccountRef, OpenCheckout, ProfileId, RemoteId};
use crate::target::{CheckoutRequest, CheckoutRequestStatus};

/// A check-out request's status as stored; `CheckedOut` may have expired since (see
/// [`RequestRow::status`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pending,
    Approved,
    Denied,
    CheckedOut,
    Closed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Denied => "denied",
            Status::CheckedOut => "checked_out",
            Status::Closed => "closed",
        }
    }

    fn parse(text: &str) -> anyhow::Result<Status> {
        [
            Status::Pending,
            Status::Approved,
            Status::Denied,
            Status::CheckedOut,
            Status::Closed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| anyhow!("the target file holds an unknown check-out status {text:?}"))
    }
}

/// A check-out request as stored, with its account and the state of its check-out.
#[derive(Clone, Debug)]
pub struct RequestRow {
    pub request_id: String,
    pub account: AccountRow,
    pub requester: ProfileId,
    pub needed: u32,
    pub available: u32,
    stored: Status,
    pub checkout_id: Option<String>,
    /// `(closed, expires_at)` of its check-out, if checked out.
    checkout: Option<(bool, i64)>,
    pub requested_at: i64,
}

impl RequestRow {
    /// The status at `now`: a check-out past its window is closed even before it is swept.
    pub fn status(&self, now: i64) -> CheckoutRequestStatus {
        match self.stored {
            Status::Pending => CheckoutRequestStatus::Pending,
            Status::Approved => CheckoutRequestStatus::Approved,
            Status::Denied => CheckoutRequestStatus::Denied,
            Status::Closed => CheckoutRequestStatus::Closed,
            Status::CheckedOut => match self.checkout {
                Some((false, expires_at)) if expires_at > now => CheckoutRequestStatus::CheckedOut,
                _ => CheckoutRequestStatus::Closed,
            },
        }
    }

    pub fn public(&self, now: i64) -> CheckoutRequest {
        CheckoutRequest {
            request_id: RemoteId::new(self.request_id.clone()),
            account: self.account.account.clone(),
            requester: self.requester.clone(),
            status: self.status(now),
            checkout_id: self.checkout_id.clone().map(RemoteId::new),
        }
    }
}

const REQUEST_COLUMNS: &str = "r.request_id, r.account, r.requester, r.needed, r.available,
     r.status, r.checkout_id, c.closed_at IS NOT NULL, c.expires_at, r.requested_at
     FROM checkout_requests r LEFT JOIN checkouts c ON c.request_id = r.request_id";

fn request_from_row(conn: &Connection, row: &rusqlite::Row<'_>) -> anyhow::Result<RequestRow> {
    let account_guid: String = row.get(1)?;
    let account = store::account_by_guid(conn, &account_guid)?.ok_or_else(|| {
        anyhow!("the target file names managed account {account_guid}, which does not exist")
    })?;
    let closed: bool = row.get(7)?;
    let expires_at: Option<i64> = row.get(8)?;
    Ok(RequestRow {
        request_id: row.get(0)?,
        account,
        requester: ProfileId::new(row.get::<_, String>(2)?),
        needed: row.get(3)?,
        available: row.get(4)?,
        stored: Status::parse(row.get_ref(5)?.as_str()?)?,
        checkout_id: row.get(6)?,
        checkout: expires_at.map(|e| (closed, e)),
        requested_at: row.get(9)?,
    })
}

/// One check-out request.
pub fn load(conn: &Connection, request_id: &str) -> anyhow::Result<Option<RequestRow>> {
    let mut statement =
        conn.prepare_cached(&format!("SELECT {REQUEST_COLUMNS} WHERE r.request_id = ?1"))?;
    let mut rows = statement
        .query([request_id])
        .with_context(|| format!("cannot read check-out request {request_id}"))?;
    match rows.next()? {
        Some(row) => Ok(Some(request_from_row(conn, row)?)),
        None => Ok(None),
    }
}

/// Every check-out request, oldest first.
pub fn all(conn: &Connection) -> anyhow::Result<Vec<RequestRow>> {
    let mut statement = conn.prepare(&format!("SELECT {REQUEST_COLUMNS} ORDER BY r.seq"))?;
    let mut rows = statement.query([])?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        found.push(request_from_row(conn, row)?);
    }
    Ok(found)
}

/// The check-out requests of an account, oldest first (none for an unknown account).
pub fn requests_for(
    conn: &Connection,
    account: &AccountRef,
    now: i64,
) -> anyhow::Result<Vec<CheckoutRequest>> {
    let Some(row) = store::account(conn, account)? else {
        return Ok(Vec::new());
    };
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {REQUEST_COLUMNS} WHERE r.account = ?1 ORDER BY r.seq"
    ))?;
    let mut rows = statement.query([row.guid.as_str()])?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        found.push(request_from_row(conn, row)?.public(now));
    }
    Ok(found)
}

/// The approvers recorded on a request.
pub fn approvers(conn: &Connection, request_id: &str) -> anyhow::Result<BTreeSet<ProfileId>> {
    let mut statement =
        conn.prepare_cached("SELECT approver FROM approvals WHERE request_id = ?1")?;
    let rows = statement.query_map([request_id], |row| row.get::<_, String>(0))?;
    let mut found = BTreeSet::new();
    for row in rows {
        found.insert(ProfileId::new(row?));
    }
    Ok(found)
}

/// How many times an account was ever checked out.
pub fn count(conn: &Connection, account_guid: &str) -> anyhow::Result<u64> {
    let count: i64 = conn
        .prepare_cached("SELECT count(*) FROM checkouts WHERE account = ?1")?
        .query_row([account_guid], |row| row.get(0))
        .context("cannot count check-outs")?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// The account's check-out open at `now`, if any.
pub fn open_checkout(
    conn: &Connection,
    account_guid: &str,
    now: i64,
) -> anyhow::Result<Option<OpenCheckout>> {
    conn.prepare_cached(
        "SELECT checkout_id, request_id, holder FROM checkouts
         WHERE account = ?1 AND closed_at IS NULL AND expires_at > ?2",
    )?
    .query_row(params![account_guid, now], |row| {
        Ok(OpenCheckout {
            checkout_id: RemoteId::new(row.get::<_, String>(0)?),
            request_id: RemoteId::new(row.get::<_, String>(1)?),
            holder: ProfileId::new(row.get::<_, String>(2)?),
        })
    })
    .optional()
    .context("cannot read open check-outs")
}

/// A check-out as stored.
#[derive(Clone, Debug)]
pub struct CheckoutRow {
    pub checkout_id: String,
    pub request_id: String,
    pub account_guid: String,
    pub holder: ProfileId,
    pub opened_at: i64,
    pub expires_at: i64,
    pub closed_at: Option<i64>,
    pub close_reason: Option<String>,
}

const CHECKOUT_COLUMNS: &str = "checkout_id, request_id, account, holder, opened_at, expires_at,
     closed_at, close_reason FROM checkouts";

fn checkout_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<CheckoutRow> {
    Ok(CheckoutRow {
        checkout_id: row.get(0)?,
        request_id: row.get(1)?,
        account_guid: row.get(2)?,
        holder: ProfileId::new(row.get::<_, String>(3)?),
        opened_at: row.get(4)?,
        expires_at: row.get(5)?,
        closed_at: row.get(6)?,
        close_reason: row.get(7)?,
    })
}

pub fn load_checkout(conn: &Connection, checkout_id: &str) -> anyhow::Result<Option<CheckoutRow>> {
    conn.prepare_cached(&format!("SELECT {CHECKOUT_COLUMNS} WHERE checkout_id = ?1"))?
        .query_row([checkout_id], checkout_from_row)
        .optional()
        .with_context(|| format!("cannot read check-out {checkout_id}"))
}

/// Every check-out, oldest first.
pub fn all_checkouts(conn: &Connection) -> anyhow::Result<Vec<CheckoutRow>> {
    let mut statement = conn.prepare(&format!("SELECT {CHECKOUT_COLUMNS} ORDER BY seq"))?;
    let rows = statement.query_map([], checkout_from_row)?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .context("cannot read check-outs")
}

pub fn account_of(conn: &Connection, checkout: &CheckoutRow) -> anyhow::Result<AccountRow> {
    store::account_by_guid(conn, &checkout.account_guid)?.ok_or_else(|| {
        anyhow!(
            "check-out {} names managed account {}, which does not exist",
            checkout.checkout_id,
            checkout.account_guid
        )
    })
}

/// Closes an open check-out and its request.
pub fn close(
    conn: &Connection,
    at: i64,
    checkout: &CheckoutRow,
    reason: CloseReason,
) -> anyhow::Result<()> {
    conn.prepare_cached(
        "UPDATE checkouts SET closed_at = ?1, close_reason = ?2
         WHERE checkout_id = ?3 AND closed_at IS NULL",
    )?
    .execute(params![at, reason.as_str(), checkout.checkout_id])
    .with_context(|| format!("cannot close check-out {}", checkout.checkout_id))?;
    set_status(conn, &checkout.request_id, Status::Closed)
}

pub fn set_status(conn: &Connection, request_id: &str, status: Status) -> anyhow::Result<()> {
    conn.prepare_cached("UPDATE checkout_requests SET status = ?1 WHERE request_id = ?2")?
        .execute(params![status.as_str(), request_id])
        .with_context(|| format!("cannot update check-out request {request_id}"))?;
    Ok(())
}

/// Why a check-out was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    CheckedIn,
    Expired,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::CheckedIn => "checked in",
            CloseReason::Expired => "expired",
        }
    }
}

/// A check-out request about to be recorded.
pub struct NewRequest<'a> {
    pub request_id: &'a str,
    pub account_guid: &'a str,
    pub requester: &'a ProfileId,
    pub needed: u32,
    pub available: u32,
    pub status: Status,
    pub at: i64,
}

pub fn insert_request(conn: &Connection, request: &NewRequest<'_>) -> anyhow::Result<()> {
    conn.prepare_cached(
        "INSERT INTO checkout_requests
             (request_id, account, requester, needed, available, status, requested_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        request.request_id,
        request.account_guid,
        request.requester.as_str(),
        request.needed,
        request.available,
        request.status.as_str(),
        request.at
    ])
    .with_context(|| format!("cannot record check-out request {}", request.request_id))?;
    Ok(())
}

/// Records an approval; approving twice counts once.
pub fn insert_approval(
    conn: &Connection,
    request_id: &str,
    approver: &ProfileId,
    at: i64,
) -> anyhow::Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO approvals (request_id, approver, at) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![request_id, approver.as_str(), at])
    .with_context(|| format!("cannot record an approval of {request_id}"))?;
    Ok(())
}

/// Opens a check-out for a request (by its requester) and marks the request checked out.
pub fn insert_checkout(
    conn: &Connection,
    checkout_id: &str,
    request: &RequestRow,
    opened_at: i64,
    expires_at: i64,
) -> anyhow::Result<()> {
    let context = || format!("cannot record check-out {checkout_id}");
    conn.prepare_cached(
        "INSERT INTO checkouts (checkout_id, request_id, account, holder, opened_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        checkout_id,
        request.request_id,
        request.account.guid,
        request.requester.as_str(),
        opened_at,
        expires_at
    ])
    .with_context(context)?;
    conn.prepare_cached(
        "UPDATE checkout_requests SET status = ?1, checkout_id = ?2 WHERE request_id = ?3",
    )?
    .execute(params![
        Status::CheckedOut.as_str(),
        checkout_id,
        request.request_id
    ])
    .with_context(context)?;
    Ok(())
}

/// The open check-outs whose window ended at or before `now`.
pub fn expired(conn: &Connection, now: i64) -> anyhow::Result<Vec<CheckoutRow>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {CHECKOUT_COLUMNS} WHERE closed_at IS NULL AND expires_at <= ?1"
    ))?;
    let rows = statement.query_map([now], checkout_from_row)?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .context("cannot read expired check-outs")
}
