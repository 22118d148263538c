-- Idempotency keys: a client's retry of a deployment POST (the same `Idempotency-Key`
-- from the same user) answers with what the first request queued instead of queuing
-- again. The tasks it queued, comma-separated. Compatible: it only adds a table.
CREATE TABLE idempotency_keys (
    user_id INTEGER NOT NULL,
    idem_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    task_ids TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (user_id, idem_key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
