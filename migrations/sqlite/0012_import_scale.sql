-- The import at a region's size: closing the open measures of a superseded IPRA fires
-- `measures_keep_open_due` once per measure; each firing rewrote the IPRA's row (and an entry in each
-- of its indexes) although only the last one changes its earliest open due date. The IPRA's row is
-- now written only when that date changes.

DROP TRIGGER measures_keep_open_due;
CREATE TRIGGER measures_keep_open_due AFTER UPDATE OF status, due_date ON measures
WHEN OLD.status IS NOT NEW.status OR OLD.due_date IS NOT NEW.due_date
BEGIN
    UPDATE ipras SET open_due_min =
        (SELECT MIN(due_date) FROM measures WHERE ipra_id = NEW.ipra_id AND status = 'open')
    WHERE id = NEW.ipra_id
      AND open_due_min IS NOT (SELECT MIN(due_date) FROM measures WHERE ipra_id = NEW.ipra_id AND status = 'open');
END;
