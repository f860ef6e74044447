//! The register of social-service recipients (442-ФЗ), end to end through the real binary on SQLite and
//! PostgreSQL: FRI samples with social-protection measures imported (the social-protection plugin registers
//! their persons); the API list with each filter and its keyset pages returns exactly the persons a direct SQL
//! count finds; who sees what (coordinator, the social-protection executor, another department's executor, a
//! bureau); every read logged; the CSV export; the `aisson-recipients` job (off by default, a dry run that sends
//! nothing, packages valid against the connector's XSD, a rerun that sends nothing new, a new recipient in the
//! next package); and the page `/recipients` in headless Chromium (filters, pages, the send button).

mod common;

use common::browser::Browser;
use common::{fri_samples, http, login, ogrn, workspace_root, Backend, Env, BACKENDS};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const PASSWORD: &str = "Пароль-для-теста-1";
const JOB: &str = "aisson-recipients";

fn xmllint(document: &Path) {
    common::assert_valid_xml(
        document,
        &workspace_root().join("plugins/aisson/schemas/recipients-1.0.xsd"),
    );
}

fn outbox(env: &Env) -> PathBuf {
    env.data_dir().join("exchange/aisson/outbox")
}

fn files(dir: &Path) -> Vec<String> {
    let mut names = common::file_names(dir);
    names.retain(|n| n.starts_with("recipients-"));
    names
}

fn add_bureau(env: &Env, login: &str) {
    use std::io::Write;
    let mut child = env
        .ipra()
        .args([
            "users",
            "add",
            login,
            "--name",
            login,
            "--role",
            "bureau",
            "--issuer",
            "Бюро медико-социальной экспертизы",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ipra");
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A register with the FRI samples that carry social-protection measures (one person's IPRA superseded by a
/// later one), a second social-protection organisation that holds one recipient's measures, one recipient added
/// a month before, one who died; users of each role. Returns the directory and the second organisation.
fn setup(backend: Backend) -> (Env, std::collections::BTreeMap<&'static str, String>, String) {
    let env = Env::new(backend);
    let orgs = env.directory();
    for sample in [
        "extract_4.xml",
        "mse.ipra.rehab.xml",
        "extract-20211124093406.xml",
        "11350102278_IPRA_2019.xml",
        "11350102278_IPRA_20221024.xml",
    ] {
        let (code, out) = env.run_json(&["import", fri_samples().join(sample).to_str().unwrap(), "--json"]);
        assert_eq!(code, 0, "{sample}: {out}");
    }
    env.run_ok(&["demo", "--count", "12"]);
    // One person's IPRA superseded by a later one.
    let (earlier, later) = env.superseding_pair();
    for file in [earlier, later] {
        env.ok(&["import", file.to_str().unwrap(), "--json"]);
    }
    let n = env.scalar("SELECT COUNT(*) FROM social_service_recipients");
    assert!(n >= 4, "the samples register recipients: {n}");
    let second = ogrn(102_770_013_288);
    env.run_ok(&[
        "orgs",
        "add",
        "--ogrn",
        &second,
        "--name",
        "Комплексный центр социального обслуживания",
        "--department",
        "social-protection",
    ]);
    // The second organisation serves the newest recipient's social-protection measures.
    let moved = env.scalar("SELECT MAX(person_id) FROM social_service_recipients");
    env.execute(&format!(
        "UPDATE measures SET assigned_ogrn = '{second}' WHERE section = 'social-protection' \
         AND ipra_id IN (SELECT id FROM ipras WHERE person_id = {moved})"
    ));
    let first = env.scalar("SELECT MIN(id) FROM social_service_recipients");
    env.execute(&format!(
        "UPDATE social_service_recipients SET added_at = '2026-10-05T09:00:00+03:00' WHERE id = {first}"
    ));
    let dead = env.scalar(&format!(
        "SELECT MIN(r.person_id) FROM social_service_recipients r JOIN ipras i ON i.id = r.ipra_id \
         WHERE i.status = 'active' AND r.id <> {first} AND r.person_id <> {moved}"
    ));
    env.execute(&format!(
        "UPDATE persons SET death_date = '2026-11-01' WHERE id = {dead}"
    ));
    env.add_user("coord", "coordinator", None, PASSWORD);
    env.add_user("social", "executor", Some(&orgs["social-protection"]), PASSWORD);
    env.add_user("social2", "executor", Some(&second), PASSWORD);
    env.add_user("health", "executor", Some(&orgs["health"]), PASSWORD);
    add_bureau(&env, "bureau");
    (env, orgs, second)
}

fn persons_of(env: &Env, where_sql: &str) -> BTreeSet<i64> {
    env.ids(&format!(
        "SELECT r.person_id FROM social_service_recipients r JOIN persons p ON p.id = r.person_id \
         LEFT JOIN ipras i ON i.id = r.ipra_id WHERE {where_sql}"
    ))
    .into_iter()
    .collect()
}

/// Every page of the list for `query` (two rows a page): the persons in order and the pages read.
fn all_pages(addr: &str, cookie: &str, query: &str) -> (Vec<i64>, Vec<Value>, usize) {
    pages_of(addr, cookie, query, 2)
}

/// The first `pages` pages of the list for `query`, a row a page: the persons.
fn first_pages(addr: &str, cookie: &str, query: &str, pages: usize) -> Vec<i64> {
    let mut persons = Vec::new();
    let mut after = String::new();
    for _ in 0..pages {
        let path = format!("/api/v1/social-service-recipients?per_page=1&{query}{after}");
        let page = http(addr, "GET", &path, &[("Cookie", cookie)], None).json();
        persons.extend(
            page["items"]
                .as_array()
                .unwrap_or_else(|| panic!("{path}: {page}"))
                .iter()
                .map(|i| i["person_id"].as_i64().unwrap()),
        );
        after = format!(
            "&after={}",
            common::urlencode(page["next"].as_str().expect("a next page"))
        );
    }
    persons
}

/// Every page of the list for `query`, `per_page` rows a page.
fn pages_of(addr: &str, cookie: &str, query: &str, per_page: usize) -> (Vec<i64>, Vec<Value>, usize) {
    let mut persons = Vec::new();
    let mut items = Vec::new();
    let mut pages = 0;
    let mut after = String::new();
    loop {
        let path = format!("/api/v1/social-service-recipients?per_page={per_page}&{query}{after}");
        let r = http(addr, "GET", &path, &[("Cookie", cookie)], None);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let page = r.json();
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            persons.push(item["person_id"].as_i64().unwrap());
            items.push(item.clone());
        }
        match page["next"].as_str() {
            Some(next) => after = format!("&after={}", common::urlencode(next)),
            None => break,
        }
        assert!(pages < 100, "paging ends: {path}");
    }
    (persons, items, pages)
}

fn set(v: &[i64]) -> BTreeSet<i64> {
    v.iter().copied().collect()
}

fn register_api(backend: Backend) {
    let (env, orgs, second) = setup(backend);
    let server = env.serve(&[]);
    let addr = server.addr.as_str();
    let coord = login(addr, "coord", PASSWORD).0;
    let all = persons_of(&env, "1 = 1");

    // Everything, newest first, two a page: every recipient once, in the order of the day added and the id.
    let (persons, items, pages) = all_pages(addr, &coord, "");
    assert_eq!(set(&persons), all);
    assert_eq!(persons.len(), all.len(), "no recipient twice");
    assert!(pages >= 2, "{pages}");
    let order: Vec<i64> = env.ids("SELECT person_id FROM social_service_recipients ORDER BY added_at DESC, id DESC");
    assert_eq!(persons, order);
    // SNILS masked in the list.
    for item in &items {
        assert!(item["snils"].as_str().unwrap().starts_with("***-***-"), "{item}");
    }
    // By name.
    let (by_name, _, _) = all_pages(addr, &coord, "sort=name");
    let names: Vec<i64> = env.ids(
        "SELECT p.id FROM social_service_recipients r JOIN persons p ON p.id = r.person_id ORDER BY p.search_name, p.id",
    );
    assert_eq!(by_name, names);

    // Each filter returns exactly the persons SQL finds.
    let surname = env.text(
        "SELECT p.search_name FROM persons p WHERE p.id = (SELECT MIN(person_id) FROM social_service_recipients)",
    );
    let prefix: String = surname.chars().take(3).collect();
    let snils =
        env.text("SELECT p.snils FROM persons p WHERE p.id = (SELECT MAX(person_id) FROM social_service_recipients)");
    let number =
        env.text("SELECT i.number FROM ipras i WHERE i.id = (SELECT MAX(ipra_id) FROM social_service_recipients)");
    let territory = env.text(
        "SELECT MIN(p.territory_code) FROM persons p JOIN social_service_recipients r ON r.person_id = p.id WHERE p.territory_code IS NOT NULL",
    );
    let cases: Vec<(String, String)> = vec![
        (
            format!("q={}", common::urlencode(&prefix.to_lowercase())),
            format!("p.search_name LIKE '{prefix}%'"),
        ),
        (
            format!(
                "q={}",
                common::urlencode(&format!(
                    "{}-{}-{} {}",
                    &snils[0..3],
                    &snils[3..6],
                    &snils[6..9],
                    &snils[9..]
                ))
            ),
            format!("p.snils = '{snils}'"),
        ),
        (
            format!("q={}", common::urlencode(&number[..number.len() - 1])),
            format!(
                "r.person_id IN (SELECT person_id FROM ipras WHERE number LIKE '{}%')",
                &number[..number.len() - 1]
            ),
        ),
        (
            format!("territory={}", common::urlencode(&territory)),
            format!("p.territory_code = '{territory}'"),
        ),
        ("added_to=2026-10-31".into(), "r.added_at < '2026-11-01'".into()),
        ("added_from=2026-11-01".into(), "r.added_at >= '2026-11-01'".into()),
        (
            "added_from=2026-10-01&added_to=2026-10-05".into(),
            "r.added_at >= '2026-10-01' AND r.added_at < '2026-10-06'".into(),
        ),
        (
            "state=current".into(),
            "i.status = 'active' AND p.death_date IS NULL".into(),
        ),
        (
            "state=superseded".into(),
            "i.status = 'superseded' AND p.death_date IS NULL".into(),
        ),
        ("state=deceased".into(), "p.death_date IS NOT NULL".into()),
        ("sent=no".into(), "r.sent_at IS NULL".into()),
        ("sent=yes".into(), "r.sent_at IS NOT NULL".into()),
    ];
    for (query, sql) in &cases {
        let expected = persons_of(&env, sql);
        let (found, _, _) = all_pages(addr, &coord, query);
        assert_eq!(set(&found), expected, "{}: {query}", backend.name());
        assert_eq!(found.len(), expected.len(), "{query}");
        // By name too: each filter's walk of the names (the deceased walk their own index).
        let (by_name, _, _) = all_pages(addr, &coord, &format!("{query}&sort=name"));
        let in_order = env.ids(&format!(
            "SELECT r.person_id FROM social_service_recipients r JOIN persons p ON p.id = r.person_id \
             LEFT JOIN ipras i ON i.id = r.ipra_id WHERE {sql} ORDER BY p.search_name, p.id"
        ));
        assert_eq!(by_name, in_order, "{}: {query} by name", backend.name());
    }
    for (query, min) in [
        ("state=superseded", 1),
        ("state=deceased", 1),
        ("added_to=2026-10-31", 1),
    ] {
        assert!(persons_of(&env, "1 = 1").len() > min, "{query}");
        let (found, _, _) = all_pages(addr, &coord, query);
        assert!(found.len() >= min, "{query} finds someone: {found:?}");
    }
    // The total, exact at this size.
    let page = http(
        addr,
        "GET",
        "/api/v1/social-service-recipients",
        &[("Cookie", coord.as_str())],
        None,
    )
    .json();
    assert_eq!(page["total"].as_u64().unwrap() as usize, all.len());
    assert_eq!(page["total_exact"], true);
    // A bad filter: a Russian refusal naming the field.
    let bad = http(
        addr,
        "GET",
        "/api/v1/social-service-recipients?added_from=2025-02-30",
        &[("Cookie", coord.as_str())],
        None,
    );
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("added_from"), "{}", bad.body);

    // Scope: the social-protection executor sees the recipients of its measures, the second organisation its
    // one, another department's executor none, a bureau is refused.
    let social = login(addr, "social", PASSWORD).0;
    let in_scope = format!(
        "r.person_id IN (SELECT si.person_id FROM measures sm JOIN ipras si ON si.id = sm.ipra_id \
         WHERE sm.section = 'social-protection' AND sm.assigned_ogrn = '{}')",
        orgs["social-protection"]
    );
    let expected = persons_of(&env, &in_scope);
    let (found, items, _) = all_pages(addr, &social, "");
    assert_eq!(set(&found), expected);
    // A small organisation's pages start from its own persons, and keep the list's order.
    let keys: Vec<(String, i64)> = items
        .iter()
        .map(|i| (i["added_at"].as_str().unwrap().to_string(), i["id"].as_i64().unwrap()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(keys, sorted, "newest first");
    let (by_name, _, _) = all_pages(addr, &social, "sort=name");
    assert_eq!(set(&by_name), expected);
    // A quick search by a name's beginning within the organisation's scope (the search's own index leads,
    // each person found checked against the organisation's scope): exactly the scope's named persons.
    let named = env.text(&format!(
        "SELECT MIN(p.search_name) FROM social_service_recipients r JOIN persons p ON p.id = r.person_id WHERE {in_scope}"
    ));
    let named: String = named.chars().take(2).collect();
    let (found_named, _, _) = all_pages(
        addr,
        &social,
        &format!("q={}", common::urlencode(&named.to_lowercase())),
    );
    let expected_named = persons_of(&env, &format!("{in_scope} AND p.search_name LIKE '{named}%'"));
    assert!(!expected_named.is_empty());
    assert_eq!(set(&found_named), expected_named);
    assert!(!expected.is_empty() && expected.len() < all.len(), "{expected:?}");
    let social2 = login(addr, "social2", PASSWORD).0;
    let (found2, _, _) = all_pages(addr, &social2, "");
    let moved = env.scalar("SELECT MAX(person_id) FROM social_service_recipients");
    assert_eq!(found2, vec![moved]);
    let _ = second;
    let health = login(addr, "health", PASSWORD).0;
    let (none, _, _) = all_pages(addr, &health, "");
    assert!(none.is_empty(), "{none:?}");
    // Its quick search starts from its (no) persons and finds none either.
    let (none, _, _) = all_pages(
        addr,
        &health,
        &format!("q={}", common::urlencode(&named.to_lowercase())),
    );
    assert!(none.is_empty(), "{none:?}");
    let id = env.scalar("SELECT MIN(id) FROM social_service_recipients");
    let r = http(
        addr,
        "GET",
        &format!("/api/v1/social-service-recipients/{id}"),
        &[("Cookie", health.as_str())],
        None,
    );
    assert_eq!(r.status, 404);
    let bureau = login(addr, "bureau", PASSWORD).0;
    let r = http(
        addr,
        "GET",
        "/api/v1/social-service-recipients",
        &[("Cookie", bureau.as_str())],
        None,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    // One recipient: the whole SNILS, the read logged.
    let r = http(
        addr,
        "GET",
        &format!("/api/v1/social-service-recipients/{id}"),
        &[("Cookie", coord.as_str())],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let one = r.json();
    assert_eq!(one["snils"].as_str().unwrap().len(), 11);
    assert_eq!(
        env.scalar(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'recipient.read' AND subject = 'person:{}' AND actor = 'coordinator:coord'",
            one["person_id"]
        )),
        1
    );
    // Every list read is logged with the persons it showed.
    let reads =
        env.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'recipients.read' AND actor = 'coordinator:coord'");
    assert!(reads >= 20, "{reads}");
    let detail = env.text(
        "SELECT detail FROM audit_log WHERE action = 'recipients.read' AND actor = 'executor:social2' ORDER BY id DESC LIMIT 1",
    );
    assert!(detail.contains(&format!("[{moved}]")), "{detail}");

    // The CSV export: the whole filtered register, SNILS masked, logged.
    let csv = http(
        addr,
        "GET",
        "/api/v1/social-service-recipients/export?format=csv",
        &[("Cookie", coord.as_str())],
        None,
    );
    assert_eq!(csv.status, 200, "{}", csv.body);
    let lines: Vec<&str> = csv.body.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines[0].contains("СНИЛС") && lines[0].contains("ФИО"), "{}", lines[0]);
    assert_eq!(lines.len(), all.len() + 1, "{}", csv.body);
    assert!(!csv.body.contains(&snils), "SNILS masked");
    assert!(csv.body.contains(&format!("***-***-{} {}", &snils[6..9], &snils[9..])));
    let csv = http(
        addr,
        "GET",
        "/api/v1/social-service-recipients/export?format=csv&state=deceased",
        &[("Cookie", coord.as_str())],
        None,
    );
    assert_eq!(
        csv.body.lines().filter(|l| !l.trim().is_empty()).count(),
        2,
        "{}",
        csv.body
    );
    assert!(csv.body.contains("получатель умер"));
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'recipients.export' AND actor = 'coordinator:coord'"),
        2
    );
    broad_names(&env, addr, &coord, &social, &orgs["social-protection"]);
    drop(server);
}

/// More recipients than a count looks at one by one (1,000): a broad name's beginning (borne by
/// 10,000 persons and more), which the list finds by walking its order rather than the name's index,
/// a narrower one still found through its index, and an organisation large enough to be read in the
/// list's order, each recipient looked up among its persons. 11,600 persons are added with
/// recipients: 10,200 «ШИРОКОВ…» on days among the register's, every other one among the
/// social-protection organisation's persons; after them, the newest, 1,400 «УЗКИЙ…» (200 of them the
/// organisation's), through which a page of one row walks before it finds its name.
fn broad_names(env: &Env, addr: &str, coord: &str, social: &str, ogrn: &str) {
    let numbers = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 11600)";
    env.execute(&format!(
        "{numbers} INSERT INTO persons (snils, surname, given_name, territory_code, created_at, updated_at, search_name) \
         SELECT CAST(90000000000 + x AS TEXT), CASE WHEN x <= 10200 THEN 'Широков' ELSE 'Узкий' END, \
         'Пётр', '45000000', '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z', \
         CASE WHEN x <= 10200 THEN 'ШИРОКОВ ПЁТР ' ELSE 'УЗКИЙ ПЁТР ' END || CAST(x AS TEXT) FROM n"
    ));
    let added = "(SELECT id, CAST(snils AS BIGINT) - 90000000000 AS x FROM persons WHERE snils > '90000000000' AND snils <= '90000011600') n";
    env.execute(&format!(
        "INSERT INTO social_service_recipients (person_id, added_at, source) \
         SELECT id, CASE WHEN x > 10200 THEN '2026-12-01T09:00:00+03:00' WHEN x % 3 = 0 THEN '2026-10-20T09:00:00+03:00' \
         ELSE '2026-11-0' || CAST(1 + x % 9 AS TEXT) || 'T09:00:00+03:00' END, 'social-protection' FROM {added}"
    ));
    env.execute(&format!(
        "INSERT INTO social_protection_persons (ogrn, person_id, measures) \
         SELECT '{ogrn}', id, 1 FROM {added} WHERE x % 2 = 0 AND x <= 10200 OR x > 10200 AND x % 7 = 0"
    ));
    let order_of = |named: &str, scope: &str, by_name: bool| -> Vec<i64> {
        let named = format!("p.search_name LIKE '{named}%'");
        env.ids(&format!(
            "SELECT r.person_id FROM social_service_recipients r JOIN persons p ON p.id = r.person_id WHERE {named}{scope} ORDER BY {}",
            if by_name { "p.search_name, p.id" } else { "r.added_at DESC, r.id DESC" }
        ))
    };
    let order = |scope: &str, by_name: bool| order_of("ШИРОКОВ", scope, by_name);
    let total = |cookie: &str, query: &str| -> (u64, bool) {
        let page = http(
            addr,
            "GET",
            &format!("/api/v1/social-service-recipients?{query}"),
            &[("Cookie", cookie)],
            None,
        )
        .json();
        let total = page["total"].as_u64().unwrap_or_else(|| panic!("{query}: {page}"));
        (total, page["total_exact"].as_bool().unwrap())
    };
    let q = format!("q={}", common::urlencode("широк"));
    // The region: every page of the broad name in the list's order, and by name; the count stops at a
    // thousand and says so; the recipients alone (no condition, or theirs only) are counted to 10,000.
    let (found, _, _) = pages_of(addr, coord, &q, 500);
    assert_eq!(found, order("", false), "the region's broad name by the day added");
    assert_eq!(first_pages(addr, coord, &q, 3), order("", false)[..3], "a row a page");
    let (found, _, _) = pages_of(addr, coord, &format!("{q}&sort=name"), 500);
    assert_eq!(found, order("", true), "the region's broad name by name");
    assert_eq!(total(coord, &q), (1000, false));
    assert!(env.scalar("SELECT COUNT(*) FROM social_service_recipients") > 10_000);
    assert_eq!(total(coord, ""), (10_000, false));
    assert_eq!(total(coord, "sent=no"), (10_000, false));
    assert_eq!(total(coord, "territory=45000000"), (1000, false));
    // A territory of more than a thousand recipients, by name: the names' index walked.
    let (found, _, _) = pages_of(addr, coord, "territory=45000000&sort=name", 500);
    assert_eq!(
        found,
        env.ids(
            "SELECT r.person_id FROM social_service_recipients r JOIN persons p ON p.id = r.person_id \
             WHERE p.territory_code = '45000000' ORDER BY p.search_name, p.id"
        ),
        "a territory by name"
    );
    // A narrower name, more than a thousand recipients but fewer bearers: found through its index.
    let narrow = format!("q={}", common::urlencode("узк"));
    let (found, _, _) = pages_of(addr, coord, &narrow, 500);
    assert_eq!(found, order_of("УЗК", "", false), "a narrower name by the day added");
    assert_eq!(total(coord, &narrow), (1000, false));
    // The organisation: its 5,100 named persons, found as the region's broad name is; the whole list
    // in its order, each recipient looked up among the organisation's persons.
    let own = format!(" AND r.person_id IN (SELECT person_id FROM social_protection_persons WHERE ogrn = '{ogrn}')");
    assert_eq!(
        first_pages(addr, social, &q, 3),
        order(&own, false)[..3],
        "a row a page"
    );
    let (found, _, _) = pages_of(addr, social, &q, 500);
    assert_eq!(
        found,
        order(&own, false),
        "the organisation's broad name by the day added"
    );
    let (found, _, _) = pages_of(addr, social, &format!("{q}&sort=name"), 500);
    assert_eq!(found, order(&own, true), "the organisation's broad name by name");
    assert_eq!(total(social, &q), (1000, false));
    let expected: Vec<i64> = env.ids(&format!(
        "SELECT r.person_id FROM social_service_recipients r WHERE 1 = 1{own} ORDER BY r.added_at DESC, r.id DESC"
    ));
    let (found, _, _) = pages_of(addr, social, "", 500);
    assert_eq!(found, expected, "the organisation's list by the day added");
    assert_eq!(total(social, ""), (1000, false));
    // By name (on SQLite, the persons' names walked, each one's recipient checked against the
    // organisation, its IPRA and its sending in a subquery, the page's recipients joined after).
    let by_name = |extra: &str| {
        env.ids(&format!(
            "SELECT r.person_id FROM social_service_recipients r JOIN persons p ON p.id = r.person_id \
             LEFT JOIN ipras i ON i.id = r.ipra_id WHERE 1 = 1{own}{extra} ORDER BY p.search_name, p.id"
        ))
    };
    let (found, _, _) = pages_of(addr, social, "sort=name", 500);
    assert_eq!(found, by_name(""), "the organisation's list by name");
    let (found, _, _) = pages_of(addr, social, "state=current&sent=no&sort=name", 500);
    // A few among thousands: the walk passes over the rest page after page.
    assert!(!found.is_empty(), "current recipients not sent");
    assert_eq!(
        found,
        by_name(" AND i.status = 'active' AND p.death_date IS NULL AND r.sent_at IS NULL"),
        "the organisation's current recipients not sent, by name"
    );
}

/// The persons of each organisation's social-protection measures the triggers keep, against a direct
/// count from the measures and their IPRAs: `ogrn:person:measures`, sorted.
fn assert_scopes_kept(env: &Env, after: &str) {
    let mut kept = env.texts(
        "SELECT ogrn || ':' || CAST(person_id AS TEXT) || ':' || CAST(measures AS TEXT) || ':' || search_name \
         FROM social_protection_persons",
    );
    let mut direct = env.texts(
        "SELECT m.assigned_ogrn || ':' || CAST(i.person_id AS TEXT) || ':' || CAST(COUNT(*) AS TEXT) || ':' \
         || COALESCE(MIN(p.search_name), '') \
         FROM measures m JOIN ipras i ON i.id = m.ipra_id JOIN persons p ON p.id = i.person_id \
         WHERE m.section = 'social-protection' AND m.assigned_ogrn IS NOT NULL GROUP BY m.assigned_ogrn, i.person_id",
    );
    kept.sort();
    direct.sort();
    assert!(!direct.is_empty());
    assert_eq!(kept, direct, "after {after}");
}

/// An organisation's scope is kept as measures are imported (an IPRA superseded by a later one among
/// them), reassigned to another organisation, left without one, moved to another section and back,
/// and as an IPRA is given to another person; each with the person's name, as it changes.
#[test]
fn each_organisations_persons_are_kept_as_measures_change() {
    for backend in BACKENDS {
        let (env, orgs, second) = setup(backend);
        assert_scopes_kept(&env, "imports and a reassignment");
        let social = "SELECT MIN(id) FROM measures WHERE section = 'social-protection' AND assigned_ogrn IS NOT NULL";
        let one = env.scalar(social);
        env.execute(&format!(
            "UPDATE measures SET assigned_ogrn = '{second}' WHERE id = {one}"
        ));
        assert_scopes_kept(&env, "one measure reassigned");
        env.execute(&format!("UPDATE measures SET assigned_ogrn = NULL WHERE id = {one}"));
        assert_scopes_kept(&env, "a measure left without an organisation");
        env.execute(&format!(
            "UPDATE measures SET assigned_ogrn = '{}' WHERE id = {one}",
            orgs["social-protection"]
        ));
        let other = env.scalar(social);
        env.execute(&format!("UPDATE measures SET section = 'health' WHERE id = {other}"));
        assert_scopes_kept(&env, "a measure moved to another section");
        env.execute(&format!(
            "UPDATE measures SET section = 'social-protection' WHERE id = {other}"
        ));
        assert_scopes_kept(&env, "the measure moved back");
        let ipra = env.scalar("SELECT MIN(ipra_id) FROM measures WHERE section = 'social-protection'");
        let person = env.scalar(&format!("SELECT person_id FROM ipras WHERE id = {ipra}"));
        let stranger = env.scalar(&format!("SELECT MAX(id) FROM persons WHERE id <> {person}"));
        env.execute(&format!("UPDATE ipras SET person_id = {stranger} WHERE id = {ipra}"));
        assert_scopes_kept(&env, "an IPRA given to another person");
        env.execute(&format!(
            "UPDATE persons SET search_name = 'ПЕРЕИМЕНОВАННАЯ АННА' WHERE id = {stranger}"
        ));
        assert_scopes_kept(&env, "the person renamed");
        assert!(
            env.scalar(&format!(
                "SELECT COUNT(*) FROM social_protection_persons WHERE person_id = {stranger} \
                 AND search_name = 'ПЕРЕИМЕНОВАННАЯ АННА'"
            )) >= 1
        );
    }
}

#[test]
fn register_api_on_sqlite() {
    register_api(Backend::Sqlite);
}

#[test]
fn register_api_on_postgres() {
    register_api(Backend::Postgres);
}

fn job_run(env: &Env, dry: bool) -> Value {
    let run = env.ok(&["jobs", if dry { "dry-run" } else { "run" }, JOB, "--json"]);
    assert_eq!(run["status"], "succeeded", "{run}");
    run
}

fn send_job(backend: Backend) {
    let (env, _, _) = setup(backend);
    let all = persons_of(&env, "1 = 1");
    // Off by default.
    let jobs = env.ok(&["jobs", "list", "--json"]);
    let job = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == JOB)
        .unwrap_or_else(|| panic!("{JOB} declared: {jobs}"))
        .clone();
    assert_eq!(job["enabled"], false, "{job}");
    assert_eq!(job["kind"], "recipients-export");
    env.run_ok(&["jobs", "set", JOB, "--enabled", "true", "--settings", r#"{"batch": 2}"#]);

    // The dry run says what would go and moves nothing.
    let dry = job_run(&env, true);
    assert_eq!(dry["counts"]["recipients"], 2, "{dry}");
    assert!(
        dry["report"].as_str().unwrap_or_default().contains("recipients-"),
        "{dry}"
    );
    assert!(files(&outbox(&env)).is_empty());
    assert_eq!(env.scalar("SELECT COUNT(*) FROM recipient_export_cursors"), 0);
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM social_service_recipients WHERE sent_at IS NOT NULL"),
        0
    );
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'recipient.export'"),
        0
    );

    // The run: every recipient once, in packages of two, valid against the connector's schema.
    let run = job_run(&env, false);
    assert_eq!(
        run["counts"]["recipients"].as_u64().unwrap() as usize,
        all.len(),
        "{run}"
    );
    let sent = files(&outbox(&env));
    assert_eq!(sent.len(), all.len().div_ceil(2), "{sent:?}");
    let mut snils_sent = Vec::new();
    for name in &sent {
        let path = outbox(&env).join(name);
        xmllint(&path);
        let text = std::fs::read_to_string(&path).unwrap();
        for part in text.split("<Snils>").skip(1) {
            snils_sent.push(part[..11].to_string());
        }
    }
    let expected: Vec<String> = env
        .texts("SELECT p.snils FROM social_service_recipients r JOIN persons p ON p.id = r.person_id ORDER BY p.snils");
    snils_sent.sort();
    assert_eq!(snils_sent, expected);
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM social_service_recipients WHERE sent_at IS NULL OR sent_document IS NULL"),
        0
    );
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'recipient.export' AND actor = 'exchange:aisson'"),
        all.len() as i64
    );
    // The superseded IPRA's person goes with the IPRA in force.
    let current = env.text(
        "SELECT i.number FROM ipras i WHERE i.status = 'active' AND i.person_id IN \
         (SELECT r.person_id FROM social_service_recipients r JOIN ipras o ON o.id = r.ipra_id WHERE o.status = 'superseded')",
    );
    assert!(
        sent.iter().any(|n| std::fs::read_to_string(outbox(&env).join(n))
            .unwrap()
            .contains(&current)),
        "{current}"
    );

    // Again: nothing new to send.
    let again = job_run(&env, false);
    assert!(
        again["counts"]["recipients"].is_null() || again["counts"]["recipients"] == 0,
        "{again}"
    );
    assert_eq!(files(&outbox(&env)), sent);

    // New recipients and those with a new IPRA go in the next packages, and only they.
    let before = env.scalar("SELECT MAX(id) FROM ipras");
    env.run_ok(&["demo", "--count", "3", "--seed", "11"]);
    let added: Vec<String> = env.texts(&format!(
        "SELECT p.snils FROM social_service_recipients r JOIN persons p ON p.id = r.person_id \
         WHERE r.sent_at IS NULL OR r.person_id IN (SELECT person_id FROM ipras WHERE id > {before}) ORDER BY p.snils"
    ));
    assert!(
        env.scalar("SELECT COUNT(*) FROM social_service_recipients WHERE sent_at IS NULL") > 0,
        "the demo's extracts add recipients"
    );
    let run = job_run(&env, false);
    assert_eq!(
        run["counts"]["recipients"].as_u64().unwrap() as usize,
        added.len(),
        "{run}"
    );
    let newest: Vec<String> = files(&outbox(&env)).into_iter().filter(|f| !sent.contains(f)).collect();
    assert_eq!(newest.len(), added.len().div_ceil(2), "{newest:?}");
    let mut snils_new = Vec::new();
    for name in &newest {
        let path = outbox(&env).join(name);
        xmllint(&path);
        let text = std::fs::read_to_string(&path).unwrap();
        for part in text.split("<Snils>").skip(1) {
            snils_new.push(part[..11].to_string());
        }
    }
    snils_new.sort();
    assert_eq!(snils_new, added);
}

#[test]
fn send_job_on_sqlite() {
    send_job(Backend::Sqlite);
}

#[test]
fn send_job_on_postgres() {
    send_job(Backend::Postgres);
}

#[test]
fn the_page_filters_pages_and_sends() {
    for backend in BACKENDS {
        let (env, _, _) = setup(backend);
        let all = persons_of(&env, "1 = 1");
        let server = env.serve(&[]);
        let addr = server.addr.clone();
        let b = Browser::start();
        b.login(&addr, "coord", PASSWORD);
        b.goto(&format!("http://{addr}/recipients"));
        assert_eq!(b.text("h1"), "Регистр получателей социальных услуг");
        assert!(
            b.text("#rec-total").contains(&all.len().to_string()),
            "{}",
            b.text("#rec-total")
        );
        // The send job is off: said, no button.
        assert!(b.has("#rec-send-off"));
        assert!(!b.has("#rec-send"));
        // A filter: the dead.
        b.select("select[name=state]", "deceased");
        b.submit("#rec-filter button[type=submit]");
        b.wait_url("state=deceased");
        let rows = b.script("return document.querySelectorAll('#rec-table tbody tr[data-id]').length");
        assert_eq!(rows, 1, "{}", b.source());
        assert!(b.text("#rec-table tbody").contains("получатель умер"));
        // Pages of two, «дальше» to the end, every recipient once.
        b.goto(&format!("http://{addr}/recipients?per_page=2"));
        let mut seen = BTreeSet::new();
        for _ in 0..50 {
            let ids = b.script(
                "return Array.from(document.querySelectorAll('#rec-table tbody tr[data-person]')).map(r => Number(r.dataset.person))",
            );
            for id in ids.as_array().unwrap() {
                assert!(seen.insert(id.as_i64().unwrap()), "once: {id}");
            }
            if !b.has("a[rel=next]") {
                break;
            }
            b.click("a[rel=next]");
            b.wait_url("after=");
        }
        assert_eq!(seen, all);
        // A name links to the person's card.
        assert!(b.has("#rec-table tbody a[href^='/ipras/']"));
        // With the job on, a coordinator sends from the page.
        env.run_ok(&["jobs", "set", JOB, "--enabled", "true"]);
        b.goto(&format!("http://{addr}/recipients"));
        assert!(b.has("#rec-send"), "{}", b.source());
        b.click("#rec-send button[name=dry_run][value='0']");
        b.wait_url("notice=");
        assert!(b.text("#rec-notice").contains("выполнено"), "{}", b.text("#rec-notice"));
        assert_eq!(files(&outbox(&env)).len(), 1);
        assert_eq!(
            env.scalar("SELECT COUNT(*) FROM social_service_recipients WHERE sent_at IS NULL"),
            0
        );
        b.goto(&format!("http://{addr}/recipients?sent=no"));
        assert!(b.text("#rec-total").contains('0'), "{}", b.text("#rec-total"));
        // An executor of another department sees no one and no button.
        let b2 = Browser::start();
        b2.login(&addr, "health", PASSWORD);
        b2.goto(&format!("http://{addr}/recipients"));
        assert!(b2.text("#rec-total").contains('0'));
        assert!(!b2.has("#rec-send"));
        drop(server);
    }
}

/// A run killed after writing a package (before it is queued) and one killed after queueing it (before the
/// outbox is sent): the runs after them send every recipient exactly once.
fn killed_runs(backend: Backend) {
    let (env, _, _) = setup(backend);
    env.run_ok(&["jobs", "set", JOB, "--enabled", "true", "--settings", r#"{"batch": 3}"#]);
    for point in ["recipients.written", "recipients.queued"] {
        let out = env
            .ipra()
            .args(["jobs", "run", JOB, "--json"])
            .env("IPRA_CRASH_AT", point)
            .output()
            .expect("ipra");
        assert!(!out.status.success(), "{point}: killed");
        assert!(files(&outbox(&env)).is_empty(), "{point}: nothing sent yet");
    }
    // The first kill queued nothing; the second queued one package with its cursor and marks.
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM exchange_messages WHERE connector = 'aisson' AND kind = 'recipients'"),
        1
    );
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM social_service_recipients WHERE sent_at IS NOT NULL"),
        3
    );
    let run = job_run(&env, false);
    let sent = files(&outbox(&env));
    let mut snils_sent = Vec::new();
    for name in &sent {
        let path = outbox(&env).join(name);
        xmllint(&path);
        let text = std::fs::read_to_string(&path).unwrap();
        for part in text.split("<Snils>").skip(1) {
            snils_sent.push(part[..11].to_string());
        }
    }
    snils_sent.sort();
    // A person changed after the killed run's package (the death recorded in `setup`) goes again, as it
    // stands: every recipient at least once, and no package twice.
    let once: Vec<String> = snils_sent
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let expected: Vec<String> = env
        .texts("SELECT p.snils FROM social_service_recipients r JOIN persons p ON p.id = r.person_id ORDER BY p.snils");
    assert_eq!(once, expected, "every recipient: {run}");
    let twice: Vec<String> = env.texts(
        "SELECT p.snils FROM persons p WHERE p.id IN (SELECT person_id FROM recipient_changes \
         GROUP BY person_id HAVING COUNT(*) > 1) ORDER BY p.snils",
    );
    for pair in snils_sent.windows(2).filter(|w| w[0] == w[1]) {
        assert!(
            twice.contains(&pair[0]),
            "{} sent twice unchanged: {snils_sent:?}",
            pair[0]
        );
    }
    assert!(sent.contains(&"recipients-1-3.xml".to_string()), "{sent:?}");
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM exchange_messages WHERE connector = 'aisson' AND kind = 'recipients'"),
        sent.len() as i64,
        "each package queued once: {sent:?}"
    );
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'recipient.export'"),
        snils_sent.len() as i64
    );
}

#[test]
fn killed_runs_lose_and_repeat_nothing() {
    for backend in BACKENDS {
        killed_runs(backend);
    }
}
