//! The `openssl` command-line tool with the GOST engine, run as a subprocess, and readers of what it prints.
//! Nothing secret is ever passed as an argument: only paths inside a private directory and `-passin` references.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use time::OffsetDateTime;

use crate::error::SigningError;
use crate::process::{self, Finished, RunError};
use crate::workdir::WorkDir;

/// The program looked up in `PATH`.
const PROGRAM: &str = "openssl";
/// OpenSSL finishes in milliseconds; the limit only guards against a hung engine.
const LIMIT: Duration = Duration::from_secs(60);

/// Builds an argument list from string-like pieces.
pub(crate) fn args<I, S>(items: I) -> Vec<OsString>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    items.into_iter().map(Into::into).collect()
}

/// Runs `openssl args…` in `dir`; a non-zero exit is returned as is, but a missing GOST engine is an error.
pub(crate) fn run(args: &[OsString], dir: &Path) -> Result<Finished, SigningError> {
    let finished = process::run(&OsString::from(PROGRAM), args, dir, LIMIT).map_err(|e| match e {
        RunError::NotStarted(err) => SigningError::OpensslMissing {
            program: PROGRAM.into(),
            reason: err.to_string(),
        },
        RunError::TimedOut => SigningError::TimedOut {
            program: PROGRAM.into(),
            seconds: LIMIT.as_secs(),
        },
        RunError::Wait(err) => SigningError::io("ожидание завершения openssl", err),
    })?;
    if !finished.status.success() {
        let stderr = String::from_utf8_lossy(&finished.stderr);
        if stderr.contains("Invalid engine") || stderr.contains("no such engine") {
            return Err(SigningError::GostEngineMissing {
                detail: process::stderr_text(&finished.stderr),
            });
        }
    }
    Ok(finished)
}

/// The lines of OpenSSL's error stream that say what failed, without its «Engine "gost" set.» chatter.
pub(crate) fn diagnostics(stderr: &[u8]) -> String {
    let text = process::stderr_text(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("Engine \"gost\" set")).collect();
    lines.join("\n")
}

/// Checks that the `openssl` tool runs and its GOST engine computes GOST R 34.11-2012 correctly.
///
/// Returns OpenSSL's version line. Fails with [`SigningError::OpensslMissing`] when the tool is
/// absent and [`SigningError::GostEngineMissing`] (naming the Debian package
/// `libengine-gost-openssl`) when the engine does not load or gives a wrong hash.
pub fn check_engine() -> Result<String, SigningError> {
    let dir = WorkDir::new()?;
    let version = run(&args(["version"]), dir.path())?;
    if !version.status.success() {
        return Err(SigningError::OpensslMissing {
            program: PROGRAM.into(),
            reason: diagnostics(&version.stderr),
        });
    }
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    // Streebog-256 of the empty message, from GOST R 34.11-2012 test vectors as OpenSSL's engine computes it.
    const EMPTY_STREEBOG_256: &str = "3f539a213e97c802cc229d474c6aa32a825a360b2a933a949fd925208d9ce1bb";
    let empty = dir.write("empty", b"")?;
    let digest = run(
        &args([
            OsString::from("dgst"),
            "-engine".into(),
            "gost".into(),
            "-md_gost12_256".into(),
            "-r".into(),
            empty.into(),
        ]),
        dir.path(),
    )?;
    let printed = String::from_utf8_lossy(&digest.stdout);
    if !digest.status.success() || !printed.starts_with(EMPTY_STREEBOG_256) {
        return Err(SigningError::GostEngineMissing {
            detail: diagnostics(&digest.stderr),
        });
    }
    Ok(version)
}

/// What `openssl cms -cmsout -print` tells about a signature before anything is verified.
#[derive(Debug, Default)]
pub(crate) struct CmsSummary {
    /// The encapsulated content is absent: a detached signature.
    pub detached: bool,
    /// Number of SignerInfos.
    pub signers: usize,
    /// Digest algorithm of the first signer: OpenSSL's name and OID.
    pub digest: (String, String),
    /// Signature algorithm of the first signer: OpenSSL's name and OID.
    pub signature_algorithm: (String, String),
    /// The signingTime attribute of the first signer.
    pub signing_time: Option<OffsetDateTime>,
    /// The first signer carries an ESS signingCertificate(V2) attribute (CAdES-BES).
    pub has_signing_certificate_attribute: bool,
}

/// Parses a DER CMS file with OpenSSL; anything it cannot read as CMS SignedData is malformed.
pub(crate) fn cms_summary(signature: &Path, dir: &Path) -> Result<CmsSummary, SigningError> {
    let printed = run(
        &args([
            OsString::from("cms"),
            "-cmsout".into(),
            "-print".into(),
            "-noout".into(),
            "-inform".into(),
            "DER".into(),
            "-in".into(),
            signature.into(),
        ]),
        dir,
    )?;
    if !printed.status.success() {
        return Err(SigningError::MalformedSignature {
            detail: diagnostics(&printed.stderr),
        });
    }
    parse_cms_print(&String::from_utf8_lossy(&printed.stdout))
}

fn parse_cms_print(text: &str) -> Result<CmsSummary, SigningError> {
    let malformed = |detail: &str| SigningError::MalformedSignature {
        detail: detail.to_string(),
    };
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let content_type = lines
        .iter()
        .find_map(|l| l.strip_prefix("contentType:"))
        .unwrap_or_default();
    if !content_type.contains("1.2.840.113549.1.7.2") {
        return Err(malformed("это не подписанные данные (signedData)"));
    }
    let mut summary = CmsSummary {
        detached: lines.contains(&"eContent: <ABSENT>"),
        ..CmsSummary::default()
    };
    let Some(start) = lines.iter().position(|l| *l == "signerInfos:") else {
        return Err(malformed("нет сведений о подписантах (signerInfos)"));
    };
    let signer_lines = &lines[start + 1..];
    summary.signers = signer_lines.iter().filter(|l| **l == "digestAlgorithm:").count();
    if summary.signers == 0 {
        return Err(malformed("в подписи нет ни одного подписанта"));
    }
    // Only the first SignerInfo is described; every one of them is verified by OpenSSL.
    let first_end = signer_lines
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, l)| l.starts_with("version:"))
        .map_or(signer_lines.len(), |(i, _)| i);
    let first = &signer_lines[..first_end];
    summary.digest =
        algorithm_after(first, "digestAlgorithm:").ok_or_else(|| malformed("нет алгоритма хэширования"))?;
    summary.signature_algorithm =
        algorithm_after(first, "signatureAlgorithm:").ok_or_else(|| malformed("нет алгоритма подписи"))?;
    summary.has_signing_certificate_attribute = first.iter().any(|l| l.contains("1.2.840.113549.1.9.16.2.47"))
        || first.iter().any(|l| l.contains("1.2.840.113549.1.9.16.2.12"));
    if let Some(at) = first.iter().position(|l| l.starts_with("object: signingTime")) {
        let value = first[at..]
            .iter()
            .take(4)
            .find_map(|l| {
                l.strip_prefix("UTCTIME:")
                    .or_else(|| l.strip_prefix("GENERALIZEDTIME:"))
            })
            .ok_or_else(|| malformed("атрибут signingTime без значения"))?;
        summary.signing_time = Some(parse_asn1_time(value).ok_or_else(|| malformed("нечитаемое время подписания"))?);
    }
    Ok(summary)
}

/// `algorithm: NAME (OID)` on the line after `header`.
fn algorithm_after(lines: &[&str], header: &str) -> Option<(String, String)> {
    let at = lines.iter().position(|l| *l == header)?;
    let value = lines.get(at + 1)?.strip_prefix("algorithm:")?.trim();
    match value.rsplit_once(" (") {
        Some((name, oid)) => Some((name.to_string(), oid.trim_end_matches(')').to_string())),
        None => Some((value.to_string(), value.to_string())),
    }
}

/// Parses OpenSSL's `ASN1_TIME_print` form: `Nov  3 08:38:38 2026 GMT`, seconds possibly with a fraction.
pub(crate) fn parse_asn1_time(text: &str) -> Option<OffsetDateTime> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [month, day, clock, year, "GMT"] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m == month)?;
    let month = time::Month::try_from(u8::try_from(month + 1).ok()?).ok()?;
    let date = time::Date::from_calendar_date(year.parse().ok()?, month, day.parse().ok()?).ok()?;
    let mut hms = clock.split(':');
    let hour = hms.next()?.parse().ok()?;
    let minute = hms.next()?.parse().ok()?;
    let second: f64 = hms.next()?.parse().ok()?;
    if hms.next().is_some() || !(0.0..61.0).contains(&second) {
        return None;
    }
    // Leap seconds (60) are clamped: a one-second difference never decides validity here.
    let whole = (second.trunc() as u8).min(59);
    let time = time::Time::from_hms(hour, minute, whole).ok()?;
    Some(date.with_time(time).assume_utc())
}

/// The identifying fields of an X.509 certificate.
#[derive(Debug, Clone)]
pub(crate) struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub fingerprint_sha256: String,
    pub pem: String,
}

impl CertificateInfo {
    /// «subject, серийный номер serial» for messages.
    pub fn describe(&self) -> String {
        format!("«{}», серийный номер {}", self.subject, self.serial)
    }
}

/// Reads the first certificate in a PEM or DER file.
pub(crate) fn certificate_info(certificate: &Path, dir: &Path) -> Result<CertificateInfo, SigningError> {
    let cert: OsString = certificate.into();
    let fields = run(
        &args([
            OsString::from("x509"),
            "-in".into(),
            cert.clone(),
            "-noout".into(),
            "-subject".into(),
            "-issuer".into(),
            "-serial".into(),
            "-startdate".into(),
            "-enddate".into(),
            "-fingerprint".into(),
            "-sha256".into(),
            "-nameopt".into(),
            "oneline,-esc_msb,-space_eq".into(),
        ]),
        dir,
    )?;
    if !fields.status.success() {
        return Err(SigningError::BadCertificate {
            detail: diagnostics(&fields.stderr),
        });
    }
    let pem = run(
        &args([
            OsString::from("x509"),
            "-in".into(),
            cert,
            "-outform".into(),
            "PEM".into(),
        ]),
        dir,
    )?;
    if !pem.status.success() {
        return Err(SigningError::BadCertificate {
            detail: diagnostics(&pem.stderr),
        });
    }
    let text = String::from_utf8_lossy(&fields.stdout);
    let field = |prefix: &str| -> Result<String, SigningError> {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .map(|v| v.trim().to_string())
            .ok_or_else(|| SigningError::UnexpectedOutput {
                detail: format!("нет поля {prefix} в описании сертификата"),
            })
    };
    let date = |prefix: &str| -> Result<OffsetDateTime, SigningError> {
        let value = field(prefix)?;
        parse_asn1_time(&value).ok_or_else(|| SigningError::UnexpectedOutput {
            detail: format!("нечитаемая дата сертификата {value}"),
        })
    };
    Ok(CertificateInfo {
        subject: field("subject=")?,
        issuer: field("issuer=")?,
        serial: field("serial=")?,
        not_before: date("notBefore=")?,
        not_after: date("notAfter=")?,
        fingerprint_sha256: field("sha256 Fingerprint=")?.replace(':', ""),
        pem: String::from_utf8_lossy(&pem.stdout).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asn1_times_in_both_paddings_and_with_fractions() {
        let t = parse_asn1_time("Nov  3 08:38:38 2026 GMT").unwrap();
        assert_eq!(
            (t.year(), t.month() as u8, t.day(), t.hour(), t.second()),
            (2026, 11, 3, 8, 38)
        );
        assert!(parse_asn1_time("Jan 21 00:00:00.123 2020 GMT").is_some());
        assert!(parse_asn1_time("Foo 21 00:00:00 2020 GMT").is_none());
        assert!(parse_asn1_time("Jan 21 00:00:00 2020").is_none());
    }

    #[test]
    fn non_signed_data_is_malformed() {
        let err = parse_cms_print("CMS_ContentInfo:\n  contentType: pkcs7-envelopedData (1.2.840.113549.1.7.3)\n");
        assert!(matches!(err, Err(SigningError::MalformedSignature { .. })));
    }
}
