-- Names in upper case for search: SQLite's UPPER() folds only ASCII, so the host fills this column.
ALTER TABLE persons ADD COLUMN search_name TEXT;
CREATE INDEX persons_search_name ON persons (search_name);
