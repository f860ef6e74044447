//! Measures of every IPRA form land in a section: the 2022 form types its rehabilitation records by
//! `EventTypeCode`, the 2016, 2017 and 2019 forms by `GroupTypeId`/`GroupTypeName`; the category map
//! (a versioned reference list) gives each its section, and a measure of a type the map does not list
//! waits in the queue until a coordinator chooses its section and organisation there.

mod common;

use common::browser::Browser;
use common::{extract_with_target_groups, fri_samples, http, login, urlencode, workspace_root, Backend, Env, BACKENDS};

/// `name -> section` of the `MSE.IPRA.REHAB` measures, and the measures without a section.
fn landing(env: &Env) -> (Vec<String>, Vec<String>) {
    let rehab = env
        .texts("SELECT name || ' -> ' || section FROM measures WHERE category_code = 'MSE.IPRA.REHAB' ORDER BY name");
    let lost = env.texts("SELECT category_code || ' | ' || name FROM measures WHERE section = '' ORDER BY id");
    (rehab, lost)
}

#[test]
fn every_measure_of_every_form_lands_in_a_section() {
    let forms: &[(&str, &str, &[&str])] = &[
        (
            "11350102278_IPRA_2016.xml",
            "IPRA_20160101",
            &["Социокультурная реабилитация -> social-protection"],
        ),
        (
            "response.xml",
            "IPRA_20160101",
            &[
                "Медицинская реабилитация -> health",
                "Психологическая помощь, оказываемая в образовательной организации -> education",
            ],
        ),
        // Both rehabilitation records of the 2017 sample say `IsNeeded=false`: no measure.
        ("mse.ipra.rehab.xml", "IPRA_20170812", &[]),
        (
            "11350102278_IPRA_2019.xml",
            "IPRA_20190101",
            &["Социально-педагогическая реабилитация -> social-protection"],
        ),
        // A 2019-form record of goods bought with maternity capital, named as a TSR item is.
        (
            "extract-20211124093406.xml",
            "IPRA_20190101",
            &["Ванны переносные и складывающиеся -> tsr"],
        ),
        (
            "11350102278_IPRA_20221024.xml",
            "IPRA_20221024",
            &[
                "Медицинская реабилитация -> health",
                "Мероприятия по общему и профессиональному образованию -> education",
                "Мероприятия по профессиональной реабилитации или абилитации -> employment",
                "Мероприятия по социальной реабилитации или абилитации -> social-protection",
            ],
        ),
    ];
    for (sample, version, rehab) in forms {
        let env = Env::new(Backend::Sqlite);
        let path = fri_samples().join(sample);
        env.run_ok(&["import", path.to_str().unwrap(), "--json"]);
        assert_eq!(
            env.text("SELECT MAX(document_version) FROM ipras"),
            *version,
            "{sample} is of the form it is listed with"
        );
        let (got, lost) = landing(&env);
        assert_eq!(got, *rehab, "{sample}: where its rehabilitation measures land");
        assert!(lost.is_empty(), "{sample}: measures without a section: {lost:?}");
        assert!(env.scalar("SELECT COUNT(*) FROM measures") > 5, "{sample} has measures");
    }
}

/// The shipped category map without the rows that name socio-cultural rehabilitation: what a
/// region's map looks like before it lists a type.
fn map_without_socio_cultural(env: &Env) -> std::path::PathBuf {
    let shipped = std::fs::read_to_string(workspace_root().join("reference/measure-categories.csv")).unwrap();
    let kept: Vec<&str> = shipped.lines().filter(|l| !l.contains("Социокультурн")).collect();
    assert!(kept.len() < shipped.lines().count());
    let path = env.data_dir().join("categories-without-socio-cultural.csv");
    std::fs::write(&path, kept.join("\n")).unwrap();
    path
}

fn unlisted_type_waits_for_a_coordinator(backend: Backend) {
    let env = Env::new(backend);
    let password = "пароль-для-теста-1";
    let (orgs, _) = env.five_roles(password);
    let map = map_without_socio_cultural(&env);
    env.run_ok(&[
        "reference",
        "set",
        "measure-categories",
        map.to_str().unwrap(),
        "--note",
        "без социокультурной реабилитации",
    ]);
    let sample = fri_samples().join("11350102278_IPRA_2016.xml");
    env.run_ok(&["import", sample.to_str().unwrap(), "--json"]);
    let (_, lost) = landing(&env);
    assert_eq!(
        lost,
        ["MSE.IPRA.REHAB | Социокультурная реабилитация"],
        "only the unlisted type waits"
    );
    let measure = env.scalar("SELECT id FROM measures WHERE section = ''");
    assert_eq!(
        env.scalar(&format!(
            "SELECT COUNT(*) FROM measures WHERE id = {measure} AND assigned_ogrn IS NULL"
        )),
        1,
        "no routing rule can take a measure without a section"
    );

    // The register refuses an organisation of another section than the one chosen.
    let out = env
        .ipra()
        .args(["measures", "assign", &measure.to_string(), "--ogrn", &orgs["health"]])
        .args(["--section", "social-protection"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("исполняет раздел"), "{said}");
    assert_eq!(
        env.text(&format!("SELECT section FROM measures WHERE id = {measure}")),
        ""
    );

    // From the queue page: the coordinator chooses the section and an organisation of it.
    let server = env.serve(&[]);
    let addr = &server.addr;
    let browser = Browser::start();
    browser.login(addr, "coord", password);
    browser.goto(&format!("http://{addr}/dashboard#queue"));
    let row = format!("#queue-table tr[data-measure=\"{measure}\"]");
    browser.find(&row);
    assert!(
        browser.text(&row).contains("Раздел не определён"),
        "{}",
        browser.text(&row)
    );
    browser.select(&format!("#section-{measure}"), "social-protection");
    browser.select(&format!("#assign-{measure}"), &orgs["social-protection"]);
    browser.fill(&format!("#note-{measure}"), "тип мероприятия формы 2016 года");
    browser.click(&format!("{row} button[type=submit]"));
    browser.wait_url("assigned=");
    assert!(!browser.has(&row), "the measure left the queue");
    browser.screenshot(&format!("forms-queue-section-{}", backend.name()));
    assert_eq!(
        env.text(&format!(
            "SELECT section || ' ' || assigned_ogrn FROM measures WHERE id = {measure}"
        )),
        format!("social-protection {}", orgs["social-protection"])
    );
    assert_eq!(
        env.scalar(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'measure.section' AND subject = 'measure:{measure}'"
        )),
        1,
        "the chosen section is in the audit log"
    );
    // Once it has a section the section is kept: choosing another is refused.
    let out = env
        .ipra()
        .args(["measures", "assign", &measure.to_string(), "--ogrn", &orgs["health"]])
        .args(["--section", "health"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("уже определён"));
}

#[test]
fn unlisted_type_waits_for_a_coordinator_on_each_engine() {
    for backend in BACKENDS {
        unlisted_type_waits_for_a_coordinator(backend);
    }
}

fn target_groups_are_read_shown_filtered_and_counted(backend: Backend) {
    let env = Env::new(backend);
    env.run_ok(&["demo", "--count", "6"]);
    let path = extract_with_target_groups(&env.data_dir());
    env.run_ok(&["import", path.to_str().unwrap(), "--json"]);
    let ipra = env.scalar("SELECT id FROM ipras WHERE target_groups <> ''");
    assert_eq!(
        env.text(&format!("SELECT target_groups FROM ipras WHERE id = {ipra}")),
        ";ЦРГ 3;ЦРГ 12;"
    );
    let all = env.scalar("SELECT COUNT(*) FROM ipras");

    // Statistics: the index counts what the database counts, and each group and early help once.
    let verify = env.ipra().args(["stats", "--verify"]).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
    let figures = env.ok(&["stats", "--figures"]);
    let groups = &figures["charts"]["by_target_group"];
    assert_eq!(groups.as_array().map(Vec::len), Some(2), "{groups}");
    assert_eq!(groups[0]["key"], "ЦРГ 3", "numbers in their order: {groups}");
    assert_eq!(groups[1]["key"], "ЦРГ 12");
    assert_eq!(groups[0]["extracts"], 1);
    assert_eq!(groups[0]["persons"], 1);
    assert_eq!(figures["charts"]["early_help"]["extracts"], 1, "{figures}");
    let text = env.run_ok(&["stats"]);
    assert!(text.contains("ЦРГ 12 — Нарушение функций слуха"), "{text}");
    assert!(text.contains("Нуждаются в ранней помощи"), "{text}");

    // The card, the register's filter and column, the statistics page.
    let password = "пароль-для-теста-2";
    env.add_user("coord", "coordinator", None, password);
    let server = env.serve(&[]);
    let addr = &server.addr;
    let (cookie, _) = login(addr, "coord", password);
    let get = |path: &str| {
        let r = http(addr, "GET", path, &[("Cookie", &cookie)], None);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        r
    };
    let card = get(&format!("/ipras/{ipra}")).body;
    assert!(
        card.contains("ЦРГ 3 — Нарушение функций опорно-двигательного аппарата; ЦРГ 12 — Нарушение функций слуха"),
        "the card names both groups"
    );
    assert!(card.contains("нуждается в ранней помощи"));
    let total = |query: &str| get(&format!("/api/v1/ipras?{query}")).json()["total"].as_i64().unwrap();
    assert_eq!(total(""), all);
    assert_eq!(total(&format!("target_group={}", urlencode("ЦРГ 12"))), 1);
    assert_eq!(
        total(&format!("target_group={}", urlencode("ЦРГ 1"))),
        0,
        "a code, not its beginning"
    );
    assert_eq!(total("early_help=1"), 1);
    assert_eq!(total("early_help=1&kind=adult"), total("kind=adult&early_help=1"));
    let register = get(&format!("/?target_group={}&early_help=1", urlencode("ЦРГ 3"))).body;
    assert!(
        register.contains(r#"<option value="ЦРГ 3" selected>ЦРГ 3 — Нарушение"#),
        "the filter keeps its choice"
    );
    assert!(register.contains(r#"id="f-early_help" name="early_help" type="checkbox" value="1" checked"#));
    let stats = get("/stats").body;
    assert!(stats.contains(r#"id="groups-table""#) && stats.contains("ЦРГ 12 — Нарушение функций слуха"));
    let csv = get("/stats/export?data=groups&format=csv").body;
    assert!(csv.contains("Нуждаются в ранней помощи"), "{csv}");
}

#[test]
fn target_groups_and_early_help_on_each_engine() {
    for backend in BACKENDS {
        target_groups_are_read_shown_filtered_and_counted(backend);
    }
}
