-- Environments in promotion order (Octopus's SortOrder): the dashboard's columns, the
-- Environments page and "Promote to <next>" follow it. Existing ones keep creation order.
ALTER TABLE environments ADD COLUMN sort_order INTEGER NOT NULL DEFAULT 0;
UPDATE environments SET sort_order = id;
