//! Decoding the frames a `/ws` client sends.

use app::protocol::{ClientMsg, ErrorCode};

/// Parses a client frame, telling apart text that is not JSON, an unknown `type`, and a
/// known type with missing or malformed fields.
pub(super) fn parse_client_frame(text: &str) -> Result<ClientMsg, (ErrorCode, String)> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        (
            ErrorCode::InvalidFrame,
            format!("frame is not valid JSON: {e}"),
        )
    })?;
    let kind = value
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or((
            ErrorCode::InvalidFrame,
            "frame must be a JSON object with a string field \"type\"".to_owned(),
        ))?
        .to_owned();
    if !ClientMsg::TYPES.contains(&kind.as_str()) {
        return Err((
            ErrorCode::UnknownType,
            format!("unknown frame type \"{kind}\""),
        ));
    }
    serde_json::from_value(value).map_err(|e| {
        (
            ErrorCode::InvalidField,
            format!("invalid \"{kind}\" frame: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::Strategy;

    #[test]
    fn frames_are_classified_by_what_is_wrong() {
        assert!(matches!(
            parse_client_frame("{nope"),
            Err((ErrorCode::InvalidFrame, _))
        ));
        assert!(matches!(
            parse_client_frame("[1]"),
            Err((ErrorCode::InvalidFrame, _))
        ));
        assert!(matches!(
            parse_client_frame(r#"{"type":"dance"}"#),
            Err((ErrorCode::UnknownType, _))
        ));
        let missing = parse_client_frame(r#"{"type":"send_message","content":"hi"}"#);
        assert!(
            matches!(missing, Err((ErrorCode::InvalidField, ref m)) if m.contains("conversation_id"))
        );
        assert_eq!(
            parse_client_frame(r#"{"type":"ping","t":5}"#),
            Ok(ClientMsg::Ping { t: 5 })
        );
    }

    #[test]
    fn every_declared_type_is_a_real_variant() {
        for kind in ClientMsg::TYPES {
            let err = serde_json::from_str::<ClientMsg>(&format!(r#"{{"type":"{kind}"}}"#))
                .expect_err("fields are missing");
            assert!(
                !err.to_string().contains("unknown variant"),
                "{kind}: {err}"
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any text at all: decoded or refused with a code, never a panic.
        #[test]
        fn any_text_is_decoded_or_refused(text in ".*") {
            let _ = parse_client_frame(&text);
        }

        /// An object with any `type` and any fields is told apart by its type.
        #[test]
        fn objects_are_refused_by_what_is_wrong(
            kind in proptest::prop_oneof![
                proptest::sample::select(ClientMsg::TYPES.to_vec()).prop_map(str::to_owned),
                "[a-z_]{0,16}",
            ],
            fields in proptest::collection::btree_map("[a-z_]{1,12}", proptest::prelude::any::<i64>(), 0..6),
        ) {
            let mut object = serde_json::Map::new();
            for (k, v) in fields {
                object.insert(k, v.into());
            }
            object.insert("type".into(), kind.clone().into());
            let outcome = parse_client_frame(&serde_json::Value::Object(object).to_string());
            if ClientMsg::TYPES.contains(&kind.as_str()) {
                proptest::prop_assert!(!matches!(outcome, Err((ErrorCode::UnknownType, _))));
            } else {
                proptest::prop_assert!(matches!(outcome, Err((ErrorCode::UnknownType, _))));
            }
        }
    }
}
