//! Users, roles scoped to an organisation, sessions and API tokens. Passwords are argon2 hashes,
//! random tokens are stored as SHA-256; failed logins are throttled per login.

pub mod oidc;

use crate::db::rows::Flag;
use crate::db::{now, opt_text, Db};
use anyhow::Result;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{FromRow, Row};

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
    /// An MSE bureau (бюро МСЭ): reads how the IPRAs its institution issued are carried out, nothing else.
    Bureau,
}

/// The organisation scope of a bureau's user: no OGRN is this, so a list or card that scopes by
/// organisation shows a bureau nothing; the register reads its own IPRAs by issuer instead
/// ([`Principal::issuer_scope`]).
pub const NO_ORGANISATION: &str = "бюро-мсэ";

impl Role {
    pub fn parse(text: &str) -> Result<Role> {
        Ok(match text {
            "administrator" => Role::Administrator,
            "coordinator" => Role::Coordinator,
            "executor" => Role::Executor,
            "auditor" => Role::Auditor,
            "bureau" => Role::Bureau,
            other => {
                return Err(crate::refusal::invalid(
                    "role",
                    format!("роль «{other}» неизвестна: administrator, coordinator, executor, auditor или bureau"),
                ))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Coordinator => "coordinator",
            Role::Executor => "executor",
            Role::Auditor => "auditor",
            Role::Bureau => "bureau",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Administrator => "Администратор",
            Role::Coordinator => "Региональный координатор",
            Role::Executor => "Исполнитель",
            Role::Auditor => "Аудитор",
            Role::Bureau => "Бюро МСЭ",
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
    /// Every organisation the user works for (the user's own first): more than one, and the
    /// session chooses which it acts for.
    #[serde(default)]
    pub organisations: Vec<String>,
    /// The issuing institution a bureau's user reads the IPRAs of (as IPRAs name it in `issued_by`).
    #[serde(default)]
    pub issuer: Option<String>,
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
            // Whatever scopes by organisation shows a bureau nothing (fails closed).
            Role::Bureau => Some(NO_ORGANISATION),
            _ => None,
        }
    }

    /// The issuing institution whose IPRAs a bureau's user reads; `None` for every other role. A
    /// bureau's user without one reads nothing (`Some("")` matches no IPRA).
    pub fn issuer_scope(&self) -> Option<&str> {
        match self.role {
            Role::Bureau => Some(self.issuer.as_deref().unwrap_or_default()),
            _ => None,
        }
    }

    pub fn can_write(&self) -> bool {
        !matches!(self.role, Role::Auditor | Role::Bureau)
    }
}

pub fn random_token() -> Result<String> {
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
        return Err(crate::refusal::invalid(
            "password",
            "пароль слишком короткий: нужно не меньше 10 символов",
        ));
    }
    Ok(())
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub login: String,
    pub full_name: String,
    pub role: String,
    pub ogrn: Option<String>,
    /// A bureau's issuing institution.
    pub issuer: Option<String>,
    #[sqlx(try_from = "Flag")]
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
    if role == Role::Bureau {
        return Err(crate::refusal::invalid(
            "issuer",
            "бюро МСЭ нужно учреждение, выдающее ИПРА: укажите --issuer (ipra users add … --role bureau --issuer …)",
        ));
    }
    if role == Role::Executor {
        let Some(ogrn) = ogrn else {
            return Err(crate::refusal::invalid(
                "ogrn",
                "исполнителю нужна организация: укажите --ogrn",
            ));
        };
        if crate::register::directory::organisation(db, ogrn).await?.is_none() {
            return Err(crate::refusal::invalid(
                "ogrn",
                format!("организация с ОГРН {ogrn} не найдена в справочнике исполнителей"),
            ));
        }
    }
    insert_user(db, login, full_name, role, ogrn, None, password, actor).await
}

/// Adds the user of an MSE bureau: read-only, scoped to the IPRAs its institution issued (`issuer`, the
/// name as the IPRAs give it in «Учреждение, сформировавшее ИПРА»).
pub async fn add_bureau_user(
    db: &Db,
    login: &str,
    full_name: &str,
    issuer: &str,
    password: &str,
    actor: &str,
) -> Result<i64> {
    let issuer = issuer.trim();
    if issuer.is_empty() {
        return Err(crate::refusal::invalid(
            "issuer",
            "учреждение, выдающее ИПРА, не указано (--issuer)",
        ));
    }
    insert_user(db, login, full_name, Role::Bureau, None, Some(issuer), password, actor).await
}

/// Writes a new user once its login and password pass the rules; audited. A taken login is a
/// conflict.
#[allow(clippy::too_many_arguments)]
async fn insert_user(
    db: &Db,
    login: &str,
    full_name: &str,
    role: Role,
    ogrn: Option<&str>,
    issuer: Option<&str>,
    password: &str,
    actor: &str,
) -> Result<i64> {
    let login_ok = !login.is_empty()
        && login
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if !login_ok {
        return Err(crate::refusal::invalid(
            "login",
            format!("логин «{login}» недопустим: строчные латинские буквы, цифры, «.», «_», «-»"),
        ));
    }
    check_password_rules(password)?;
    let at = now();
    let id: i64 = sqlx::query(
        "INSERT INTO users (login, full_name, role, ogrn, issuer, password_hash, active, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7) RETURNING id",
    )
    .bind(login)
    .bind(full_name)
    .bind(role.as_str())
    .bind(ogrn)
    .bind(issuer)
    .bind(hash_password(password)?)
    .bind(&at)
    .fetch_one(&db.pool)
    .await
    .map_err(|e| match e.as_database_error().map(|d| d.kind()) {
        Some(sqlx::error::ErrorKind::UniqueViolation) => {
            crate::refusal::conflict(format!("пользователь «{login}» уже есть"))
        }
        _ => anyhow::Error::from(e).context(format!("пользователь «{login}» не создан")),
    })?
    .try_get("id")?;
    let detail = match issuer {
        Some(issuer) => format!("{} {issuer}", role.as_str()),
        None => role.as_str().to_string(),
    };
    crate::audit::record(db, actor, "user.add", &format!("user:{login}"), Some(&detail)).await?;
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
        return Err(crate::refusal::not_found(format!("пользователь «{login}» не найден")));
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
        .map(User::from_row)
        .collect::<Result<_, _>>()
        .map_err(Into::into)
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
    (crate::clock::now() - time::Duration::minutes(minutes))
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
pub async fn start_session(
    db: &Db,
    row: &sqlx::any::AnyRow,
    ip: Option<&str>,
    action: &str,
) -> Result<(NewSession, Principal)> {
    let principal = with_organisations(db, principal_from_row(row, None)?, None).await?;
    let session = NewSession {
        token: random_token()?,
        csrf: random_token()?,
    };
    let expires = (crate::clock::now() + time::Duration::hours(SESSION_HOURS))
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
        organisations: opt_text(row, "ogrn").into_iter().collect(),
        issuer: opt_text(row, "issuer"),
        csrf,
    })
}

/// Every organisation of a user: its own first, then those listed for it.
pub async fn organisations_of(db: &Db, user_id: i64, own: Option<&str>) -> Result<Vec<String>> {
    let mut all: Vec<String> = own.map(str::to_string).into_iter().collect();
    for row in sqlx::query("SELECT ogrn FROM user_organisations WHERE user_id = $1 ORDER BY ogrn")
        .bind(user_id)
        .fetch_all(&db.pool)
        .await?
    {
        let ogrn: String = row.try_get("ogrn")?;
        if !all.contains(&ogrn) {
            all.push(ogrn);
        }
    }
    Ok(all)
}

/// The organisations a user works for besides its own (`ipra users organisations`).
pub async fn other_organisations(db: &Db, login: &str) -> Result<Vec<String>> {
    let user = sqlx::query("SELECT id FROM users WHERE login = $1")
        .bind(login)
        .fetch_optional(&db.pool)
        .await?;
    match user {
        Some(row) => organisations_of(db, row.try_get("id")?, None).await,
        None => Ok(Vec::new()),
    }
}

/// A principal with every organisation of its user, acting for `acting` when that is one of them.
async fn with_organisations(db: &Db, mut principal: Principal, acting: Option<String>) -> Result<Principal> {
    principal.organisations = organisations_of(db, principal.user_id, principal.ogrn.as_deref()).await?;
    if let Some(acting) = acting.filter(|a| principal.organisations.contains(a)) {
        principal.ogrn = Some(acting);
    }
    Ok(principal)
}

pub async fn session_principal(db: &Db, token: &str) -> Result<Option<Principal>> {
    let row = sqlx::query(
        "SELECT u.*, s.csrf_token, s.acting_ogrn FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.active = 1",
    )
    .bind(token_hash(token))
    .bind(now())
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let principal = principal_from_row(&row, opt_text(&row, "csrf_token"))?;
    Ok(Some(
        with_organisations(db, principal, opt_text(&row, "acting_ogrn")).await?,
    ))
}

pub async fn token_principal(db: &Db, token: &str) -> Result<Option<Principal>> {
    let row = sqlx::query(
        "SELECT u.* FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.active = 1",
    )
    .bind(token_hash(token))
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let principal = principal_from_row(&row, None)?;
    Ok(Some(with_organisations(db, principal, None).await?))
}

/// The session acts for `ogrn` from now on: one of its user's organisations, or refused.
pub async fn choose_organisation(db: &Db, token: &str, principal: &Principal, ogrn: &str) -> Result<()> {
    if !principal.organisations.iter().any(|o| o == ogrn) {
        return Err(crate::refusal::conflict(format!(
            "организация с ОГРН {ogrn} не из числа организаций пользователя {}",
            principal.login
        )));
    }
    sqlx::query("UPDATE sessions SET acting_ogrn = $1 WHERE token_hash = $2 AND user_id = $3")
        .bind(ogrn)
        .bind(token_hash(token))
        .bind(principal.user_id)
        .execute(&db.pool)
        .await?;
    crate::audit::record(
        db,
        &principal.actor(),
        "session.organisation",
        &format!("user:{}", principal.login),
        Some(ogrn),
    )
    .await
}

/// Lists the organisations a user works for besides its own (replacing the list): each must be in
/// the directory of executors.
pub async fn set_user_organisations(db: &Db, login: &str, others: &[String], actor: &str) -> Result<()> {
    let Some(row) = sqlx::query("SELECT id, role FROM users WHERE login = $1")
        .bind(login)
        .fetch_optional(&db.pool)
        .await?
    else {
        return Err(crate::refusal::not_found(format!("пользователь {login} не найден")));
    };
    let user_id: i64 = row.try_get("id")?;
    if row.try_get::<String, _>("role")? != "executor" && !others.is_empty() {
        return Err(crate::refusal::conflict(
            "несколько организаций бывает только у исполнителя",
        ));
    }
    for ogrn in others {
        if crate::register::directory::organisation(db, ogrn).await?.is_none() {
            return Err(crate::refusal::invalid(
                "other_ogrns",
                format!("Другие организации: ОГРН {ogrn} не найден в справочнике исполнителей"),
            ));
        }
    }
    let mut tx = db.pool.begin().await?;
    sqlx::query("DELETE FROM user_organisations WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    for ogrn in others {
        sqlx::query("INSERT INTO user_organisations (user_id, ogrn) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(user_id)
            .bind(ogrn)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    crate::audit::record(
        db,
        actor,
        "user.organisations",
        &format!("user:{login}"),
        Some(&others.join(",")),
    )
    .await
}

/// Revokes the API token a request came with (its own logout); whether there was one to revoke.
pub async fn revoke_presented_token(db: &Db, token: &str, actor: &str) -> Result<bool> {
    let changed = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL")
        .bind(now())
        .bind(token_hash(token))
        .execute(&db.pool)
        .await?
        .rows_affected();
    if changed == 1 {
        let id: String = token_hash(token).chars().take(16).collect();
        crate::audit::record(db, actor, "token.revoke", actor, Some(&id)).await?;
    }
    Ok(changed == 1)
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
        .ok_or_else(|| crate::refusal::not_found(format!("пользователь «{login}» не найден")))?
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

// ---- User management from the administration pages and `/api/v1/users` (additive). ----

/// A user as the administration pages list it: with the last successful login and live tokens.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct UserDetails {
    pub login: String,
    pub full_name: String,
    pub role: String,
    pub ogrn: Option<String>,
    #[sqlx(try_from = "Flag")]
    pub active: bool,
    pub created_at: String,
    pub last_login: Option<String>,
    pub tokens: i64,
}

/// An API token of a user, by the first 16 hex digits of its hash (the token itself is never kept).
#[derive(Clone, Debug, Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub label: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// A password an administrator sets for someone must be hard to guess: at least 10 characters and
/// three kinds of characters (lower case, upper case, digits, others), or a phrase of 16 or more;
/// never the login itself. The message names the field for the form.
pub fn password_strength(password: &str, login: &str) -> std::result::Result<(), String> {
    let length = password.chars().count();
    if length < 10 {
        return Err("Пароль: слишком короткий, нужно не меньше 10 символов".into());
    }
    let kinds = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ]
    .iter()
    .filter(|k| **k)
    .count();
    if length < 16 && kinds < 3 {
        return Err(
            "Пароль: слишком простой — нужны три вида символов из четырёх (строчные, прописные, цифры, прочие) \
             или фраза не короче 16 символов"
                .into(),
        );
    }
    let lower = password.to_lowercase();
    if !login.is_empty() && lower.contains(&login.to_lowercase()) {
        return Err("Пароль: не должен содержать логин".into());
    }
    let first = password.chars().next();
    if password.chars().all(|c| Some(c) == first) {
        return Err("Пароль: состоит из одного повторяющегося символа".into());
    }
    Ok(())
}

fn user_details_from_row(r: &sqlx::any::AnyRow) -> Result<UserDetails> {
    Ok(UserDetails::from_row(r)?)
}

const USER_DETAILS_SQL: &str = "SELECT u.login, u.full_name, u.role, u.ogrn, u.active, u.created_at, \
     (SELECT MAX(a.at) FROM login_attempts a WHERE a.login = u.login AND a.ok = 1) AS last_login, \
     (SELECT COUNT(*) FROM api_tokens t WHERE t.user_id = u.id AND t.revoked_at IS NULL) AS tokens \
     FROM users u";

pub async fn user_details(db: &Db) -> Result<Vec<UserDetails>> {
    sqlx::query(&format!("{USER_DETAILS_SQL} ORDER BY u.login"))
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(user_details_from_row)
        .collect()
}

pub async fn user_by_login(db: &Db, login: &str) -> Result<Option<UserDetails>> {
    sqlx::query(&format!("{USER_DETAILS_SQL} WHERE u.login = $1"))
        .bind(login)
        .fetch_optional(&db.pool)
        .await?
        .as_ref()
        .map(user_details_from_row)
        .transpose()
}

/// Changes a user's name, role and organisation. An executor needs an organisation of the directory;
/// other roles keep none. The change applies to open sessions at their next request.
pub async fn update_user(
    db: &Db,
    login: &str,
    full_name: &str,
    role: Role,
    ogrn: Option<&str>,
    actor: &str,
) -> Result<()> {
    if full_name.trim().is_empty() {
        return Err(crate::refusal::invalid("full_name", "ФИО: не указано"));
    }
    let ogrn = match role {
        Role::Executor => {
            let Some(ogrn) = ogrn.filter(|o| !o.is_empty()) else {
                return Err(crate::refusal::invalid(
                    "ogrn",
                    "Организация: исполнителю нужна организация из справочника",
                ));
            };
            if crate::register::directory::organisation(db, ogrn).await?.is_none() {
                return Err(crate::refusal::invalid(
                    "ogrn",
                    format!("Организация: ОГРН {ogrn} не найден в справочнике исполнителей"),
                ));
            }
            Some(ogrn)
        }
        Role::Bureau => {
            // A bureau is made with its institution (`add_bureau_user`); another role cannot become one.
            let issuer = sqlx::query("SELECT issuer FROM users WHERE login = $1")
                .bind(login)
                .fetch_optional(&db.pool)
                .await?
                .and_then(|r| opt_text(&r, "issuer"));
            if issuer.is_none() {
                return Err(crate::refusal::invalid(
                    "role",
                    "Роль: пользователя бюро МСЭ создают с его учреждением (ipra users add … --role bureau --issuer …)",
                ));
            }
            None
        }
        _ => None,
    };
    let changed =
        sqlx::query("UPDATE users SET full_name = $1, role = $2, ogrn = $3, updated_at = $4 WHERE login = $5")
            .bind(full_name.trim())
            .bind(role.as_str())
            .bind(ogrn)
            .bind(now())
            .bind(login)
            .execute(&db.pool)
            .await?
            .rows_affected();
    if changed != 1 {
        return Err(crate::refusal::not_found(format!("пользователь «{login}» не найден")));
    }
    let detail = format!("{} {}", role.as_str(), ogrn.unwrap_or_default());
    crate::audit::record(db, actor, "user.update", &format!("user:{login}"), Some(detail.trim())).await
}

/// Activates or deactivates a user; deactivation ends every session and revokes every token.
pub async fn set_user_active(db: &Db, login: &str, active: bool, actor: &str) -> Result<()> {
    let changed = sqlx::query("UPDATE users SET active = $1, updated_at = $2 WHERE login = $3")
        .bind(i64::from(active))
        .bind(now())
        .bind(login)
        .execute(&db.pool)
        .await?
        .rows_affected();
    if changed != 1 {
        return Err(crate::refusal::not_found(format!("пользователь «{login}» не найден")));
    }
    if !active {
        // For good: reactivating the user later brings neither its sessions nor its tokens back.
        sqlx::query("DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE login = $1)")
            .bind(login)
            .execute(&db.pool)
            .await?;
        sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND user_id = (SELECT id FROM users WHERE login = $2)",
        )
        .bind(now())
        .bind(login)
        .execute(&db.pool)
        .await?;
    }
    let action = if active { "user.activate" } else { "user.deactivate" };
    crate::audit::record(db, actor, action, &format!("user:{login}"), None).await
}

pub async fn list_tokens(db: &Db, login: &str) -> Result<Vec<TokenInfo>> {
    sqlx::query(
        "SELECT t.token_hash, t.label, t.created_at, t.revoked_at FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE u.login = $1 ORDER BY t.created_at DESC",
    )
    .bind(login)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| {
        let hash: String = r.try_get("token_hash")?;
        Ok(TokenInfo {
            id: hash.chars().take(16).collect(),
            label: r.try_get("label")?,
            created_at: r.try_get("created_at")?,
            revoked_at: opt_text(r, "revoked_at"),
        })
    })
    .collect()
}

/// Revokes a token of a user by its id (the first 16 hex digits of its hash).
pub async fn revoke_token(db: &Db, login: &str, id: &str, actor: &str) -> Result<()> {
    if id.len() != 16 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(crate::refusal::not_found(format!("токен «{id}» не найден")));
    }
    let changed = sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND token_hash LIKE $2 \
         AND user_id = (SELECT id FROM users WHERE login = $3)",
    )
    .bind(now())
    .bind(format!("{}%", id.to_ascii_lowercase()))
    .bind(login)
    .execute(&db.pool)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(crate::refusal::not_found(format!(
            "токен «{id}» не найден или уже отозван"
        )));
    }
    crate::audit::record(db, actor, "token.revoke", &format!("user:{login}"), Some(id)).await
}

#[cfg(test)]
mod admin_tests {
    use super::password_strength;

    #[test]
    fn passwords_must_be_strong() {
        assert!(password_strength("short1A!", "ivanov").is_err());
        assert!(
            password_strength("alllowercaseletters", "ivanov").is_ok(),
            "a long phrase"
        );
        assert!(password_strength("onlylower12", "ivanov").is_err(), "two kinds, short");
        assert!(
            password_strength("Ivanov2026!", "ivanov").is_err(),
            "contains the login"
        );
        assert!(password_strength("Secure-Pass-2026", "ivanov").is_ok());
        assert!(password_strength("aaaaaaaaaaaaaaaaaa", "ivanov").is_err());
    }
}
