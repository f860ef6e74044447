//! Signing and verification against real GOST R 34.10-2012 keys and certificates made by the openssl tool.
//! Needs `openssl` with the GOST engine (`libengine-gost-openssl`); without it every test fails saying so.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ipra_signing::{
    check_engine, sign, signature_der, verify, CommandConfig, CommandLine, GostConfig, GostDigest, Provider,
    SigningError, UploadConfig, VerifyOptions,
};

const REPORT: &[u8] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Отчет><ИПРА>123.45.67/2026</ИПРА></Отчет>\n".as_bytes();

/// Key sizes and their GOST R 34.11-2012 digests.
#[derive(Clone, Copy)]
enum Size {
    Bits256,
    Bits512,
}

impl Size {
    fn algorithm(self) -> &'static str {
        match self {
            Size::Bits256 => "gost2012_256",
            Size::Bits512 => "gost2012_512",
        }
    }
    fn md(self) -> &'static str {
        match self {
            Size::Bits256 => "md_gost12_256",
            Size::Bits512 => "md_gost12_512",
        }
    }
    fn digest(self) -> GostDigest {
        match self {
            Size::Bits256 => GostDigest::Streebog256,
            Size::Bits512 => GostDigest::Streebog512,
        }
    }
    fn digest_oid(self) -> &'static str {
        match self {
            Size::Bits256 => "1.2.643.7.1.1.2.2",
            Size::Bits512 => "1.2.643.7.1.1.2.3",
        }
    }
}

/// A scratch PKI: keys and certificates made with the openssl tool in a temporary directory
/// (whose name has a space, so any shell-style splitting of paths would show).
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        if let Err(e) = check_engine() {
            panic!("OpenSSL с GOST-движком недоступен, тесты подписи не могут идти: {e}");
        }
        let dir = tempfile::Builder::new()
            .prefix("ipra signing test ")
            .tempdir()
            .expect("temporary directory");
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn key(&self, name: &str, size: Size) -> PathBuf {
        let key = self.path(&format!("{name}.key"));
        let paramset = format!("paramset:{}", "A");
        self.openssl(&[
            "genpkey",
            "-engine",
            "gost",
            "-algorithm",
            size.algorithm(),
            "-pkeyopt",
            &paramset,
            "-out",
            path_str(&key),
        ]);
        key
    }

    /// Self-signed certificate valid from now for 30 days.
    fn self_signed(&self, name: &str, size: Size, subject: &str) -> (PathBuf, PathBuf) {
        let key = self.key(name, size);
        let cert = self.path(&format!("{name}.pem"));
        let md = format!("-{}", size.md());
        self.openssl(&[
            "req",
            "-x509",
            "-engine",
            "gost",
            &md,
            "-utf8",
            "-key",
            path_str(&key),
            "-subj",
            subject,
            "-days",
            "30",
            "-out",
            path_str(&cert),
        ]);
        (key, cert)
    }

    /// A certificate with explicit validity dates (`YYYYMMDDHHMMSSZ`), issued by `issuer` (key, certificate)
    /// or self-signed when `issuer` is `None`, through `openssl ca` with a minimal configuration.
    fn dated(
        &self,
        name: &str,
        size: Size,
        issuer: Option<(&Path, &Path)>,
        start: &str,
        end: &str,
    ) -> (PathBuf, PathBuf) {
        let key = self.key(name, size);
        let csr = self.path(&format!("{name}.csr"));
        let cert = self.path(&format!("{name}.pem"));
        let md = format!("-{}", size.md());
        let subject = format!("/CN={name}/O=Тестовая организация");
        self.openssl(&[
            "req",
            "-new",
            "-engine",
            "gost",
            &md,
            "-utf8",
            "-key",
            path_str(&key),
            "-subj",
            &subject,
            "-out",
            path_str(&csr),
        ]);
        let ca_dir = self.path(&format!("{name}-ca"));
        std::fs::create_dir(&ca_dir).expect("ca dir");
        std::fs::write(ca_dir.join("index.txt"), "").expect("index");
        std::fs::write(ca_dir.join("serial"), "1000\n").expect("serial");
        let config = format!(
            "[ ca ]\ndefault_ca = local\n[ local ]\ndir = {dir}\ndatabase = $dir/index.txt\nnew_certs_dir = $dir\n\
             serial = $dir/serial\npolicy = any\ndefault_md = {md}\nunique_subject = no\nx509_extensions = leaf\n\
             [ any ]\ncommonName = supplied\norganizationName = optional\n\
             [ leaf ]\nbasicConstraints = CA:FALSE\nkeyUsage = digitalSignature, nonRepudiation\n\
             subjectKeyIdentifier = hash\n",
            dir = path_str(&ca_dir).replace(' ', "\\ "),
            md = size.md(),
        );
        let config_path = ca_dir.join("ca.cnf");
        std::fs::write(&config_path, config).expect("ca config");
        let mut args = vec![
            "ca",
            "-batch",
            "-engine",
            "gost",
            "-utf8",
            "-config",
            path_str(&config_path),
            "-in",
            path_str(&csr),
            "-startdate",
            start,
            "-enddate",
            end,
            "-out",
            path_str(&cert),
        ];
        match issuer {
            Some((issuer_key, issuer_cert)) => {
                args.extend(["-keyfile", path_str(issuer_key), "-cert", path_str(issuer_cert)]);
            }
            None => args.extend(["-selfsign", "-keyfile", path_str(&key)]),
        }
        self.openssl(&args);
        (key, cert)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).expect("write test file");
        path
    }

    /// A detached signature made directly with the openssl tool, as a signer's own tool would.
    fn sign_outside(&self, key: &Path, cert: &Path, size: Size, data: &[u8], extra: &[&str]) -> Vec<u8> {
        let input = self.write("outside.data", data);
        let output = self.path("outside.sig");
        let mut args = vec![
            "cms",
            "-sign",
            "-engine",
            "gost",
            "-binary",
            "-md",
            size.md(),
            "-signer",
            path_str(cert),
            "-inkey",
            path_str(key),
            "-in",
            path_str(&input),
            "-out",
            path_str(&output),
        ];
        args.extend(extra);
        if !extra.contains(&"-outform") {
            args.extend(["-outform", "DER"]);
        }
        self.openssl(&args);
        std::fs::read(output).expect("signature written")
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

fn gost(key: PathBuf, certificate: PathBuf, size: Size) -> Provider {
    Provider::Gost(GostConfig {
        key,
        certificate,
        key_password_env: None,
        key_password_file: None,
        digest: size.digest(),
        ca_file: None,
    })
}

fn sign_and_verify(size: Size) {
    let pki = Pki::new();
    let (key, cert) = pki.self_signed("org", size, "/CN=Иванов Иван Иванович/O=ГБУ Центр реабилитации/C=RU");
    let provider = gost(key, cert, size);
    let signed = sign(&provider, REPORT).expect("signs");

    let v = &signed.verified;
    assert!(v.subject.contains("CN=Иванов Иван Иванович"), "{}", v.subject);
    assert!(v.subject.contains("O=ГБУ Центр реабилитации"), "{}", v.subject);
    assert_eq!(v.subject, v.issuer, "self-signed");
    assert!(
        !v.serial.is_empty() && v.serial.chars().all(|c| c.is_ascii_hexdigit()),
        "{}",
        v.serial
    );
    assert_eq!(v.digest_oid, size.digest_oid());
    assert!(v.digest.contains("GOST R 34.11-2012"), "{}", v.digest);
    assert!(
        v.signature_algorithm.contains("GOST R 34.10-2012"),
        "{}",
        v.signature_algorithm
    );
    assert!(v.signing_time.is_some());
    assert!(v.not_before < v.not_after);
    assert!(
        v.not_before.ends_with('Z') && v.not_before.contains('T'),
        "{}",
        v.not_before
    );
    assert!(v.certificate_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(v.certificate_sha256.len(), 64);
    assert_eq!(v.signers, 1);
    assert!(!v.chain_verified);

    // Verified again as stored, and also without naming the signer (the embedded certificate is used).
    let again = verify(REPORT, &signed.signature, &provider.verify_options()).expect("verifies");
    assert_eq!(&again, v);
    let embedded = verify(REPORT, &signed.signature, &VerifyOptions::default()).expect("verifies by embedded cert");
    assert_eq!(embedded.serial, v.serial);

    let mut tampered = REPORT.to_vec();
    tampered[50] ^= 1;
    let err = verify(&tampered, &signed.signature, &provider.verify_options()).unwrap_err();
    assert!(matches!(err, SigningError::DocumentModified), "{err:?}");
    assert!(err.to_string().contains("документ изменён"), "{err}");
}

#[test]
fn gost_256_signs_and_verifies_and_tampering_is_caught() {
    sign_and_verify(Size::Bits256);
}

#[test]
fn gost_512_signs_and_verifies_and_tampering_is_caught() {
    sign_and_verify(Size::Bits512);
}

#[test]
fn check_engine_reports_openssl_version() {
    let version = check_engine().unwrap_or_else(|e| panic!("{e}"));
    assert!(version.starts_with("OpenSSL"), "{version}");
}

#[test]
fn a_signature_by_another_key_is_refused() {
    let pki = Pki::new();
    let (key, cert) = pki.self_signed("org", Size::Bits256, "/CN=Организация");
    let (_, other_cert) = pki.self_signed("other", Size::Bits256, "/CN=Другая организация");
    let signed = sign(&gost(key, cert, Size::Bits256), REPORT).expect("signs");
    let opts = VerifyOptions {
        signer_certificate: Some(other_cert),
        ..VerifyOptions::default()
    };
    let err = verify(REPORT, &signed.signature, &opts).unwrap_err();
    assert!(
        matches!(err, SigningError::WrongSigner { ref expected } if expected.contains("Другая организация")),
        "{err:?}"
    );
    assert!(err.to_string().contains("другим ключом"), "{err}");
}

#[test]
fn a_damaged_signature_value_is_refused() {
    let pki = Pki::new();
    let (key, cert) = pki.self_signed("org", Size::Bits256, "/CN=Организация");
    let provider = gost(key, cert, Size::Bits256);
    let mut signature = sign(&provider, REPORT).expect("signs").signature;
    // The signature value is the last field of the only SignerInfo (no unsigned attributes).
    let last = signature.len() - 1;
    signature[last] ^= 0x5a;
    let err = verify(REPORT, &signature, &provider.verify_options()).unwrap_err();
    assert!(matches!(err, SigningError::SignatureInvalid { .. }), "{err:?}");
}

#[test]
fn garbage_and_attached_signatures_are_refused() {
    let pki = Pki::new();
    let (key, cert) = pki.self_signed("org", Size::Bits256, "/CN=Организация");
    let opts = gost(key.clone(), cert.clone(), Size::Bits256).verify_options();
    for garbage in [
        &b""[..],
        b"\x30\x82\x01\x00 definitely not CMS",
        b"Hello, world",
        &[0xde, 0xad, 0xbe, 0xef],
    ] {
        let err = verify(REPORT, garbage, &opts).unwrap_err();
        assert!(
            matches!(err, SigningError::MalformedSignature { .. }),
            "{garbage:?}: {err:?}"
        );
        assert!(err.to_string().contains("повреждён"), "{err}");
    }
    let attached = pki.sign_outside(&key, &cert, Size::Bits256, REPORT, &["-nodetach"]);
    let err = verify(REPORT, &attached, &opts).unwrap_err();
    assert!(matches!(err, SigningError::NotDetached), "{err:?}");
}

#[test]
fn an_expired_certificate_is_refused() {
    let pki = Pki::new();
    let (key, cert) = pki.dated("expired", Size::Bits256, None, "20200101000000Z", "20210101000000Z");
    let err = sign(&gost(key.clone(), cert.clone(), Size::Bits256), REPORT).unwrap_err();
    match &err {
        SigningError::CertificateExpired { not_after, moment, .. } => {
            assert_eq!(not_after, "2021-01-01T00:00:00Z");
            assert_eq!(*moment, "время подписания");
        }
        other => panic!("expected an expired certificate, got {other:?}"),
    }
    assert!(err.to_string().contains("истёк"), "{err}");
    // The same for a signature made elsewhere and uploaded.
    let uploaded = pki.sign_outside(&key, &cert, Size::Bits256, REPORT, &[]);
    let err = verify(REPORT, &uploaded, &VerifyOptions::default()).unwrap_err();
    assert!(matches!(err, SigningError::CertificateExpired { .. }), "{err:?}");
}

#[test]
fn a_not_yet_valid_certificate_is_refused() {
    let pki = Pki::new();
    let (key, cert) = pki.dated("future", Size::Bits512, None, "20900101000000Z", "20910101000000Z");
    let err = sign(&gost(key, cert, Size::Bits512), REPORT).unwrap_err();
    assert!(
        matches!(err, SigningError::CertificateNotYetValid { ref not_before, .. } if not_before == "2090-01-01T00:00:00Z"),
        "{err:?}"
    );
    assert!(err.to_string().contains("ещё не действовал"), "{err}");
}

#[test]
fn the_chain_to_a_trust_anchor_is_checked_when_configured() {
    let pki = Pki::new();
    let (ca_key, ca_cert) = pki.self_signed("ca", Size::Bits256, "/CN=Тестовый УЦ");
    let (_, stranger_ca) = pki.self_signed("stranger", Size::Bits256, "/CN=Чужой УЦ");
    let (key, cert) = pki.dated(
        "leaf",
        Size::Bits256,
        Some((&ca_key, &ca_cert)),
        "20250101000000Z",
        "20491231000000Z",
    );
    let mut config = GostConfig {
        key,
        certificate: cert,
        key_password_env: None,
        key_password_file: None,
        digest: GostDigest::Streebog256,
        ca_file: Some(ca_cert),
    };
    let signed = sign(&Provider::Gost(config.clone()), REPORT).expect("signs and chains to the CA");
    assert!(signed.verified.chain_verified);
    assert!(
        signed.verified.issuer.contains("Тестовый УЦ"),
        "{}",
        signed.verified.issuer
    );
    // Without an anchor the CA-issued certificate still verifies (its CAdES attribute included), unchained.
    let unchained = verify(REPORT, &signed.signature, &VerifyOptions::default()).expect("verifies without a CA");
    assert!(!unchained.chain_verified);

    config.ca_file = Some(stranger_ca);
    let err = sign(&Provider::Gost(config), REPORT).unwrap_err();
    assert!(matches!(err, SigningError::UntrustedCertificate { .. }), "{err:?}");
    assert!(err.to_string().contains("удостоверяющим центром"), "{err}");
}

#[test]
fn an_encrypted_key_needs_its_password_from_the_environment_or_a_file() {
    let pki = Pki::new();
    let key = pki.path("locked.key");
    let variable = "IPRA_SIGNING_TEST_KEY_PASSWORD";
    // Only this test uses this variable; the password also goes to openssl by reference, not as text.
    std::env::set_var(variable, "пароль-ключа");
    pki.openssl(&[
        "genpkey",
        "-engine",
        "gost",
        "-algorithm",
        "gost2012_256",
        "-pkeyopt",
        "paramset:A",
        "-aes-256-cbc",
        "-pass",
        &format!("env:{variable}"),
        "-out",
        path_str(&key),
    ]);
    let cert = pki.path("locked.pem");
    pki.openssl(&[
        "req",
        "-x509",
        "-engine",
        "gost",
        "-md_gost12_256",
        "-key",
        path_str(&key),
        "-passin",
        &format!("env:{variable}"),
        "-subj",
        "/CN=Locked",
        "-days",
        "30",
        "-out",
        path_str(&cert),
    ]);
    let mut config = GostConfig {
        key,
        certificate: cert,
        key_password_env: Some(variable.into()),
        key_password_file: None,
        digest: GostDigest::Streebog256,
        ca_file: None,
    };
    sign(&Provider::Gost(config.clone()), REPORT).expect("signs with the password from the environment");

    config.key_password_env = Some("IPRA_SIGNING_TEST_UNSET_VARIABLE".into());
    let err = sign(&Provider::Gost(config.clone()), REPORT).unwrap_err();
    assert!(matches!(err, SigningError::KeyPasswordMissing { .. }), "{err:?}");

    config.key_password_env = None;
    config.key_password_file = Some(pki.write("password.txt", "пароль-ключа\n".as_bytes()));
    sign(&Provider::Gost(config.clone()), REPORT).expect("signs with the password from a file");

    config.key_password_file = Some(pki.write("wrong.txt", b"wrong\n"));
    let err = sign(&Provider::Gost(config), REPORT).unwrap_err();
    assert!(matches!(err, SigningError::SigningFailed { .. }), "{err:?}");
}

#[test]
fn an_external_command_signs_through_placeholders() {
    let pki = Pki::new();
    let (key, cert) = pki.self_signed("org", Size::Bits512, "/CN=Внешний инструмент");
    // The tool is openssl itself: the only way it can sign is if {input}, {output}, {certificate} were
    // substituted, and the directory name has a space, so a split path would break it.
    let template = format!(
        "openssl cms -sign -engine gost -binary -outform DER -md md_gost12_512 -signer {{certificate}} \
         -inkey '{}' -in {{input}} -out {{output}}",
        path_str(&key)
    );
    let provider = Provider::ExternalCommand(CommandConfig {
        command: CommandLine::Line(template),
        certificate: Some(cert.clone()),
        ca_file: None,
        timeout_seconds: 30,
    });
    let signed = sign(&provider, REPORT).expect("external command signs");
    assert_eq!(signed.verified.digest_oid, Size::Bits512.digest_oid());
    assert!(signed.verified.subject.contains("Внешний инструмент"));

    // A tool that writes base64 (PEM) instead of DER, given as an argument list.
    let argv = [
        "openssl",
        "cms",
        "-sign",
        "-engine",
        "gost",
        "-binary",
        "-outform",
        "PEM",
        "-md",
        "md_gost12_512",
        "-signer",
        "{certificate}",
        "-inkey",
        path_str(&key),
        "-in",
        "{input}",
        "-out",
        "{output}",
    ];
    let provider = Provider::ExternalCommand(CommandConfig {
        command: CommandLine::Argv(argv.iter().map(|s| s.to_string()).collect()),
        certificate: Some(cert),
        ca_file: None,
        timeout_seconds: 30,
    });
    let signed = sign(&provider, REPORT).expect("PEM output is accepted");
    assert_eq!(signed.signature.first(), Some(&0x30), "returned as DER");
}

#[test]
fn an_external_command_that_fails_or_hangs_is_reported() {
    let pki = Pki::new();
    let (_, cert) = pki.self_signed("org", Size::Bits256, "/CN=Организация");
    let failing = Provider::ExternalCommand(CommandConfig {
        command: CommandLine::Line(
            "openssl cms -sign -engine gost -inkey /nonexistent/key.pem -signer {certificate} -in {input} -out {output}"
                .into(),
        ),
        certificate: Some(cert.clone()),
        ca_file: None,
        timeout_seconds: 30,
    });
    let err = sign(&failing, REPORT).unwrap_err();
    match &err {
        SigningError::CommandFailed { program, stderr, .. } => {
            assert_eq!(program, "openssl");
            assert!(stderr.contains("/nonexistent/key.pem"), "stderr captured: {stderr}");
        }
        other => panic!("expected a failed command, got {other:?}"),
    }
    assert!(err.is_transient());

    let silent = Provider::ExternalCommand(CommandConfig {
        command: CommandLine::Line("true {input} {output}".into()),
        certificate: None,
        ca_file: None,
        timeout_seconds: 30,
    });
    assert!(matches!(
        sign(&silent, REPORT),
        Err(SigningError::NoSignatureProduced { .. })
    ));

    let missing = Provider::ExternalCommand(CommandConfig {
        command: CommandLine::Line("/nonexistent/cryptcp -sign {input} {output}".into()),
        certificate: None,
        ca_file: None,
        timeout_seconds: 30,
    });
    assert!(matches!(
        sign(&missing, REPORT),
        Err(SigningError::CommandNotStarted { .. })
    ));

    // `sh -c 'sleep 30 & sleep 30'`: the helper it starts must die too, or the pipes would hold us.
    let hanging = Provider::ExternalCommand(CommandConfig {
        command: CommandLine::Line("sh -c 'sleep 30 & sleep 30' {input} {output}".into()),
        certificate: None,
        ca_file: None,
        timeout_seconds: 1,
    });
    let started = Instant::now();
    let err = sign(&hanging, REPORT).unwrap_err();
    assert!(matches!(err, SigningError::TimedOut { seconds: 1, .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(20), "killed, not waited for");
}

#[test]
fn an_uploaded_signature_is_verified_not_made() {
    let pki = Pki::new();
    let (key, cert) = pki.self_signed("signer", Size::Bits256, "/CN=Петрова Анна Сергеевна");
    let provider = Provider::Upload(UploadConfig::default());
    let err = sign(&provider, REPORT).unwrap_err();
    assert!(matches!(err, SigningError::UploadOnly), "{err:?}");
    assert!(err.to_string().contains("загружается пользователем"), "{err}");

    let der = pki.sign_outside(&key, &cert, Size::Bits256, REPORT, &[]);
    let verified = verify(REPORT, &der, &provider.verify_options()).expect("uploaded DER verifies");
    assert!(verified.subject.contains("Петрова Анна Сергеевна"));
    assert!(verified.signing_time.is_some());

    let pem = pki.sign_outside(&key, &cert, Size::Bits256, REPORT, &["-outform", "PEM"]);
    assert!(pem.starts_with(b"-----BEGIN"));
    assert_eq!(signature_der(&pem).expect("PEM decodes").first(), Some(&0x30));
    verify(REPORT, &pem, &provider.verify_options()).expect("uploaded PEM verifies");

    let err = verify(b"another document", &der, &provider.verify_options()).unwrap_err();
    assert!(matches!(err, SigningError::DocumentModified), "{err:?}");
}

#[test]
fn a_signature_without_the_signer_certificate_needs_it_given() {
    let pki = Pki::new();
    let (key, cert) = pki.self_signed("signer", Size::Bits256, "/CN=Без сертификата");
    let bare = pki.sign_outside(&key, &cert, Size::Bits256, REPORT, &["-nocerts"]);
    let err = verify(REPORT, &bare, &VerifyOptions::default()).unwrap_err();
    assert!(matches!(err, SigningError::SignerCertificateMissing), "{err:?}");
    let opts = VerifyOptions {
        signer_certificate: Some(cert),
        ..VerifyOptions::default()
    };
    verify(REPORT, &bare, &opts).expect("verifies with the given certificate");
}

#[test]
fn configuration_reads_from_toml_and_rejects_unknown_keys() {
    let provider: Provider = toml::from_str(
        r#"
        provider = "external-command"
        command = ["cryptcp", "-sign", "-detached", "{input}", "{output}"]
        "#,
    )
    .expect("parses");
    match provider {
        Provider::ExternalCommand(c) => {
            assert_eq!(c.timeout_seconds, 60);
            assert!(matches!(c.command, CommandLine::Argv(ref a) if a.len() == 5));
        }
        other => panic!("{other:?}"),
    }
    let gost: Provider = toml::from_str("provider = \"gost\"\nkey = \"k\"\ncertificate = \"c\"\n").expect("parses");
    assert!(matches!(gost, Provider::Gost(ref c) if c.digest == GostDigest::Streebog256));
    assert!(
        toml::from_str::<Provider>("provider = \"gost\"\nkey = \"k\"\ncertificate = \"c\"\npasword = \"x\"\n").is_err()
    );
    assert!(toml::from_str::<Provider>("provider = \"rsa\"\n").is_err());
}
