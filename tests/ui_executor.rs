//! The executor's own pages in a real browser (headless Chromium), on SQLite and PostgreSQL: the
//! organisation's profile, the choice of organisation for a user of several and the switch, and the
//! upload of extract files by a coordinator through the same pipeline as `ipra import`.

mod common;

use common::browser::Browser;
use common::{fri_samples, http, login, Backend, Env, BACKENDS};

const PASSWORD: &str = "пароль для проверки страниц";

/// IPRAs the register shows a user of `ogrn`: those with a measure assigned to it.
fn ipras_of(env: &Env, ogrn: &str) -> i64 {
    env.scalar(&format!(
        "SELECT COUNT(DISTINCT ipra_id) FROM measures WHERE assigned_ogrn = '{ogrn}'"
    ))
}

/// A form posted as a page posts it, with the session's cookie.
fn post_form(addr: &str, cookie: &str, path: &str, body: &str) -> common::Response {
    http(
        addr,
        "POST",
        path,
        &[
            ("Cookie", cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(body),
    )
}

fn register_total(browser: &Browser) -> i64 {
    browser
        .script("return document.querySelector('#reg-total').dataset.total;")
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("the register's total")
}

fn executor_pages(backend: Backend) {
    let env = Env::new(backend);
    let orgs = env.directory();
    env.run_ok(&["demo", "--count", "12"]);
    // The directory's health and social protection executors take the measures of the demo's IPRAs.
    let (health, social) = (orgs["health"].clone(), orgs["social-protection"].clone());
    env.execute(&format!(
        "UPDATE measures SET assigned_ogrn = '{health}' WHERE section = 'health'"
    ));
    env.execute(&format!(
        "UPDATE measures SET assigned_ogrn = '{social}' WHERE section = 'social-protection' AND ipra_id % 2 = 0"
    ));
    assert_ne!(ipras_of(&env, &health), ipras_of(&env, &social));
    env.add_user("clerk", "executor", Some(&health), PASSWORD);
    env.add_user("coord", "coordinator", None, PASSWORD);
    let server = env.serve(&[]);
    let addr = server.addr.as_str();

    // The profile: what the directory decides is shown, the contacts are the organisation's own.
    let browser = Browser::start();
    browser.login(addr, "clerk", PASSWORD);
    assert!(
        browser.url().ends_with('/'),
        "one organisation: no choice to make ({})",
        browser.url()
    );
    assert!(!browser.has(".switch-org"));
    browser.goto(&format!("http://{addr}/organisation"));
    assert!(browser.text("#org-profile").contains(&health));
    browser.fill("#phone", "позвоните мне");
    browser.fill("#email", "нет-почты");
    browser.click("form.org-contacts button[type=submit]");
    browser.find("#phone-error");
    assert!(browser.text("#phone-error").contains("Телефон"));
    assert!(browser.text("#email-error").contains("Электронная почта"));
    browser.fill("#contact_name", "Иванова Мария Петровна");
    browser.fill("#phone", "+7 (843) 555-12-34");
    browser.fill("#email", "ipra@hospital.example");
    browser.submit("form.org-contacts button[type=submit]");
    assert!(browser.text("p.notice").contains("сохранены"));
    browser.screenshot(&format!("executor-profile-{}", backend.name()));
    assert_eq!(
        env.text(&format!(
            "SELECT contact_name || ' | ' || phone || ' | ' || email FROM organisations WHERE ogrn = '{health}'"
        )),
        "Иванова Мария Петровна | +7 (843) 555-12-34 | ipra@hospital.example"
    );
    assert_eq!(
        env.scalar(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'organisation.profile' AND subject = 'organisation:{health}'"
        )),
        1
    );
    // The name, OGRN and section are the ministry's: a forged field changes nothing.
    let (cookie, csrf) = login(addr, "clerk", PASSWORD);
    let forged = post_form(
        addr,
        &cookie,
        "/organisation",
        &format!("csrf={csrf}&contact_name=X&phone=&email=&name=Другое&department=tsr"),
    );
    assert_eq!(forged.status, 303, "{}", forged.body);
    assert_eq!(
        env.text(&format!(
            "SELECT name || ' ' || department FROM organisations WHERE ogrn = '{health}'"
        )),
        "Исполнитель health health"
    );
    // Not a coordinator's page (the directory is theirs, under /admin).
    let (coord_cookie, _) = login(addr, "coord", PASSWORD);
    assert_eq!(
        http(addr, "GET", "/organisation", &[("Cookie", &coord_cookie)], None).status,
        403
    );

    // A user of two organisations chooses at login and can switch; each sees only its own.
    env.run_ok(&["users", "organisations", "clerk", &social]);
    let refused = env
        .ipra()
        .args(["users", "organisations", "clerk", "1027700132195"])
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "an organisation outside the directory is refused"
    );
    let two = Browser::start();
    two.login(addr, "clerk", PASSWORD);
    assert!(two.url().contains("/organisation/choose"), "{}", two.url());
    two.click(&format!("#org-choice button[data-ogrn=\"{health}\"]"));
    two.wait_url("/");
    two.goto(&format!("http://{addr}/"));
    assert_eq!(register_total(&two), ipras_of(&env, &health));
    assert!(two.has(".switch-org"));
    two.click(".switch-org");
    two.wait_url("/organisation/choose");
    two.screenshot(&format!("executor-choose-{}", backend.name()));
    two.click(&format!("#org-choice button[data-ogrn=\"{social}\"]"));
    two.wait_url("/");
    two.goto(&format!("http://{addr}/"));
    assert_eq!(
        register_total(&two),
        ipras_of(&env, &social),
        "the other organisation's IPRAs"
    );
    assert!(two.text("header").contains(&social));
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'session.organisation'"),
        2,
        "each choice is in the audit log"
    );
    // An organisation the user does not belong to cannot be chosen.
    let (cookie, csrf) = login(addr, "clerk", PASSWORD);
    let stranger = post_form(
        addr,
        &cookie,
        "/organisation/choose",
        &format!("csrf={csrf}&ogrn={}&next=/", orgs["tsr"]),
    );
    assert_eq!(stranger.status, 403);

    // Upload: a good extract and a bad one in one go, each with its result; an executor may not.
    let before = env.scalar("SELECT COUNT(*) FROM ipras");
    let dir = env.dir.path().join("to-upload");
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("extract_4.xml");
    std::fs::copy(fri_samples().join("extract_4.xml"), &good).unwrap();
    let bad = dir.join("extract_1.xml");
    std::fs::copy(fri_samples().join("extract_1.xml"), &bad).unwrap();
    let coordinator = Browser::start();
    coordinator.login(addr, "coord", PASSWORD);
    coordinator.goto(&format!("http://{addr}/import"));
    coordinator.attach("#files", &[&good, &bad]);
    coordinator.click("#upload-submit");
    coordinator.find("#upload-result");
    coordinator.screenshot(&format!("upload-result-{}", backend.name()));
    let good_row = coordinator.text("#upload-files tr[data-file=\"extract_4.xml\"]");
    assert!(good_row.contains("загружено ИПРА: 1"), "{good_row}");
    let bad_row = coordinator.text("#upload-files tr[data-file=\"extract_1.xml\"]");
    assert!(bad_row.contains("СНИЛС"), "the rejection names the field: {bad_row}");
    assert!(coordinator.text("#upload-totals").contains("Отклонено: 1"));
    assert_eq!(env.scalar("SELECT COUNT(*) FROM ipras"), before + 1);
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM import_runs WHERE origin = 'upload'"),
        1,
        "the run is recorded like any import"
    );
    assert!(
        std::fs::read_dir(env.data_dir().join("uploads"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "the uploaded files do not stay"
    );
    let (clerk_cookie, _) = login(addr, "clerk", PASSWORD);
    assert_eq!(
        http(addr, "GET", "/import", &[("Cookie", &clerk_cookie)], None).status,
        403
    );
}

#[test]
fn executor_profile_organisation_choice_and_upload_on_each_engine() {
    for backend in BACKENDS {
        executor_pages(backend);
    }
}
