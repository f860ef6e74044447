//! Pages end to end: the execution form, the register of executions and the signing step in a real browser (headless Chromium
//! through `common::browser`), on SQLite and PostgreSQL.

mod common;
