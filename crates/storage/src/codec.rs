//! Text forms of the stored enums and dates, shared by the backends so that both write the same values (the
//! serde names the API uses: `adult_female_can_get_pregnant`, `active`, `2026-11-26`).

use crate::error::StorageError;
use jiff::civil::Date;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The serde name of a unit enum variant.
pub fn name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(e) => format!("unserializable: {e}"),
    }
}

pub fn parse<T: DeserializeOwned>(s: &str, what: &str) -> Result<T, StorageError> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|e| StorageError::corrupt(what, e))
}

pub fn date(s: &str, what: &str) -> Result<Date, StorageError> {
    s.parse::<Date>()
        .map_err(|e| StorageError::corrupt(what, e))
}

pub fn opt_date(s: Option<String>, what: &str) -> Result<Option<Date>, StorageError> {
    s.map(|s| date(&s, what)).transpose()
}

pub fn json<T: Serialize>(v: &T) -> Result<String, StorageError> {
    serde_json::to_string(v).map_err(|e| StorageError::corrupt("value to store", e))
}

pub fn from_json<T: DeserializeOwned>(s: &str, what: &str) -> Result<T, StorageError> {
    serde_json::from_str(s).map_err(|e| StorageError::corrupt(what, e))
}

/// A stored integer in the range of its Rust type.
pub fn int<T: TryFrom<i64>>(v: i64, what: &str) -> Result<T, StorageError> {
    T::try_from(v).map_err(|_| StorageError::corrupt(what, format!("{v} is out of range")))
}
