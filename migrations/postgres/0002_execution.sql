-- Execution of IPRA: executor organisations, routing rules, assignments with history, execution
-- records, reports and their lifecycle, follow-ups of department plugins, social-service recipients.

CREATE TABLE organisations (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ogrn            TEXT NOT NULL UNIQUE,
    inn             TEXT,
    name            TEXT NOT NULL,
    department      TEXT NOT NULL,
    territory_code  TEXT,
    executor_type   TEXT,
    phone           TEXT,
    email           TEXT,
    active          BIGINT NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX organisations_department ON organisations (department, territory_code);

-- A rule names the executor of a section in a territory (NULL territory: the whole region).
-- Rules are never edited: a change retires the rule (retired_at) and adds a new one.
CREATE TABLE routing_rules (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    section         TEXT NOT NULL,
    territory_code  TEXT,
    ogrn            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    retired_at      TEXT,
    retired_by      TEXT
);
CREATE INDEX routing_rules_active ON routing_rules (section, territory_code, retired_at);

ALTER TABLE measures ADD COLUMN status TEXT NOT NULL DEFAULT 'open';
ALTER TABLE measures ADD COLUMN due_date TEXT;
ALTER TABLE measures ADD COLUMN closed_reason TEXT;
ALTER TABLE measures ADD COLUMN assignment_source TEXT;
CREATE INDEX measures_status ON measures (status, due_date);

-- Every assignment of a measure to an executor, automatic or by hand.
CREATE TABLE measure_assignments (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    measure_id      BIGINT NOT NULL REFERENCES measures (id),
    ogrn            TEXT,
    source          TEXT NOT NULL,
    assigned_at     TEXT NOT NULL,
    assigned_by     TEXT NOT NULL,
    note            TEXT
);
CREATE INDEX measure_assignments_measure ON measure_assignments (measure_id);

-- What an executor did on a measure (or an extra measure of its section), or why not.
CREATE TABLE execution_records (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ipra_id         BIGINT NOT NULL REFERENCES ipras (id),
    measure_id      BIGINT REFERENCES measures (id),
    section         TEXT NOT NULL,
    organisation    TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('draft', 'ready', 'reported')),
    result          TEXT NOT NULL CHECK (result IN ('executed', 'not-executed')),
    measure_name    TEXT NOT NULL,
    executor_ogrn   TEXT NOT NULL,
    executor_name   TEXT,
    clarification   TEXT,
    execution_date  TEXT,
    reasons         TEXT NOT NULL,
    comment         TEXT,
    report_id       BIGINT,
    carried_from    BIGINT,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX execution_records_ipra ON execution_records (ipra_id, status);

-- The execution report of an IPRA, assembled from all departments, and its way to FRI.
CREATE TABLE reports (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ipra_id             BIGINT NOT NULL REFERENCES ipras (id),
    status              TEXT NOT NULL CHECK (status IN ('awaiting-signature', 'signed', 'sent', 'accepted', 'rejected', 'withdrawn')),
    reporter_ogrn       TEXT NOT NULL,
    reporter_name       TEXT NOT NULL,
    document_name       TEXT NOT NULL,
    document            BYTEA NOT NULL,
    document_sha256     TEXT NOT NULL,
    signature           BYTEA,
    signer              TEXT,
    created_at          TEXT NOT NULL,
    created_by          TEXT NOT NULL,
    due_date            TEXT,
    signed_at           TEXT,
    sent_at             TEXT,
    answered_at         TEXT,
    rejection_reason    TEXT
);
CREATE INDEX reports_ipra ON reports (ipra_id, status);

-- Status changes of reports and execution records, for the history views.
CREATE TABLE lifecycle_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject     TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    note        TEXT
);
CREATE INDEX lifecycle_events_subject ON lifecycle_events (subject);

-- What department plugins asked the host to keep: IPPSU drafts, TSR clarification requests, ...
CREATE TABLE follow_ups (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ipra_id         BIGINT NOT NULL REFERENCES ipras (id),
    plugin_id       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    title           TEXT NOT NULL,
    due_date        TEXT,
    attributes      TEXT NOT NULL,
    document_name   TEXT,
    document        BYTEA,
    status          TEXT NOT NULL DEFAULT 'open',
    created_at      TEXT NOT NULL
);
CREATE INDEX follow_ups_ipra ON follow_ups (ipra_id, kind);

CREATE TABLE social_service_recipients (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id   BIGINT NOT NULL UNIQUE REFERENCES persons (id),
    ipra_id     BIGINT REFERENCES ipras (id),
    added_at    TEXT NOT NULL,
    source      TEXT NOT NULL
);
