//! ZAGS death records are checked before they close anything: hostile `FATALRequest` documents
//! dropped into the ZAGS inbox (a death in the future, before birth, an unknown format version, a
//! foreign or missing namespace, a bad SNILS) leave a living person's measures open; the doubtful
//! ones wait in the decisions queue with the reason, the refused ones are visible on their message
//! and on the decisions page, and a good record is still applied. On SQLite and PostgreSQL.

mod common;

use common::{fri_samples, http, login, Backend, Env, TODAY};

/// Her SNILS in the FRI sample `extract_4.xml` (born 1957-05-15).
const SNILS: &str = "120-334-215 87";
const PASSWORD: &str = "Пароль-для-теста-1";

/// The official 4.0.6 sample rewritten to be about her: act `act`, her SNILS (or `snils`), the
/// birth, death and act dates given.
fn about_her(act: &str, snils: &str, birth: &str, death: &str, act_date: &str) -> String {
    let sample = std::fs::read_to_string(common::formats().join("zags/fatal-4.0.6/request.sample.xml")).unwrap();
    let text = sample
        .replace("170219920000200319007", act)
        .replace(">Тестов<", ">Погодина<")
        .replace(">Иван<", ">Валентина<")
        .replace(">Тестович<", ">Ивановна<")
        .replace("<ПрдСведРег>", &format!("<ПрдСведРег СНИЛС=\"{snils}\">"))
        .replace("<ДатаРождКаленд>1954-02-15<", &format!("<ДатаРождКаленд>{birth}<"))
        .replace("<ДатаСмертКаленд>2021-02-26<", &format!("<ДатаСмертКаленд>{death}<"))
        .replace("<ДатаЗапис>2021-02-27<", &format!("<ДатаЗапис>{act_date}<"));
    assert!(
        text.contains(act) && text.contains(death),
        "the sample changed its shape"
    );
    text
}

fn with_root_namespace(text: &str, namespace: Option<&str>) -> String {
    let declared = "xmlns=\"urn://x-artefacts-zags-fatal/root/112-04/4.0.6\"";
    assert!(text.contains(declared));
    match namespace {
        Some(ns) => text.replace(declared, &format!("xmlns=\"{ns}\"")),
        None => text.replace(declared, ""),
    }
}

fn message_of<'a>(messages: &'a serde_json::Value, file: &str) -> &'a serde_json::Value {
    messages
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["file_name"] == file)
        .unwrap_or_else(|| panic!("no message {file} in {messages}"))
}

fn hostile_records_are_checked(backend: Backend) {
    let env = Env::new(backend);
    env.directory();
    env.ok(&[
        "import",
        fri_samples().join("extract_4.xml").to_str().unwrap(),
        "--json",
    ]);
    let open_measures = "SELECT COUNT(*) FROM measures m JOIN ipras i ON i.id = m.ipra_id \
                         JOIN persons p ON p.id = i.person_id WHERE p.snils = '12033421587' AND m.status = 'open'";
    let open_before = env.scalar(open_measures);
    assert!(open_before > 0);

    let good = |act: &str| about_her(act, SNILS, "1957-05-15", "2021-02-26", "2021-02-27");
    let documents = [
        // Doubtful: wait for a person.
        (
            "future.xml",
            about_her("170219920000200310001", SNILS, "1957-05-15", "2031-03-01", "2031-03-02"),
        ),
        (
            "before-birth.xml",
            about_her("170219920000200310002", SNILS, "1957-05-15", "1950-01-01", "1950-01-02"),
        ),
        (
            "before-register-birth.xml",
            about_her("170219920000200310003", SNILS, "1940-01-01", "1950-01-01", "1950-01-02"),
        ),
        (
            "act-before-death.xml",
            about_her("170219920000200310004", SNILS, "1957-05-15", "2021-02-26", "2021-02-25"),
        ),
        // Refused whole: a layout nobody read.
        (
            "version-9.9.9.xml",
            with_root_namespace(
                &good("170219920000200310005"),
                Some("urn://x-artefacts-zags-fatal/root/112-04/9.9.9"),
            ),
        ),
        (
            "foreign.xml",
            with_root_namespace(&good("170219920000200310006"), Some("http://example.com/fatal")),
        ),
        (
            "no-namespace.xml",
            with_root_namespace(&good("170219920000200310007"), None),
        ),
        // Refused records: the document is read, the record is not.
        (
            "bad-snils.xml",
            about_her(
                "170219920000200310008",
                "120-334-215 88",
                "1957-05-15",
                "2021-02-26",
                "2021-02-27",
            ),
        ),
        (
            "no-such-day.xml",
            about_her("170219920000200310009", SNILS, "1957-05-15", "2021-02-30", "2021-03-01"),
        ),
    ];
    let inbox = env.data_dir().join("exchange/zags/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    for (name, text) in &documents {
        std::fs::write(inbox.join(name), text).unwrap();
    }
    let run = env.ok(&["jobs", "run", "zags-inbox", "--json"]);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["counts"]["processed"], 6, "{run}");
    assert_eq!(run["counts"]["refused"], 3, "{run}");
    assert_eq!(run["counts"]["records_refused"], 2, "{run}");

    // She lives on.
    assert_eq!(env.scalar(open_measures), open_before, "no measure was closed");
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM persons WHERE death_date IS NOT NULL"),
        0
    );
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM death_records WHERE status = 'applied'"),
        0
    );

    // The doubtful ones wait with the reason.
    let pending = env.ok(&["exchange", "deaths", "--status", "pending", "--json"]);
    let note_of = |act: &str| -> (i64, String) {
        let record = pending
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["record_id"] == format!("{act}/0"))
            .unwrap_or_else(|| panic!("{act} does not wait: {pending}"));
        (
            record["id"].as_i64().unwrap(),
            record["note"].as_str().unwrap_or_default().to_string(),
        )
    };
    assert_eq!(pending.as_array().unwrap().len(), 4, "{pending}");
    let (future, note) = note_of("170219920000200310001");
    assert!(
        note.contains(&format!("дата смерти 2031-03-01 позже сегодняшней даты {TODAY}")),
        "{note}"
    );
    let (_, note) = note_of("170219920000200310002");
    assert!(
        note.contains("дата смерти 1950-01-01 раньше даты рождения 1957-05-15 в записи ЗАГС"),
        "{note}"
    );
    assert_eq!(note.matches("раньше даты рождения").count(), 1, "said once: {note}");
    let (_, note) = note_of("170219920000200310003");
    assert!(
        note.contains("дата смерти 1950-01-01 раньше даты рождения гражданина в реестре 1957-05-15"),
        "{note}"
    );
    let (_, note) = note_of("170219920000200310004");
    assert!(
        note.contains("дата записи акта 2021-02-25 раньше даты смерти 2021-02-26"),
        "{note}"
    );

    // Refused documents fail at once, named with their reason; refused records stay on their message.
    let messages = env.ok(&["exchange", "list", "--json"]);
    for (file, reason) in [
        ("version-9.9.9.xml", "«9.9.9»"),
        ("foreign.xml", "http://example.com/fatal"),
        ("no-namespace.xml", "нет пространства имён"),
    ] {
        let m = message_of(&messages, file);
        assert_eq!(m["status"], "failed", "{m}");
        assert_eq!(m["attempts"], 1, "a refusal is not retried: {m}");
        assert!(m["last_error"].as_str().unwrap().contains(reason), "{m}");
        assert!(m["refusals"].as_str().unwrap().contains(reason), "{m}");
    }
    let bad_snils = message_of(&messages, "bad-snils.xml");
    assert_eq!(bad_snils["status"], "processed");
    let refusal = bad_snils["refusals"].as_str().unwrap();
    assert!(
        refusal.contains("Запись 1 (акт 170219920000200310008)") && refusal.contains("120-334-215 88"),
        "{refusal}"
    );
    let id = bad_snils["id"].to_string();
    let shown = env.run_ok(&["exchange", "show", &id]);
    assert!(
        shown.contains("Не принято коннектором") && shown.contains("120-334-215 88"),
        "{shown}"
    );
    let listed = env.run_ok(&["exchange", "list"]);
    assert!(
        listed.contains("не принято: Запись 1 (акт 170219920000200310008)"),
        "{listed}"
    );
    let no_day = message_of(&messages, "no-such-day.xml")["refusals"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        no_day.contains("2021-02-30") && no_day.contains("ДатаСмерт"),
        "{no_day}"
    );

    // Confirming the future death from the queue is refused with the reason; rejecting it works.
    let out = env.run(&["exchange", "decide-death", &future.to_string(), "--snils", SNILS]);
    assert!(!out.status.success());
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.contains("позже сегодняшней даты"), "{error}");
    assert_eq!(env.scalar(open_measures), open_before);
    assert_eq!(
        env.scalar(&format!(
            "SELECT COUNT(*) FROM death_records WHERE id = {future} AND status = 'pending'"
        )),
        1
    );
    env.run_ok(&["exchange", "decide-death", &future.to_string(), "--reject"]);
    // A death recorded by hand is held to the same clock.
    let out = env.run(&["death", SNILS, "--date", "2031-03-01"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("позже сегодняшней даты"));

    // The decisions page shows the doubt and what was refused.
    env.add_user("coord", "coordinator", None, PASSWORD);
    let server = env.serve(&[]);
    let (cookie, _) = login(&server.addr, "coord", PASSWORD);
    let page = http(
        &server.addr,
        "GET",
        "/admin/deaths",
        &[("Cookie", cookie.as_str())],
        None,
    );
    assert_eq!(page.status, 200);
    for text in [
        "раньше даты рождения 1957-05-15 в записи ЗАГС",
        "Не принятые сведения ЗАГС",
        "version-9.9.9.xml",
        "«9.9.9»",
        "120-334-215 88",
    ] {
        assert!(page.body.contains(text), "{text} not on the page");
    }
    drop(server);

    // A good record is still applied.
    std::fs::write(inbox.join("good.xml"), good("170219920000200310010")).unwrap();
    let run = env.ok(&["jobs", "run", "zags-inbox", "--json"]);
    assert_eq!(run["counts"]["processed"], 1, "{run}");
    assert_eq!(env.scalar(open_measures), 0);
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM persons WHERE snils = '12033421587' AND death_date = '2021-02-26'"),
        1
    );
}

#[test]
fn hostile_death_records_are_checked_on_sqlite() {
    hostile_records_are_checked(Backend::Sqlite);
}

#[test]
fn hostile_death_records_are_checked_on_postgres() {
    hostile_records_are_checked(Backend::Postgres);
}
