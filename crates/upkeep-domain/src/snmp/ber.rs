//! The subset of BER (X.690) that SNMP messages use: definite lengths of at most four bytes,
//! one-byte tags, integers of at most 64 bits and object identifiers. Reading never panics and
//! never reads past a length; positions are kept absolute so that a reader over a nested
//! value can say where in the whole message a field lies (the USM digest is patched and
//! checked in place).

use super::DecodeError;

pub const INTEGER: u8 = 0x02;
pub const OCTET_STRING: u8 = 0x04;
pub const NULL: u8 = 0x05;
pub const OBJECT_IDENTIFIER: u8 = 0x06;
pub const SEQUENCE: u8 = 0x30;

/// A value read from a buffer: its tag and where its content lies.
#[derive(Clone, Copy, Debug)]
pub struct Tlv<'a> {
    pub tag: u8,
    /// Absolute offset of the content in the reader's buffer.
    pub start: usize,
    pub content: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// A reader over this value's content (for constructed values).
    pub fn reader(&self, buf: &'a [u8]) -> Reader<'a> {
        Reader {
            buf,
            pos: self.start,
            end: self.start + self.content.len(),
        }
    }
}

/// Reads consecutive values from `buf[pos..end]`.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader {
            buf,
            pos: 0,
            end: buf.len(),
        }
    }

    pub fn buf(&self) -> &'a [u8] {
        self.buf
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.end
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        if self.pos >= self.end {
            return Err(DecodeError("the message ends early"));
        }
        let byte = self.buf.get(self.pos).copied();
        self.pos += 1;
        byte.ok_or(DecodeError("the message ends early"))
    }

    /// The next value, whatever its tag.
    pub fn any(&mut self) -> Result<Tlv<'a>, DecodeError> {
        let tag = self.byte()?;
        if tag & 0x1f == 0x1f {
            return Err(DecodeError("a multi-byte tag"));
        }
        let first = self.byte()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else if first == 0x80 {
            return Err(DecodeError("an indefinite length"));
        } else {
            let count = usize::from(first & 0x7f);
            if count > 4 {
                return Err(DecodeError("a length of more than four bytes"));
            }
            let mut len = 0usize;
            for _ in 0..count {
                len = (len << 8) | usize::from(self.byte()?);
            }
            len
        };
        if len > self.end - self.pos {
            return Err(DecodeError("a length past the end of the message"));
        }
        let start = self.pos;
        self.pos += len;
        let content = self
            .buf
            .get(start..self.pos)
            .ok_or(DecodeError("a length past the end of the message"))?;
        Ok(Tlv {
            tag,
            start,
            content,
        })
    }

    /// The next value, which must have tag `tag`.
    pub fn expect(&mut self, tag: u8, what: &'static str) -> Result<Tlv<'a>, DecodeError> {
        let tlv = self.any()?;
        if tlv.tag == tag {
            Ok(tlv)
        } else {
            Err(DecodeError(what))
        }
    }

    /// A constructed value with tag `tag`, as a reader over its content.
    pub fn enter(&mut self, tag: u8, what: &'static str) -> Result<Reader<'a>, DecodeError> {
        let tlv = self.expect(tag, what)?;
        Ok(tlv.reader(self.buf))
    }

    pub fn integer(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        let tlv = self.expect(INTEGER, what)?;
        signed(tlv.content)
    }

    pub fn octets(&mut self, what: &'static str) -> Result<Tlv<'a>, DecodeError> {
        self.expect(OCTET_STRING, what)
    }
}

/// A two's complement integer of 1 to 8 bytes.
pub fn signed(content: &[u8]) -> Result<i64, DecodeError> {
    if content.is_empty() || content.len() > 8 {
        return Err(DecodeError("an integer of no or more than 8 bytes"));
    }
    let negative = content.first().is_some_and(|b| b & 0x80 != 0);
    let mut value: i64 = if negative { -1 } else { 0 };
    for &byte in content {
        value = (value << 8) | i64::from(byte);
    }
    Ok(value)
}

/// An unsigned integer of up to 64 bits (a leading zero byte allowed), as SNMP's counters,
/// gauges and time ticks are encoded.
pub fn unsigned(content: &[u8]) -> Result<u64, DecodeError> {
    let digits = match content {
        [] => return Err(DecodeError("an empty integer")),
        [0, rest @ ..] if !rest.is_empty() => rest,
        [first, ..] if first & 0x80 != 0 => return Err(DecodeError("a negative counter")),
        all => all,
    };
    if digits.len() > 8 {
        return Err(DecodeError("a counter of more than 64 bits"));
    }
    Ok(digits
        .iter()
        .fold(0u64, |value, &byte| (value << 8) | u64::from(byte)))
}

/// Object identifier arcs from BER content.
pub fn oid_arcs(content: &[u8]) -> Result<Vec<u32>, DecodeError> {
    if content.is_empty() {
        return Err(DecodeError("an empty object identifier"));
    }
    let mut arcs = Vec::new();
    let mut value: u64 = 0;
    let mut pending = false;
    for &byte in content {
        if !pending && byte == 0x80 {
            return Err(DecodeError("an object identifier with a padded arc"));
        }
        value = (value << 7) | u64::from(byte & 0x7f);
        if value > u64::from(u32::MAX) + 80 {
            return Err(DecodeError("an object identifier arc above 2^32"));
        }
        pending = byte & 0x80 != 0;
        if !pending {
            if arcs.is_empty() {
                let (first, second) = match value {
                    0..40 => (0, value),
                    40..80 => (1, value - 40),
                    _ => (2, value - 80),
                };
                arcs.push(first);
                arcs.push(
                    u32::try_from(second)
                        .map_err(|_| DecodeError("an object identifier arc above 2^32"))?,
                );
            } else {
                arcs.push(
                    u32::try_from(value)
                        .map_err(|_| DecodeError("an object identifier arc above 2^32"))?,
                );
            }
            if arcs.len() > super::MAX_OID_ARCS {
                return Err(DecodeError("an object identifier of more than 128 arcs"));
            }
            value = 0;
        }
    }
    if pending {
        return Err(DecodeError("an object identifier that ends inside an arc"));
    }
    Ok(arcs)
}

/// Appends a value with tag `tag` and content `content`.
pub fn put(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    put_len(out, content.len());
    out.extend_from_slice(content);
}

/// A value with tag `tag` and content `content`, as a new buffer.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    put(&mut out, tag, content);
    out
}

/// How many bytes the tag and length of a value with `len` bytes of content take.
pub fn header_len(len: usize) -> usize {
    let mut out = Vec::new();
    put_len(&mut out, len);
    1 + out.len()
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = (len as u64).to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let digits = bytes.get(skip..).unwrap_or(&[]);
    out.push(0x80 | digits.len() as u8);
    out.extend_from_slice(digits);
}

/// The shortest two's complement encoding of `value`.
pub fn integer(value: i64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let mut skip = 0;
    while skip < 7 {
        let (Some(&this), Some(&next)) = (bytes.get(skip), bytes.get(skip + 1)) else {
            break;
        };
        let redundant = (this == 0 && next & 0x80 == 0) || (this == 0xff && next & 0x80 != 0);
        if !redundant {
            break;
        }
        skip += 1;
    }
    tlv(INTEGER, bytes.get(skip..).unwrap_or(&[0]))
}

/// The BER content of an object identifier with at least two arcs (checked by the caller).
pub fn oid_content(arcs: &[u32]) -> Vec<u8> {
    let mut out = Vec::new();
    let (first, second, rest) = match arcs {
        [first, second, rest @ ..] => (*first, *second, rest),
        _ => return out,
    };
    let head = u64::from(first) * 40 + u64::from(second);
    put_base128(&mut out, head);
    for &arc in rest {
        put_base128(&mut out, u64::from(arc));
    }
    out
}

fn put_base128(out: &mut Vec<u8>, value: u64) {
    let mut groups = [0u8; 10];
    let mut count = 0;
    let mut rest = value;
    loop {
        if let Some(slot) = groups.get_mut(count) {
            *slot = (rest & 0x7f) as u8;
        }
        count += 1;
        rest >>= 7;
        if rest == 0 {
            break;
        }
    }
    for index in (0..count).rev() {
        let group = groups.get(index).copied().unwrap_or(0);
        out.push(if index == 0 { group } else { group | 0x80 });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn integers_round_trip_in_their_shortest_form() {
        for (value, encoded) in [
            (0i64, vec![2, 1, 0]),
            (127, vec![2, 1, 0x7f]),
            (128, vec![2, 2, 0, 0x80]),
            (-1, vec![2, 1, 0xff]),
            (-129, vec![2, 2, 0xff, 0x7f]),
            (65536, vec![2, 3, 1, 0, 0]),
        ] {
            assert_eq!(integer(value), encoded, "{value}");
            assert_eq!(Reader::new(&encoded).integer("int").unwrap(), value);
        }
        assert_eq!(integer(i64::MIN).len(), 10);
        assert_eq!(signed(&integer(i64::MAX)[2..]).unwrap(), i64::MAX);
        assert_eq!(unsigned(&[0, 0xff, 0xff, 0xff, 0xff]).unwrap(), 0xffff_ffff);
        assert_eq!(
            unsigned(&[0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).unwrap(),
            u64::MAX
        );
        assert!(unsigned(&[0x80]).is_err());
    }

    #[test]
    fn object_identifiers_round_trip() {
        let arcs = vec![1, 3, 6, 1, 4, 1, 8072, 4_294_967_295];
        let content = oid_content(&arcs);
        assert_eq!(&content[..3], &[0x2b, 6, 1]);
        assert_eq!(oid_arcs(&content).unwrap(), arcs);
        assert_eq!(oid_arcs(&oid_content(&[2, 999])).unwrap(), vec![2, 999]);
        assert!(oid_arcs(&[0x2b, 0x86]).is_err());
        assert!(oid_arcs(&[0x2b, 0x80, 1]).is_err());
    }

    #[test]
    fn lengths_are_definite_and_bounded() {
        let long = tlv(OCTET_STRING, &[7u8; 300]);
        assert_eq!(&long[..4], &[4, 0x82, 1, 44]);
        assert_eq!(header_len(300), 4);
        assert_eq!(Reader::new(&long).any().unwrap().content.len(), 300);
        assert!(Reader::new(&[4, 0x80, 0, 0]).any().is_err());
        assert!(Reader::new(&[4, 5, 1]).any().is_err());
        assert!(Reader::new(&[4, 0x85, 1, 1, 1, 1, 1]).any().is_err());
    }
}
