//! DNS message encode/decode (RFC 1035 §4.1) with compression (§4.1.4).

use std::fmt;
use std::net::Ipv4Addr;

/// Record type A (IPv4 address).
pub const TYPE_A: u16 = 1;
/// Record type CNAME (canonical name).
pub const TYPE_CNAME: u16 = 5;
/// Class IN.
pub const CLASS_IN: u16 = 1;

/// Most records of each section decoded (the rest are ignored).
const MAX_RECORDS: usize = 64;
/// Most compression jumps followed in one name.
const MAX_JUMPS: usize = 32;

/// Why a message could not be built or decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The message ends inside a field.
    Truncated,
    /// A label is longer than 63 bytes or has a reserved length prefix.
    BadLabel,
    /// A name is longer than 255 bytes.
    NameTooLong,
    /// A compression pointer points forward or to itself (a loop).
    BadPointer,
    /// Too many compression jumps in one name.
    PointerLoop,
    /// Record data does not match its type (an A record not 4 bytes).
    BadRdata,
    /// An empty or invalid name to query.
    BadName,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "dns message truncated",
            Error::BadLabel => "dns label too long or reserved",
            Error::NameTooLong => "dns name longer than 255 bytes",
            Error::BadPointer => "dns compression pointer does not point backwards",
            Error::PointerLoop => "dns compression pointers loop",
            Error::BadRdata => "dns record data does not match its type",
            Error::BadName => "invalid name to look up",
        })
    }
}

impl std::error::Error for Error {}

/// A question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// Lowercased name without the trailing dot.
    pub name: String,
    /// Query type.
    pub qtype: u16,
    /// Query class.
    pub qclass: u16,
}

/// Record data this resolver understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordData {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An alias.
    Cname(String),
    /// Anything else (the type is kept).
    Other(u16),
}

/// A resource record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Owner name, lowercased.
    pub name: String,
    /// Class.
    pub class: u16,
    /// Time to live in seconds.
    pub ttl: u32,
    /// The data.
    pub data: RecordData,
}

/// A decoded message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Transaction id.
    pub id: u16,
    /// QR bit: a response.
    pub is_response: bool,
    /// TC bit: truncated (a TCP retry would be needed).
    pub truncated: bool,
    /// Response code (0 = no error, 3 = NXDOMAIN).
    pub rcode: u8,
    /// Questions.
    pub questions: Vec<Question>,
    /// Answer records.
    pub answers: Vec<Record>,
}

impl Message {
    /// The IPv4 addresses for `name`, following CNAMEs inside the answer
    /// section (at most 8), with the smallest TTL along the chain.
    pub fn addresses(&self, name: &str) -> Option<(Vec<Ipv4Addr>, u32)> {
        let mut target = name.trim_end_matches('.').to_ascii_lowercase();
        let mut ttl = u32::MAX;
        for _ in 0..8 {
            let addrs: Vec<(Ipv4Addr, u32)> = self
                .answers
                .iter()
                .filter(|r| r.name == target)
                .filter_map(|r| match r.data {
                    RecordData::A(a) => Some((a, r.ttl)),
                    _ => None,
                })
                .collect();
            if !addrs.is_empty() {
                let min = addrs.iter().map(|(_, t)| *t).min().unwrap_or(0).min(ttl);
                return Some((addrs.into_iter().map(|(a, _)| a).collect(), min));
            }
            let alias = self
                .answers
                .iter()
                .find_map(|r| match (&r.data, r.name == target) {
                    (RecordData::Cname(c), true) => Some((c.clone(), r.ttl)),
                    _ => None,
                })?;
            ttl = ttl.min(alias.1);
            target = alias.0;
        }
        None
    }
}

/// Builds a recursive query (RD set) for `name`.
///
/// # Errors
/// [`Error::BadName`], [`Error::BadLabel`] or [`Error::NameTooLong`].
pub fn encode_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, Error> {
    let name = name.trim_end_matches('.');
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
    {
        return Err(Error::BadName);
    }
    let mut out = Vec::with_capacity(18 + name.len());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // 1 question
    let mut total = 0;
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(Error::BadLabel);
        }
        total += label.len() + 1;
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    if total + 1 > 255 {
        return Err(Error::NameTooLong);
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(out)
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn u8(&mut self) -> Result<u8, Error> {
        let v = *self.buf.get(self.at).ok_or(Error::Truncated)?;
        self.at += 1;
        Ok(v)
    }
    fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }
    fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from(self.u16()?) << 16 | u32::from(self.u16()?))
    }
    fn bytes(&mut self, n: usize) -> Result<&[u8], Error> {
        let s = self.buf.get(self.at..self.at + n).ok_or(Error::Truncated)?;
        self.at += n;
        Ok(s)
    }

    /// A possibly compressed name (RFC 1035 §4.1.4). Pointers must point
    /// strictly backwards from where they occur, so they can not loop.
    fn name(&mut self) -> Result<String, Error> {
        let mut name = String::new();
        let mut pos = self.at;
        let mut jumped = false;
        let mut jumps = 0;
        loop {
            let len = *self.buf.get(pos).ok_or(Error::Truncated)?;
            match len & 0xc0 {
                0xc0 => {
                    let lo = *self.buf.get(pos + 1).ok_or(Error::Truncated)?;
                    let target = usize::from(len & 0x3f) << 8 | usize::from(lo);
                    if target >= pos {
                        return Err(Error::BadPointer);
                    }
                    jumps += 1;
                    if jumps > MAX_JUMPS {
                        return Err(Error::PointerLoop);
                    }
                    if !jumped {
                        self.at = pos + 2;
                        jumped = true;
                    }
                    pos = target;
                }
                0x00 => {
                    let len = usize::from(len);
                    if len == 0 {
                        if !jumped {
                            self.at = pos + 1;
                        }
                        return Ok(name);
                    }
                    let label = self
                        .buf
                        .get(pos + 1..pos + 1 + len)
                        .ok_or(Error::Truncated)?;
                    if !name.is_empty() {
                        name.push('.');
                    }
                    name.push_str(&String::from_utf8_lossy(label).to_ascii_lowercase());
                    if name.len() > 255 {
                        return Err(Error::NameTooLong);
                    }
                    pos += 1 + len;
                }
                _ => return Err(Error::BadLabel),
            }
        }
    }

    fn record(&mut self) -> Result<Record, Error> {
        let name = self.name()?;
        let rtype = self.u16()?;
        let class = self.u16()?;
        let ttl = self.u32()?;
        let rdlen = usize::from(self.u16()?);
        let start = self.at;
        let data = match rtype {
            TYPE_A => {
                let b = self.bytes(rdlen)?;
                let a: [u8; 4] = b.try_into().map_err(|_| Error::BadRdata)?;
                RecordData::A(Ipv4Addr::from(a))
            }
            TYPE_CNAME => {
                let target = self.name()?;
                if self.at != start + rdlen {
                    return Err(Error::BadRdata);
                }
                RecordData::Cname(target)
            }
            other => {
                self.bytes(rdlen)?;
                RecordData::Other(other)
            }
        };
        // Ignore the sign bit of the TTL (RFC 2181 §8).
        Ok(Record {
            name,
            class,
            ttl: ttl & 0x7fff_ffff,
            data,
        })
    }
}

/// Decodes a message.
///
/// # Errors
/// Any [`Error`] describing the first malformation met.
pub fn decode(buf: &[u8]) -> Result<Message, Error> {
    let mut r = Reader { buf, at: 0 };
    let id = r.u16()?;
    let flags = r.u16()?;
    let qd = usize::from(r.u16()?);
    let an = usize::from(r.u16()?);
    let _ns = r.u16()?;
    let _ar = r.u16()?;
    let mut questions = Vec::new();
    for _ in 0..qd.min(MAX_RECORDS) {
        let name = r.name()?;
        questions.push(Question {
            name,
            qtype: r.u16()?,
            qclass: r.u16()?,
        });
    }
    let mut answers = Vec::new();
    for _ in 0..an.min(MAX_RECORDS) {
        answers.push(r.record()?);
    }
    Ok(Message {
        id,
        is_response: flags & 0x8000 != 0,
        truncated: flags & 0x0200 != 0,
        rcode: (flags & 0x000f) as u8,
        questions,
        answers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response to `q` with the given answers, names compressed as a
    /// pointer to the question's name (offset 12).
    fn response(q: &[u8], answers: &[(u16, u32, Vec<u8>)]) -> Vec<u8> {
        let mut m = q.to_vec();
        m[2] = 0x81; // QR, RD
        m[3] = 0x80; // RA
        m[7] = answers.len() as u8;
        for (t, ttl, data) in answers {
            m.extend_from_slice(&[0xc0, 12]);
            m.extend_from_slice(&t.to_be_bytes());
            m.extend_from_slice(&CLASS_IN.to_be_bytes());
            m.extend_from_slice(&ttl.to_be_bytes());
            m.extend_from_slice(&(data.len() as u16).to_be_bytes());
            m.extend_from_slice(data);
        }
        m
    }

    #[test]
    fn query_encoding_is_byte_exact() {
        let q = encode_query(0xbeef, "Name.Test.", TYPE_A).unwrap();
        assert_eq!(
            q,
            [
                0xbe, 0xef, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 4, b'N', b'a', b'm', b'e', 4, b'T', b'e',
                b's', b't', 0, 0, 1, 0, 1
            ]
        );
        let m = decode(&q).unwrap();
        assert_eq!(
            m.questions,
            vec![Question {
                name: "name.test".into(),
                qtype: TYPE_A,
                qclass: CLASS_IN
            }]
        );
        assert!(!m.is_response);
    }

    #[test]
    fn bad_names_are_refused() {
        assert_eq!(encode_query(1, "", TYPE_A), Err(Error::BadName));
        assert_eq!(encode_query(1, "a..b", TYPE_A), Err(Error::BadLabel));
        assert_eq!(
            encode_query(1, &"x".repeat(64), TYPE_A),
            Err(Error::BadLabel)
        );
        assert_eq!(
            encode_query(1, &vec!["a".repeat(60); 5].join("."), TYPE_A),
            Err(Error::NameTooLong)
        );
        assert_eq!(encode_query(1, "sp ace", TYPE_A), Err(Error::BadName));
    }

    #[test]
    fn answers_with_compression_and_a_cname_chain() {
        let q = encode_query(7, "www.test", TYPE_A).unwrap();
        // www.test CNAME host.test (target spelled out), host.test A 10.0.0.1.
        let mut m = response(&q, &[]);
        m[7] = 2;
        m.extend_from_slice(&[0xc0, 12]);
        m.extend_from_slice(&TYPE_CNAME.to_be_bytes());
        m.extend_from_slice(&CLASS_IN.to_be_bytes());
        m.extend_from_slice(&300u32.to_be_bytes());
        let target_at = m.len() + 2;
        m.extend_from_slice(&7u16.to_be_bytes());
        m.extend_from_slice(&[4, b'h', b'o', b's', b't', 0xc0, 16]); // host + ".test" by pointer
        m.extend_from_slice(&[0xc0, target_at as u8]);
        m.extend_from_slice(&TYPE_A.to_be_bytes());
        m.extend_from_slice(&CLASS_IN.to_be_bytes());
        m.extend_from_slice(&60u32.to_be_bytes());
        m.extend_from_slice(&4u16.to_be_bytes());
        m.extend_from_slice(&[10, 0, 0, 1]);
        let msg = decode(&m).unwrap();
        assert!(msg.is_response);
        assert_eq!(msg.answers[0].data, RecordData::Cname("host.test".into()));
        assert_eq!(
            msg.addresses("www.test"),
            Some((vec![Ipv4Addr::new(10, 0, 0, 1)], 60))
        );
        assert_eq!(msg.addresses("other.test"), None);
    }

    #[test]
    fn malformed_messages_each_have_their_error() {
        let q = encode_query(7, "a.test", TYPE_A).unwrap();
        assert_eq!(decode(&q[..5]), Err(Error::Truncated));
        let ok = response(&q, &[(TYPE_A, 60, vec![1, 2, 3, 4])]);
        assert_eq!(decode(&ok[..ok.len() - 1]), Err(Error::Truncated));
        let bad_a = response(&q, &[(TYPE_A, 60, vec![1, 2, 3])]);
        assert_eq!(decode(&bad_a), Err(Error::BadRdata));
        // A pointer to itself, and a forward pointer.
        let mut self_ptr = q.clone();
        self_ptr.truncate(12);
        self_ptr.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(decode(&self_ptr), Err(Error::BadPointer));
        let mut fwd = q[..12].to_vec();
        fwd.extend_from_slice(&[0xc0, 40, 0, 1, 0, 1]);
        assert_eq!(decode(&fwd), Err(Error::BadPointer));
        let mut reserved = q[..12].to_vec();
        reserved.extend_from_slice(&[0x80, 0, 0, 1, 0, 1]);
        assert_eq!(decode(&reserved), Err(Error::BadLabel));
    }

    #[test]
    fn decoding_never_panics_on_any_prefix_or_byte_flip() {
        let q = encode_query(9, "www.example.test", TYPE_A).unwrap();
        let m = response(
            &q,
            &[
                (TYPE_A, 1, vec![9, 9, 9, 9]),
                (TYPE_CNAME, 1, vec![0xc0, 12]),
            ],
        );
        for n in 0..=m.len() {
            let _ = decode(&m[..n]);
        }
        for i in 0..m.len() {
            for bit in 0..8 {
                let mut x = m.clone();
                x[i] ^= 1 << bit;
                let _ = decode(&x);
            }
        }
    }
}
