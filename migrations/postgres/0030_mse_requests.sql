-- TSR clarification requests (порядок ФБ МСЭ для ИС МСЭ в ЕЦП), the gaps of 0027 closed: a request not yet queued
-- may be withdrawn (`withdrawn`); the list of every request is filtered by territory, sender and the day it
-- was raised through indexes; and the TSR items of the open requests are claimed in a table whose partial
-- unique index lets one open request per TSR item exist, however many submissions race.
ALTER TABLE tsr_clarifications DROP CONSTRAINT tsr_clarifications_status_check;
ALTER TABLE tsr_clarifications ADD CONSTRAINT tsr_clarifications_status_check
    CHECK (status IN ('raised', 'sent', 'answered', 'rejected', 'superseded', 'withdrawn'));
-- The IPRA's territory (the list's filter) and the day the request was raised in the region's zone.
ALTER TABLE tsr_clarifications ADD COLUMN territory_code TEXT;
ALTER TABLE tsr_clarifications ADD COLUMN raised_on TEXT;
-- Counts the changes made before the request is queued: the outbox queues the revision it wrote or nothing.
ALTER TABLE tsr_clarifications ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
UPDATE tsr_clarifications t SET territory_code = i.territory_code, raised_on = substr(t.created_at, 1, 10)
    FROM ipras i WHERE i.id = t.ipra_id;
CREATE INDEX tsr_clarifications_sender ON tsr_clarifications (sender_ogrn, id);
CREATE INDEX tsr_clarifications_territory ON tsr_clarifications (territory_code, id);
CREATE INDEX tsr_clarifications_raised ON tsr_clarifications (raised_on, id);

-- The TSR items (measures) of each request; `is_open` while the request is raised or sent.
CREATE TABLE tsr_clarification_measures (
    request_id          BIGINT NOT NULL REFERENCES tsr_clarifications (id),
    ipra_id             BIGINT NOT NULL,
    measure_id          BIGINT NOT NULL,
    is_open             INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (request_id, measure_id)
);
CREATE UNIQUE INDEX tsr_clarification_measures_open ON tsr_clarification_measures (measure_id) WHERE is_open = 1;
CREATE INDEX tsr_clarification_measures_ipra ON tsr_clarification_measures (ipra_id);
-- The open requests raised before: their items as the follow-up names them (`item.N.key`).
INSERT INTO tsr_clarification_measures (request_id, ipra_id, measure_id, is_open)
    SELECT c.id, c.ipra_id, m.id, 1 FROM tsr_clarifications c
    JOIN follow_ups f ON f.id = c.follow_up_id
    JOIN measures m ON m.ipra_id = c.ipra_id AND m.section = 'tsr' AND f.attributes LIKE '%"' || m.measure_key || '"%'
    WHERE c.status IN ('raised', 'sent')
    ON CONFLICT DO NOTHING;
