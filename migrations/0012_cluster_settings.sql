-- What every node of a cluster must share and reads from the database: on PostgreSQL,
-- where nodes run on several hosts, the key that signs and encrypts cookies (so that a
-- session made through one node works through any). SQLite installs keep theirs in the
-- data directory's secret.key, as before.
CREATE TABLE cluster_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
