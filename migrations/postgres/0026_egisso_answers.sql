-- EGISSO answers and corrections. Each fact of assignment (one per execution record) now has a life:
-- queued → sent → accepted | rejected (with EGISSO's reason and rule code), and a rejected one is sent
-- again after a person corrected it. A fact EGISSO holds is corrected, terminated (a death) or
-- invalidated (the execution withdrawn) by a change sent with an event uuid of its own.
--
-- fact_uuid       the fact's identity in EGISSO (kept when a rejected fact is sent again);
-- generation      how many times the fact was invalidated and made anew (a new fact_uuid each time);
-- operation       what its last sending does: fact, correction, termination, invalidation;
-- event_uuid      the element's uuid in the package it went in (the fact's uuid for a new fact), by
--                 which EGISSO's protocol names it back (recID);
-- event_seq       changes sent so far (the event uuid is derived from it);
-- package_ref     the package it went in (egisso_packages), NULL while it waits for the next upload;
-- rule_code       EGISSO's rule the fact broke; the reason is in `error`;
-- sent_state      what EGISSO holds of it (dates, measure, category, OSZ, the death that ended it), set when
--                 EGISSO accepts; pending_state: what the sending under way carries;
-- changed         counted up by the triggers below when the execution or the person's death changes: the
--                 upload compares the fact with what EGISSO holds and sends a change when they differ.
ALTER TABLE egisso_facts ADD COLUMN fact_uuid TEXT;
ALTER TABLE egisso_facts ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE egisso_facts ADD COLUMN operation TEXT NOT NULL DEFAULT 'fact';
ALTER TABLE egisso_facts ADD COLUMN event_uuid TEXT;
ALTER TABLE egisso_facts ADD COLUMN event_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE egisso_facts ADD COLUMN package_ref BIGINT;
ALTER TABLE egisso_facts ADD COLUMN rule_code TEXT;
ALTER TABLE egisso_facts ADD COLUMN sent_state TEXT;
ALTER TABLE egisso_facts ADD COLUMN pending_state TEXT;
ALTER TABLE egisso_facts ADD COLUMN changed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE egisso_facts ADD COLUMN updated_at TEXT;
ALTER TABLE egisso_facts ADD COLUMN answered_at TEXT;

-- The packages sent (one data file each) and where EGISSO's protocol says they stand:
-- queued, sent, received (1), processing (2), processed (3), refused (the message refused whole).
CREATE TABLE egisso_packages (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connector       TEXT NOT NULL,
    document_name   TEXT NOT NULL UNIQUE,
    package_uuid    TEXT,
    message_id      BIGINT,
    status          TEXT NOT NULL,
    facts           BIGINT NOT NULL DEFAULT 0,
    record_num      BIGINT,
    record_success  BIGINT,
    note            TEXT,
    created_at      TEXT NOT NULL,
    answered_at     TEXT
);
CREATE INDEX egisso_packages_status ON egisso_packages (status, id);

-- The packages of earlier releases: one per message of facts, so that their answers find them.
INSERT INTO egisso_packages (connector, document_name, message_id, status, facts, created_at)
SELECT m.connector, m.file_name, m.id, CASE WHEN m.status = 'sent' THEN 'sent' ELSE 'queued' END,
       (SELECT COUNT(*) FROM egisso_facts f WHERE f.message_id = m.id), m.created_at
FROM exchange_messages m
WHERE m.direction = 'out' AND m.kind = 'facts' AND EXISTS (SELECT 1 FROM egisso_facts f WHERE f.message_id = m.id)
ON CONFLICT (document_name) DO NOTHING;
UPDATE egisso_facts SET
    package_ref = (SELECT p.id FROM egisso_packages p WHERE p.message_id = egisso_facts.message_id),
    status = CASE WHEN EXISTS (SELECT 1 FROM exchange_messages m WHERE m.id = egisso_facts.message_id AND m.status = 'sent')
                  THEN 'sent' ELSE status END,
    updated_at = created_at
WHERE message_id IS NOT NULL;

CREATE INDEX egisso_facts_status ON egisso_facts (status, id);
CREATE INDEX egisso_facts_package ON egisso_facts (package_ref, status);
CREATE INDEX egisso_facts_event ON egisso_facts (event_uuid);
CREATE INDEX egisso_facts_changed ON egisso_facts (id) WHERE changed > 0;
CREATE INDEX egisso_facts_uuidless ON egisso_facts (id) WHERE fact_uuid IS NULL;

CREATE FUNCTION egisso_facts_execution_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE egisso_facts SET changed = changed + 1 WHERE execution_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER egisso_facts_execution_changed AFTER UPDATE OF status, result, execution_date, ipra_id, measure_id ON execution_records
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.result IS DISTINCT FROM NEW.result
     OR OLD.execution_date IS DISTINCT FROM NEW.execution_date OR OLD.ipra_id IS DISTINCT FROM NEW.ipra_id
     OR OLD.measure_id IS DISTINCT FROM NEW.measure_id)
EXECUTE FUNCTION egisso_facts_execution_changed();

CREATE FUNCTION egisso_facts_death_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE egisso_facts SET changed = changed + 1 WHERE execution_id IN
        (SELECT e.id FROM execution_records e JOIN ipras i ON i.id = e.ipra_id WHERE i.person_id = NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER egisso_facts_death_changed AFTER UPDATE OF death_date ON persons
FOR EACH ROW WHEN (OLD.death_date IS DISTINCT FROM NEW.death_date)
EXECUTE FUNCTION egisso_facts_death_changed();
