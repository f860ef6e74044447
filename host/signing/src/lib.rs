//! Signing library of the IPRA host's signing queue: detached GOST R 34.10-2012 CMS signatures made on
//! the server (OpenSSL GOST engine), by an external tool (CryptoPro, ViPNet) or uploaded, always verified.
//!
//! The host keeps documents «awaiting signature» → «signed» → «sent», or «failed» with the reason; this
//! crate does the cryptography and nothing else (no database, no queue, no network). It runs the
//! `openssl` command-line tool with the GOST engine (Debian package `libengine-gost-openssl`) as a
//! subprocess; documents, signatures and certificates reach it only as files in a private temporary
//! directory, never as command-line text.
//!
//! - [`sign`] signs with an organisation's [`Provider`] and verifies the result before returning it;
//! - [`verify`] checks any detached signature (for example one a signer uploaded) and returns the
//!   [`Verified`] signer details the host stores next to the document;
//! - [`check_engine`] tells at start-up whether OpenSSL with the GOST engine is usable.
//!
//! ```no_run
//! use ipra_signing::{check_engine, sign, verify, GostConfig, GostDigest, Provider};
//!
//! check_engine()?;
//! let provider = Provider::Gost(GostConfig {
//!     key: "/var/lib/ipra/keys/org.key".into(),
//!     certificate: "/var/lib/ipra/keys/org.cer".into(),
//!     key_password_env: None,
//!     key_password_file: None,
//!     digest: GostDigest::Streebog256,
//!     ca_file: None,
//! });
//! let report = b"<report/>";
//! let signed = sign(&provider, report)?;
//! // Later, before sending, verify again what is stored.
//! let again = verify(report, &signed.signature, &provider.verify_options())?;
//! assert_eq!(again.serial, signed.verified.serial);
//! # Ok::<(), ipra_signing::SigningError>(())
//! ```

mod config;
mod error;
mod openssl;
mod process;
mod sign;
mod verify;
mod workdir;

pub use config::{CommandConfig, CommandLine, GostConfig, GostDigest, Provider, UploadConfig};
pub use error::SigningError;
pub use openssl::check_engine;
pub use sign::{sign, Signed};
pub use verify::{signature_der, verify, Verified, VerifyOptions};
