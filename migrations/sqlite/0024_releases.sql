-- Every release of ipra that has opened this store, written when it opens it (db/upgrade.rs): its
-- version, when it first did so and which instance (host:pid). A release that finds a migration it
-- does not know (a newer release made it) refuses to start and names from here the release that
-- last opened the store; `ipra migrate --status` lists them.
CREATE TABLE ipra_releases (
    version         TEXT PRIMARY KEY,
    first_opened_at TEXT NOT NULL,
    instance        TEXT NOT NULL
);
