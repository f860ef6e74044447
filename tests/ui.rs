//! Pages end to end in a real browser (headless Chromium through `common::browser`): login and
//! logout, the way back to the page asked for, the menu each role sees, on SQLite and PostgreSQL.

mod common;

use common::browser::Browser;
use common::{fri_samples, Env, BACKENDS};

#[test]
fn logs_in_returns_to_the_page_asked_for_and_logs_out() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let (code, _) = env.run_json(&[
            "import",
            fri_samples().join("extract_4.xml").to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(code, 0);
        env.add_user("coordinator", "coordinator", None, "correct horse battery");
        let server = env.serve(&[]);
        let addr = server.addr.as_str();
        let browser = Browser::start();

        // A page asked for without a session leads to the login form, and back after it.
        browser.goto(&format!("http://{addr}/ipras/1"));
        assert!(browser.url().contains("/login?next="), "{}", browser.url());
        browser.fill("#login", "coordinator");
        browser.fill("#password", "wrong password");
        browser.click("form.login button[type=submit]");
        browser.find("[role=alert]");
        let error = browser.text("[role=alert]").to_lowercase();
        assert!(error.contains("неверный логин или пароль"), "{error}");
        browser.screenshot(&format!("login-error-{}", backend.name()));
        browser.fill("#password", "correct horse battery");
        browser.click("form.login button[type=submit]");
        browser.find("form.account");
        assert!(browser.url().ends_with("/ipras/1"), "{}", browser.url());
        assert!(browser.text("h1").starts_with("ИПРА №"));
        browser.screenshot(&format!("card-{}", backend.name()));

        // The coordinator's menu.
        let menu = browser.text("nav.main");
        for entry in [
            "Реестр выписок",
            "Исполнение",
            "Статистика",
            "Контроль сроков",
            "Администрирование",
        ] {
            assert!(menu.contains(entry), "{entry} in {menu}");
        }

        browser.click("form.account button[type=submit]");
        browser.find("form.login");
        browser.goto(&format!("http://{addr}/"));
        assert!(browser.url().contains("/login"), "logged out: {}", browser.url());
    }
}
