//! The gRPC health-checking protocol's messages (`grpc.health.v1.Health/Check`), framed for
//! gRPC over HTTP/2: the request a probe sends and a pure parser of the answer's body, which
//! is outside input (fuzz target `grpc_health`).
//!
//! `HealthCheckRequest { string service = 1; }` and `HealthCheckResponse { ServingStatus
//! status = 1; }` are small enough to encode and decode by hand: a gRPC message is a 1-byte
//! compression flag, a 4-byte big-endian length and the protobuf bytes.

use crate::varint::{self, VarintError};

/// The HTTP/2 path of the call.
pub const CHECK_PATH: &str = "/grpc.health.v1.Health/Check";

/// The longest answer body read, in bytes (a real answer is 7 bytes).
pub const MAX_ANSWER_BYTES: usize = 4096;

/// `HealthCheckResponse.ServingStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServingStatus {
    /// 0
    Unknown,
    /// 1
    Serving,
    /// 2
    NotServing,
    /// 3 (only from `Watch`, but a server may send it)
    ServiceUnknown,
    /// A value the protocol does not define.
    Other(u64),
}

impl ServingStatus {
    fn from_number(number: u64) -> ServingStatus {
        match number {
            0 => ServingStatus::Unknown,
            1 => ServingStatus::Serving,
            2 => ServingStatus::NotServing,
            3 => ServingStatus::ServiceUnknown,
            other => ServingStatus::Other(other),
        }
    }

    /// The protocol's name: `SERVING`, `NOT_SERVING`, `UNKNOWN`, `SERVICE_UNKNOWN`, or the
    /// number of one it does not define.
    pub fn name(self) -> String {
        match self {
            ServingStatus::Unknown => "UNKNOWN".to_owned(),
            ServingStatus::Serving => "SERVING".to_owned(),
            ServingStatus::NotServing => "NOT_SERVING".to_owned(),
            ServingStatus::ServiceUnknown => "SERVICE_UNKNOWN".to_owned(),
            ServingStatus::Other(number) => number.to_string(),
        }
    }
}

/// The framed, uncompressed `HealthCheckRequest` for `service` (empty: the whole server).
pub fn request(service: &str) -> Vec<u8> {
    let mut message = Vec::with_capacity(service.len() + 6);
    if !service.is_empty() {
        message.push(0x0a); // field 1, length-delimited
        varint::push(&mut message, service.len() as u64);
        message.extend_from_slice(service.as_bytes());
    }
    let mut framed = Vec::with_capacity(message.len() + 5);
    framed.push(0);
    framed.extend_from_slice(
        &u32::try_from(message.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    framed.extend_from_slice(&message);
    framed
}

/// The serving status in an answer's body: exactly one uncompressed gRPC message holding a
/// `HealthCheckResponse` (unknown fields skipped; a missing status is `UNKNOWN`, as protobuf
/// says). The error says what is wrong, in words.
pub fn parse_answer(body: &[u8]) -> Result<ServingStatus, String> {
    let Some((&flag, rest)) = body.split_first() else {
        return Err("the answer has no message".to_owned());
    };
    if flag != 0 {
        return Err("the answer is compressed, which was not asked for".to_owned());
    }
    let Some((length, message)) = rest.split_first_chunk::<4>() else {
        return Err("the answer's message is cut short".to_owned());
    };
    let length = usize::try_from(u32::from_be_bytes(*length)).unwrap_or(usize::MAX);
    if message.len() < length {
        return Err("the answer's message is cut short".to_owned());
    }
    if message.len() > length {
        return Err("the answer holds more than one message".to_owned());
    }
    let mut status = ServingStatus::Unknown;
    let mut input = message;
    while !input.is_empty() {
        let key = read_varint(&mut input)?;
        let (field, wire_type) = (key >> 3, key & 7);
        match wire_type {
            0 => {
                let value = read_varint(&mut input)?;
                if field == 1 {
                    status = ServingStatus::from_number(value);
                }
            }
            1 => skip(&mut input, 8)?,
            2 => {
                let length = read_varint(&mut input)?;
                skip(&mut input, usize::try_from(length).unwrap_or(usize::MAX))?;
            }
            5 => skip(&mut input, 4)?,
            _ => return Err("the answer is not a HealthCheckResponse".to_owned()),
        }
        if field == 0 || (field == 1 && wire_type != 0) {
            return Err("the answer is not a HealthCheckResponse".to_owned());
        }
    }
    Ok(status)
}

fn read_varint(input: &mut &[u8]) -> Result<u64, String> {
    varint::read(input).map_err(|e| match e {
        VarintError::CutShort => "the answer's message is cut short".to_owned(),
        VarintError::TooLong => "the answer is not a HealthCheckResponse".to_owned(),
    })
}

fn skip(input: &mut &[u8], count: usize) -> Result<(), String> {
    match input.get(count..) {
        Some(rest) => {
            *input = rest;
            Ok(())
        }
        None => Err("the answer's message is cut short".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn requests_are_framed_protobuf() {
        assert_eq!(request(""), vec![0, 0, 0, 0, 0]);
        assert_eq!(request("ab"), vec![0, 0, 0, 0, 4, 0x0a, 2, b'a', b'b']);
        let long = "s".repeat(200);
        let framed = request(&long);
        assert_eq!(&framed[..8], &[0, 0, 0, 0, 203, 0x0a, 0xc8, 0x01]);
    }

    #[test]
    fn answers_read_their_status() {
        assert_eq!(
            parse_answer(&[0, 0, 0, 0, 2, 8, 1]),
            Ok(ServingStatus::Serving)
        );
        assert_eq!(
            parse_answer(&[0, 0, 0, 0, 2, 8, 2]),
            Ok(ServingStatus::NotServing)
        );
        assert_eq!(parse_answer(&[0, 0, 0, 0, 0]), Ok(ServingStatus::Unknown));
        assert_eq!(
            parse_answer(&[0, 0, 0, 0, 2, 8, 3]),
            Ok(ServingStatus::ServiceUnknown)
        );
        assert_eq!(
            parse_answer(&[0, 0, 0, 0, 2, 8, 9]).map(ServingStatus::name),
            Ok("9".to_owned())
        );
        // An unknown length-delimited field before the status is skipped.
        assert_eq!(
            parse_answer(&[0, 0, 0, 0, 6, 0x12, 2, b'x', b'y', 8, 1]),
            Ok(ServingStatus::Serving)
        );
        assert_eq!(parse_answer(&[]).unwrap_err(), "the answer has no message");
        assert_eq!(
            parse_answer(&[1, 0, 0, 0, 2, 8, 1]).unwrap_err(),
            "the answer is compressed, which was not asked for"
        );
        assert_eq!(
            parse_answer(&[0, 0, 0, 0, 3, 8, 1]).unwrap_err(),
            "the answer's message is cut short"
        );
        assert_eq!(
            parse_answer(&[0, 0, 0, 0, 2, 8, 1, 0]).unwrap_err(),
            "the answer holds more than one message"
        );
        assert_eq!(
            parse_answer(&[0, 0, 0, 0, 2, 0x0a, 0]).unwrap_err(),
            "the answer is not a HealthCheckResponse"
        );
        assert_eq!(
            parse_answer(&[0, 0, 0, 0, 2, 8, 0x80]).unwrap_err(),
            "the answer's message is cut short"
        );
    }
}
