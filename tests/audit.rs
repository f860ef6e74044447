//! The audit log's tamper-evidence end to end, on SQLite and PostgreSQL: the reads of cards a
//! server logs are sealed into a hash chain; `ipra audit verify` finds an edited entry, a deleted
//! one, and the last entries deleted with the head moved back (against the anchor file and a head
//! the operator recorded with `ipra audit head`).

mod common;

use common::{http, login, Env, BACKENDS};

const PASSWORD: &str = "correct horse battery";

#[test]
fn the_audit_log_is_a_chain_that_shows_tampering() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        env.run_ok(&["demo", "--count", "6"]);
        env.add_user("coord", "coordinator", None, PASSWORD);
        {
            let server = env.serve(&[]);
            let (cookie, _) = login(&server.addr, "coord", PASSWORD);
            for id in 1..=6 {
                let card = http(
                    &server.addr,
                    "GET",
                    &format!("/api/v1/ipras/{id}"),
                    &[("Cookie", &cookie)],
                    None,
                );
                assert_eq!(card.status, 200, "{backend:?}: {}", card.body);
            }
        }
        let reads = env.scalar("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'ipra.%'");
        assert!(reads >= 6, "{backend:?}: {reads} card reads logged");
        let v = env.ok(&["audit", "verify", "--json"]);
        assert_eq!(v["ok"], true, "{backend:?}: {v}");
        let entries = v["audit_log"]["entries"].as_i64().unwrap();
        assert_eq!(
            entries,
            env.scalar("SELECT COUNT(*) FROM audit_log"),
            "{backend:?}: every entry sealed"
        );
        let head = env.ok(&["audit", "head", "--json"]);
        let recorded = format!(
            "{}:{}",
            head["audit_log"]["seq"],
            head["audit_log"]["hash"].as_str().unwrap()
        );
        assert_eq!(env.ok(&["audit", "verify", "--json", "--head", &recorded])["ok"], true);

        // An entry edited: found, by its place; whole again, the chain holds again.
        env.execute("UPDATE audit_log SET subject = subject || 'x' WHERE seq = 2");
        let (code, v) = env.run_json(&["audit", "verify", "--json"]);
        assert_eq!(
            (code, v["audit_log"]["broken_at"].as_i64()),
            (1, Some(2)),
            "{backend:?}: {v}"
        );
        assert!(v["reason"].as_str().unwrap().contains("изменена"), "{v}");
        env.execute("UPDATE audit_log SET subject = substr(subject, 1, length(subject) - 1) WHERE seq = 2");
        assert_eq!(env.ok(&["audit", "verify", "--json"])["ok"], true);

        // An entry from the middle deleted.
        env.execute("UPDATE audit_log SET seq = -seq WHERE seq = 3");
        let (code, v) = env.run_json(&["audit", "verify", "--json"]);
        assert_eq!(
            (code, v["audit_log"]["broken_at"].as_i64()),
            (1, Some(3)),
            "{backend:?}: {v}"
        );
        env.execute("UPDATE audit_log SET seq = -seq WHERE seq = -3");

        // The last entries deleted and the head moved back with them: the chain alone holds, the
        // anchors and the operator's record know better.
        let keep = entries - 2;
        env.execute(&format!("DELETE FROM audit_log WHERE seq > {keep}"));
        env.execute(&format!(
            "UPDATE audit_seal SET seq = {keep}, head_hash = (SELECT entry_hash FROM audit_log WHERE seq = {keep})"
        ));
        let (code, v) = env.run_json(&["audit", "verify", "--json"]);
        assert_eq!(code, 1, "{backend:?}: {v}");
        assert!(
            v["reason"].as_str().unwrap().contains("последние записи удалены"),
            "{backend:?}: {v}"
        );
        let anchors = env.data_dir().join("audit/anchors.log");
        std::fs::remove_file(&anchors).unwrap();
        let (code, v) = env.run_json(&["audit", "verify", "--json", "--head", &recorded]);
        assert_eq!(code, 1, "{backend:?}: the operator's record alone: {v}");
        assert_eq!(
            env.ok(&["audit", "verify", "--json"])["ok"],
            true,
            "{backend:?}: with nothing recorded outside, a truncated chain cannot be told"
        );
    }
}
