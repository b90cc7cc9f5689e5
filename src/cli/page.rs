//! `tunstack get --page-requisites URL -P DIR`: step 6 of a page load —
//! parse the HTML, then fetch the stylesheets, scripts, images and icons
//! it links from the same origin (RFC 6454 §4), and the `url(...)` and
//! `@import` references inside those stylesheets ([`super::links`]).
//! Everything is saved under DIR, mirroring the URL paths (never outside
//! DIR).
//!
//! Like a browser, the loader fetches over up to `--parallel N` kept-alive
//! connections at once (default 6, what browsers open per host): the page
//! comes first, on the calling thread; then N workers — the calling thread
//! with the page's connection and N − 1 scoped threads, each with a client
//! and connection of its own over the one shared stack — take URLs from a
//! shared queue in discovery order and add what stylesheets reference.
//! A worker opens its connection only when it has something to fetch.
//! With N = 1 the calling thread alone walks the queue: the sequential load.
//! Each object's connection, start, first byte and end are recorded for the
//! waterfall ([`super::waterfall`]).

use super::connector::Traced;
use super::fetch::{copy_body, finish, send, Fail, Fetched, Options, StackClient};
use super::links::{css_links, html_links};
use super::paths::{confined, percent_decode};
use super::waterfall::{self, Row};
use super::{exit, failure, Failure};
use crate::http::{Client, PoolStats, Request, Response, Url};
use std::collections::{HashSet, VecDeque};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// An origin (RFC 6454 §4): scheme, host and port.
type Origin = (String, String, u16);

/// Most objects fetched for one page (the page included).
const MAX_OBJECTS: usize = 1000;
/// Most bytes of HTML or CSS kept in memory for link extraction.
const MAX_PARSE_BYTES: usize = 8 * 1024 * 1024;
/// Most redirects followed for one requisite.
const OBJECT_REDIRECTS: usize = 5;

/// How to load a page.
pub(super) struct PageOptions<'p> {
    pub verbose: bool,
    /// `-L`: redirects followed for the page itself.
    pub follow: Option<usize>,
    /// Connections used at once (≥ 1).
    pub parallel: usize,
    /// Print the waterfall as text on stderr (`-v`, `--stats`).
    pub waterfall_text: bool,
    /// Draw the waterfall as SVG to this file (`--waterfall FILE`).
    pub waterfall_svg: Option<&'p Path>,
}

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
    /// One row per object that got a response, in start order.
    rows: Vec<Row>,
    text: bool,
    svg: Option<PathBuf>,
}

impl PageSummary {
    /// Prints the summary (and the waterfall), writes the SVG, and turns
    /// it all into the CLI's result.
    pub(super) fn report(self, elapsed: Duration) -> Result<Fetched, Failure> {
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
        if self.text {
            eprint!("{}", waterfall::text(&self.rows));
        }
        if let Some(path) = &self.svg {
            std::fs::write(path, waterfall::svg(&self.rows)).map_err(|e| {
                failure(
                    exit::WRITE_ERROR,
                    format!("cannot write {}: {e}", path.display()),
                )
            })?;
        }
        let problem = (!self.failed.is_empty()).then(|| {
            format!(
                "{} page object(s) failed: {}",
                self.failed.len(),
                self.failed.join("; ")
            )
        });
        Ok(Fetched {
            status: self.status,
            reason: self.reason,
            bytes: self.bytes,
            info: None,
            series: Vec::new(),
            problem,
        })
    }
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
    // `/.` names the directory itself, which is no file to save.
    confined(dir, &percent_decode(&path)?).filter(|p| p != dir)
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

/// What the page load's threads share: the URLs found and not yet
/// fetched, the files being written, and the results so far.
struct Board {
    work: Mutex<Work>,
    /// Signalled when the queue, `busy` or `writing` changes.
    changed: Condvar,
}

struct Work {
    queue: VecDeque<Url>,
    /// Paths (with query) ever queued: each object is fetched once.
    seen: HashSet<String>,
    /// Objects being fetched now: each may still add references.
    busy: usize,
    /// Files being written now. Two URLs can map to one file (`a.css?v=1`
    /// and `a.css?v=2`); their writes take turns instead of interleaving.
    writing: HashSet<PathBuf>,
    /// The first error that ends the whole load.
    fatal: Option<Failure>,
    objects: usize,
    bytes: u64,
    failed: Vec<String>,
    rows: Vec<Row>,
}

impl Work {
    /// Adds one object's outcome, and queues its same-origin references
    /// (RFC 6454 §4: scheme, host, port) not seen before.
    fn record(&mut self, l: Loaded, origin: &Origin) {
        if let Some(f) = l.fatal {
            self.fatal.get_or_insert(f);
        }
        self.failed.extend(l.failed);
        if let Some(n) = l.saved {
            self.objects += 1;
            self.bytes += n;
        }
        self.rows.extend(l.row);
        for u in l.refs {
            if (u.scheme.as_str(), u.host.as_str(), u.port)
                != (origin.0.as_str(), origin.1.as_str(), origin.2)
            {
                continue;
            }
            if self.seen.len() < MAX_OBJECTS && self.seen.insert(u.path.clone()) {
                self.queue.push_back(u);
            }
        }
    }
}

impl Board {
    fn new(page: &Url) -> Board {
        Board {
            work: Mutex::new(Work {
                queue: VecDeque::new(),
                seen: HashSet::from([page.path.clone()]),
                busy: 0,
                writing: HashSet::new(),
                fatal: None,
                objects: 0,
                bytes: 0,
                failed: Vec::new(),
                rows: Vec::new(),
            }),
            changed: Condvar::new(),
        }
    }

    /// The lock; a thread that panicked holding it left the data whole
    /// (every update is a few plain assignments), so carry on.
    fn lock(&self) -> MutexGuard<'_, Work> {
        self.work.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'g>(&self, g: MutexGuard<'g, Work>) -> MutexGuard<'g, Work> {
        self.changed.wait(g).unwrap_or_else(PoisonError::into_inner)
    }

    /// The next URL to fetch, in discovery order. Waits while the queue is
    /// empty but objects in flight may still add to it; `None` once all is
    /// done or the load has failed.
    fn take(&self) -> Option<Job<'_>> {
        let mut w = self.lock();
        loop {
            if w.fatal.is_some() {
                return None;
            }
            if let Some(url) = w.queue.pop_front() {
                w.busy += 1;
                return Some(Job {
                    url,
                    board: self,
                    done: false,
                });
            }
            if w.busy == 0 {
                return None;
            }
            w = self.wait(w);
        }
    }

    /// Waits until no other thread writes `path`, then claims it.
    fn claim(&self, path: &Path) -> Claim<'_> {
        let mut w = self.lock();
        while w.writing.contains(path) {
            w = self.wait(w);
        }
        w.writing.insert(path.to_path_buf());
        Claim {
            board: self,
            path: path.to_path_buf(),
        }
    }
}

/// A URL taken from the queue. Dropped without [`Job::done`] (a panic),
/// it still leaves the queue consistent and ends the load, so no other
/// thread waits forever for its references.
struct Job<'b> {
    url: Url,
    board: &'b Board,
    done: bool,
}

impl Job<'_> {
    fn done(mut self, l: Loaded, origin: &Origin) {
        self.done = true;
        let mut w = self.board.lock();
        w.busy = w.busy.saturating_sub(1);
        w.record(l, origin);
        drop(w);
        self.board.changed.notify_all();
    }
}

impl Drop for Job<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut w = self.board.lock();
        w.busy = w.busy.saturating_sub(1);
        w.fatal.get_or_insert_with(|| {
            failure(
                exit::RECV_ERROR,
                format!("loading {} stopped unexpectedly", self.url.path),
            )
        });
        drop(w);
        self.board.changed.notify_all();
    }
}

/// The right to write one file, released on drop.
struct Claim<'b> {
    board: &'b Board,
    path: PathBuf,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.board.lock().writing.remove(&self.path);
        self.board.changed.notify_all();
    }
}

/// What every fetch of the load needs to know.
struct Ctx<'c> {
    dir: &'c Path,
    verbose: bool,
    follow: Option<usize>,
    origin: Origin,
    /// The page's first request: the waterfall's zero.
    t0: Instant,
    board: &'c Board,
}

impl Ctx<'_> {
    fn since(&self, t: Instant) -> Duration {
        t.saturating_duration_since(self.t0)
    }
}

/// The outcome of fetching one object.
#[derive(Default)]
struct Loaded {
    status: u16,
    reason: String,
    row: Option<Row>,
    /// Body bytes saved, if the object was saved.
    saved: Option<u64>,
    /// The references in its body, resolved, not yet filtered.
    refs: Vec<Url>,
    /// Why this object is missing (the load goes on).
    failed: Option<String>,
    /// Why the whole load stops.
    fatal: Option<Failure>,
}

impl Loaded {
    /// A failure: fatal for the page itself, one missing object otherwise.
    fn fail(&mut self, is_page: bool, f: Failure) {
        if is_page {
            self.fatal = Some(f);
        } else {
            self.failed = Some(f.message);
        }
    }
}

/// Why saving a body failed.
enum SaveError {
    /// The directory or file could not be created: nothing else can be
    /// saved either.
    Local(Failure),
    /// Reading the body or writing it failed.
    Body(Failure),
}

/// Writes the body to `path`; returns its length and, if `parse`, its
/// first `MAX_PARSE_BYTES` for link extraction.
fn save(
    resp: &mut Response<Traced>,
    path: &Path,
    parse: bool,
) -> Result<(u64, Option<Vec<u8>>), SaveError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| {
            SaveError::Local(failure(
                exit::WRITE_ERROR,
                format!("cannot create {}: {e}", parent.display()),
            ))
        })?;
    }
    let file = std::fs::File::create(path).map_err(|e| {
        SaveError::Local(failure(
            exit::WRITE_ERROR,
            format!("cannot create {}: {e}", path.display()),
        ))
    })?;
    let mut tee = Tee {
        file: io::BufWriter::new(file),
        keep: parse.then(Vec::new),
    };
    let opts = Options {
        verbose: false,
        progress: false,
        head_to_output: false,
        decode: false,
        follow: None,
        fail: Fail::Never,
        include: false,
        observed: None,
        resume: false,
    };
    let n = copy_body(resp, &opts, &mut tee)
        .and_then(|n| {
            tee.flush().map(|()| n).map_err(|e| {
                failure(
                    exit::WRITE_ERROR,
                    format!("writing {}: {e}", path.display()),
                )
            })
        })
        .map_err(SaveError::Body)?;
    Ok((n, tee.keep))
}

/// Fetches one object (or, with `is_page`, the page the user asked for),
/// saves it under the directory and finds its references.
fn load(client: &StackClient<'_>, req: Request, is_page: bool, ctx: &Ctx<'_>) -> Loaded {
    let url = req.url.clone();
    let shown = url.redacted();
    let start = ctx.since(Instant::now());
    let mut out = Loaded::default();
    let follow = if is_page {
        ctx.follow
    } else {
        Some(OBJECT_REDIRECTS)
    };
    let mut resp = match send(client, req, ctx.verbose, follow, None) {
        Ok(r) => r,
        Err(f) => {
            out.fail(is_page, f);
            return out;
        }
    };
    // The page's own redirects are followed with -L; an object's final
    // URL is where its relative references resolve.
    let final_url = resp
        .header("content-location")
        .and_then(|loc| url.join(loc).ok())
        .unwrap_or_else(|| url.clone());
    let status = resp.head.status;
    out.status = status;
    out.reason.clone_from(&resp.head.reason);
    let conn = resp.connection().id;
    let mut row = Row {
        object: url.path.clone(),
        conn,
        new_conn: !resp.reused,
        start,
        first_byte: resp.connection().first_byte.map(|t| ctx.since(t)),
        end: start,
        bytes: 0,
        status,
    };
    let (is_css, parse) = body_kind(&resp, &url, is_page);
    let path = save_path(ctx.dir, &final_url);
    let (200..=299, Some(path)) = (status, path) else {
        let _ = finish(client, resp, 0, ctx.verbose);
        row.end = ctx.since(Instant::now());
        out.row = Some(row);
        if !is_page {
            out.failed = Some(format!("{shown}: {}", unsaved(status)));
        }
        return out;
    };
    let claim = ctx.board.claim(&path);
    let saved = save(&mut resp, &path, parse);
    drop(claim);
    let (n, keep) = match saved {
        Ok(s) => s,
        Err(SaveError::Local(f)) => {
            out.fatal = Some(f);
            return out;
        }
        Err(SaveError::Body(e)) => {
            out.fail(is_page, failure(e.code, format!("{shown}: {}", e.message)));
            return out;
        }
    };
    let _ = finish(client, resp, n, ctx.verbose);
    row.end = ctx.since(Instant::now());
    row.bytes = n;
    out.row = Some(row);
    out.saved = Some(n);
    if ctx.verbose {
        eprintln!(
            "* Saved {shown} ({n} bytes, connection #{conn}) as {}",
            path.display()
        );
    }
    if let Some(k) = keep {
        out.refs = references(&k, is_css, final_url);
    }
    out
}

/// Why an object with `status` was not saved: the status, or no file
/// name to save a success under.
fn unsaved(status: u16) -> String {
    if (200..300).contains(&status) {
        "no file name".to_string()
    } else {
        status.to_string()
    }
}

/// What `resp`'s body for `url` is, by its type (or, without one, by the
/// page's place or a `.css` name): (CSS, to be parsed for references).
fn body_kind(resp: &Response<Traced>, url: &Url, is_page: bool) -> (bool, bool) {
    let ctype = resp
        .header("content-type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let is_css = ctype.starts_with("text/css") || url.path.ends_with(".css");
    let parse = ctype.starts_with("text/html")
        || ctype.starts_with("text/css")
        || (ctype.is_empty() && (is_page || url.path.ends_with(".css")));
    (is_css, parse)
}

/// The references in an HTML or CSS body, resolved against its URL (or
/// the HTML's `<base href>`).
fn references(body: &[u8], is_css: bool, url: Url) -> Vec<Url> {
    let text = String::from_utf8_lossy(body);
    let (base, refs) = if is_css {
        (None, css_links(&text))
    } else {
        html_links(&text)
    };
    let base = base.and_then(|b| url.join(&b).ok()).unwrap_or(url);
    refs.iter().filter_map(|r| base.join(r).ok()).collect()
}

/// One worker: fetches from the queue over `client` until it is empty.
fn work(client: &StackClient<'_>, ctx: &Ctx<'_>) {
    while let Some(job) = ctx.board.take() {
        let loaded = load(client, Request::get(job.url.clone()), false, ctx);
        job.done(loaded, &ctx.origin);
    }
}

fn add(a: PoolStats, b: PoolStats) -> PoolStats {
    PoolStats {
        connects: a.connects + b.connects,
        reused: a.reused + b.reused,
        retries: a.retries + b.retries,
    }
}

/// Fetches the page `req` asks for and everything it links from the same
/// origin, over up to `opts.parallel` connections at once; saves all of it
/// under `dir`.
pub(super) fn fetch_page(
    client: &StackClient<'_>,
    req: Request,
    dir: &Path,
    opts: &PageOptions<'_>,
) -> Result<PageSummary, Failure> {
    std::fs::create_dir_all(dir).map_err(|e| {
        failure(
            exit::WRITE_ERROR,
            format!("cannot create {}: {e}", dir.display()),
        )
    })?;
    let board = Board::new(&req.url);
    let ctx = Ctx {
        dir,
        verbose: opts.verbose,
        follow: opts.follow,
        origin: (req.url.scheme.clone(), req.url.host.clone(), req.url.port),
        t0: Instant::now(),
        board: &board,
    };
    // The page first: nothing else is known until it is parsed.
    let page = load(client, req, true, &ctx);
    let (status, reason) = (page.status, page.reason.clone());
    let go_on = (200..300).contains(&status) && page.fatal.is_none();
    board.lock().record(page, &ctx.origin);
    let mut pool = PoolStats::default();
    if go_on {
        let connector = *client.connector();
        std::thread::scope(|s| {
            let ctx = &ctx;
            let workers: Vec<_> = (1..opts.parallel.max(1))
                .filter_map(|i| {
                    std::thread::Builder::new()
                        .name(format!("tunstack-page-{i}"))
                        .spawn_scoped(s, move || {
                            let own = Client::new(connector).keep_alive(true);
                            work(&own, ctx);
                            own.pool_stats()
                        })
                        .ok()
                })
                .collect();
            // The calling thread works too, on the page's connection.
            work(client, ctx);
            for w in workers {
                if let Ok(st) = w.join() {
                    pool = add(pool, st);
                }
            }
        });
    }
    let pool = add(pool, client.pool_stats());
    let w = board
        .work
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(f) = w.fatal {
        return Err(f);
    }
    let mut rows = w.rows;
    rows.sort_by_key(|r| r.start);
    Ok(PageSummary {
        status,
        reason,
        objects: w.objects,
        bytes: w.bytes,
        connections: pool.connects,
        reused: pool.reused,
        failed: w.failed,
        dir: dir.to_path_buf(),
        rows,
        text: opts.waterfall_text,
        svg: opts.waterfall_svg.map(Path::to_path_buf),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(path: &str) -> Url {
        Url::parse(&format!("http://h{path}")).unwrap()
    }

    fn found(refs: &[&str]) -> Loaded {
        Loaded {
            saved: Some(1),
            refs: refs.iter().map(|r| Url::parse(r).unwrap()).collect(),
            ..Loaded::default()
        }
    }

    #[test]
    fn the_queue_keeps_discovery_order_same_origin_and_each_url_once() {
        let board = Board::new(&url("/"));
        let origin = ("http".to_string(), "h".to_string(), 80);
        board.lock().record(
            found(&[
                "http://h/a.css",
                "http://h/b.js",
                "http://other/x.png",
                "http://h:8080/y.png",
                "https://h:80/z.png",
                "http://h/a.css",
                "http://h/",
            ]),
            &origin,
        );
        let job = board.take().unwrap();
        assert_eq!(job.url.path, "/a.css");
        job.done(found(&["http://h/c.png", "http://h/b.js"]), &origin);
        let order: Vec<String> = std::iter::from_fn(|| {
            board.take().map(|j| {
                let p = j.url.path.clone();
                j.done(found(&[]), &origin);
                p
            })
        })
        .collect();
        assert_eq!(order, ["/b.js", "/c.png"]);
        let w = board.lock();
        assert_eq!((w.objects, w.busy, w.fatal.is_none()), (4, 0, true));
    }

    #[test]
    fn workers_share_the_queue_and_all_stop_when_nothing_is_left() {
        // Each /N references /2N and /2N+1 up to 200: a tree found while
        // it is being fetched. Every path is fetched once; all threads end.
        let board = Board::new(&url("/0"));
        let origin = ("http".to_string(), "h".to_string(), 80);
        board.lock().record(found(&["http://h/1"]), &origin);
        let taken = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..6 {
                s.spawn(|| {
                    while let Some(job) = board.take() {
                        let n: usize = job.url.path[1..].parse().unwrap();
                        taken.lock().unwrap().push(n);
                        let refs: Vec<String> = [2 * n, 2 * n + 1]
                            .iter()
                            .filter(|c| **c <= 200)
                            .map(|c| format!("http://h/{c}"))
                            .collect();
                        let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
                        job.done(found(&refs), &origin);
                    }
                });
            }
        });
        let mut taken = taken.into_inner().unwrap();
        taken.sort_unstable();
        assert_eq!(taken, (1..=200).collect::<Vec<_>>());
    }

    #[test]
    fn a_job_dropped_unfinished_ends_the_load_instead_of_hanging_it() {
        let board = Board::new(&url("/"));
        let origin = ("http".to_string(), "h".to_string(), 80);
        board
            .lock()
            .record(found(&["http://h/a", "http://h/b"]), &origin);
        drop(board.take());
        assert!(board.take().is_none());
        let w = board.lock();
        assert_eq!(w.busy, 0);
        assert!(w.fatal.as_ref().unwrap().message.contains("/a"));
    }

    #[test]
    fn the_queue_is_bounded_by_max_objects() {
        let board = Board::new(&url("/"));
        let refs: Vec<String> = (0..MAX_OBJECTS + 50)
            .map(|i| format!("http://h/{i}"))
            .collect();
        let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
        board
            .lock()
            .record(found(&refs), &("http".to_string(), "h".to_string(), 80));
        assert_eq!(board.lock().queue.len(), MAX_OBJECTS - 1, "the page counts");
    }

    #[test]
    fn a_file_is_written_by_one_object_at_a_time() {
        let board = Board::new(&url("/"));
        let a = board.claim(Path::new("/d/a"));
        let b = board.claim(Path::new("/d/b"));
        assert_eq!(board.lock().writing.len(), 2);
        drop(a);
        let again = board.claim(Path::new("/d/a"));
        drop((b, again));
        assert!(board.lock().writing.is_empty());
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
