-- Rolling upgrades: each node records its schema level (the newest migration its
-- binary knows), and each migration whether nodes of the schema before it may keep
-- running beside it (1) or must all stop first (0). Compatible: it only adds columns.
ALTER TABLE nodes ADD COLUMN schema_level BIGINT;
ALTER TABLE schema_migrations ADD COLUMN compatible BIGINT NOT NULL DEFAULT 0;
