-- The exchange jobs of the first releases had kinds named after their connectors (fri-inbox,
-- fri-outbox, zags-inbox, zags-check, egisso-upload). The host now runs generic kinds and takes the
-- connector from the job's settings, as the connectors' manifests declare them; stored jobs are
-- rewritten to the same, keeping every setting an administrator made.
UPDATE jobs SET
    config = CASE WHEN replace(trim(config), ' ', '') IN ('', '{}') THEN '{"connector":"fri"}'
                  ELSE '{"connector":"fri",' || substr(trim(config), 2) END,
    kind = 'inbox'
WHERE kind = 'fri-inbox';

UPDATE jobs SET
    config = CASE WHEN replace(trim(config), ' ', '') IN ('', '{}') THEN '{"connector":"zags"}'
                  ELSE '{"connector":"zags",' || substr(trim(config), 2) END,
    kind = 'inbox'
WHERE kind = 'zags-inbox';

UPDATE jobs SET
    config = CASE WHEN replace(trim(config), ' ', '') IN ('', '{}') THEN '{"connector":"fri"}'
                  ELSE '{"connector":"fri",' || substr(trim(config), 2) END,
    kind = 'report-outbox'
WHERE kind = 'fri-outbox';

UPDATE jobs SET
    config = CASE WHEN replace(trim(config), ' ', '') IN ('', '{}') THEN '{"connector":"zags","step":"zags-check"}'
                  ELSE '{"connector":"zags","step":"zags-check",' || substr(trim(config), 2) END,
    kind = 'person-check'
WHERE kind = 'zags-check';

UPDATE jobs SET
    config = CASE WHEN replace(trim(config), ' ', '') IN ('', '{}') THEN '{"connector":"egisso"}'
                  ELSE '{"connector":"egisso",' || substr(trim(config), 2) END,
    kind = 'facts-upload'
WHERE kind = 'egisso-upload';
