-- What `/metrics` reads at every scrape (cached a few seconds), each by an index that bounds it:
-- a job's real runs of the last day and its last success (job_runs grows by a run every few
-- minutes per job and is never pruned), the messages waiting in the exchange with the oldest of
-- each connector (a covering index: the payloads are never read), and the import runs of the last
-- day.
CREATE INDEX job_runs_job_started ON job_runs (job, started_at);
CREATE INDEX job_runs_job_status ON job_runs (job, status, id);
CREATE INDEX exchange_messages_waiting ON exchange_messages (status, connector, direction, created_at);
CREATE INDEX import_runs_started ON import_runs (started_at);
