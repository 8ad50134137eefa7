//! Reading request bodies of the JSON surface: a size limit (413), JSON or form by content type
//! (415 otherwise), and string fields pulled out strictly (400 `invalid_request`).

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::fmt;

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};

use super::error::ApiError;

/// How a body was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    Form,
    /// No body and no content type.
    Empty,
}

/// Reads the whole body, refusing more than `limit` bytes and unknown content types.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<(BodyKind, web::BytesMut), ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge);
    }
    let mime = req
        .mime_type()
        .map_err(|_| ApiError::InvalidRequest("unreadable Content-Type header".into()))?;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::InvalidRequest("the body could not be read".into()))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    let kind = match mime {
        None if body.is_empty() => BodyKind::Empty,
        None => {
            return Err(ApiError::UnsupportedMediaType(
                "send application/json or application/x-www-form-urlencoded",
            ));
        }
        Some(m) => classify(m.essence_str()).ok_or(ApiError::UnsupportedMediaType(
            "send application/json or application/x-www-form-urlencoded",
        ))?,
    };
    Ok((kind, body))
}

fn classify(essence: &str) -> Option<BodyKind> {
    match essence {
        "application/json" => Some(BodyKind::Json),
        "application/x-www-form-urlencoded" => Some(BodyKind::Form),
        _ => None,
    }
}

/// The string values of `known` fields; other fields are ignored. A known field that is not a
/// string (JSON) or that appears twice (JSON or form, RFC 6749 §3.2) is an `invalid_request`.
pub fn parse_fields(
    kind: BodyKind,
    body: &[u8],
    known: &[&str],
) -> Result<HashMap<String, String>, ApiError> {
    let mut fields = HashMap::new();
    match kind {
        BodyKind::Empty => {}
        BodyKind::Json => fields = parse_json_fields(body, known)?,
        BodyKind::Form => {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
                .map_err(|_| ApiError::InvalidRequest("the form body could not be read".into()))?;
            for (name, value) in pairs {
                if !known.contains(&name.as_str()) {
                    continue;
                }
                if fields.insert(name.clone(), value).is_some() {
                    return Err(ApiError::InvalidRequest(format!(
                        "`{name}` is given more than once"
                    )));
                }
            }
        }
    }
    Ok(fields)
}

/// The known fields of a JSON object body. Read name by name rather than through
/// `serde_json::Value`, whose map keeps the last of two equal names silently: a client (or a
/// proxy in front) could then read one `username` and the server another.
fn parse_json_fields(body: &[u8], known: &[&str]) -> Result<HashMap<String, String>, ApiError> {
    let problem = Cell::new(None);
    let mut json = serde_json::Deserializer::from_slice(body);
    let fields = KnownFields {
        known,
        problem: &problem,
    }
    .deserialize(&mut json)
    .and_then(|fields| json.end().map(|()| fields));
    fields.map_err(|e| {
        let why = match problem.take() {
            Some(ours) => ours,
            None if e.is_data() => "the body must be a JSON object".into(),
            None => "the body is not valid JSON".into(),
        };
        ApiError::InvalidRequest(why)
    })
}

/// Visits the top-level object once: a known field must be a string (or `null`, meaning
/// absent) and appear once under its decoded name; other fields are skipped unread.
struct KnownFields<'a> {
    known: &'a [&'a str],
    /// Why the body was refused, when the refusal is ours rather than the parser's.
    problem: &'a Cell<Option<String>>,
}

impl KnownFields<'_> {
    fn refuse<E: de::Error>(&self, problem: String) -> E {
        self.problem.set(Some(problem));
        E::custom("refused")
    }
}

impl<'de> DeserializeSeed<'de> for KnownFields<'_> {
    type Value = HashMap<String, String>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for KnownFields<'_> {
    type Value = HashMap<String, String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = HashMap::new();
        let mut seen = HashSet::new();
        while let Some(name) = map.next_key::<String>()? {
            let Some(&known) = self.known.iter().find(|k| **k == name) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if !seen.insert(known) {
                return Err(self.refuse(format!("`{known}` is given more than once")));
            }
            match map.next_value::<serde_json::Value>()? {
                serde_json::Value::Null => {}
                serde_json::Value::String(value) => {
                    fields.insert(known.to_string(), value);
                }
                _ => return Err(self.refuse(format!("`{known}` must be a string"))),
            }
        }
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KNOWN: &[&str] = &["grant_type", "username", "password", "refresh_token"];

    #[test]
    fn json_and_form_give_the_same_fields() {
        let json = parse_fields(
            BodyKind::Json,
            br#"{"username":"a","password":"b","client_id":"x"}"#,
            KNOWN,
        )
        .unwrap();
        let form = parse_fields(BodyKind::Form, b"username=a&password=b&scope=x", KNOWN).unwrap();
        assert_eq!(json, form);
        assert_eq!(json.len(), 2);
    }

    #[test]
    fn wrong_shapes_are_invalid_requests() {
        for (kind, body) in [
            (BodyKind::Json, &b"[1]"[..]),
            (BodyKind::Json, b"{\"username\":1}"),
            (BodyKind::Json, b"{nope"),
            (BodyKind::Form, b"username=a&username=b"),
        ] {
            assert!(matches!(
                parse_fields(kind, body, KNOWN),
                Err(ApiError::InvalidRequest(_))
            ));
        }
    }

    #[test]
    fn a_json_field_given_twice_is_an_invalid_request_naming_it() {
        for body in [
            &br#"{"username":"a","username":"b","password":"c"}"#[..],
            br#"{"username":"a","password":"c","username":"a"}"#,
            br#"{"username":"a","user\u006eame":"b"}"#,
            br#"{"username":null,"username":"b"}"#,
        ] {
            let err = parse_fields(BodyKind::Json, body, KNOWN).unwrap_err();
            assert!(
                matches!(&err, ApiError::InvalidRequest(m) if m == "`username` is given more than once"),
                "{err:?}"
            );
        }
        // As in forms, a field nobody reads may repeat.
        let json = parse_fields(
            BodyKind::Json,
            br#"{"scope":"a","scope":"b","username":"u"}"#,
            KNOWN,
        )
        .unwrap();
        let form = parse_fields(BodyKind::Form, b"scope=a&scope=b&username=u", KNOWN).unwrap();
        assert_eq!(json, form);
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            for kind in [BodyKind::Json, BodyKind::Form, BodyKind::Empty] {
                match parse_fields(kind, &body, KNOWN) {
                    Ok(fields) => prop_assert!(fields.keys().all(|k| KNOWN.contains(&k.as_str()))),
                    Err(e) => prop_assert!(matches!(e, ApiError::InvalidRequest(_))),
                }
            }
        }

        #[test]
        fn any_json_string_values_are_returned_verbatim(user in "\\PC{0,30}", pass in "\\PC{0,30}") {
            let body = serde_json::json!({"grant_type": "password", "username": user, "password": pass}).to_string();
            let fields = parse_fields(BodyKind::Json, body.as_bytes(), KNOWN).unwrap();
            prop_assert_eq!(&fields["username"], &user);
            prop_assert_eq!(&fields["password"], &pass);
        }
    }
}
