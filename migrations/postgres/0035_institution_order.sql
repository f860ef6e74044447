-- An institution's IPRAs in the register's two usual orders: a bureau of MSE opens its own register
-- (the IPRAs it issued) by decision date or by name. Each bureau holds a few per cent of a region's
-- IPRAs, so a page walked the whole order's index and skipped the other bureaus' rows one by one
-- (≈ 1,700 rows a page at 100,000 persons, ten times that at a million), or read all of the
-- bureau's rows and sorted them. Here a page starts at the institution's first row in order.
CREATE INDEX ipras_issuer_decision ON ipras (issued_by, decision_date, id);
CREATE INDEX ipras_issuer_name ON ipras (issued_by, search_name, id);
