-- Variables, as Octopus has them: a variable set per project and per library variable
-- set, each a versioned JSON list of variables (name, value, type, description,
-- environment scope, prompt) whose sensitive values are sealed with the master key,
-- which is not in the database (see src/secrets.rs); a release's snapshot of the sets
-- it was created with; a deployment's prompted values (sealed) and what it used.
-- Compatible: tables older nodes never read. An older node mid-upgrade deploys
-- without variables, as before, and its releases have no snapshot (they use the
-- project's variables of the moment).
CREATE TABLE library_variable_sets (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    description TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);

CREATE TABLE variable_sets (
    -- 'Projects-N' or 'LibraryVariableSets-N'.
    owner_id       TEXT    PRIMARY KEY,
    project_id     INTEGER REFERENCES projects(id) ON DELETE CASCADE,
    library_set_id INTEGER REFERENCES library_variable_sets(id) ON DELETE CASCADE,
    version        INTEGER NOT NULL,
    variables      TEXT    NOT NULL,
    modified_at    INTEGER NOT NULL
);

-- The library variable sets a project includes, in order.
CREATE TABLE project_library_sets (
    project_id     INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    library_set_id INTEGER NOT NULL REFERENCES library_variable_sets(id),
    position       INTEGER NOT NULL,
    PRIMARY KEY (project_id, library_set_id)
);
CREATE INDEX project_library_sets_by_set ON project_library_sets(library_set_id);

-- The variable sets a release was created with: [{Owner, Version, Variables}].
CREATE TABLE release_variables (
    release_id INTEGER PRIMARY KEY REFERENCES releases(id) ON DELETE CASCADE,
    taken_at   INTEGER NOT NULL,
    snapshot   TEXT    NOT NULL
);

-- A deployment's prompted values (name -> sealed value), and once it started the
-- variables it used (names, scopes and where from; never a value).
CREATE TABLE task_variables (
    task_id  INTEGER PRIMARY KEY REFERENCES tasks(id) ON DELETE CASCADE,
    prompted TEXT    NOT NULL,
    used     TEXT
);
