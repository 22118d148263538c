-- A node that stopped on purpose (SIGTERM, Ctrl-C) says so, instead of going silent.
ALTER TABLE nodes ADD COLUMN stopped_at INTEGER;
