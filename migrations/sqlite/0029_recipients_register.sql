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
-- by which a gap in PostgreSQL's numbering (a transaction not yet committed) is waited for.
CREATE TABLE recipient_changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id   INTEGER NOT NULL,
    at          INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
);

CREATE TABLE recipient_export_cursors (
    connector   TEXT PRIMARY KEY,
    seq         INTEGER NOT NULL,
    exported    INTEGER NOT NULL DEFAULT 0,
    updated_at  TEXT NOT NULL
);

-- Every recipient already in the register goes in the first export.
INSERT INTO recipient_changes (person_id, at) SELECT person_id, 0 FROM social_service_recipients ORDER BY id;

CREATE TRIGGER recipient_changes_added AFTER INSERT ON social_service_recipients
BEGIN
    INSERT INTO recipient_changes (person_id) VALUES (NEW.person_id);
END;
CREATE TRIGGER recipient_changes_ipra_added AFTER INSERT ON ipras
WHEN EXISTS (SELECT 1 FROM social_service_recipients WHERE person_id = NEW.person_id)
BEGIN
    INSERT INTO recipient_changes (person_id) VALUES (NEW.person_id);
END;
CREATE TRIGGER recipient_changes_ipra_status AFTER UPDATE OF status ON ipras
WHEN OLD.status IS NOT NEW.status
     AND EXISTS (SELECT 1 FROM social_service_recipients WHERE person_id = NEW.person_id)
BEGIN
    INSERT INTO recipient_changes (person_id) VALUES (NEW.person_id);
END;
CREATE TRIGGER recipient_changes_person AFTER UPDATE OF surname, given_name, patronymic, birth_date, territory_code, death_date ON persons
WHEN (OLD.surname IS NOT NEW.surname OR OLD.given_name IS NOT NEW.given_name OR OLD.patronymic IS NOT NEW.patronymic
      OR OLD.birth_date IS NOT NEW.birth_date OR OLD.territory_code IS NOT NEW.territory_code
      OR OLD.death_date IS NOT NEW.death_date)
     AND EXISTS (SELECT 1 FROM social_service_recipients WHERE person_id = NEW.id)
BEGIN
    INSERT INTO recipient_changes (person_id) VALUES (NEW.id);
END;
