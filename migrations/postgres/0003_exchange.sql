-- Scheduler, exchange and signing: jobs with cron schedules and their runs, durable inbox/outbox
-- messages, the hash-chained exchange log, signature attempts, ZAGS death records awaiting a decision.

CREATE TABLE jobs (
    name            TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    schedule        TEXT NOT NULL,
    enabled         BIGINT NOT NULL DEFAULT 1,
    config          TEXT NOT NULL,
    max_attempts    BIGINT NOT NULL DEFAULT 3,
    backoff_seconds BIGINT NOT NULL DEFAULT 60,
    running_run     BIGINT,
    updated_at      TEXT NOT NULL
);

CREATE TABLE job_runs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job             TEXT NOT NULL REFERENCES jobs (name),
    trigger         TEXT NOT NULL,
    dry_run         BIGINT NOT NULL,
    attempt         BIGINT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'retrying', 'failed', 'discarded', 'retried')),
    instance        TEXT NOT NULL,
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    next_attempt_at TEXT,
    counts          TEXT NOT NULL,
    errors          TEXT NOT NULL,
    report          TEXT
);
CREATE INDEX job_runs_job ON job_runs (job, id);
CREATE INDEX job_runs_status ON job_runs (status, next_attempt_at);

CREATE TABLE exchange_messages (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connector       TEXT NOT NULL,
    direction       TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    kind            TEXT NOT NULL,
    file_name       TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    payload         BYTEA NOT NULL,
    signature       BYTEA,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    report_id       BIGINT,
    claimed_by      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    next_attempt_at TEXT,
    UNIQUE (connector, direction, sha256)
);
CREATE INDEX exchange_messages_status ON exchange_messages (connector, direction, status);

-- Append-only: every exchanged document with its hash; each entry carries the previous entry's hash.
CREATE TABLE exchange_log (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              TEXT NOT NULL,
    connector       TEXT NOT NULL,
    direction       TEXT NOT NULL,
    message_id      BIGINT,
    file_name       TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    prev_hash       TEXT NOT NULL UNIQUE,
    entry_hash      TEXT NOT NULL UNIQUE
);

CREATE TABLE signing_attempts (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_id       BIGINT NOT NULL REFERENCES reports (id),
    provider        TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('signed', 'failed')),
    detail          TEXT NOT NULL,
    actor           TEXT NOT NULL,
    at              TEXT NOT NULL
);

ALTER TABLE reports ADD COLUMN signature_info TEXT;
ALTER TABLE persons ADD COLUMN zags_checked_at TEXT;

-- Death records received from ZAGS; those that match no person unambiguously wait for a decision.
CREATE TABLE death_records (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    snils           TEXT,
    surname         TEXT NOT NULL,
    given_name      TEXT NOT NULL,
    patronymic      TEXT,
    birth_date      TEXT,
    death_date      TEXT,
    act_number      TEXT,
    act_date        TEXT,
    registry_office TEXT,
    status          TEXT NOT NULL CHECK (status IN ('applied', 'pending', 'no-match', 'rejected', 'cancelled')),
    person_id       BIGINT REFERENCES persons (id),
    decided_by      TEXT,
    received_at     TEXT NOT NULL,
    note            TEXT,
    UNIQUE (record_id, kind)
);
CREATE INDEX death_records_status ON death_records (status);

-- Local measure types mapped to EGISSO reference entries (LMSZ, categories).
CREATE TABLE egisso_mappings (
    local_code      TEXT PRIMARY KEY,
    lmsz_id         TEXT NOT NULL,
    category_id     TEXT,
    osz_code        TEXT,
    updated_at      TEXT NOT NULL,
    updated_by      TEXT NOT NULL
);
CREATE TABLE egisso_facts (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id    BIGINT NOT NULL UNIQUE REFERENCES execution_records (id),
    message_id      BIGINT,
    status          TEXT NOT NULL,
    error           TEXT,
    created_at      TEXT NOT NULL
);
