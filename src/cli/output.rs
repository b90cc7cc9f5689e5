//! Where `get` writes: stdout, or an `-o`/`-O` file that is created only
//! when the response starts (a failed connect leaves no empty file, as
//! with curl), with `--create-dirs` and `-C -` (append to what is there).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

/// An output file opened on the first `write` call. `fetch` writes an
/// empty slice when the response head has arrived (`write`, not
/// `write_all`, which skips empty slices), so an empty body still
/// creates the file.
pub(super) struct LazyFile {
    pub path: PathBuf,
    pub create_dirs: bool,
    /// `-C -`: append to the partial file instead of truncating it.
    pub append: bool,
    file: Option<BufWriter<File>>,
}

impl LazyFile {
    pub fn new(path: PathBuf, create_dirs: bool, append: bool) -> LazyFile {
        LazyFile {
            path,
            create_dirs,
            append,
            file: None,
        }
    }

    fn open(&mut self) -> io::Result<&mut BufWriter<File>> {
        if self.file.is_none() {
            let wrap = |e: io::Error| {
                io::Error::new(
                    e.kind(),
                    format!("cannot create {}: {e}", self.path.display()),
                )
            };
            if self.create_dirs {
                if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(wrap)?;
                }
            }
            let mut o = OpenOptions::new();
            o.create(true);
            if self.append {
                o.append(true);
            } else {
                o.write(true).truncate(true);
            }
            let f = o.open(&self.path).map_err(wrap)?;
            self.file = Some(BufWriter::new(f));
        }
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("output not open"))
    }
}

impl Write for LazyFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.open()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_appears_on_the_first_write_and_dirs_on_request() {
        let base = std::env::temp_dir().join(format!("tunstack-lazy-{}", std::process::id()));
        let path = base.join("a/b/out.bin");
        let mut f = LazyFile::new(path.clone(), false, false);
        f.flush().unwrap();
        assert!(!path.exists(), "flush alone creates nothing");
        assert!(
            f.write(b"").is_err(),
            "no --create-dirs: the parent is missing"
        );
        let mut f = LazyFile::new(path.clone(), true, false);
        assert_eq!(f.write(b"").unwrap(), 0);
        f.flush().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"");
        f.write_all(b"abc").unwrap();
        f.flush().unwrap();
        drop(f);
        let mut f = LazyFile::new(path.clone(), false, true);
        f.write_all(b"def").unwrap();
        drop(f);
        assert_eq!(std::fs::read(&path).unwrap(), b"abcdef", "-C - appends");
        let _ = std::fs::remove_dir_all(&base);
    }
}
