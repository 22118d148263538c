-- Who queued each task and how (`Session`, `API key`, `Executions API`, `Schedule`); the
-- script a release was created with (redeploying it runs that); whether an environment
-- asks for a confirmation before a deployment to it (NULL: only the last in promotion
-- order does). Compatible: columns older nodes never read. A task an older node queues
-- has no one recorded (''), a release it creates no script (NULL: it runs the
-- project's script of the moment, as before), an environment keeps the default.
ALTER TABLE tasks ADD COLUMN queued_by TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN queued_via TEXT NOT NULL DEFAULT '';
ALTER TABLE releases ADD COLUMN deployment_script TEXT;
ALTER TABLE environments ADD COLUMN needs_confirmation BIGINT;
