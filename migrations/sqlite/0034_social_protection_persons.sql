-- The persons of each organisation's social-protection measures, kept as the measures change: an
-- executor of a social-protection organisation sees the social-service recipients among them. The
-- register gathered them from the organisation's measures and each measure's IPRA on every page
-- (14,711 measures, 60-70 ms at 100,000 persons on PostgreSQL, ten times that at a million); here
-- they are one range of a key. `measures`: how many of the person's measures the organisation holds,
-- so a measure moved away removes the person only with the last one.
CREATE TABLE social_protection_persons (
    ogrn        TEXT NOT NULL,
    person_id   INTEGER NOT NULL,
    measures    INTEGER NOT NULL,
    PRIMARY KEY (ogrn, person_id)
) WITHOUT ROWID;

INSERT INTO social_protection_persons (ogrn, person_id, measures)
SELECT m.assigned_ogrn, i.person_id, COUNT(*)
FROM measures m JOIN ipras i ON i.id = m.ipra_id
WHERE m.section = 'social-protection' AND m.assigned_ogrn IS NOT NULL
GROUP BY m.assigned_ogrn, i.person_id;

CREATE TRIGGER social_protection_persons_insert AFTER INSERT ON measures
WHEN NEW.section = 'social-protection' AND NEW.assigned_ogrn IS NOT NULL
BEGIN
    INSERT INTO social_protection_persons (ogrn, person_id, measures)
    SELECT NEW.assigned_ogrn, person_id, 1 FROM ipras WHERE id = NEW.ipra_id
    ON CONFLICT (ogrn, person_id) DO UPDATE SET measures = measures + 1;
END;

CREATE TRIGGER social_protection_persons_update AFTER UPDATE OF section, assigned_ogrn, ipra_id ON measures
WHEN (OLD.section = 'social-protection' OR NEW.section = 'social-protection')
    AND (OLD.section IS NOT NEW.section OR OLD.assigned_ogrn IS NOT NEW.assigned_ogrn OR OLD.ipra_id IS NOT NEW.ipra_id)
BEGIN
    UPDATE social_protection_persons SET measures = measures - 1
    WHERE OLD.section = 'social-protection' AND ogrn = OLD.assigned_ogrn
      AND person_id = (SELECT person_id FROM ipras WHERE id = OLD.ipra_id);
    DELETE FROM social_protection_persons
    WHERE ogrn = OLD.assigned_ogrn AND person_id = (SELECT person_id FROM ipras WHERE id = OLD.ipra_id) AND measures <= 0;
    INSERT INTO social_protection_persons (ogrn, person_id, measures)
    SELECT NEW.assigned_ogrn, person_id, 1 FROM ipras
    WHERE id = NEW.ipra_id AND NEW.section = 'social-protection' AND NEW.assigned_ogrn IS NOT NULL
    ON CONFLICT (ogrn, person_id) DO UPDATE SET measures = measures + 1;
END;

CREATE TRIGGER social_protection_persons_delete AFTER DELETE ON measures
WHEN OLD.section = 'social-protection' AND OLD.assigned_ogrn IS NOT NULL
BEGIN
    UPDATE social_protection_persons SET measures = measures - 1
    WHERE ogrn = OLD.assigned_ogrn AND person_id = (SELECT person_id FROM ipras WHERE id = OLD.ipra_id);
    DELETE FROM social_protection_persons
    WHERE ogrn = OLD.assigned_ogrn AND person_id = (SELECT person_id FROM ipras WHERE id = OLD.ipra_id) AND measures <= 0;
END;

-- An IPRA given to another person takes its social-protection measures along.
CREATE TRIGGER social_protection_persons_ipra_person AFTER UPDATE OF person_id ON ipras
WHEN OLD.person_id IS NOT NEW.person_id
BEGIN
    UPDATE social_protection_persons SET measures = measures - (
        SELECT COUNT(*) FROM measures m
        WHERE m.ipra_id = NEW.id AND m.section = 'social-protection' AND m.assigned_ogrn = social_protection_persons.ogrn)
    WHERE person_id = OLD.person_id AND ogrn IN (
        SELECT assigned_ogrn FROM measures WHERE ipra_id = NEW.id AND section = 'social-protection' AND assigned_ogrn IS NOT NULL);
    DELETE FROM social_protection_persons WHERE person_id = OLD.person_id AND measures <= 0 AND ogrn IN (
        SELECT assigned_ogrn FROM measures WHERE ipra_id = NEW.id AND section = 'social-protection' AND assigned_ogrn IS NOT NULL);
    INSERT INTO social_protection_persons (ogrn, person_id, measures)
    SELECT assigned_ogrn, NEW.person_id, COUNT(*) FROM measures
    WHERE ipra_id = NEW.id AND section = 'social-protection' AND assigned_ogrn IS NOT NULL
    GROUP BY assigned_ogrn
    ON CONFLICT (ogrn, person_id) DO UPDATE SET measures = measures + excluded.measures;
END;
