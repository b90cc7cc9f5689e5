//! Content codings (RFC 9110 §8.4.1): `gzip` and `deflate` bodies decoded
//! with flate2, layered over the framed [`Body`](super::Body).
//!
//! Only the codings we advertise in `Accept-Encoding` are decoded; `deflate`
//! is the zlib format (RFC 1950) per RFC 9110 §8.4.1.2.

use super::{Error, Head};
use flate2::read::{MultiGzDecoder, ZlibDecoder};
use std::io::Read;

/// What `Accept-Encoding` says when decoding is on.
pub const ACCEPT_ENCODING: &str = "gzip, deflate";

/// The reader that yields the decoded body of a response with `head`:
/// `body` itself when there is no content coding (or `identity`), a gzip
/// or zlib decoder otherwise. Corrupt compressed data surfaces as an
/// `InvalidData`/`InvalidInput` error from `read`.
///
/// # Errors
/// [`Error::UnsupportedContentEncoding`] for any other coding or a chain
/// of several codings.
pub fn decoded<'a, R: Read + 'a>(head: &Head, body: R) -> Result<Box<dyn Read + 'a>, Error> {
    let codings: Vec<String> = head
        .headers_named("content-encoding")
        .flat_map(|v| {
            String::from_utf8_lossy(v)
                .split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .filter(|c| !c.is_empty() && c != "identity")
        .collect();
    match codings.as_slice() {
        [] => Ok(Box::new(body)),
        [c] if c == "gzip" || c == "x-gzip" => Ok(Box::new(MultiGzDecoder::new(body))),
        [c] if c == "deflate" => Ok(Box::new(ZlibDecoder::new(body))),
        _ => Err(Error::UnsupportedContentEncoding(codings.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::{GzEncoder, ZlibEncoder};
    use flate2::Compression;
    use std::io::Write;

    fn head(encoding: Option<&str>) -> Head {
        Head {
            version_minor: 1,
            status: 200,
            reason: "OK".into(),
            headers: encoding
                .map(|e| vec![("Content-Encoding".to_string(), e.as_bytes().to_vec())])
                .unwrap_or_default(),
        }
    }

    fn read_all(mut r: Box<dyn Read + '_>) -> std::io::Result<Vec<u8>> {
        let mut v = Vec::new();
        r.read_to_end(&mut v)?;
        Ok(v)
    }

    #[test]
    fn gzip_and_deflate_bodies_are_decoded() {
        let text = b"hello hello hello hello, compressed world\n".repeat(100);
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&text).unwrap();
        let gz = gz.finish().unwrap();
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&text).unwrap();
        let z = z.finish().unwrap();
        assert!(gz.len() < text.len() / 4);
        let out = read_all(decoded(&head(Some("gzip")), &gz[..]).unwrap()).unwrap();
        assert_eq!(out, text);
        let out = read_all(decoded(&head(Some("Deflate")), &z[..]).unwrap()).unwrap();
        assert_eq!(out, text);
        let out = read_all(decoded(&head(None), &text[..]).unwrap()).unwrap();
        assert_eq!(out, text);
        let out = read_all(decoded(&head(Some("identity")), &text[..]).unwrap()).unwrap();
        assert_eq!(out, text);
    }

    #[test]
    fn unknown_or_stacked_codings_are_refused_and_corruption_is_an_error() {
        for e in ["br", "gzip, gzip", "compress"] {
            assert!(
                matches!(
                    decoded(&head(Some(e)), &b""[..]),
                    Err(Error::UnsupportedContentEncoding(_))
                ),
                "{e}"
            );
        }
        let garbage = b"\x1f\x8b\x08\x00not really gzip at all".to_vec();
        assert!(read_all(decoded(&head(Some("gzip")), &garbage[..]).unwrap()).is_err());
    }
}
