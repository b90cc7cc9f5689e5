//! DNS message encode/decode (RFC 1035 §4.1) with compression (§4.1.4),
//! AAAA records (RFC 3596), the EDNS(0) OPT pseudo-record in queries (RFC
//! 6891 §6) and the two-byte length prefix of DNS over TCP (RFC 1035
//! §4.2.2, RFC 7766 §8).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Record type A (IPv4 address).
pub const TYPE_A: u16 = 1;
/// Record type CNAME (canonical name).
pub const TYPE_CNAME: u16 = 5;
/// Record type AAAA (IPv6 address, RFC 3596 §2.1).
pub const TYPE_AAAA: u16 = 28;
/// The EDNS(0) OPT pseudo-record type (RFC 6891 §6.1.1).
pub const TYPE_OPT: u16 = 41;
/// The UDP payload size advertised in EDNS(0): 1232 bytes, which fits an
/// IPv6 minimum-MTU packet unfragmented (the DNS Flag Day 2020 value).
pub const EDNS_UDP_PAYLOAD: u16 = 1232;
/// Class IN.
pub const CLASS_IN: u16 = 1;

/// Most records of each section decoded (the rest are ignored): a 64 KiB
/// answer over TCP holds at most about 4000 compressed A records; 1024
/// keeps a name with hundreds of addresses whole.
pub const MAX_RECORDS: usize = 1024;
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
    /// Record data does not match its type (an A record not 4 bytes, an
    /// AAAA record not 16).
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
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
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
        self.chase(name, |d| match d {
            RecordData::A(a) => Some(*a),
            _ => None,
        })
    }

    /// The addresses of record type `qtype` (A or AAAA) for `name`,
    /// following CNAMEs as [`addresses`](Self::addresses) does.
    pub fn ips(&self, name: &str, qtype: u16) -> Option<(Vec<IpAddr>, u32)> {
        self.chase(name, |d| match (d, qtype) {
            (RecordData::A(a), TYPE_A) => Some(IpAddr::V4(*a)),
            (RecordData::Aaaa(a), TYPE_AAAA) => Some(IpAddr::V6(*a)),
            _ => None,
        })
    }

    fn chase<T>(
        &self,
        name: &str,
        pick: impl Fn(&RecordData) -> Option<T>,
    ) -> Option<(Vec<T>, u32)> {
        let mut target = name.trim_end_matches('.').to_ascii_lowercase();
        let mut ttl = u32::MAX;
        for _ in 0..8 {
            let mut found = Vec::new();
            let mut min = ttl;
            for r in self.answers.iter().filter(|r| r.name == target) {
                if let Some(v) = pick(&r.data) {
                    found.push(v);
                    min = min.min(r.ttl);
                }
            }
            if !found.is_empty() {
                return Some((found, min));
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
    encode(id, name, qtype, None)
}

/// [`encode_query`] with an EDNS(0) OPT record in the additional section
/// (RFC 6891 §6.1.2: root owner, class = the UDP payload size we accept,
/// TTL 0 = extended rcode 0, version 0, DO clear; no options), so a server
/// may answer up to `udp_payload` bytes over UDP instead of 512.
///
/// # Errors
/// As [`encode_query`].
pub fn encode_query_edns(
    id: u16,
    name: &str,
    qtype: u16,
    udp_payload: u16,
) -> Result<Vec<u8>, Error> {
    encode(id, name, qtype, Some(udp_payload))
}

fn encode(id: u16, name: &str, qtype: u16, edns: Option<u16>) -> Result<Vec<u8>, Error> {
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
    if let Some(size) = edns {
        out[11] = 1; // ARCOUNT
        out.push(0); // root
        out.extend_from_slice(&TYPE_OPT.to_be_bytes());
        out.extend_from_slice(&size.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // TTL, RDLENGTH
    }
    Ok(out)
}

/// Largest message over TCP: the length prefix is 16 bits.
const MAX_TCP_MESSAGE: usize = 65535;

/// One query and its answer over a TCP-like stream (RFC 1035 §4.2.2,
/// RFC 7766 §8): each message is preceded by its length as two bytes,
/// and the prefix goes out in the same write as the query so it leaves in
/// one segment. Reads exactly the length the server announces.
///
/// # Errors
/// The stream's errors; `InvalidInput` for a query over 65535 bytes;
/// `UnexpectedEof` when the stream ends inside the answer.
pub fn tcp_exchange<S: Read + Write + ?Sized>(stream: &mut S, query: &[u8]) -> io::Result<Vec<u8>> {
    let len = u16::try_from(query.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "dns query over 65535 bytes"))?;
    let mut framed = Vec::with_capacity(2 + query.len());
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(query);
    stream.write_all(&framed)?;
    stream.flush()?;
    let mut prefix = [0u8; 2];
    stream.read_exact(&mut prefix)?;
    let n = usize::from(u16::from_be_bytes(prefix)).min(MAX_TCP_MESSAGE);
    let mut answer = vec![0u8; n];
    stream.read_exact(&mut answer)?;
    Ok(answer)
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
            TYPE_AAAA => {
                let b = self.bytes(rdlen)?;
                let a: [u8; 16] = b.try_into().map_err(|_| Error::BadRdata)?;
                RecordData::Aaaa(Ipv6Addr::from(a))
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
    use crate::dns::test_answers::push_record;

    /// A response to `q` with the given answers, names compressed as a
    /// pointer to the question's name (offset 12).
    fn response(q: &[u8], answers: &[(u16, u32, Vec<u8>)]) -> Vec<u8> {
        let mut m = q.to_vec();
        m[2] = 0x81; // QR, RD
        m[3] = 0x80; // RA
        m[7] = answers.len() as u8;
        for (t, ttl, data) in answers {
            push_record(&mut m, *t, *ttl, data);
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
    fn aaaa_records_decode_and_ips_picks_the_family_asked_for() {
        let q = encode_query(3, "dual.test", TYPE_AAAA).unwrap();
        let v6: Ipv6Addr = "fd00::1".parse().unwrap();
        let m = response(
            &q,
            &[
                (TYPE_AAAA, 90, v6.octets().to_vec()),
                (TYPE_A, 30, vec![10, 0, 0, 1]),
            ],
        );
        let msg = decode(&m).unwrap();
        assert_eq!(msg.answers[0].data, RecordData::Aaaa(v6));
        assert_eq!(
            msg.ips("dual.test", TYPE_AAAA),
            Some((vec![IpAddr::V6(v6)], 90))
        );
        assert_eq!(
            msg.ips("dual.test", TYPE_A),
            Some((vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))], 30))
        );
        assert_eq!(msg.addresses("dual.test").unwrap().0.len(), 1);
        let bad = response(&q, &[(TYPE_AAAA, 90, vec![0; 4])]);
        assert_eq!(decode(&bad), Err(Error::BadRdata));
    }

    #[test]
    fn edns_query_carries_an_opt_record_for_1232_bytes() {
        // RFC 6891 §6.1.2: root name, TYPE 41, CLASS = payload size,
        // TTL 0 (version 0, DO clear), RDLEN 0; ARCOUNT 1.
        let q = encode_query_edns(0x0102, "a.test", TYPE_AAAA, EDNS_UDP_PAYLOAD).unwrap();
        let plain = encode_query(0x0102, "a.test", TYPE_AAAA).unwrap();
        assert_eq!(q[..10], plain[..10]);
        assert_eq!(q[10..12], [0, 1]);
        assert_eq!(q[12..plain.len()], plain[12..]);
        assert_eq!(q[plain.len()..], [0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
        let m = decode(&q).unwrap();
        assert_eq!(m.questions[0].qtype, TYPE_AAAA);
    }

    #[test]
    fn hundreds_of_records_are_kept_and_tc_is_reported() {
        let q = encode_query(5, "big.test", TYPE_A).unwrap();
        let answers: Vec<(u16, u32, Vec<u8>)> = (0..200u8)
            .map(|i| (TYPE_A, 60, vec![10, 1, 0, i]))
            .collect();
        let mut m = response(&q, &[]);
        m[6..8].copy_from_slice(&200u16.to_be_bytes());
        for (t, ttl, data) in &answers {
            m.extend_from_slice(&[0xc0, 12]);
            m.extend_from_slice(&t.to_be_bytes());
            m.extend_from_slice(&CLASS_IN.to_be_bytes());
            m.extend_from_slice(&ttl.to_be_bytes());
            m.extend_from_slice(&4u16.to_be_bytes());
            m.extend_from_slice(data);
        }
        m[2] |= 0x02; // TC
        let msg = decode(&m).unwrap();
        assert!(msg.truncated);
        assert_eq!(msg.addresses("big.test").unwrap().0.len(), 200);
    }

    /// A stream that hands out its bytes one at a time and records writes.
    struct Trickle {
        input: Vec<u8>,
        at: usize,
        written: Vec<u8>,
        writes: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.input.get(self.at), buf.first_mut()) {
                (Some(b), Some(slot)) => {
                    *slot = *b;
                    self.at += 1;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.writes += 1;
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn tcp_exchange_frames_with_a_length_prefix_in_one_write() {
        let q = encode_query(9, "t.test", TYPE_A).unwrap();
        let answer = response(&q, &[(TYPE_A, 5, vec![1, 2, 3, 4])]);
        let mut input = (answer.len() as u16).to_be_bytes().to_vec();
        input.extend_from_slice(&answer);
        input.extend_from_slice(b"next message");
        let mut s = Trickle {
            input,
            at: 0,
            written: Vec::new(),
            writes: 0,
        };
        assert_eq!(tcp_exchange(&mut s, &q).unwrap(), answer);
        assert_eq!(s.writes, 1, "prefix and query in one write");
        assert_eq!(s.written[..2], (q.len() as u16).to_be_bytes());
        assert_eq!(s.written[2..], q[..]);
        // Cut anywhere inside the prefix or the answer: an early EOF.
        for cut in 0..answer.len() + 2 {
            let mut input = (answer.len() as u16).to_be_bytes().to_vec();
            input.extend_from_slice(&answer);
            input.truncate(cut);
            let mut s = Trickle {
                input,
                at: 0,
                written: Vec::new(),
                writes: 0,
            };
            let e = tcp_exchange(&mut s, &q).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}");
        }
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
