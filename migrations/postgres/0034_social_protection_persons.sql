-- The persons of each organisation's social-protection measures, kept as the measures change: an
-- executor of a social-protection organisation sees the social-service recipients among them. The
-- register gathered them from the organisation's measures and each measure's IPRA on every page
-- (14,711 measures, 60-70 ms at 100,000 persons on PostgreSQL, ten times that at a million); here
-- they are one range of a key. `measures`: how many of the person's measures the organisation holds,
-- so a measure moved away removes the person only with the last one.
CREATE TABLE social_protection_persons (
    ogrn        TEXT COLLATE "C" NOT NULL,
    person_id   BIGINT NOT NULL,
    measures    INTEGER NOT NULL,
    PRIMARY KEY (ogrn, person_id)
);

INSERT INTO social_protection_persons (ogrn, person_id, measures)
SELECT m.assigned_ogrn, i.person_id, COUNT(*)
FROM measures m JOIN ipras i ON i.id = m.ipra_id
WHERE m.section = 'social-protection' AND m.assigned_ogrn IS NOT NULL
GROUP BY m.assigned_ogrn, i.person_id;

-- `n` measures of an IPRA's person added to (or, negative, taken from) an organisation.
CREATE FUNCTION social_protection_persons_add(p_ogrn TEXT, p_ipra BIGINT, p_n INTEGER) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    person BIGINT;
BEGIN
    SELECT person_id INTO person FROM ipras WHERE id = p_ipra;
    IF person IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO social_protection_persons AS s (ogrn, person_id, measures) VALUES (p_ogrn, person, p_n)
    ON CONFLICT (ogrn, person_id) DO UPDATE SET measures = s.measures + EXCLUDED.measures;
    DELETE FROM social_protection_persons WHERE ogrn = p_ogrn AND person_id = person AND measures <= 0;
END $$;

-- An import writes an IPRA's measures in a few statements of many rows: one grouped write each.
CREATE FUNCTION social_protection_persons_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO social_protection_persons AS s (ogrn, person_id, measures)
    SELECT n.assigned_ogrn, i.person_id, COUNT(*)
    FROM new_measures n JOIN ipras i ON i.id = n.ipra_id
    WHERE n.section = 'social-protection' AND n.assigned_ogrn IS NOT NULL
    GROUP BY n.assigned_ogrn, i.person_id
    ON CONFLICT (ogrn, person_id) DO UPDATE SET measures = s.measures + EXCLUDED.measures;
    RETURN NULL;
END $$;
CREATE TRIGGER social_protection_persons_insert AFTER INSERT ON measures
REFERENCING NEW TABLE AS new_measures
FOR EACH STATEMENT EXECUTE FUNCTION social_protection_persons_inserted();

CREATE FUNCTION social_protection_persons_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.section = 'social-protection' AND OLD.assigned_ogrn IS NOT NULL THEN
        PERFORM social_protection_persons_add(OLD.assigned_ogrn, OLD.ipra_id, -1);
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.section = 'social-protection' AND NEW.assigned_ogrn IS NOT NULL THEN
        PERFORM social_protection_persons_add(NEW.assigned_ogrn, NEW.ipra_id, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER social_protection_persons_update AFTER UPDATE OF section, assigned_ogrn, ipra_id ON measures
FOR EACH ROW WHEN ((OLD.section = 'social-protection' OR NEW.section = 'social-protection')
    AND (OLD.section IS DISTINCT FROM NEW.section OR OLD.assigned_ogrn IS DISTINCT FROM NEW.assigned_ogrn
         OR OLD.ipra_id IS DISTINCT FROM NEW.ipra_id))
EXECUTE FUNCTION social_protection_persons_moved();
CREATE TRIGGER social_protection_persons_delete AFTER DELETE ON measures
FOR EACH ROW WHEN (OLD.section = 'social-protection' AND OLD.assigned_ogrn IS NOT NULL)
EXECUTE FUNCTION social_protection_persons_moved();

-- An IPRA given to another person takes its social-protection measures along.
CREATE FUNCTION social_protection_persons_person() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    c RECORD;
BEGIN
    FOR c IN SELECT assigned_ogrn AS ogrn, COUNT(*) AS n FROM measures
             WHERE ipra_id = NEW.id AND section = 'social-protection' AND assigned_ogrn IS NOT NULL
             GROUP BY assigned_ogrn
    LOOP
        UPDATE social_protection_persons SET measures = measures - c.n
        WHERE ogrn = c.ogrn AND person_id = OLD.person_id;
        DELETE FROM social_protection_persons WHERE ogrn = c.ogrn AND person_id = OLD.person_id AND measures <= 0;
        INSERT INTO social_protection_persons AS s (ogrn, person_id, measures) VALUES (c.ogrn, NEW.person_id, c.n)
        ON CONFLICT (ogrn, person_id) DO UPDATE SET measures = s.measures + EXCLUDED.measures;
    END LOOP;
    RETURN NULL;
END $$;
CREATE TRIGGER social_protection_persons_ipra_person AFTER UPDATE OF person_id ON ipras
FOR EACH ROW WHEN (OLD.person_id IS DISTINCT FROM NEW.person_id)
EXECUTE FUNCTION social_protection_persons_person();
