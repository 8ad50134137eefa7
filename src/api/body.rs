//! Reading request bodies of the JSON surface: a size limit (413), JSON or form by content type
//! (415 otherwise), and string fields pulled out strictly (400 `invalid_request`).

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, web};
use futures_util::StreamExt;

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
/// string (JSON) or that appears twice (form, RFC 6749 §3.2) is an `invalid_request`.
pub fn parse_fields(
    kind: BodyKind,
    body: &[u8],
    known: &[&str],
) -> Result<HashMap<String, String>, ApiError> {
    let mut fields = HashMap::new();
    match kind {
        BodyKind::Empty => {}
        BodyKind::Json => {
            let value: serde_json::Value = serde_json::from_slice(body)
                .map_err(|_| ApiError::InvalidRequest("the body is not valid JSON".into()))?;
            let serde_json::Value::Object(map) = value else {
                return Err(ApiError::InvalidRequest(
                    "the body must be a JSON object".into(),
                ));
            };
            for name in known {
                match map.get(*name) {
                    None | Some(serde_json::Value::Null) => {}
                    Some(serde_json::Value::String(s)) => {
                        fields.insert((*name).to_string(), s.clone());
                    }
                    Some(_) => {
                        return Err(ApiError::InvalidRequest(format!(
                            "`{name}` must be a string"
                        )));
                    }
                }
            }
        }
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
