//! Rows straight into Arrow builders: a record's JSON value is read once by a
//! serde visitor into one cell per declared column (strings borrowed from the
//! record unless they hold escapes, unknown fields skipped), checked whole,
//! and only then appended, so a row that does not fit never reaches a
//! builder. No `serde_json::Value` tree is built for a row that fits; the
//! sink keeps the `Value` path only to word a rejection.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int32Builder, Int64Builder,
    NullBufferBuilder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, ListArray, StructArray};
use arrow_buffer::OffsetBuffer;
use arrow_schema::DataType;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{ColumnType, NULL_PARTITION, ParquetColumn, escape_into};

/// One JSON value as the column checks see it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cell<'a> {
    /// The field is not in the object.
    Missing,
    Null,
    Bool(bool),
    /// A non-negative integer (serde_json reads those as `u64`).
    UInt(u64),
    /// A negative integer.
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    /// An object read for a struct column: one cell per declared field.
    Struct(Vec<Cell<'a>>),
    /// An array read for a list column: one cell per item.
    List(Vec<Cell<'a>>),
    /// An object or an array where the column takes neither.
    Nested,
}

/// Why a cell does not fit its column.
#[derive(Debug, PartialEq)]
pub(super) enum Misfit {
    /// Missing or null in a column that is not nullable.
    Null,
    /// A JSON type the column does not take.
    Type,
    /// The right JSON type, but a value the column cannot hold exactly.
    Value(String),
}

impl<'a> Cell<'a> {
    /// A `Value` tree's node as a cell for column `c`: the checks a
    /// rejection is explained by are the ones the typed path ran.
    pub(super) fn of_value(v: &'a Value, c: &ParquetColumn) -> Cell<'a> {
        match (v, c.kind) {
            (Value::Object(o), ColumnType::Struct) => Cell::Struct(
                c.fields()
                    .iter()
                    .map(|f| {
                        o.get(&f.name)
                            .map_or(Cell::Missing, |v| Cell::of_value(v, f))
                    })
                    .collect(),
            ),
            (Value::Array(items), ColumnType::List) => {
                let item = c.item();
                Cell::List(items.iter().map(|v| Cell::of_value(v, item)).collect())
            }
            _ => Cell::of_scalar(v),
        }
    }

    fn of_scalar(v: &'a Value) -> Cell<'a> {
        match v {
            Value::Null => Cell::Null,
            Value::Bool(b) => Cell::Bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => Cell::UInt(u),
                (_, Some(i), _) => Cell::Int(i),
                (_, _, f) => Cell::Float(f.unwrap_or(f64::NAN)),
            },
            Value::String(s) => Cell::Str(Cow::Borrowed(s)),
            Value::Array(_) | Value::Object(_) => Cell::Nested,
        }
    }
}

impl Cell<'_> {
    /// Whether the cell fits the column.
    pub(super) fn fits(&self, c: &ParquetColumn) -> bool {
        self.misfit(c).is_none()
    }

    /// What keeps the cell out of the column, if anything. Allocates only to
    /// describe a value that does not fit.
    pub(super) fn misfit(&self, c: &ParquetColumn) -> Option<Misfit> {
        let fits = match (c.kind, self) {
            (_, Cell::Missing | Cell::Null) => return (!c.nullable).then_some(Misfit::Null),
            (ColumnType::Struct, Cell::Struct(cells)) => {
                let mut inner = cells.iter().zip(c.fields());
                return inner.find_map(|(cell, f)| {
                    let m = cell.misfit(f)?;
                    Some(Misfit::Value(format!(
                        "field `{}`: {}",
                        f.name,
                        m.describe(f, cell)
                    )))
                });
            }
            (ColumnType::List, Cell::List(items)) => {
                let item = c.item();
                return items.iter().enumerate().find_map(|(i, cell)| {
                    let m = cell.misfit(item)?;
                    Some(Misfit::Value(format!(
                        "item {i}: {}",
                        m.describe(item, cell)
                    )))
                });
            }
            (ColumnType::String, Cell::Str(_)) => true,
            (ColumnType::Int32, Cell::UInt(u)) => i32::try_from(*u).is_ok(),
            (ColumnType::Int32, Cell::Int(i)) => i32::try_from(*i).is_ok(),
            (ColumnType::Int64, Cell::UInt(u)) => i64::try_from(*u).is_ok(),
            (ColumnType::Int64, Cell::Int(_)) => true,
            (ColumnType::Float64, Cell::UInt(_) | Cell::Int(_) | Cell::Float(_)) => true,
            (ColumnType::Boolean, Cell::Bool(_)) => true,
            (ColumnType::TimestampMs, Cell::UInt(u)) => i64::try_from(*u).is_ok(),
            (ColumnType::TimestampMs, Cell::Int(_)) => true,
            (ColumnType::TimestampMs, Cell::Str(s)) => {
                return timestamp_ms(s).err().map(Misfit::Value);
            }
            (ColumnType::Date32, Cell::UInt(_) | Cell::Int(_)) => {
                self.as_i64().and_then(|d| i32::try_from(d).ok()).is_some()
            }
            (ColumnType::Date32, Cell::Str(s)) => return date32(s).err().map(Misfit::Value),
            (
                ColumnType::Decimal128,
                Cell::UInt(_) | Cell::Int(_) | Cell::Float(_) | Cell::Str(_),
            ) => {
                return self.as_decimal(c).err().map(Misfit::Value);
            }
            _ => false,
        };
        (!fits).then_some(Misfit::Type)
    }

    /// The cell as JSON text, for a rejection's reason (objects and arrays
    /// by kind).
    pub(super) fn shown(&self) -> String {
        match self {
            Cell::Missing | Cell::Null => "null".into(),
            Cell::Bool(b) => b.to_string(),
            Cell::UInt(u) => u.to_string(),
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => {
                serde_json::Number::from_f64(*f).map_or("NaN".into(), |n| n.to_string())
            }
            Cell::Str(s) => serde_json::to_string(s.as_ref()).unwrap_or_default(),
            Cell::Struct(_) => "an object".into(),
            Cell::List(_) => "an array".into(),
            Cell::Nested => "an object or array".into(),
        }
    }

    /// Milliseconds since the epoch of a timestamp cell that fits.
    fn as_timestamp_ms(&self) -> Option<i64> {
        match self {
            Cell::Str(s) => timestamp_ms(s).ok(),
            _ => self.as_i64(),
        }
    }

    /// Days since 1970-01-01 of a date cell that fits.
    fn as_date32(&self) -> Option<i32> {
        match self {
            Cell::Str(s) => date32(s).ok(),
            _ => self.as_i64().and_then(|d| i32::try_from(d).ok()),
        }
    }

    /// The unscaled value of a decimal cell: the number's text read exactly
    /// (a JSON number as the shortest text that reads back as the same
    /// double, so `12.34` is 12.34).
    fn as_decimal(&self, c: &ParquetColumn) -> Result<i128, String> {
        let (precision, scale) = c.decimal();
        match self {
            Cell::Str(s) => decimal(s, precision, scale),
            Cell::UInt(u) => decimal(&u.to_string(), precision, scale),
            Cell::Int(i) => decimal(&i.to_string(), precision, scale),
            Cell::Float(f) => match serde_json::Number::from_f64(*f) {
                Some(n) => decimal(&n.to_string(), precision, scale),
                None => Err("not a finite number".into()),
            },
            _ => Err("not a number".into()),
        }
    }

    fn as_i64(&self) -> Option<i64> {
        match self {
            Cell::UInt(u) => i64::try_from(*u).ok(),
            Cell::Int(i) => Some(*i),
            _ => None,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::UInt(u) => Some(*u as f64),
            Cell::Int(i) => Some(*i as f64),
            Cell::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// Appends `name=value` as a partition folder segment, as Hive names it
    /// (numbers and booleans as JSON writes them; null or "" as the default
    /// partition).
    pub(super) fn push_partition(&self, name: &str, folder: &mut String) {
        if !folder.is_empty() {
            folder.push('/');
        }
        folder.push_str(name);
        folder.push('=');
        match self {
            Cell::Missing | Cell::Null => folder.push_str(NULL_PARTITION),
            Cell::Str(s) if s.is_empty() => folder.push_str(NULL_PARTITION),
            Cell::Str(s) => escape_into(s, folder),
            Cell::Bool(b) => folder.push_str(if *b { "true" } else { "false" }),
            Cell::UInt(u) => _ = write!(folder, "{u}"),
            Cell::Int(i) => _ = write!(folder, "{i}"),
            Cell::Float(f) => {
                let text = serde_json::Number::from_f64(*f).map(|n| n.to_string());
                escape_into(text.as_deref().unwrap_or("null"), folder)
            }
            // Partition columns are scalars (checked at validate time), and
            // `fits` refuses these before a folder is named.
            Cell::Struct(_) | Cell::List(_) | Cell::Nested => folder.push_str(NULL_PARTITION),
        }
    }
}

impl Misfit {
    /// In words, for a struct's field or a list's item `c` holding `cell`.
    fn describe(&self, c: &ParquetColumn, cell: &Cell<'_>) -> String {
        self.describe_shown(c, &cell.shown(), "it is")
    }

    /// In words, with the value as `shown`; `subject` is what is not
    /// nullable ("the column is").
    pub(super) fn describe_shown(&self, c: &ParquetColumn, shown: &str, subject: &str) -> String {
        let expected = type_name(c);
        match self {
            Misfit::Null => format!("missing or null, but {subject} not nullable"),
            Misfit::Type => format!("expected {expected}, got {shown}"),
            Misfit::Value(why) => format!("expected {expected}, got {shown}: {why}"),
        }
    }
}

/// A column's type as the connector file writes it.
pub(super) fn type_name(c: &ParquetColumn) -> String {
    match c.kind {
        ColumnType::String => "string".into(),
        ColumnType::Int32 => "int32".into(),
        ColumnType::Int64 => "int64".into(),
        ColumnType::Float64 => "float64".into(),
        ColumnType::Boolean => "boolean".into(),
        ColumnType::TimestampMs => "timestamp_ms".into(),
        ColumnType::Date32 => "date32".into(),
        ColumnType::Decimal128 => {
            let (precision, scale) = c.decimal();
            format!("decimal128({precision}, {scale})")
        }
        ColumnType::Struct => "struct".into(),
        ColumnType::List => format!("list<{}>", type_name(c.item())),
    }
}

/// Reads a record's value into `cells`, one per declared column (in the
/// columns' order). `Err` when the value is not a JSON object.
///
/// The value's UTF-8 is checked once, whole, and the text read as `str`:
/// serde_json's slice reader checks every string on its own, at a far
/// higher cost per byte. A value that is not UTF-8 is read as bytes, so the
/// error names where.
pub(super) fn decode<'a>(
    value: &'a [u8],
    columns: &[ParquetColumn],
    cells: &mut Vec<Cell<'a>>,
) -> Result<(), serde_json::Error> {
    cells.clear();
    cells.resize(columns.len(), Cell::Missing);
    match std::str::from_utf8(value) {
        Ok(text) => read_row(serde_json::Deserializer::from_str(text), columns, cells),
        Err(_) => read_row(serde_json::Deserializer::from_slice(value), columns, cells),
    }
}

fn read_row<'a, R: serde_json::de::Read<'a>>(
    mut de: serde_json::Deserializer<R>,
    columns: &[ParquetColumn],
    cells: &mut Vec<Cell<'a>>,
) -> Result<(), serde_json::Error> {
    de.deserialize_map(RowVisitor { columns, cells })?;
    de.end()
}

struct RowVisitor<'c, 'v, 'a> {
    columns: &'c [ParquetColumn],
    cells: &'v mut Vec<Cell<'a>>,
}

impl<'a> Visitor<'a> for RowVisitor<'_, '_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'a>>(self, mut map: M) -> Result<(), M::Error> {
        let mut next = 0;
        while let Some(at) = map.next_key_seed(KeySeed(self.columns, next))? {
            match at {
                // A repeated key: the last one counts, as in a `Value` map.
                Some(i) => {
                    self.cells[i] = map.next_value_seed(CellSeed(&self.columns[i]))?;
                    next = i + 1;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A key as the index of the column it names, if any (no string is kept).
/// Column `.1`, the one after the last key's, is tried first: producers
/// usually write the fields in the declared order.
struct KeySeed<'c>(&'c [ParquetColumn], usize);

impl<'a> DeserializeSeed<'a> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'a> Visitor<'a> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        if self.0.get(self.1).is_some_and(|c| c.name == key) {
            return Ok(Some(self.1));
        }
        Ok(self.0.iter().position(|c| c.name == key))
    }
}

/// Reads one value for column `.0`: an object for a struct column field by
/// field, an array for a list column item by item.
struct CellSeed<'c>(&'c ParquetColumn);

impl<'a> DeserializeSeed<'a> for CellSeed<'_> {
    type Value = Cell<'a>;

    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<Cell<'a>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'a> Visitor<'a> for CellSeed<'_> {
    type Value = Cell<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Cell<'a>, E> {
        Ok(Cell::Null)
    }

    fn visit_none<E>(self) -> Result<Cell<'a>, E> {
        Ok(Cell::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Cell<'a>, E> {
        Ok(Cell::Bool(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Cell<'a>, E> {
        Ok(Cell::UInt(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Cell<'a>, E> {
        Ok(Cell::Int(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Cell<'a>, E> {
        Ok(Cell::Float(v))
    }

    fn visit_borrowed_str<E>(self, v: &'a str) -> Result<Cell<'a>, E> {
        Ok(Cell::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Cell<'a>, E> {
        Ok(Cell::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_map<M: MapAccess<'a>>(self, mut map: M) -> Result<Cell<'a>, M::Error> {
        if self.0.kind != ColumnType::Struct {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Cell::Nested);
        }
        let fields = self.0.fields();
        let mut cells = vec![Cell::Missing; fields.len()];
        RowVisitor {
            columns: fields,
            cells: &mut cells,
        }
        .visit_map(map)?;
        Ok(Cell::Struct(cells))
    }

    fn visit_seq<S: SeqAccess<'a>>(self, mut seq: S) -> Result<Cell<'a>, S::Error> {
        if self.0.kind != ColumnType::List {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Cell::Nested);
        }
        let mut items = Vec::new();
        while let Some(cell) = seq.next_element_seed(CellSeed(self.0.item()))? {
            items.push(cell);
        }
        Ok(Cell::List(items))
    }
}

/// One file column's Arrow builder.
pub(super) enum ColumnBuilder {
    Utf8(StringBuilder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float64(Float64Builder),
    Boolean(BooleanBuilder),
    TimestampMs(TimestampMillisecondBuilder),
    Date32(Date32Builder),
    Decimal128(Decimal128Builder),
    /// A builder per field, and which rows have the struct at all.
    Struct {
        fields: Vec<ColumnBuilder>,
        valid: NullBufferBuilder,
    },
    /// The items of every row in one builder, where each row's items end,
    /// and which rows have a list at all.
    List {
        items: Box<ColumnBuilder>,
        ends: Vec<i32>,
        valid: NullBufferBuilder,
    },
}

impl ColumnBuilder {
    pub(super) fn new(c: &ParquetColumn) -> Self {
        match c.kind {
            ColumnType::String => ColumnBuilder::Utf8(StringBuilder::new()),
            ColumnType::Int32 => ColumnBuilder::Int32(Int32Builder::new()),
            ColumnType::Int64 => ColumnBuilder::Int64(Int64Builder::new()),
            ColumnType::Float64 => ColumnBuilder::Float64(Float64Builder::new()),
            ColumnType::Boolean => ColumnBuilder::Boolean(BooleanBuilder::new()),
            ColumnType::TimestampMs => ColumnBuilder::TimestampMs(
                TimestampMillisecondBuilder::new().with_timezone(c.zone()),
            ),
            ColumnType::Date32 => ColumnBuilder::Date32(Date32Builder::new()),
            ColumnType::Decimal128 => {
                let (precision, scale) = c.decimal();
                let b = Decimal128Builder::new();
                // `check` kept precision and scale in range.
                ColumnBuilder::Decimal128(
                    b.with_precision_and_scale(precision, scale)
                        .unwrap_or_else(|_| Decimal128Builder::new()),
                )
            }
            ColumnType::Struct => ColumnBuilder::Struct {
                fields: c.fields().iter().map(ColumnBuilder::new).collect(),
                valid: NullBufferBuilder::new(0),
            },
            ColumnType::List => ColumnBuilder::List {
                items: Box::new(ColumnBuilder::new(c.item())),
                ends: vec![0],
                valid: NullBufferBuilder::new(0),
            },
        }
    }

    /// Appends a cell that [`Cell::fits`] this builder's column.
    pub(super) fn append(&mut self, cell: &Cell<'_>, c: &ParquetColumn) {
        match self {
            ColumnBuilder::Utf8(b) => match cell {
                Cell::Str(s) => b.append_value(s),
                _ => b.append_null(),
            },
            ColumnBuilder::Int32(b) => {
                b.append_option(cell.as_i64().and_then(|i| i32::try_from(i).ok()))
            }
            ColumnBuilder::Int64(b) => b.append_option(cell.as_i64()),
            ColumnBuilder::Float64(b) => b.append_option(cell.as_f64()),
            ColumnBuilder::Boolean(b) => b.append_option(match cell {
                Cell::Bool(v) => Some(*v),
                _ => None,
            }),
            ColumnBuilder::TimestampMs(b) => b.append_option(cell.as_timestamp_ms()),
            ColumnBuilder::Date32(b) => b.append_option(cell.as_date32()),
            ColumnBuilder::Decimal128(b) => match cell {
                Cell::Missing | Cell::Null => b.append_null(),
                _ => b.append_option(cell.as_decimal(c).ok()),
            },
            ColumnBuilder::Struct { fields, valid } => {
                // A null struct still takes a (null) slot in every field.
                let cells = match cell {
                    Cell::Struct(cells) => Some(cells),
                    _ => None,
                };
                for (i, (b, f)) in fields.iter_mut().zip(c.fields()).enumerate() {
                    b.append(cells.and_then(|cs| cs.get(i)).unwrap_or(&Cell::Null), f);
                }
                valid.append(cells.is_some());
            }
            ColumnBuilder::List { items, ends, valid } => {
                let list = match cell {
                    Cell::List(list) => Some(list),
                    _ => None,
                };
                for item in list.into_iter().flatten() {
                    items.append(item, c.item());
                }
                let end = ends.last().copied().unwrap_or(0);
                let len = list.map_or(0, Vec::len);
                ends.push(end.saturating_add(i32::try_from(len).unwrap_or(i32::MAX)));
                valid.append(list.is_some());
            }
        }
    }

    /// The column so far; the builder starts empty again.
    pub(super) fn finish(&mut self, c: &ParquetColumn) -> Result<ArrayRef, String> {
        Ok(match self {
            ColumnBuilder::Utf8(b) => Arc::new(b.finish()),
            ColumnBuilder::Int32(b) => Arc::new(b.finish()),
            ColumnBuilder::Int64(b) => Arc::new(b.finish()),
            ColumnBuilder::Float64(b) => Arc::new(b.finish()),
            ColumnBuilder::Boolean(b) => Arc::new(b.finish()),
            ColumnBuilder::TimestampMs(b) => Arc::new(b.finish()),
            ColumnBuilder::Date32(b) => Arc::new(b.finish()),
            ColumnBuilder::Decimal128(b) => Arc::new(b.finish()),
            ColumnBuilder::Struct { fields, valid } => {
                let arrays = fields
                    .iter_mut()
                    .zip(c.fields())
                    .map(|(b, f)| b.finish(f))
                    .collect::<Result<Vec<_>, _>>()?;
                let DataType::Struct(declared) = super::arrow_type(c) else {
                    return Err(format!("column `{}` is not a struct", c.name));
                };
                let array = StructArray::try_new(declared, arrays, valid.finish());
                Arc::new(array.map_err(|e| e.to_string())?)
            }
            ColumnBuilder::List { items, ends, valid } => {
                let values = items.finish(c.item())?;
                let DataType::List(item) = super::arrow_type(c) else {
                    return Err(format!("column `{}` is not a list", c.name));
                };
                let offsets = OffsetBuffer::new(std::mem::replace(ends, vec![0]).into());
                let array = ListArray::try_new(item, offsets, values, valid.finish());
                Arc::new(array.map_err(|e| e.to_string())?)
            }
        })
    }
}

/// An RFC 3339 instant as milliseconds since the epoch; finer digits than
/// milliseconds are refused rather than cut.
fn timestamp_ms(text: &str) -> Result<i64, String> {
    let t = chrono::DateTime::parse_from_rfc3339(text)
        .map_err(|e| format!("not an RFC 3339 timestamp ({e})"))?;
    if t.timestamp_subsec_nanos() % 1_000_000 != 0 {
        return Err("finer than a millisecond; the column holds milliseconds".into());
    }
    Ok(t.timestamp_millis())
}

/// A `YYYY-MM-DD` day as days since 1970-01-01.
fn date32(text: &str) -> Result<i32, String> {
    let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| format!("not a YYYY-MM-DD date ({e})"))?;
    let days = day
        .signed_duration_since(chrono::NaiveDate::default())
        .num_days();
    i32::try_from(days).map_err(|_| "out of the date32 range".into())
}

/// A decimal number's text (`-12.50`, `1.5e3`) as an unscaled integer of
/// `scale` decimal places, exactly: a value with more places, or more than
/// `precision` digits, is refused.
fn decimal(text: &str, precision: u8, scale: i8) -> Result<i128, String> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], unsigned[at + 1..].parse::<i32>().ok()),
        None => (unsigned, Some(0)),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let (Some(exponent), true) = (
        exponent,
        !(whole.is_empty() && fraction.is_empty()) && digits(whole) && digits(fraction),
    ) else {
        return Err("not a decimal number".into());
    };
    // The digits, then the power of ten that scales them to `scale` places.
    let shift = i64::from(exponent) - fraction.len() as i64 + i64::from(scale);
    let all = whole
        .bytes()
        .chain(fraction.bytes())
        .skip_while(|&b| b == b'0');
    let all: Vec<u8> = all.collect();
    let kept = match usize::try_from(-shift) {
        Ok(dropped) if dropped > 0 => {
            let cut = all.len().saturating_sub(dropped);
            if all[cut..].iter().any(|&b| b != b'0') {
                return Err(format!("more than {scale} decimal places"));
            }
            &all[..cut]
        }
        _ => &all[..],
    };
    let too_long = || format!("more than {precision} digits");
    let mut value: i128 = 0;
    for &b in kept {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(b - b'0')))
            .ok_or_else(too_long)?;
    }
    if shift > 0 && value != 0 {
        let up = u32::try_from(shift).map_err(|_| too_long())?;
        value = 10i128
            .checked_pow(up)
            .and_then(|p| value.checked_mul(p))
            .ok_or_else(too_long)?;
    }
    if value >= 10i128.pow(u32::from(precision)) {
        return Err(too_long());
    }
    Ok(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_read_from_its_text_and_bytes_that_are_not_utf8_are_refused_where_they_are() {
        let columns: Vec<ParquetColumn> = toml::from_str::<toml::Table>(
            r#"c = [{ name = "name", type = "string" }, { name = "n", type = "int64" }]"#,
        )
        .unwrap()["c"]
            .clone()
            .try_into()
            .unwrap();
        let mut cells = Vec::new();
        let value = [
            br#"{"n": -3, "name": "a\"b\u00e9 c"#.as_slice(),
            "é".as_bytes(),
            br#"", "other": [1, {"x": null}]}"#,
        ]
        .concat();
        decode(&value, &columns, &mut cells).unwrap();
        assert_eq!(cells, vec![Cell::Str("a\"bé cé".into()), Cell::Int(-3)]);
        let err = decode(b"{\"name\": \"a\xffb\"}", &columns, &mut cells).unwrap_err();
        assert!(err.to_string().contains("line 1 column"), "{err}");
        assert!(decode(b"[1]", &columns, &mut cells).is_err());
    }

    #[test]
    fn decimals_are_read_exactly_or_refused() {
        let d = |t: &str| decimal(t, 6, 2);
        assert_eq!(d("12.34"), Ok(1234));
        assert_eq!(d("-12.3"), Ok(-1230));
        assert_eq!(d("0012"), Ok(1200));
        assert_eq!(d("1.5e2"), Ok(15000));
        assert_eq!(d("1250e-3"), Ok(125));
        assert_eq!(d("9999.99"), Ok(999_999));
        assert_eq!(d("0.000"), Ok(0));
        assert_eq!(d("12.340"), Ok(1234));
        assert_eq!(d("12.345"), Err("more than 2 decimal places".into()));
        assert_eq!(d("10000"), Err("more than 6 digits".into()));
        assert_eq!(d("1e40"), Err("more than 6 digits".into()));
        for bad in ["", "-", ".", "1.2.3", "1e", "abc", "1,5", " 1"] {
            assert_eq!(d(bad), Err("not a decimal number".into()), "{bad:?}");
        }
        assert_eq!(decimal("-1", 38, 0), Ok(-1));
        assert!(decimal(&"9".repeat(39), 38, 0).is_err());
    }

    #[test]
    fn timestamps_and_dates_read_their_text_forms() {
        assert_eq!(timestamp_ms("1970-01-01T00:00:01.250Z"), Ok(1250));
        assert_eq!(timestamp_ms("1970-01-01T01:00:00+01:00"), Ok(0));
        assert!(timestamp_ms("1970-01-01T00:00:00.0001Z").is_err());
        assert!(timestamp_ms("yesterday").is_err());
        assert_eq!(date32("1970-01-02"), Ok(1));
        assert_eq!(date32("1969-12-31"), Ok(-1));
        assert!(date32("2026-02-30").is_err());
    }
}
