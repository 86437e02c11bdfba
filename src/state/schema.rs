//! The state file's schema and its append-only migrations, versioned by `PRAGMA user_version`.
//!
//! Invariant: a released entry of `MIGRATIONS` is never edited; a new schema version appends one.
//! A file whose `user_version` is above `CURRENT` was written by a newer pamform and is refused.

/// `PRAGMA application_id` of a pamform state file: "PAMF".
pub const APPLICATION_ID: i32 = 0x5041_4D46;

/// Migration `i` brings the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 0 -> 1: the first schema.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE resources (
        address      TEXT PRIMARY KEY,
        kind         TEXT NOT NULL,
        team         TEXT,
        grp          TEXT,
        item         TEXT,
        remote_id    TEXT,
        requested_by TEXT,
        attributes   TEXT NOT NULL DEFAULT '{}',
        serial       INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX resources_by_team ON resources (team, kind);
    CREATE TABLE bindings (
        otp_api_user  TEXT PRIMARY KEY,
        caller        TEXT NOT NULL,
        otp           BLOB NOT NULL,
        otp_serial    INTEGER NOT NULL,
        checkout_id   TEXT NOT NULL,
        bound_at      TEXT NOT NULL,
        handed_off_at TEXT,
        -- Set while a lookup's OTP login is in flight: a crash leaves it set.
        login_started_at TEXT
    );
    CREATE TABLE lookup_cache (
        otp_api_user TEXT NOT NULL,
        account      TEXT NOT NULL,
        password     BLOB NOT NULL,
        expires_at   INTEGER NOT NULL,
        PRIMARY KEY (otp_api_user, account)
    ) WITHOUT ROWID;
    CREATE TABLE journal (
        id          INTEGER PRIMARY KEY,
        run_id      TEXT NOT NULL,
        step        INTEGER NOT NULL,
        subject     TEXT NOT NULL,
        operation   TEXT NOT NULL,
        status      TEXT NOT NULL,
        remote_id   TEXT,
        detail      TEXT NOT NULL DEFAULT '{}',
        message     TEXT,
        started_at  TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE INDEX journal_by_status ON journal (status);
    CREATE TABLE audit (
        id      INTEGER PRIMARY KEY,
        at      TEXT NOT NULL,
        actor   TEXT NOT NULL,
        host    TEXT NOT NULL,
        command TEXT NOT NULL,
        run_id  TEXT,
        summary TEXT NOT NULL
    );
    "#,
];

/// The schema version this pamform writes.
pub const CURRENT: i64 = MIGRATIONS.len() as i64;
