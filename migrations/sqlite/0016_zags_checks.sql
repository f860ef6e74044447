-- What a connector refused in an incoming message, one Russian line each: the whole document (an
-- unknown format version) or single records (a bad SNILS, an unreadable date). The message itself is
-- processed; the refusals stay on it for the operator (`ipra exchange show`, the ZAGS decisions page)
-- instead of living only in a job run's report.
ALTER TABLE exchange_messages ADD COLUMN refusals TEXT;
CREATE INDEX exchange_messages_refusals ON exchange_messages (connector, id) WHERE refusals IS NOT NULL;
