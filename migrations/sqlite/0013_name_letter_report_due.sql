-- The statistics index keeps each IPRA's first letter of the person's name (an executor's IPRAs
-- by a name's first letter are found among them instead of walked) and its decision date (a long
-- facet list's page is chosen in the default order from the index): a changed name or decision
-- date is a change of the IPRA's figures, journalled like the others.
DROP TRIGGER register_changes_ipra_update;
CREATE TRIGGER register_changes_ipra_update AFTER UPDATE OF status, territory_code, received_at, is_child, person_id, search_name, decision_date ON ipras
BEGIN
    INSERT INTO register_changes (ipra_id) VALUES (NEW.id);
END;

-- Reports past their due date (the deadline check, the dashboard): counted on an index of status
-- and due date instead of reading every awaiting or signed report (120 ms at a million persons).
CREATE INDEX reports_status_due ON reports (status, due_date);
