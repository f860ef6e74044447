-- The register of executions for a common surname walks its order (the date changed, newest
-- first) and compares each record's IPRA's name. The walk's index now holds each record's IPRA, and
-- the IPRAs' names are read from an index of their own (tens of MiB at a million persons) rather
-- than from the IPRAs' rows spread over the whole file: at 100,000 persons, for «Смирнова» (0.8 %
-- of the records, as at a million), a page's 3,300 records took 26-36 ms to walk, 7-8 ms so.
DROP INDEX execution_records_changed;
CREATE INDEX execution_records_changed ON execution_records (updated_at, id, ipra_id);
CREATE INDEX ipras_id_name ON ipras (id, search_name);
