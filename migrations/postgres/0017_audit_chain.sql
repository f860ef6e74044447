-- The general audit log becomes a hash chain (`audit::seal`): each entry gets its place in the
-- chain and a hash over the entry before it and every field of its own. Entries are written as
-- before (one INSERT on the hot path of every card read) and sealed in order shortly after by the
-- scheduler's leader; `audit_seal` holds the chain's head and serialises the sealers.
ALTER TABLE audit_log ADD COLUMN seq BIGINT;
ALTER TABLE audit_log ADD COLUMN entry_hash TEXT;
CREATE UNIQUE INDEX audit_log_seq ON audit_log (seq);
CREATE INDEX audit_log_unsealed ON audit_log (id) WHERE seq IS NULL;
CREATE TABLE audit_seal (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    seq         BIGINT NOT NULL,
    head_hash   TEXT NOT NULL,
    sealed_at   TEXT
);
INSERT INTO audit_seal (id, seq, head_hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
