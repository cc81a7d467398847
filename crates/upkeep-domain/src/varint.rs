//! LEB128 variable-length unsigned integers, as protobuf writes them: seven bits a byte, low
//! bits first, the high bit set on every byte but the last. Used by the gRPC health messages
//! and by packed rollups.

/// Why a varint could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarintError {
    /// The input ended inside the varint.
    CutShort,
    /// More than 64 bits (ten bytes, or a tenth byte above 1).
    TooLong,
}

/// Appends `value`.
pub fn push(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads one varint from the front of `input` and advances it past the varint.
pub fn read(input: &mut &[u8]) -> Result<u64, VarintError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let Some((&byte, rest)) = input.split_first() else {
            return Err(VarintError::CutShort);
        };
        *input = rest;
        if shift == 63 && byte > 1 {
            return Err(VarintError::TooLong);
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(VarintError::TooLong)
}

/// A signed value as an unsigned one whose varint is short when the value is near zero
/// (protobuf's zigzag: 0, -1, 1, -2, … become 0, 1, 2, 3, …).
pub fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// The inverse of [`zigzag`].
pub fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn varints_are_protobufs() {
        let mut out = Vec::new();
        push(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        let mut max = Vec::new();
        push(&mut max, u64::MAX);
        assert_eq!(max.len(), 10);
        assert_eq!(read(&mut &max[..]), Ok(u64::MAX));
        assert_eq!(read(&mut &[0x80][..]), Err(VarintError::CutShort));
        let mut over = vec![0xff; 9];
        over.push(0x02);
        assert_eq!(read(&mut &over[..]), Err(VarintError::TooLong));
        assert_eq!(read(&mut &[0xff; 11][..]), Err(VarintError::TooLong));
        assert_eq!([0, -1, 1, -2].map(zigzag), [0, 1, 2, 3]);
    }

    proptest! {
        #[test]
        fn varints_and_zigzags_round_trip(value in any::<u64>(), signed in any::<i64>(), tail in any::<u8>()) {
            let mut out = Vec::new();
            push(&mut out, value);
            out.push(tail);
            let mut input = &out[..];
            prop_assert_eq!(read(&mut input), Ok(value));
            prop_assert_eq!(input, &[tail][..]);
            prop_assert_eq!(unzigzag(zigzag(signed)), signed);
        }
    }
}
