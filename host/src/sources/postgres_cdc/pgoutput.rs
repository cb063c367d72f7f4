//! The changes of pgoutput's logical replication messages (protocol 1):
//! Relation, Insert, Update and Delete, with their tuples. Begin and Commit
//! come decoded from the replication client; Truncate, Type and Origin are
//! recognised and skipped.

use std::fmt;

/// A table as the stream describes it before its first change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub id: u32,
    pub schema: String,
    pub table: String,
    pub columns: Vec<RelColumn>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelColumn {
    pub name: String,
    pub type_oid: u32,
    /// Part of the replica identity (the primary key by default).
    pub key: bool,
}

/// The row before a change, as the replica identity gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldRow {
    /// The whole row (`O`), not only the key columns (`K`).
    pub full: bool,
    pub values: Vec<Datum>,
}

/// One column's value in a tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datum {
    Null,
    /// A TOASTed value the change did not touch: not sent.
    Unchanged,
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Relation(Relation),
    Insert {
        relation: u32,
        new: Vec<Datum>,
    },
    /// `old` when the server sends one: the key, or the whole old row
    /// with `REPLICA IDENTITY FULL`.
    Update {
        relation: u32,
        old: Option<OldRow>,
        new: Vec<Datum>,
    },
    Delete {
        relation: u32,
        old: OldRow,
    },
    Truncate,
    /// Begin, Commit, Type, Origin, Message: nothing for the change log.
    Other(u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed pgoutput message: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

/// A reader over one message's bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError(format!(
                "{n} bytes wanted, {} left",
                self.0.len()
            )));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A NUL-terminated string.
    fn cstr(&mut self) -> Result<String, DecodeError> {
        let end = self
            .0
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| DecodeError("unterminated string".into()))?;
        let s = String::from_utf8_lossy(&self.0[..end]).into_owned();
        self.0 = &self.0[end + 1..];
        Ok(s)
    }

    fn tuple(&mut self) -> Result<Vec<Datum>, DecodeError> {
        let n = self.u16()?;
        (0..n)
            .map(|_| match self.u8()? {
                b'n' => Ok(Datum::Null),
                b'u' => Ok(Datum::Unchanged),
                b't' | b'b' => {
                    let len = self.u32()? as usize;
                    Ok(Datum::Text(
                        String::from_utf8_lossy(self.take(len)?).into_owned(),
                    ))
                }
                k => Err(DecodeError(format!(
                    "unknown tuple column kind {:?}",
                    k as char
                ))),
            })
            .collect()
    }
}

/// Decodes one pgoutput message.
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    let mut r = Reader(bytes);
    let tag = r.u8()?;
    Ok(match tag {
        b'R' => {
            let id = r.u32()?;
            let schema = r.cstr()?;
            let table = r.cstr()?;
            let _replica_identity = r.u8()?;
            let n = r.u16()?;
            let columns = (0..n)
                .map(|_| {
                    let flags = r.u8()?;
                    let name = r.cstr()?;
                    let type_oid = r.u32()?;
                    let _typmod = r.u32()?;
                    Ok(RelColumn {
                        name,
                        type_oid,
                        key: flags & 1 == 1,
                    })
                })
                .collect::<Result<_, DecodeError>>()?;
            Message::Relation(Relation {
                id,
                schema,
                table,
                columns,
            })
        }
        b'I' => {
            let relation = r.u32()?;
            expect(&mut r, b'N')?;
            Message::Insert {
                relation,
                new: r.tuple()?,
            }
        }
        b'U' => {
            let relation = r.u32()?;
            let (old, new) = match r.u8()? {
                k @ (b'K' | b'O') => {
                    let old = OldRow {
                        full: k == b'O',
                        values: r.tuple()?,
                    };
                    expect(&mut r, b'N')?;
                    (Some(old), r.tuple()?)
                }
                b'N' => (None, r.tuple()?),
                k => return Err(DecodeError(format!("update: unexpected {:?}", k as char))),
            };
            Message::Update { relation, old, new }
        }
        b'D' => {
            let relation = r.u32()?;
            let full = match r.u8()? {
                b'K' => false,
                b'O' => true,
                k => return Err(DecodeError(format!("delete: unexpected {:?}", k as char))),
            };
            Message::Delete {
                relation,
                old: OldRow {
                    full,
                    values: r.tuple()?,
                },
            }
        }
        b'T' => Message::Truncate,
        other => Message::Other(other),
    })
}

fn expect(r: &mut Reader<'_>, want: u8) -> Result<(), DecodeError> {
    match r.u8()? {
        got if got == want => Ok(()),
        got => Err(DecodeError(format!(
            "expected {:?}, found {:?}",
            want as char, got as char
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(values: &[Option<&str>]) -> Vec<u8> {
        let mut out = (values.len() as u16).to_be_bytes().to_vec();
        for v in values {
            match v {
                None => out.push(b'n'),
                Some(t) => {
                    out.push(b't');
                    out.extend((t.len() as u32).to_be_bytes());
                    out.extend(t.as_bytes());
                }
            }
        }
        out
    }

    #[test]
    fn relations_and_changes_decode() {
        let mut rel = vec![b'R'];
        rel.extend(16384u32.to_be_bytes());
        rel.extend(b"public\0users\0");
        rel.push(b'd');
        rel.extend(2u16.to_be_bytes());
        rel.push(1);
        rel.extend(b"id\0");
        rel.extend(23u32.to_be_bytes());
        rel.extend((-1i32).to_be_bytes());
        rel.push(0);
        rel.extend(b"name\0");
        rel.extend(25u32.to_be_bytes());
        rel.extend((-1i32).to_be_bytes());
        let Message::Relation(r) = decode(&rel).unwrap() else {
            panic!("relation")
        };
        assert_eq!(
            (r.id, r.schema.as_str(), r.table.as_str()),
            (16384, "public", "users")
        );
        assert!(r.columns[0].key && !r.columns[1].key);

        let mut ins = vec![b'I'];
        ins.extend(16384u32.to_be_bytes());
        ins.push(b'N');
        ins.extend(tuple(&[Some("7"), None]));
        assert_eq!(
            decode(&ins).unwrap(),
            Message::Insert {
                relation: 16384,
                new: vec![Datum::Text("7".into()), Datum::Null]
            }
        );

        let mut upd = vec![b'U'];
        upd.extend(16384u32.to_be_bytes());
        upd.push(b'O');
        upd.extend(tuple(&[Some("7"), Some("a")]));
        upd.push(b'N');
        upd.extend(tuple(&[Some("7"), Some("b")]));
        let Message::Update {
            old: Some(old),
            new,
            ..
        } = decode(&upd).unwrap()
        else {
            panic!("update with old row")
        };
        assert!(old.full);
        assert_eq!(
            (old.values[1].clone(), new[1].clone()),
            (Datum::Text("a".into()), Datum::Text("b".into()))
        );

        let mut del = vec![b'D'];
        del.extend(16384u32.to_be_bytes());
        del.push(b'K');
        del.extend(tuple(&[Some("7"), None]));
        assert!(matches!(decode(&del).unwrap(), Message::Delete { .. }));
        assert!(decode(&del[..6]).is_err());
    }
}
