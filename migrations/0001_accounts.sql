-- Accounts, sessions, API keys, login throttling and the audit log.
-- Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    display_name  TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    is_active     INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL
);

CREATE TABLE user_roles (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role    TEXT    NOT NULL,
    PRIMARY KEY (user_id, role)
) WITHOUT ROWID;

-- Only the SHA-256 of the session token is stored.
CREATE TABLE sessions (
    token_hash   TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_user ON sessions(user_id);
CREATE INDEX sessions_by_last_seen ON sessions(last_seen_at);

-- Only the SHA-256 of the key is stored.
CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose    TEXT    NOT NULL,
    key_hash   TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE INDEX api_keys_by_user ON api_keys(user_id);

-- One row per failed sign-in, keyed 'user:<name>' and 'ip:<address>'.
CREATE TABLE login_failures (
    id  INTEGER PRIMARY KEY,
    key TEXT    NOT NULL,
    at  INTEGER NOT NULL
);
CREATE INDEX login_failures_by_key ON login_failures(key, at);

-- The audit log. AUTOINCREMENT and single-writer transactions make ids grow in commit order.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    category    TEXT    NOT NULL,
    user_id     INTEGER,
    username    TEXT    NOT NULL,
    identity    TEXT    NOT NULL,
    occurred    INTEGER NOT NULL,
    message     TEXT    NOT NULL,
    related_ids TEXT    NOT NULL DEFAULT '[]'
);
