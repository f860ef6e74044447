//! Errors of signing and verification, with messages in Russian for the people who read them.
//! The host stores the message as the «failed» reason of a queued document and shows it as is.

use std::path::PathBuf;

/// Everything that can go wrong while signing or verifying a document.
///
/// The `Display` text is a Russian sentence meant for users and operators; variants stay
/// distinguishable so the host can decide what to retry (a timeout) and what not (a tampered document).
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The `openssl` executable could not be started.
    #[error("Не найден исполняемый файл OpenSSL «{program}» ({reason}). Установите пакет openssl.")]
    OpensslMissing {
        /// Program name or path that was tried.
        program: String,
        /// Why it could not be started.
        reason: String,
    },
    /// OpenSSL runs but the GOST engine is not available to it.
    #[error(
        "OpenSSL не может работать с ГОСТ Р 34.10-2012: не загружается движок gost. \
         Установите пакет libengine-gost-openssl. Ответ OpenSSL: {detail}"
    )]
    GostEngineMissing {
        /// What OpenSSL printed.
        detail: String,
    },
    /// The organisation signs with its own tool and uploads the signature; the server cannot sign.
    #[error("Подпись для этой организации загружается пользователем: сервер не подписывает документы сам")]
    UploadOnly,
    /// The environment variable that must hold the key password is not set.
    #[error("Не задана переменная окружения «{variable}» с паролем ключа подписи")]
    KeyPasswordMissing {
        /// Name of the variable named in the configuration.
        variable: String,
    },
    /// A configured key, certificate or trust-anchor file is missing or unreadable.
    #[error("Файл «{path}» ({what}) недоступен: {reason}")]
    FileUnavailable {
        /// Path from the configuration.
        path: PathBuf,
        /// What the file is for, in Russian («ключ подписи», «сертификат подписанта»…).
        what: &'static str,
        /// The operating system's reason.
        reason: String,
    },
    /// A file of the signer certificate could not be read as an X.509 certificate.
    #[error("Не удалось прочитать сертификат подписанта: {detail}")]
    BadCertificate {
        /// What OpenSSL printed.
        detail: String,
    },
    /// `openssl cms -sign` failed (wrong key for the certificate, wrong password, unreadable key…).
    #[error("Не удалось подписать документ средствами OpenSSL: {detail}")]
    SigningFailed {
        /// What OpenSSL printed.
        detail: String,
    },
    /// The external command template is unusable.
    #[error("Неверный шаблон команды подписи: {reason}")]
    BadCommandTemplate {
        /// What is wrong with it.
        reason: String,
    },
    /// The external signing command could not be started.
    #[error("Не удалось запустить команду подписи «{program}»: {reason}")]
    CommandNotStarted {
        /// The program (first word of the template).
        program: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The external signing command ended with a failure status.
    #[error("Команда подписи «{program}» завершилась с ошибкой ({status}): {stderr}")]
    CommandFailed {
        /// The program (first word of the template).
        program: String,
        /// Exit status as text.
        status: String,
        /// What the command printed to its error stream (trimmed, possibly shortened).
        stderr: String,
    },
    /// A command ran longer than its time limit and was stopped.
    #[error("Команда «{program}» не завершилась за {seconds} с и остановлена")]
    TimedOut {
        /// The program that was stopped.
        program: String,
        /// The limit in seconds.
        seconds: u64,
    },
    /// The external signing command reported success but wrote no signature.
    #[error("Команда подписи «{program}» не создала файл подписи (пустой или отсутствует {{output}})")]
    NoSignatureProduced {
        /// The program (first word of the template).
        program: String,
    },
    /// The bytes are not a CMS (PKCS#7) signature at all.
    #[error("Файл подписи повреждён или не является подписью CMS (PKCS#7): {detail}")]
    MalformedSignature {
        /// What the decoder or OpenSSL reported.
        detail: String,
    },
    /// The signature embeds the document instead of being detached.
    #[error("Подпись содержит сам документ (присоединённая подпись); нужна отсоединённая подпись")]
    NotDetached,
    /// Digest or signature algorithm is not GOST R 34.11-2012 / 34.10-2012.
    #[error("Подпись сделана не по ГОСТ Р 34.10-2012 / 34.11-2012: алгоритм {algorithm}")]
    NotGost {
        /// The algorithm as OpenSSL names it.
        algorithm: String,
    },
    /// The signer's certificate is neither in the signature nor given.
    #[error("В подписи нет сертификата подписанта, и он не указан; загрузите сертификат подписанта")]
    SignerCertificateMissing,
    /// The signature was made by another certificate/key than the expected one.
    #[error("Подпись сделана другим ключом: она не соответствует сертификату подписанта {expected}")]
    WrongSigner {
        /// The expected certificate (subject, serial).
        expected: String,
    },
    /// The document differs from the one that was signed.
    #[error("Подпись не соответствует документу: документ изменён после подписания или подписан другой документ")]
    DocumentModified,
    /// The signature value does not verify with the signer's public key.
    #[error("Подпись недействительна: {detail}")]
    SignatureInvalid {
        /// What OpenSSL printed.
        detail: String,
    },
    /// The signer certificate had expired at the signing time or has expired now.
    #[error("Срок действия сертификата подписанта истёк {not_after} (проверено на {checked_at}, {moment})")]
    CertificateExpired {
        /// End of validity (RFC 3339, UTC).
        not_after: String,
        /// The moment checked (RFC 3339, UTC).
        checked_at: String,
        /// «время подписания» or «текущее время».
        moment: &'static str,
    },
    /// The signer certificate was not yet valid at the signing time or is not valid yet now.
    #[error("Сертификат подписанта ещё не действовал: срок действия начинается {not_before} (проверено на {checked_at}, {moment})")]
    CertificateNotYetValid {
        /// Start of validity (RFC 3339, UTC).
        not_before: String,
        /// The moment checked (RFC 3339, UTC).
        checked_at: String,
        /// «время подписания» or «текущее время».
        moment: &'static str,
    },
    /// The signer certificate does not chain to the configured trust anchor.
    #[error("Сертификат подписанта не подтверждён доверенным удостоверяющим центром: {detail}")]
    UntrustedCertificate {
        /// What OpenSSL printed.
        detail: String,
    },
    /// The signing-certificate attribute (CAdES-BES) does not match the signer certificate.
    #[error("Атрибут signingCertificate подписи (CAdES-BES) не соответствует сертификату подписанта: {detail}")]
    SigningCertificateAttributeMismatch {
        /// What OpenSSL printed.
        detail: String,
    },
    /// OpenSSL printed something this library could not understand.
    #[error("Непонятный ответ OpenSSL: {detail}")]
    UnexpectedOutput {
        /// What was expected and what came.
        detail: String,
    },
    /// A local input/output failure (temporary directory, temporary files).
    #[error("Ошибка ввода-вывода ({context}): {reason}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The operating system's reason.
        reason: String,
    },
}

impl SigningError {
    /// Whether trying again later may succeed (a stopped or failed external tool, a local I/O failure)
    /// rather than never (a tampered document, a wrong or expired certificate, garbage bytes).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SigningError::TimedOut { .. }
                | SigningError::CommandFailed { .. }
                | SigningError::CommandNotStarted { .. }
                | SigningError::Io { .. }
        )
    }

    pub(crate) fn io(context: &'static str, err: std::io::Error) -> Self {
        SigningError::Io {
            context,
            reason: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_engine_names_the_debian_package() {
        let text = SigningError::GostEngineMissing {
            detail: "Invalid engine \"gost\"".into(),
        }
        .to_string();
        assert!(text.contains("libengine-gost-openssl"), "{text}");
        let text = SigningError::NoSignatureProduced {
            program: "cryptcp".into(),
        }
        .to_string();
        assert!(text.contains("{output}"), "{text}");
    }
}
