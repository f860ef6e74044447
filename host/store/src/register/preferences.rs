//! Per-user settings of the register of extracts, kept server-side: the columns shown (and their
//! order) and saved filters (a name plus the filter and sort as a query string).

use crate::db::{now, Db};
use crate::register::query::IpraFilter;
use anyhow::Result;
use serde::Serialize;
use sqlx::{FromRow, Row};

/// The columns of the register (руководство «ЛК исполнителя ИПРА» в ЕЦП, domain §5.1, plus the regional ones): key and Russian label.
pub const COLUMNS: &[(&str, &str)] = &[
    ("kind", "Тип выписки"),
    ("number", "Номер ИПРА"),
    ("decision_date", "Дата вынесения решения"),
    ("protocol_number", "Номер протокола"),
    ("protocol_date", "Дата протокола"),
    ("issued_by", "Учреждение, сформировавшее ИПРА"),
    ("snils", "СНИЛС инвалида"),
    ("fio", "ФИО инвалида"),
    ("status", "Статус"),
    ("territory", "Территория"),
    ("measures", "Мероприятий"),
    ("overdue", "Просрочено"),
    ("received", "Получена"),
    ("target_groups", "ЦРГ"),
    ("early_help", "Ранняя помощь"),
];

/// Columns a user turns on in «Столбцы таблицы»; the others are on until the user chooses.
const OFF_BY_DEFAULT: &[&str] = &["target_groups", "early_help"];

const COLUMNS_KEY: &str = "register.columns";

pub fn column_label(key: &str) -> Option<&'static str> {
    COLUMNS.iter().find(|(k, _)| *k == key).map(|(_, l)| *l)
}

/// The columns of a user who never chose, in the default order: all the seed's and the product's
/// own (the register of extracts of ИС «Исполнение ИПРА»), the target groups and early help being turned on by those who need them.
pub fn default_columns() -> Vec<String> {
    COLUMNS
        .iter()
        .filter(|(k, _)| !OFF_BY_DEFAULT.contains(k))
        .map(|(k, _)| k.to_string())
        .collect()
}

/// Checks a choice of columns: known keys, no repeats, at least one.
pub fn check_columns(columns: &[String]) -> std::result::Result<(), String> {
    if columns.is_empty() {
        return Err("«Столбцы таблицы»: выберите хотя бы один столбец".into());
    }
    for (n, c) in columns.iter().enumerate() {
        if column_label(c).is_none() {
            return Err(format!("«Столбцы таблицы»: столбец «{c}» неизвестен"));
        }
        if columns[..n].contains(c) {
            return Err(format!("«Столбцы таблицы»: столбец «{c}» указан дважды"));
        }
    }
    Ok(())
}

/// The user's columns, or all of them when never chosen (unknown keys of older versions dropped).
pub async fn columns(db: &Db, user_id: i64) -> Result<Vec<String>> {
    let row = sqlx::query("SELECT value FROM user_settings WHERE user_id = $1 AND key = $2")
        .bind(user_id)
        .bind(COLUMNS_KEY)
        .fetch_optional(&db.pool)
        .await?;
    let chosen: Vec<String> = match row {
        Some(r) => serde_json::from_str::<Vec<String>>(&r.try_get::<String, _>("value")?)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| column_label(c).is_some())
            .collect(),
        None => Vec::new(),
    };
    Ok(if chosen.is_empty() { default_columns() } else { chosen })
}

/// Saves the user's columns (checked by [`check_columns`] first).
pub async fn set_columns(db: &Db, user_id: i64, columns: &[String]) -> Result<std::result::Result<(), String>> {
    if let Err(e) = check_columns(columns) {
        return Ok(Err(e));
    }
    let value = serde_json::to_string(columns)?;
    let mut tx = db.pool.begin().await?;
    sqlx::query("DELETE FROM user_settings WHERE user_id = $1 AND key = $2")
        .bind(user_id)
        .bind(COLUMNS_KEY)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO user_settings (user_id, key, value, updated_at) VALUES ($1, $2, $3, $4)")
        .bind(user_id)
        .bind(COLUMNS_KEY)
        .bind(value)
        .bind(now())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Ok(()))
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct SavedFilter {
    pub id: i64,
    pub name: String,
    /// The filter and sort as a query string of the register (`/?…`, `/api/v1/ipras?…`).
    pub query: String,
    pub created_at: String,
}

/// The query string of a filter (no page, per-page kept): what a saved filter stores.
pub fn filter_query(filter: &IpraFilter) -> String {
    let mut pairs: Vec<(&str, String)> = filter.pairs();
    if let Some(n) = filter.per_page {
        pairs.push(("per_page", n.to_string()));
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::paging::urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Parses and checks a stored or sent query string.
pub fn parse_query(query: &str) -> std::result::Result<IpraFilter, String> {
    let filter = serde_urlencoded::from_str::<IpraFilter>(query.trim_start_matches('?'))
        .map_err(|e| format!("«Фильтр»: строка запроса не разобрана ({e})"))?;
    filter.check()?;
    Ok(filter)
}

pub async fn saved_filters(db: &Db, user_id: i64) -> Result<Vec<SavedFilter>> {
    sqlx::query("SELECT id, name, query, created_at FROM saved_filters WHERE user_id = $1 ORDER BY name, id")
        .bind(user_id)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(SavedFilter::from_row)
        .collect::<Result<_, _>>()
        .map_err(Into::into)
}

/// Saves a filter under a name; a filter of the same name of this user is replaced.
/// Refuses (Err with a Russian message naming the field) an empty or overlong name or a bad filter.
pub async fn save_filter(
    db: &Db,
    user_id: i64,
    name: &str,
    query: &str,
) -> Result<std::result::Result<SavedFilter, String>> {
    let name = name.trim();
    if name.is_empty() {
        return Ok(Err("«Название фильтра»: укажите название".into()));
    }
    if name.chars().count() > 100 {
        return Ok(Err("«Название фильтра»: не длиннее 100 символов".into()));
    }
    let filter = match parse_query(query) {
        Ok(f) => f,
        Err(e) => return Ok(Err(e)),
    };
    let query = filter_query(&filter);
    let created_at = now();
    let mut tx = db.pool.begin().await?;
    sqlx::query("DELETE FROM saved_filters WHERE user_id = $1 AND name = $2")
        .bind(user_id)
        .bind(name)
        .execute(&mut *tx)
        .await?;
    let id: i64 = sqlx::query(
        "INSERT INTO saved_filters (user_id, name, query, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(user_id)
    .bind(name)
    .bind(&query)
    .bind(&created_at)
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    tx.commit().await?;
    Ok(Ok(SavedFilter {
        id,
        name: name.to_string(),
        query,
        created_at,
    }))
}

/// Deletes one of the user's saved filters; false when the user has no such filter.
pub async fn delete_filter(db: &Db, user_id: i64, id: i64) -> Result<bool> {
    let done = sqlx::query("DELETE FROM saved_filters WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_checked() {
        assert!(check_columns(&default_columns()).is_ok());
        assert!(check_columns(&[]).is_err());
        assert!(check_columns(&["number".into(), "number".into()]).is_err());
        assert!(check_columns(&["password".into()]).unwrap_err().contains("неизвестен"));
    }

    #[test]
    fn a_filter_round_trips_through_its_query_string() {
        let filter = IpraFilter {
            q: Some("Иванов".into()),
            kind: Some("child".into()),
            overdue: Some("1".into()),
            sort: Some("number".into()),
            dir: Some("asc".into()),
            per_page: Some(20),
            page: Some(3),
            surname: Some(String::new()),
            ..IpraFilter::default()
        };
        let query = filter_query(&filter);
        assert!(!query.contains("page=3"), "{query}");
        assert!(!query.contains("surname"), "{query}");
        let back = parse_query(&query).unwrap();
        assert_eq!(back.q.as_deref(), Some("Иванов"));
        assert_eq!(back.per_page, Some(20));
        assert_eq!(back.page, None);
        assert_eq!(filter_query(&back), query);
    }

    #[test]
    fn bad_filters_name_the_field() {
        assert!(parse_query("decision_from=31.12.2024")
            .unwrap_err()
            .contains("Дата вынесения решения с"));
        assert!(parse_query("sort=password").unwrap_err().contains("сортировка"));
        assert!(parse_query("sort=number&dir=sideways").is_err());
        assert!(parse_query("kind=alien").unwrap_err().contains("Тип выписки"));
        assert!(parse_query("snils=1%27%20OR%201%3D1").unwrap_err().contains("СНИЛС"));
    }
}
