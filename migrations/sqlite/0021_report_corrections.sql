-- Corrections after a report (the executor's cabinet of ИС «Исполнение ИПРА»): a withdrawn or rejected
-- report's records come back for correction with the reason they came back; the corrected report is the
-- next version of the IPRA's report and names the one it corrects. A measure's result counts from the
-- moment its report is sent (statistics follow what was sent, not what was assembled).
ALTER TABLE reports ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE reports ADD COLUMN corrects_report_id INTEGER;
ALTER TABLE execution_records ADD COLUMN returned_reason TEXT;
ALTER TABLE execution_records ADD COLUMN returned_from_report_id INTEGER;
-- What an organisation's users are told: draft and ready records moved to a superseding IPRA, and those
-- that could not be (no matching measure in it).
CREATE TABLE notices (
    id           INTEGER PRIMARY KEY,
    organisation TEXT NOT NULL,
    at           TEXT NOT NULL,
    kind         TEXT NOT NULL,
    ipra_id      INTEGER,
    text         TEXT NOT NULL,
    read_at      TEXT,
    read_by      TEXT
);
CREATE INDEX notices_organisation ON notices (organisation, read_at, id);
-- Whether a returned report was corrected already (assembling the next version asks it).
CREATE INDEX reports_corrects ON reports (corrects_report_id) WHERE corrects_report_id IS NOT NULL;
