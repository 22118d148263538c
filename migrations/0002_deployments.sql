-- Projects, environments, releases, deployments, and the task queue with its logs.

CREATE TABLE projects (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    name                TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    description         TEXT    NOT NULL DEFAULT '',
    deployment_script   TEXT    NOT NULL,
    script_timeout_secs INTEGER NOT NULL DEFAULT 3600,
    created_at          INTEGER NOT NULL
);

CREATE TABLE environments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);

CREATE TABLE releases (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    version    TEXT    NOT NULL COLLATE NOCASE,
    notes      TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    UNIQUE (project_id, version)
);

-- A task is kept when its project, release or environment is deleted: it is history.
CREATE TABLE tasks (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    name              TEXT    NOT NULL,
    description       TEXT    NOT NULL,
    state             TEXT    NOT NULL,
    queue_time        INTEGER NOT NULL,
    queue_time_expiry INTEGER,
    start_time        INTEGER,
    completed_time    INTEGER,
    last_updated_time INTEGER NOT NULL,
    server_node       TEXT,
    error_message     TEXT,
    project_id        INTEGER,
    environment_id    INTEGER,
    release_id        INTEGER,
    concurrency_tag   TEXT,
    arguments         TEXT    NOT NULL DEFAULT '{}',
    is_system         INTEGER NOT NULL DEFAULT 0,
    exit_code         INTEGER,
    log_lines         INTEGER NOT NULL DEFAULT 0
);
-- The queue: due tasks in FIFO order.
CREATE INDEX tasks_queue ON tasks(state, queue_time, id);
-- Queued tasks that can expire, by expiry: what each round of the queue checks.
CREATE INDEX tasks_expiry ON tasks(queue_time_expiry) WHERE state = 'Queued' AND queue_time_expiry IS NOT NULL;
-- Lists: newest first, optionally by state, node or project.
CREATE INDEX tasks_by_state ON tasks(state, id);
CREATE INDEX tasks_by_project ON tasks(project_id, id);
CREATE INDEX tasks_by_node ON tasks(server_node, id);

CREATE TABLE deployments (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    release_id     INTEGER NOT NULL REFERENCES releases(id) ON DELETE CASCADE,
    environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    task_id        INTEGER NOT NULL REFERENCES tasks(id),
    created_at     INTEGER NOT NULL
);
CREATE INDEX deployments_by_release ON deployments(release_id);
CREATE INDEX deployments_by_environment ON deployments(environment_id);
CREATE UNIQUE INDEX deployments_by_task ON deployments(task_id);

CREATE TABLE task_log (
    task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    stream  TEXT    NOT NULL,
    line    TEXT    NOT NULL,
    PRIMARY KEY (task_id, seq)
) WITHOUT ROWID;

-- Task counts by state, kept by triggers so that lists over a million tasks can give
-- their totals without counting.
CREATE TABLE task_counts (
    state TEXT PRIMARY KEY,
    n     INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO task_counts (state, n) VALUES
    ('Queued', 0), ('Executing', 0), ('Cancelling', 0), ('Success', 0),
    ('Failed', 0), ('Canceled', 0), ('TimedOut', 0);

CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks BEGIN
    UPDATE task_counts SET n = n + 1 WHERE state = NEW.state;
END;
CREATE TRIGGER task_counts_update AFTER UPDATE OF state ON tasks WHEN OLD.state <> NEW.state BEGIN
    UPDATE task_counts SET n = n - 1 WHERE state = OLD.state;
    UPDATE task_counts SET n = n + 1 WHERE state = NEW.state;
END;
CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks BEGIN
    UPDATE task_counts SET n = n - 1 WHERE state = OLD.state;
END;
