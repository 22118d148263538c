-- Rolling upgrades: each node records its schema level (the newest migration its
-- binary knows), and each migration whether nodes of the schema before it may keep
-- running beside it (1) or must all stop first (0). Compatible: it only adds columns.
ALTER TABLE nodes ADD COLUMN schema_level INTEGER;
ALTER TABLE schema_migrations ADD COLUMN compatible INTEGER NOT NULL DEFAULT 0;
