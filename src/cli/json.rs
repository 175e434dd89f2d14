//! The proto JSON mapping of the contracts (proto field names, enum names, decimals as strings), through the
//! descriptor set compiled into the binary.

use prost::Message;
use prost_reflect::{DeserializeOptions, DynamicMessage, SerializeOptions};

use crate::pb;

#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    #[error("{0}")]
    Syntax(#[from] serde_json::Error),
    #[error("the message does not re-encode: {0}")]
    Decode(#[from] prost::DecodeError),
}

/// Parses the JSON mapping of `juesuan.v1.<name>`; unknown fields are refused.
pub fn from_json<T: Message + Default>(name: &str, text: &str) -> Result<T, JsonError> {
    let descriptor = pb::descriptor_pool()
        .get_message_by_name(&format!("juesuan.v1.{name}"))
        .expect("a message of the contracts");
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let dynamic = DynamicMessage::deserialize_with_options(
        descriptor,
        &mut deserializer,
        &DeserializeOptions::new(),
    )?;
    deserializer.end()?;
    Ok(T::decode(dynamic.encode_to_vec().as_slice())?)
}

/// The JSON mapping of a message, with proto field names, pretty-printed.
pub fn to_json<T: Message>(name: &str, message: &T) -> String {
    let descriptor = pb::descriptor_pool()
        .get_message_by_name(&format!("juesuan.v1.{name}"))
        .expect("a message of the contracts");
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .expect("a message re-decodes with its own descriptor");
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::pretty(&mut out);
    dynamic
        .serialize_with_options(
            &mut serializer,
            &SerializeOptions::new().use_proto_field_name(true),
        )
        .expect("serializing to memory cannot fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_disclosure_with_enum_names_and_decimal_strings() {
        let text = r#"{"cover": {"unit_code": "U1", "fiscal_year": 2024, "amount_unit": "AMOUNT_UNIT_TEN_THOUSAND_YUAN"},
                      "tables": [{"code": "T01", "rows": [{"code": "income_total",
                                  "cells": [{"column": "amount", "value": {"value": "8190.80"}}]}]}]}"#;
        let disclosure: pb::Disclosure = from_json("Disclosure", text).unwrap();
        assert_eq!(
            disclosure.tables[0].rows[0].cells[0]
                .value
                .as_ref()
                .unwrap()
                .value,
            "8190.80"
        );
        let back = to_json("Disclosure", &disclosure);
        assert!(
            back.contains("\"8190.80\"") && back.contains("AMOUNT_UNIT_TEN_THOUSAND_YUAN"),
            "{back}"
        );
    }

    #[test]
    fn unknown_fields_are_refused_with_a_position() {
        let err =
            from_json::<pb::Disclosure>("Disclosure", "{\n  \"cover\": {\"unit_kode\": \"U1\"}}")
                .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("unit_kode") && message.contains("line 2"),
            "{message}"
        );
    }
}
