//! Pages end to end: the administration pages in a real browser (headless Chromium through
//! `common::browser`), on SQLite and PostgreSQL.

mod common;
