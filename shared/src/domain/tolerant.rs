//! The tolerant reader: a Giosg resource whose fields cannot all be read is read without them.
//!
//! Giosg's fields are typed by guesswork (giosg-api.md): a counter may come as a string, a flag
//! as `0`, a time in a form nobody documented. Refusing the whole delivery for one such field
//! would lose the event for good (Giosg does not retry a 400), so a field that does not read is
//! left out, named in [`Read::dropped`] for the caller to log and count, and the rest is kept.
//! Two things are never left out quietly: a time beyond the years 0000–9999 (it would sort
//! wrongly, so the caller refuses it: [`Unreadable::TimeOutOfRange`]), and a field the type
//! requires (its absence is an error of the whole resource).

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::time::GiosgTime;

/// A resource read leniently, with the names of the top-level fields left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Read<T> {
    pub value: T,
    pub dropped: Vec<String>,
}

/// Why a resource could not be read even without its unreadable fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    #[error("the resource is not a JSON object")]
    NotAnObject,
    #[error("`{field}` is a time beyond the years 0000 to 9999")]
    TimeOutOfRange { field: String },
    #[error("{0}")]
    Invalid(String),
}

/// Reads `value` as `T`, leaving out each top-level field that does not read.
pub fn read<T: DeserializeOwned>(value: Value) -> Result<Read<T>, Unreadable> {
    let mut object = match value {
        Value::Object(object) => object,
        other => {
            return serde_json::from_value(other)
                .map(|value| Read {
                    value,
                    dropped: Vec::new(),
                })
                .map_err(|_| Unreadable::NotAnObject);
        }
    };
    let mut dropped = Vec::new();
    // Each round either succeeds or removes one key, so this ends.
    loop {
        let attempt = Value::Object(object);
        match serde_path_to_error::deserialize::<_, T>(&attempt) {
            Ok(value) => return Ok(Read { value, dropped }),
            Err(error) => {
                let Value::Object(mut back) = attempt else {
                    unreachable!("built as an object above")
                };
                let field = top_level_field(&error);
                let removable = field.as_deref().filter(|f| back.contains_key(*f));
                let Some(field) = removable.map(str::to_owned) else {
                    return Err(Unreadable::Invalid(error.to_string()));
                };
                if let Some(Value::String(text)) = back.get(&field)
                    && GiosgTime::is_out_of_range(text)
                {
                    return Err(Unreadable::TimeOutOfRange { field });
                }
                back.remove(&field);
                dropped.push(field);
                object = back;
            }
        }
    }
}

/// The first segment of the path where reading failed, when it is a field name.
fn top_level_field(error: &serde_path_to_error::Error<serde_json::Error>) -> Option<String> {
    match error.path().iter().next()? {
        serde_path_to_error::Segment::Map { key } => Some(key.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ChatResource, Field, MessageResource};
    use serde_json::json;

    #[test]
    fn a_clean_resource_drops_nothing() {
        let read: Read<ChatResource> = read(json!({"id": "c1", "is_ended": true})).unwrap();
        assert!(read.dropped.is_empty());
        assert_eq!(read.value.is_ended, Field::Value(true));
    }

    #[test]
    fn unreadable_fields_are_left_out_and_named() {
        let read: Read<MessageResource> = read(json!({
            "id": "m1",
            "message": "kept",
            "created_at": "not a time",
            "is_encrypted": "no",
            "sender_avatar": 17,
            "attachments": "cards",
        }))
        .unwrap();
        assert_eq!(read.value.message, Field::Value("kept".to_owned()));
        assert!(read.value.created_at.is_absent());
        assert!(read.value.attachments.is_absent());
        let mut dropped = read.dropped.clone();
        dropped.sort();
        assert_eq!(
            dropped,
            ["attachments", "created_at", "is_encrypted", "sender_avatar"]
        );
    }

    #[test]
    fn a_time_beyond_year_9999_is_refused_not_dropped() {
        for text in [
            "10000-01-01T00:00:00Z",
            "+12345-06-07T08:09:10.000",
            "-0001-01-01T00:00:00Z",
        ] {
            let error =
                read::<MessageResource>(json!({"id": "m1", "created_at": text})).unwrap_err();
            assert_eq!(
                error,
                Unreadable::TimeOutOfRange {
                    field: "created_at".into()
                },
                "{text}"
            );
        }
    }

    #[test]
    fn a_required_field_that_does_not_read_fails_the_whole() {
        #[derive(Debug, serde::Deserialize)]
        struct Needs {
            #[allow(dead_code)]
            is_online: bool,
        }
        assert!(matches!(
            read::<Needs>(json!({"is_online": "yes"})),
            Err(Unreadable::Invalid(_))
        ));
        assert!(read::<Needs>(json!({"is_online": true, "extra": [1]})).is_ok());
    }

    #[test]
    fn a_resource_that_is_not_an_object_is_refused() {
        assert_eq!(
            read::<ChatResource>(json!("chat")).unwrap_err(),
            Unreadable::NotAnObject
        );
    }
}
