-- How many of a task's log lines came from stderr, counted as they are appended, so
-- that a task's HasWarningsOrErrors costs no scan of its log.
ALTER TABLE tasks ADD COLUMN error_lines INTEGER NOT NULL DEFAULT 0;
UPDATE tasks SET error_lines =
    (SELECT COUNT(*) FROM task_log WHERE task_log.task_id = tasks.id AND task_log.stream = 'stderr');
