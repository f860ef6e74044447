-- The audit log's pages are newest first by time, then by entry number: the time index holds both
-- in that order, so a period's page (or the log's first page) walks it down and stops at the page.
-- On SQLite the entry number is the row's id and already closed the index's order; it is named
-- here as on PostgreSQL.
DROP INDEX audit_log_at;
CREATE INDEX audit_log_at ON audit_log (at, id);
