//! The whole execution path without the UI, on SQLite and PostgreSQL: import → route → execute
//! (every department) → report → FRI package valid against the published schema → lifecycle,
//! statistics, deadlines, carry-over to a superseding IPRA and closing on death.

mod common;

use common::{formats, fri_samples, ogrn, Backend, Env, BACKENDS};
use serde_json::Value;

fn xmllint(document: &std::path::Path, schema: &std::path::Path) -> (bool, String) {
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema)
        .arg(document)
        .output()
        .expect("xmllint (Debian libxml2-utils)");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn whole_path(backend: Backend) {
    let env = Env::new(backend);
    let orgs = env.directory();
    let sample = fri_samples().join("11350102278_IPRA_20221024.xml");
    let (code, report) = env.run_json(&["import", sample.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{report}");
    let sample = fri_samples().join("extract_4.xml");
    env.ok(&["import", sample.to_str().unwrap(), "--json"]);
    let ipra = env.scalar("SELECT id FROM ipras WHERE number = 'МРН-20882/21'");

    // Routing at import: every measure with a section has an executor from the rules.
    let measures = env.ok(&["measures", "list", "--ipra", &ipra.to_string(), "--json"]);
    let measures = measures.as_array().unwrap();
    assert!(measures.len() >= 6, "{measures:?}");
    for m in measures.iter().filter(|m| !m["section"].as_str().unwrap().is_empty()) {
        let section = m["section"].as_str().unwrap();
        assert_eq!(m["assigned_ogrn"].as_str(), Some(orgs[section].as_str()), "{m}");
        assert!(m["due_date"].as_str().is_some(), "due date computed: {m}");
    }

    // A territory's own rule: preview first (changes nothing), then apply; a manual reassignment after.
    let health_measure = measures
        .iter()
        .find(|m| m["section"] == "health")
        .expect("a health measure");
    let territory: String = {
        let card = env.ok(&["show", &ipra.to_string(), "--json"]);
        card["person"]["territory_code"].as_str().unwrap_or("").to_string()
    };
    if !territory.is_empty() {
        let local = ogrn(102_770_013_250);
        env.run_ok(&[
            "orgs",
            "add",
            "--ogrn",
            &local,
            "--name",
            "Районная больница",
            "--department",
            "health",
            "--territory",
            &territory,
        ]);
        let preview = env.ok(&[
            "routing",
            "preview",
            "--section",
            "health",
            "--territory",
            &territory,
            "--ogrn",
            &local,
            "--json",
        ]);
        assert!(!preview.as_array().unwrap().is_empty(), "{preview}");
        let again = env.ok(&["measures", "list", "--ipra", &ipra.to_string(), "--json"]);
        let same = again
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == health_measure["id"])
            .unwrap();
        assert_eq!(
            same["assigned_ogrn"].as_str(),
            Some(orgs["health"].as_str()),
            "preview changed nothing"
        );
        let set = env.ok(&[
            "routing",
            "set",
            "--section",
            "health",
            "--territory",
            &territory,
            "--ogrn",
            &local,
            "--json",
        ]);
        assert_eq!(set["reassigned"], preview.as_array().unwrap().len());
    }
    let id = health_measure["id"].to_string();
    env.run_ok(&[
        "measures",
        "assign",
        &id,
        "--ogrn",
        &orgs["health"],
        "--note",
        "по заявлению",
    ]);
    let history = env.ok(&["measures", "history", &id, "--json"]);
    assert!(history.as_array().unwrap().len() >= 2, "{history}");
    assert_eq!(history.as_array().unwrap().last().unwrap()["source"], "manual");

    // Execution records of every department present in this IPRA: executed, and one not executed.
    let mut executed = 0;
    let mut sections_done = Vec::new();
    for m in measures {
        let section = m["section"].as_str().unwrap();
        if section.is_empty() || sections_done.contains(&section) {
            continue;
        }
        sections_done.push(section);
        let owned = common::execution_args(ipra, m, &orgs[section]);
        let args: Vec<&str> = owned.iter().map(String::as_str).collect();
        if sections_done.len() == 1 {
            // Invalid first: not executed without a reason, and a bad executor OGRN.
            let mut bad = args.to_vec();
            let executor_at = bad.len() - 3;
            bad[executor_at] = "1027700132196";
            let (code, refused) =
                env.run_json(&[&bad[..], &["--result", "not-executed", "--ready", "--json"]].concat());
            assert_eq!(code, 1, "{refused}");
            let fields: Vec<&str> = refused["errors"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| e["field"].as_str())
                .collect();
            assert!(
                fields.contains(&"ОГРН исполнителя") && fields.contains(&"Причины неисполнения"),
                "{refused}"
            );
            let (code, _) = env.run_json(
                &[
                    &args[..],
                    &[
                        "--result",
                        "not-executed",
                        "--reason",
                        "refused",
                        "--clarification",
                        "отказ от реабилитации",
                        "--ready",
                        "--json",
                    ],
                ]
                .concat(),
            );
            assert_eq!(code, 0);
        } else {
            env.ok(&[
                &args[..],
                &[
                    "--result",
                    "executed",
                    "--date",
                    "2021-06-01",
                    "--comment",
                    "выполнено",
                    "--ready",
                    "--json",
                ],
            ]
            .concat());
            executed += 1;
        }
    }
    assert!(
        sections_done.len() >= 4,
        "several departments in the sample: {sections_done:?}"
    );

    // The report: assembled from all departments, the FRI package valid against the published schema.
    let assembled = env.ok(&[
        "reports",
        "assemble",
        "--ipra",
        &ipra.to_string(),
        "--reporter",
        &orgs["region"],
        "--json",
    ]);
    let report = assembled["result"].as_i64().unwrap().to_string();
    let doc = env.dir.path().join("report.xml");
    env.run_ok(&["reports", "document", &report, "--out", doc.to_str().unwrap()]);
    let (valid, errors) = xmllint(&doc, &formats().join("fri/fri-extract-schema-v1.5.xsd"));
    assert!(valid, "FRI package must validate: {errors}");
    let text = std::fs::read_to_string(&doc).unwrap();
    assert!(text.contains("RESOC"), "report documents follow the RESOC shape");

    // Nothing is sent unsigned; no answer before sending; a second report waits for this one.
    let out = env.run(&["reports", "answer", &report, "--accepted"]);
    assert!(!out.status.success());
    let (code, _) = env.run_json(&[
        "reports",
        "assemble",
        "--ipra",
        &ipra.to_string(),
        "--reporter",
        &orgs["region"],
        "--json",
    ]);
    assert_eq!(code, 1);
    let list = env.ok(&["reports", "list", "--json"]);
    assert_eq!(list[0]["status"], "awaiting-signature");

    // What was assembled does not count yet; what was sent does.
    let stats = env.ok(&["stats", "--json"]);
    assert_eq!(
        stats["executed"]["measures"], 0,
        "an assembled report counts nothing: {stats}"
    );
    env.sign_and_send(&orgs["region"]);
    assert_eq!(env.ok(&["reports", "list", "--json"])[0]["status"], "sent");

    // Statistics and deadlines from the register.
    let stats = env.ok(&["stats", "--json"]);
    assert_eq!(stats["executed"]["measures"], executed);
    assert_eq!(stats["not_executed"]["measures"], 1);
    let refused = stats["not_executed_by_reason"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "refused")
        .unwrap();
    assert_eq!(refused["measures"], 1);
    assert_eq!(stats["extracts"], 2);
    assert_eq!(stats["received"]["persons"].as_i64().unwrap(), 2);
    assert!(
        stats["tsr"]["measures"].as_i64().unwrap() > 0 && stats["rehabilitation"]["measures"].as_i64().unwrap() > 0
    );
    let overdue = env.ok(&["deadlines", "--today", "2099-01-01", "--json"]);
    assert!(overdue["measures"].as_i64().unwrap() > 0);
    let none = env.ok(&["deadlines", "--today", "2000-01-01", "--json"]);
    assert_eq!(none["measures"], 0);

    // A death closes the open measures with the death reason.
    env.run_ok(&["death", "120-334-215 87", "--date", "2021-09-01"]);
    let stats = env.ok(&["stats", "--json"]);
    let died = stats["not_executed_by_reason"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "died")
        .unwrap();
    assert!(died["measures"].as_i64().unwrap() > 0, "{stats}");
    assert_eq!(
        env.scalar(&format!(
            "SELECT COUNT(*) FROM measures WHERE ipra_id = {ipra} AND status = 'open'"
        )),
        0
    );
}

#[test]
fn whole_execution_path_on_sqlite() {
    whole_path(Backend::Sqlite);
}

#[test]
fn whole_execution_path_on_postgres() {
    whole_path(Backend::Postgres);
}

/// A superseding IPRA carries executed measures over and keeps the rest open.
#[test]
fn superseding_ipra_carries_executed_measures_over() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let orgs = env.directory();
        let (first, second) = env.superseding_pair();
        env.ok(&["import", first.to_str().unwrap(), "--json"]);
        let old = env.scalar("SELECT MAX(id) FROM ipras");
        let measures = env.ok(&["measures", "list", "--ipra", &old.to_string(), "--json"]);
        let m = measures
            .as_array()
            .unwrap()
            .iter()
            .find(|m| !m["section"].as_str().unwrap().is_empty())
            .unwrap()
            .clone();
        let section = m["section"].as_str().unwrap();
        let card = env.ok(&["show", &old.to_string(), "--json"]);
        let date = card["decision_date"].as_str().unwrap().to_string();
        env.ok(&[
            "executions",
            "add",
            "--ipra",
            &old.to_string(),
            "--measure",
            &m["id"].to_string(),
            "--section",
            section,
            "--org",
            &orgs[section],
            "--executor",
            &orgs[section],
            "--name",
            m["name"].as_str().unwrap(),
            "--result",
            "executed",
            "--date",
            &date,
            "--ready",
            "--json",
        ]);
        env.assemble(old, &orgs["region"]);
        env.sign_and_send(&orgs["region"]);

        let (_, report) = env.run_json(&["import", second.to_str().unwrap(), "--json"]);
        assert_eq!(report["superseded"], 1, "{report}");
        let new = env.scalar("SELECT MAX(id) FROM ipras");
        assert_eq!(
            env.scalar(&format!(
                "SELECT COUNT(*) FROM ipras WHERE id = {old} AND status = 'superseded' AND superseded_by = {new}"
            )),
            1
        );
        assert_eq!(
            env.scalar(&format!(
                "SELECT COUNT(*) FROM measures WHERE ipra_id = {old} AND status = 'open'"
            )),
            0,
            "old open measures closed"
        );
        let carried = env.scalar(&format!(
            "SELECT COUNT(*) FROM execution_records WHERE ipra_id = {new} AND carried_from IS NOT NULL"
        ));
        let matching = env.scalar(&format!(
            "SELECT COUNT(*) FROM measures n WHERE n.ipra_id = {new} AND n.section = '{section}' AND n.name = (SELECT name FROM measures WHERE id = {})",
            m["id"]
        ));
        assert_eq!(
            carried,
            matching.min(1),
            "executed measure carried over when the new IPRA has it"
        );
        assert!(
            env.scalar(&format!(
                "SELECT COUNT(*) FROM measures WHERE ipra_id = {new} AND status = 'open'"
            )) > 0
        );
    }
}

/// Reference lists are versioned: an administrator's edit is a new version with its author; the
/// reasons offered to departments change with it.
#[test]
fn reference_lists_are_versioned_and_drive_validation() {
    let env = Env::new(Backend::Sqlite);
    let file = env.dir.path().join("reasons.csv");
    std::fs::write(&file, "refused;Отказ;;\nregional;Региональная причина;;\n").unwrap();
    let out = env
        .ipra()
        .args(["--actor", "admin:petrova", "reference", "set", "non-execution-reasons"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let versions = env.ok(&["reference", "list", "--json"]);
    let reasons: Vec<&Value> = versions
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["list_id"] == "non-execution-reasons")
        .collect();
    assert_eq!(reasons.len(), 2);
    assert_eq!(reasons[1]["author"], "admin:petrova");
    assert_eq!(reasons[0]["author"], "поставка");
    let shown = env.ok(&["reference", "show", "non-execution-reasons", "--json"]);
    assert_eq!(shown.as_array().unwrap().len(), 2);
    let bad = env.dir.path().join("bad.csv");
    std::fs::write(&bad, "x;Один;;\nx;Дубль;;\n").unwrap();
    let out = env.run(&["reference", "set", "non-execution-reasons", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("повторяется"));
}

/// TSR clarification (порядок ФБ МСЭ для ИС МСЭ в ЕЦП): refused without the citizen's consent; with it, a request due in
/// two working days is kept and counted when overdue.
#[test]
fn tsr_clarification_needs_consent_and_has_a_deadline() {
    let env = Env::new(Backend::Sqlite);
    let orgs = env.directory();
    env.ok(&[
        "import",
        fri_samples().join("extract_4.xml").to_str().unwrap(),
        "--json",
    ]);
    let ipra = env.scalar("SELECT MAX(id) FROM ipras").to_string();
    let measures = env.ok(&["measures", "list", "--ipra", &ipra, "--json"]);
    let tsr = measures
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["section"] == "tsr")
        .expect("a TSR item")["id"]
        .to_string();
    let args = [
        "follow-ups",
        "tsr-clarify",
        "--ipra",
        &ipra,
        "--measure",
        &tsr,
        "--org",
        &orgs["tsr"],
        "--reason",
        "параметры не соответствуют показаниям",
        "--json",
    ];
    let (code, refused) = env.run_json(&args);
    assert_eq!(code, 1, "{refused}");
    assert!(
        refused.to_string().contains("согласи"),
        "consent is required: {refused}"
    );
    let done = env.ok(&[&args[..], &["--consent"]].concat());
    assert_eq!(done["result"].as_array().unwrap().len(), 1);
    let follow_ups = env.ok(&[
        "follow-ups",
        "list",
        "--ipra",
        &ipra,
        "--kind",
        "tsr-clarification",
        "--json",
    ]);
    let request = &follow_ups[0];
    let due = request["due_date"].as_str().unwrap();
    assert_eq!(due.len(), 10, "{request}");
    let overdue = env.ok(&["deadlines", "--today", "2099-01-01", "--json"]);
    assert!(overdue["follow_ups"].as_i64().unwrap() >= 1, "{overdue}");
}

/// Every department, end to end: demo extracts with all six sections, a record of each department
/// ready, reports assembled whose FRI packages validate against the published schema.
#[test]
fn every_department_executes_and_reports() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        env.run_ok(&["demo", "--count", "40", "--seed", "4"]);
        let region = "1021602830370";
        let mut ipras = std::collections::BTreeSet::new();
        for section in common::SECTIONS {
            let measure = env.scalar(&format!(
                "SELECT MIN(m.id) FROM measures m JOIN ipras i ON i.id = m.ipra_id WHERE m.section = '{section}' AND m.assigned_ogrn IS NOT NULL AND i.status = 'active' AND i.decision_date IS NOT NULL"
            ));
            assert!(measure > 0, "a {section} measure in the demo");
            let ipra = env.scalar(&format!("SELECT ipra_id FROM measures WHERE id = {measure}"));
            let card = env.ok(&["show", &ipra.to_string(), "--json"]);
            let m = card["measures"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["id"] == measure)
                .unwrap()
                .clone();
            let org = m["assigned_ogrn"].as_str().unwrap().to_string();
            env.add_execution(
                ipra,
                &m,
                &org,
                &[
                    "--result",
                    "executed",
                    "--date",
                    card["decision_date"].as_str().unwrap(),
                    "--ready",
                ],
            );
            ipras.insert(ipra);
        }
        for ipra in &ipras {
            let report = env.ok(&[
                "reports",
                "assemble",
                "--ipra",
                &ipra.to_string(),
                "--reporter",
                region,
                "--json",
            ]);
            let doc = env.dir.path().join(format!("report-{ipra}.xml"));
            env.run_ok(&[
                "reports",
                "document",
                &report["result"].to_string(),
                "--out",
                doc.to_str().unwrap(),
            ]);
            let (valid, errors) = xmllint(&doc, &formats().join("fri/fri-extract-schema-v1.5.xsd"));
            assert!(valid, "{errors}");
        }
        env.sign_and_send(region);
        let stats = env.ok(&["stats", "--json"]);
        assert_eq!(stats["executed"]["measures"], 6);
        let sections = stats["by_section"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s[0] != "")
            .count();
        assert_eq!(sections, 6, "{stats}");
    }
}
