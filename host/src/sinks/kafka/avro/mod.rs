//! JSON record values to Avro binary, checked against the writer schema field
//! by field, so a record that does not fit is refused with the path of the
//! field that failed (`device.os: expected string, got 3`) instead of failing
//! the batch.

mod stream;

use std::collections::HashMap;

use apache_avro::schema::{Name, RecordSchema, Schema, UnionSchema};
use apache_avro::types::Value as Avro;
use serde_json::Value as Json;

/// A parsed writer schema, with its named types for references.
pub struct AvroEncoder {
    schema: Schema,
    named: HashMap<Name, Schema>,
}

impl AvroEncoder {
    pub fn new(schema: Schema) -> Self {
        let mut named = HashMap::new();
        collect_named(&schema, &mut named);
        AvroEncoder { schema, named }
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The Avro binary encoding of a JSON value (no framing), or why it does
    /// not fit the schema.
    pub fn encode(&self, json: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(256);
        self.encode_into(json, &mut out)?;
        Ok(out)
    }

    /// Appends the Avro binary encoding of a JSON value to `out`, or says why
    /// it does not fit (and leaves `out` as it was). Streamed from the JSON
    /// text when its shape allows ([`stream`]); else through a tree, written
    /// directly when it fits; only a value that does not fit takes the slow
    /// path through apache-avro's `Value`, which names the field that failed.
    pub fn encode_into(&self, json: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let start = out.len();
        if stream::write(self, json, out).is_some() {
            return Ok(());
        }
        out.truncate(start);
        let json: Json =
            serde_json::from_slice(json).map_err(|e| format!("the value is not JSON: {e}"))?;
        if self.write(&self.schema, &json, out).is_some() {
            return Ok(());
        }
        out.truncate(start);
        out.extend_from_slice(&self.encode_checked(&json)?);
        Ok(())
    }

    /// `schema` with references followed to the named type.
    fn resolve<'s>(&'s self, mut schema: &'s Schema) -> Option<&'s Schema> {
        while let Schema::Ref { name } = schema {
            schema = self.named.get(name)?;
        }
        Some(schema)
    }

    /// Through apache-avro's `Value`: the reference encoding, and the path of
    /// the field that does not fit.
    fn encode_checked(&self, json: &Json) -> Result<Vec<u8>, String> {
        let value = self.convert(&self.schema, json, "")?;
        apache_avro::to_avro_datum(&self.schema, value).map_err(|e| e.to_string())
    }

    /// Appends the Avro binary encoding of `json` as `schema`; `None` when it
    /// does not fit (what was appended is then garbage). Accepts exactly what
    /// [`AvroEncoder::convert`] accepts and writes what apache-avro writes.
    fn write(&self, schema: &Schema, json: &Json, out: &mut Vec<u8>) -> Option<()> {
        match schema {
            Schema::Ref { name } => return self.write(self.named.get(name)?, json, out),
            Schema::Null => json.is_null().then_some(())?,
            Schema::Boolean => out.push(u8::from(json.as_bool()?)),
            s if is_int(s) => zigzag(i64::from(i32::try_from(json.as_i64()?).ok()?), out),
            s if is_long(s) => zigzag(json.as_i64()?, out),
            Schema::Float => out.extend_from_slice(&(json.as_f64()? as f32).to_le_bytes()),
            Schema::Double => out.extend_from_slice(&json.as_f64()?.to_le_bytes()),
            Schema::String | Schema::Bytes => bytes(json.as_str()?.as_bytes(), out),
            Schema::Uuid => {
                let id: uuid::Uuid = json.as_str()?.parse().ok()?;
                bytes(id.to_string().as_bytes(), out)
            }
            Schema::Enum(e) => {
                let s = json.as_str()?;
                zigzag(e.symbols.iter().position(|x| x == s)? as i64, out)
            }
            Schema::Array(a) => {
                let items = json.as_array()?;
                if !items.is_empty() {
                    zigzag(items.len() as i64, out);
                    for item in items {
                        self.write(&a.items, item, out)?;
                    }
                }
                out.push(0);
            }
            Schema::Union(u) => {
                let start = out.len();
                for (i, branch) in u.variants().iter().enumerate() {
                    if !shallow_fit(branch, json) {
                        continue;
                    }
                    zigzag(i as i64, out);
                    if self.write(branch, json, out).is_some() {
                        return Some(());
                    }
                    out.truncate(start);
                }
                return None;
            }
            Schema::Record(r) => {
                let obj = json.as_object()?;
                if obj.keys().any(|k| !r.lookup.contains_key(k)) {
                    return None;
                }
                for f in &r.fields {
                    let v = obj.get(&f.name).or(f.default.as_ref())?;
                    self.write(&f.schema, v, out)?;
                }
            }
            // Maps are written in apache-avro's own (hash) order by the checked path.
            _ => return None,
        }
        Some(())
    }

    fn convert(&self, schema: &Schema, json: &Json, path: &str) -> Result<Avro, String> {
        let here = || if path.is_empty() { "value" } else { path };
        let wrong = |want: &str| {
            let got: String = json.to_string().chars().take(60).collect();
            format!("{}: expected {want}, got {got}", here())
        };
        let int = |want: &str| json.as_i64().ok_or_else(|| wrong(want));
        Ok(match schema {
            Schema::Ref { name } => {
                let target = self
                    .named
                    .get(name)
                    .ok_or_else(|| format!("{}: unknown type {name}", here()))?;
                return self.convert(target, json, path);
            }
            Schema::Null if json.is_null() => Avro::Null,
            Schema::Null => return Err(wrong("null")),
            Schema::Boolean => Avro::Boolean(json.as_bool().ok_or_else(|| wrong("boolean"))?),
            Schema::Int => Avro::Int(
                int("int")?
                    .try_into()
                    .map_err(|_| wrong("an int (32 bits)"))?,
            ),
            Schema::Long => Avro::Long(int("long")?),
            Schema::Float => Avro::Float(json.as_f64().ok_or_else(|| wrong("float"))? as f32),
            Schema::Double => Avro::Double(json.as_f64().ok_or_else(|| wrong("double"))?),
            Schema::String => Avro::String(json.as_str().ok_or_else(|| wrong("string"))?.into()),
            Schema::Bytes => Avro::Bytes(json.as_str().ok_or_else(|| wrong("bytes"))?.into()),
            Schema::Uuid => Avro::Uuid(
                json.as_str()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| wrong("a UUID string"))?,
            ),
            Schema::Date => Avro::Date(
                int("date (days since 1970-01-01)")?
                    .try_into()
                    .map_err(|_| wrong("a date"))?,
            ),
            Schema::TimeMillis => Avro::TimeMillis(
                int("time-millis")?
                    .try_into()
                    .map_err(|_| wrong("time-millis"))?,
            ),
            Schema::TimeMicros => Avro::TimeMicros(int("time-micros")?),
            Schema::TimestampMillis => Avro::TimestampMillis(int("timestamp-millis")?),
            Schema::TimestampMicros => Avro::TimestampMicros(int("timestamp-micros")?),
            Schema::TimestampNanos => Avro::TimestampNanos(int("timestamp-nanos")?),
            Schema::LocalTimestampMillis => {
                Avro::LocalTimestampMillis(int("local-timestamp-millis")?)
            }
            Schema::LocalTimestampMicros => {
                Avro::LocalTimestampMicros(int("local-timestamp-micros")?)
            }
            Schema::LocalTimestampNanos => Avro::LocalTimestampNanos(int("local-timestamp-nanos")?),
            Schema::Enum(e) => {
                let s = json.as_str().ok_or_else(|| wrong("an enum symbol"))?;
                let i = e
                    .symbols
                    .iter()
                    .position(|x| x == s)
                    .ok_or_else(|| wrong(&format!("one of {}", e.symbols.join(", "))))?;
                Avro::Enum(i as u32, s.to_string())
            }
            Schema::Array(a) => {
                let items = json.as_array().ok_or_else(|| wrong("an array"))?;
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.convert(&a.items, item, &format!("{}[{i}]", here()))?);
                }
                Avro::Array(out)
            }
            Schema::Map(m) => {
                let obj = json.as_object().ok_or_else(|| wrong("an object (map)"))?;
                let mut out = HashMap::with_capacity(obj.len());
                for (k, v) in obj {
                    out.insert(k.clone(), self.convert(&m.types, v, &join(path, k))?);
                }
                Avro::Map(out)
            }
            Schema::Union(u) => return self.union(u, json, path),
            Schema::Record(r) => return self.record(r, json, path),
            other => return Err(format!("{}: the type {other:?} is not supported", here())),
        })
    }

    /// The first branch the value fits, in schema order (`null` first for JSON null).
    fn union(&self, u: &UnionSchema, json: &Json, path: &str) -> Result<Avro, String> {
        let mut reasons = Vec::new();
        for (i, branch) in u.variants().iter().enumerate() {
            match self.convert(branch, json, path) {
                Ok(v) => return Ok(Avro::Union(i as u32, Box::new(v))),
                Err(e) => reasons.push(e),
            }
        }
        Err(reasons.join("; or "))
    }

    fn record(&self, r: &RecordSchema, json: &Json, path: &str) -> Result<Avro, String> {
        let here = if path.is_empty() { "value" } else { path };
        let obj = json
            .as_object()
            .ok_or_else(|| format!("{here}: expected a record ({}), got {json}", r.name))?;
        let extra: Vec<String> = obj
            .keys()
            .filter(|k| !r.lookup.contains_key(*k))
            .map(|k| join(path, k))
            .collect();
        match extra.len() {
            0 => {}
            1 => return Err(format!("{}: not a field of {}", extra[0], r.name.name)),
            n => {
                let shown = extra.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
                let more = if n > 3 {
                    format!(" and {} more", n - 3)
                } else {
                    String::new()
                };
                return Err(format!("{shown}{more}: not fields of {}", r.name.name));
            }
        }
        let mut fields = Vec::with_capacity(r.fields.len());
        for f in &r.fields {
            let fpath = join(path, &f.name);
            let value = match (obj.get(&f.name), &f.default) {
                (Some(v), _) => self.convert(&f.schema, v, &fpath)?,
                (None, Some(d)) => self.convert(&f.schema, d, &fpath)?,
                (None, None) => return Err(format!("{fpath}: missing (no default)")),
            };
            fields.push((f.name.clone(), value));
        }
        Ok(Avro::Record(fields))
    }
}

/// Whether `json` can possibly be a `schema` value, by its JSON kind alone: a
/// union tries only the branches that pass, in order.
fn shallow_fit(schema: &Schema, json: &Json) -> bool {
    match schema {
        Schema::Null => json.is_null(),
        Schema::Boolean => json.is_boolean(),
        Schema::Int | Schema::Long | Schema::Float | Schema::Double => json.is_number(),
        Schema::String | Schema::Bytes | Schema::Uuid | Schema::Enum(_) => json.is_string(),
        Schema::Array(_) => json.is_array(),
        Schema::Record(_) | Schema::Map(_) => json.is_object(),
        _ => true,
    }
}

/// Avro `int` and the logical types written as one.
fn is_int(schema: &Schema) -> bool {
    matches!(schema, Schema::Int | Schema::Date | Schema::TimeMillis)
}

/// Avro `long` and the logical types written as one.
fn is_long(schema: &Schema) -> bool {
    matches!(
        schema,
        Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos
    )
}

/// Avro's `long`: zig-zag, then a little-endian base-128 varint.
fn zigzag(n: i64, out: &mut Vec<u8>) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// Avro's `bytes` and `string`: the length, then the bytes.
fn bytes(b: &[u8], out: &mut Vec<u8>) {
    zigzag(b.len() as i64, out);
    out.extend_from_slice(b);
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

/// Every named type (records, enums, fixed) by full name.
fn collect_named(schema: &Schema, out: &mut HashMap<Name, Schema>) {
    match schema {
        Schema::Record(r) => {
            out.insert(r.name.clone(), schema.clone());
            for f in &r.fields {
                collect_named(&f.schema, out);
            }
        }
        Schema::Enum(e) => {
            out.insert(e.name.clone(), schema.clone());
        }
        Schema::Fixed(f) => {
            out.insert(f.name.clone(), schema.clone());
        }
        Schema::Array(a) => collect_named(&a.items, out),
        Schema::Map(m) => collect_named(&m.types, out),
        Schema::Union(u) => u.variants().iter().for_each(|v| collect_named(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"{
      "type": "record", "name": "Event", "namespace": "t",
      "fields": [
        {"name": "id", "type": "string"},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["play", "search"]}},
        {"name": "device", "type": {"type": "record", "name": "Device", "fields": [
            {"name": "os", "type": "string"},
            {"name": "model", "type": ["null", "string"], "default": null}
        ]}},
        {"name": "previous", "type": ["null", "Device"], "default": null},
        {"name": "tags", "type": {"type": "array", "items": "string"}, "default": []},
        {"name": "score", "type": "double"}
      ]
    }"#;

    fn encoder() -> AvroEncoder {
        AvroEncoder::new(Schema::parse_str(SCHEMA).unwrap())
    }

    #[test]
    fn a_fitting_record_round_trips_through_avro() {
        let e = encoder();
        let json = r#"{"id": "e1", "at": 1700000000000, "kind": "search",
            "device": {"os": "iOS"}, "previous": {"os": "tvOS", "model": "x"}, "score": 2}"#;
        let bytes = e.encode(json.as_bytes()).unwrap();
        let back = apache_avro::from_avro_datum(e.schema(), &mut &bytes[..], None).unwrap();
        let Avro::Record(fields) = back else {
            panic!("a record")
        };
        assert_eq!(fields[0], ("id".into(), Avro::String("e1".into())));
        assert_eq!(
            fields[1],
            ("at".into(), Avro::TimestampMillis(1_700_000_000_000))
        );
        assert_eq!(fields[2], ("kind".into(), Avro::Enum(1, "search".into())));
        assert_eq!(fields[5], ("tags".into(), Avro::Array(vec![])));
        assert_eq!(fields[6], ("score".into(), Avro::Double(2.0)));
    }

    #[test]
    fn misfits_name_the_field_that_failed() {
        let e = encoder();
        let base = r#"{"id": "e1", "at": 1, "kind": "play", "device": {"os": "iOS"}, "score": 1.0"#;
        let err = |extra: &str| e.encode(format!("{base}{extra}}}").as_bytes()).unwrap_err();
        assert_eq!(
            err(r#", "tags": ["a", 3]"#),
            "tags[1]: expected string, got 3"
        );
        assert_eq!(err(r#", "nope": 1"#), "nope: not a field of Event");
        assert!(err(r#", "previous": {"os": 5}"#).contains("previous.os: expected string, got 5"));
        let e2 = e
            .encode(br#"{"id": "e1", "at": 1, "kind": "stop", "device": {"os": "x"}, "score": 1}"#);
        assert_eq!(
            e2.unwrap_err(),
            "kind: expected one of play, search, got \"stop\""
        );
        let e3 = e.encode(br#"{"id": "e1", "at": 1, "kind": "play", "score": 1}"#);
        assert_eq!(e3.unwrap_err(), "device: missing (no default)");
        assert!(
            e.encode(b"not json")
                .unwrap_err()
                .starts_with("the value is not JSON")
        );
        // A string that is not UTF-8: refused, with where it is.
        let err = e
            .encode(b"{\"id\": \"e\xff\", \"at\": 1, \"kind\": \"play\", \"device\": {\"os\": \"x\"}, \"score\": 1}")
            .unwrap_err();
        assert!(err.starts_with("the value is not JSON"), "{err}");
        assert!(err.contains("line 1 column"), "{err}");
    }

    #[test]
    fn an_array_count_of_several_bytes_goes_before_its_items() {
        let e = encoder();
        // 64 items and more take two bytes of count; escapes and non-ASCII
        // text stream as the tree path writes them.
        for n in [1, 63, 64, 300] {
            let tags: Vec<String> = (0..n).map(|i| format!("t\\\"{i}é")).collect();
            let text = format!(
                r#"{{"id": "e1", "at": 1, "kind": "play", "device": {{"os": "x"}}, "tags": {}, "score": 1.5}}"#,
                serde_json::to_string(&tags).unwrap()
            );
            let mut streamed = Vec::new();
            assert!(stream::write(&e, text.as_bytes(), &mut streamed).is_some());
            let json: Json = serde_json::from_str(&text).unwrap();
            assert_eq!(Ok(streamed), e.encode_checked(&json), "{n} tags");
        }
    }

    /// The direct writer accepts `v` exactly when apache-avro's `Value` path
    /// does, with the same bytes; the streaming writer, when it takes the
    /// text, writes those bytes too (and takes a value that fits in the
    /// generator's shape). Returns whether it streamed.
    fn same_as_apache_avro(e: &AvroEncoder, v: &Json) -> bool {
        let mut direct = Vec::new();
        let fast = e.write(&e.schema, v, &mut direct).map(|()| direct);
        let checked = e.encode_checked(v);
        assert_eq!(fast.is_some(), checked.is_ok(), "{v}");
        let mut streamed = vec![7];
        let text = serde_json::to_vec(v).unwrap();
        let took = stream::write(e, &text, &mut streamed).map(|()| streamed[1..].to_vec());
        if let Some(s) = &took {
            assert_eq!(Some(s), checked.as_ref().ok(), "streamed {v}");
        }
        if let (Some(a), Ok(b)) = (fast, checked) {
            assert_eq!(a, b, "{v}");
        }
        took.is_some()
    }

    /// The direct writer and apache-avro's `Value` path give the same bytes,
    /// and refuse the same values.
    #[test]
    fn the_direct_writer_matches_apache_avro_byte_for_byte() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/user_event.v1.avsc");
        let text = std::fs::read_to_string(path).unwrap();
        let e = AvroEncoder::new(Schema::parse_str(&text).unwrap());
        let mut g =
            customer_events::events::Generator::new(9, 50, customer_events::config::Mix::default());
        let mut streamed = 0;
        for i in 0..2_000 {
            let (_, event) = g.next(1_795_460_082_123 + i * 991);
            let mut v = serde_json::to_value(&event).unwrap();
            // Every tenth value is broken somewhere, in turn; others have a
            // field left to its default, or fields out of schema order.
            match i % 40 {
                10 => v["device"]["os"] = serde_json::json!(7),
                20 => v["event_type"] = serde_json::json!("nope"),
                30 => v["location"]["latitude"] = serde_json::json!("north"),
                15 => drop(v.as_object_mut().unwrap().shift_remove("device")),
                25 => {
                    let ev = v.as_object_mut().unwrap();
                    let reversed: serde_json::Map<_, _> =
                        std::mem::take(ev).into_iter().rev().collect();
                    *ev = reversed;
                }
                35 => {
                    let ev = v.as_object_mut().unwrap();
                    ev.insert("session_id".into(), serde_json::json!(null));
                }
                _ => {}
            }
            let took = same_as_apache_avro(&e, &v);
            let changed = [10, 15, 20, 25, 30, 35].contains(&(i % 40));
            assert!(took || changed, "a generated event did not stream: {v}");
            streamed += usize::from(took);
        }
        assert_eq!(
            streamed, 1_700,
            "every unchanged event streams, no changed one does"
        );
        let small = encoder();
        for json in [
            r#"{"id": "e1", "at": -5, "kind": "search", "device": {"os": "iOS"}, "previous": {"os": "x", "model": null}, "tags": ["a", "b"], "score": 1.5}"#,
            r#"{"id": "", "at": 9007199254740993, "kind": "play", "device": {"os": "", "model": "m"}, "score": -0.0}"#,
            r#"{"id": "e1", "at": 1.5, "kind": "play", "device": {"os": "x"}, "score": 1}"#,
            r#"{"id": "e\"1", "at": 5, "kind": "play", "device": {"os": "x", "model": "\u00e9"}, "score": 18446744073709551615}"#,
            r#"{"id": "e1", "at": 5, "kind": "play", "device": {"model": "m", "os": "x"}, "score": 1}"#,
            r#"{"id": "e1", "at": 5, "kind": "play", "device": {"os": "x"}, "tags": [], "score": 1, "id": "e2"}"#,
            r#"{"id": "e1", "at": 2147483648, "kind": "play", "device": {"os": "x"}, "previous": null, "score": 1e300}"#,
            r#"{"id": "e1", "at": 5, "kind": "play", "device": {"os": "x"}, "previous": [1], "score": 1}"#,
        ] {
            same_as_apache_avro(&small, &serde_json::from_str(json).unwrap());
        }
    }

    /// Every scalar type, alone and in unions, through both writers.
    #[test]
    fn every_scalar_type_streams_as_the_tree_writer_writes_it() {
        let schema = r#"{"type": "record", "name": "S", "fields": [
            {"name": "i", "type": "int"}, {"name": "l", "type": "long"},
            {"name": "f", "type": "float"}, {"name": "d", "type": "double"},
            {"name": "b", "type": "boolean"}, {"name": "s", "type": "string"},
            {"name": "by", "type": "bytes"},
            {"name": "u", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "day", "type": {"type": "int", "logicalType": "date"}},
            {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["a", "b"]}},
            {"name": "ne", "type": ["null", "E", "string"], "default": null},
            {"name": "nf", "type": ["null", "float", "double"], "default": null},
            {"name": "arr", "type": {"type": "array", "items": ["null", "int"]}, "default": []}
        ]}"#;
        let e = AvroEncoder::new(Schema::parse_str(schema).unwrap());
        let base = r#""i": -3, "l": 9007199254740993, "f": 1.1, "d": 2.2, "b": true, "s": "é\n", "by": "xy", "u": "9C5B94B1-35AD-49BB-B118-8E8FC24ABF80", "day": 20000, "e": "b""#;
        let mut streamed = 0;
        for rest in [
            "",
            r#", "ne": "a""#,
            r#", "ne": "zz""#,
            r#", "ne": null, "nf": 3.5"#,
            r#", "nf": 16777217"#,
            r#", "arr": [1, null, 3]"#,
            r#", "arr": [1.5]"#,
            r#", "ne": 5"#,
            r#", "nf": true"#,
        ] {
            let v: Json = serde_json::from_str(&format!("{{{base}{rest}}}")).unwrap();
            streamed += usize::from(same_as_apache_avro(&e, &v));
        }
        assert_eq!(
            streamed, 6,
            "all but a wrong array item and two wrong union values"
        );
        let good: Json = serde_json::from_str(&format!("{{{base}}}")).unwrap();
        for (field, bad) in [
            ("i", "2147483648"),
            ("f", r#""x""#),
            ("u", r#""nope""#),
            ("e", r#""c""#),
        ] {
            let mut v = good.clone();
            v[field] = serde_json::from_str(bad).unwrap();
            assert!(!same_as_apache_avro(&e, &v), "{v}");
        }
    }

    #[test]
    fn every_generated_customer_event_fits_the_user_event_schema() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/user_event.v1.avsc");
        let text = std::fs::read_to_string(path).unwrap();
        let e = AvroEncoder::new(Schema::parse_str(&text).unwrap());
        let mix = customer_events::config::Mix::default();
        let mut g = customer_events::events::Generator::new(3, 50, mix);
        let mut kinds = std::collections::BTreeSet::new();
        for i in 0..3_000 {
            let (_, event) = g.next(1_795_460_082_123 + i * 997);
            let v = serde_json::to_value(&event).unwrap();
            kinds.insert(v["event_type"].as_str().unwrap().to_string());
            let bytes = serde_json::to_vec(&v).unwrap();
            if let Err(err) = e.encode(&bytes) {
                panic!("{err}\n{v:#}");
            }
        }
        assert_eq!(kinds.len(), 3);
    }
}
