-- TSR clarification requests (порядок ФБ МСЭ для ИС МСЭ в ЕЦП), the gaps of 0027 closed: a request not yet queued
-- may be withdrawn (`withdrawn`); the list of every request is filtered by territory, sender and the day it
-- was raised through indexes; and the TSR items of the open requests are claimed in a table whose partial
-- unique index lets one open request per TSR item exist, however many submissions race.
-- SQLite cannot change a CHECK in place: the table is rebuilt with its rows (nothing references it).
PRAGMA defer_foreign_keys = ON;
CREATE TEMP TABLE tsr_clarifications_0030 AS SELECT * FROM tsr_clarifications;
DROP TABLE tsr_clarifications;
CREATE TABLE tsr_clarifications (
    id                  INTEGER PRIMARY KEY,
    follow_up_id        INTEGER NOT NULL UNIQUE REFERENCES follow_ups (id),
    ipra_id             INTEGER NOT NULL REFERENCES ipras (id),
    sender_ogrn         TEXT NOT NULL,
    consent_by          TEXT NOT NULL CHECK (consent_by IN ('citizen', 'representative')),
    consent_at          TEXT NOT NULL,
    received_date       TEXT NOT NULL,
    reason              TEXT NOT NULL,
    due_date            TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('raised', 'sent', 'answered', 'rejected', 'superseded', 'withdrawn')),
    printed             BLOB,
    document_name       TEXT,
    message_id          INTEGER,
    sent_at             TEXT,
    answered_at         TEXT,
    answer              TEXT,
    corrected_ipra_id   INTEGER REFERENCES ipras (id),
    closed_at           TEXT,
    created_at          TEXT NOT NULL,
    created_by          TEXT NOT NULL,
    -- The IPRA's territory (the list's filter) and the day the request was raised in the region's zone.
    territory_code      TEXT,
    raised_on           TEXT,
    -- Counts the changes made before the request is queued: the outbox queues the revision it wrote or nothing.
    revision            INTEGER NOT NULL DEFAULT 0
);
INSERT INTO tsr_clarifications (id, follow_up_id, ipra_id, sender_ogrn, consent_by, consent_at, received_date, reason,
    due_date, status, printed, document_name, message_id, sent_at, answered_at, answer, corrected_ipra_id, closed_at,
    created_at, created_by, territory_code, raised_on)
    SELECT t.id, t.follow_up_id, t.ipra_id, t.sender_ogrn, t.consent_by, t.consent_at, t.received_date, t.reason,
        t.due_date, t.status, t.printed, t.document_name, t.message_id, t.sent_at, t.answered_at, t.answer,
        t.corrected_ipra_id, t.closed_at, t.created_at, t.created_by,
        (SELECT i.territory_code FROM ipras i WHERE i.id = t.ipra_id), substr(t.created_at, 1, 10)
    FROM tsr_clarifications_0030 t;
DROP TABLE tsr_clarifications_0030;
CREATE INDEX tsr_clarifications_ipra ON tsr_clarifications (ipra_id, status);
CREATE INDEX tsr_clarifications_status ON tsr_clarifications (status, id);
CREATE INDEX tsr_clarifications_document ON tsr_clarifications (document_name);
CREATE INDEX tsr_clarifications_sender ON tsr_clarifications (sender_ogrn, id);
CREATE INDEX tsr_clarifications_territory ON tsr_clarifications (territory_code, id);
CREATE INDEX tsr_clarifications_raised ON tsr_clarifications (raised_on, id);

-- The TSR items (measures) of each request; `is_open` while the request is raised or sent.
CREATE TABLE tsr_clarification_measures (
    request_id          INTEGER NOT NULL REFERENCES tsr_clarifications (id),
    ipra_id             INTEGER NOT NULL,
    measure_id          INTEGER NOT NULL,
    is_open             INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (request_id, measure_id)
);
CREATE UNIQUE INDEX tsr_clarification_measures_open ON tsr_clarification_measures (measure_id) WHERE is_open = 1;
CREATE INDEX tsr_clarification_measures_ipra ON tsr_clarification_measures (ipra_id);
-- The open requests raised before: their items as the follow-up names them (`item.N.key`).
INSERT INTO tsr_clarification_measures (request_id, ipra_id, measure_id, is_open)
    SELECT c.id, c.ipra_id, m.id, 1 FROM tsr_clarifications c
    JOIN follow_ups f ON f.id = c.follow_up_id
    JOIN measures m ON m.ipra_id = c.ipra_id AND m.section = 'tsr' AND f.attributes LIKE '%"' || m.measure_key || '"%'
    WHERE c.status IN ('raised', 'sent')
    ON CONFLICT DO NOTHING;
