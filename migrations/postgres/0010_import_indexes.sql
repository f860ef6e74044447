-- Look-ups of the import that scanned whole tables, each of them once per file (quadratic over a
-- large run): closing the measures of a superseded IPRA (the planner took the status index and
-- visited every open measure), carrying execution over (by measure), and finding the IPRA of a
-- report carried in an extract (by document, by source document).
CREATE INDEX measures_ipra_status ON measures (ipra_id, status);
CREATE INDEX execution_records_measure ON execution_records (measure_id);
CREATE INDEX ipras_document ON ipras (document_id, snils);
CREATE INDEX ipras_source_document ON ipras (source_document_id);
