-- A password check reserves its throttle slot before the hash runs; while it runs the
-- row is pending (it still counts against the limit). A wrong password settles it as a
-- failure, a right one deletes it. Pending rows tell "busy right now" (retry in a
-- second) from "too many failures" (wait for the window).
ALTER TABLE login_failures ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
