-- System tasks' schedule, and the server nodes' heartbeats.

-- One row per built-in system task. `next_run_at` 0: not yet scheduled. Queuing is a
-- conditional update of `next_run_at`, so several processes queue each run once.
CREATE TABLE system_tasks (
    name          TEXT    PRIMARY KEY,
    interval_secs INTEGER NOT NULL,
    next_run_at   INTEGER NOT NULL DEFAULT 0,
    last_task_id  INTEGER
) WITHOUT ROWID;
INSERT INTO system_tasks (name, interval_secs) VALUES
    ('Retention', 14400), ('Backup', 86400), ('SessionCleanup', 3600), ('NodeHealth', 60);

CREATE TABLE nodes (
    name       TEXT    PRIMARY KEY,
    version    TEXT    NOT NULL,
    task_cap   INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    draining   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Retention walks each kind of task oldest first.
CREATE INDEX tasks_by_name ON tasks(name, id);
