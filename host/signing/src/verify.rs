//! Verification of a detached CMS signature over a document, and what it proves about the signer.
//! Every signature, whoever made it, passes here before the host may mark a document «signed».

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::SigningError;
use crate::openssl::{self, args, diagnostics, CertificateInfo, CmsSummary};
use crate::workdir::{require_readable, WorkDir};

/// What a signature is checked against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// The certificate the signature must have been made with (PEM or DER). When set, certificates
    /// carried inside the signature are ignored for finding the signer (`-nointern`), so a signature by
    /// any other key fails with [`SigningError::WrongSigner`]. When unset, the certificate carried in the
    /// signature is used and reported.
    pub signer_certificate: Option<PathBuf>,
    /// Trust anchor(s): PEM bundle of CA certificates the signer certificate must chain to. When unset,
    /// no chain is built (nothing is said about who issued the certificate).
    pub ca_file: Option<PathBuf>,
    /// Accept digest and signature algorithms other than GOST R 34.11-2012 / 34.10-2012.
    pub allow_non_gost: bool,
}

/// A verified signature: who signed, with which certificate and algorithm, and when.
///
/// Times are RFC 3339 in UTC (`2026-11-23T08:38:38Z`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    /// Subject of the signer certificate, OpenSSL one-line form (`CN=…, O=…`), UTF-8.
    pub subject: String,
    /// Issuer of the signer certificate, same form.
    pub issuer: String,
    /// Serial number of the signer certificate, upper-case hexadecimal.
    pub serial: String,
    /// Start of the certificate's validity.
    pub not_before: String,
    /// End of the certificate's validity.
    pub not_after: String,
    /// SHA-256 of the certificate's DER, upper-case hexadecimal: identifies the certificate for storage.
    pub certificate_sha256: String,
    /// The signer certificate in PEM, for the host to keep with the signature.
    pub certificate_pem: String,
    /// Digest algorithm as OpenSSL names it (`GOST R 34.11-2012 with 256 bit hash`).
    pub digest: String,
    /// Digest algorithm OID (`1.2.643.7.1.1.2.2` or `1.2.643.7.1.1.2.3` for GOST).
    pub digest_oid: String,
    /// Signature algorithm as OpenSSL names it (`GOST R 34.10-2012 with 256 bit modulus`).
    pub signature_algorithm: String,
    /// The signingTime attribute as the signer's tool wrote it, if present (not a trusted timestamp).
    pub signing_time: Option<String>,
    /// The signer certificate was checked to chain to the configured trust anchor.
    pub chain_verified: bool,
    /// Number of signers in the signature; all were verified, the fields above describe the first.
    pub signers: usize,
}

/// Turns what a signer uploaded or a tool wrote into DER: DER as is, PEM (`-----BEGIN CMS-----`,
/// `PKCS7`, `SIGNED MESSAGE`…) or bare base64 (what `cryptcp` writes without `-der`) decoded.
pub fn signature_der(bytes: &[u8]) -> Result<Vec<u8>, SigningError> {
    let malformed = |detail: &str| SigningError::MalformedSignature {
        detail: detail.to_string(),
    };
    match bytes.first() {
        None => Err(malformed("файл подписи пуст")),
        // A DER SEQUENCE: leave the rest to OpenSSL.
        Some(0x30) => Ok(bytes.to_vec()),
        Some(_) => {
            let text = std::str::from_utf8(bytes).map_err(|_| malformed("не DER и не текст base64"))?;
            let body: String = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("-----"))
                .flat_map(|l| l.chars())
                .filter(|c| !c.is_whitespace())
                .collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(body.as_bytes())
                .map_err(|e| malformed(&format!("не DER и не base64 ({e})")))?;
            if der.first() != Some(&0x30) {
                return Err(malformed("после декодирования base64 получена не структура DER"));
            }
            Ok(der)
        }
    }
}

/// Verifies a detached CMS signature over `data` and returns the signer's details.
///
/// What is checked, in this order (the first failure is returned):
/// 1. the bytes are a CMS SignedData (DER, PEM or base64, see [`signature_der`]), else
///    [`SigningError::MalformedSignature`]; the document is not embedded ([`SigningError::NotDetached`]);
/// 2. the digest and signature algorithms are GOST R 34.11-2012 / 34.10-2012 unless
///    [`VerifyOptions::allow_non_gost`] ([`SigningError::NotGost`]);
/// 3. OpenSSL (`cms -verify -noverify`) verifies every signer: the messageDigest attribute equals the
///    digest of `data` ([`SigningError::DocumentModified`]) and the signature over the signed attributes
///    verifies with the signer certificate's public key ([`SigningError::SignatureInvalid`]); the signer
///    certificate is the configured one when [`VerifyOptions::signer_certificate`] is set
///    ([`SigningError::WrongSigner`]), else the one inside the signature
///    ([`SigningError::SignerCertificateMissing`]). `-noverify` skips only the certificate chain;
/// 4. the signer certificate's validity period contains the signingTime attribute, when present, and the
///    current time ([`SigningError::CertificateExpired`], [`SigningError::CertificateNotYetValid`]);
/// 5. with [`VerifyOptions::ca_file`], the signer certificate chains to those anchors at the current time,
///    certificates inside the signature serving as intermediates, any key purpose accepted
///    ([`SigningError::UntrustedCertificate`]);
/// 6. when the signature carries a CAdES-BES signingCertificate(V2) attribute, it names the signer
///    certificate ([`SigningError::SigningCertificateAttributeMismatch`]).
///
/// Not checked: revocation (no CRL or OCSP), qualified-certificate policies, key usage, and the
/// trustworthiness of signingTime (it is the signer's own claim, not a timestamp).
pub fn verify(data: &[u8], signature: &[u8], opts: &VerifyOptions) -> Result<Verified, SigningError> {
    verify_at(data, signature, opts, OffsetDateTime::now_utc())
}

pub(crate) fn verify_at(
    data: &[u8],
    signature: &[u8],
    opts: &VerifyOptions,
    now: OffsetDateTime,
) -> Result<Verified, SigningError> {
    let der = signature_der(signature)?;
    if let Some(cert) = &opts.signer_certificate {
        require_readable(cert, "сертификат подписанта")?;
    }
    if let Some(ca) = &opts.ca_file {
        require_readable(ca, "сертификаты доверенных УЦ")?;
    }
    let dir = WorkDir::new()?;
    let data_path = dir.write("document", data)?;
    let signature_path = dir.write("signature.der", &der)?;

    let summary = openssl::cms_summary(&signature_path, dir.path())?;
    if !summary.detached {
        return Err(SigningError::NotDetached);
    }
    if !opts.allow_non_gost {
        require_gost(&summary)?;
    }

    let expected = match &opts.signer_certificate {
        Some(cert) => Some(openssl::certificate_info(cert, dir.path())?),
        None => None,
    };
    let signer_file = dir.file("signer.pem");
    let mut check = verify_args(&data_path, &signature_path, opts, &dir);
    check.extend(args([
        OsString::from("-noverify"),
        "-signer".into(),
        signer_file.clone().into(),
    ]));
    let outcome = openssl::run(&check, dir.path())?;
    if !outcome.status.success() {
        return Err(classify_failure(&diagnostics(&outcome.stderr), expected.as_ref()));
    }
    let signer = openssl::certificate_info(&signer_file, dir.path())?;

    if let Some(signed_at) = summary.signing_time {
        check_validity(&signer, signed_at, "время подписания")?;
    }
    check_validity(&signer, now, "текущее время")?;

    let mut chain_verified = false;
    if let Some(ca) = &opts.ca_file {
        let mut chain = verify_args(&data_path, &signature_path, opts, &dir);
        chain.extend(args([
            OsString::from("-CAfile"),
            ca.into(),
            "-purpose".into(),
            "any".into(),
        ]));
        if summary.has_signing_certificate_attribute {
            chain.push("-cades".into());
        }
        let outcome = openssl::run(&chain, dir.path())?;
        if !outcome.status.success() {
            let detail = diagnostics(&outcome.stderr);
            return Err(if is_ess_failure(&detail) {
                SigningError::SigningCertificateAttributeMismatch { detail }
            } else {
                SigningError::UntrustedCertificate {
                    detail: verify_error_reason(&detail),
                }
            });
        }
        chain_verified = true;
    } else if summary.has_signing_certificate_attribute {
        // OpenSSL checks the CAdES attribute only while building a chain; with the (already
        // verified) signer certificate as its own partial-chain anchor, that check is all that remains.
        let mut cades = verify_args(&data_path, &signature_path, opts, &dir);
        cades.extend(args([
            OsString::from("-CAfile"),
            signer_file.into(),
            "-partial_chain".into(),
            "-purpose".into(),
            "any".into(),
            "-cades".into(),
        ]));
        let outcome = openssl::run(&cades, dir.path())?;
        if !outcome.status.success() {
            return Err(SigningError::SigningCertificateAttributeMismatch {
                detail: diagnostics(&outcome.stderr),
            });
        }
    }

    Ok(Verified {
        subject: signer.subject,
        issuer: signer.issuer,
        serial: signer.serial,
        not_before: rfc3339(signer.not_before),
        not_after: rfc3339(signer.not_after),
        certificate_sha256: signer.fingerprint_sha256,
        certificate_pem: signer.pem,
        digest: summary.digest.0,
        digest_oid: summary.digest.1,
        signature_algorithm: summary.signature_algorithm.0,
        signing_time: summary.signing_time.map(rfc3339),
        chain_verified,
        signers: summary.signers,
    })
}

/// `openssl cms -verify` over the document, with the expected signer certificate when configured.
fn verify_args(data: &Path, signature: &Path, opts: &VerifyOptions, dir: &WorkDir) -> Vec<OsString> {
    let mut list = args([
        OsString::from("cms"),
        "-verify".into(),
        "-engine".into(),
        "gost".into(),
        "-binary".into(),
        "-inform".into(),
        "DER".into(),
        "-in".into(),
        signature.into(),
        "-content".into(),
        data.into(),
        "-out".into(),
        dir.file("content.out").into(),
    ]);
    if let Some(cert) = &opts.signer_certificate {
        list.extend(args([OsString::from("-certfile"), cert.into(), "-nointern".into()]));
    }
    list
}

/// GOST R 34.11-2012 digests (256, 512) and GOST R 34.10-2012 signature algorithms, by OID.
fn require_gost(summary: &CmsSummary) -> Result<(), SigningError> {
    const GOST_DIGESTS: [&str; 2] = ["1.2.643.7.1.1.2.2", "1.2.643.7.1.1.2.3"];
    // Key algorithms (1.1.1.x) as most tools write them, or signature-with-digest (1.1.3.x).
    const GOST_SIGNATURE_PREFIXES: [&str; 2] = ["1.2.643.7.1.1.1.", "1.2.643.7.1.1.3."];
    let (digest_name, digest_oid) = &summary.digest;
    if !GOST_DIGESTS.contains(&digest_oid.as_str()) {
        return Err(SigningError::NotGost {
            algorithm: format!("{digest_name} ({digest_oid})"),
        });
    }
    let (signature_name, signature_oid) = &summary.signature_algorithm;
    if !GOST_SIGNATURE_PREFIXES.iter().any(|p| signature_oid.starts_with(p)) {
        return Err(SigningError::NotGost {
            algorithm: format!("{signature_name} ({signature_oid})"),
        });
    }
    Ok(())
}

fn classify_failure(detail: &str, expected: Option<&CertificateInfo>) -> SigningError {
    if detail.contains("signer certificate not found") {
        return match expected {
            Some(cert) => SigningError::WrongSigner {
                expected: cert.describe(),
            },
            None => SigningError::SignerCertificateMissing,
        };
    }
    // The messageDigest attribute does not match the document.
    if detail.contains("CMS_SignerInfo_verify_content") || detail.contains("content verify error") {
        return SigningError::DocumentModified;
    }
    SigningError::SignatureInvalid {
        detail: detail.to_string(),
    }
}

fn is_ess_failure(detail: &str) -> bool {
    let lower = detail.to_lowercase();
    lower.contains("ess ") || lower.contains("signing cert")
}

/// The `Verify error: …` part of OpenSSL's chain failure, or everything.
fn verify_error_reason(detail: &str) -> String {
    detail
        .lines()
        .find_map(|l| {
            l.split_once("Verify error:")
                .map(|(_, reason)| reason.trim().to_string())
        })
        .unwrap_or_else(|| detail.to_string())
}

fn check_validity(cert: &CertificateInfo, at: OffsetDateTime, moment: &'static str) -> Result<(), SigningError> {
    if at < cert.not_before {
        return Err(SigningError::CertificateNotYetValid {
            not_before: rfc3339(cert.not_before),
            checked_at: rfc3339(at),
            moment,
        });
    }
    if at > cert.not_after {
        return Err(SigningError::CertificateExpired {
            not_after: rfc3339(cert.not_after),
            checked_at: rfc3339(at),
            moment,
        });
    }
    Ok(())
}

fn rfc3339(at: OffsetDateTime) -> String {
    // Whole seconds in UTC always format; the fallback only keeps this total.
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_passes_and_base64_and_pem_decode() {
        assert_eq!(
            signature_der(&[0x30, 0x03, 1, 2, 3]).unwrap(),
            vec![0x30, 0x03, 1, 2, 3]
        );
        assert_eq!(signature_der(b"MAMBAgM=\n").unwrap(), vec![0x30, 0x03, 1, 2, 3]);
        let pem = b"-----BEGIN CMS-----\nMAMB\nAgM=\n-----END CMS-----\n";
        assert_eq!(signature_der(pem).unwrap(), vec![0x30, 0x03, 1, 2, 3]);
    }

    #[test]
    fn garbage_and_empty_are_malformed() {
        for bad in [&b""[..], b"\xff\xfe garbage", b"not base64 at all!", b"AAAA"] {
            assert!(
                matches!(signature_der(bad), Err(SigningError::MalformedSignature { .. })),
                "{bad:?}"
            );
        }
    }
}
