//! The signing queue: reports awaiting signature are signed by the provider configured for the
//! reporting organisation (GOST through OpenSSL, an external command) or by a detached signature
//! the signer uploads; every signature is verified before the report is marked signed.

use crate::app::App;
use crate::db::now;
use anyhow::{bail, Context, Result};
use ipra_signing::{Provider, Verified};
use serde::Deserialize;
use sqlx::FromRow;
use std::collections::BTreeMap;

/// `[signing]` of ipra.toml (formerly `DATA_DIR/signing.toml`): one provider per organisation (by OGRN).
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    #[serde(default)]
    pub organisations: BTreeMap<String, Provider>,
}

/// The signing providers: `[signing]` of the configuration, else the older `signing.toml` of the
/// data directory (read with a warning at start, see `config::legacy_files`).
pub fn load_config(app: &App) -> Result<SigningConfig> {
    if let Some(signing) = &crate::config::current().config.signing {
        return Ok(signing.clone());
    }
    let path = app.data_dir.join("signing.toml");
    if !path.exists() {
        return Ok(SigningConfig::default());
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("чтение {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("настройки подписи {} не разобраны", path.display()))
}

fn provider_name(provider: &Provider) -> &'static str {
    match provider {
        Provider::Gost(_) => "gost",
        Provider::ExternalCommand(_) => "external-command",
        Provider::Upload(_) => "upload",
    }
}

async fn record_attempt(app: &App, report: i64, provider: &str, ok: bool, detail: &str, actor: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO signing_attempts (report_id, provider, status, detail, actor, at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(report)
    .bind(provider)
    .bind(if ok { "signed" } else { "failed" })
    .bind(detail)
    .bind(actor)
    .bind(now())
    .execute(&app.db.pool)
    .await?;
    Ok(())
}

async fn provider_for(app: &App, report_id: i64) -> Result<(Provider, Vec<u8>)> {
    let report = crate::register::execution::report(app, report_id)
        .await?
        .context("отчёт не найден")?;
    if report.status != "awaiting-signature" {
        bail!(
            "отчёт {report_id} в статусе «{}»: подписать можно только ожидающий подписания",
            crate::register::execution::status_label(&report.status)
        );
    }
    let config = load_config(app)?;
    let provider = config
        .organisations
        .get(&report.reporter_ogrn)
        .cloned()
        .with_context(|| {
            format!(
                "для организации {} не настроен способ подписи (раздел [signing.organisations.{0}] файла настроек ipra.toml)",
                report.reporter_ogrn
            )
        })?;
    let (_, document, _) = crate::register::execution::report_document(app, report_id)
        .await?
        .context("отчёт не найден")?;
    Ok((provider, document))
}

async fn attach(
    app: &App,
    report_id: i64,
    signature: &[u8],
    verified: &Verified,
    provider: &str,
    actor: &str,
) -> Result<()> {
    let signer = format!("{} (серийный номер {})", verified.subject, verified.serial);
    crate::register::execution::attach_signature(app, report_id, signature, &signer, actor).await?;
    crate::crashpoint::here("signing.attached");
    sqlx::query("UPDATE reports SET signature_info = $1 WHERE id = $2")
        .bind(serde_json::to_string(verified)?)
        .bind(report_id)
        .execute(&app.db.pool)
        .await?;
    record_attempt(app, report_id, provider, true, &signer, actor).await
}

/// Signs a report with the reporting organisation's configured provider; the signature is verified
/// (with the certificate's validity dates) before the report is marked signed.
pub async fn sign_report(app: &App, report_id: i64, actor: &str) -> Result<Verified> {
    let (provider, document) = provider_for(app, report_id).await?;
    let name = provider_name(&provider);
    let signing = provider.clone();
    let signed = tokio::task::spawn_blocking(move || ipra_signing::sign(&signing, &document)).await?;
    match signed {
        Ok(signed) => {
            attach(app, report_id, &signed.signature, &signed.verified, name, actor).await?;
            Ok(signed.verified)
        }
        Err(e) => {
            record_attempt(app, report_id, name, false, &e.to_string(), actor).await?;
            bail!("отчёт {report_id} не подписан: {e}")
        }
    }
}

/// Verifies a detached signature made by the signer's own tool and, when it holds, attaches it.
pub async fn upload_signature(app: &App, report_id: i64, signature: &[u8], actor: &str) -> Result<Verified> {
    let (provider, document) = provider_for(app, report_id).await?;
    let options = provider.verify_options();
    let der = ipra_signing::signature_der(signature);
    let sig = match der {
        Ok(der) => der,
        Err(e) => {
            record_attempt(app, report_id, "upload", false, &e.to_string(), actor).await?;
            bail!("подпись отчёта {report_id} не принята: {e}");
        }
    };
    let checked = sig.clone();
    let verified = tokio::task::spawn_blocking(move || ipra_signing::verify(&document, &checked, &options)).await?;
    match verified {
        Ok(verified) => {
            attach(app, report_id, &sig, &verified, "upload", actor).await?;
            Ok(verified)
        }
        Err(e) => {
            record_attempt(app, report_id, "upload", false, &e.to_string(), actor).await?;
            bail!("подпись отчёта {report_id} не принята: {e}")
        }
    }
}

#[derive(Debug, serde::Serialize, sqlx::FromRow)]
pub struct Attempt {
    pub report_id: i64,
    pub provider: String,
    pub status: String,
    pub detail: String,
    pub actor: String,
    pub at: String,
}

pub async fn attempts(app: &App, report_id: Option<i64>) -> Result<Vec<Attempt>> {
    sqlx::query("SELECT * FROM signing_attempts WHERE ($1 = 0 OR report_id = $1) ORDER BY id")
        .bind(report_id.unwrap_or(0))
        .fetch_all(&app.db.pool)
        .await?
        .iter()
        .map(Attempt::from_row)
        .collect::<Result<_, _>>()
        .map_err(Into::into)
}
