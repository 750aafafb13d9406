//! JSON in the contract's own spelling: `{"dial-status": {"leg": "agent", "status":
//! "no-answer"}}`, `"started"`, `now-ms`, as wit/router.wit and the docs write them, whatever
//! language a plugin is built in.
//!
//! The host's types are generated from the WIT by wasmtime and (de)serialised by serde in Rust
//! spelling (`DialStatus`, `NoAnswer`, `now_ms`). This module walks a JSON value along the WIT
//! type it stands for and renames record fields, variant cases and enum cases between the two
//! spellings. Reading accepts either spelling; writing gives the WIT's.

use serde_json::{Map, Value};
use wit_parser::{Resolve, Type, TypeDefKind, TypeId};

/// The contract, as the router was built against it.
const WIT: &str = include_str!("../../../wit/router.wit");

/// Translates JSON between the WIT spelling and the host's serde spelling.
pub struct WitJson {
    resolve: Resolve,
    types: Vec<(String, TypeId)>,
}

#[derive(Clone, Copy, PartialEq)]
enum Spelling {
    /// The WIT's: kebab-case everywhere.
    Wit,
    /// serde's for the generated Rust types: snake_case fields, UpperCamelCase cases.
    Rust,
}

impl WitJson {
    /// Reads the contract's `types` interface.
    pub fn new() -> Result<Self, String> {
        let mut resolve = Resolve::default();
        let package = resolve
            .push_str("wit/router.wit", WIT)
            .map_err(|e| format!("wit/router.wit: {e}"))?;
        let types = resolve.packages[package]
            .interfaces
            .get("types")
            .map(|&id| {
                resolve.interfaces[id]
                    .types
                    .iter()
                    .map(|(name, &ty)| (name.clone(), ty))
                    .collect()
            })
            .ok_or("wit/router.wit has no `types` interface")?;
        Ok(WitJson { resolve, types })
    }

    /// `value`, a `type_name` (such as `event` or `call`) in either spelling, in the host's
    /// serde spelling, ready for `serde_json::from_value`.
    pub fn from_wit(&self, type_name: &str, value: Value) -> Result<Value, String> {
        self.walk(Type::Id(self.type_id(type_name)?), value, Spelling::Rust)
            .map_err(|e| format!("{type_name}: {e}"))
    }

    /// `value`, a `type_name` serialised by serde, in the WIT's spelling.
    pub fn to_wit(&self, type_name: &str, value: Value) -> Result<Value, String> {
        self.walk(Type::Id(self.type_id(type_name)?), value, Spelling::Wit)
            .map_err(|e| format!("{type_name}: {e}"))
    }

    fn type_id(&self, name: &str) -> Result<TypeId, String> {
        self.types
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| *id)
            .ok_or_else(|| format!("no type {name:?} in wit/router.wit"))
    }

    fn walk(&self, ty: Type, value: Value, to: Spelling) -> Result<Value, String> {
        let Type::Id(id) = ty else {
            return Ok(value); // numbers, strings, bools: the same in both spellings
        };
        match &self.resolve.types[id].kind {
            TypeDefKind::Type(inner) => self.walk(*inner, value, to),
            TypeDefKind::Option(inner) => match value {
                Value::Null => Ok(Value::Null),
                v => self.walk(*inner, v, to),
            },
            TypeDefKind::List(inner) => match value {
                Value::Array(items) => items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| self.walk(*inner, v, to).map_err(|e| format!("[{i}]: {e}")))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array),
                other => Err(format!("expected a list, got {other}")),
            },
            TypeDefKind::Record(record) => {
                let Value::Object(fields) = value else {
                    return Err(format!("expected a record, got {value}"));
                };
                let mut out = Map::new();
                for (key, v) in fields {
                    let field = record
                        .fields
                        .iter()
                        .find(|f| f.name == key || snake(&f.name) == key)
                        .ok_or_else(|| {
                            let names: Vec<&str> =
                                record.fields.iter().map(|f| f.name.as_str()).collect();
                            format!("unknown field {key:?} (expected {})", names.join(", "))
                        })?;
                    let v = self
                        .walk(field.ty, v, to)
                        .map_err(|e| format!("{}: {e}", field.name))?;
                    out.insert(spell_field(&field.name, to), v);
                }
                Ok(Value::Object(out))
            }
            TypeDefKind::Enum(e) => {
                let Value::String(name) = &value else {
                    return Err(format!("expected an enum case, got {value}"));
                };
                e.cases
                    .iter()
                    .find(|c| &c.name == name || &camel(&c.name) == name)
                    .map(|c| Value::String(spell_case(&c.name, to)))
                    .ok_or_else(|| {
                        let names: Vec<&str> = e.cases.iter().map(|c| c.name.as_str()).collect();
                        format!("unknown case {name:?} (expected {})", names.join(", "))
                    })
            }
            TypeDefKind::Variant(variant) => {
                // A case without a payload is its name; one with a payload, `{name: payload}`.
                let (name, payload) = match value {
                    Value::String(name) => (name, None),
                    Value::Object(map) if map.len() == 1 => {
                        let Some((name, payload)) = map.into_iter().next() else {
                            return Err("expected a variant case".into());
                        };
                        (name, Some(payload))
                    }
                    other => return Err(format!("expected a variant case, got {other}")),
                };
                let case = variant
                    .cases
                    .iter()
                    .find(|c| c.name == name || camel(&c.name) == name)
                    .ok_or_else(|| {
                        let names: Vec<&str> =
                            variant.cases.iter().map(|c| c.name.as_str()).collect();
                        format!("unknown case {name:?} (expected {})", names.join(", "))
                    })?;
                let spelled = spell_case(&case.name, to);
                match (case.ty, payload) {
                    (None, None) => Ok(Value::String(spelled)),
                    (Some(ty), Some(payload)) => {
                        let payload = self
                            .walk(ty, payload, to)
                            .map_err(|e| format!("{}: {e}", case.name))?;
                        Ok(Value::Object(Map::from_iter([(spelled, payload)])))
                    }
                    (None, Some(_)) => Err(format!("case {:?} takes no payload", case.name)),
                    (Some(_), None) => Err(format!("case {:?} needs a payload", case.name)),
                }
            }
            TypeDefKind::Result(result) => {
                let Value::Object(map) = value else {
                    return Err(format!(
                        "expected {{\"ok\": …}} or {{\"err\": …}}, got {value}"
                    ));
                };
                let Some((key, v)) = map.into_iter().next() else {
                    return Err("expected {\"ok\": …} or {\"err\": …}".into());
                };
                let (ty, wit_name, rust_name) = match key.as_str() {
                    "ok" | "Ok" => (result.ok, "ok", "Ok"),
                    "err" | "Err" => (result.err, "err", "Err"),
                    other => return Err(format!("expected ok or err, got {other:?}")),
                };
                let v = match ty {
                    Some(ty) => self.walk(ty, v, to)?,
                    None => v,
                };
                let name = if to == Spelling::Wit {
                    wit_name
                } else {
                    rust_name
                };
                Ok(Value::Object(Map::from_iter([(name.to_string(), v)])))
            }
            TypeDefKind::Tuple(tuple) => match value {
                Value::Array(items) if items.len() == tuple.types.len() => items
                    .into_iter()
                    .zip(&tuple.types)
                    .map(|(v, ty)| self.walk(*ty, v, to))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array),
                other => Err(format!(
                    "expected a tuple of {}, got {other}",
                    tuple.types.len()
                )),
            },
            other => Err(format!("a {} has no JSON form here", other.as_str())),
        }
    }
}

fn spell_field(wit_name: &str, to: Spelling) -> String {
    match to {
        Spelling::Wit => wit_name.to_string(),
        Spelling::Rust => snake(wit_name),
    }
}

fn spell_case(wit_name: &str, to: Spelling) -> String {
    match to {
        Spelling::Wit => wit_name.to_string(),
        Spelling::Rust => camel(wit_name),
    }
}

/// `now-ms` → `now_ms`, as wasmtime's bindgen names record fields.
fn snake(kebab: &str) -> String {
    kebab.replace('-', "_")
}

/// `no-answer` → `NoAnswer`, as wasmtime's bindgen names variant and enum cases.
fn camel(kebab: &str) -> String {
    kebab
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::WitJson;
    use crate::runtime::{Call, Event, Reply};
    use serde_json::json;

    #[test]
    fn events_read_in_either_spelling_and_write_in_the_wits() {
        let wit = WitJson::new().expect("wit");
        let spelled = json!({"dial-status": {"leg": "agent", "status": "no-answer"}});
        let rust = wit.from_wit("event", spelled.clone()).expect("from wit");
        assert_eq!(
            rust,
            json!({"DialStatus": {"leg": "agent", "status": "NoAnswer"}})
        );
        let event: Event = serde_json::from_value(rust.clone()).expect("an event");
        assert_eq!(
            wit.to_wit("event", serde_json::to_value(&event).expect("json"))
                .expect("to wit"),
            spelled
        );
        // The Rust spelling is read too, and a case without a payload is its name.
        assert_eq!(wit.from_wit("event", rust.clone()).expect("rust"), rust);
        assert_eq!(
            wit.from_wit("event", json!("started")).expect("started"),
            json!("Started")
        );
        // Mistakes name what was expected.
        assert_eq!(
            wit.from_wit("event", json!({"dial-status": {"leg": "agent", "status": "no-anwser"}})),
            Err("event: dial-status: status: unknown case \"no-anwser\" (expected ringing, progress, answer, busy, no-answer, unavailable, congestion, cancel, failed)".into())
        );
        assert_eq!(
            wit.from_wit("event", json!("ringing")),
            Err("event: unknown case \"ringing\" (expected started, state-changed, dial-status, hung-up, left, entered-bridge, left-bridge, dtmf, playback-finished, timer, command-failed)".into())
        );
    }

    #[test]
    fn a_call_record_and_a_reply_round_trip() {
        let wit = WitJson::new().expect("wit");
        let call = json!({
            "id": "c1", "tenant": "acme", "args": [], "bridges": [], "state": [], "now-ms": 5,
            "channels": [{"handle": "caller", "name": "PJSIP/sipp-1", "state": "ring",
                "caller": {"name": "Alice", "number": "5550100"},
                "connected": {"name": "", "number": ""}, "dialplan": null}]
        });
        let rust = wit.from_wit("call", call.clone()).expect("call");
        let parsed: Call = serde_json::from_value(rust).expect("a call");
        assert_eq!(parsed.now_ms, 5);
        assert_eq!(
            wit.to_wit("call", serde_json::to_value(&parsed).expect("json"))
                .expect("to wit"),
            call
        );
        let reply = json!({"commands": [
            {"create": {"leg": "agent", "endpoint": "PJSIP/alice", "caller-id": "pass-through",
                        "formats": null, "originator": null}},
            {"dial": {"leg": "agent", "caller": "caller", "timeout-s": 30}},
            {"answer": "caller"}
        ], "state": null});
        let parsed: Reply =
            serde_json::from_value(wit.from_wit("reply", reply.clone()).expect("reply"))
                .expect("a reply");
        assert_eq!(parsed.commands.len(), 3);
        assert_eq!(
            wit.to_wit("reply", serde_json::to_value(&parsed).expect("json"))
                .expect("to wit"),
            reply
        );
    }
}
