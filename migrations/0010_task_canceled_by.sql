-- Who asked for a task to be canceled (a username), shown on the task's page. NULL for
-- tasks canceled by drydock itself (a node shutting down) or never canceled.
ALTER TABLE tasks ADD COLUMN canceled_by TEXT;
