-- The exchange with the social-services system (АИС СОН): the IPPSU drafts sent to it (create, and
-- correct on a superseding IPRA or a changed measure) with its answers, and the services it reports back
-- as execution records of the social-protection measures. The host names no connector: each row carries
-- the connector that sent or brought it.

-- One IPPSU document sent (or to be sent) for an IPRA. A send is `pending` until its document is queued in
-- the exchange in the same transaction that marks it `queued` (so that a kill between the two leaves neither);
-- `sent` once the transport delivered it; `accepted` (with the IPPSU number) or `rejected` (with the reason)
-- when АИС СОН answers. A create is taken from the `ippsu-draft` follow-up once (`follow_up_id`, unique
-- for a create); a correction names why and, after a superseding IPRA, the IPRA it replaced.
CREATE TABLE ippsu_sends (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connector           TEXT NOT NULL,
    follow_up_id        BIGINT NOT NULL REFERENCES follow_ups (id),
    ipra_id             BIGINT NOT NULL REFERENCES ipras (id),
    action              TEXT NOT NULL CHECK (action IN ('create', 'correct')),
    previous_ipra_id    BIGINT REFERENCES ipras (id),
    reason              TEXT,
    status              TEXT NOT NULL CHECK (status IN ('pending', 'queued', 'sent', 'accepted', 'rejected', 'superseded')),
    document_name       TEXT UNIQUE,
    message_id          BIGINT,
    ippsu_number        TEXT,
    answer_reason       TEXT,
    created_at          TEXT NOT NULL,
    queued_at           TEXT,
    sent_at             TEXT,
    answered_at         TEXT
);
CREATE UNIQUE INDEX ippsu_sends_create ON ippsu_sends (follow_up_id) WHERE action = 'create';
CREATE INDEX ippsu_sends_status ON ippsu_sends (connector, status, id);
CREATE INDEX ippsu_sends_ipra ON ippsu_sends (ipra_id, id);

-- Where each connector's IPPSU outbox stands in the history of measure assignments: the assignments past it
-- are the changed executors whose IPRA's IPPSU gets a correction; `gaps` (JSON: [id, first missed, unix time])
-- the ids below it not seen yet, read again until they appear or are given up (an id taken by a transaction
-- that commits after a later one).
CREATE TABLE ippsu_change_cursors (
    connector           TEXT PRIMARY KEY,
    assignment_id       BIGINT NOT NULL,
    gaps                TEXT NOT NULL DEFAULT '[]',
    updated_at          TEXT NOT NULL
);

-- One service АИС СОН reported back, applied once: the report's record (connector + document id) and the
-- measure key; the execution record it became.
CREATE TABLE social_service_results (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connector           TEXT NOT NULL,
    document_id         TEXT NOT NULL,
    measure_key         TEXT NOT NULL,
    ipra_id             BIGINT NOT NULL REFERENCES ipras (id),
    measure_id          BIGINT NOT NULL REFERENCES measures (id),
    execution_record_id BIGINT NOT NULL,
    service_result      TEXT NOT NULL CHECK (service_result IN ('provided', 'refused', 'not-provided')),
    file_name           TEXT NOT NULL,
    applied_at          TEXT NOT NULL,
    UNIQUE (connector, document_id, measure_key)
);
CREATE INDEX social_service_results_ipra ON social_service_results (ipra_id, id);
CREATE INDEX social_service_results_record ON social_service_results (execution_record_id);
