-- Slugs: what people type for a project or an environment (`GET /api/projects/web`).
-- Set when it is created, from its name, and kept on rename unless set. Compatible: a
-- nullable column older nodes never read; a row without one (made before this version,
-- or by an older node) answers with the slug of its name until it is given one.
ALTER TABLE projects ADD COLUMN slug TEXT;
ALTER TABLE environments ADD COLUMN slug TEXT;
CREATE UNIQUE INDEX projects_by_slug ON projects (slug);
CREATE UNIQUE INDEX environments_by_slug ON environments (slug);
