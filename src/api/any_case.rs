//! JSON request bodies whose field names match in any case, as Octopus's server takes
//! them (its npm client sends `projectId`, its own actions `ProjectId`): one mechanism
//! for every body the API reads. The text is read into a tree first — a key given twice
//! in one object is refused there — and then deserialized through [`AnyCase`], which
//! renames each object key to the field of the struct being filled that it equals
//! without case. Two keys that name one field in different cases are a 400 naming it.
//! Keys of free-form maps (no struct's fields) are kept as sent.

use std::collections::HashMap;
use std::fmt;

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::{Error, Map, Number, Value};

/// A JSON tree read from text, refusing a key given twice in one object.
pub struct Strict(pub Value);

impl<'de> de::Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Strict, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate field `{key}`")));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// A JSON tree as a deserializer whose structs take their fields in any case.
pub struct AnyCase(pub Value);

impl<'de> IntoDeserializer<'de, Error> for AnyCase {
    type Deserializer = AnyCase;
    fn into_deserializer(self) -> AnyCase {
        self
    }
}

fn visit_array<'de, V: Visitor<'de>>(items: Vec<Value>, visitor: V) -> Result<V::Value, Error> {
    let mut seq = SeqDeserializer::new(items.into_iter().map(AnyCase));
    let value = visitor.visit_seq(&mut seq)?;
    seq.end()?;
    Ok(value)
}

fn visit_object<'de, V: Visitor<'de>>(
    entries: Vec<(String, Value)>,
    visitor: V,
) -> Result<V::Value, Error> {
    let mut map = MapDeserializer::new(entries.into_iter().map(|(k, v)| (k, AnyCase(v))));
    let value = visitor.visit_map(&mut map)?;
    map.end()?;
    Ok(value)
}

/// `object`'s entries with each key that equals one of `fields` without case spelled as
/// that field; two keys naming one field are an error naming it.
fn renamed(object: Map<String, Value>, fields: &[&str]) -> Result<Vec<(String, Value)>, Error> {
    let mut given: HashMap<&str, String> = HashMap::new();
    let mut entries = Vec::with_capacity(object.len());
    for (key, value) in object {
        let name = fields
            .iter()
            .find(|f| f.eq_ignore_ascii_case(&key))
            .copied();
        let Some(name) = name else {
            entries.push((key, value));
            continue;
        };
        if let Some(first) = given.get(name) {
            return Err(de::Error::custom(format!(
                "{name}: given more than once ('{first}' and '{key}'); field names match \
                 without case"
            )));
        }
        given.insert(name, key);
        entries.push((name.to_string(), value));
    }
    Ok(entries)
}

impl<'de> Deserializer<'de> for AnyCase {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => visit_array(items, visitor),
            Value::Object(object) => visit_object(object.into_iter().collect(), visitor),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(object) => visit_object(renamed(object, fields)?, visitor),
            other => other.deserialize_struct(name, fields, visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

/// Reads `T` from `value` through [`AnyCase`], naming where in the body an error is.
pub fn from_value<T: de::DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(AnyCase(value)).map_err(located)
}

/// An error with where in the body it is (`Steps[0].Name: invalid type ...`), when it
/// is somewhere.
pub fn located(e: serde_path_to_error::Error<Error>) -> String {
    let path = e.path().to_string();
    let inner = e.into_inner();
    if path.is_empty() || path == "." || path == "?" {
        inner.to_string()
    } else {
        format!("{path}: {inner}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Inner {
        environment_id: String,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Outer {
        #[serde(alias = "ProjectIdOrName")]
        project_id: String,
        #[serde(rename = "spaceId")]
        space_id: Option<String>,
        steps: Vec<Inner>,
        free: Option<HashMap<String, String>>,
    }

    fn read(text: &str) -> Result<Outer, String> {
        let Strict(value) = serde_json::from_str(text).map_err(|e| e.to_string())?;
        from_value(value)
    }

    #[test]
    fn fields_match_in_any_case_and_twice_is_refused() {
        let outer = read(
            r#"{"projectId":"Projects-1","SPACEID":"Spaces-1",
                "steps":[{"environmentID":"Environments-2"}],"free":{"aB":"c"}}"#,
        )
        .unwrap();
        assert_eq!(outer.project_id, "Projects-1");
        assert_eq!(outer.space_id.as_deref(), Some("Spaces-1"));
        assert_eq!(outer.steps[0].environment_id, "Environments-2");
        assert_eq!(outer.free.unwrap()["aB"], "c");
        let alias = read(r#"{"projectidorname":"Web","Steps":[]}"#).unwrap();
        assert_eq!(alias.project_id, "Web");
        let twice = read(r#"{"projectId":"a","ProjectId":"b","Steps":[]}"#).unwrap_err();
        assert!(twice.contains("ProjectId: given more than once"), "{twice}");
        let exact = read(r#"{"ProjectId":"a","ProjectId":"b","Steps":[]}"#).unwrap_err();
        assert!(exact.contains("duplicate field `ProjectId`"), "{exact}");
        let nested = read(r#"{"ProjectId":"a","Steps":[{"EnvironmentId":1}]}"#).unwrap_err();
        assert!(
            nested.starts_with("Steps[0].EnvironmentId: invalid type"),
            "{nested}"
        );
        let missing = read(r#"{"Steps":[]}"#).unwrap_err();
        assert!(missing.contains("missing field `ProjectId`"), "{missing}");
    }
}
