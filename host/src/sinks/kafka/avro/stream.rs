//! JSON text straight to Avro binary: a serde visitor per schema node writes
//! while the JSON is read, with no tree in between. It takes JSON in the
//! shapes a generator writes: record fields in schema order (missing ones
//! with defaults), a union's branch decided by the JSON kind. Anything else
//! (fields out of order or repeated, unknown fields, two union branches that
//! take an object, maps) returns `None`, and the encoder reads the value as a
//! tree, the reference path. Both paths write the same bytes (see the tests).

use std::fmt;

use apache_avro::schema::{RecordSchema, Schema, UnionSchema};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{AvroEncoder, bytes, is_int, is_long, zigzag};

/// Appends the Avro encoding of the JSON text `json`, or `None` (with
/// garbage appended) when the streaming path does not take it.
///
/// The value's UTF-8 is checked once, whole: serde_json's slice reader checks
/// each string on its own, which cost a tenth of the customer-events
/// pipeline's CPU; a value that is not UTF-8 goes to the reference path,
/// which names the error.
pub(super) fn write(enc: &AvroEncoder, json: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let text = std::str::from_utf8(json).ok()?;
    let mut de = serde_json::Deserializer::from_str(text);
    Node {
        enc,
        schema: &enc.schema,
        out,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()
}

/// A JSON scalar as the Avro checks see it.
#[derive(Clone, Copy)]
enum Scalar<'s> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(&'s str),
}

impl Scalar<'_> {
    /// As `serde_json::Value::as_i64`.
    fn as_i64(self) -> Option<i64> {
        match self {
            Scalar::U64(u) => i64::try_from(u).ok(),
            Scalar::I64(i) => Some(i),
            _ => None,
        }
    }

    /// As `serde_json::Value::as_f64`.
    fn as_f64(self) -> Option<f64> {
        match self {
            Scalar::U64(u) => Some(u as f64),
            Scalar::I64(i) => Some(i as f64),
            Scalar::F64(f) => Some(f),
            _ => None,
        }
    }
}

/// Writes a scalar as `schema` (refs resolved), as the tree writer does.
fn scalar(schema: &Schema, v: Scalar<'_>, out: &mut Vec<u8>) -> Option<()> {
    match (schema, v) {
        (Schema::Null, Scalar::Null) => {}
        (Schema::Boolean, Scalar::Bool(b)) => out.push(u8::from(b)),
        (s, _) if is_int(s) => zigzag(i64::from(i32::try_from(v.as_i64()?).ok()?), out),
        (s, _) if is_long(s) => zigzag(v.as_i64()?, out),
        (Schema::Float, _) => out.extend_from_slice(&(v.as_f64()? as f32).to_le_bytes()),
        (Schema::Double, _) => out.extend_from_slice(&v.as_f64()?.to_le_bytes()),
        (Schema::String | Schema::Bytes, Scalar::Str(s)) => bytes(s.as_bytes(), out),
        (Schema::Uuid, Scalar::Str(s)) => {
            let id: uuid::Uuid = s.parse().ok()?;
            bytes(id.to_string().as_bytes(), out)
        }
        (Schema::Enum(e), Scalar::Str(s)) => {
            zigzag(e.symbols.iter().position(|x| x == s)? as i64, out)
        }
        _ => return None,
    }
    Some(())
}

/// One value to read as `schema` and append to `out`.
struct Node<'e, 'o> {
    enc: &'e AvroEncoder,
    schema: &'e Schema,
    out: &'o mut Vec<u8>,
}

impl<'e, 'o> Node<'e, 'o> {
    fn resolved(mut self) -> Option<Self> {
        self.schema = self.enc.resolve(self.schema)?;
        Some(self)
    }

    fn scalar<E: de::Error>(self, v: Scalar<'_>) -> Result<(), E> {
        let this = self.resolved().ok_or_else(refused)?;
        let done = match this.schema {
            Schema::Union(u) => union_scalar(this.enc, u, v, this.out),
            schema => scalar(schema, v, this.out),
        };
        done.ok_or_else(refused)
    }

    /// The one branch of a union that takes an object or an array (`None`
    /// when none does or several do), its index written.
    fn branch(self, u: &'e UnionSchema, object: bool) -> Option<Self> {
        let mut found = None;
        for (i, variant) in u.variants().iter().enumerate() {
            let schema = self.enc.resolve(variant)?;
            let takes = match schema {
                Schema::Record(_) | Schema::Map(_) => object,
                Schema::Array(_) => !object,
                _ => false,
            };
            if takes {
                if found.is_some() {
                    return None;
                }
                found = Some((i, schema));
            }
        }
        let (i, schema) = found?;
        zigzag(i as i64, self.out);
        Some(Node {
            enc: self.enc,
            schema,
            out: self.out,
        })
    }
}

/// The first branch that takes the scalar, in schema order, as the tree
/// writer tries them.
fn union_scalar(
    enc: &AvroEncoder,
    u: &UnionSchema,
    v: Scalar<'_>,
    out: &mut Vec<u8>,
) -> Option<()> {
    let start = out.len();
    for (i, variant) in u.variants().iter().enumerate() {
        zigzag(i as i64, out);
        if scalar(enc.resolve(variant)?, v, out).is_some() {
            return Some(());
        }
        out.truncate(start);
    }
    None
}

fn refused<E: de::Error>() -> E {
    E::custom("not taken by the streaming path")
}

impl<'de> DeserializeSeed<'de> for Node<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar(Scalar::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.scalar(Scalar::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.scalar(Scalar::Bool(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.scalar(Scalar::U64(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.scalar(Scalar::I64(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.scalar(Scalar::F64(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.scalar(Scalar::Str(v))
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
        let mut this = self.resolved().ok_or_else(refused)?;
        if let Schema::Union(u) = this.schema {
            this = this.branch(u, false).ok_or_else(refused)?;
        }
        let Schema::Array(a) = this.schema else {
            return Err(refused());
        };
        // Avro writes the count first: the items go in, then the count is put
        // before them.
        let start = this.out.len();
        let mut count = 0i64;
        while seq
            .next_element_seed(Node {
                enc: this.enc,
                schema: &a.items,
                out: &mut *this.out,
            })?
            .is_some()
        {
            count += 1;
        }
        if count > 0 {
            // Written after the items, then rotated in front of them.
            let end = this.out.len();
            zigzag(count, this.out);
            let head = this.out.len() - end;
            this.out[start..].rotate_right(head);
        }
        this.out.push(0);
        Ok(())
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<(), M::Error> {
        let mut this = self.resolved().ok_or_else(refused)?;
        if let Schema::Union(u) = this.schema {
            this = this.branch(u, true).ok_or_else(refused)?;
        }
        match this.schema {
            Schema::Record(r) => record(this.enc, r, map, this.out),
            // Maps: the tree path writes them in apache-avro's own order.
            _ => Err(refused()),
        }
    }
}

/// A record's fields in schema order; a field the JSON leaves out takes its
/// default.
fn record<'de, M: MapAccess<'de>>(
    enc: &AvroEncoder,
    r: &RecordSchema,
    mut map: M,
    out: &mut Vec<u8>,
) -> Result<(), M::Error> {
    let mut next = 0;
    while let Some(i) = map.next_key_seed(FieldIndex { r, next })? {
        let i = i.filter(|&i| i >= next).ok_or_else(refused)?;
        defaults(enc, r, next..i, out).ok_or_else(refused)?;
        map.next_value_seed(Node {
            enc,
            schema: &r.fields[i].schema,
            out: &mut *out,
        })?;
        next = i + 1;
    }
    defaults(enc, r, next..r.fields.len(), out).ok_or_else(refused)
}

fn defaults(
    enc: &AvroEncoder,
    r: &RecordSchema,
    fields: std::ops::Range<usize>,
    out: &mut Vec<u8>,
) -> Option<()> {
    for f in &r.fields[fields] {
        enc.write(&f.schema, f.default.as_ref()?, out)?;
    }
    Some(())
}

/// A key as its field's index (the expected next field is tried first).
struct FieldIndex<'r> {
    r: &'r RecordSchema,
    next: usize,
}

impl<'de> DeserializeSeed<'de> for FieldIndex<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for FieldIndex<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        if self.r.fields.get(self.next).is_some_and(|f| f.name == key) {
            return Ok(Some(self.next));
        }
        Ok(self.r.lookup.get(key).copied())
    }
}
