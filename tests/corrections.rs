//! Corrections after a report: a rejected or withdrawn report's records come back for correction with
//! the reason, the corrected report is the next version naming the one it corrects, a measure's
//! result counts from the moment its report is sent; draft and ready records follow their measures to
//! a superseding IPRA and the executing organisation is told. Real binary, SQLite and PostgreSQL.

mod common;

use common::browser::Browser;
use common::{Backend, Env, BACKENDS};
use serde_json::Value;

const PASSWORD: &str = "пароль исполнителя";

fn counted(env: &Env) -> (i64, i64) {
    let stats = env.ok(&["stats", "--json"]);
    (
        stats["executed"]["measures"].as_i64().unwrap(),
        stats["not_executed"]["measures"].as_i64().unwrap(),
    )
}

fn report_json(env: &Env, id: i64) -> Value {
    env.ok(&["reports", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("report {id}"))
}

fn rejected_report_is_corrected_and_sent_again(backend: Backend) {
    let env = Env::new(backend);
    let orgs = env.directory();
    let (ipra, first) = env.reported_ipra("extract_4.xml", &orgs);
    let record = env.scalar(&format!("SELECT id FROM execution_records WHERE report_id = {first}"));
    let measure = env.scalar(&format!("SELECT measure_id FROM execution_records WHERE id = {record}"));
    assert_eq!(counted(&env), (0, 0), "an assembled report counts nothing");
    env.sign_and_send(&orgs["region"]);
    assert_eq!(counted(&env), (1, 0), "the sent report counts");

    // FRI rejects it: the record is back for correction with the reason, the measure is open again.
    env.run_ok(&[
        "reports",
        "answer",
        &first.to_string(),
        "--rejected",
        "Не указана дата исполнения",
    ]);
    let back = env.text(&format!(
        "SELECT status || ' | ' || COALESCE(returned_reason, '') FROM execution_records WHERE id = {record}"
    ));
    assert_eq!(back, "ready | отчёт отклонён ФРИ: Не указана дата исполнения");
    assert_eq!(
        env.text(&format!("SELECT status FROM measures WHERE id = {measure}")),
        "open"
    );
    assert_eq!(counted(&env), (0, 0), "a rejected report's results no longer count");
    let returned = env.ok(&["executions", "list", "--ipra", &ipra.to_string(), "--json"]);
    assert_eq!(returned[0]["returned_from_report_id"], first, "{returned}");

    // The page says why, on the record, to the clerk who corrects it.
    let executor_org = returned[0]["organisation"].as_str().unwrap().to_string();
    env.add_user("clerk", "executor", Some(&executor_org), PASSWORD);
    {
        let server = env.serve(&[]);
        let browser = Browser::start();
        browser.login(&server.addr, "clerk", PASSWORD);
        browser.goto(&format!("http://{}/ipras/{ipra}/execution", server.addr));
        let why = browser.text(".ex-returned");
        assert!(why.contains("Не указана дата исполнения"), "{why}");
        browser.screenshot(&format!("corrections-returned-{}", backend.name()));
    }

    // Corrected: not executed after all, with its reason; then the next version of the report.
    env.run_ok(&["executions", "draft", &record.to_string()]);
    let m = env
        .ok(&["measures", "list", "--ipra", &ipra.to_string(), "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == measure)
        .cloned()
        .unwrap();
    let mut update = common::execution_args(ipra, &m, &executor_org);
    update[1] = "update".into();
    update.insert(2, record.to_string());
    update.extend(["--result", "not-executed", "--reason", "refused"].map(String::from));
    let args: Vec<&str> = update.iter().map(String::as_str).collect();
    env.run_ok(&args);
    env.run_ok(&["executions", "ready", &record.to_string()]);
    let second = env.assemble(ipra, &orgs["region"]);
    let v2 = report_json(&env, second);
    assert_eq!(v2["version"], 2, "{v2}");
    assert_eq!(v2["corrects_report_id"], first, "{v2}");
    assert_eq!(counted(&env), (0, 0), "assembled, not yet sent");
    env.add_user("coord", "coordinator", None, PASSWORD);
    {
        let server = env.serve(&[]);
        let (cookie, _) = common::login(&server.addr, "coord", PASSWORD);
        let page = common::http(
            &server.addr,
            "GET",
            &format!("/reports/{second}"),
            &[("Cookie", &cookie)],
            None,
        );
        assert!(
            page.body
                .contains(&format!("Версия 2 отчёта: исправляет <a href=\"/reports/{first}\">")),
            "the report page names the report it corrects"
        );
    }
    env.sign_and_send(&orgs["region"]);
    assert_eq!(report_json(&env, second)["status"], "sent");
    assert_eq!(
        counted(&env),
        (0, 1),
        "the statistics follow the corrected version sent"
    );
    assert_eq!(
        env.text(&format!("SELECT status FROM measures WHERE id = {measure}")),
        "not-executed"
    );
    assert_eq!(
        env.scalar(&format!(
            "SELECT COUNT(*) FROM execution_records WHERE id = {record} AND returned_reason IS NULL"
        )),
        1,
        "the reason goes once the record is in the next version"
    );

    // A report withdrawn before signing: its record comes back too, and the next report is version 2.
    let (ipra2, withdrawn) = env.reported_ipra("extract-20211124093406.xml", &orgs);
    env.run_ok(&["reports", "withdraw", &withdrawn.to_string()]);
    assert_eq!(
        env.text(&format!(
            "SELECT status || ' | ' || returned_reason FROM execution_records WHERE returned_from_report_id = {withdrawn}"
        )),
        "ready | отчёт возвращён на доработку до подписания"
    );
    let again = env.assemble(ipra2, &orgs["region"]);
    assert_eq!(report_json(&env, again)["version"], 2);
    assert_eq!(report_json(&env, again)["corrects_report_id"], withdrawn);
}

#[test]
fn rejected_and_withdrawn_reports_are_corrected_as_new_versions() {
    for backend in BACKENDS {
        rejected_report_is_corrected_and_sent_again(backend);
    }
}

fn unreported_records_follow_the_superseding_ipra(backend: Backend) {
    let env = Env::new(backend);
    env.directory();
    let (first, second) = env.superseding_pair();
    env.ok(&["import", first.to_str().unwrap(), "--json"]);
    let old = env.scalar("SELECT MAX(id) FROM ipras");
    let measures: Vec<Value> = env
        .ok(&["measures", "list", "--ipra", &old.to_string(), "--json"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["assigned_ogrn"].is_string() && m["section"] != "tsr")
        .cloned()
        .collect();
    // Measures the new IPRA names too come first.
    let next_text = std::fs::read_to_string(&second).unwrap();
    let mut measures = measures;
    let mut names = std::collections::HashSet::new();
    measures.retain(|m| names.insert(m["name"].as_str().unwrap().to_string()));
    measures.sort_by_key(|m| !next_text.contains(m["name"].as_str().unwrap()));
    assert!(
        next_text.contains(measures[1]["name"].as_str().unwrap()),
        "two measures kept by the new IPRA"
    );
    assert!(measures.len() >= 3, "three measures with executors");
    let org = |m: &Value| m["assigned_ogrn"].as_str().unwrap().to_string();
    // A draft and a ready record of measures the new IPRA keeps, and a draft of one it will not have.
    let draft = env.add_execution(
        old,
        &measures[0],
        &org(&measures[0]),
        &["--result", "not-executed", "--reason", "refused"],
    )["result"]
        .as_i64()
        .unwrap();
    let ready = env.add_execution(
        old,
        &measures[1],
        &org(&measures[1]),
        &["--result", "not-executed", "--reason", "refused", "--ready"],
    )["result"]
        .as_i64()
        .unwrap();
    let gone = env.add_execution(
        old,
        &measures[2],
        &org(&measures[2]),
        &["--result", "not-executed", "--reason", "moved"],
    )["result"]
        .as_i64()
        .unwrap();
    // The new IPRA has no measure of this name (as when MSE drops one).
    env.execute(&format!(
        "UPDATE measures SET name = name || ' (прежняя редакция)' WHERE id = {}",
        measures[2]["id"]
    ));

    env.ok(&["import", second.to_str().unwrap(), "--json"]);
    let new = env.scalar("SELECT MAX(id) FROM ipras");
    assert_ne!(old, new);
    let where_is = |id: i64| {
        env.text(&format!(
            "SELECT ipra_id || ' ' || status FROM execution_records WHERE id = {id}"
        ))
    };
    assert_eq!(where_is(draft), format!("{new} draft"), "the draft follows its measure");
    assert_eq!(
        where_is(ready),
        format!("{new} ready"),
        "the ready record follows its measure"
    );
    assert_eq!(
        where_is(gone),
        format!("{old} draft"),
        "a record whose measure the new IPRA lacks stays"
    );
    assert_eq!(
        env.scalar(&format!(
            "SELECT COUNT(*) FROM execution_records e JOIN measures m ON m.id = e.measure_id WHERE e.id IN ({draft}, {ready}) AND m.ipra_id = {new}"
        )),
        2,
        "each moved record points at the new IPRA's measure"
    );

    // The organisation of the unmatched record is told what stayed; every organisation what moved.
    let stayed_org = org(&measures[2]);
    let notices = env.texts(&format!(
        "SELECT text FROM notices WHERE organisation = '{stayed_org}' ORDER BY id"
    ));
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].contains("Не перенесены") && notices[0].contains("— 1"),
        "{}",
        notices[0]
    );
    env.add_user("clerk", "executor", Some(&org(&measures[1])), PASSWORD);
    let server = env.serve(&[]);
    let (cookie, _) = common::login(&server.addr, "clerk", PASSWORD);
    let api = common::http(&server.addr, "GET", "/api/v1/notices", &[("Cookie", &cookie)], None).json();
    assert!(
        api[0]["text"].as_str().unwrap().contains("перенесены в новую ИПРА"),
        "{api}"
    );
    assert_eq!(api[0]["ipra_id"], new);
    let browser = Browser::start();
    browser.login(&server.addr, "clerk", PASSWORD);
    browser.goto(&format!("http://{}/executions", server.addr));
    assert!(browser.text("#notices").contains("перенесены в новую ИПРА"));
    browser.screenshot(&format!("corrections-notice-{}", backend.name()));
    browser.click("#notices button[type=submit]");
    browser.wait_url("#notices");
    assert!(!browser.has("#notices li"), "read notices leave the page");
    let api = common::http(&server.addr, "GET", "/api/v1/notices", &[("Cookie", &cookie)], None).json();
    assert_eq!(api.as_array().map(Vec::len), Some(0), "{api}");
}

#[test]
fn draft_and_ready_records_follow_a_superseding_ipra() {
    for backend in BACKENDS {
        unreported_records_follow_the_superseding_ipra(backend);
    }
}
