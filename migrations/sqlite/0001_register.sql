-- Regional register: persons, IPRA, measures, source documents and import runs.
-- Dates are ISO 8601 text (they sort correctly); booleans are 0/1; the same shape as the PostgreSQL schema.

CREATE TABLE persons (
    id              INTEGER PRIMARY KEY,
    snils           TEXT NOT NULL UNIQUE CHECK (length(snils) = 11),
    surname         TEXT NOT NULL,
    given_name      TEXT NOT NULL,
    patronymic      TEXT,
    birth_date      TEXT,
    gender          TEXT,
    territory_code  TEXT,
    address         TEXT,
    death_date      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX persons_surname ON persons (surname, given_name);
CREATE INDEX persons_territory ON persons (territory_code);

-- Every incoming document, kept whole (compressed) with the SHA-256 of its original bytes.
CREATE TABLE source_documents (
    id              INTEGER PRIMARY KEY,
    sha256          TEXT NOT NULL UNIQUE,
    file_name       TEXT NOT NULL,
    media_type      TEXT NOT NULL,
    size_bytes      INTEGER NOT NULL,
    compression     TEXT NOT NULL,
    content         BLOB NOT NULL,
    connector       TEXT NOT NULL,
    received_at     TEXT NOT NULL
);

CREATE TABLE ipras (
    id                  INTEGER PRIMARY KEY,
    person_id           INTEGER NOT NULL REFERENCES persons (id),
    snils               TEXT NOT NULL,
    number              TEXT NOT NULL,
    protocol_number     TEXT NOT NULL,
    protocol_date       TEXT NOT NULL,
    decision_date       TEXT,
    valid_until         TEXT,
    issued_by           TEXT,
    is_child            INTEGER NOT NULL,
    document_version    TEXT NOT NULL,
    document_id         TEXT NOT NULL,
    extract_id          TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'closed')),
    superseded_by       INTEGER REFERENCES ipras (id),
    source_document_id  INTEGER NOT NULL REFERENCES source_documents (id),
    extra               TEXT NOT NULL,
    received_at         TEXT NOT NULL,
    UNIQUE (number, protocol_number, protocol_date, snils)
);
CREATE INDEX ipras_person ON ipras (person_id, status);
CREATE INDEX ipras_decision ON ipras (decision_date);
CREATE INDEX ipras_received ON ipras (received_at);

CREATE TABLE measures (
    id              INTEGER PRIMARY KEY,
    ipra_id         INTEGER NOT NULL REFERENCES ipras (id),
    measure_key     TEXT NOT NULL,
    section         TEXT NOT NULL,
    category_code   TEXT NOT NULL,
    category_name   TEXT NOT NULL,
    code            TEXT,
    name            TEXT NOT NULL,
    guid            TEXT,
    executor_ogrn   TEXT,
    executor_name   TEXT,
    date_from       TEXT,
    date_to         TEXT,
    quantity        TEXT,
    extra           TEXT NOT NULL,
    claimed_by      TEXT,
    assigned_ogrn   TEXT,
    assignment_note TEXT,
    UNIQUE (ipra_id, measure_key)
);
CREATE INDEX measures_section ON measures (section, assigned_ogrn);

-- Execution reports already sent for an IPRA by others (e.g. RESOC documents carried in extracts).
CREATE TABLE prior_reports (
    id                  INTEGER PRIMARY KEY,
    ipra_id             INTEGER REFERENCES ipras (id),
    snils               TEXT NOT NULL,
    document_id         TEXT NOT NULL,
    document_version    TEXT NOT NULL,
    parent_document_id  TEXT,
    number              TEXT,
    report_date         TEXT,
    source              TEXT,
    entries             TEXT NOT NULL,
    source_document_id  INTEGER NOT NULL REFERENCES source_documents (id),
    UNIQUE (document_id, snils)
);
CREATE INDEX prior_reports_ipra ON prior_reports (ipra_id);

CREATE TABLE import_runs (
    id          INTEGER PRIMARY KEY,
    origin      TEXT NOT NULL,
    dry_run     INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    files       INTEGER NOT NULL DEFAULT 0,
    imported    INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    superseded  INTEGER NOT NULL DEFAULT 0,
    rejected    INTEGER NOT NULL DEFAULT 0
);

-- One row per record of every file of a run: what became of it.
CREATE TABLE import_outcomes (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES import_runs (id),
    file        TEXT NOT NULL,
    record      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    ipra_id     INTEGER,
    code        TEXT,
    field       TEXT,
    message     TEXT
);
CREATE INDEX import_outcomes_run ON import_outcomes (run_id);

CREATE TABLE plugin_settings (
    plugin_id   TEXT PRIMARY KEY,
    enabled     INTEGER NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Versioned reference lists: every version is kept with its date and author.
CREATE TABLE reference_versions (
    id          INTEGER PRIMARY KEY,
    list_id     TEXT NOT NULL,
    version     INTEGER NOT NULL,
    loaded_at   TEXT NOT NULL,
    author      TEXT NOT NULL,
    note        TEXT,
    UNIQUE (list_id, version)
);
CREATE TABLE reference_entries (
    id          INTEGER PRIMARY KEY,
    version_id  INTEGER NOT NULL REFERENCES reference_versions (id),
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    parent      TEXT,
    extra       TEXT NOT NULL,
    UNIQUE (version_id, code)
);

-- Append-only audit log: reads of personal data, administrative changes.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    detail      TEXT
);
CREATE INDEX audit_log_subject ON audit_log (subject);
