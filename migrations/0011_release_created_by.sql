-- Who created a release (a username), shown on the project and release pages.
ALTER TABLE releases ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
