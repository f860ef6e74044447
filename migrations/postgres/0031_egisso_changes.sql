-- EGISSO facts driven by what changed, not by the register.
--
-- egisso_pending  the executions the next upload looks at for a new fact: an executed social-protection
--                 measure reported, put here by the triggers below when it is inserted or changes (or its
--                 person's birth date or gender does). `touched` counts the changes (the upload removes a
--                 row only when nothing changed since it read it); `parked` holds the category of an
--                 execution no mapping covers yet: a new mapping of that category wakes them
--                 (egisso_pending_parked), the rest wait unread (egisso_pending_ready walks only the others).
-- mapping_code    the mapping (local measure type) a fact was last sent under: a changed or deleted mapping
--                 finds its facts through egisso_facts_mapping and marks them changed.
-- change_reason   why a fact was last marked changed: execution, death, identity (the person's name,
--                 SNILS, birth date or gender), mapping; the facts page shows it.
CREATE TABLE egisso_pending (
    execution_id    BIGINT PRIMARY KEY,
    touched         BIGINT NOT NULL DEFAULT 1,
    parked          TEXT
);
CREATE INDEX egisso_pending_ready ON egisso_pending (execution_id) WHERE parked IS NULL;
CREATE INDEX egisso_pending_parked ON egisso_pending (parked) WHERE parked IS NOT NULL;

ALTER TABLE egisso_facts ADD COLUMN mapping_code TEXT;
ALTER TABLE egisso_facts ADD COLUMN change_reason TEXT;
CREATE INDEX egisso_facts_mapping ON egisso_facts (mapping_code, status);

-- The facts already made: the mapping they fall under now (the exact type before its category).
UPDATE egisso_facts SET mapping_code = (
    SELECT mp.local_code FROM execution_records e JOIN measures m ON m.id = e.measure_id
    JOIN egisso_mappings mp ON mp.local_code = m.category_code || ':' || COALESCE(m.code, '') OR mp.local_code = m.category_code
    WHERE e.id = egisso_facts.execution_id ORDER BY length(mp.local_code) DESC LIMIT 1);

-- Executions that wait for their first fact (once, at the upgrade).
INSERT INTO egisso_pending (execution_id)
SELECT e.id FROM execution_records e
WHERE e.section = 'social-protection' AND e.result = 'executed' AND e.status = 'reported'
  AND NOT EXISTS (SELECT 1 FROM egisso_facts f WHERE f.execution_id = e.id);

CREATE FUNCTION egisso_pending_execution() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO egisso_pending (execution_id) SELECT NEW.id
    WHERE NOT EXISTS (SELECT 1 FROM egisso_facts f WHERE f.execution_id = NEW.id)
    ON CONFLICT (execution_id) DO UPDATE SET touched = egisso_pending.touched + 1, parked = NULL;
    RETURN NULL;
END $$;
CREATE TRIGGER egisso_pending_execution_insert AFTER INSERT ON execution_records
FOR EACH ROW WHEN (NEW.section = 'social-protection' AND NEW.result = 'executed' AND NEW.status = 'reported')
EXECUTE FUNCTION egisso_pending_execution();
CREATE TRIGGER egisso_pending_execution_update AFTER UPDATE OF section, status, result, measure_id ON execution_records
FOR EACH ROW WHEN (NEW.section = 'social-protection' AND NEW.result = 'executed' AND NEW.status = 'reported'
     AND (OLD.section IS DISTINCT FROM NEW.section OR OLD.status IS DISTINCT FROM NEW.status
          OR OLD.result IS DISTINCT FROM NEW.result OR OLD.measure_id IS DISTINCT FROM NEW.measure_id))
EXECUTE FUNCTION egisso_pending_execution();

-- The changes of 0026, now with their reason.
CREATE OR REPLACE FUNCTION egisso_facts_execution_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE egisso_facts SET changed = changed + 1, change_reason = 'execution' WHERE execution_id = NEW.id;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION egisso_facts_death_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE egisso_facts SET changed = changed + 1, change_reason = 'death' WHERE execution_id IN
        (SELECT e.id FROM execution_records e JOIN ipras i ON i.id = e.ipra_id WHERE i.person_id = NEW.id);
    RETURN NULL;
END $$;

-- The person's identity as EGISSO holds it: the facts already sent are corrected.
CREATE FUNCTION egisso_facts_identity_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE egisso_facts SET changed = changed + 1, change_reason = 'identity' WHERE execution_id IN
        (SELECT e.id FROM execution_records e JOIN ipras i ON i.id = e.ipra_id WHERE i.person_id = NEW.id);
    -- An execution that waited for the person's birth date or gender.
    INSERT INTO egisso_pending (execution_id)
    SELECT e.id FROM execution_records e JOIN ipras i ON i.id = e.ipra_id
    WHERE i.person_id = NEW.id AND e.section = 'social-protection' AND e.result = 'executed' AND e.status = 'reported'
      AND NOT EXISTS (SELECT 1 FROM egisso_facts f WHERE f.execution_id = e.id)
    ON CONFLICT (execution_id) DO UPDATE SET touched = egisso_pending.touched + 1, parked = NULL;
    RETURN NULL;
END $$;
CREATE TRIGGER egisso_facts_identity_changed AFTER UPDATE OF surname, given_name, patronymic, snils, birth_date, gender ON persons
FOR EACH ROW WHEN (OLD.surname IS DISTINCT FROM NEW.surname OR OLD.given_name IS DISTINCT FROM NEW.given_name
     OR OLD.patronymic IS DISTINCT FROM NEW.patronymic OR OLD.snils IS DISTINCT FROM NEW.snils
     OR OLD.birth_date IS DISTINCT FROM NEW.birth_date OR OLD.gender IS DISTINCT FROM NEW.gender)
EXECUTE FUNCTION egisso_facts_identity_changed();
