-- A user may work for several executing organisations (ЕСИА lists every organisation a person is an employee
-- of; the executor's cabinet asks which one at login). The user's own `ogrn` stays the first; the others are
-- listed here. A session remembers the organisation chosen for it.
CREATE TABLE user_organisations (
    user_id     INTEGER NOT NULL REFERENCES users (id),
    ogrn        TEXT NOT NULL,
    PRIMARY KEY (user_id, ogrn)
);
ALTER TABLE sessions ADD COLUMN acting_ogrn TEXT;
