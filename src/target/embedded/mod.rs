//! The embedded target: a faithful model of Bravura Privilege in its own SQLite file, enforcing the
//! product's rules (through `model::rules`, the same functions plan predicts with) on every call,
//! whoever sends it.
//!
//! Invariants: every operation that changes anything or discloses a secret is one `BEGIN
//! IMMEDIATE` transaction, logged in the request log in that same transaction, refusals included;
//! a refused operation leaves nothing else behind (its work runs in a savepoint that is rolled
//! back). Pure reads (`observe`, check-out status, `dump`, `log`) run in one read transaction and
//! write nothing; a check-out past its window counts as closed there, and is closed and randomized
//! by the next write. Secrets at rest are sealed with the key file beside the target file; no
//! secret reaches the log, a dump, `Debug` output or an error message.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use rusqlite::{Connection, TransactionBehavior};

use crate::crypto::Key;
use crate::model::{AccountRef, Observed, ProfileId, RemoteId, Request, Scope, Seed};
use crate::secret::Secret;
use crate::target::{
    CheckedOut, CheckoutRequest, OtpSession, Submitted, Target, TargetError, TargetResult,
};

mod checkout;
mod dump;
mod ledger;
mod network;
mod observe;
mod otp;
mod schema;
mod seed;
mod store;
mod teams;
mod values;

pub use dump::{
    AccountDump, CheckoutDump, CheckoutRequestDump, GroupDump, LogEntry, MASK, OtpApiUserDump,
    ProfileDump, TargetDump, TeamDump,
};
pub use network::{AllowedNetworks, Network};
pub use schema::APPLICATION_ID;

/// Where the key file of a target file lives: `<target path>.key`.
pub fn key_path_for(target: &Path) -> PathBuf {
    let mut name = target.as_os_str().to_os_string();
    name.push(".key");
    PathBuf::from(name)
}

/// The embedded product, one handle on its file. Several handles (threads or processes) may use
/// one file at once; SQLite's locks serialize their operations.
pub struct EmbeddedTarget {
    path: PathBuf,
    key_path: PathBuf,
    conn: Connection,
    key: Key,
    /// Seconds added to the system clock (see [`EmbeddedTarget::advance_clock`]).
    clock_offset: i64,
    /// Inside `begin_batch`: operations run as savepoints of one open transaction.
    in_batch: bool,
}

/// A read: its own deferred transaction, or the batch's open one.
enum Read<'a> {
    Own(rusqlite::Transaction<'a>),
    Batch(&'a Connection),
}

impl std::ops::Deref for Read<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match self {
            Read::Own(tx) => tx,
            Read::Batch(conn) => conn,
        }
    }
}

impl std::fmt::Debug for EmbeddedTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedTarget")
            .field("path", &self.path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

/// What an operation needs besides the connection: the key and one instant for the whole call.
pub(crate) struct Env<'a> {
    pub key: &'a Key,
    pub now: i64,
}

/// What the request log records about an operation; filled in as the operation learns it.
pub(crate) struct Note {
    /// Who the log names as the submitter (for a session: its caller, once known).
    pub submitter: String,
    pub object: String,
    pub reference: Option<String>,
    /// Overrides the outcome `done` of a successful operation (e.g. `denied: ...`).
    pub outcome: Option<String>,
}

impl EmbeddedTarget {
    /// Opens the target file, creating and seeding it on first use. `seed` is called only when
    /// the file is new, inside the transaction that creates the schema, so concurrent openers of a
    /// missing file seed it exactly once. The key file (`<path>.key`) is created with it.
    pub fn open(
        path: &Path,
        seed: &dyn Fn() -> anyhow::Result<Seed>,
    ) -> anyhow::Result<EmbeddedTarget> {
        let key_path = key_path_for(path);
        let mut conn = schema::connect(path)?;
        let key = match schema::inspect(&conn, path)? {
            schema::FileStatus::Current => load_key(&conn, &key_path, path)?,
            _ => {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .with_context(|| format!("cannot lock target file {}", path.display()))?;
                let key = match schema::inspect(&tx, path)? {
                    schema::FileStatus::Empty => {
                        let (key, _) = Key::load_or_create(&key_path)?;
                        schema::migrate(&tx, 0)?;
                        let seed = seed().context("cannot build the seed of the target")?;
                        seed::apply(&tx, &key, values::system_now(), &seed).with_context(|| {
                            format!("cannot seed target file {}", path.display())
                        })?;
                        key
                    }
                    schema::FileStatus::Older(version) => {
                        schema::migrate(&tx, version)?;
                        load_key(&tx, &key_path, path)?
                    }
                    schema::FileStatus::Current => load_key(&tx, &key_path, path)?,
                };
                tx.commit()
                    .with_context(|| format!("cannot initialise target file {}", path.display()))?;
                key
            }
        };
        Ok(EmbeddedTarget {
            path: path.to_path_buf(),
            key_path,
            conn,
            key,
            clock_offset: 0,
            in_batch: false,
        })
    }

    /// The target file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the target's key file lives.
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    /// Moves this handle's clock forward, to let check-outs and sessions expire in tests and
    /// demonstrations. Other handles keep the system clock.
    pub fn advance_clock(&mut self, by: Duration) {
        let seconds = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        self.clock_offset = self.clock_offset.saturating_add(seconds);
    }

    /// Everything in the target with secrets masked, in a deterministic order.
    pub fn dump(&mut self) -> anyhow::Result<TargetDump> {
        let now = self.now();
        let path = self.path.display().to_string();
        let tx = self.read_transaction()?;
        dump::dump(&tx, now, path)
    }

    /// The request log, oldest first.
    pub fn log(&mut self) -> anyhow::Result<Vec<LogEntry>> {
        let tx = self.read_transaction()?;
        dump::log(&tx)
    }

    /// How many times `account` has ever been checked out.
    pub fn checkout_count(&mut self, account: &AccountRef) -> anyhow::Result<u64> {
        let tx = self.read_transaction()?;
        let row = store::account(&tx, account)?.ok_or_else(|| {
            anyhow::anyhow!("managed account {account} does not exist in the target")
        })?;
        ledger::count(&tx, &row.guid)
    }

    /// How many successful OTP logins (each one a rotation) `caller` has made.
    pub fn otp_rotations(&mut self, caller: &ProfileId) -> anyhow::Result<u64> {
        let tx = self.read_transaction()?;
        otp::rotations(&tx, caller)?
            .ok_or_else(|| anyhow::anyhow!("{caller} is not an OTP API caller of the target"))
    }

    fn now(&self) -> i64 {
        values::system_now().saturating_add(self.clock_offset)
    }

    fn read_transaction(&mut self) -> anyhow::Result<Read<'_>> {
        if self.in_batch {
            return Ok(Read::Batch(&self.conn));
        }
        self.conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map(Read::Own)
            .with_context(|| format!("cannot read target file {}", self.path.display()))
    }

    /// Runs one operation as one `BEGIN IMMEDIATE` transaction (inside a batch: as a part of the
    /// batch's transaction): expired check-outs are closed first, the operation's work runs in a
    /// savepoint (rolled back if it is refused), and the request log records the outcome either
    /// way. A fault rolls the operation back.
    fn operation<T>(
        &mut self,
        kind: &str,
        submitter: &str,
        object: String,
        body: impl FnOnce(&Connection, &Env<'_>, &mut Note) -> TargetResult<T>,
    ) -> TargetResult<T> {
        let env = Env {
            key: &self.key,
            now: values::system_now().saturating_add(self.clock_offset),
        };
        let path = &self.path;
        let conn = &self.conn;
        let own = !self.in_batch;
        // Cached statements: inside a batch an operation costs one savepoint, not a re-parse.
        let sql = |statement: &str| -> anyhow::Result<()> {
            conn.prepare_cached(statement)
                .and_then(|mut s| s.execute([]))
                .map(|_| ())
                .with_context(|| format!("target file {}: {statement} failed", path.display()))
        };
        if own {
            sql("BEGIN IMMEDIATE")?;
        }
        // Expired check-outs close whatever the operation's own outcome.
        if let Err(e) = checkout::close_expired(conn, &env) {
            if own {
                let _ = sql("ROLLBACK");
            }
            return Err(e.into());
        }
        sql("SAVEPOINT operation")?;
        let mut note = Note {
            submitter: submitter.to_owned(),
            object,
            reference: None,
            outcome: None,
        };
        let result = body(conn, &env, &mut note);
        let undo = || -> anyhow::Result<()> {
            sql("ROLLBACK TO operation")?;
            sql("RELEASE operation")
        };
        if let Err(TargetError::Fault(_)) = &result {
            let _ = undo();
            if own {
                let _ = sql("ROLLBACK");
            }
            return result;
        }
        let outcome = match &result {
            Ok(_) => {
                sql("RELEASE operation")?;
                note.outcome.take().unwrap_or_else(|| "done".to_owned())
            }
            // A refusal changes nothing but the log.
            Err(error) => {
                undo()?;
                outcome_of(error)
            }
        };
        let logged = store::log(
            conn,
            env.now,
            kind,
            &note.submitter,
            &note.object,
            note.reference.as_deref(),
            &outcome,
        );
        if let Err(e) = logged {
            if own {
                let _ = sql("ROLLBACK");
            }
            return Err(e.into());
        }
        if own && let Err(e) = sql("COMMIT") {
            let _ = sql("ROLLBACK");
            return Err(e.into());
        }
        result
    }
}

/// The request-log outcome of a failed operation; built from identifiers only, never secrets.
fn outcome_of(error: &TargetError) -> String {
    match error {
        TargetError::Refused(_) => {
            let text = error.to_string();
            let reasons = text
                .strip_prefix("refused by the target: ")
                .unwrap_or(&text);
            format!("refused: {reasons}")
        }
        TargetError::LoginRejected(why) => format!("rejected: {why}"),
        TargetError::NotGranted { account } => format!("refused: {account} is not granted"),
        TargetError::NotFound(what) => format!("not found: {what}"),
        TargetError::Fault(_) => "fault".to_owned(),
    }
}

/// Loads the key of an existing target file and proves it is the key the file was sealed with.
fn load_key(conn: &Connection, key_path: &Path, path: &Path) -> anyhow::Result<Key> {
    let key = Key::load(key_path).with_context(|| {
        format!(
            "target file {} exists but its key cannot be loaded, so its secrets cannot be read",
            path.display()
        )
    })?;
    seed::check_key(conn, &key).with_context(|| {
        format!(
            "key file {} does not belong to target file {}",
            key_path.display(),
            path.display()
        )
    })?;
    Ok(key)
}

impl Target for EmbeddedTarget {
    fn describe(&self) -> String {
        format!("embedded target at {}", self.path.display())
    }

    fn begin_batch(&mut self) -> TargetResult<()> {
        if self.in_batch {
            return Ok(());
        }
        // Batches write many pages: give them a 64 MiB page cache (SQLite's default is 2 MiB).
        // Reads (plan) scan in order and keep the small default, which costs less to fill.
        self.conn
            .execute_batch("PRAGMA cache_size = -65536; BEGIN IMMEDIATE")
            .with_context(|| format!("cannot lock target file {}", self.path.display()))?;
        self.in_batch = true;
        Ok(())
    }

    fn commit_batch(&mut self) -> TargetResult<()> {
        if !self.in_batch {
            return Ok(());
        }
        self.in_batch = false;
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(anyhow::Error::new(e)
                .context(format!(
                    "cannot commit to target file {}",
                    self.path.display()
                ))
                .into());
        }
        Ok(())
    }

    fn observe(&mut self, scope: &Scope) -> TargetResult<Observed> {
        let now = self.now();
        let tx = self.read_transaction()?;
        Ok(observe::observe(&tx, scope, now)?)
    }

    fn submit(&mut self, submitter: &ProfileId, request: &Request) -> TargetResult<Submitted> {
        let object = format!("team.{}", request.team());
        self.operation(
            request.kind().id(),
            submitter.as_str(),
            object,
            |conn, env, note| teams::submit(conn, env, note, submitter, request),
        )
    }

    fn request_checkout(
        &mut self,
        requester: &ProfileId,
        account: &AccountRef,
    ) -> TargetResult<CheckoutRequest> {
        self.operation(
            "CHECKOUT-REQUEST",
            requester.as_str(),
            account.to_string(),
            |conn, env, note| checkout::request(conn, env, note, requester, account),
        )
    }

    fn approve_checkout(
        &mut self,
        approver: &ProfileId,
        request_id: &RemoteId,
    ) -> TargetResult<CheckoutRequest> {
        self.operation(
            "APPROVE",
            approver.as_str(),
            request_id.to_string(),
            |conn, env, note| checkout::approve(conn, env, note, approver, request_id),
        )
    }

    fn check_out(
        &mut self,
        requester: &ProfileId,
        request_id: &RemoteId,
    ) -> TargetResult<CheckedOut> {
        self.operation(
            "CHECKOUT",
            requester.as_str(),
            request_id.to_string(),
            |conn, env, note| checkout::check_out(conn, env, note, requester, request_id),
        )
    }

    fn checkout_request(&mut self, request_id: &RemoteId) -> TargetResult<CheckoutRequest> {
        let now = self.now();
        let tx = self.read_transaction()?;
        ledger::load(&tx, request_id.as_str())?
            .map(|row| row.public(now))
            .ok_or_else(|| TargetError::NotFound(format!("check-out request {request_id}")))
    }

    fn checkout_requests_for(
        &mut self,
        account: &AccountRef,
    ) -> TargetResult<Vec<CheckoutRequest>> {
        let now = self.now();
        let tx = self.read_transaction()?;
        Ok(ledger::requests_for(&tx, account, now)?)
    }

    fn retrieve_checkout_password(
        &mut self,
        requester: &ProfileId,
        checkout_id: &RemoteId,
    ) -> TargetResult<Secret> {
        self.operation(
            "RETRIEVE-PASSWORD",
            requester.as_str(),
            checkout_id.to_string(),
            |conn, env, note| checkout::retrieve_password(conn, env, note, requester, checkout_id),
        )
    }

    fn check_in(&mut self, profile: &ProfileId, checkout_id: &RemoteId) -> TargetResult<()> {
        self.operation(
            "CHECKIN",
            profile.as_str(),
            checkout_id.to_string(),
            |conn, env, note| checkout::check_in(conn, env, note, profile, checkout_id),
        )
    }

    fn otp_login(
        &mut self,
        caller: &ProfileId,
        otp: &Secret,
        from: IpAddr,
    ) -> TargetResult<OtpSession> {
        self.operation(
            "OTP-LOGIN",
            caller.as_str(),
            format!("from {from}"),
            |conn, env, note| otp::login(conn, env, note, caller, otp, from),
        )
    }

    fn read_password(
        &mut self,
        session_id: &RemoteId,
        account: &AccountRef,
    ) -> TargetResult<Secret> {
        self.operation(
            "READ-PASSWORD",
            "(session)",
            account.to_string(),
            |conn, env, note| otp::read_password(conn, env, note, session_id, account),
        )
    }
}
