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
}
