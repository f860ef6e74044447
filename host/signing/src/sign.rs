//! Making a detached signature with the organisation's provider, then verifying it before returning it.
//! A provider's output is never trusted: what comes back from [`sign`] has passed [`crate::verify`].

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{CommandConfig, CommandLine, GostConfig, Provider};
use crate::error::SigningError;
use crate::openssl::{self, args, diagnostics};
use crate::process::{self, RunError};
use crate::verify::{signature_der, verify, Verified};
use crate::workdir::{require_readable, WorkDir};

/// A document's detached signature together with what its verification established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    /// The detached CMS signature, DER.
    pub signature: Vec<u8>,
    /// The signer and algorithm, as [`crate::verify`] found them.
    pub verified: Verified,
}

/// Signs `data` with the provider and verifies the result with [`Provider::verify_options`].
///
/// [`Provider::Upload`] fails with [`SigningError::UploadOnly`]: the signer uploads the signature and
/// the host calls [`crate::verify`] on it.
pub fn sign(provider: &Provider, data: &[u8]) -> Result<Signed, SigningError> {
    let signature = match provider {
        Provider::Gost(config) => sign_gost(config, data)?,
        Provider::ExternalCommand(config) => sign_with_command(config, data)?,
        Provider::Upload(_) => return Err(SigningError::UploadOnly),
    };
    let verified = verify(data, &signature, &provider.verify_options())?;
    Ok(Signed { signature, verified })
}

/// CAdES-BES detached CMS by `openssl cms -sign -engine gost`.
fn sign_gost(config: &GostConfig, data: &[u8]) -> Result<Vec<u8>, SigningError> {
    require_readable(&config.key, "ключ подписи")?;
    require_readable(&config.certificate, "сертификат подписанта")?;
    let mut list = args([
        OsString::from("cms"),
        "-sign".into(),
        "-engine".into(),
        "gost".into(),
        "-binary".into(),
        "-outform".into(),
        "DER".into(),
        "-md".into(),
        config.digest.openssl_name().into(),
        // No S/MIME capabilities list; the ESS signingCertificateV2 attribute makes it CAdES-BES.
        "-nosmimecap".into(),
        "-cades".into(),
        "-signer".into(),
        config.certificate.clone().into(),
        "-inkey".into(),
        config.key.clone().into(),
    ]);
    // Only a reference to the password goes on the command line; OpenSSL reads the value itself.
    if let Some(variable) = &config.key_password_env {
        if std::env::var_os(variable).is_none() {
            return Err(SigningError::KeyPasswordMissing {
                variable: variable.clone(),
            });
        }
        list.extend(args(["-passin".to_string(), format!("env:{variable}")]));
    } else if let Some(file) = &config.key_password_file {
        require_readable(file, "пароль ключа подписи")?;
        let mut reference = OsString::from("file:");
        reference.push(file);
        list.extend([OsString::from("-passin"), reference]);
    }
    let dir = WorkDir::new()?;
    let input = dir.write("document", data)?;
    list.extend(args([
        OsString::from("-in"),
        input.into(),
        "-out".into(),
        dir.file("signature.der").into(),
    ]));
    let outcome = openssl::run(&list, dir.path())?;
    if !outcome.status.success() {
        return Err(SigningError::SigningFailed {
            detail: diagnostics(&outcome.stderr),
        });
    }
    match dir.read("signature.der")? {
        Some(signature) if !signature.is_empty() => Ok(signature),
        _ => Err(SigningError::SigningFailed {
            detail: "OpenSSL не записал файл подписи".into(),
        }),
    }
}

/// Runs the configured tool on files in a private directory and reads the signature it wrote.
fn sign_with_command(config: &CommandConfig, data: &[u8]) -> Result<Vec<u8>, SigningError> {
    if let Some(cert) = &config.certificate {
        require_readable(cert, "сертификат подписанта")?;
    }
    let dir = WorkDir::new()?;
    let input = dir.write("document", data)?;
    let output = dir.file("document.sig");
    let argv = command_argv(&config.command, &input, &output, config.certificate.as_deref())?;
    let Some((program, rest)) = argv.split_first() else {
        return Err(SigningError::BadCommandTemplate {
            reason: "команда пуста".into(),
        });
    };
    let name = program.to_string_lossy().into_owned();
    let limit = Duration::from_secs(config.timeout_seconds.max(1));
    let outcome = process::run(program, rest, dir.path(), limit).map_err(|e| match e {
        RunError::NotStarted(err) => SigningError::CommandNotStarted {
            program: name.clone(),
            reason: err.to_string(),
        },
        RunError::TimedOut => SigningError::TimedOut {
            program: name.clone(),
            seconds: limit.as_secs(),
        },
        RunError::Wait(err) => SigningError::io("ожидание завершения команды подписи", err),
    })?;
    if !outcome.status.success() {
        // Some tools (cryptcp among them) report errors on stdout.
        let stream = if outcome.stderr.iter().all(u8::is_ascii_whitespace) {
            &outcome.stdout
        } else {
            &outcome.stderr
        };
        return Err(SigningError::CommandFailed {
            program: name,
            status: process::status_text(&outcome.status),
            stderr: process::stderr_text(stream),
        });
    }
    match dir.read("document.sig")? {
        Some(bytes) if !bytes.is_empty() => signature_der(&bytes),
        _ => Err(SigningError::NoSignatureProduced { program: name }),
    }
}

/// Splits the template into arguments first, then substitutes placeholders inside each argument, so a
/// path can never turn into extra arguments; there is no shell to interpret anything.
fn command_argv(
    command: &CommandLine,
    input: &Path,
    output: &Path,
    certificate: Option<&Path>,
) -> Result<Vec<OsString>, SigningError> {
    let bad = |reason: String| SigningError::BadCommandTemplate { reason };
    let words = match command {
        CommandLine::Line(line) => {
            shlex::split(line).ok_or_else(|| bad("незакрытая кавычка или обратная косая черта в конце".into()))?
        }
        CommandLine::Argv(words) => words.clone(),
    };
    if words.first().is_none_or(|program| program.is_empty()) {
        return Err(bad("команда пуста".into()));
    }
    for required in ["{input}", "{output}"] {
        if !words.iter().any(|w| w.contains(required)) {
            return Err(bad(format!("нет обязательного параметра {required}")));
        }
    }
    words
        .iter()
        .map(|word| substitute(word, input, output, certificate).map_err(bad))
        .collect()
}

/// Replaces `{input}`, `{output}`, `{certificate}` in one argument; any other `{name}` is a typo.
fn substitute(word: &str, input: &Path, output: &Path, certificate: Option<&Path>) -> Result<OsString, String> {
    let mut result = OsString::new();
    let mut rest = word;
    while let Some(open) = rest.find('{') {
        let (before, from_brace) = rest.split_at(open);
        result.push(before);
        let placeholder = from_brace.find('}').map(|close| &from_brace[..=close]);
        let name = placeholder.map(|p| &p[1..p.len() - 1]);
        match name {
            Some("input") => result.push(input),
            Some("output") => result.push(output),
            Some("certificate") => match certificate {
                Some(cert) => result.push(cert),
                None => return Err("в шаблоне есть {certificate}, но сертификат (certificate) не задан".into()),
            },
            Some(other) if !other.is_empty() && other.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                return Err(format!(
                    "неизвестный параметр {{{other}}}; допустимы {{input}}, {{output}}, {{certificate}}"
                ));
            }
            // A literal brace, not a placeholder.
            _ => {
                result.push("{");
                rest = &from_brace[1..];
                continue;
            }
        }
        rest = &from_brace[placeholder.map_or(1, str::len)..];
    }
    result.push(rest);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn argv(template: &str, certificate: Option<&str>) -> Result<Vec<String>, SigningError> {
        let cert = certificate.map(PathBuf::from);
        command_argv(
            &CommandLine::Line(template.into()),
            Path::new("/tmp/x/doc file"),
            Path::new("/tmp/x/doc.sig"),
            cert.as_deref(),
        )
        .map(|v| v.into_iter().map(|a| a.to_string_lossy().into_owned()).collect())
    }

    #[test]
    fn placeholders_are_substituted_inside_single_arguments() {
        let got = argv(
            "tool -in {input} --out={output} 'a b' -c {certificate} {x",
            Some("/c.cer"),
        )
        .unwrap();
        assert_eq!(
            got,
            [
                "tool",
                "-in",
                "/tmp/x/doc file",
                "--out=/tmp/x/doc.sig",
                "a b",
                "-c",
                "/c.cer",
                "{x"
            ]
        );
    }

    #[test]
    fn template_mistakes_are_reported() {
        for (template, cert) in [
            ("tool {input}", None),
            ("tool {input} {outptu} {output}", None),
            ("tool {input} {output} {certificate}", None),
            ("tool 'unclosed {input} {output}", None),
            ("", None),
        ] {
            assert!(
                matches!(argv(template, cert), Err(SigningError::BadCommandTemplate { .. })),
                "{template}"
            );
        }
    }
}
