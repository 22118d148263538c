-- Which process holds a node's name: its host (host name and boot id), process id and
-- the process's start time (clock ticks since boot, as /proc/<pid>/stat gives it), so a
-- node starting under a name can tell a live holder from a dead one.
ALTER TABLE nodes ADD COLUMN owner_host TEXT;
ALTER TABLE nodes ADD COLUMN owner_pid INTEGER;
ALTER TABLE nodes ADD COLUMN owner_start INTEGER;
