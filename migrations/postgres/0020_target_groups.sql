-- Target rehabilitation groups (ЦРГ, 181-ФЗ art. 9) and the need for early help (art. 9.3) as the extract
-- gives them: the codes of an IPRA's groups as ";CODE;CODE;" (what the register filters, the card and the
-- statistics read) and the names the extracts give each code (the register's choice list, the statistics'
-- rows). Older IPRAs carry neither: empty and 0.
ALTER TABLE ipras ADD COLUMN target_groups TEXT NOT NULL DEFAULT '';
ALTER TABLE ipras ADD COLUMN early_help INTEGER NOT NULL DEFAULT 0;
CREATE TABLE target_groups (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    first_seen  TEXT NOT NULL
);
