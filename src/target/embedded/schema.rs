//! The target file itself: creating it private, opening it with the SQLite conventions, telling a
//! target file from anything else, and the schema and its append-only migrations.
//!
//! Invariants: the file is created by us with mode 0600 before SQLite opens it (SQLite then gives
//! its journal the same mode); rollback journal, `synchronous=FULL`, a 30 s busy timeout and
//! foreign keys on every connection; `application_id` is [`APPLICATION_ID`] and `user_version` the
//! number of migrations applied. A file from a newer pamform, or not a target file, is refused and
//! never changed. Migrations run inside the caller's `BEGIN IMMEDIATE` transaction.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use rusqlite::{Connection, OpenFlags};

/// `PAMT`: marks a pamform target file (the state file uses a different ID).
pub const APPLICATION_ID: i32 = 0x5041_4D54;

/// How long a writer waits for another process's transaction before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The schema, one entry per version; append only, never edit a released entry.
const MIGRATIONS: &[&str] = &[V1, V2];

/// The schema version this build writes.
pub fn schema_version() -> i32 {
    // Invariant: the migration list is a short constant.
    i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX)
}

/// Version 2: every operation first closes the expired check-outs; this index makes finding them
/// proportional to the open check-outs, not to every check-out ever made.
const V2: &str = r#"
CREATE INDEX checkouts_open_expiry ON checkouts (expires_at) WHERE closed_at IS NULL;
"#;

const V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE policy (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    min_authorizers  INTEGER NOT NULL CHECK (min_authorizers >= 0),
    otp_maximum      INTEGER NOT NULL CHECK (otp_maximum >= 0),
    checkout_minutes INTEGER NOT NULL CHECK (checkout_minutes BETWEEN 5 AND 1440)
);

CREATE TABLE profiles (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    team_admin INTEGER NOT NULL CHECK (team_admin IN (0, 1))
) WITHOUT ROWID;

CREATE TABLE systems (
    id TEXT PRIMARY KEY
) WITHOUT ROWID;

CREATE TABLE teams (
    id          INTEGER PRIMARY KEY,
    team_id     TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL
);

CREATE TABLE team_groups (
    id   INTEGER PRIMARY KEY,
    team INTEGER NOT NULL REFERENCES teams (id),
    name TEXT NOT NULL,
    UNIQUE (team, name)
);

CREATE TABLE group_privileges (
    group_id  INTEGER NOT NULL REFERENCES team_groups (id),
    privilege TEXT NOT NULL,
    PRIMARY KEY (group_id, privilege)
) WITHOUT ROWID;

CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES team_groups (id),
    profile  TEXT NOT NULL REFERENCES profiles (id),
    PRIMARY KEY (group_id, profile)
) WITHOUT ROWID;

-- team: the owning team's ID; a team holding accounts cannot be deleted, so no foreign key.
CREATE TABLE accounts (
    guid     TEXT PRIMARY KEY,
    system   TEXT NOT NULL REFERENCES systems (id),
    account  TEXT NOT NULL,
    team     TEXT,
    policy   TEXT NOT NULL,
    password BLOB NOT NULL,
    UNIQUE (system, account)
) WITHOUT ROWID;
CREATE INDEX accounts_team ON accounts (team);

CREATE TABLE otp_api_users (
    guid            TEXT PRIMARY KEY,
    team            TEXT NOT NULL,
    description     TEXT NOT NULL,
    vault_account   TEXT NOT NULL UNIQUE REFERENCES accounts (guid),
    caller          TEXT NOT NULL UNIQUE REFERENCES profiles (id),
    allowed_network TEXT NOT NULL,
    otp_next_seq    INTEGER NOT NULL DEFAULT 0,
    rotations       INTEGER NOT NULL DEFAULT 0,
    created_batch   TEXT NOT NULL,
    created_at      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX otp_api_users_team ON otp_api_users (team);

CREATE TABLE otp_grants (
    otp_guid TEXT NOT NULL REFERENCES otp_api_users (guid),
    account  TEXT NOT NULL REFERENCES accounts (guid),
    PRIMARY KEY (otp_guid, account)
) WITHOUT ROWID;

-- The current one-time password of a caller (highest seq) and the previous ones still valid.
CREATE TABLE otp_passwords (
    caller TEXT NOT NULL REFERENCES profiles (id),
    seq    INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (caller, seq)
) WITHOUT ROWID;

CREATE TABLE checkout_requests (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id   TEXT NOT NULL UNIQUE,
    account      TEXT NOT NULL REFERENCES accounts (guid),
    requester    TEXT NOT NULL REFERENCES profiles (id),
    needed       INTEGER NOT NULL,
    available    INTEGER NOT NULL,
    status       TEXT NOT NULL
                 CHECK (status IN ('pending', 'approved', 'denied', 'checked_out', 'closed')),
    requested_at INTEGER NOT NULL,
    checkout_id  TEXT
);
CREATE INDEX checkout_requests_account ON checkout_requests (account);

CREATE TABLE approvals (
    request_id TEXT NOT NULL REFERENCES checkout_requests (request_id),
    approver   TEXT NOT NULL REFERENCES profiles (id),
    at         INTEGER NOT NULL,
    PRIMARY KEY (request_id, approver)
) WITHOUT ROWID;

CREATE TABLE checkouts (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    checkout_id  TEXT NOT NULL UNIQUE,
    request_id   TEXT NOT NULL UNIQUE REFERENCES checkout_requests (request_id),
    account      TEXT NOT NULL REFERENCES accounts (guid),
    holder       TEXT NOT NULL REFERENCES profiles (id),
    opened_at    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    closed_at    INTEGER,
    close_reason TEXT CHECK (close_reason IN ('checked in', 'expired')),
    CHECK ((closed_at IS NULL) = (close_reason IS NULL))
);
CREATE INDEX checkouts_account ON checkouts (account);
-- Rule 6: one concurrent holder per account, enforced by the file itself too.
CREATE UNIQUE INDEX checkouts_one_open ON checkouts (account) WHERE closed_at IS NULL;

CREATE TABLE sessions (
    session_id TEXT PRIMARY KEY,
    caller     TEXT NOT NULL REFERENCES profiles (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE request_log (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    submitter TEXT NOT NULL,
    object    TEXT NOT NULL,
    reference TEXT,
    outcome   TEXT NOT NULL
);
"#;

/// What an opened file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileStatus {
    /// A new, empty file: it needs the schema and the seed.
    Empty,
    /// A target file at an older schema version.
    Older(i32),
    /// A target file at this build's schema version.
    Current,
}

/// Creates the file (mode 0600, parents 0700) if it is missing, then opens it with the
/// conventions applied.
pub fn connect(path: &Path) -> anyhow::Result<Connection> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::crypto::create_private_dir(parent)?;
    }
    create_private_file(path)?;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open target file {}", path.display()))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .with_context(|| format!("cannot configure target file {}", path.display()))?;
    let not_a_database = || {
        format!(
            "{} is not a pamform target file (it is not an SQLite database, or it is damaged)",
            path.display()
        )
    };
    let mode: String = conn
        .query_row("PRAGMA journal_mode = DELETE", [], |row| row.get(0))
        .with_context(not_a_database)?;
    if !mode.eq_ignore_ascii_case("delete") {
        bail!(
            "cannot switch target file {} to the rollback journal (journal mode is {mode})",
            path.display()
        );
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .with_context(not_a_database)?;
    Ok(conn)
}

/// Classifies the file, refusing one that is not a target file or comes from a newer pamform.
pub fn inspect(conn: &Connection, path: &Path) -> anyhow::Result<FileStatus> {
    let context = || {
        format!(
            "{} is not a pamform target file (it is not an SQLite database, or it is damaged)",
            path.display()
        )
    };
    let application_id: i32 = conn
        .query_row("PRAGMA application_id", [], |row| row.get(0))
        .with_context(context)?;
    let version: i32 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .with_context(context)?;
    let objects: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
        .with_context(context)?;
    if application_id == 0 && version == 0 && objects == 0 {
        return Ok(FileStatus::Empty);
    }
    if application_id != APPLICATION_ID {
        bail!(
            "{} is not a pamform target file (application_id is {application_id:#010x}, a target \
             file has {APPLICATION_ID:#010x}); is it a state file or another program's database?",
            path.display()
        );
    }
    let current = schema_version();
    if version > current {
        bail!(
            "target file {} has schema version {version}, newer than this pamform understands \
             (up to {current}); use a newer pamform",
            path.display()
        );
    }
    if version < 1 {
        bail!(
            "target file {} has schema version {version}: it was never completed; remove it and \
             its key file to start again",
            path.display()
        );
    }
    Ok(if version == current {
        FileStatus::Current
    } else {
        FileStatus::Older(version)
    })
}

/// Applies the migrations after `from` and records the new version and the application ID.
/// Call inside a `BEGIN IMMEDIATE` transaction.
pub fn migrate(conn: &Connection, from: i32) -> anyhow::Result<()> {
    let start = usize::try_from(from).unwrap_or(0);
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(start) {
        conn.execute_batch(sql)
            .with_context(|| format!("cannot migrate the target file to version {}", index + 1))?;
    }
    conn.pragma_update(None, "application_id", APPLICATION_ID)
        .context("cannot set the target file's application_id")?;
    conn.pragma_update(None, "user_version", schema_version())
        .context("cannot set the target file's schema version")?;
    Ok(())
}

/// Creates an empty file with mode 0600 whatever the umask; an existing file is left alone.
fn create_private_file(path: &Path) -> anyhow::Result<()> {
    let context = || format!("cannot create target file {}", path.display());
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(file) => {
            file.set_permissions(fs::Permissions::from_mode(0o600))
                .with_context(context)?;
            file.sync_all().with_context(context)?;
            Ok(())
        }
        Err(error) if error.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error).with_context(context),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_applies_and_is_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = connect(&path).unwrap();
        assert_eq!(inspect(&conn, &path).unwrap(), FileStatus::Empty);
        let tx = conn.transaction().unwrap();
        migrate(&tx, 0).unwrap();
        tx.commit().unwrap();
        assert_eq!(inspect(&conn, &path).unwrap(), FileStatus::Current);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let journal: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(journal, "delete");
    }

    #[test]
    fn foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE x (y)").unwrap();
        drop(conn);
        let conn = connect(&path).unwrap();
        let message = inspect(&conn, &path).unwrap_err().to_string();
        assert!(message.contains("not a pamform target file"), "{message}");

        let text = dir.path().join("text.db");
        fs::write(
            &text,
            "hello, this is not a database at all, not even close....",
        )
        .unwrap();
        let message = format!("{:#}", connect(&text).unwrap_err());
        assert!(message.contains("not a pamform target file"), "{message}");
    }
}
