-- Notifications: Octopus's event subscriptions (a filter over audit events and a
-- webhook to tell), and the deliveries each matching event owes, written in the same
-- transaction as the event (an outbox: a crash loses none). A node's sender claims due
-- deliveries under a lease, sends them, and records the outcome; a lease that runs out
-- (the node died mid-send) lets another node send it again: at least once.
-- Compatible: tables and a column older nodes never read (their events raise no
-- deliveries).
CREATE TABLE subscriptions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    is_disabled     INTEGER NOT NULL DEFAULT 0,
    -- {"Users": [...], "Projects": [...], "Environments": [...], "EventGroups": [...],
    --  "EventCategories": [...]}: ids and names as the API gives them; empty: any.
    filter          TEXT    NOT NULL,
    webhook_uri     TEXT    NOT NULL,
    -- 'Octopus' (Octopus's payload) or 'Slack' ({"text": ...}).
    payload         TEXT    NOT NULL,
    timeout_secs    INTEGER NOT NULL,
    header_key      TEXT,
    header_value    TEXT,
    -- The HMAC key of X-Drydock-Signature-256, sealed with the master key.
    secret          TEXT,
    created_at      INTEGER NOT NULL,
    modified_at     INTEGER NOT NULL
);

CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id INTEGER NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    event_id        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    -- 'Pending', 'Delivered' or 'Failed'.
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    -- The node sending it, and until when no other node may.
    claimed_by      TEXT,
    lease_until     INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    last_ms         INTEGER,
    finished_at     INTEGER
);
-- What a sender claims: pending deliveries by when they are due.
CREATE INDEX deliveries_due ON deliveries(next_attempt_at, id) WHERE state = 'Pending';
CREATE INDEX deliveries_by_subscription ON deliveries(subscription_id, id);

-- When "safe to stop" was announced since maintenance mode was last turned on (NULL:
-- not yet): the event fires once per time it is turned on.
ALTER TABLE maintenance ADD COLUMN safe_to_stop_at INTEGER;
