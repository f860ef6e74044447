//! One schema for both engines: the SQLite and PostgreSQL migrations are kept as two files per
//! version (their type names and a few statements differ), so this test migrates a fresh database
//! of each engine and compares what they hold — every table, every column with its kind of type,
//! whether it may be empty and whether it is the key, and every index with its table, columns and
//! uniqueness. A migration written for one engine and forgotten (or written differently) for the
//! other fails here. It also checks that both folders hold the same versions in increasing order.

mod common;

use common::{workspace_root, Backend, Env};
use std::collections::BTreeSet;

/// The kind of a column's type, as both engines spell it.
fn kind(declared: &str) -> &'static str {
    let t = declared.to_ascii_lowercase();
    if t.contains("int") || t == "serial" || t == "bigserial" {
        "integer"
    } else if t.contains("char") || t.contains("text") || t.contains("clob") {
        "text"
    } else if t.contains("real") || t.contains("floa") || t.contains("doub") || t.contains("numeric") {
        "real"
    } else if t.contains("blob") || t.contains("bytea") {
        "bytes"
    } else if t.contains("bool") {
        "boolean"
    } else if t.contains("timestamp") || t.contains("date") {
        "time"
    } else {
        "other"
    }
}

/// `table.column kind [not null] [key]` for every column.
fn columns(env: &Env) -> BTreeSet<String> {
    let rows = match env.backend {
        Backend::Sqlite => env.texts(
            "SELECT m.name || '|' || p.name || '|' || p.type || '|' || (p.\"notnull\" OR p.pk > 0) || '|' || (p.pk > 0) \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'",
        ),
        Backend::Postgres => env.texts(
            "SELECT c.table_name || '|' || c.column_name || '|' || c.data_type || '|' || \
                    (CASE WHEN c.is_nullable = 'NO' THEN 1 ELSE 0 END) || '|' || \
                    (CASE WHEN EXISTS (SELECT 1 FROM information_schema.table_constraints t \
                        JOIN information_schema.key_column_usage k ON k.constraint_name = t.constraint_name \
                         AND k.table_schema = t.table_schema AND k.table_name = t.table_name \
                        WHERE t.constraint_type = 'PRIMARY KEY' AND t.table_schema = c.table_schema \
                          AND t.table_name = c.table_name AND k.column_name = c.column_name) THEN 1 ELSE 0 END) \
             FROM information_schema.columns c \
             WHERE c.table_schema = current_schema() AND c.table_name <> '_sqlx_migrations'",
        ),
    };
    rows.iter()
        .map(|row| {
            let f: Vec<&str> = row.split('|').collect();
            let not_null = if f[3] == "1" { " not null" } else { "" };
            let key = if f[4] == "1" { " key" } else { "" };
            format!("{}.{} {}{not_null}{key}", f[0], f[1], kind(f[2]))
        })
        .collect()
}

/// `index on table (columns) [unique]` for every index the migrations create (not the engines'
/// own indexes of keys and unique constraints).
fn indexes(env: &Env) -> BTreeSet<String> {
    let rows = match env.backend {
        Backend::Sqlite => env.texts(
            "SELECT m.name || '|' || m.tbl_name || '|' || \
                    (SELECT group_concat(coalesce(ii.name, 'expr'), ',') FROM \
                        (SELECT name FROM pragma_index_xinfo(m.name) WHERE key = 1 ORDER BY seqno) ii) || '|' || \
                    (SELECT il.\"unique\" FROM pragma_index_list(m.tbl_name) il WHERE il.name = m.name) \
             FROM sqlite_master m WHERE m.type = 'index' AND m.sql IS NOT NULL",
        ),
        Backend::Postgres => env.texts(
            "SELECT i.relname || '|' || t.relname || '|' || \
                    (SELECT string_agg(coalesce(a.attname, 'expr'), ',' ORDER BY k.n) \
                       FROM unnest(x.indkey) WITH ORDINALITY AS k(attnum, n) \
                       LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum AND k.attnum > 0 \
                      WHERE k.n <= x.indnkeyatts) || '|' || \
                    (CASE WHEN x.indisunique THEN 1 ELSE 0 END) \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             WHERE n.nspname = current_schema() AND NOT x.indisprimary \
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
        ),
    };
    rows.iter()
        .map(|row| {
            let f: Vec<&str> = row.split('|').collect();
            let unique = if f[3] == "1" { " unique" } else { "" };
            format!("{} on {} ({}){unique}", f[0], f[1], f[2])
        })
        .collect()
}

fn versions(engine: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace_root().join("migrations").join(engine))
        .expect("migrations folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    names.sort();
    names
}

#[test]
fn both_engines_hold_the_same_schema() {
    let sqlite = versions("sqlite");
    assert_eq!(sqlite, versions("postgres"), "both folders hold the same migrations");
    let numbers: Vec<u32> = sqlite
        .iter()
        .map(|n| n.split('_').next().and_then(|v| v.parse().ok()).expect("NNNN_name.sql"))
        .collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");

    let catalogues: Vec<(BTreeSet<String>, BTreeSet<String>)> = [Backend::Sqlite, Backend::Postgres]
        .into_iter()
        .map(|backend| {
            let env = Env::new(backend);
            let out = env.run(&["migrate"]);
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            (columns(&env), indexes(&env))
        })
        .collect();
    let (lite, pg) = (&catalogues[0], &catalogues[1]);
    assert!(lite.0.len() > 100, "the columns were read: {}", lite.0.len());
    let only = |a: &BTreeSet<String>, b: &BTreeSet<String>| a.difference(b).cloned().collect::<Vec<_>>();
    assert_eq!(
        (only(&lite.0, &pg.0), only(&pg.0, &lite.0)),
        (vec![], vec![]),
        "columns only on SQLite, only on PostgreSQL"
    );
    assert_eq!(
        (only(&lite.1, &pg.1), only(&pg.1, &lite.1)),
        (vec![], vec![]),
        "indexes only on SQLite, only on PostgreSQL"
    );
}

/// Stores made before the job kinds were generic held jobs named for their connectors; migration
/// 0023 rewrites them to the host's kinds with the connector in their settings, keeping every
/// setting made, on both engines.
#[test]
fn jobs_of_earlier_releases_take_the_generic_kinds() {
    let migration =
        std::fs::read_to_string(workspace_root().join("migrations/sqlite/0023_declared_job_kinds.sql")).unwrap();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let env = Env::new(backend);
        let out = env.run(&["migrate"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        env.execute("DELETE FROM jobs");
        for (name, config) in [
            ("fri-inbox", "{}"),
            ("fri-outbox", r#"{"upload_url":"http://127.0.0.1:9/upload"}"#),
            ("zags-inbox", "{}"),
            ("zags-check", r#"{"recheck_days":7}"#),
            ("egisso-upload", " { } "),
        ] {
            env.execute(&format!(
                "INSERT INTO jobs (name, kind, schedule, enabled, config, updated_at) VALUES ('{name}', '{name}', '0 1 * * *', 1, '{config}', 'x')"
            ));
        }
        // The statements of the migration, as it ran on stores of that time.
        let code: String = migration
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        for statement in code.split(';').filter(|s| !s.trim().is_empty()) {
            env.execute(statement);
        }
        let job = |name: &str| -> (String, serde_json::Value) {
            let kind = env.text(&format!("SELECT kind FROM jobs WHERE name = '{name}'"));
            let config = env.text(&format!("SELECT config FROM jobs WHERE name = '{name}'"));
            (
                kind,
                serde_json::from_str(&config).unwrap_or_else(|e| panic!("{name}: {config}: {e}")),
            )
        };
        let (kind, config) = job("fri-inbox");
        assert_eq!(
            (kind.as_str(), &config),
            ("inbox", &serde_json::json!({"connector": "fri"}))
        );
        let (kind, config) = job("fri-outbox");
        assert_eq!(kind, "report-outbox");
        assert_eq!(
            config,
            serde_json::json!({"connector": "fri", "upload_url": "http://127.0.0.1:9/upload"})
        );
        let (kind, config) = job("zags-inbox");
        assert_eq!(
            (kind.as_str(), &config),
            ("inbox", &serde_json::json!({"connector": "zags"}))
        );
        let (kind, config) = job("zags-check");
        assert_eq!(kind, "person-check");
        assert_eq!(
            config,
            serde_json::json!({"connector": "zags", "step": "zags-check", "recheck_days": 7})
        );
        let (kind, config) = job("egisso-upload");
        assert_eq!(
            (kind.as_str(), &config),
            ("facts-upload", &serde_json::json!({"connector": "egisso"}))
        );
    }
}
