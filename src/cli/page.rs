//! `tunstack get --page-requisites URL -P DIR`: step 6 of a page load —
//! parse the HTML (html5ever, through `scraper`), then fetch the stylesheets,
//! scripts, images and icons it links from the same origin, and the
//! `url(...)`/`@import` references inside those stylesheets, over the
//! client's kept-alive connections. Everything is saved under DIR,
//! mirroring the URL paths (never outside DIR).

use super::get::{confined, copy_body, finish, send, Fetched, Options, StackClient};
use super::{failure, Failure};
use crate::http::{Request, Url};
use std::collections::{HashSet, VecDeque};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Most objects fetched for one page (the page included).
const MAX_OBJECTS: usize = 1000;
/// Most bytes of HTML or CSS kept in memory for link extraction.
const MAX_PARSE_BYTES: usize = 8 * 1024 * 1024;

/// What loading the page did.
pub(super) struct PageSummary {
    status: u16,
    reason: String,
    objects: usize,
    bytes: u64,
    connections: u64,
    reused: u64,
    failed: Vec<String>,
    dir: PathBuf,
}

impl PageSummary {
    /// Prints the summary and turns it into the CLI's result.
    pub(super) fn report(self, elapsed: Duration) -> Fetched {
        eprintln!(
            "page: {} objects ({} requisites), {} bytes, {} connection{} ({} requests reused one), {:.3} s, saved under {}",
            self.objects,
            self.objects.saturating_sub(1),
            self.bytes,
            self.connections,
            if self.connections == 1 { "" } else { "s" },
            self.reused,
            elapsed.as_secs_f64(),
            self.dir.display()
        );
        let problem = (!self.failed.is_empty()).then(|| {
            format!(
                "{} page object(s) failed: {}",
                self.failed.len(),
                self.failed.join("; ")
            )
        });
        Fetched {
            status: self.status,
            reason: self.reason,
            bytes: self.bytes,
            info: None,
            series: Vec::new(),
            problem,
        }
    }
}

/// The references an HTML document makes to the objects needed to render
/// it, in document order, with `<base href>` if present.
pub(super) fn html_links(html: &str) -> (Option<String>, Vec<String>) {
    // html5ever tokenises as browsers do: script and style contents are raw
    // text, entities in attributes are decoded, bad markup is recovered.
    let doc = scraper::Html::parse_document(html);
    let mut base = None;
    let mut out = Vec::new();
    for el in doc
        .root_element()
        .descendants()
        .filter_map(scraper::ElementRef::wrap)
    {
        let e = el.value();
        let attr = |want: &str| {
            e.attr(want)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let name = e.name();
        match name {
            "base" if base.is_none() => base = attr("href"),
            "link" => {
                let rel = attr("rel").unwrap_or_default().to_ascii_lowercase();
                let wanted = rel.split_ascii_whitespace().any(|r| {
                    matches!(
                        r,
                        "stylesheet" | "icon" | "preload" | "modulepreload" | "apple-touch-icon"
                    )
                });
                if wanted {
                    out.extend(attr("href"));
                }
            }
            "script" | "img" | "audio" | "video" | "source" | "track" | "embed" | "iframe" => {
                out.extend(attr("src"));
                if let Some(set) = attr("srcset") {
                    // "a.png 1x, b.png 2x": the URL is the first word of each.
                    out.extend(
                        set.split(',')
                            .filter_map(|c| c.split_ascii_whitespace().next())
                            .map(str::to_string),
                    );
                }
                if name == "video" {
                    out.extend(attr("poster"));
                }
            }
            "input" if attr("type").is_some_and(|t| t.eq_ignore_ascii_case("image")) => {
                out.extend(attr("src"));
            }
            "object" => out.extend(attr("data")),
            _ => {}
        }
    }
    (base, out)
}

/// `url(...)` and `@import "..."` references in a stylesheet.
pub(super) fn css_links(css: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lower = css.to_ascii_lowercase();
    let mut at = 0;
    while let Some(i) = lower.get(at..).and_then(|s| s.find("url(")) {
        let start = at + i + 4;
        let Some(len) = css.get(start..).and_then(|s| s.find(')')) else {
            break;
        };
        let raw = css.get(start..start + len).unwrap_or("").trim();
        let v = raw.trim_matches(|c| c == '"' || c == '\'').trim();
        if !v.is_empty() && !v.starts_with("data:") {
            out.push(v.to_string());
        }
        at = start + len;
    }
    let mut at = 0;
    while let Some(i) = lower.get(at..).and_then(|s| s.find("@import")) {
        let rest = css.get(at + i + 7..).unwrap_or("").trim_start();
        for q in ['"', '\''] {
            if let Some(r) = rest.strip_prefix(q) {
                if let Some(end) = r.find(q) {
                    out.push(r.get(..end).unwrap_or("").to_string());
                }
            }
        }
        at += i + 7;
    }
    out
}

/// Where an object from `url` is saved: its path under `dir`, with
/// `index.html` for a directory.
fn save_path(dir: &Path, url: &Url) -> Option<PathBuf> {
    let path = url.path.split(['?', '#']).next().unwrap_or("/");
    let path = if path.ends_with('/') {
        format!("{path}index.html")
    } else {
        path.to_string()
    };
    confined(dir, &percent_decoded(&path))
}

/// `%20` → space, so saved names match the server's files.
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
        match (b.get(i), hex(i + 1), hex(i + 2)) {
            (Some(b'%'), Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (Some(c), _, _) => {
                out.push(*c);
                i += 1;
            }
            (None, _, _) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes to a file and keeps the first `MAX_PARSE_BYTES` for parsing.
struct Tee {
    file: io::BufWriter<std::fs::File>,
    keep: Option<Vec<u8>>,
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        if let Some(k) = self.keep.as_mut() {
            let room = MAX_PARSE_BYTES.saturating_sub(k.len());
            k.extend_from_slice(buf.get(..n.min(room)).unwrap_or_default());
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Fetches the page `req` asks for and everything it links from the same
/// origin; saves all of it under `dir`.
pub(super) fn fetch_page(
    client: &StackClient<'_>,
    req: Request,
    dir: &Path,
    verbose: bool,
    follow: Option<usize>,
) -> Result<PageSummary, Failure> {
    std::fs::create_dir_all(dir)
        .map_err(|e| failure(format!("cannot create {}: {e}", dir.display())))?;
    let origin = (req.url.host.clone(), req.url.port);
    let mut queue: VecDeque<Url> = VecDeque::from([req.url.clone()]);
    let mut seen: HashSet<String> = HashSet::from([req.url.path.clone()]);
    let mut summary = PageSummary {
        status: 0,
        reason: String::new(),
        objects: 0,
        bytes: 0,
        connections: 0,
        reused: 0,
        failed: Vec::new(),
        dir: dir.to_path_buf(),
    };
    let mut first = Some(req);
    while let Some(url) = queue.pop_front() {
        let is_page = first.is_some();
        let req = first.take().unwrap_or_else(|| Request::get(url.clone()));
        let shown = format!("http://{}{}", url.host_header(), url.path);
        // The page's own redirects are followed with -L; an object's final
        // URL is where its relative references resolve.
        let mut final_url = url.clone();
        let resp = send(client, req, verbose, if is_page { follow } else { Some(5) });
        let mut resp = match resp {
            Ok(r) => r,
            Err(f) if is_page => return Err(f),
            Err(f) => {
                summary.failed.push(f.message);
                continue;
            }
        };
        if let Some(loc) = resp.header("content-location") {
            if let Ok(u) = url.join(loc) {
                final_url = u;
            }
        }
        let status = resp.head.status;
        if is_page {
            summary.status = status;
            summary.reason = resp.head.reason.clone();
        }
        if !(200..300).contains(&status) {
            let _ = finish(client, resp, 0, verbose);
            if is_page {
                break;
            }
            summary.failed.push(format!("{shown}: {status}"));
            continue;
        }
        let ctype = resp
            .header("content-type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let parse = ctype.starts_with("text/html")
            || ctype.starts_with("text/css")
            || (ctype.is_empty() && (is_page || url.path.ends_with(".css")));
        let Some(path) = save_path(dir, &final_url) else {
            let _ = finish(client, resp, 0, verbose);
            summary.failed.push(format!("{shown}: no file name"));
            continue;
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| failure(format!("cannot create {}: {e}", parent.display())))?;
        }
        let file = std::fs::File::create(&path)
            .map_err(|e| failure(format!("cannot create {}: {e}", path.display())))?;
        let mut tee = Tee {
            file: io::BufWriter::new(file),
            keep: parse.then(Vec::new),
        };
        let opts = Options {
            verbose,
            progress: false,
            head_to_output: false,
            decode: false,
            follow: None,
        };
        let n = match copy_body(&mut resp, &opts, &mut tee).and_then(|n| {
            tee.flush()
                .map(|()| n)
                .map_err(|e| format!("writing {}: {e}", path.display()))
        }) {
            Ok(n) => n,
            Err(e) if is_page => return Err(failure(format!("{shown}: {e}"))),
            Err(e) => {
                summary.failed.push(format!("{shown}: {e}"));
                continue;
            }
        };
        let _ = finish(client, resp, n, verbose);
        summary.objects += 1;
        summary.bytes += n;
        if verbose {
            eprintln!("* Saved {shown} ({n} bytes) as {}", path.display());
        }
        let text = tee.keep.map(|k| String::from_utf8_lossy(&k).into_owned());
        let Some(text) = text else { continue };
        let (base, refs) = if ctype.starts_with("text/css") || url.path.ends_with(".css") {
            (None, css_links(&text))
        } else {
            html_links(&text)
        };
        let base = base
            .and_then(|b| final_url.join(&b).ok())
            .unwrap_or(final_url);
        for r in refs {
            let Ok(u) = base.join(&r) else { continue };
            // Same origin only (RFC 6454 §4: scheme, host, port).
            if (u.host.as_str(), u.port) != (origin.0.as_str(), origin.1) {
                continue;
            }
            if seen.len() < MAX_OBJECTS && seen.insert(u.path.clone()) {
                queue.push_back(u);
            }
        }
    }
    let st = client.pool_stats();
    summary.connections = st.connects;
    summary.reused = st.reused;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_links_finds_every_kind_of_requisite_in_order() {
        let html = r#"<!doctype html><html><head>
            <base href="/sub/">
            <LINK REL="stylesheet" HREF="a.css">
            <link rel="icon" href="/favicon.ico">
            <link rel="alternate" href="/feed.xml">
            <script src="app.js?v=1&amp;x=2"></script>
            <script>var notALink = "<img src=nope.png>";</script>
            </head><body>
            <img src="i.png" srcset="i.png 1x, i2.png 2x">
            <picture><source srcset="p.webp"><img src=p.jpg></picture>
            <video poster="poster.jpg" src="v.mp4"></video>
            <input type="image" src="btn.gif"><input type="text" src="no.gif">
            <a href="/page2.html">not a requisite</a>
            <img src="">
            </body></html>"#;
        let (base, links) = html_links(html);
        assert_eq!(base.as_deref(), Some("/sub/"));
        assert_eq!(
            links,
            [
                "a.css",
                "/favicon.ico",
                "app.js?v=1&x=2",
                "i.png",
                "i.png",
                "i2.png",
                "p.webp",
                "p.jpg",
                "v.mp4",
                "poster.jpg",
                "btn.gif"
            ]
        );
    }

    #[test]
    fn broken_html_gives_what_it_can_and_never_panics() {
        for html in [
            "",
            "<",
            "<img src=",
            "<img src='x.png'",
            "<<<>>>",
            "\u{0}<img src=a>",
        ] {
            let _ = html_links(html);
        }
        let (_, links) = html_links("<p><img src=a.png><p><img src=b.png");
        assert!(links.contains(&"a.png".to_string()), "{links:?}");
    }

    #[test]
    fn css_links_finds_urls_and_imports() {
        let css = r#"@import "base.css"; @import url('print.css');
            body { background: URL( "bg.png" ) } .x { src: url(font.woff2) format("woff2") }
            .y { background: url(data:image/png;base64,AAAA) } .z { background: url("#;
        assert_eq!(
            css_links(css),
            ["print.css", "bg.png", "font.woff2", "base.css"]
        );
    }

    #[test]
    fn save_paths_mirror_the_url_inside_the_directory() {
        let d = Path::new("/out");
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            save_path(d, &u("http://h/")),
            Some(PathBuf::from("/out/index.html"))
        );
        assert_eq!(
            save_path(d, &u("http://h/css/a%20b.css?v=2")),
            Some(PathBuf::from("/out/css/a b.css"))
        );
        assert_eq!(save_path(d, &u("http://h/a/%2e%2e/%2e%2e/x")), None);
    }
}
