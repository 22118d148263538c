//! Octopus's collection filters, as SQL: `ids` (an id asked for that does not exist is
//! simply not in the answer) and `partialName` (part of the name, without case), for
//! every list of named things; and the padding that keeps lists of every length to a
//! handful of SQL texts (PostgreSQL keeps every prepared text per connection).

use super::sql::{Param, Value};

/// What a list is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct Named {
    pub ids: Option<Vec<i64>>,
    pub partial_name: Option<String>,
}

/// A `WHERE` clause (empty when nothing narrows) and its values, in `?` order.
#[derive(Debug, Clone, Default)]
pub struct Clause {
    parts: Vec<String>,
    pub values: Vec<Value>,
}

impl Clause {
    /// `column IN (...)` over `ids` (no row when `ids` is empty).
    pub fn ids(&mut self, column: &str, ids: &[i64]) {
        match ids.last() {
            None => self.parts.push("1 = 0".into()),
            Some(&last) => {
                let ids = padded(ids, ids.len().next_power_of_two(), last);
                self.parts
                    .push(format!("{column} IN ({})", marks(ids.len())));
                self.values.extend(ids.into_iter().map(Value::Int));
            }
        }
    }

    /// `column` holds `text` (without case).
    pub fn contains(&mut self, column: &str, text: &str) {
        self.parts
            .push(format!("instr(lower({column}), lower(?)) > 0"));
        self.values.push(Value::Text(text.to_string()));
    }

    /// `column IN (...)` over `values` (no row when `values` is empty).
    pub fn any_of(&mut self, column: &str, values: Vec<Value>) {
        if values.is_empty() {
            self.parts.push("1 = 0".into());
        } else {
            self.parts
                .push(format!("{column} IN ({})", marks(values.len())));
            self.values.extend(values);
        }
    }

    /// `column = value`.
    pub fn equals(&mut self, column: &str, value: Value) {
        self.parts.push(format!("{column} = ?"));
        self.values.push(value);
    }

    /// ` WHERE ...`, or nothing.
    pub fn sql(&self) -> String {
        if self.parts.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.parts.join(" AND "))
        }
    }

    /// The values as parameters.
    pub fn params(&self) -> Vec<&dyn Param> {
        self.values.iter().map(|v| v as &dyn Param).collect()
    }

    /// The values and then `skip`'s page of `take`, for `LIMIT ? OFFSET ?`.
    pub fn paged(&self, skip: i64, take: i64) -> Vec<Value> {
        let mut values = self.values.clone();
        values.extend([Value::Int(take), Value::Int(skip)]);
        values
    }
}

impl Named {
    /// The clause over a table's `id` and `name`.
    pub fn clause(&self) -> Clause {
        self.clause_on("name")
    }

    /// The clause with `partial_name` matched in `name_column`.
    pub fn clause_on(&self, name_column: &str) -> Clause {
        let mut clause = Clause::default();
        if let Some(ids) = &self.ids {
            clause.ids("id", ids);
        }
        if let Some(part) = self.partial_name.as_deref().map(str::trim) {
            if !part.is_empty() {
                clause.contains(name_column, part);
            }
        }
        clause
    }
}

/// `values` and then `last` again up to `len` (at least `values`).
pub fn padded<T: Copy>(values: &[T], len: usize, last: T) -> Vec<T> {
    let mut out = values.to_vec();
    out.resize(len.max(values.len()), last);
    out
}

/// `n` parameter marks.
pub fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Values as parameters.
pub fn params(values: &[Value]) -> Vec<&dyn Param> {
    values.iter().map(|v| v as &dyn Param).collect()
}
