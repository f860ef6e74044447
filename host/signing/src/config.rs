//! Signing providers as an organisation's configuration names them (serde, e.g. from TOML).
//! Paths point at files on the server; no secret ever appears in the configuration itself.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How one organisation's documents get their signature.
///
/// Deserialized with a `provider` tag:
///
/// ```
/// # use ipra_signing::{Provider, GostDigest};
/// let gost: Provider = toml::from_str(r#"
///     provider = "gost"
///     key = "/var/lib/ipra/keys/1027700000000.key"
///     certificate = "/var/lib/ipra/keys/1027700000000.cer"
///     key_password_env = "IPRA_SIGNING_KEY_PASSWORD"
///     digest = "streebog512"
/// "#).unwrap();
/// assert!(matches!(gost, Provider::Gost(ref c) if c.digest == GostDigest::Streebog512));
///
/// let cryptopro: Provider = toml::from_str(r#"
///     provider = "external-command"
///     command = "/opt/cprocsp/bin/amd64/cryptcp -sign -detached -der -thumbprint 0123abcd {input} {output}"
///     certificate = "/var/lib/ipra/keys/1027700000000.cer"
///     timeout_seconds = 120
/// "#).unwrap();
/// assert!(matches!(cryptopro, Provider::ExternalCommand(_)));
///
/// let upload: Provider = toml::from_str(r#"provider = "upload""#).unwrap();
/// assert!(matches!(upload, Provider::Upload(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "kebab-case")]
pub enum Provider {
    /// GOST R 34.10-2012 detached CMS made on the server by OpenSSL with the GOST engine.
    Gost(GostConfig),
    /// Any command-line signing tool (CryptoPro `cryptcp`, ViPNet, …) run without a shell.
    ExternalCommand(CommandConfig),
    /// The signer makes a detached signature with their own tool and uploads it; the server only verifies.
    Upload(UploadConfig),
}

impl Provider {
    /// The options [`crate::verify`] must use for signatures of this provider: the configured signer
    /// certificate (so a signature by any other key is refused) and trust anchor.
    pub fn verify_options(&self) -> crate::VerifyOptions {
        match self {
            Provider::Gost(c) => crate::VerifyOptions {
                signer_certificate: Some(c.certificate.clone()),
                ca_file: c.ca_file.clone(),
                allow_non_gost: false,
            },
            Provider::ExternalCommand(c) => crate::VerifyOptions {
                signer_certificate: c.certificate.clone(),
                ca_file: c.ca_file.clone(),
                allow_non_gost: false,
            },
            Provider::Upload(c) => crate::VerifyOptions {
                signer_certificate: None,
                ca_file: c.ca_file.clone(),
                allow_non_gost: false,
            },
        }
    }
}

/// The organisation's GOST key and certificate on the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GostConfig {
    /// Private key file (PEM, as `openssl genpkey -engine gost` writes it), readable only by the server.
    pub key: PathBuf,
    /// The signer's X.509 certificate (PEM or DER).
    pub certificate: PathBuf,
    /// Name of an environment variable holding the key's password, if the key is encrypted.
    /// OpenSSL reads it itself (`-passin env:NAME`); the password is never on a command line.
    #[serde(default)]
    pub key_password_env: Option<String>,
    /// A file whose first line is the key's password (`-passin file:PATH`), as an alternative to the variable.
    #[serde(default)]
    pub key_password_file: Option<PathBuf>,
    /// Hash function: GOST R 34.11-2012 with 256 or 512 bits; must match the key size.
    #[serde(default)]
    pub digest: GostDigest,
    /// Trust anchor(s) (PEM bundle of CA certificates) the signer certificate must chain to.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// GOST R 34.11-2012 («Стрибог») hash length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GostDigest {
    /// 256-bit hash, for GOST R 34.10-2012 keys of 256 bits (`gost2012_256`).
    #[default]
    Streebog256,
    /// 512-bit hash, for GOST R 34.10-2012 keys of 512 bits (`gost2012_512`).
    Streebog512,
}

impl GostDigest {
    /// The digest's name for the OpenSSL GOST engine (`-md …`).
    pub fn openssl_name(self) -> &'static str {
        match self {
            GostDigest::Streebog256 => "md_gost12_256",
            GostDigest::Streebog512 => "md_gost12_512",
        }
    }
}

/// An external signing tool, given as a command template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// The command with placeholders `{input}` (the document file), `{output}` (where the tool must
    /// write the detached signature, DER or base64) and `{certificate}` (the `certificate` below).
    /// Either one string split like a POSIX shell would (quotes and backslashes, no expansion, no
    /// pipes) or a list of arguments. It is executed directly, never through a shell.
    pub command: CommandLine,
    /// The signer's certificate: substituted for `{certificate}` and used to verify the signature.
    #[serde(default)]
    pub certificate: Option<PathBuf>,
    /// Trust anchor(s) (PEM bundle of CA certificates) the signer certificate must chain to.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Time limit; the tool (and whatever it started) is killed after it.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
}

fn default_timeout_seconds() -> u64 {
    60
}

/// A command as one string or as an argument list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CommandLine {
    /// One string, split into arguments with POSIX shell quoting rules (but never run by a shell).
    Line(String),
    /// Program and arguments, taken as they are.
    Argv(Vec<String>),
}

/// Settings for signatures uploaded by their signers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadConfig {
    /// Trust anchor(s) (PEM bundle of CA certificates) the signer certificate must chain to.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}
