//! The four values a parameter or a column holds on either backend, what converts to
//! and from them, and a result's rows (read by column name or, for one column, by
//! position).

use crate::error::{Error, Result};

/// A parameter or a column's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// What can be bound as a parameter.
pub trait Param {
    fn value(&self) -> Value;
}

impl Param for Value {
    fn value(&self) -> Value {
        self.clone()
    }
}
impl Param for i64 {
    fn value(&self) -> Value {
        Value::Int(*self)
    }
}
impl Param for i32 {
    fn value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl Param for bool {
    fn value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl Param for f64 {
    fn value(&self) -> Value {
        Value::Real(*self)
    }
}
impl Param for &str {
    fn value(&self) -> Value {
        Value::Text((*self).to_string())
    }
}
impl Param for String {
    fn value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl<T: Param> Param for Option<T> {
    fn value(&self) -> Value {
        self.as_ref().map_or(Value::Null, Param::value)
    }
}

impl<T: crate::model::Spelling> Param for T {
    fn value(&self) -> Value {
        Value::Text(self.spelling().to_string())
    }
}

/// What a column can be read as.
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> std::result::Result<Self, String>;
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> std::result::Result<Self, String> {
        match value {
            Value::Int(i) => Ok(*i),
            other => Err(format!("expected an integer, found {other:?}")),
        }
    }
}
impl FromValue for bool {
    fn from_value(value: &Value) -> std::result::Result<Self, String> {
        i64::from_value(value).map(|i| i != 0)
    }
}
impl FromValue for f64 {
    fn from_value(value: &Value) -> std::result::Result<Self, String> {
        match value {
            Value::Real(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f64),
            other => Err(format!("expected a number, found {other:?}")),
        }
    }
}
impl FromValue for String {
    fn from_value(value: &Value) -> std::result::Result<Self, String> {
        match value {
            Value::Text(s) => Ok(s.clone()),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
}
impl<T: crate::model::Spelling> FromValue for T {
    fn from_value(value: &Value) -> std::result::Result<Self, String> {
        let text = String::from_value(value)?;
        T::every()
            .iter()
            .copied()
            .find(|v| v.spelling() == text)
            .ok_or_else(|| format!("'{text}' is not a known state or kind"))
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> std::result::Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// One row of a result: its values, and the names of its columns (shared by the rows
/// of one query). Two rows are equal when their values are: the backends name a
/// column that is an expression differently (which is why the store aliases those it
/// reads by name).
#[derive(Debug, Clone)]
pub struct Row {
    pub values: Vec<Value>,
    pub columns: std::sync::Arc<[String]>,
}

impl PartialEq for Row {
    fn eq(&self, other: &Row) -> bool {
        self.values == other.values
    }
}

impl Row {
    /// Column `index` as a `T`: for a query of one column (or a few, named where read).
    pub fn get<T: FromValue>(&self, index: usize) -> Result<T> {
        let value = self
            .values
            .get(index)
            .ok_or_else(|| Error::internal(format!("database: no column {index}")))?;
        T::from_value(value).map_err(|e| Error::internal(format!("database: column {index}: {e}")))
    }

    /// The column named `name` as a `T`: how a row of many columns is read, so that
    /// the mapping does not depend on the order of a hand-written column list.
    pub fn col<T: FromValue>(&self, name: &str) -> Result<T> {
        let index = self
            .columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| Error::internal(format!("database: no column named {name}")))?;
        T::from_value(&self.values[index])
            .map_err(|e| Error::internal(format!("database: column {name}: {e}")))
    }
}

/// The column names of a statement, shared by its rows.
pub(super) fn names<'a>(names: impl Iterator<Item = &'a str>) -> std::sync::Arc<[String]> {
    names.map(str::to_string).collect()
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

pub(super) fn from_sqlite(value: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) | ValueRef::Blob(t) => {
            Value::Text(String::from_utf8_lossy(t).into_owned())
        }
    }
}
