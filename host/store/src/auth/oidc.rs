//! Login through the region's identity provider by OpenID Connect (authorization code flow with
//! PKCE). Configured by `DATA_DIR/oidc.toml`; without that file the login page offers passwords only.
//!
//! ```toml
//! issuer = "https://sso.example.ru/realms/region"   # its /.well-known/openid-configuration is read
//! client_id = "ipra"
//! client_secret = "…"                               # or client_secret_env = "IPRA_OIDC_SECRET"
//! redirect_uri = "https://ipra.example.ru/login/oidc/callback"
//! button = "Войти через единую учётную запись"
//! login_claim = "preferred_username"                # optional: binds a local account on first login
//! ```
//!
//! The provider vouches for who the person is; what they may do stays local: an identity logs in
//! only as the active local account bound to its subject (`users.oidc_subject`), or — with
//! `login_claim` — as the unbound account whose login equals that claim, which is then bound.
//! ID tokens are accepted only signed RS256 by a key of the provider's JWKS, for this client,
//! from this issuer, unexpired, with the nonce of this login.

use crate::db::{now, Db};
use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::path::Path;
use std::time::Duration;

/// How long a login may take between leaving for the provider and coming back.
const LOGIN_MINUTES: i64 = 10;
/// Clock difference tolerated when checking `exp` and `iat`.
const LEEWAY_SECONDS: i64 = 120;

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    pub issuer: String,
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub client_secret_env: Option<String>,
    pub redirect_uri: String,
    #[serde(default = "default_button")]
    pub button: String,
    #[serde(default)]
    pub login_claim: Option<String>,
    #[serde(default = "default_scopes")]
    pub scopes: String,
}

fn default_button() -> String {
    "Войти через единую учётную запись".into()
}

fn default_scopes() -> String {
    "openid profile".into()
}

impl OidcConfig {
    /// The configuration: `[oidc]` of ipra.toml, else the older `data_dir/oidc.toml`; None when
    /// neither is there.
    pub fn load(data_dir: &Path) -> Result<Option<OidcConfig>> {
        if let Some(config) = &crate::config::current().config.oidc {
            config.check().context("раздел [oidc] файла настроек")?;
            return Ok(Some(config.clone()));
        }
        let path = data_dir.join("oidc.toml");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("чтение {}", path.display())),
        };
        let config: OidcConfig = toml::from_str(&text).with_context(|| format!("ошибка в {}", path.display()))?;
        config.check().with_context(|| path.display().to_string())?;
        Ok(Some(config))
    }

    /// The provider's and our own addresses are HTTPS (plain HTTP to this machine only).
    pub fn check(&self) -> Result<()> {
        for (field, url) in [("issuer", &self.issuer), ("redirect_uri", &self.redirect_uri)] {
            if !secure_url(url) {
                bail!("поле {field} должно быть адресом https:// (http:// допустим только для 127.0.0.1 и localhost)");
            }
        }
        Ok(())
    }

    fn secret(&self) -> Option<String> {
        self.client_secret
            .clone()
            .or_else(|| self.client_secret_env.as_ref().and_then(|v| std::env::var(v).ok()))
    }
}

/// HTTPS, or plain HTTP to this machine only (a provider on loopback, as in tests).
fn secure_url(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// What the provider publishes at `/.well-known/openid-configuration`.
#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(15))
        .redirects(0)
        .build()
}

fn get_json(url: &str) -> Result<Value> {
    if !secure_url(url) {
        bail!("адрес поставщика удостоверений {url} не https");
    }
    let text = agent()
        .get(url)
        .call()
        .map_err(|e| anyhow!("запрос {url}: {e}"))?
        .into_string()
        .with_context(|| format!("ответ {url}"))?;
    serde_json::from_str(&text).with_context(|| format!("ответ {url} не JSON"))
}

fn discover(config: &OidcConfig) -> Result<Discovery> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        config.issuer.trim_end_matches('/')
    );
    let discovery: Discovery =
        serde_json::from_value(get_json(&url)?).with_context(|| format!("описание поставщика {url}"))?;
    if discovery.issuer.trim_end_matches('/') != config.issuer.trim_end_matches('/') {
        bail!(
            "поставщик назвал себя {}, а в oidc.toml указан {}",
            discovery.issuer,
            config.issuer
        );
    }
    Ok(discovery)
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn b64url_decode(text: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|e| anyhow!("неверная кодировка base64url: {e}"))
}

fn query_value(text: &str) -> String {
    crate::paging::urlencode(text)
}

/// Starts a login: remembers state, nonce and PKCE verifier and returns the provider's
/// authorization URL to send the browser to.
pub async fn begin(db: &Db, config: &OidcConfig, next_path: &str) -> Result<String> {
    let discovery = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || discover(&config)).await??
    };
    let state = super::random_token()?;
    let nonce = super::random_token()?;
    let verifier = super::random_token()?;
    let challenge = b64url(&Sha256::digest(verifier.as_bytes()));
    let stale = (crate::clock::now() - time::Duration::minutes(LOGIN_MINUTES))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    sqlx::query("DELETE FROM oidc_logins WHERE created_at < $1")
        .bind(&stale)
        .execute(&db.pool)
        .await?;
    sqlx::query("INSERT INTO oidc_logins (state, nonce, verifier, next_path, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&state)
        .bind(&nonce)
        .bind(&verifier)
        .bind(next_path)
        .bind(now())
        .execute(&db.pool)
        .await?;
    let separator = if discovery.authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    Ok(format!(
        "{}{separator}response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&nonce={}&code_challenge={}&code_challenge_method=S256",
        discovery.authorization_endpoint,
        query_value(&config.client_id),
        query_value(&config.redirect_uri),
        query_value(&config.scopes),
        query_value(&state),
        query_value(&nonce),
        challenge,
    ))
}

/// Who the provider says logged in.
#[derive(Debug, Clone)]
pub struct Identity {
    pub subject: String,
    pub claims: Value,
}

/// Finishes a login: takes the state back (once), exchanges the code for tokens, checks the ID
/// token. Returns the identity and the page to go back to.
pub async fn finish(db: &Db, config: &OidcConfig, state: &str, code: &str) -> Result<(Identity, String)> {
    let row = sqlx::query("SELECT nonce, verifier, next_path, created_at FROM oidc_logins WHERE state = $1")
        .bind(state)
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| anyhow!("вход не начинался на этом сервере или уже завершён (неизвестный state)"))?;
    sqlx::query("DELETE FROM oidc_logins WHERE state = $1")
        .bind(state)
        .execute(&db.pool)
        .await?;
    let created: String = row.try_get("created_at")?;
    let started = time::OffsetDateTime::parse(&created, &time::format_description::well_known::Rfc3339)
        .map_err(|e| anyhow!("время начала входа: {e}"))?;
    if crate::clock::now() - started > time::Duration::minutes(LOGIN_MINUTES) {
        bail!("вход занял больше {LOGIN_MINUTES} минут; начните заново");
    }
    let nonce: String = row.try_get("nonce")?;
    let verifier: String = row.try_get("verifier")?;
    let next_path: String = row.try_get("next_path")?;
    let config = config.clone();
    let code = code.to_string();
    let identity = tokio::task::spawn_blocking(move || exchange(&config, &code, &verifier, &nonce)).await??;
    Ok((identity, next_path))
}

fn exchange(config: &OidcConfig, code: &str, verifier: &str, nonce: &str) -> Result<Identity> {
    let discovery = discover(config)?;
    if !secure_url(&discovery.token_endpoint) {
        bail!("адрес выдачи токенов {} не https", discovery.token_endpoint);
    }
    let secret = config.secret();
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", config.redirect_uri.as_str()),
        ("client_id", config.client_id.as_str()),
        ("code_verifier", verifier),
    ];
    if let Some(secret) = secret.as_deref() {
        form.push(("client_secret", secret));
    }
    let answer = match agent().post(&discovery.token_endpoint).send_form(&form) {
        Ok(response) => response.into_string().context("ответ на обмен кода")?,
        Err(ureq::Error::Status(status, response)) => {
            let body = response.into_string().unwrap_or_default();
            bail!(
                "поставщик отказал в обмене кода ({status}): {}",
                body.chars().take(300).collect::<String>()
            );
        }
        Err(e) => bail!("обмен кода на токены: {e}"),
    };
    let tokens: Value = serde_json::from_str(&answer).context("ответ на обмен кода не JSON")?;
    let id_token = tokens["id_token"]
        .as_str()
        .ok_or_else(|| anyhow!("в ответе поставщика нет id_token"))?;
    let jwks = get_json(&discovery.jwks_uri)?;
    let claims = verify_id_token(
        id_token,
        &jwks,
        &discovery.issuer,
        &config.client_id,
        nonce,
        time::OffsetDateTime::now_utc().unix_timestamp(),
    )?;
    let subject = claims["sub"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| anyhow!("в id_token нет sub"))?
        .to_string();
    Ok(Identity { subject, claims })
}

/// Checks an ID token's RS256 signature against the JWKS and its claims; returns the claims.
pub fn verify_id_token(
    token: &str,
    jwks: &Value,
    issuer: &str,
    client_id: &str,
    nonce: &str,
    now: i64,
) -> Result<Value> {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier;
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        bail!("id_token не JWS из трёх частей");
    };
    let head: Value = serde_json::from_slice(&b64url_decode(header)?).context("заголовок id_token")?;
    if head["alg"] != "RS256" {
        bail!("id_token подписан алгоритмом {}, принимается только RS256", head["alg"]);
    }
    let kid = head["kid"].as_str();
    let key = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|k| k["kty"] == "RSA" && k["use"].as_str().is_none_or(|u| u == "sig"))
        .find(|k| kid.is_none() || k["kid"].as_str() == kid)
        .ok_or_else(|| anyhow!("ключ подписи id_token (kid {kid:?}) не опубликован поставщиком"))?;
    let n = b64url_decode(key["n"].as_str().unwrap_or_default())?;
    let e = b64url_decode(key["e"].as_str().unwrap_or_default())?;
    let public = rsa::RsaPublicKey::new(rsa::BigUint::from_bytes_be(&n), rsa::BigUint::from_bytes_be(&e))
        .map_err(|e| anyhow!("ключ поставщика: {e}"))?;
    let signature =
        Signature::try_from(b64url_decode(signature)?.as_slice()).map_err(|e| anyhow!("подпись id_token: {e}"))?;
    VerifyingKey::<Sha256>::new(public)
        .verify(format!("{header}.{payload}").as_bytes(), &signature)
        .map_err(|_| anyhow!("подпись id_token не сходится с ключом поставщика"))?;
    let claims: Value = serde_json::from_slice(&b64url_decode(payload)?).context("содержимое id_token")?;
    if claims["iss"].as_str().map(|i| i.trim_end_matches('/')) != Some(issuer.trim_end_matches('/')) {
        bail!("id_token выдан {} , а не {issuer}", claims["iss"]);
    }
    let audience_ok = match &claims["aud"] {
        Value::String(a) => a == client_id,
        Value::Array(list) => list.iter().any(|a| a == client_id),
        _ => false,
    };
    if !audience_ok {
        bail!("id_token предназначен не этому клиенту ({})", claims["aud"]);
    }
    let exp = claims["exp"].as_i64().ok_or_else(|| anyhow!("в id_token нет exp"))?;
    if exp + LEEWAY_SECONDS < now {
        bail!("срок id_token истёк");
    }
    if claims["iat"].as_i64().is_some_and(|iat| iat > now + LEEWAY_SECONDS) {
        bail!("id_token выдан в будущем (часы расходятся?)");
    }
    if claims["nonce"].as_str() != Some(nonce) {
        bail!("nonce id_token не совпадает с начатым входом");
    }
    Ok(claims)
}

/// The local account this identity logs in as: the one bound to its subject, or the unbound one
/// named by `login_claim` (then bound). Inactive or unknown accounts are refused.
pub async fn local_account(db: &Db, config: &OidcConfig, identity: &Identity) -> Result<sqlx::any::AnyRow> {
    if let Some(row) = sqlx::query("SELECT * FROM users WHERE oidc_subject = $1")
        .bind(&identity.subject)
        .fetch_optional(&db.pool)
        .await?
    {
        if row.try_get::<i64, _>("active")? != 1 {
            bail!("учётная запись отключена администратором");
        }
        return Ok(row);
    }
    let claimed = config
        .login_claim
        .as_deref()
        .and_then(|claim| identity.claims[claim].as_str())
        .map(str::to_string);
    if let Some(login) = claimed {
        let bound = sqlx::query(
            "UPDATE users SET oidc_subject = $1, updated_at = $2 WHERE login = $3 AND oidc_subject IS NULL AND active = 1",
        )
        .bind(&identity.subject)
        .bind(now())
        .bind(&login)
        .execute(&db.pool)
        .await?;
        if bound.rows_affected() == 1 {
            crate::audit::record(
                db,
                "oidc",
                "user.oidc.bind",
                &format!("user:{login}"),
                Some(&identity.subject),
            )
            .await?;
            return sqlx::query("SELECT * FROM users WHERE login = $1")
                .bind(&login)
                .fetch_one(&db.pool)
                .await
                .map_err(Into::into);
        }
    }
    bail!(
        "для этой учётной записи поставщика (sub {}) нет активного пользователя в системе; обратитесь к администратору",
        identity.subject
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback() {
        assert!(secure_url("https://sso.example.ru/realms/x"));
        assert!(secure_url("http://127.0.0.1:8080/x"));
        assert!(secure_url("http://localhost/x"));
        assert!(!secure_url("http://sso.example.ru/x"));
        assert!(!secure_url("http://127.0.0.1.evil.example/x"));
        assert!(!secure_url("ftp://127.0.0.1/"));
    }

    #[test]
    fn refuses_unsigned_and_malformed_tokens() {
        let jwks = serde_json::json!({"keys": []});
        let none = format!("{}.{}.", b64url(br#"{"alg":"none"}"#), b64url(br#"{"sub":"x"}"#));
        let err = verify_id_token(&none, &jwks, "https://i", "c", "n", 0).unwrap_err();
        assert!(err.to_string().contains("только RS256"), "{err}");
        let hs = format!("{}.{}.sig", b64url(br#"{"alg":"HS256"}"#), b64url(br#"{"sub":"x"}"#));
        assert!(verify_id_token(&hs, &jwks, "https://i", "c", "n", 0).is_err());
        assert!(verify_id_token("a.b", &jwks, "https://i", "c", "n", 0).is_err());
        let rs = format!(
            "{}.{}.sig",
            b64url(br#"{"alg":"RS256","kid":"k"}"#),
            b64url(br#"{"sub":"x"}"#)
        );
        let err = verify_id_token(&rs, &jwks, "https://i", "c", "n", 0).unwrap_err();
        assert!(err.to_string().contains("не опубликован"), "{err}");
    }
}
