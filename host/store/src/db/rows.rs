//! Column types that rows map through with `#[derive(sqlx::FromRow)]` where a column is stored in
//! the spelling both engines share rather than the type the register uses: an integer 0/1 for a
//! flag, text for a JSON document. A field says `#[sqlx(try_from = "Flag")]` or
//! `#[sqlx(try_from = "JsonText<serde_json::Value>")]`; everything else maps by name.

use sqlx::any::{Any, AnyTypeInfo, AnyValueRef};
use sqlx::error::BoxDynError;
use sqlx::{Decode, Type};

/// A flag stored as an integer (0 or 1), read as a `bool`.
pub struct Flag(bool);

impl Type<Any> for Flag {
    fn type_info() -> AnyTypeInfo {
        <i64 as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        <i64 as Type<Any>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Any> for Flag {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Flag(<i64 as Decode<'r, Any>>::decode(value)? != 0))
    }
}

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0
    }
}

/// A JSON document stored as text, read as `T`. Text that is not JSON, or JSON of another shape,
/// reads as `T::default()`, as the register has always read these columns (only the register writes
/// them, from values of that type).
pub struct JsonText<T>(T);

impl<T> Type<Any> for JsonText<T> {
    fn type_info() -> AnyTypeInfo {
        <String as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        <String as Type<Any>>::compatible(ty)
    }
}

impl<'r, T: serde::de::DeserializeOwned + Default> Decode<'r, Any> for JsonText<T> {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&'r str as Decode<'r, Any>>::decode(value)?;
        Ok(JsonText(serde_json::from_str(text).unwrap_or_default()))
    }
}

impl<T> JsonText<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// The types JSON columns are read as (`#[sqlx(try_from = "JsonText<T>")]` asks for `T: From<JsonText<T>>`).
macro_rules! json_columns {
    ($($t:ty),* $(,)?) => {
        $(impl From<JsonText<$t>> for $t {
            fn from(json: JsonText<$t>) -> $t {
                json.0
            }
        })*
    };
}

json_columns!(serde_json::Value, Vec<String>, Vec<(String, String)>);

/// A text column read through a function into the type a field holds: `text_column!(Name, Target,
/// function)` makes `Name`, for `#[sqlx(try_from = "Name")]` on a field of type `Target` (a masked
/// SNILS, the codes of a `;CODE;CODE;` column).
#[macro_export]
macro_rules! text_column {
    ($(#[$doc:meta])* $name:ident, $target:ty, $read:expr) => {
        $(#[$doc])*
        pub struct $name($target);

        impl sqlx::Type<sqlx::Any> for $name {
            fn type_info() -> sqlx::any::AnyTypeInfo {
                <String as sqlx::Type<sqlx::Any>>::type_info()
            }

            fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
                <String as sqlx::Type<sqlx::Any>>::compatible(ty)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Any> for $name {
            fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&'r str as sqlx::Decode<'r, sqlx::Any>>::decode(value)?;
                Ok($name($read(text)))
            }
        }

        impl From<$name> for $target {
            fn from(column: $name) -> $target {
                column.0
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Row;

    #[derive(sqlx::FromRow)]
    struct Sample {
        #[sqlx(try_from = "Flag")]
        yes: bool,
        #[sqlx(try_from = "Flag")]
        no: bool,
        #[sqlx(try_from = "JsonText<serde_json::Value>")]
        doc: serde_json::Value,
        #[sqlx(try_from = "JsonText<serde_json::Value>")]
        broken: serde_json::Value,
    }

    #[tokio::test]
    async fn flags_and_json_text_map_through_the_derive() {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect("sqlite::memory:").await.unwrap();
        let row = sqlx::query("SELECT 1 AS yes, 0 AS no, '{\"a\": [1]}' AS doc, 'not json' AS broken")
            .fetch_one(&pool)
            .await
            .unwrap();
        let sample = <Sample as sqlx::FromRow<_>>::from_row(&row).unwrap();
        assert!(sample.yes && !sample.no);
        assert_eq!(sample.doc["a"][0], 1);
        assert!(sample.broken.is_null());
        assert_eq!(row.try_get::<i64, _>("yes").unwrap(), 1);
    }
}
