-- Deployment freezes (Octopus's /api/deploymentfreezes): windows in which deployments
-- to some project × environment pairs are refused, failed at start or held.
CREATE TABLE deployment_freezes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT    NOT NULL DEFAULT '',
    -- The first window, Unix milliseconds.
    start_time  INTEGER NOT NULL,
    end_time    INTEGER NOT NULL,
    -- Octopus's RecurringSchedule as drydock keeps it (JSON), NULL for one window.
    recurrence  TEXT,
    -- An IANA zone name, or NULL: the fixed offset utc_offset_minutes.
    time_zone   TEXT,
    utc_offset_minutes INTEGER NOT NULL DEFAULT 0,
    -- 'Fail' or 'Hold': what happens to a deployment due while the freeze is on.
    on_start    TEXT    NOT NULL DEFAULT 'Fail',
    -- When the last window ends (NULL: never), so reads can skip finished freezes.
    until_time  INTEGER,
    created_at  INTEGER NOT NULL,
    modified_at INTEGER NOT NULL
);

CREATE TABLE deployment_freeze_scope (
    freeze_id      INTEGER NOT NULL REFERENCES deployment_freezes(id) ON DELETE CASCADE,
    project_id     INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    PRIMARY KEY (freeze_id, project_id, environment_id)
);
CREATE INDEX deployment_freeze_scope_by_pair
    ON deployment_freeze_scope(project_id, environment_id);

-- A queued task a Hold freeze keeps from starting until this time (it stays Queued,
-- its QueueTime unchanged).
ALTER TABLE tasks ADD COLUMN held_until INTEGER;

-- An override: the freezes a deployment was allowed through, and why.
ALTER TABLE deployments ADD COLUMN override_freezes TEXT;
ALTER TABLE deployments ADD COLUMN override_reason TEXT;
CREATE INDEX tasks_held ON tasks(held_until) WHERE held_until IS NOT NULL;
