-- The register of social-service recipients (442-ФЗ) shown, filtered and sent (issue 18).
-- When a recipient was last sent to the social-services system, and in which document.
ALTER TABLE social_service_recipients ADD COLUMN sent_at TEXT;
ALTER TABLE social_service_recipients ADD COLUMN sent_document TEXT;

-- The list's two orders: by the day added, newest first, and by the person's name (the person's
-- own index with its id, for the position of a page).
CREATE INDEX recipients_added ON social_service_recipients (added_at, id);
CREATE INDEX persons_search_name_id ON persons (search_name, id);
-- An executor's scope (the persons of its social-protection measures) reads `measures_section`.

-- What changed of a recipient (added, a new IPRA, the IPRA's status, the person's names, territory or
-- death), in order: each connector's export walks it from its cursor. `at`: seconds since the epoch,
-- by which a gap in the numbering (a transaction not yet committed) is waited for.
CREATE TABLE recipient_changes (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id   BIGINT NOT NULL,
    at          BIGINT NOT NULL DEFAULT (EXTRACT(EPOCH FROM clock_timestamp())::BIGINT)
);

CREATE TABLE recipient_export_cursors (
    connector   TEXT PRIMARY KEY,
    seq         BIGINT NOT NULL,
    exported    BIGINT NOT NULL DEFAULT 0,
    updated_at  TEXT NOT NULL
);

-- Every recipient already in the register goes in the first export.
INSERT INTO recipient_changes (person_id, at) SELECT person_id, 0 FROM social_service_recipients ORDER BY id;

CREATE FUNCTION recipient_changes_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO recipient_changes (person_id) VALUES (NEW.person_id);
    RETURN NULL;
END $$;
CREATE TRIGGER recipient_changes_added AFTER INSERT ON social_service_recipients
FOR EACH ROW EXECUTE FUNCTION recipient_changes_added();

CREATE FUNCTION recipient_changes_ipra() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM social_service_recipients WHERE person_id = NEW.person_id) THEN
        INSERT INTO recipient_changes (person_id) VALUES (NEW.person_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER recipient_changes_ipra_added AFTER INSERT ON ipras
FOR EACH ROW EXECUTE FUNCTION recipient_changes_ipra();
CREATE TRIGGER recipient_changes_ipra_status AFTER UPDATE OF status ON ipras
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
EXECUTE FUNCTION recipient_changes_ipra();

CREATE FUNCTION recipient_changes_person() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM social_service_recipients WHERE person_id = NEW.id) THEN
        INSERT INTO recipient_changes (person_id) VALUES (NEW.id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER recipient_changes_person AFTER UPDATE OF surname, given_name, patronymic, birth_date, territory_code, death_date ON persons
FOR EACH ROW WHEN (OLD.surname IS DISTINCT FROM NEW.surname OR OLD.given_name IS DISTINCT FROM NEW.given_name
     OR OLD.patronymic IS DISTINCT FROM NEW.patronymic OR OLD.birth_date IS DISTINCT FROM NEW.birth_date
     OR OLD.territory_code IS DISTINCT FROM NEW.territory_code OR OLD.death_date IS DISTINCT FROM NEW.death_date)
EXECUTE FUNCTION recipient_changes_person();
