//! Users, roles scoped to an organisation, sessions and API tokens. Passwords are argon2 hashes,
//! random tokens are stored as SHA-256; failed logins are throttled per login.

pub mod oidc;
pub mod web;

use crate::db::{now, opt_text, Db};
use anyhow::{bail, Result};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

/// Failed logins within [`THROTTLE_MINUTES`] after which a login is refused for that long.
pub const MAX_FAILURES: i64 = 5;
pub const THROTTLE_MINUTES: i64 = 15;
pub const SESSION_HOURS: i64 = 12;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Administrator,
    Coordinator,
    Executor,
    Auditor,
}

impl Role {
    pub fn parse(text: &str) -> Result<Role> {
        Ok(match text {
            "administrator" => Role::Administrator,
            "coordinator" => Role::Coordinator,
            "executor" => Role::Executor,
            "auditor" => Role::Auditor,
            other => bail!("роль «{other}» неизвестна: administrator, coordinator, executor или auditor"),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Coordinator => "coordinator",
            Role::Executor => "executor",
            Role::Auditor => "auditor",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Administrator => "Администратор",
            Role::Coordinator => "Региональный координатор",
            Role::Executor => "Исполнитель",
            Role::Auditor => "Аудитор",
        }
    }
}

/// Who is acting: a user of a session or an API token.
#[derive(Clone, Debug, Serialize)]
pub struct Principal {
    pub user_id: i64,
    pub login: String,
    pub full_name: String,
    pub role: Role,
    /// The organisation an executor acts for; executors see only its measures.
    pub ogrn: Option<String>,
    /// The session's CSRF token (none for API tokens, which are not sent by browsers).
    #[serde(skip)]
    pub csrf: Option<String>,
}

impl Principal {
    /// The actor recorded in the audit log and the histories.
    pub fn actor(&self) -> String {
        format!("{}:{}", self.role.as_str(), self.login)
    }

    /// The OGRN that limits what this principal sees, if any.
    pub fn scope(&self) -> Option<&str> {
        match self.role {
            Role::Executor => self.ogrn.as_deref(),
            _ => None,
        }
    }

    pub fn can_write(&self) -> bool {
        self.role != Role::Auditor
    }
}

fn random_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| anyhow::anyhow!("нет источника случайных чисел: {e}"))?;
    Ok(hex::encode(bytes))
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| anyhow::anyhow!("нет источника случайных чисел: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .to_string())
}

fn check_password_rules(password: &str) -> Result<()> {
    if password.chars().count() < 10 {
        bail!("пароль слишком короткий: нужно не меньше 10 символов");
    }
    Ok(())
}

#[derive(Clone, Debug, Serialize)]
pub struct User {
    pub id: i64,
    pub login: String,
    pub full_name: String,
    pub role: String,
    pub ogrn: Option<String>,
    pub active: bool,
    pub created_at: String,
}

pub async fn add_user(
    db: &Db,
    login: &str,
    full_name: &str,
    role: Role,
    ogrn: Option<&str>,
    password: &str,
    actor: &str,
) -> Result<i64> {
    let login_ok = !login.is_empty()
        && login
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if !login_ok {
        bail!("логин «{login}» недопустим: строчные латинские буквы, цифры, «.», «_», «-»");
    }
    check_password_rules(password)?;
    if role == Role::Executor {
        let Some(ogrn) = ogrn else {
            bail!("исполнителю нужна организация: укажите --ogrn")
        };
        if crate::register::directory::organisation(db, ogrn).await?.is_none() {
            bail!("организация с ОГРН {ogrn} не найдена в справочнике исполнителей");
        }
    }
    let at = now();
    let id: i64 = sqlx::query(
        "INSERT INTO users (login, full_name, role, ogrn, password_hash, active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $6) RETURNING id",
    )
    .bind(login)
    .bind(full_name)
    .bind(role.as_str())
    .bind(ogrn)
    .bind(hash_password(password)?)
    .bind(&at)
    .fetch_one(&db.pool)
    .await
    .map_err(|e| anyhow::anyhow!("пользователь «{login}» не создан: {e}"))?
    .try_get("id")?;
    crate::audit::record(db, actor, "user.add", &format!("user:{login}"), Some(role.as_str())).await?;
    Ok(id)
}

pub async fn set_password(db: &Db, login: &str, password: &str, actor: &str) -> Result<()> {
    check_password_rules(password)?;
    let changed = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE login = $3")
        .bind(hash_password(password)?)
        .bind(now())
        .bind(login)
        .execute(&db.pool)
        .await?
        .rows_affected();
    if changed != 1 {
        bail!("пользователь «{login}» не найден");
    }
    // A new password ends every open session of the user.
    sqlx::query("DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE login = $1)")
        .bind(login)
        .execute(&db.pool)
        .await?;
    crate::audit::record(db, actor, "user.password", &format!("user:{login}"), None).await
}

pub async fn list_users(db: &Db) -> Result<Vec<User>> {
    sqlx::query("SELECT * FROM users ORDER BY login")
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(User {
                id: r.try_get("id")?,
                login: r.try_get("login")?,
                full_name: r.try_get("full_name")?,
                role: r.try_get("role")?,
                ogrn: opt_text(r, "ogrn"),
                active: r.try_get::<i64, _>("active")? != 0,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// Why a login was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("неверный логин или пароль")]
    Invalid,
    #[error("слишком много неудачных попыток входа: повторите через {0} мин.")]
    Throttled(i64),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

fn minutes_ago(minutes: i64) -> String {
    (time::OffsetDateTime::now_utc() - time::Duration::minutes(minutes))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A new session: the token for the cookie and the CSRF token for forms.
pub struct NewSession {
    pub token: String,
    pub csrf: String,
}

pub async fn login(
    db: &Db,
    login: &str,
    password: &str,
    ip: Option<&str>,
) -> std::result::Result<(NewSession, Principal), LoginError> {
    let failures: i64 = sqlx::query("SELECT COUNT(*) AS n FROM login_attempts WHERE login = $1 AND ok = 0 AND at > $2")
        .bind(login)
        .bind(minutes_ago(THROTTLE_MINUTES))
        .fetch_one(&db.pool)
        .await
        .map_err(anyhow::Error::from)?
        .try_get("n")
        .map_err(anyhow::Error::from)?;
    if failures >= MAX_FAILURES {
        return Err(LoginError::Throttled(THROTTLE_MINUTES));
    }
    let row = sqlx::query("SELECT * FROM users WHERE login = $1 AND active = 1")
        .bind(login)
        .fetch_optional(&db.pool)
        .await
        .map_err(anyhow::Error::from)?;
    let verified = row
        .as_ref()
        .and_then(|r| opt_text(r, "password_hash"))
        .is_some_and(|hash| {
            PasswordHash::new(&hash)
                .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        });
    sqlx::query("INSERT INTO login_attempts (login, ip, ok, at) VALUES ($1, $2, $3, $4)")
        .bind(login)
        .bind(ip)
        .bind(i64::from(verified))
        .bind(now())
        .execute(&db.pool)
        .await
        .map_err(anyhow::Error::from)?;
    let (true, Some(row)) = (verified, row) else {
        return Err(LoginError::Invalid);
    };
    Ok(start_session(db, &row, ip, "session.login").await?)
}

/// Opens a session for the user of `row` (a password or an identity provider vouched for them)
/// and records the login in the audit log under `action`.
pub(crate) async fn start_session(
    db: &Db,
    row: &sqlx::any::AnyRow,
    ip: Option<&str>,
    action: &str,
) -> Result<(NewSession, Principal)> {
    let principal = principal_from_row(row, None)?;
    let session = NewSession {
        token: random_token()?,
        csrf: random_token()?,
    };
    let expires = (time::OffsetDateTime::now_utc() + time::Duration::hours(SESSION_HOURS))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    sqlx::query("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at, ip) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(token_hash(&session.token))
        .bind(principal.user_id)
        .bind(&session.csrf)
        .bind(now())
        .bind(expires)
        .bind(ip)
        .execute(&db.pool)
        .await?;
    crate::audit::record(db, &principal.actor(), action, &format!("user:{}", principal.login), ip).await?;
    let csrf = session.csrf.clone();
    Ok((
        session,
        Principal {
            csrf: Some(csrf),
            ..principal
        },
    ))
}

fn principal_from_row(row: &sqlx::any::AnyRow, csrf: Option<String>) -> Result<Principal> {
    Ok(Principal {
        user_id: row.try_get("id")?,
        login: row.try_get("login")?,
        full_name: row.try_get("full_name")?,
        role: Role::parse(&row.try_get::<String, _>("role")?)?,
        ogrn: opt_text(row, "ogrn"),
        csrf,
    })
}

pub async fn session_principal(db: &Db, token: &str) -> Result<Option<Principal>> {
    let row = sqlx::query(
        "SELECT u.*, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.active = 1",
    )
    .bind(token_hash(token))
    .bind(now())
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| principal_from_row(&r, opt_text(&r, "csrf_token")))
        .transpose()
}

pub async fn token_principal(db: &Db, token: &str) -> Result<Option<Principal>> {
    let row = sqlx::query(
        "SELECT u.* FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.active = 1",
    )
    .bind(token_hash(token))
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| principal_from_row(&r, None)).transpose()
}

pub async fn logout(db: &Db, token: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash(token))
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Issues an API token for a user; the token is shown once and stored only as a hash.
pub async fn issue_token(db: &Db, login: &str, label: &str, actor: &str) -> Result<String> {
    let user: i64 = sqlx::query("SELECT id FROM users WHERE login = $1 AND active = 1")
        .bind(login)
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| anyhow::anyhow!("пользователь «{login}» не найден"))?
        .try_get("id")?;
    let token = random_token()?;
    sqlx::query("INSERT INTO api_tokens (token_hash, user_id, label, created_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash(&token))
        .bind(user)
        .bind(label)
        .bind(now())
        .execute(&db.pool)
        .await?;
    crate::audit::record(db, actor, "token.issue", &format!("user:{login}"), Some(label)).await?;
    Ok(token)
}
