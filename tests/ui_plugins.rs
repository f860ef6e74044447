//! The page «Модули» in a real browser (headless Chromium through `common::browser`): a package
//! uploaded through its form installs a plugin (the notice, the row with its limits), a tampered
//! package is refused with the reason on the page, an upgrade keeps the previous version, «Откатить»
//! brings it back and «Удалить» takes the plugin out; the figures of the calls are below the table.

mod common;
mod plugin_package;

use common::browser::Browser;
use common::{fri_samples, Backend, Env};
use plugin_package::{package, ID};
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery";

/// Waits until the address contains `part` and the page has loaded.
fn wait_loaded(browser: &Browser, part: &str) {
    browser.wait_url(part);
    let deadline = Instant::now() + Duration::from_secs(15);
    while browser.script("return document.readyState").as_str() != Some("complete") {
        assert!(Instant::now() < deadline, "{part} did not finish loading");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn administrator_installs_upgrades_and_rolls_back_through_the_page() {
    let backend = Backend::Sqlite;
    let env = Env::new(backend);
    env.add_user("admin", "administrator", None, PASSWORD);
    env.add_user("audit", "auditor", None, PASSWORD);
    let files = env.dir.path().join("packages");
    std::fs::create_dir_all(&files).unwrap();
    let write = |name: &str, bytes: Vec<u8>| {
        let path = files.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let first = write("death-notices-1.0.0.ipra-plugin", package("1.0.0", |m| m));
    let second = write("death-notices-1.1.0.ipra-plugin", package("1.1.0", |m| m));
    let tampered = write(
        "death-notices-1.2.0.ipra-plugin",
        package("1.2.0", |m| {
            m.lines()
                .map(|l| {
                    if l.starts_with("sha256 = ") {
                        format!("sha256 = \"{}\"", "0".repeat(64))
                    } else {
                        l.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        }),
    );
    let server = env.serve(&[]);
    let addr = server.addr.as_str();
    let b = Browser::start();
    b.login(addr, "admin", PASSWORD);
    let go = |path: &str| b.goto(&format!("http://{addr}{path}"));
    let row = format!("#plugin-{ID}");

    // Install through the form: the notice, the row — disabled, its limits and no previous version.
    go("/admin/plugins");
    assert!(!b.has(&row), "the host has never seen it");
    b.attach("#package", &[&first]);
    b.click("#install");
    wait_loaded(&b, "done=plugin-installed");
    assert!(
        b.text("p.notice[role=status]").contains("Модуль установлен"),
        "{}",
        b.text("main")
    );
    assert!(b.text(&format!("{row} .version")).contains("1.0.0"));
    assert!(b.text(&format!("{row} .state")).contains("выключен"));
    assert_eq!(b.text(&format!("{row} .previous")), "—");
    b.screenshot(&format!("plugins-installed-{}", backend.name()));
    // The limits granted: memory, time and what a failed call does.
    let limits = b.text(&format!("{row} .limits"));
    assert!(
        limits.contains("МиБ") && limits.contains("мс") && limits.contains("при сбое"),
        "{limits}"
    );
    assert_eq!(
        env.scalar(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'plugin.install' AND subject = 'plugin:{ID}' AND actor = 'administrator:admin'"
        )),
        1
    );

    // A tampered package: refused with the reason on the page, nothing changed.
    b.attach("#package", &[&tampered]);
    b.click("#upgrade");
    wait_loaded(&b, "/admin/plugins/upload");
    let alert = b.text(".alert");
    assert_eq!(alert.matches("SHA-256").count(), 1, "the reason, said once: {alert}");
    assert!(alert.contains("Обновление не выполнено"), "{alert}");
    assert!(b.text(&format!("{row} .version")).contains("1.0.0"));
    b.screenshot(&format!("plugins-refused-{}", backend.name()));

    // Upgrade: the new version, the old one kept and offered for rollback.
    go("/admin/plugins");
    b.attach("#package", &[&second]);
    b.click("#upgrade");
    wait_loaded(&b, "done=plugin-upgraded");
    assert!(b.text(&format!("{row} .version")).contains("1.1.0"));
    assert_eq!(b.text(&format!("{row} .previous")), "1.0.0");
    let rollback = format!(r#"form[action="/admin/plugins/{ID}/rollback"] button"#);
    assert!(b.text(&rollback).contains("Откатить к версии 1.0.0"));

    // Rollback, confirmed.
    b.click(&rollback);
    b.accept_alert();
    wait_loaded(&b, "done=plugin-rolled-back");
    assert!(b.text("p.notice[role=status]").contains("предыдущей версии"));
    assert!(b.text(&format!("{row} .version")).contains("1.0.0"));
    assert_eq!(b.text(&format!("{row} .previous")), "1.1.0");
    b.screenshot(&format!("plugins-rolled-back-{}", backend.name()));

    // The figures: an extract imported through the page calls the FRI connector.
    go("/import");
    let extract = env.dir.path().join("extract_4.xml");
    std::fs::copy(fri_samples().join("extract_4.xml"), &extract).unwrap();
    b.attach("#files", &[&extract]);
    b.click("#upload-submit");
    b.find("#upload-result");
    go("/admin/plugins");
    let figures = b.text("#figures-fri-import");
    assert!(figures.contains("fri") && figures.contains("import"), "{figures}");
    let headers = b.text(".adm-figures thead");
    for header in ["Вызовов", "Отказов", "Сбоев", "p50, мс", "p99, мс"] {
        assert!(headers.contains(header), "{header} in {headers}");
    }

    // Remove, confirmed: the row is gone.
    b.click(&format!(r#"form[action="/admin/plugins/{ID}/remove"] button"#));
    b.accept_alert();
    wait_loaded(&b, "done=plugin-removed");
    assert!(!b.has(&row));
    // A built-in plugin has no «Удалить».
    assert!(!b.has(r#"form[action="/admin/plugins/fri/remove"]"#));

    // The auditor sees the page and the figures, no form.
    let auditor = Browser::start();
    auditor.login(addr, "audit", PASSWORD);
    auditor.goto(&format!("http://{addr}/admin/plugins"));
    assert!(auditor.text("main").contains("Вызовы модулей"));
    assert!(!auditor.has("#plugin-upload"));
}
