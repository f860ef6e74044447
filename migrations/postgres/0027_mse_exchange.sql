-- The exchange with ИС МСЭ (the MSE connector): TSR clarification requests with their lifecycle (порядок ФБ МСЭ для ИС МСЭ в ЕЦП),
-- the MSE bureau's read-only role scoped by the institution that issued the IPRA, and the cursor of the
-- scheduled export of the execution status per IPRA for the bureaus (ИС «Исполнение ИПРА», the regional data mart).

-- A TSR clarification request: raised with the citizen's (or representative's) consent on the date the person
-- presented the programme, its printed form kept as raised; sent through the connector's outbox; closed when
-- ИС МСЭ answers or when the corrected IPRA arrives (linked here). Its deadline is the follow-up's.
CREATE TABLE tsr_clarifications (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    follow_up_id        BIGINT NOT NULL UNIQUE REFERENCES follow_ups (id),
    ipra_id             BIGINT NOT NULL REFERENCES ipras (id),
    sender_ogrn         TEXT NOT NULL,
    consent_by          TEXT NOT NULL CHECK (consent_by IN ('citizen', 'representative')),
    consent_at          TEXT NOT NULL,
    received_date       TEXT NOT NULL,
    reason              TEXT NOT NULL,
    due_date            TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('raised', 'sent', 'answered', 'rejected', 'superseded')),
    printed             BYTEA,
    document_name       TEXT,
    message_id          BIGINT,
    sent_at             TEXT,
    answered_at         TEXT,
    answer              TEXT,
    corrected_ipra_id   BIGINT REFERENCES ipras (id),
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
    ipra_id             BIGINT NOT NULL,
    event_id            BIGINT NOT NULL,
    exported            BIGINT NOT NULL DEFAULT 0,
    updated_at          TEXT NOT NULL
);

-- The IPRAs a new IPRA replaced (their status changes with it: the export sends them too).
CREATE INDEX ipras_superseded_by ON ipras (superseded_by);

-- The MSE bureau's role (`bureau`), scoped by the issuing institution (`issuer`, as IPRAs name it in
-- `issued_by`).
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('administrator', 'coordinator', 'executor', 'auditor', 'bureau'));
ALTER TABLE users ADD COLUMN issuer TEXT;
