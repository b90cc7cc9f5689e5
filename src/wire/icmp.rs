//! ICMP messages the stack answers or sends (RFC 792): echo request/reply
//! and destination unreachable.

use super::{checksum, Error};

/// ICMP type: echo reply.
pub const ECHO_REPLY: u8 = 0;
/// ICMP type: destination unreachable.
pub const DEST_UNREACHABLE: u8 = 3;
/// ICMP type: echo request.
pub const ECHO_REQUEST: u8 = 8;
/// ICMP type: time exceeded.
pub const TIME_EXCEEDED: u8 = 11;
/// ICMP type: parameter problem.
pub const PARAMETER_PROBLEM: u8 = 12;
/// Destination-unreachable code: port unreachable.
pub const CODE_PORT_UNREACHABLE: u8 = 3;

/// A parsed ICMP message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpMessage<'a> {
    /// Type.
    pub kind: u8,
    /// Code.
    pub code: u8,
    /// Bytes 4..8 of the header (identifier + sequence for echo).
    pub rest: [u8; 4],
    /// Data after the 8-byte header.
    pub data: &'a [u8],
}

impl<'a> IcmpMessage<'a> {
    /// Parses and checksum-verifies an ICMP message.
    ///
    /// # Errors
    /// [`Error::Truncated`] or [`Error::BadChecksum`].
    pub fn parse(buf: &'a [u8]) -> Result<IcmpMessage<'a>, Error> {
        let h = buf.get(..8).ok_or(Error::Truncated)?;
        if checksum::data(buf) != 0 {
            return Err(Error::BadChecksum);
        }
        Ok(IcmpMessage {
            kind: h[0],
            code: h[1],
            rest: [h[4], h[5], h[6], h[7]],
            data: &buf[8..],
        })
    }

    /// Length when emitted.
    pub fn len(&self) -> usize {
        8 + self.data.len()
    }

    /// True if there is no data after the header.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Writes the message with its checksum into `buf[..len()]`.
    ///
    /// # Errors
    /// [`Error::Truncated`] if `buf` is too short.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let out = buf.get_mut(..self.len()).ok_or(Error::Truncated)?;
        out[0] = self.kind;
        out[1] = self.code;
        out[2..4].copy_from_slice(&[0, 0]);
        out[4..8].copy_from_slice(&self.rest);
        out[8..].copy_from_slice(self.data);
        let c = checksum::data(out);
        out[2..4].copy_from_slice(&c.to_be_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_round_trip_and_bad_checksum() {
        let m = IcmpMessage {
            kind: ECHO_REQUEST,
            code: 0,
            rest: [0, 1, 0, 2],
            data: b"ping",
        };
        let mut buf = vec![0u8; m.len()];
        m.emit(&mut buf).unwrap();
        assert_eq!(IcmpMessage::parse(&buf).unwrap(), m);
        buf[9] ^= 1;
        assert_eq!(IcmpMessage::parse(&buf).unwrap_err(), Error::BadChecksum);
        assert_eq!(IcmpMessage::parse(&buf[..7]).unwrap_err(), Error::Truncated);
    }
}
