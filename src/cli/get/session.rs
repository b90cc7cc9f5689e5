//! `tunstack get URL...`: every URL over one stack and one client, so
//! URLs on the same server share its kept-alive connection (as curl does);
//! each URL has its own output (the n-th `-o`, then one `-O` each, then
//! stdout), its own `--retry` loop, `-D` and `-w` report, and error line.
//! The exit code is the last URL's, as with curl.

use super::*;
use crate::cli::connector::Overall;
use crate::cli::fetch::{Fetched, StackClient};
use crate::cli::validate_net;

/// One URL's request and where its body goes.
struct Job {
    req: Request,
    path: Option<PathBuf>,
}

/// Every URL, parsed and turned into its request before the stack opens:
/// a bad URL or flag fails before any traffic.
fn jobs(a: &GetArgs) -> Result<Vec<Job>, Failure> {
    let dir = a.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let specs = a.output_specs();
    let mut jobs = Vec::new();
    for (i, u) in a.urls.iter().enumerate() {
        let url = parse_url(u)?;
        let path = match specs.get(i) {
            Some(OutputSpec::File(p)) => Some(p.clone()),
            Some(OutputSpec::RemoteName) => Some(dir.join(remote_name(&url)?)),
            None => None,
        };
        jobs.push(Job {
            req: build_request(a, url)?,
            path,
        });
    }
    Ok(jobs)
}

/// The address families `-4` / `-6` allow (both race without either).
fn family(a: &GetArgs) -> crate::connector::Family {
    match (a.ipv4, a.ipv6) {
        (true, _) => crate::connector::Family::V4,
        (_, true) => crate::connector::Family::V6,
        _ => crate::connector::Family::Any,
    }
}

/// The timeouts of `--connect-timeout` and `--read-timeout`, and the
/// `--max-time` deadline each transfer will set.
fn deadlines(a: &GetArgs) -> Result<Deadlines, Failure> {
    Ok(Deadlines {
        connect: seconds("--connect-timeout", a.connect_timeout)?,
        read: a
            .read_timeout
            .map(|s| seconds("--read-timeout", s))
            .transpose()?,
        overall: Overall::default(),
    })
}

/// The combinations of outputs that cannot work, refused before any
/// traffic: `--page-requisites` saves one URL's page under `-P`, and
/// `-C -` needs a file for every URL to resume.
fn check_outputs(a: &GetArgs, jobs: &[Job]) -> Result<(), Failure> {
    let has_body = !a.data.is_empty() || a.data_binary.is_some();
    if a.page_requisites
        && (jobs.len() > 1
            || !a.output.is_empty()
            || a.remote_name > 0
            || a.head
            || has_body
            || a.continue_at.is_some())
    {
        return Err(usage(
            "--page-requisites takes one URL and saves under -P DIR; it takes no -o, -O, -C, -I or body",
        ));
    }
    if a.continue_at.as_deref() == Some("-") && jobs.iter().any(|j| j.path.is_none()) {
        return Err(usage("-C - needs -o FILE or -O for every URL"));
    }
    Ok(())
}

/// `-v`: whether the device moves 64 KiB or one packet per read/write.
fn narrate_offload(a: &GetArgs, stack: &crate::net::Stack) {
    if stack.offload().tso {
        eprintln!(
            "* {}: virtio-net offloads on (TSO, checksum): up to 64 KiB per read or write",
            a.net.iface
        );
    } else {
        eprintln!(
            "* {}: plain TUN, one MTU-sized packet per read or write",
            a.net.iface
        );
    }
}

/// `get`: every URL in turn; `-s` without `-S` keeps even a usage
/// failure quiet, as curl does.
pub(in crate::cli) fn get(a: &GetArgs) -> Result<i32, Failure> {
    match get_all(a) {
        Err(f) if a.silent && !a.show_error => Ok(f.code),
        r => r,
    }
}

fn get_all(a: &GetArgs) -> Result<i32, Failure> {
    validate_net(&a.net)?;
    let retry = RetryPolicy::from_args(a)?;
    let resolver = build_resolver(a)?;
    let tls = a.tls.builder()?;
    let deadlines = deadlines(a)?;
    let max_time = a.max_time.map(|s| seconds("--max-time", s)).transpose()?;
    let parallel = parallel(a)?;
    let jobs = jobs(a)?;
    check_outputs(a, &jobs)?;
    let stack = open_stack(&a.net)?;
    if a.verbose {
        narrate_offload(a, &stack);
    }
    let observed = Shared::default();
    let connector = StackConnector {
        base: crate::connector::StackConnector::with_resolver(&stack, resolver)
            .tls_builder(tls)
            .family(family(a)),
        deadlines: deadlines.clone(),
        verbose: a.verbose,
        sample: a.stats,
        opened: AtomicU64::new(0),
        observed: observed.clone(),
    };
    // A single fetch says Connection: close, as the classic request does;
    // following redirects, fetching a page's objects or several URLs
    // keeps it alive.
    let client =
        Client::new(&connector).keep_alive(a.location || a.page_requisites || jobs.len() > 1);
    let ctx = Ctx {
        a,
        client: &client,
        observed: &observed,
        overall: &deadlines.overall,
        max_time,
        parallel,
    };
    let mut code = EXIT_OK;
    let mut last = None;
    for job in &jobs {
        // As curl: the exit code is the last URL's.
        let (c, fetched) = ctx.with_retries(&retry, job);
        code = c;
        last = fetched.or(last);
    }
    drop(client);
    let stack_stats = stack.stats();
    let queue_stats = stack.queue_stats();
    // Let our FIN / the peer's FIN be acknowledged before the device goes away.
    stack.shutdown(Duration::from_secs(2));
    if a.stats {
        // Like curl's -w, the report comes even when the transfer failed
        // (-m expired, a reset): the stack's counters always, the
        // connection's snapshot and series when a fetch completed.
        report::print_stats(&stack_stats, last.as_ref().and_then(|f| f.info.as_ref()));
        for line in report::queue_lines(&queue_stats) {
            eprintln!("  {line}");
        }
        if let Some(f) = &last {
            report::print_series(&f.series);
        }
    }
    Ok(code)
}

/// What every URL's transfer shares.
struct Ctx<'a, 'c> {
    a: &'a GetArgs,
    client: &'a StackClient<'c>,
    observed: &'a Shared,
    overall: &'a Overall,
    max_time: Option<Duration>,
    parallel: usize,
}

impl Ctx<'_, '_> {
    /// One URL, tried again while the failure is transient; then its `-D`,
    /// `-w` and error line. Returns its exit code.
    fn with_retries(&self, retry: &RetryPolicy, job: &Job) -> (i32, Option<Fetched>) {
        let a = self.a;
        let first = Instant::now();
        let mut attempt = 0u32;
        let (start, result) = loop {
            self.observed.reset();
            let start = Instant::now();
            self.overall.set(self.max_time.map(|m| start + m));
            let result = self.transfer(job, start);
            let code = result.as_ref().map_or_else(|f| f.code, |_| EXIT_OK);
            let seen = self.observed.get();
            let code = if code == exit::CONNECT && seen.refused && retry.connrefused {
                Transient::Refused
            } else {
                Transient::Code(code)
            };
            let Some(delay) = retry.next(attempt, code, seen.status, first) else {
                break (start, result);
            };
            attempt += 1;
            if !a.silent {
                eprintln!(
                    "tunstack: transient problem ({}); will retry in {:.1} s, {} retries left",
                    transient_reason(code, seen.status),
                    delay.as_secs_f64(),
                    retry.times - attempt + 1
                );
            }
            std::thread::sleep(delay);
        };
        let end = Instant::now();
        let (code, message) = match &result {
            Ok(_) => (EXIT_OK, String::new()),
            Err(f) => (f.code, f.message.clone()),
        };
        let seen = self.observed.get();
        let mut late = None;
        if let Some(path) = &a.dump_header {
            if let Err(e) = dump_headers(path, &seen.heads) {
                late.get_or_insert(failure(
                    exit::WRITE_ERROR,
                    format!("-D {}: {e}", path.display()),
                ));
            }
        }
        if let Some(format) = &a.write_out {
            let text = writeout::render(
                format,
                &seen,
                &writeout::Outcome {
                    start,
                    end,
                    exitcode: code,
                    errormsg: &message,
                },
            );
            let mut stdout = io::stdout().lock();
            if let Err(e) = stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                late.get_or_insert(failure(exit::WRITE_ERROR, format!("-w: {e}")));
            }
        }
        let (failed, fetched) = match result {
            Ok(f) => (late, Some(f)),
            Err(f) => (Some(f), None),
        };
        match failed {
            Some(f) => {
                if !a.silent || a.show_error {
                    eprintln!("tunstack: {}", f.message);
                }
                (f.code, fetched)
            }
            None => (EXIT_OK, fetched),
        }
    }

    /// One try of one URL: its output opened when the response starts,
    /// the body (or the page load) written, the status line.
    fn transfer(&self, job: &Job, start: Instant) -> Result<Fetched, Failure> {
        let a = self.a;
        let mut req = job.req.clone();
        let (mut out, offset) = output(a, job.path.clone())?;
        if offset > 0
            && !req
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("Range"))
        {
            req.headers
                .push(("Range".into(), format!("bytes={offset}-")));
        }
        let result = if a.page_requisites {
            let dir = a.dir.clone().unwrap_or_else(|| PathBuf::from("."));
            let opts = page::PageOptions {
                verbose: a.verbose,
                follow: a.location.then_some(a.max_redirs),
                parallel: self.parallel,
                waterfall_text: a.verbose || a.stats,
                waterfall_svg: a.waterfall.as_deref(),
            };
            page::fetch_page(self.client, req, &dir, &opts).and_then(|s| s.report(start.elapsed()))
        } else {
            let opts = Options {
                verbose: a.verbose,
                progress: !a.silent && io::stderr().is_terminal(),
                head_to_output: a.head,
                decode: a.compressed,
                follow: a.location.then_some(a.max_redirs),
                fail: if a.fail_with_body {
                    Fail::WithBody
                } else if a.fail {
                    Fail::NoBody
                } else {
                    Fail::Never
                },
                include: a.include,
                observed: Some(self.observed.clone()),
                resume: offset > 0,
            };
            fetch(self.client, req, &opts, &mut out)
        };
        let flushed = out.flush();
        drop(out);
        let elapsed = start.elapsed();
        let fetched = result?;
        flushed.map_err(|e| failure(exit::WRITE_ERROR, format!("writing output: {e}")))?;
        if !a.silent {
            let secs = elapsed.as_secs_f64().max(1e-6);
            // The final URL without its userinfo: no password on stderr.
            let url = self.observed.get().url;
            let shown = crate::http::Url::parse(&url).map_or(url, |u| u.redacted());
            eprintln!(
                "{} {} · {} bytes in {:.3} s ({:.1} Mbit/s) · {}",
                fetched.status,
                fetched.reason,
                fetched.bytes,
                secs,
                fetched.bytes as f64 * 8.0 / secs / 1e6,
                shown
            );
        }
        if let Some(problem) = &fetched.problem {
            return Err(failure(exit::HTTP_ERROR, problem.clone()));
        }
        Ok(fetched)
    }
}

/// `--retry N`, `--retry-delay`, `--retry-max-time`: which failures are
/// tried again and when, as curl decides.
struct RetryPolicy {
    times: u32,
    /// `--retry-connrefused`: a refused connect is transient too.
    connrefused: bool,
    /// A fixed delay; without one the wait starts at 1 s and doubles.
    delay: Option<Duration>,
    max_time: Option<Duration>,
}

/// curl's longest wait between two tries (10 minutes).
const MAX_RETRY_DELAY: Duration = Duration::from_secs(600);

impl RetryPolicy {
    fn from_args(a: &GetArgs) -> Result<RetryPolicy, Failure> {
        let delay = a
            .retry_delay
            .map(|s| {
                if s.is_finite() && (0.0..1e6).contains(&s) {
                    Ok(Duration::from_secs_f64(s))
                } else {
                    Err(usage("--retry-delay must be a number of seconds >= 0"))
                }
            })
            .transpose()?;
        Ok(RetryPolicy {
            times: a.retry,
            connrefused: a.retry_connrefused,
            delay,
            max_time: a
                .retry_max_time
                .map(|s| seconds("--retry-max-time", s))
                .transpose()?,
        })
    }

    /// The wait before try `attempt + 2`, or None to stop: only transient
    /// failures (curl's list: a timeout, a failed name lookup, and the
    /// statuses 408, 429, 500, 502, 503, 504) are tried again, at most
    /// `times` times, and only while less than `--retry-max-time` has
    /// passed since the first try (curl checks the time spent, not the
    /// time the wait would add).
    fn next(&self, attempt: u32, code: Transient, status: u16, first: Instant) -> Option<Duration> {
        if attempt >= self.times || !is_transient(code, status) {
            return None;
        }
        let delay = self
            .delay
            .unwrap_or_else(|| Duration::from_secs(1u64 << attempt.min(10)).min(MAX_RETRY_DELAY));
        if self.max_time.is_some_and(|max| first.elapsed() >= max) {
            return None;
        }
        Some(delay)
    }
}

/// How one try ended, for the retry decision: its exit code, or a
/// refused connect that `--retry-connrefused` asked to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transient {
    Code(i32),
    Refused,
}

/// What curl retries: timeouts, lookups, the statuses that say "try
/// later", and (asked for) a refused connect.
fn is_transient(code: Transient, status: u16) -> bool {
    match code {
        Transient::Refused => true,
        Transient::Code(code) => {
            matches!(code, exit::TIMEOUT | exit::RESOLVE)
                || ((code == EXIT_OK || code == exit::HTTP_ERROR)
                    && matches!(status, 408 | 429 | 500 | 502 | 503 | 504))
        }
    }
}

fn transient_reason(code: Transient, status: u16) -> String {
    match code {
        Transient::Refused => "connection refused".into(),
        Transient::Code(exit::TIMEOUT) => "timeout".into(),
        Transient::Code(exit::RESOLVE) => "could not resolve host".into(),
        Transient::Code(_) => format!("HTTP {status}"),
    }
}

/// `-D FILE`: every response head, redirects first; "-" is stdout.
fn dump_headers(path: &std::path::Path, heads: &[http::Head]) -> io::Result<()> {
    let mut text = Vec::new();
    for h in heads {
        write_head(h, &mut text)?;
    }
    if path.as_os_str() == "-" {
        let mut out = io::stdout().lock();
        out.write_all(&text)?;
        return out.flush();
    }
    std::fs::write(path, text)
}

/// The output for one URL: its -o/-O file, created when the response
/// starts (appended to with `-C`), nothing for a page load (it saves
/// under -P), or stdout; and the offset `-C` resumes from.
fn output(a: &GetArgs, path: Option<PathBuf>) -> Result<(Box<dyn Write>, u64), Failure> {
    let resume = a.continue_at.as_deref();
    let offset = match (resume, &path) {
        (None, _) => 0,
        (Some("-"), Some(p)) => std::fs::metadata(p).map_or(0, |m| m.len()),
        (Some("-"), None) => return Err(usage("-C - needs -o FILE or -O")),
        (Some(n), _) => n
            .parse()
            .map_err(|_| usage(format!("-C {n:?}: expected a byte offset or -")))?,
    };
    let out: Box<dyn Write> = match path {
        Some(p) => Box::new(LazyFile::new(p, a.create_dirs, resume.is_some())),
        None if a.page_requisites => Box::new(io::sink()),
        None => Box::new(io::BufWriter::new(io::stdout().lock())),
    };
    Ok((out, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> GetArgs {
        GetCli::args("http://h/", extra)
    }

    #[test]
    fn retry_only_transient_failures_within_the_limits() {
        let p = RetryPolicy::from_args(&args(&["--retry", "3"])).unwrap();
        let now = Instant::now();
        assert_eq!(
            p.next(0, Transient::Code(exit::TIMEOUT), 0, now),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            p.next(2, Transient::Code(EXIT_OK), 503, now),
            Some(Duration::from_secs(4))
        );
        assert_eq!(
            p.next(1, Transient::Code(exit::HTTP_ERROR), 429, now),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            p.next(3, Transient::Code(exit::TIMEOUT), 0, now),
            None,
            "three retries at most"
        );
        assert_eq!(
            p.next(0, Transient::Code(exit::CONNECT), 0, now),
            None,
            "refused is not transient"
        );
        assert_eq!(
            p.next(0, Transient::Refused, 0, now),
            Some(Duration::from_secs(1)),
            "refused, with --retry-connrefused"
        );
        assert!(
            RetryPolicy::from_args(&args(&["--retry", "1", "--retry-connrefused"]))
                .unwrap()
                .connrefused
        );
        assert_eq!(p.next(0, Transient::Code(EXIT_OK), 404, now), None);
        assert_eq!(p.next(0, Transient::Code(exit::HTTP_ERROR), 404, now), None);
        let p = RetryPolicy::from_args(&args(&[
            "--retry",
            "5",
            "--retry-delay",
            "0.5",
            "--retry-max-time",
            "2",
        ]))
        .unwrap();
        assert_eq!(
            p.next(4, Transient::Code(exit::TIMEOUT), 0, now),
            Some(Duration::from_millis(500))
        );
        let long_ago = now - Duration::from_secs(3);
        assert_eq!(
            p.next(0, Transient::Code(exit::TIMEOUT), 0, long_ago),
            None,
            "past --retry-max-time"
        );
        assert!(RetryPolicy::from_args(&args(&["--retry-delay=-1"])).is_err());
    }

    /// The paths `jobs` gives the URLs of `argv`, parsed as `run` does.
    fn paths(argv: &[&str]) -> Vec<Option<PathBuf>> {
        use clap::{CommandFactory, FromArgMatches};
        let m = GetCli::command()
            .try_get_matches_from(std::iter::once("t").chain(argv.iter().copied()))
            .unwrap();
        let mut a = GetCli::from_arg_matches(&m).unwrap().a;
        a.pair_outputs(&m);
        jobs(&a).unwrap().into_iter().map(|j| j.path).collect()
    }

    #[test]
    fn each_url_takes_its_own_output_in_order() {
        let p = |s: &str| Some(PathBuf::from(s));
        assert_eq!(
            paths(&[
                "-o",
                "a",
                "http://h/x/one",
                "-O",
                "http://h/two",
                "http://h/3"
            ]),
            vec![p("a"), p("./two"), None],
            "the -o goes to the first URL, the -O to the next"
        );
        // curl pairs by position among the -o/-O, whichever kind comes
        // first, and wherever the URLs stand.
        assert_eq!(
            paths(&["-O", "http://h/x/one", "-o", "b", "http://h/two"]),
            vec![p("./one"), p("b")]
        );
        assert_eq!(
            paths(&[
                "http://h/one",
                "http://h/two",
                "http://h/3",
                "-O",
                "-o",
                "c"
            ]),
            vec![p("./one"), p("c"), None]
        );
        assert_eq!(
            paths(&[
                "-o",
                "a",
                "-O",
                "-o",
                "c",
                "http://h/1",
                "http://h/2",
                "http://h/3"
            ]),
            vec![p("a"), p("./2"), p("c")]
        );
        // -6 restricts the families; the URL itself is fine.
        let a = args(&["-6"]);
        assert_eq!(jobs(&a).map(|j| j.len()).ok(), Some(1));
        assert_eq!(family(&a), crate::connector::Family::V6);
        assert_eq!(family(&args(&["-4"])), crate::connector::Family::V4);
        assert_eq!(family(&args(&[])), crate::connector::Family::Any);
    }
}
