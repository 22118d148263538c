-- Notices: the events drydock tells of by watching the clock rather than a change
-- (a maintenance window coming up, a freeze window starting and ending, a node gone
-- silent or outdated, a task stuck past its timeout, a drain overdue). Each is keyed
-- by what it tells of (`freeze-started:3:1767225600000`); a node records the event
-- only if its insert of the key is the one that lands, so of several nodes watching
-- the same clock one tells.
-- Compatible: a table older nodes never read.
CREATE TABLE notices (
    key        TEXT    PRIMARY KEY,
    created_at BIGINT  NOT NULL,
    -- For a window begun (a freeze's): when it ends, so that its end is told too.
    ends_at    BIGINT
);
CREATE INDEX notices_ending ON notices(ends_at) WHERE ends_at IS NOT NULL;
