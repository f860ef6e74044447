-- The import at a region's size: closing the open measures of a superseded IPRA fires
-- `measures_keep_open_due` once per measure; each firing rewrote the IPRA's row (a new row version
-- and an entry in each of its indexes) although only the last one changes its earliest open due date.
-- The IPRA's row is now written only when that date changes.

CREATE OR REPLACE FUNCTION measures_keep_open_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ipras SET open_due_min = d.due
    FROM (SELECT MIN(due_date) AS due FROM measures WHERE ipra_id = NEW.ipra_id AND status = 'open') d
    WHERE ipras.id = NEW.ipra_id AND ipras.open_due_min IS DISTINCT FROM d.due;
    RETURN NULL;
END $$;
