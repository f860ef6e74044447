//! Pages end to end: the register of extracts and the extract card in a real browser (headless Chromium
//! through `common::browser`), on SQLite and PostgreSQL.

mod common;
