-- Approvals: rules a project sets per environment (who must approve its deployments
-- there), and Octopus's interruptions, one per rule a queued deployment must meet.
-- A deployment that waits is a queued task marked `awaiting_approval`: the claim's
-- own index leaves it out (so 10,000 waiting cost a claim nothing), and a trigger
-- keeps any writer, an older node's claim mid-upgrade included, from starting it
-- while the mark is on (its UPDATE skips the row, as a claim that lost a race does).
-- Compatible: a column with a default, tables older nodes never read, and the
-- trigger; an older node mid-upgrade queues without approvals, as before.
ALTER TABLE tasks ADD COLUMN awaiting_approval INTEGER NOT NULL DEFAULT 0;

-- What a claim walks: queued tasks not waiting for an approval, in FIFO order.
CREATE INDEX tasks_claim ON tasks(queue_time, id)
    WHERE state = 'Queued' AND awaiting_approval = 0;
-- The waiting deployments, oldest first (the Approvals page, safe-to-stop's count).
CREATE INDEX tasks_awaiting ON tasks(queue_time, id)
    WHERE state = 'Queued' AND awaiting_approval = 1;

CREATE TRIGGER tasks_wait_for_approval BEFORE UPDATE OF state ON tasks
    WHEN OLD.awaiting_approval = 1 AND NEW.state = 'Executing'
BEGIN
    SELECT RAISE(IGNORE);
END;

-- A project's rules, in order. Lists are JSON arrays: environment ids (empty: every
-- environment), role names, user ids.
CREATE TABLE approval_rules (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id       INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    position         INTEGER NOT NULL,
    environment_ids  TEXT    NOT NULL,
    role_names       TEXT    NOT NULL,
    user_ids         TEXT    NOT NULL,
    not_by_requester INTEGER NOT NULL,
    note_required    INTEGER NOT NULL
);
CREATE INDEX approval_rules_by_project ON approval_rules(project_id, position);

-- One per rule a waiting deployment must meet. `rule` is the rule as it was when the
-- deployment was queued (JSON), judged by only if the rule is deleted meanwhile.
-- Pending while `result` is NULL and the task is still queued.
CREATE TABLE interruptions (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id             INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    rule_id             INTEGER REFERENCES approval_rules(id) ON DELETE SET NULL,
    rule                TEXT    NOT NULL,
    title               TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    requested_by        INTEGER,
    responsible_user_id INTEGER,
    result              TEXT,
    notes               TEXT,
    submitted_by        TEXT,
    submitted_by_user   INTEGER,
    submitted_at        INTEGER
);
CREATE INDEX interruptions_by_task ON interruptions(task_id, id);
-- A rule's deletion clears its interruptions' rule_id without reading them all.
CREATE INDEX interruptions_by_rule ON interruptions(rule_id);
CREATE INDEX interruptions_pending ON interruptions(id) WHERE result IS NULL;
