-- The register at a region's size (a million persons, eleven million measures).
--
-- What the register's list sorts and filters by is kept on the IPRA row, so that every sort walks
-- one index and stops at the page: the person's search name and territory (copied from the person
-- by a trigger), the number of measures, and the earliest due date of the open measures (kept by a
-- trigger: an IPRA is overdue when it is before today). Work lists page through indexes of the
-- measures. `register_changes` journals every IPRA whose figures may have changed, in commit order:
-- the statistics index of a running server follows the register by reading it.

ALTER TABLE ipras ADD COLUMN search_name TEXT NOT NULL DEFAULT '';
ALTER TABLE ipras ADD COLUMN territory_code TEXT;
ALTER TABLE ipras ADD COLUMN measures_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ipras ADD COLUMN open_due_min TEXT;

UPDATE ipras SET
    search_name = COALESCE((SELECT p.search_name FROM persons p WHERE p.id = ipras.person_id), ''),
    territory_code = (SELECT p.territory_code FROM persons p WHERE p.id = ipras.person_id),
    measures_count = (SELECT COUNT(*) FROM measures m WHERE m.ipra_id = ipras.id),
    open_due_min = (SELECT MIN(m.due_date) FROM measures m WHERE m.ipra_id = ipras.id AND m.status = 'open');

DROP INDEX ipras_decision;
DROP INDEX ipras_received;
CREATE INDEX ipras_sort_kind ON ipras (is_child, id);
CREATE INDEX ipras_sort_number ON ipras (number, id);
CREATE INDEX ipras_sort_decision ON ipras (decision_date, id);
CREATE INDEX ipras_sort_protocol_number ON ipras (protocol_number, id);
CREATE INDEX ipras_sort_protocol_date ON ipras (protocol_date, id);
CREATE INDEX ipras_sort_issued_by ON ipras (issued_by, id);
CREATE INDEX ipras_sort_name ON ipras (search_name, id);
CREATE INDEX ipras_sort_status ON ipras (status, id);
CREATE INDEX ipras_sort_territory ON ipras (territory_code, id);
CREATE INDEX ipras_sort_measures ON ipras (measures_count, id);
CREATE INDEX ipras_sort_overdue ON ipras (open_due_min, id);
CREATE INDEX ipras_sort_received ON ipras (received_at, id);
CREATE INDEX ipras_snils ON ipras (snils);

-- Open measures by organisation and due date (an executor's IPRAs, the overdue list and the queue
-- of one organisation), and the open measures of one IPRA by due date (its earliest).
DROP INDEX measures_ipra_status;
CREATE INDEX measures_ipra_status ON measures (ipra_id, status, due_date);
CREATE INDEX measures_org ON measures (assigned_ogrn, status, due_date);

CREATE TRIGGER measures_keep_open_due AFTER UPDATE OF status, due_date ON measures
WHEN OLD.status IS NOT NEW.status OR OLD.due_date IS NOT NEW.due_date
BEGIN
    UPDATE ipras SET open_due_min =
        (SELECT MIN(due_date) FROM measures WHERE ipra_id = NEW.ipra_id AND status = 'open')
    WHERE id = NEW.ipra_id;
END;

CREATE TRIGGER persons_copy_to_ipras AFTER UPDATE OF search_name, territory_code ON persons
WHEN OLD.search_name IS NOT NEW.search_name OR OLD.territory_code IS NOT NEW.territory_code
BEGIN
    UPDATE ipras SET search_name = COALESCE(NEW.search_name, ''), territory_code = NEW.territory_code
    WHERE person_id = NEW.id;
END;

CREATE TABLE register_changes (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    ipra_id INTEGER NOT NULL
);

CREATE TRIGGER register_changes_ipra_insert AFTER INSERT ON ipras
BEGIN
    INSERT INTO register_changes (ipra_id) VALUES (NEW.id);
END;
CREATE TRIGGER register_changes_ipra_update AFTER UPDATE OF status, territory_code, received_at, is_child, person_id ON ipras
BEGIN
    INSERT INTO register_changes (ipra_id) VALUES (NEW.id);
END;
CREATE TRIGGER register_changes_ipra_delete AFTER DELETE ON ipras
BEGIN
    INSERT INTO register_changes (ipra_id) VALUES (OLD.id);
END;
CREATE TRIGGER register_changes_measure_update AFTER UPDATE OF status, section, assigned_ogrn, due_date ON measures
BEGIN
    INSERT INTO register_changes (ipra_id) VALUES (NEW.ipra_id);
END;
CREATE TRIGGER register_changes_execution_insert AFTER INSERT ON execution_records
BEGIN
    INSERT INTO register_changes (ipra_id) VALUES (NEW.ipra_id);
END;
CREATE TRIGGER register_changes_execution_update AFTER UPDATE ON execution_records
BEGIN
    INSERT INTO register_changes (ipra_id) VALUES (NEW.ipra_id);
END;
CREATE TRIGGER register_changes_execution_delete AFTER DELETE ON execution_records
BEGIN
    INSERT INTO register_changes (ipra_id) VALUES (OLD.ipra_id);
END;

-- The work lists page through these: executions by date (all, one organisation's, by status), by
-- IPRA and by report; reports by status, organisation and sending date; exchange messages and ZAGS
-- records by status; the audit log by action, actor, object and time; follow-ups by kind and due date.
CREATE INDEX execution_records_changed ON execution_records (updated_at, id);
CREATE INDEX execution_records_org_changed ON execution_records (organisation, updated_at, id);
CREATE INDEX execution_records_status_changed ON execution_records (status, updated_at, id);
CREATE INDEX execution_records_ipra_id ON execution_records (ipra_id, id);
CREATE INDEX execution_records_report ON execution_records (report_id);
CREATE INDEX reports_status ON reports (status, id);
CREATE INDEX reports_reporter ON reports (reporter_ogrn, id);
CREATE INDEX reports_sent ON reports (sent_at, id);
CREATE INDEX exchange_messages_state ON exchange_messages (status, id);
CREATE INDEX exchange_messages_report ON exchange_messages (report_id);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_at ON audit_log (at);
DROP INDEX audit_log_subject;
CREATE INDEX audit_log_subject ON audit_log (subject, id);
DROP INDEX death_records_status;
CREATE INDEX death_records_status ON death_records (status, id);
CREATE INDEX follow_ups_kind ON follow_ups (kind, status, due_date);
CREATE INDEX follow_ups_due ON follow_ups (status, due_date);
-- The overdue list by section, and by the executor's name.
CREATE INDEX measures_status_section ON measures (status, section, due_date);
CREATE INDEX organisations_name ON organisations (name, id);
