//! URL paths to file paths, for both directions of the CLI: `serve` maps a
//! request target to a file under its root, `get -P` maps an object's URL
//! to where it is saved. Both decode the path the same way
//! ([`percent_decode`], RFC 3986 §2.1) and confine it the same way
//! ([`confined`]): the path comes from the network, so it must never name
//! a file outside the directory.

use std::path::{Path, PathBuf};

/// `%20` → space. `None` for a malformed escape (`%zz`, `%2`), a NUL
/// byte, or bytes that are not UTF-8: such a path names no file we serve
/// or save.
pub(super) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                return None; // from_str_radix would take "+1"
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    if out.contains(&0) {
        return None;
    }
    String::from_utf8(out).ok()
}

/// `dir` joined with the `/`-separated (already decoded) `relative` path,
/// or `None` if any segment could climb out of it (`..`) or is not a plain
/// name (a backslash or NUL in it). Empty and `.` segments are skipped, so
/// `/` alone is `dir` itself.
pub(super) fn confined(dir: &Path, relative: &str) -> Option<PathBuf> {
    let mut p = dir.to_path_buf();
    for seg in relative.split('/') {
        match seg {
            "" | "." => continue,
            ".." => return None,
            s if s.contains('\\') || s.contains('\0') => return None,
            s => p.push(s),
        }
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_is_strict() {
        assert_eq!(percent_decode("/a%20b.css").as_deref(), Some("/a b.css"));
        assert_eq!(percent_decode("/%2e%2E/x").as_deref(), Some("/../x"));
        assert_eq!(percent_decode("/%C3%A9").as_deref(), Some("/é"));
        assert_eq!(percent_decode("/plain").as_deref(), Some("/plain"));
        for bad in ["/%zz", "/%2", "/%", "/a%00b", "/%ff", "/%+1"] {
            assert_eq!(percent_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn confined_paths_stay_inside_the_directory() {
        let d = Path::new("/tmp/d");
        assert_eq!(
            confined(d, "/a/b.css"),
            Some(PathBuf::from("/tmp/d/a/b.css"))
        );
        assert_eq!(confined(d, "a//./b"), Some(PathBuf::from("/tmp/d/a/b")));
        assert_eq!(confined(d, "/"), Some(PathBuf::from("/tmp/d")));
        for bad in ["/a/../../etc/passwd", "/..", "/a\\..\\b", "/a\0b"] {
            assert_eq!(confined(d, bad), None, "{bad:?}");
        }
    }

    #[test]
    fn decoded_dot_dot_is_caught_after_decoding() {
        let d = Path::new("/srv");
        let decoded = percent_decode("/%2e%2e/%2e%2e/etc/passwd").unwrap();
        assert_eq!(confined(d, &decoded), None);
    }
}
