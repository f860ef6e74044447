-- Exchange recovery and a sealed exchange log.
--
-- A claimed message holds a lease (`lease_until`) that its worker renews while it works; a
-- message whose lease ran out (its instance was killed) is taken again by the next claim.
ALTER TABLE exchange_messages ADD COLUMN lease_until TEXT;

-- The exchange log is written in the transaction of its message (one INSERT, no chain read) and
-- sealed shortly after, in order, by the scheduler's leader like the audit log: `seq` is its place
-- in the chain and `entry_hash` covers the entry before it and every field of its own. Entries
-- of the earlier chain are sealed again under this scheme on the first seal.
CREATE TABLE exchange_log_sealed (
    id              INTEGER PRIMARY KEY,
    at              TEXT NOT NULL,
    connector       TEXT NOT NULL,
    direction       TEXT NOT NULL,
    message_id      INTEGER,
    file_name       TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    seq             INTEGER,
    entry_hash      TEXT
);
INSERT INTO exchange_log_sealed (id, at, connector, direction, message_id, file_name, sha256)
    SELECT id, at, connector, direction, message_id, file_name, sha256 FROM exchange_log ORDER BY id;
DROP TABLE exchange_log;
ALTER TABLE exchange_log_sealed RENAME TO exchange_log;
CREATE UNIQUE INDEX exchange_log_seq ON exchange_log (seq);
CREATE INDEX exchange_log_unsealed ON exchange_log (id) WHERE seq IS NULL;
CREATE INDEX exchange_log_message ON exchange_log (message_id);
CREATE TABLE exchange_seal (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    seq         INTEGER NOT NULL,
    head_hash   TEXT NOT NULL,
    sealed_at   TEXT
);
INSERT INTO exchange_seal (id, seq, head_hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- An import run is `running` while its process lives (it beats `heartbeat_at`), then `finished`,
-- `failed`, or `interrupted` when the process was killed.
ALTER TABLE import_runs ADD COLUMN status TEXT NOT NULL DEFAULT 'finished';
ALTER TABLE import_runs ADD COLUMN instance TEXT;
ALTER TABLE import_runs ADD COLUMN heartbeat_at TEXT;
ALTER TABLE import_runs ADD COLUMN error TEXT;
UPDATE import_runs SET status = 'interrupted', error = 'загрузка прервана: процесс остановился' WHERE finished_at IS NULL;
CREATE INDEX import_runs_running ON import_runs (id) WHERE status = 'running';
