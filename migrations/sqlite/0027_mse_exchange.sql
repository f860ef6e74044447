-- The exchange with ИС МСЭ (the MSE connector): TSR clarification requests with their lifecycle (порядок ФБ МСЭ для ИС МСЭ в ЕЦП),
-- the MSE bureau's read-only role scoped by the institution that issued the IPRA, and the cursor of the
-- scheduled export of the execution status per IPRA for the bureaus (ИС «Исполнение ИПРА», the regional data mart).

-- A TSR clarification request: raised with the citizen's (or representative's) consent on the date the person
-- presented the programme, its printed form kept as raised; sent through the connector's outbox; closed when
-- ИС МСЭ answers or when the corrected IPRA arrives (linked here). Its deadline is the follow-up's.
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
    status              TEXT NOT NULL CHECK (status IN ('raised', 'sent', 'answered', 'rejected', 'superseded')),
    printed             BLOB,
    document_name       TEXT,
    message_id          INTEGER,
    sent_at             TEXT,
    answered_at         TEXT,
    answer              TEXT,
    corrected_ipra_id   INTEGER REFERENCES ipras (id),
    closed_at           TEXT,
    created_at          TEXT NOT NULL,
    created_by          TEXT NOT NULL
);
CREATE INDEX tsr_clarifications_ipra ON tsr_clarifications (ipra_id, status);
CREATE INDEX tsr_clarifications_status ON tsr_clarifications (status, id);
CREATE INDEX tsr_clarifications_document ON tsr_clarifications (document_name);

-- Where the status export of each connector stands: new IPRAs by (received_at, id), and the status changes of
-- execution records and reports by the id of their lifecycle event; each run exports the IPRAs past these and
-- moves them on.
CREATE TABLE status_export_cursors (
    connector           TEXT PRIMARY KEY,
    ipra_received       TEXT NOT NULL,
    ipra_id             INTEGER NOT NULL,
    event_id            INTEGER NOT NULL,
    exported            INTEGER NOT NULL DEFAULT 0,
    updated_at          TEXT NOT NULL
);

-- The IPRAs a new IPRA replaced (their status changes with it: the export sends them too).
CREATE INDEX ipras_superseded_by ON ipras (superseded_by);

-- The MSE bureau's role (`bureau`), scoped by the issuing institution (`issuer`, as IPRAs name it in
-- `issued_by`). SQLite cannot change a CHECK in place: the table is rebuilt with its rows, the keys that
-- sessions, tokens and settings point at unchanged (their checks deferred to the end of the migration).
PRAGMA defer_foreign_keys = ON;
CREATE TEMP TABLE users_0027 AS SELECT * FROM users;
DROP TABLE users;
CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    login           TEXT NOT NULL UNIQUE,
    full_name       TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('administrator', 'coordinator', 'executor', 'auditor', 'bureau')),
    ogrn            TEXT,
    password_hash   TEXT,
    oidc_subject    TEXT UNIQUE,
    active          INTEGER NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    issuer          TEXT
);
INSERT INTO users (id, login, full_name, role, ogrn, password_hash, oidc_subject, active, created_at, updated_at)
    SELECT id, login, full_name, role, ogrn, password_hash, oidc_subject, active, created_at, updated_at FROM users_0027;
DROP TABLE users_0027;
