//! TLS inside a capture, decrypted with a key log, for the ladder: which
//! handshake messages, HTTP lines and alerts each segment's TLS records
//! carry, as Wireshark shows them once it has `tls.keylog_file`.
//!
//! The key log is the NSS format that `SSLKEYLOGFILE` makes rustls, curl
//! and browsers write (`LABEL CLIENT_RANDOM_HEX SECRET_HEX`). Each side's
//! TCP byte stream is put back together from the captured segments (by
//! sequence number, first copy wins, up to the first gap), cut into TLS
//! records (RFC 8446 §5.1), and every protected record is opened:
//!
//! - TLS 1.3 (RFC 8446 §7.1, §7.3, §5.2–5.3): the handshake and
//!   application traffic secrets give key and IV by HKDF-Expand-Label; the
//!   nonce is the IV XOR the record's sequence number, the additional
//!   data the record header; the inner content type ends the plaintext.
//! - TLS 1.2 (RFC 5246 §5, §6.3; RFC 5288 AES-GCM; RFC 7905 ChaCha20):
//!   the master secret and both randoms give the key block by the PRF;
//!   records after Change Cipher Spec are AEAD-protected.
//!
//! The suites are the AEAD ones rustls offers: AES-128-GCM, AES-256-GCM
//! and ChaCha20-Poly1305. A record that does not open (no key, another
//! suite, a key update) keeps its encrypted name. Everything read from the
//! capture and the key log is bounded: the stream per direction, the
//! number of secrets, their lengths.
//!
//! Part of the CLI layer (`tunstack ladder FILE --keylog KEYS`).

use super::ladder::{http_line, Ladder};
use ring::{aead, hkdf, hmac};
use std::collections::HashMap;

/// At most this many bytes of each direction's stream are decoded.
const MAX_STREAM: u64 = 64 << 20;
/// At most this many secrets are kept from a key log.
const MAX_SECRETS: usize = 4096;
/// A TLS record's payload is at most 2^14 + 256 bytes once protected
/// (RFC 8446 §5.2); 2^14 + 2048 in TLS 1.2 (RFC 5246 §6.2.3).
const MAX_RECORD: usize = (1 << 14) + 2048;

/// The secrets of an NSS key log, by label and client random.
#[derive(Debug, Default)]
pub struct KeyLog {
    secrets: HashMap<(String, [u8; 32]), Vec<u8>>,
}

impl KeyLog {
    /// Reads the lines `LABEL CLIENT_RANDOM SECRET` (hex); comments and
    /// lines of another shape are skipped.
    pub fn parse(text: &str) -> KeyLog {
        let mut secrets = HashMap::new();
        for line in text.lines() {
            if secrets.len() >= MAX_SECRETS {
                break;
            }
            let mut words = line.split_ascii_whitespace();
            let (Some(label), Some(random), Some(secret), None) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                continue;
            };
            let (Some(random), Some(secret)) = (unhex(random), unhex(secret)) else {
                continue;
            };
            let Ok(random) = <[u8; 32]>::try_from(random) else {
                continue;
            };
            if (32..=48).contains(&secret.len()) {
                secrets.insert((label.to_string(), random), secret);
            }
        }
        KeyLog { secrets }
    }

    /// How many secrets were read.
    pub fn count(&self) -> usize {
        self.secrets.len()
    }

    fn get(&self, label: &str, random: &[u8; 32]) -> Option<&[u8]> {
        self.secrets
            .get(&(label.to_string(), *random))
            .map(Vec::as_slice)
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || s.len() > 256 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// One side's bytes in stream order, and which step each segment was.
struct Stream {
    bytes: Vec<u8>,
    /// (stream offset, length, step index), sorted by offset.
    segments: Vec<(u64, usize, usize)>,
}

impl Stream {
    /// The payload bytes `from_client` sent, from its SYN's ISN + 1 up to
    /// the first byte never captured (or [`MAX_STREAM`]).
    fn assemble(ladder: &Ladder, from_client: bool) -> Option<Stream> {
        let isn = ladder
            .steps
            .iter()
            .find(|s| s.from_client == from_client && s.header.flags.syn())?
            .header
            .seq
            .0;
        let mut segments: Vec<(u64, usize, usize)> = ladder
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.from_client == from_client && !s.payload.is_empty())
            .map(|(i, s)| {
                let off = u64::from(s.header.seq.0.wrapping_sub(isn).wrapping_sub(1));
                (off, s.payload.len(), i)
            })
            .filter(|(off, _, _)| *off < MAX_STREAM)
            .collect();
        segments.sort_unstable();
        let mut bytes = Vec::new();
        for &(off, _, i) in &segments {
            let end = bytes.len() as u64;
            if off > end {
                break; // a gap: nothing after it can be cut into records
            }
            let skip = usize::try_from(end - off).unwrap_or(usize::MAX);
            let payload = &ladder.steps.get(i)?.payload;
            if let Some(new) = payload.get(skip..) {
                let room = usize::try_from(MAX_STREAM - end).unwrap_or(usize::MAX);
                bytes.extend_from_slice(new.get(..new.len().min(room)).unwrap_or(new));
            }
        }
        Some(Stream { bytes, segments })
    }

    /// The first step (in capture order) whose payload holds `offset`.
    fn step_at(&self, offset: u64) -> Option<usize> {
        let after = self.segments.partition_point(|s| s.0 <= offset);
        self.segments
            .get(..after)?
            .iter()
            .rev()
            .take_while(|s| s.0 + 65_536 > offset)
            .filter(|s| offset < s.0 + s.1 as u64)
            .map(|s| s.2)
            .min()
    }

    /// The TLS records, each with its offset: (offset, type, version,
    /// payload). Stops at a header that is not TLS or a cut record.
    fn records(&self) -> Vec<(u64, u8, u16, &[u8])> {
        let mut out = Vec::new();
        let mut rest = self.bytes.as_slice();
        let mut off = 0u64;
        while let [ct, major, minor, hi, lo, body @ ..] = rest {
            let len = usize::from(u16::from_be_bytes([*hi, *lo]));
            if !(20..=23).contains(ct) || *major != 3 || len > MAX_RECORD {
                break;
            }
            let Some(payload) = body.get(..len) else {
                break;
            };
            out.push((off, *ct, u16::from_be_bytes([*major, *minor]), payload));
            off += 5 + len as u64;
            rest = body.get(len..).unwrap_or_default();
        }
        out
    }
}

/// The cipher suites rustls offers, with their AEAD and hash.
#[derive(Clone, Copy, Debug)]
struct Suite {
    aead: &'static aead::Algorithm,
    sha384: bool,
    tls13: bool,
    /// TLS 1.2 AES-GCM: a 4-byte implicit salt and an 8-byte explicit
    /// nonce in each record; ChaCha20 and TLS 1.3 use a 12-byte IV.
    explicit_nonce: bool,
}

fn suite(id: u16) -> Option<Suite> {
    let (aead, sha384, tls13, explicit_nonce) = match id {
        0x1301 => (&aead::AES_128_GCM, false, true, false),
        0x1302 => (&aead::AES_256_GCM, true, true, false),
        0x1303 => (&aead::CHACHA20_POLY1305, false, true, false),
        0xc02b | 0xc02f => (&aead::AES_128_GCM, false, false, true),
        0xc02c | 0xc030 => (&aead::AES_256_GCM, true, false, true),
        0xcca8 | 0xcca9 => (&aead::CHACHA20_POLY1305, false, false, false),
        _ => return None,
    };
    Some(Suite {
        aead,
        sha384,
        tls13,
        explicit_nonce,
    })
}

/// RFC 8446 §7.1 HKDF-Expand-Label(secret, label, "", len).
fn expand_label(sha384: bool, secret: &[u8], label: &[u8], len: usize) -> Option<Vec<u8>> {
    struct Len(usize);
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }
    let alg = if sha384 {
        hkdf::HKDF_SHA384
    } else {
        hkdf::HKDF_SHA256
    };
    let out_len = u16::try_from(len).ok()?.to_be_bytes();
    let label_len = [u8::try_from(6 + label.len()).ok()?];
    let info: [&[u8]; 5] = [&out_len, &label_len, b"tls13 ", label, &[0]];
    let prk = hkdf::Prk::new_less_safe(alg, secret);
    let okm = prk.expand(&info, Len(len)).ok()?;
    let mut out = vec![0; len];
    okm.fill(&mut out).ok()?;
    Some(out)
}

/// RFC 5246 §5 PRF: P_hash(secret, label + seed), `len` bytes.
fn prf(sha384: bool, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let alg = if sha384 {
        hmac::HMAC_SHA384
    } else {
        hmac::HMAC_SHA256
    };
    let key = hmac::Key::new(alg, secret);
    let mut full_seed = label.to_vec();
    full_seed.extend_from_slice(seed);
    let mut a = hmac::sign(&key, &full_seed).as_ref().to_vec();
    let mut out = Vec::with_capacity(len + 48);
    while out.len() < len {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(&a);
        ctx.update(&full_seed);
        out.extend_from_slice(ctx.sign().as_ref());
        a = hmac::sign(&key, &a).as_ref().to_vec();
    }
    out.truncate(len);
    out
}

/// One direction's record protection: key, IV and record sequence.
struct Opener {
    key: aead::LessSafeKey,
    iv: Vec<u8>,
    seq: u64,
    suite: Suite,
}

impl Opener {
    fn tls13(suite: Suite, secret: &[u8]) -> Option<Opener> {
        let key = expand_label(suite.sha384, secret, b"key", suite.aead.key_len())?;
        let iv = expand_label(suite.sha384, secret, b"iv", aead::NONCE_LEN)?;
        Opener::new(suite, &key, iv)
    }

    fn new(suite: Suite, key: &[u8], iv: Vec<u8>) -> Option<Opener> {
        let key = aead::UnboundKey::new(suite.aead, key).ok()?;
        Some(Opener {
            key: aead::LessSafeKey::new(key),
            iv,
            seq: 0,
            suite,
        })
    }

    /// Opens one record; the plaintext and, for TLS 1.3, its inner type.
    fn open(&mut self, ct: u8, version: u16, payload: &[u8]) -> Option<(u8, Vec<u8>)> {
        let seq = self.seq.to_be_bytes();
        let (nonce, mut buf, aad) = if self.suite.tls13 {
            let nonce = xor_nonce(&self.iv, self.seq);
            let len = u16::try_from(payload.len()).ok()?.to_be_bytes();
            let header = [ct, 3, 3, len[0], len[1]];
            (nonce, payload.to_vec(), header.to_vec())
        } else {
            let (nonce, ciphertext) = if self.suite.explicit_nonce {
                let explicit = payload.get(..8)?;
                let mut nonce = [0u8; aead::NONCE_LEN];
                nonce.get_mut(..4)?.copy_from_slice(self.iv.get(..4)?);
                nonce.get_mut(4..)?.copy_from_slice(explicit);
                (nonce, payload.get(8..)?)
            } else {
                (xor_nonce(&self.iv, self.seq), payload)
            };
            let plain_len = ciphertext.len().checked_sub(aead::MAX_TAG_LEN)?;
            let len = u16::try_from(plain_len).ok()?.to_be_bytes();
            let [v0, v1] = version.to_be_bytes();
            let mut aad = seq.to_vec();
            aad.extend_from_slice(&[ct, v0, v1, len[0], len[1]]);
            (nonce, ciphertext.to_vec(), aad)
        };
        let plain = self
            .key
            .open_in_place(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(aad),
                &mut buf,
            )
            .ok()?;
        let plain = plain.to_vec();
        self.seq += 1;
        if !self.suite.tls13 {
            return Some((ct, plain));
        }
        // RFC 8446 §5.2: content, the real type, then zero padding.
        let end = plain.iter().rposition(|&b| b != 0)?;
        let inner = *plain.get(end)?;
        Some((inner, plain.get(..end)?.to_vec()))
    }
}

/// RFC 8446 §5.3 (and RFC 7905 §2 for TLS 1.2 ChaCha20): the IV XOR the
/// 64-bit record sequence number, right-aligned.
fn xor_nonce(iv: &[u8], seq: u64) -> [u8; aead::NONCE_LEN] {
    let mut nonce = [0u8; aead::NONCE_LEN];
    let seq = seq.to_be_bytes();
    for (i, n) in nonce.iter_mut().enumerate() {
        let s = i.checked_sub(4).and_then(|j| seq.get(j)).copied();
        *n = iv.get(i).copied().unwrap_or(0) ^ s.unwrap_or(0);
    }
    nonce
}

/// What the hellos say: the randoms and the suite.
#[derive(Debug, Default)]
struct Hellos {
    client_random: Option<[u8; 32]>,
    server_random: Option<[u8; 32]>,
    suite: Option<u16>,
}

/// Reads the Client Hello's random, or the Server Hello's random and
/// chosen suite (RFC 8446 §4.1.2–4.1.3), from a plaintext handshake
/// record.
fn read_hello(payload: &[u8], hellos: &mut Hellos) {
    let random = payload
        .get(6..38)
        .and_then(|r| <[u8; 32]>::try_from(r).ok());
    match payload.first() {
        Some(1) => hellos.client_random = random,
        Some(2) => {
            hellos.server_random = random;
            let sid_len = payload.get(38).map(|&l| usize::from(l));
            hellos.suite = sid_len.and_then(|l| {
                let s = payload.get(39 + l..41 + l)?;
                Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
            });
        }
        _ => {}
    }
}

/// Names the handshake messages that start in a handshake record;
/// `pending` carries the bytes of a message that continues into the next
/// record.
fn handshake_names(payload: &[u8], pending: &mut usize, names: &mut Vec<String>) {
    let skip = (*pending).min(payload.len());
    *pending -= skip;
    let mut rest = payload.get(skip..).unwrap_or_default();
    while let [ty, a, b, c, body @ ..] = rest {
        let len = usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c);
        names.push(
            match ty {
                1 => "Client Hello",
                2 => "Server Hello",
                4 => "New Session Ticket",
                8 => "Encrypted Extensions",
                11 => "Certificate",
                12 => "Server Key Exchange",
                13 => "Certificate Request",
                14 => "Server Hello Done",
                15 => "Certificate Verify",
                16 => "Client Key Exchange",
                20 => "Finished",
                24 => "Key Update",
                _ => "Handshake",
            }
            .to_string(),
        );
        if len > body.len() {
            *pending = len - body.len();
            return;
        }
        rest = body.get(len..).unwrap_or_default();
    }
}

/// Whether a decrypted handshake record ends that side's handshake.
fn has_finished(payload: &[u8]) -> bool {
    let mut rest = payload;
    while let [ty, a, b, c, body @ ..] = rest {
        if *ty == 20 {
            return true;
        }
        let len = usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c);
        rest = body.get(len..).unwrap_or_default();
    }
    false
}

/// One side's decoding state.
struct Side {
    from_client: bool,
    tls13: bool,
    /// TLS 1.3: the handshake secret's opener, then the application's.
    handshake: Option<Opener>,
    application: Option<Opener>,
    in_application: bool,
    /// TLS 1.2: the opener after Change Cipher Spec.
    after_ccs: bool,
    pending: usize,
}

/// Decrypts the ladder's TLS with `keys` and relabels every segment of a
/// side whose records could be read: the records that start in it, by
/// what they carry. Returns how many records were opened.
pub fn decrypt(ladder: &mut Ladder, keys: &KeyLog) -> usize {
    let (Some(client), Some(server)) = (
        Stream::assemble(ladder, true),
        Stream::assemble(ladder, false),
    ) else {
        return 0;
    };
    let mut hellos = Hellos::default();
    for stream in [&client, &server] {
        if let Some((_, 22, _, p)) = stream.records().first() {
            read_hello(p, &mut hellos);
        }
    }
    let (Some(cr), Some(sr), Some(suite)) = (
        hellos.client_random,
        hellos.server_random,
        hellos.suite.and_then(suite),
    ) else {
        return 0;
    };
    let mut sides = [true, false].map(|from_client| {
        let (hs, app) = if from_client {
            ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0")
        } else {
            ("SERVER_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0")
        };
        let (handshake, application) = if suite.tls13 {
            let open = |label| keys.get(label, &cr).and_then(|s| Opener::tls13(suite, s));
            (open(hs), open(app))
        } else {
            (None, tls12_opener(keys, suite, &cr, &sr, from_client))
        };
        Side {
            from_client,
            tls13: suite.tls13,
            handshake,
            application,
            in_application: false,
            after_ccs: false,
            pending: 0,
        }
    });
    if sides
        .iter()
        .all(|s| s.handshake.is_none() && s.application.is_none())
    {
        return 0;
    }
    let mut opened = 0;
    for (side, stream) in sides.iter_mut().zip([&client, &server]) {
        let mut labels: HashMap<usize, Vec<String>> = HashMap::new();
        for (off, ct, version, payload) in stream.records() {
            let (names, ok) = side.name_record(ct, version, payload);
            opened += usize::from(ok);
            if let Some(step) = stream.step_at(off) {
                let l = labels.entry(step).or_default();
                for n in names {
                    if l.last() != Some(&n) {
                        l.push(n);
                    }
                }
            }
        }
        for (i, step) in ladder.steps.iter_mut().enumerate() {
            if step.from_client != side.from_client || step.payload.is_empty() {
                continue;
            }
            step.info = labels.remove(&i).map(|n| format!("TLS: {}", n.join(", ")));
        }
    }
    opened
}

/// TLS 1.2: this side's opener from the master secret (RFC 5246 §6.3
/// key block: two MAC keys, empty for AEAD suites; two keys; two IVs).
fn tls12_opener(
    keys: &KeyLog,
    suite: Suite,
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    from_client: bool,
) -> Option<Opener> {
    let master = keys.get("CLIENT_RANDOM", client_random)?;
    let key_len = suite.aead.key_len();
    let iv_len = if suite.explicit_nonce { 4 } else { 12 };
    let mut seed = server_random.to_vec();
    seed.extend_from_slice(client_random);
    let block = prf(
        suite.sha384,
        master,
        b"key expansion",
        &seed,
        2 * (key_len + iv_len),
    );
    let (key, iv) = if from_client {
        (
            block.get(..key_len)?,
            block.get(2 * key_len..2 * key_len + iv_len)?,
        )
    } else {
        (
            block.get(key_len..2 * key_len)?,
            block.get(2 * key_len + iv_len..)?,
        )
    };
    Opener::new(suite, key, iv.to_vec())
}

impl Side {
    /// The names of one record, and whether it was decrypted.
    fn name_record(&mut self, ct: u8, version: u16, payload: &[u8]) -> (Vec<String>, bool) {
        let mut names = Vec::new();
        // TLS 1.3's Change Cipher Spec is only for middleboxes (RFC 8446
        // §D.4); its records say by their type whether they are protected.
        let tls12_protected = !self.tls13 && self.after_ccs && ct != 20;
        if ct == 20 {
            self.after_ccs = true;
            return (vec!["Change Cipher Spec".into()], false);
        }
        if ct == 22 && !tls12_protected {
            handshake_names(payload, &mut self.pending, &mut names);
            return (names, false);
        }
        if ct == 21 && !tls12_protected {
            return (vec![alert_name(payload)], false);
        }
        let opened = if tls12_protected {
            self.application
                .as_mut()
                .and_then(|o| o.open(ct, version, payload))
        } else if self.in_application {
            self.application
                .as_mut()
                .and_then(|o| o.open(ct, version, payload))
        } else {
            let hs = self
                .handshake
                .as_mut()
                .and_then(|o| o.open(ct, version, payload));
            if hs.is_none() {
                // No handshake key in the log, or the handshake is over.
                self.in_application = true;
                self.application
                    .as_mut()
                    .and_then(|o| o.open(ct, version, payload))
            } else {
                hs
            }
        };
        let Some((inner, plain)) = opened else {
            let name = if ct == 23 {
                "Application Data"
            } else {
                "Encrypted Handshake Message"
            };
            return (vec![name.into()], false);
        };
        match inner {
            22 => {
                handshake_names(&plain, &mut self.pending, &mut names);
                if has_finished(&plain) && !self.in_application {
                    self.in_application = true;
                }
            }
            21 => names.push(alert_name(&plain)),
            23 => names.push(http_line(&plain).unwrap_or_else(|| "Application Data".into())),
            _ => names.push("Record".into()),
        }
        (names, true)
    }
}

/// RFC 8446 §6: an alert by its description.
fn alert_name(payload: &[u8]) -> String {
    match payload.get(1) {
        Some(0) => "Alert (close_notify)".into(),
        Some(d) => format!("Alert ({d})"),
        None => "Alert".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_log_lines_are_read_and_junk_skipped() {
        let r = "ab".repeat(32);
        let s = "cd".repeat(32);
        let text = format!(
            "# comment\nCLIENT_TRAFFIC_SECRET_0 {r} {s}\nBAD {r}\nX zz {s}\nY {r} {s} extra\n\
             SHORT {r} abcd\n"
        );
        let k = KeyLog::parse(&text);
        assert_eq!(k.count(), 1);
        assert_eq!(
            k.get("CLIENT_TRAFFIC_SECRET_0", &[0xab; 32]),
            Some(&[0xcd; 32][..])
        );
    }

    /// RFC 8448 §3 (Simple 1-RTT Handshake): the server's handshake
    /// traffic secret gives this key and IV.
    #[test]
    fn hkdf_expand_label_matches_rfc_8448() {
        let secret =
            unhex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38").expect("hex");
        assert_eq!(
            expand_label(false, &secret, b"key", 16),
            unhex("3fce516009c21727d0f2e4e86ee403bc")
        );
        assert_eq!(
            expand_label(false, &secret, b"iv", 12),
            unhex("5d313eb2671276ee13000b30")
        );
    }

    /// A record sealed with the RFC 8448 §3 server handshake key opens with
    /// the key derived here and is named by its messages; a flipped bit
    /// does not open, and keeps the encrypted name.
    #[test]
    fn a_tls13_record_opens_and_names_its_messages() {
        let suite = suite(0x1301).expect("suite");
        let secret =
            unhex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38").expect("hex");
        let key = expand_label(false, &secret, b"key", 16).expect("key");
        let iv = expand_label(false, &secret, b"iv", 12).expect("iv");
        let mut plain = vec![8, 0, 0, 2, 0, 0, 20, 0, 0, 4, 1, 2, 3, 4, 22];
        let sealing =
            aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_128_GCM, &key).expect("key"));
        let len = (plain.len() + 16) as u16;
        let header = [23, 3, 3, (len >> 8) as u8, len as u8];
        let nonce = <[u8; 12]>::try_from(iv.as_slice()).expect("iv");
        sealing
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(header),
                &mut plain,
            )
            .expect("seal");
        let mut side = Side {
            from_client: false,
            tls13: true,
            handshake: Opener::tls13(suite, &secret),
            application: None,
            in_application: false,
            after_ccs: false,
            pending: 0,
        };
        let mut flipped = plain.clone();
        flipped[3] ^= 1;
        let (names, ok) = side.name_record(23, 0x0303, &flipped);
        assert!(!ok);
        assert_eq!(names, vec!["Application Data".to_string()]);
        side.in_application = false;
        let (names, ok) = side.name_record(23, 0x0303, &plain);
        assert!(ok, "the record opens");
        assert_eq!(names, vec!["Encrypted Extensions", "Finished"]);
        assert!(side.in_application, "Finished ends the handshake keys");
    }

    /// RFC 5246 §5 with SHA-256: a published test vector of P_SHA256.
    #[test]
    fn tls12_prf_matches_the_known_vector() {
        let secret = unhex("9bbe436ba940f017b17652849a71db35").expect("hex");
        let seed = unhex("a0ba9f936cda311827a6f796ffd5198c").expect("hex");
        let out = prf(false, &secret, b"test label", &seed, 32);
        assert_eq!(
            out,
            unhex("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a").expect("hex")
        );
    }
}
