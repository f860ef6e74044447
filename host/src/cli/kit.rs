//! `ipra plugin …`: the vendor's kit. `new` makes the crate of a plugin from the SDK's template
//! (`plugin-sdk/template/`, embedded here), `package` builds it for wasm32-wasip2 and writes the
//! package a region installs (`.ipra-plugin`), `keygen` makes the vendor's Ed25519 signing key.
//! None of them needs a database or a data directory.

use anyhow::{bail, Context, Result};
use clap::{Subcommand, ValueEnum};
use ipra_store::plugins::manifest::{self, Manifest, ManifestError};
use ipra_store::plugins::package;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const WASM_TARGET: &str = "wasm32-wasip2";

/// The SDK this binary was built from: the default dependency of a new plugin, when it exists.
const SDK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugin-sdk");

#[derive(Subcommand)]
pub enum KitAction {
    /// Создать крейт нового плагина из шаблона (исходники, манифест, образцы, тесты).
    New {
        /// Идентификатор плагина: строчные латинские буквы, цифры и «-», первой — буква (например, sociocultural).
        id: String,
        /// Вид плагина: department (раздел ИПРА) или connector (внешняя система).
        #[arg(long, value_enum)]
        kind: Kind,
        /// Папка нового крейта (по умолчанию ./ID); должна быть пустой или не существовать.
        #[arg(long)]
        path: Option<PathBuf>,
        /// SDK: путь к папке ipra-plugin-sdk или версия из реестра (например, 1.1); по умолчанию —
        /// SDK, из которого собран этот ipra.
        #[arg(long)]
        sdk: Option<String>,
        /// Название раздела по-русски, как его показывает форма исполнения (department; по умолчанию — ID).
        #[arg(long)]
        label: Option<String>,
        /// Название плагина по-русски (по умолчанию «Раздел ИПРА «…»» или «Коннектор ID»).
        #[arg(long)]
        name: Option<String>,
        /// Поставщик (vendor в plugin.toml).
        #[arg(long, default_value = "vendor")]
        vendor: String,
    },
    /// Собрать плагин для wasm32-wasip2 и записать пакет .ipra-plugin (манифест с SHA-256, компонент, подпись).
    Package {
        /// Папка крейта плагина (с Cargo.toml и plugin.toml).
        dir: PathBuf,
        /// Закрытый ключ Ed25519 (PKCS#8 DER, из `ipra plugin keygen`) для подписи пакета.
        #[arg(long)]
        sign_key: Option<PathBuf>,
        /// Файл пакета (по умолчанию DIR/target/ID-ВЕРСИЯ.ipra-plugin).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Создать ключ подписи Ed25519 поставщика: PREFIX.key (закрытый, 0600) и PREFIX.pub (открытый, base64).
    Keygen {
        /// Начало имён файлов ключа, например ../keys/vendor.
        out_prefix: PathBuf,
        /// Поставщик, как регион запишет его в список доверенных ключей.
        #[arg(long, default_value = "vendor")]
        vendor: String,
    },
}

/// The two kinds of plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    Department,
    Connector,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Department => "department",
            Kind::Connector => "connector",
        }
    }
}

pub fn run(action: KitAction) -> Result<()> {
    match action {
        KitAction::New {
            id,
            kind,
            path,
            sdk,
            label,
            name,
            vendor,
        } => new_plugin(&NewPlugin {
            path: path.unwrap_or_else(|| PathBuf::from(&id)),
            id,
            kind,
            sdk,
            label,
            name,
            vendor,
        }),
        KitAction::Package { dir, sign_key, out } => package_plugin(&dir, sign_key.as_deref(), out.as_deref()),
        KitAction::Keygen { out_prefix, vendor } => keygen(&out_prefix, &vendor),
    }
}

// ---------------------------------------------------------------------------------------------
// ipra plugin new

struct NewPlugin {
    id: String,
    kind: Kind,
    path: PathBuf,
    sdk: Option<String>,
    label: Option<String>,
    name: Option<String>,
    vendor: String,
}

/// One file of the template: where it goes in the new crate and its text with placeholders.
struct TemplateFile {
    path: &'static str,
    text: &'static str,
}

macro_rules! template {
    ($path:literal, $source:literal) => {
        TemplateFile {
            path: $path,
            text: include_str!(concat!("../../../plugin-sdk/template/", $source)),
        }
    };
}

const COMMON: &[TemplateFile] = &[
    template!("Cargo.toml", "common/Cargo.toml"),
    template!(".gitignore", "common/gitignore"),
    template!("README.md", "common/README.md"),
    template!("rustfmt.toml", "common/rustfmt.toml"),
];

const DEPARTMENT: &[TemplateFile] = &[
    template!("plugin.toml", "department/plugin.toml"),
    template!("src/lib.rs", "department/src/lib.rs"),
    template!("tests/samples.rs", "department/tests/samples.rs"),
    template!("samples/ipra.toml", "department/samples/ipra.toml"),
    template!("samples/lookups.toml", "department/samples/lookups.toml"),
    template!(
        "samples/execution-valid.toml",
        "department/samples/execution-valid.toml"
    ),
    template!(
        "samples/execution-invalid.toml",
        "department/samples/execution-invalid.toml"
    ),
];
const DEPARTMENT_ABOUT: &str = include_str!("../../../plugin-sdk/template/department/ABOUT.md");

const CONNECTOR: &[TemplateFile] = &[
    template!("plugin.toml", "connector/plugin.toml"),
    template!("src/lib.rs", "connector/src/lib.rs"),
    template!("tests/samples.rs", "connector/tests/samples.rs"),
    template!("samples/notices.csv", "connector/samples/notices.csv"),
];
const CONNECTOR_ABOUT: &str = include_str!("../../../plugin-sdk/template/connector/ABOUT.md");

/// Whether an id is one a manifest accepts and a crate name can be made of: lowercase latin letters,
/// digits and `-`, a letter first, no `-` last, at most 64 characters.
fn valid_id(id: &str) -> bool {
    manifest::is_name(id) && id.len() <= 64 && id.starts_with(|c: char| c.is_ascii_lowercase()) && !id.ends_with('-')
}

/// A text that goes into a TOML string and a Rust string literal of the template as it is.
fn plain_text(what: &str, text: &str) -> Result<()> {
    if text.trim().is_empty() || text.contains(['"', '\\', '\n', '\r', '{', '}']) {
        bail!("{what} «{text}» недопустимо: нужен непустой текст без кавычек \", «\\», фигурных скобок и переводов строки");
    }
    Ok(())
}

/// The SDK dependency of the new crate, as the inside of an inline TOML table.
fn sdk_dependency(sdk: Option<&str>) -> Result<String> {
    let quoted = |s: &str| toml::Value::String(s.to_string()).to_string();
    let path = match sdk {
        None => {
            let default = Path::new(SDK_DIR);
            match default.canonicalize() {
                Ok(path) if path.join("Cargo.toml").is_file() => path,
                _ => bail!(
                    "SDK, из которого собран этот ipra ({SDK_DIR}), не найден на этой машине: укажите --sdk ПАПКА \
                     (папка ipra-plugin-sdk) или --sdk ВЕРСИЯ (например, 1.1) для зависимости из реестра"
                ),
            }
        }
        Some(given) => {
            let looks_like_version = given
                .trim_start_matches(['^', '=', '~'])
                .split('.')
                .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()));
            if looks_like_version {
                return Ok(format!("version = {}", quoted(given)));
            }
            let path = Path::new(given)
                .canonicalize()
                .with_context(|| format!("--sdk: папка SDK «{given}» не найдена"))?;
            let manifest = path.join("Cargo.toml");
            let text = std::fs::read_to_string(&manifest)
                .with_context(|| format!("--sdk: в папке {} нет Cargo.toml SDK", path.display()))?;
            if !text.contains("name = \"ipra-plugin-sdk\"") {
                bail!("--sdk: {} — не Cargo.toml крейта ipra-plugin-sdk", manifest.display());
            }
            path
        }
    };
    let path = path
        .to_str()
        .with_context(|| format!("путь к SDK {} не в UTF-8", path.display()))?;
    Ok(format!("path = {}", quoted(path)))
}

fn fill(text: &str, values: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (key, value) in values {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    debug_assert!(
        !out.contains("{{"),
        "a placeholder of the template is not filled: {out}"
    );
    out
}

fn new_plugin(new: &NewPlugin) -> Result<()> {
    if !valid_id(&new.id) {
        bail!(
            "идентификатор плагина «{}» недопустим: только строчные латинские буквы, цифры и «-», первой — буква, \
             не длиннее 64 символов (например, sociocultural)",
            new.id
        );
    }
    if let Ok(mut entries) = std::fs::read_dir(&new.path) {
        if entries.next().is_some() {
            bail!(
                "папка {} не пуста: новый плагин создаётся в пустой или новой папке (--path)",
                new.path.display()
            );
        }
    } else if new.path.exists() {
        bail!("{} — это файл, а не папка: укажите другую --path", new.path.display());
    }
    let label = new.label.clone().unwrap_or_else(|| new.id.clone());
    plain_text("название раздела (--label)", &label)?;
    let name = new.name.clone().unwrap_or_else(|| match new.kind {
        Kind::Department => format!("Раздел ИПРА «{label}»"),
        Kind::Connector => format!("Коннектор {}", new.id),
    });
    plain_text("название плагина (--name)", &name)?;
    plain_text("поставщик (--vendor)", &new.vendor)?;
    let sdk = sdk_dependency(new.sdk.as_deref())?;
    let krate = format!("ipra-plugin-{}", new.id);
    let crate_ident = krate.replace('-', "_");
    let (files, about) = match new.kind {
        Kind::Department => (DEPARTMENT, DEPARTMENT_ABOUT),
        Kind::Connector => (CONNECTOR, CONNECTOR_ABOUT),
    };
    let mut values = vec![
        ("id", new.id.as_str()),
        ("section", new.id.as_str()),
        ("label", label.as_str()),
        ("name", name.as_str()),
        ("kind", new.kind.as_str()),
        ("vendor", new.vendor.as_str()),
        ("crate", krate.as_str()),
        ("crate_ident", crate_ident.as_str()),
        ("sdk", sdk.as_str()),
    ];
    let about = fill(about, &values);
    values.push(("about", about.trim_end()));
    for file in COMMON.iter().chain(files) {
        let target = new.path.join(file.path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("папка {} не создаётся", parent.display()))?;
        }
        std::fs::write(&target, fill(file.text, &values))
            .with_context(|| format!("файл {} не записывается", target.display()))?;
    }
    let dir = new.path.display();
    println!("создан плагин «{}» ({}) в {dir}", new.id, new.kind.as_str());
    println!("  {sdk} — зависимость ipra-plugin-sdk");
    println!("дальше:");
    println!("  cd {dir} && cargo test          # хуки на образцах samples/, без сервера");
    println!(
        "  ipra plugin package {dir}       # пакет {}-0.1.0.{}",
        new.id,
        package::FILE_EXTENSION
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ipra plugin package

/// What `Cargo.toml` of the plugin says: the library's crate name and the package version.
struct CrateInfo {
    lib_name: String,
    version: Option<String>,
}

fn crate_info(dir: &Path) -> Result<CrateInfo> {
    let path = dir.join("Cargo.toml");
    let text = read_text(&path, "описание крейта")?;
    let value: toml::Table =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?;
    let package = value
        .get("package")
        .and_then(|p| p.as_table())
        .with_context(|| format!("{}: нет раздела [package]", path.display()))?;
    let name = package
        .get("name")
        .and_then(|n| n.as_str())
        .with_context(|| format!("{}: не указано поле name в [package]", path.display()))?;
    let lib_name = value
        .get("lib")
        .and_then(|l| l.get("name"))
        .and_then(|n| n.as_str())
        .unwrap_or(name)
        .replace('-', "_");
    let cdylib = value
        .get("lib")
        .and_then(|l| l.get("crate-type"))
        .and_then(|t| t.as_array())
        .is_some_and(|types| types.iter().any(|t| t.as_str() == Some("cdylib")));
    if !cdylib {
        bail!(
            "{}: в [lib] нужен crate-type = [\"cdylib\", \"rlib\"] — компонент WebAssembly собирается как cdylib",
            path.display()
        );
    }
    Ok(CrateInfo {
        lib_name,
        version: package.get("version").and_then(|v| v.as_str()).map(str::to_string),
    })
}

/// The field of the manifest an error is about, when it is one field.
fn manifest_field(error: &ManifestError) -> Option<&'static str> {
    match error {
        ManifestError::BadId(_) => Some("id"),
        ManifestError::BadKind(_) => Some("kind"),
        ManifestError::BadVersion(_) => Some("version"),
        ManifestError::BadApiRange(_) | ManifestError::ApiMismatch { .. } => Some("api"),
        ManifestError::BadJob { .. } => Some("[[jobs]]"),
        _ => None,
    }
}

/// Checks the manifest before the build: everything `package::read` would, but the component's hash.
fn check_manifest(path: &Path, text: &str) -> Result<Manifest> {
    let refuse = |e: ManifestError| match manifest_field(&e) {
        Some(field) => anyhow::anyhow!("{}, поле {field}: {e}", path.display()),
        None => anyhow::anyhow!("{}: {e}", path.display()),
    };
    let draft = package::complete_manifest(text, &[]);
    let manifest = Manifest::parse(&draft).map_err(refuse)?;
    match manifest.verify(&[]) {
        Ok(()) | Err(ManifestError::HashMismatch { .. }) => Ok(manifest),
        Err(e) => Err(refuse(e)),
    }
}

/// A file's text or bytes, or an error naming the file and, in Russian, why not.
fn read_named(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "файла нет".to_string(),
            std::io::ErrorKind::PermissionDenied => "нет прав на чтение".to_string(),
            _ => e.to_string(),
        };
        anyhow::anyhow!("{what} {} не читается: {why}", path.display())
    })
}

fn read_text(path: &Path, what: &str) -> Result<String> {
    String::from_utf8(read_named(path, what)?)
        .map_err(|_| anyhow::anyhow!("{what} {} не в кодировке UTF-8", path.display()))
}

fn wasm_target_missing() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .is_some_and(|out| {
            !String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == WASM_TARGET)
        })
}

/// Builds the crate in `dir` for wasm32-wasip2 (release) and returns the component's path, as cargo
/// reports it (so `CARGO_TARGET_DIR` and the crate's own cargo settings are respected).
fn build_component(dir: &Path, lib_name: &str) -> Result<PathBuf> {
    if wasm_target_missing() {
        bail!("цель {WASM_TARGET} не установлена: выполните `rustup target add {WASM_TARGET}`");
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .current_dir(dir)
        .args(["build", "--release", "--target", WASM_TARGET])
        .arg("--message-format=json-render-diagnostics")
        .env_remove("CARGO_BUILD_TARGET")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cargo не запускается: нужен Rust (https://rustup.rs)")?;
    let mut built = None;
    let stdout = child.stdout.take().context("вывод cargo")?;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.context("вывод cargo не читается")?;
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" || message["target"]["name"].as_str() != Some(lib_name) {
            continue;
        }
        if let Some(files) = message["filenames"].as_array() {
            built = files
                .iter()
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(".wasm"))
                .map(PathBuf::from)
                .or(built);
        }
    }
    let status = child.wait().context("cargo не завершился")?;
    if !status.success() {
        bail!(
            "сборка плагина в {} для {WASM_TARGET} не удалась (ошибки компилятора выше)",
            dir.display()
        );
    }
    built.with_context(|| format!("cargo не сообщил о компоненте {lib_name}.wasm: в [lib] нужен crate-type cdylib"))
}

fn package_plugin(dir: &Path, sign_key: Option<&Path>, out: Option<&Path>) -> Result<()> {
    let manifest_path = dir.join(package::MANIFEST);
    let manifest_text = read_text(&manifest_path, "манифест")?;
    let manifest = check_manifest(&manifest_path, &manifest_text)?;
    let krate = crate_info(dir)?;
    if let Some(version) = krate.version.as_deref().filter(|v| *v != manifest.version) {
        eprintln!(
            "предупреждение: версия в Cargo.toml ({version}) не совпадает с полем version в {} ({}); в пакет идёт версия манифеста",
            manifest_path.display(),
            manifest.version
        );
    }
    // Read the key before the build: a wrong file is found in a second, not after minutes.
    let key = match sign_key {
        Some(path) => {
            let bytes = read_named(path, "ключ подписи")?;
            package::ed25519_public(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            Some(bytes)
        }
        None => None,
    };

    let wasm_path = build_component(dir, &krate.lib_name)?;
    let wasm = std::fs::read(&wasm_path).with_context(|| format!("компонент {} не читается", wasm_path.display()))?;
    let completed = package::complete_manifest(&manifest_text, &wasm);
    let (signature, public) = match &key {
        Some(key) => (
            Some(package::sign_ed25519(&completed, key)?),
            Some(package::ed25519_public(key)?),
        ),
        None => (None, None),
    };
    let bytes = package::write(&completed, &wasm, signature.as_deref(), None);
    // What the installation will check, checked here first.
    let written = package::read(&bytes).map_err(|e| anyhow::anyhow!("собранный пакет не прошёл проверку: {e}"))?;

    let out = match out {
        Some(path) => path.to_path_buf(),
        None => dir.join("target").join(format!(
            "{}-{}.{}",
            written.manifest.id,
            written.manifest.version,
            package::FILE_EXTENSION
        )),
    };
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("папка {} не создаётся", parent.display()))?;
    }
    std::fs::write(&out, &bytes).with_context(|| format!("пакет {} не записывается", out.display()))?;
    println!("пакет: {}", out.display());
    println!(
        "плагин: {} {} ({}, API {})",
        written.manifest.id, written.manifest.version, written.manifest.kind, written.manifest.api
    );
    println!("SHA-256 компонента: {}", written.manifest.sha256);
    match public {
        Some(public) => println!("подпись: Ed25519, открытый ключ {public}"),
        None => println!("подпись: нет (пакет не подписан)"),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ipra plugin keygen

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn keygen(prefix: &Path, vendor: &str) -> Result<()> {
    let key_path = with_suffix(prefix, ".key");
    let pub_path = with_suffix(prefix, ".pub");
    for path in [&key_path, &pub_path] {
        if path.exists() {
            bail!(
                "{} уже есть: ключ не перезаписывается, выберите другое имя",
                path.display()
            );
        }
    }
    let (pkcs8, public) = package::generate_ed25519()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&key_path)
        .with_context(|| format!("{} не создаётся", key_path.display()))?;
    file.write_all(&pkcs8)
        .with_context(|| format!("{} не записывается", key_path.display()))?;
    std::fs::write(&pub_path, format!("{public}\n"))
        .with_context(|| format!("{} не записывается", pub_path.display()))?;
    println!(
        "закрытый ключ: {} (храните в тайне; подпись: ipra plugin package DIR --sign-key {})",
        key_path.display(),
        key_path.display()
    );
    println!("открытый ключ: {}", pub_path.display());
    println!();
    println!("регион добавляет в список доверенных ключей (DATA_DIR/plugin-trust.toml):");
    println!();
    println!("[[ed25519]]");
    println!("vendor = {}", toml::Value::String(vendor.to_string()));
    println!("key = \"{public}\"");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_those_of_manifests_starting_with_a_letter() {
        for ok in ["sociocultural", "a", "culture-2"] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in [
            "",
            "Culture",
            "2culture",
            "culture-",
            "культура",
            "a_b",
            &"a".repeat(65),
        ] {
            assert!(!valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn sdk_is_a_path_or_a_version() {
        assert_eq!(sdk_dependency(Some("1.1")).unwrap(), "version = \"1.1\"");
        assert_eq!(sdk_dependency(Some("^1.1.0")).unwrap(), "version = \"^1.1.0\"");
        let default = sdk_dependency(None).unwrap();
        assert!(
            default.starts_with("path = \"/") && default.ends_with("plugin-sdk\""),
            "{default}"
        );
        let err = sdk_dependency(Some("/no/such/sdk")).unwrap_err();
        assert!(format!("{err:#}").contains("--sdk"), "{err:#}");
    }

    #[test]
    fn every_placeholder_of_the_template_is_filled() {
        let values: Vec<(&str, &str)> = [
            "id",
            "section",
            "label",
            "name",
            "kind",
            "vendor",
            "crate",
            "crate_ident",
            "sdk",
            "about",
        ]
        .into_iter()
        .map(|k| (k, "x"))
        .collect();
        for file in COMMON.iter().chain(DEPARTMENT).chain(CONNECTOR) {
            assert!(!fill(file.text, &values).contains("{{"), "{}", file.path);
        }
    }
}
