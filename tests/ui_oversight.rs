//! Pages end to end: statistics and the coordinator's dashboard in a real browser (headless
//! Chromium through `common::browser`), on SQLite and PostgreSQL.

mod common;
