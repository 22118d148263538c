-- Maintenance mode: one flag for every process on the database, and scheduled windows.

CREATE TABLE maintenance (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    is_on       INTEGER NOT NULL DEFAULT 0,
    message     TEXT,
    modified_by TEXT,
    modified_on INTEGER,
    -- The window that turned it on (so that window's end turns it off), if any.
    window_id   INTEGER
);
INSERT INTO maintenance (id) VALUES (1);

CREATE TABLE maintenance_windows (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    start_at   INTEGER NOT NULL,
    end_at     INTEGER NOT NULL,
    message    TEXT,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    -- Scheduled, Active, Completed, Canceled
    state      TEXT    NOT NULL DEFAULT 'Scheduled'
);
CREATE INDEX maintenance_windows_by_state ON maintenance_windows(state, start_at);
