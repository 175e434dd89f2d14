//! The supplementary sections (staffing, 三公 counts, procurement, assets, operating expenses) on their sheets:
//! each line of a section table maps fields of the section's message onto its columns, so the fields are read
//! and set by name through the contract's descriptors, for any section the taxonomy declares.

use prost::Message;
use prost_reflect::{DynamicMessage, ReflectMessage, Value};

use crate::pb;

/// The disclosure as a message addressed by field names.
fn to_dynamic(disclosure: &pb::Disclosure) -> DynamicMessage {
    let descriptor = pb::descriptor_pool()
        .get_message_by_name("juesuan.v1.Disclosure")
        .expect("the contract has Disclosure");
    DynamicMessage::decode(descriptor, disclosure.encode_to_vec().as_slice())
        .expect("a Disclosure re-decodes")
}

/// A field of a message by a dotted path ("vehicles_by_use.senior_officials") as decimal text, when set.
pub(super) fn get(disclosure: &pb::Disclosure, section: &str, path: &str) -> Option<String> {
    let dynamic = to_dynamic(disclosure);
    let mut message = match dynamic.get_field_by_name(section)?.as_ref() {
        Value::Message(m) if dynamic.has_field_by_name(section) => m.clone(),
        _ => return None,
    };
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if !message.has_field_by_name(part) {
            return None;
        }
        let value = message.get_field_by_name(part)?.into_owned();
        match (value, parts.peek()) {
            (Value::Message(inner), Some(_)) => message = inner,
            (Value::Message(decimal), None) => {
                return decimal
                    .get_field_by_name("value")
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .filter(|v| !v.is_empty());
            }
            (Value::U32(n), None) => return Some(n.to_string()),
            (Value::I32(n), None) => return Some(n.to_string()),
            (Value::String(s), None) => return Some(s),
            _ => return None,
        }
    }
    None
}

/// Sets fields of the disclosure's sections: (section, dotted path, decimal text) each. A text that does not fit
/// its field (a count beyond 32 bits) is a problem, returned with its index.
pub(super) fn set(
    disclosure: pb::Disclosure,
    values: &[(String, String, String)],
) -> Result<pb::Disclosure, Vec<(usize, String)>> {
    let mut dynamic = to_dynamic(&disclosure);
    let mut problems = Vec::new();
    for (index, (section, path, text)) in values.iter().enumerate() {
        if let Err(reason) = set_one(&mut dynamic, section, path, text) {
            problems.push((index, reason));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    pb::Disclosure::decode(dynamic.encode_to_vec().as_slice())
        .map_err(|e| vec![(0, format!("the sections do not encode: {e}"))])
}

fn set_one(
    dynamic: &mut DynamicMessage,
    section: &str,
    path: &str,
    text: &str,
) -> Result<(), String> {
    let mut message = dynamic
        .get_field_by_name_mut(section)
        .and_then(|v| v.as_message_mut())
        .ok_or_else(|| format!("the disclosure has no section {section}"))?;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        message = message
            .get_field_by_name_mut(part)
            .and_then(|v| v.as_message_mut())
            .ok_or_else(|| format!("{section} has no part {part}"))?;
    }
    let last = parts[parts.len() - 1];
    let field = message
        .descriptor()
        .get_field_by_name(last)
        .ok_or_else(|| format!("{section} has no field {last}"))?;
    let value = match field.kind() {
        prost_reflect::Kind::Uint32 => Value::U32(
            text.parse()
                .map_err(|_| format!("{text} is not a count (0 to 4,294,967,295)"))?,
        ),
        prost_reflect::Kind::Int32 => Value::I32(
            text.parse()
                .map_err(|_| format!("{text} is not a whole number in range"))?,
        ),
        prost_reflect::Kind::String => Value::String(text.to_owned()),
        prost_reflect::Kind::Message(decimal) => {
            let mut inner = DynamicMessage::new(decimal);
            inner.set_field_by_name("value", Value::String(text.to_owned()));
            Value::Message(inner)
        }
        _ => return Err(format!("{section}.{path} is not a figure")),
    };
    message.set_field(&field, value);
    Ok(())
}
